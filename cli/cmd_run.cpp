// mlo run [--name NAME] [--param k=v]... [--dep PATH]... [--out PATH]... -- COMMAND...: runs any
// command as a tracked run, without a pipeline: exit code, duration, git state, parameters,
// the files it was told about and its output log. The command sees MLO_RUN_ID, so it can
// `mlo log metric` into the run.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "cli/commands.hpp"
#include "core/experiments.hpp"
#include "core/runs.hpp"
#include "core/snapshot.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"

extern char** environ;

namespace mlo::cli {

namespace {

constexpr size_t kMaxLog = size_t(64) << 20;

struct Outcome {
    int status = 0;  // as waitpid reports it
    std::string log;
};

// Runs argv with stdout and stderr passed through (and kept, combined, for the log). The
// child stays in our process group, so a Ctrl-C at the terminal reaches it as well.
Outcome run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
        throw_errno("cannot create a pipe");
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
        std::string s = *e;
        bool replaced = false;
        for (const auto& x : env)
            replaced = replaced || s.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0;
        if (!replaced) envs.push_back(s);
    }
    envs.insert(envs.end(), env.begin(), env.end());
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv)
        cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs)
        cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    // A pipe to report exec failures (closed on a successful exec).
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) throw_errno("cannot create a pipe");
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("cannot start " + quote(argv[0]));
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0 && !::isatty(0)) ::dup2(devnull, 0);
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        ::execvpe(cargv[0], cargv.data(), cenv.data());
        int e = errno;
        (void)!::write(report[1], &e, sizeof e);
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    ::close(report[1]);
    int exec_errno = 0;
    ssize_t got = ::read(report[0], &exec_errno, sizeof exec_errno);
    ::close(report[0]);
    Outcome o;
    if (got == sizeof exec_errno) {
        ::close(out[0]);
        ::close(err[0]);
        ::waitpid(pid, &o.status, 0);
        throw Error("cannot run " + quote(argv[0]) + ": " + std::strerror(exec_errno));
    }
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        int n = ::poll(fds, 2, 200);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
                continue;
            }
            std::ostream& to = i == 0 ? std::cout : std::cerr;
            to.write(buf, r);
            to.flush();
            if (o.log.size() < kMaxLog)
                o.log.append(buf, std::min(size_t(r), kMaxLog - o.log.size()));
        }
    }
    while (::waitpid(pid, &o.status, 0) < 0 && errno == EINTR) {
    }
    return o;
}

class RunCommand : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_option("--name", name_, "A human name for the run (default: generated)")
            ->type_name("NAME");
        app.add_option("-p,--param", params_, "Record a parameter (VALUE typed as YAML reads it)")
            ->type_name("KEY=VALUE");
        app.add_option("-d,--dep", deps_, "A file or directory the command reads (hashed)")
            ->type_name("PATH");
        app.add_option("-o,--out", outs_, "A file or directory it writes (stored afterwards)")
            ->type_name("PATH");
        app.add_option("-M,--metrics", metrics_, "A metrics file it writes (JSON or YAML)")
            ->type_name("FILE");
        app.add_option("--tag", tags_, "Set a tag")->type_name("KEY=VALUE");
        app.footer("The command and its arguments follow --: mlo run [OPTIONS] -- COMMAND...");
    }

    bool takes_command() const override { return true; }

    int run(Context& ctx) override {
        command_ = ctx.rest;
        if (command_.empty())
            throw Error("no command given: mlo run [OPTIONS] -- COMMAND [ARGS...]");
        core::Repository& repo = ctx.repo();
        core::RunStore store(repo.db());
        core::Run r;
        r.id = core::RunStore::new_id();
        r.kind = core::RunKind::command;
        r.name = name_.empty() ? core::RunStore::new_name() : name_;
        for (const auto& a : command_)
            r.cmd += (r.cmd.empty() ? "" : " ") + shell_word(a);
        for (const auto& p : params_) {
            size_t eq = p.find('=');
            if (eq == std::string::npos || eq == 0)
                throw Error("--param: expected KEY=VALUE, got " + quote(p));
            r.params[p.substr(0, eq)] = core::parse_param_value(p.substr(eq + 1));
        }
        for (const auto& t : tags_) {
            size_t eq = t.find('=');
            if (eq == std::string::npos || eq == 0)
                throw Error("--tag: expected KEY=VALUE, got " + quote(t));
            r.tags[t.substr(0, eq)] = t.substr(eq + 1);
        }
        int64_t started = now_ns();
        for (const auto& d : deps_) {
            std::string rel = repo.rel(repo.resolve_arg(d));
            core::Snapshot s = core::snapshot_path(repo, rel, core::SnapshotMode::hash, started);
            if (!s.exists) throw Error("--dep " + quote(d) + " does not exist");
            r.inputs.push_back({rel, s.digest, s.size, s.is_dir});
        }
        std::vector<std::string> outs;
        for (const auto& o : outs_)
            outs.push_back(repo.rel(repo.resolve_arg(o)));
        r.git = core::read_git_state(repo.root());
        r.started_ns = now_ns();
        store.begin(r);

        std::string failure;
        Outcome o;
        try {
            o = run_child(command_, {"MLO_RUN_ID=" + r.id, "MLO_REPO=" + repo.root().string()});
        } catch (const Error& e) {
            failure = e.what();
            o.status = 127 << 8;
        }
        if (interrupted() || (WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGINT)) {
            r.status = core::RunStatus::interrupted;
        } else if (!failure.empty() || !WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0) {
            r.status = core::RunStatus::failed;
            if (WIFEXITED(o.status)) {
                r.exit_code = WEXITSTATUS(o.status);
                if (failure.empty())
                    failure = "command failed with exit code " + std::to_string(*r.exit_code);
            } else if (WIFSIGNALED(o.status)) {
                failure = "command killed by signal " + std::to_string(WTERMSIG(o.status));
            }
        } else {
            r.exit_code = 0;
            r.status = core::RunStatus::succeeded;
            try {
                for (const auto& rel : outs) {
                    core::Snapshot s =
                        core::snapshot_path(repo, rel, core::SnapshotMode::store, started);
                    if (!s.exists) throw Error("output " + quote(rel) + " was not created");
                    r.outputs.push_back({rel, s.digest, s.size, s.is_dir});
                }
                for (const auto& m : metrics_) {
                    auto values = core::read_metrics_file(fs::absolute(m), m);
                    r.metrics.insert(values.begin(), values.end());
                }
                if (!r.outputs.empty() && repo.config().fsync) repo.store().sync();
            } catch (const Error& e) {
                failure = e.what();
                r.status = core::RunStatus::failed;
            }
        }
        if (!o.log.empty()) {
            try {
                r.log = repo.store().put_bytes(o.log).digest;
            } catch (const Error&) {
                // A full disk must not lose the run record; the log is what we give up.
            }
        }
        // Metrics the command logged itself stay; a metrics file's values are added.
        r.ended_ns = now_ns();
        store.finish(r);
        repo.stat_cache().flush();
        if (ctx.g.json) {
            ctx.emit({{"id", r.id},
                      {"name", r.name},
                      {"status", core::run_status_name(r.status)},
                      {"exit_code", r.exit_code ? nlohmann::json(*r.exit_code) : nullptr},
                      {"seconds", double(r.ended_ns - r.started_ns) / 1e9}});
        }
        if (r.status == core::RunStatus::interrupted) throw Interrupted();
        if (!failure.empty()) throw Error("run " + r.id.substr(0, 8) + ": " + failure);
        ctx.note("recorded run " + r.id.substr(0, 8) + " (" + r.name + ")");
        return 0;
    }

private:
    static std::string shell_word(const std::string& a) {
        bool plain = !a.empty() && a.find_first_not_of(
                                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                       "OPQRSTUVWXYZ0123456789_-./=:,+@%") == std::string::npos;
        if (plain) return a;
        std::string q = "'";
        for (char c : a)
            q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return q + "'";
    }

    std::string name_;
    std::vector<std::string> params_, deps_, outs_, metrics_, tags_, command_;
};

}  // namespace

std::unique_ptr<Command> make_run() {
    return std::make_unique<RunCommand>();
}

}  // namespace mlo::cli
