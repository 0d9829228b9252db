// mlo deploy [MODEL] ...: serve a registered model over HTTP (core/serving.hpp).
// mlo deployments [--json]; mlo deployments stop ID: what ran where, and stopping it.
//
// --detach starts the same command again (without --detach) as a background process in its
// own session, with stdout/stderr appended to .mlo/logs/<name>/server.log, and returns once
// that server reports it is ready (through an inherited pipe, the hidden --ready-fd option).

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "core/deployments.hpp"
#include "core/pipeline.hpp"
#include "core/registry.hpp"
#include "core/runs.hpp"
#include "core/serving.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"

#ifndef MLO_VERSION
#define MLO_VERSION "0.0.0"
#endif

namespace mlo::cli {

namespace {

// SIGTERM/SIGINT stop the server. Not through mlo's interrupt flag: that one makes long loops
// throw Interrupted, and the requests still in flight while the server drains must finish.
std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) {
    g_stop_signal.store(sig);
    std::signal(sig, SIG_DFL);  // a second signal kills at once
}

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.pop_back();
    size_t b = 0;
    while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b])))
        ++b;
    return s.substr(b);
}

// "churn@canary=10" -> ("churn@canary", 10).
std::pair<std::string, double> parse_canary(const std::string& arg) {
    size_t eq = arg.rfind('=');
    double pct = 0;
    if (eq == std::string::npos || eq == 0) {
        throw Error("--canary: expected MODEL=PERCENT (e.g. churn@challenger=10), not " +
                    quote(arg));
    }
    std::string p = arg.substr(eq + 1);
    if (!p.empty() && p.back() == '%') p.pop_back();
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), pct);
    if (ec != std::errc() || end != p.data() + p.size() || !(pct > 0 && pct < 100))
        throw Error("--canary: the percentage must be a number between 0 and 100, not " +
                    quote(arg.substr(eq + 1)));
    return {arg.substr(0, eq), pct};
}

class Deploy : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_option("model", model_,
                       "NAME, NAME:VERSION or NAME@ALIAS (default: deploy.model in mlo.yaml)");
        app.add_option("--port", port_, "Port to listen on; 0 picks a free one (default 8080)");
        app.add_option("--host", host_, "Address to bind (default 127.0.0.1)");
        app.add_option("--threads", threads_,
                       "Threads serving requests: event loops for a built-in model "
                       "(default half the CPUs), handler threads for --command (default 64)");
        app.add_flag("--detach", detach_, "Run in the background; return once it serves");
        app.add_option("--token-file", token_file_,
                       "Require 'Authorization: Bearer <the file's token>' on every endpoint "
                       "but the health checks");
        app.add_option("--canary", canary_,
                       "MODEL=PERCENT: send that share of the requests to a second model");
        app.add_option("--name", name_,
                       "Deployment name: the prediction log goes to .mlo/logs/NAME/ "
                       "(default: the model's name)");
        app.add_option("--command", command_,
                       "Serve through worker processes running this shell command (JSON lines "
                       "on stdin/stdout; see docs)");
        app.add_option("--workers", workers_, "Worker processes for --command (default 2)");
        app.add_option("--timeout", timeout_,
                       "Seconds a worker may take for one request (default 30)");
        app.add_option("--max-body", max_body_, "Largest request body in bytes (default 16 MiB)");
        app.add_option("--log-max-bytes", log_max_bytes_,
                       "Start a new prediction log file at this size (default 64 MiB)");
        app.add_option("--poll", poll_,
                       "Seconds between checks of the registry for a moved alias (default 0.5)");
        app.add_option("--ready-fd", ready_fd_)->group("");  // used by --detach
    }

    int run(Context& ctx) override {
        core::ServeOptions opt = options(ctx);
        if (detach_) return detach(ctx, opt);
        // The ready pipe is for us alone: command workers must not inherit it.
        if (ready_fd_ >= 0) ::fcntl(ready_fd_, F_SETFD, FD_CLOEXEC);
        ::signal(SIGPIPE, SIG_IGN);  // a client or worker that went away is an error, not death
        install_stop_handlers();
        if (interrupted()) return 130;  // a signal before ours were in place
        core::serve(
            ctx.repo(), opt, [] { return g_stop_signal.load() != 0; },
            [&](const core::ServeReady& r) {
                nlohmann::json j = ready_json(r);
                if (ready_fd_ >= 0) {
                    std::string line = j.dump() + "\n";
                    write_all(ready_fd_, line.data(), line.size(), "the ready pipe");
                    ::close(ready_fd_);
                    ready_fd_ = -1;
                }
                if (ctx.g.json) {
                    ctx.emit(j);
                    std::cout.flush();
                }
                if (!ctx.g.quiet)
                    std::cerr << "mlo: deployment " << r.id << " serving " << r.model << ":"
                              << r.version << " at http://" << r.host << ":" << r.port
                              << " (stop with Ctrl-C or 'mlo deployments stop " << r.id << "')"
                              << std::endl;
            });
        // A stop on SIGTERM/SIGINT is how a server ends: a clean drain is a success.
        if (!ctx.g.quiet) std::cerr << "mlo: stopped; every request answered was logged\n";
        return 0;
    }

private:
    static nlohmann::json ready_json(const core::ServeReady& r) {
        return {{"id", r.id},
                {"name", r.name},
                {"url", "http://" + r.host + ":" + std::to_string(r.port)},
                {"host", r.host},
                {"port", r.port},
                {"pid", ::getpid()},
                {"model", r.model},
                {"version", r.version},
                {"log_dir", r.log_dir.string()}};
    }

    // Command line over mlo.yaml's `deploy:` over the defaults.
    core::ServeOptions options(Context& ctx) {
        nlohmann::json cfg = nlohmann::json::object();
        std::error_code ec;
        if (fs::exists(ctx.repo().root() / core::kPipelineFile, ec)) {
            core::Pipeline p = core::load_pipeline(ctx.repo());
            if (p.deploy.is_object()) cfg = p.deploy;
        }
        static const std::set<std::string> known = {
            "model",   "port",    "host",    "threads",  "token_file",    "canary", "name",
            "command", "workers", "timeout", "max_body", "log_max_bytes", "poll"};
        for (auto it = cfg.begin(); it != cfg.end(); ++it)
            if (!known.count(it.key()))
                throw Error(std::string(core::kPipelineFile) + ": unknown key " + quote(it.key()) +
                            " in 'deploy'");
        auto str = [&](const char* k, std::string& v) {
            if (!v.empty() || !cfg.contains(k)) return;
            const auto& x = cfg[k];
            if (x.is_string())
                v = x.get<std::string>();
            else if (x.is_number())
                v = x.dump();
            else
                throw Error(std::string(core::kPipelineFile) + ": deploy." + k +
                            " must be a string");
        };
        auto num = [&](const char* k, auto& v) {
            if (v >= 0 || !cfg.contains(k)) return;
            const auto& x = cfg[k];
            if (!x.is_number() || x.get<double>() < 0)
                throw Error(std::string(core::kPipelineFile) + ": deploy." + k +
                            " must be a number, 0 or more");
            v = x.get<std::decay_t<decltype(v)>>();
        };
        str("model", model_);
        str("host", host_);
        str("token_file", token_file_);
        str("canary", canary_);
        str("name", name_);
        str("command", command_);
        num("port", port_);
        num("threads", threads_);
        num("workers", workers_);
        num("timeout", timeout_);
        num("max_body", max_body_);
        num("log_max_bytes", log_max_bytes_);
        num("poll", poll_);

        core::ServeOptions o;
        if (model_.empty())
            throw Error(
                "no model to deploy: give NAME@ALIAS (or NAME:VERSION), or set "
                "deploy.model in mlo.yaml");
        o.model = model_;
        if (!core::parse_model_ref(model_))
            throw Error("not a model reference: " + quote(model_) +
                        " (use NAME, NAME:VERSION or NAME@ALIAS)");
        if (!host_.empty()) o.host = host_;
        if (port_ >= 0) {
            if (port_ > 65535) throw Error("--port: " + std::to_string(port_) + " is not a port");
            o.port = int(port_);
        }
        if (threads_ >= 0) {
            if (threads_ < 1 || threads_ > 4096)
                throw Error("--threads: must be between 1 and 4096");
            o.threads = unsigned(threads_);
        }
        if (!token_file_.empty()) {
            std::string text;
            try {
                text = read_file(token_file_);
            } catch (const Error& e) {
                throw Error("--token-file: " + std::string(e.what()));
            }
            o.token = trim(text);
            if (o.token.empty()) throw Error("--token-file: " + quote(token_file_) + " is empty");
            if (o.token.find_first_of("\r\n") != std::string::npos)
                throw Error("--token-file: " + quote(token_file_) + " holds more than one line");
        }
        if (!canary_.empty()) std::tie(o.canary, o.canary_percent) = parse_canary(canary_);
        if (!o.canary.empty() && !core::parse_model_ref(o.canary))
            throw Error("--canary: not a model reference: " + quote(o.canary));
        o.name = name_;
        o.command = command_;
        if (workers_ >= 0) {
            if (workers_ < 1 || workers_ > 256) throw Error("--workers: must be between 1 and 256");
            o.workers = unsigned(workers_);
        }
        if (timeout_ >= 0) {
            if (!(timeout_ > 0)) throw Error("--timeout: must be more than 0 seconds");
            o.timeout = timeout_;
        }
        if (max_body_ >= 0) {
            if (max_body_ < 1) throw Error("--max-body: must be at least 1 byte");
            o.max_body = uint64_t(max_body_);
        }
        if (log_max_bytes_ >= 0) {
            if (log_max_bytes_ < 1024) throw Error("--log-max-bytes: must be at least 1024");
            o.log_max_bytes = uint64_t(log_max_bytes_);
        }
        if (poll_ >= 0) {
            if (!(poll_ >= 0.01)) throw Error("--poll: must be at least 0.01 seconds");
            o.poll = poll_;
        }
        o.mlo_version = MLO_VERSION;
        return o;
    }

    int detach(Context& ctx, const core::ServeOptions& o) {
        // Fail here, with a clear message, for what the server would fail on at once.
        core::Registry reg(ctx.repo().db());
        core::ModelVersion v = reg.resolve(*core::parse_model_ref(o.model));
        std::string name = o.name.empty() ? v.name : o.name;
        if (!core::valid_model_name(name))
            throw Error("deployment name " + quote(name) +
                        " is not valid: " + core::kModelNameRule);
        fs::path log_dir = ctx.repo().dot_mlo() / "logs" / name;
        make_dirs(log_dir);
        fs::path server_log = log_dir / "server.log";

        std::vector<std::string> args = {"/proc/self/exe", "-C", ctx.repo().root().string(),
                                         "deploy", o.model};
        auto add = [&](const char* flag, const std::string& v2) {
            args.push_back(flag);
            args.push_back(v2);
        };
        add("--port", std::to_string(o.port));
        add("--host", o.host);
        if (o.threads) add("--threads", std::to_string(o.threads));
        if (!token_file_.empty()) add("--token-file", fs::absolute(token_file_).string());
        if (!o.canary.empty()) add("--canary", canary_);
        add("--name", name);
        if (!o.command.empty()) add("--command", o.command);
        add("--workers", std::to_string(o.workers));
        add("--timeout", std::to_string(o.timeout));
        add("--max-body", std::to_string(o.max_body));
        add("--log-max-bytes", std::to_string(o.log_max_bytes));
        add("--poll", std::to_string(o.poll));

        int pipe_fds[2];
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("cannot create a pipe");
        int log_fd = ::open(server_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) throw_errno("cannot open " + quote(server_log));
        int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        add("--ready-fd", "3");
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        std::cout.flush();
        std::cerr.flush();
        pid_t child = ::fork();
        if (child < 0) throw_errno("cannot fork");
        if (child == 0) {
            // Child: a new session, then a grandchild that serves (reparented when we exit).
            ::setsid();
            pid_t grand = ::fork();
            if (grand != 0) ::_exit(grand < 0 ? 1 : 0);
            ::dup2(null_fd, 0);
            ::dup2(log_fd, 1);
            ::dup2(log_fd, 2);
            ::dup2(pipe_fds[1], 3);  // dup2 clears close-on-exec on the copy
            ::signal(SIGINT, SIG_DFL);
            ::signal(SIGTERM, SIG_DFL);
            ::execv("/proc/self/exe", argv.data());
            ::_exit(127);
        }
        ::close(pipe_fds[1]);
        ::close(log_fd);
        if (null_fd >= 0) ::close(null_fd);
        int st = 0;
        ::waitpid(child, &st, 0);
        // Wait for the ready line (or EOF: the server failed; its error is in the log).
        std::string got;
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR) {
                check_interrupted();
                continue;
            }
            if (n <= 0) break;
            got.append(buf, size_t(n));
            if (got.find('\n') != std::string::npos) break;
        }
        ::close(pipe_fds[0]);
        nlohmann::json j = nlohmann::json::parse(got, nullptr, false);
        if (got.empty() || j.is_discarded()) {
            std::string tail, text;
            if (read_file_if_exists(server_log, text)) {
                size_t end = text.find_last_not_of('\n');
                size_t start = end == std::string::npos ? 0 : text.rfind('\n', end);
                tail = text.substr(start == std::string::npos ? 0 : start + 1,
                                   end == std::string::npos ? 0 : end - start);
            }
            throw Error("the server did not start" + (tail.empty() ? std::string() : ": " + tail) +
                        " (see " + quote(server_log) + ")");
        }
        if (ctx.g.json) {
            ctx.emit(j);
        } else if (!ctx.g.quiet) {
            std::cout << "deployment " << j["id"].get<std::string>() << " serving "
                      << j["model"].get<std::string>() << ":" << j["version"].get<int64_t>()
                      << " at " << j["url"].get<std::string>() << " (pid " << j["pid"] << ")\n";
            ctx.note("stop it with 'mlo deployments stop " + j["id"].get<std::string>() +
                     "'; its output goes to " + quote(server_log));
        }
        return 0;
    }

    std::string model_, host_, token_file_, canary_, name_, command_;
    int64_t port_ = -1, threads_ = -1, workers_ = -1, max_body_ = -1, log_max_bytes_ = -1;
    double timeout_ = -1, poll_ = -1;
    bool detach_ = false;
    int ready_fd_ = -1;
};

class Deployments : public Command {
public:
    void setup(CLI::App& app) override {
        stop_ = app.add_subcommand("stop", "Stop a running deployment (SIGTERM, then wait)");
        stop_->add_option("id", id_, "Deployment id, unique prefix, or name")->required();
        stop_->add_option("--timeout", timeout_,
                          "Seconds to wait for it to finish its requests (default 30)");
    }

    int run(Context& ctx) override {
        core::DeploymentStore store(ctx.repo().db());
        if (stop_->parsed()) return do_stop(ctx, store);
        auto all = store.list();
        if (ctx.g.json) {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& d : all)
                a.push_back(core::to_json(d));
            ctx.emit(a);
            return 0;
        }
        if (all.empty()) {
            ctx.note("no deployments yet (start one with 'mlo deploy')");
            return 0;
        }
        std::vector<std::vector<std::string>> rows = {
            {"ID", "NAME", "MODEL", "VERSION", "STATUS", "URL", "PID", "STARTED", "USER"}};
        for (const auto& d : all) {
            std::string version = std::to_string(d.version);
            if (!d.canary_ref.empty()) {
                char pct[32];
                std::snprintf(pct, sizeof pct, "%g", d.canary_percent);
                version += " (+" + std::to_string(d.canary_version) + " " + pct + "%)";
            }
            rows.push_back({d.id, d.name, d.model_ref, version, d.status,
                            "http://" + d.host + ":" + std::to_string(d.port),
                            std::to_string(d.pid), iso_utc(d.started_ns), d.user});
        }
        print_table(ctx.out(), rows);
        return 0;
    }

private:
    int do_stop(Context& ctx, core::DeploymentStore& store) {
        core::Deployment d = store.resolve(id_);
        if (d.status == "stopped" || d.status == "failed") {
            ctx.note("deployment " + d.id + " has already stopped");
            return 0;
        }
        if (!d.hostname.empty() && d.hostname != core::this_host())
            throw Error("deployment " + d.id + " runs on host " + quote(d.hostname) +
                        "; stop it there");
        if (d.status == "dead") {
            store.finish(d.id, "failed");
            ctx.note("deployment " + d.id + " had already exited (pid " + std::to_string(d.pid) +
                     "); recorded it as failed");
            return 0;
        }
        if (::kill(pid_t(d.pid), SIGTERM) != 0 && errno != ESRCH)
            throw_errno("cannot signal pid " + std::to_string(d.pid));
        auto until =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(timeout_ * 1000));
        while (!core::process_gone(long(d.pid), d.started_ns)) {
            if (std::chrono::steady_clock::now() > until)
                throw Error("deployment " + d.id + " (pid " + std::to_string(d.pid) +
                            ") is still running " + std::to_string(int(timeout_)) +
                            " s after SIGTERM");
            check_interrupted();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        // The server records its own stop; a process that died without doing so is failed.
        for (const auto& x : store.list())
            if (x.id == d.id && x.stopped_ns == 0) store.finish(d.id, "failed");
        if (ctx.g.json)
            ctx.emit({{"id", d.id}, {"stopped", true}});
        else
            ctx.note("stopped deployment " + d.id);
        return 0;
    }

    CLI::App* stop_ = nullptr;
    std::string id_;
    double timeout_ = 30;
};

}  // namespace

std::unique_ptr<Command> make_deploy() {
    return std::make_unique<Deploy>();
}

std::unique_ptr<Command> make_deployments() {
    return std::make_unique<Deployments>();
}

}  // namespace mlo::cli
