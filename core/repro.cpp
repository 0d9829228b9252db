#include "core/repro.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/builtin.hpp"
#include "core/dag.hpp"
#include "core/lockfile.hpp"
#include "core/pointer.hpp"
#include "core/runs.hpp"
#include "core/snapshot.hpp"
#include "core/validation.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"

extern char** environ;

namespace mlo::core {

const char* stage_result_name(StageResult r) {
    switch (r) {
        case StageResult::up_to_date:
            return "up to date";
        case StageResult::ran:
            return "ran";
        case StageResult::restored:
            return "restored";
        case StageResult::failed:
            return "failed";
        case StageResult::skipped:
            return "skipped";
        case StageResult::interrupted:
            return "interrupted";
        case StageResult::would_run:
            return "would run";
        case StageResult::frozen:
            return "frozen";
    }
    return "?";
}

namespace {

using ParamValues = std::map<std::string, std::map<std::string, nlohmann::json>>;

// How long a stopped command's process group gets between SIGTERM and SIGKILL.
constexpr auto kKillGrace = std::chrono::seconds(3);
// A stage's output kept with its run is cut here; the stream to the terminal is not.
constexpr size_t kMaxLog = 64 << 20;

std::string short_value(const nlohmann::json& j) {
    std::string s = j.is_string() ? j.get<std::string>() : j.dump();
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return s;
}

// The state a stage would be locked with now, and why it differs from mlo.lock.
struct Check {
    bool up_to_date = false;
    std::vector<std::string> reasons;
    std::vector<LockedPath> deps;
    ParamValues params;
};

ParamValues params_of(const Pipeline& p, const Stage& s) {
    ParamValues out;
    for (const auto& ref : s.params) {
        auto f = p.param_values.find(ref.file);
        if (f == p.param_values.end()) continue;
        auto v = f->second.find(ref.key);
        if (v != f->second.end()) out[ref.file][ref.key] = v->second;
    }
    return out;
}

std::string param_name(const std::string& file, const std::string& key) {
    return file == kDefaultParamsFile ? key : file + ":" + key;
}

Check check_stage(Repository& repo, const Pipeline& p, const Stage& s, const LockFile& lock,
                  int64_t started) {
    Check c;
    for (const auto& d : s.deps)
        c.deps.push_back({d.path, snapshot_path(repo, d.path, SnapshotMode::hash, started)});
    c.params = params_of(p, s);

    auto it = lock.stages.find(s.name);
    if (it == lock.stages.end()) {
        c.reasons.push_back("never ran");
        return c;
    }
    const LockEntry& e = it->second;
    // Parameters first: a changed parameter that the command interpolates also changes the
    // command, and the parameter is the news.
    // Parameters: changed, added or dropped.
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& [file, values] : c.params) {
        for (const auto& [key, value] : values) {
            seen.insert({file, key});
            auto lf = e.params.find(file);
            if (lf == e.params.end() || !lf->second.count(key)) {
                c.reasons.push_back("new parameter " + quote(param_name(file, key)));
            } else if (lf->second.at(key) != value) {
                c.reasons.push_back("parameter " + quote(param_name(file, key)) + " changed (" +
                                    short_value(lf->second.at(key)) + " -> " + short_value(value) +
                                    ")");
            }
        }
    }
    for (const auto& [file, values] : e.params) {
        for (const auto& [key, value] : values) {
            if (!seen.count({file, key}))
                c.reasons.push_back("parameter " + quote(param_name(file, key)) + " dropped");
        }
    }
    if (e.cmd != (s.cmd.empty() ? "builtin: " + s.builtin.dump() : s.cmd))
        c.reasons.push_back("command changed");
    // Dependencies.
    std::map<std::string, const Snapshot*> locked_deps;
    for (const auto& d : e.deps)
        locked_deps[d.path] = &d.snap;
    std::set<std::string> used;  // a path listed twice is one dependency
    for (const auto& d : c.deps) {
        auto l = locked_deps.find(d.path);
        if (!d.snap.exists) {
            c.reasons.push_back("dependency " + quote(d.path) + " is missing");
        } else if (l == locked_deps.end()) {
            c.reasons.push_back("new dependency " + quote(d.path));
        } else if (l->second->digest != d.snap.digest) {
            c.reasons.push_back("dependency " + quote(d.path) + " changed");
        }
        used.insert(d.path);
    }
    for (const auto& [path, snap] : locked_deps)
        if (!used.count(path)) c.reasons.push_back("dependency " + quote(path) + " dropped");
    // Outputs.
    std::map<std::string, const Snapshot*> locked_outs;
    for (const auto& o : e.outs)
        locked_outs[o.path] = &o.snap;
    for (const auto& o : s.outs) {
        auto l = locked_outs.find(o.path);
        if (l == locked_outs.end()) {
            c.reasons.push_back("new output " + quote(o.path));
            continue;
        }
        Snapshot now = snapshot_path(repo, o.path, SnapshotMode::hash, started);
        if (!now.exists || (now.is_dir != l->second->is_dir)) {
            c.reasons.push_back("output " + quote(o.path) + " is missing");
        } else if (now.digest != l->second->digest) {
            c.reasons.push_back("output " + quote(o.path) + " changed");
        }
        locked_outs.erase(l);
    }
    for (const auto& [path, snap] : locked_outs)
        c.reasons.push_back("output " + quote(path) + " dropped");
    if (s.always_changed) c.reasons.push_back("always changed");
    c.up_to_date = c.reasons.empty();
    return c;
}

std::string command_of(const Stage& s) {
    return s.cmd.empty() ? "builtin: " + s.builtin.dump() : s.cmd;
}

// Same command, same dependency content, same parameter values, same declared outputs: the
// same result.
std::string cache_key(const Stage& s, const Check& c) {
    nlohmann::json j;
    j["cmd"] = command_of(s);
    j["wdir"] = s.wdir;
    for (const auto& d : c.deps)
        j["deps"].push_back({d.path, to_hex(d.snap.digest)});
    j["params"] = nlohmann::json::object();
    for (const auto& [file, values] : c.params)
        for (const auto& [key, value] : values)
            j["params"][param_name(file, key)] = value;
    for (const auto& o : s.outs)
        j["outs"].push_back({o.path, o.persist, o.cache});
    return to_hex(sha256(j.dump()));
}

Artifact artifact_of(const LockedPath& lp) {
    return Artifact{lp.path, lp.snap.digest, lp.snap.size, lp.snap.is_dir};
}

LockEntry entry_of(const Stage& s, const Check& c, std::vector<LockedPath> outs) {
    LockEntry e;
    e.cmd = command_of(s);
    e.deps = c.deps;
    e.params = c.params;
    e.outs = std::move(outs);
    return e;
}

// A child process running a stage's command in its own process group.
struct Child {
    pid_t pid = -1;
    int out = -1;  // read end of the pipe that carries its stdout and stderr
};

Child spawn(const std::string& cmd, const fs::path& cwd, const std::vector<std::string>& env) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
        std::string_view v = *e;
        if (v.rfind("MLO_RUN_ID=", 0) == 0 || v.rfind("MLO_STAGE=", 0) == 0 ||
            v.rfind("MLO_REPO=", 0) == 0)
            continue;
        env_strings.emplace_back(v);
    }
    for (const auto& e : env)
        env_strings.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env_strings)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string dir = cwd.string();
    std::error_code ec;
    if (!fs::is_directory(cwd, ec))
        throw Error("the working directory " + quote(dir) + " does not exist");

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("cannot create a pipe");
    // posix_spawn (a vfork in glibc): no copy of mlo's address space per stage, and nothing
    // runs in the child between the fork and the exec but these file actions and attributes.
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
    // Its own process group (so an interrupt can stop the whole command), default signal
    // handling and no blocked signals, whatever mlo set up for itself.
    sigset_t defaults, none;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGQUIT);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    const char* argv[] = {"sh", "-c", cmd.c_str(), nullptr};
    pid_t pid = -1;
    int rc =
        ::posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        throw_errno("cannot start /bin/sh", rc);
    }
    return Child{pid, fds[0]};
}

// Reads the child's output until it exits, calling `line` for each line. Returns the wait
// status; on interrupt, stops the whole process group (SIGTERM, then SIGKILL) and sets
// *stopped.
int supervise(Child& child, const std::function<void(const std::string&)>& line, std::string& log,
              bool* stopped) {
    std::string pending;
    char buf[65536];
    bool eof = false;
    int status = 0;
    bool exited = false;
    std::optional<std::chrono::steady_clock::time_point> term_sent;
    auto emit = [&](bool flush_partial) {
        size_t start = 0;
        for (;;) {
            size_t nl = pending.find('\n', start);
            if (nl == std::string::npos) break;
            line(pending.substr(start, nl - start));
            start = nl + 1;
        }
        pending.erase(0, start);
        if (flush_partial && !pending.empty()) {
            line(pending);
            pending.clear();
        }
    };
    while (!exited || !eof) {
        if (interrupted() && !term_sent) {
            ::kill(-child.pid, SIGTERM);
            term_sent = std::chrono::steady_clock::now();
            *stopped = true;
        }
        if (term_sent && std::chrono::steady_clock::now() - *term_sent > kKillGrace)
            ::kill(-child.pid, SIGKILL);
        if (!eof) {
            pollfd pfd{child.out, POLLIN, 0};
            int r = ::poll(&pfd, 1, 100);
            if (r > 0) {
                ssize_t n = ::read(child.out, buf, sizeof buf);
                if (n > 0) {
                    if (log.size() < kMaxLog) log.append(buf, size_t(n));
                    pending.append(buf, size_t(n));
                    emit(false);
                } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                    eof = true;
                }
            }
        }
        if (!exited) {
            pid_t w = ::waitpid(child.pid, &status, eof ? 0 : WNOHANG);
            if (w == child.pid) {
                exited = true;
            } else if (w < 0 && errno != EINTR) {
                exited = true;
                status = 127 << 8;
            }
        }
        if (exited && !eof) {
            // Drain what is already there; a background process that keeps the pipe open must
            // not keep the stage running.
            int fl = ::fcntl(child.out, F_GETFL);
            ::fcntl(child.out, F_SETFL, fl | O_NONBLOCK);
            for (;;) {
                ssize_t n = ::read(child.out, buf, sizeof buf);
                if (n <= 0) break;
                if (log.size() < kMaxLog) log.append(buf, size_t(n));
                pending.append(buf, size_t(n));
            }
            eof = true;
        }
    }
    emit(true);
    ::close(child.out);
    child.out = -1;
    return status;
}

std::string hostname() {
    char buf[256] = {0};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "";
    return buf;
}

class Executor {
public:
    Executor(Repository& repo, const ReproOptions& opt) : repo_(repo), opt_(opt) {}

    ReproResult run() {
        started_ = now_ns();
        pipeline_ = load_pipeline(repo_);
        dag_ = build_dag(pipeline_, [&](const std::string& rel) { return path_known(rel); });
        std::vector<size_t> targets = resolve_targets();
        selected_ = dag_.closure(targets);

        FileLock lock(repo_.tmp_dir() / "repro.lock");
        if (opt_.wait) {
            if (!lock.acquire(opt_.on_wait)) throw Error("cannot lock the pipeline");
        } else if (!lock.try_acquire()) {
            throw Error(
                "another 'mlo repro' is running in this repository (drop --no-wait to "
                "wait for it)");
        }
        lock_ = LockFile::load(repo_);
        // Loaded once before the worker threads start: they only look rows up afterwards.
        repo_.stat_cache().load("");
        runs_.emplace(repo_.db());
        if (!opt_.dry_run) {
            std::lock_guard<std::mutex> g(db_mu_);
            runs_->reap_stale();
        }
        schedule();
        repo_.stat_cache().flush();
        // Stored outputs, logs and mlo.lock reach the disk together: one syncfs for the whole
        // run instead of an fsync per stage (core.fsync: false skips it).
        if (lock_written_ && repo_.config().fsync) repo_.store().sync();
        check_interrupted();
        return std::move(result_);
    }

    std::vector<StageReport> status_only() {
        started_ = now_ns();
        pipeline_ = load_pipeline(repo_);
        dag_ = build_dag(pipeline_, [&](const std::string& rel) { return path_known(rel); });
        selected_ = dag_.closure({});
        lock_ = LockFile::load(repo_);
        repo_.stat_cache().load("");
        std::vector<StageReport> out;
        std::set<size_t> will_run;
        for (size_t i : selected_) {
            const Stage& s = pipeline_.stages[i];
            StageReport r;
            r.stage = s.name;
            if (s.frozen) {
                r.result = StageResult::frozen;
            } else {
                Check c = check_stage(repo_, pipeline_, s, lock_, started_);
                r.reasons = c.reasons;
                for (size_t u : dag_.upstream[i])
                    if (will_run.count(u))
                        r.reasons.push_back("upstream " + quote(pipeline_.stages[u].name) +
                                            " would run");
                r.result = r.reasons.empty() ? StageResult::up_to_date : StageResult::would_run;
                if (!r.reasons.empty()) will_run.insert(i);
            }
            out.push_back(std::move(r));
        }
        repo_.stat_cache().flush();
        return out;
    }

private:
    Repository& repo_;
    const ReproOptions& opt_;
    int64_t started_ = 0;
    Pipeline pipeline_;
    Dag dag_;
    std::vector<size_t> selected_;
    LockFile lock_;
    std::optional<RunStore> runs_;
    GitState git_;
    bool git_read_ = false;
    ReproResult result_;
    bool lock_written_ = false;

    std::mutex mu_;  // guards the scheduling state, lock_, result_ and the callbacks
    std::condition_variable cv_;
    std::mutex db_mu_;  // one sqlite connection: one transaction at a time

    bool path_known(const std::string& rel) {
        std::error_code ec;
        const fs::path abs = repo_.abs(rel);
        return fs::exists(fs::symlink_status(abs, ec)) || fs::exists(pointer_file_for(abs), ec);
    }

    std::vector<size_t> resolve_targets() {
        std::vector<size_t> out;
        for (const auto& t : opt_.targets) {
            bool found = false;
            for (size_t i = 0; i < pipeline_.stages.size(); ++i) {
                const Stage& s = pipeline_.stages[i];
                if (s.name == t || s.group == t) {
                    out.push_back(i);
                    found = true;
                }
            }
            if (!found) {
                std::string names;
                for (const auto& s : pipeline_.stages)
                    names += (names.empty() ? "" : ", ") + s.name;
                throw Error("no stage " + quote(t) + " in " + kPipelineFile + " (stages: " + names +
                            ")");
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- scheduling
    enum class State { pending, running, ok, bad };

    void schedule() {
        std::map<size_t, State> state;
        for (size_t i : selected_)
            state[i] = State::pending;
        std::set<size_t> will_run;  // dry run: stages that would run
        bool stop = false;          // a failure without --keep-going, or an interrupt
        size_t running = 0;         // queued or executing
        const unsigned jobs = std::max(1u, opt_.jobs);
        // A pool of `jobs` workers takes ready stages from the queue.
        std::deque<std::pair<size_t, std::vector<std::string>>> queue;
        bool finished = false;
        auto worker = [&] {
            std::unique_lock<std::mutex> wl(mu_);
            for (;;) {
                cv_.wait(wl, [&] { return finished || !queue.empty(); });
                if (queue.empty()) return;
                auto [i, upstream_runs] = std::move(queue.front());
                queue.pop_front();
                wl.unlock();
                StageReport r = execute(pipeline_.stages[i], upstream_runs);
                wl.lock();
                bool good = r.result != StageResult::failed &&
                            r.result != StageResult::interrupted &&
                            r.result != StageResult::skipped;
                state[i] = good ? State::ok : State::bad;
                if (r.result == StageResult::would_run) will_run.insert(i);
                if (!good && !opt_.keep_going) stop = true;
                if (r.result == StageResult::interrupted) stop = true;
                --running;
                finish_report(std::move(r));
                cv_.notify_all();
            }
        };
        std::vector<std::thread> threads;
        for (unsigned k = 0; k < jobs; ++k)
            threads.emplace_back(worker);

        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
            if (interrupted()) stop = true;
            // Start what is ready, in topological order.
            bool progressed = false;
            for (size_t i : selected_) {
                if (state[i] != State::pending) continue;
                bool ready = true, blocked = false;
                for (size_t u : dag_.upstream[i]) {
                    auto su = state.find(u);
                    if (su == state.end()) continue;  // not selected: taken as it is
                    if (su->second == State::bad) blocked = true;
                    if (su->second != State::ok) ready = false;
                }
                if (blocked || (stop && ready)) {
                    StageReport r;
                    r.stage = pipeline_.stages[i].name;
                    r.result = StageResult::skipped;
                    r.reasons.push_back(blocked ? "an upstream stage did not succeed"
                                                : "the pipeline stopped");
                    state[i] = State::bad;
                    finish_report(std::move(r));
                    progressed = true;
                    continue;
                }
                if (!ready || running >= jobs) continue;
                state[i] = State::running;
                ++running;
                progressed = true;
                std::vector<std::string> upstream_runs;
                for (size_t u : dag_.upstream[i])
                    if (will_run.count(u)) upstream_runs.push_back(pipeline_.stages[u].name);
                queue.emplace_back(i, std::move(upstream_runs));
                cv_.notify_all();
            }
            bool pending_left = std::any_of(state.begin(), state.end(), [](const auto& kv) {
                return kv.second == State::pending;
            });
            if (!pending_left && running == 0) break;
            if (!progressed) cv_.wait_for(lk, std::chrono::milliseconds(100));
        }
        finished = true;
        cv_.notify_all();
        lk.unlock();
        for (auto& t : threads)
            t.join();
    }

    void finish_report(StageReport r) {
        if (r.result == StageResult::failed || r.result == StageResult::interrupted ||
            r.result == StageResult::skipped)
            result_.failed = true;
        if (opt_.on_done) opt_.on_done(r);
        result_.stages.push_back(std::move(r));
    }

    // ---------------------------------------------------------------- one stage
    StageReport execute(const Stage& s, const std::vector<std::string>& upstream_would_run) {
        StageReport r;
        r.stage = s.name;
        auto t0 = std::chrono::steady_clock::now();
        auto done = [&](StageResult res) {
            r.result = res;
            r.seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            return r;
        };
        try {
            if (s.frozen) return done(StageResult::frozen);
            LockFile lock_now;  // this stage's entry only: copying the whole lock is quadratic
            {
                std::lock_guard<std::mutex> g(mu_);
                auto it = lock_.stages.find(s.name);
                if (it != lock_.stages.end()) lock_now.stages.insert(*it);
            }
            Check c = check_stage(repo_, pipeline_, s, lock_now, started_);
            r.reasons = c.reasons;
            for (const auto& u : upstream_would_run)
                r.reasons.push_back("upstream " + quote(u) + " would run");
            if (r.reasons.empty() && !opt_.force) return done(StageResult::up_to_date);
            if (r.reasons.empty()) r.reasons.push_back("forced");
            if (opt_.dry_run) return done(StageResult::would_run);
            // Before a restore too: a run cache entry says nothing about the data's validity
            // under a `validate:` added since.
            if (auto why = invalid_data(s)) {
                r.error = *why;
                return done(StageResult::failed);
            }
            const std::string key = cache_key(s, c);
            if (opt_.run_cache && !opt_.force && try_restore(s, c, key, r))
                return done(StageResult::restored);
            return done(run_command(s, c, key, r));
        } catch (const Interrupted&) {
            return done(StageResult::interrupted);
        } catch (const Error& e) {
            r.error = e.what();
            return done(StageResult::failed);
        }
    }

    // The first `validate:` entry whose data does not match its schema, described; a schema
    // or CSV that cannot be read throws.
    std::optional<std::string> invalid_data(const Stage& s) {
        for (const auto& v : s.validate) {
            Schema schema = load_schema(repo_.abs(v.schema), v.schema);
            ValidationReport rep = validate_csv_file(repo_.abs(v.data), v.data, schema);
            if (!rep.valid()) return describe_invalid(rep);
        }
        return std::nullopt;
    }

    void notify_start(const StageReport& r) {
        std::lock_guard<std::mutex> g(mu_);
        if (opt_.on_start) opt_.on_start(r);
    }

    Run new_run(const Stage& s, const Check& c, const std::string& key) {
        Run run;
        run.id = RunStore::new_id();
        run.stage = s.name;
        run.parent = opt_.parent_run;
        run.cmd = command_of(s);
        run.params = pipeline_.values_for(s);
        run.started_ns = now_ns();
        run.host = hostname();
        {
            // Read once, when the first stage runs: a run with nothing to do never loads git.
            std::lock_guard<std::mutex> g(db_mu_);
            if (!git_read_) {
                git_ = read_git_state(repo_.main_root());
                git_read_ = true;
            }
            run.git = git_;
        }
        run.cache_key = key;
        for (const auto& d : c.deps)
            if (d.snap.exists) run.inputs.push_back(artifact_of(d));
        return run;
    }

    // The run cache: the same key succeeded before and its outputs are still in the store.
    bool try_restore(const Stage& s, const Check& c, const std::string& key, StageReport& r) {
        if (s.outs.empty()) return false;
        for (const auto& o : s.outs)
            if (!o.cache || o.persist) return false;
        std::optional<Run> earlier;
        {
            std::lock_guard<std::mutex> g(db_mu_);
            earlier = runs_->find_cached(key);
        }
        if (!earlier) return false;
        std::vector<LockedPath> outs;
        for (const auto& o : s.outs) {
            auto it = std::find_if(earlier->outputs.begin(), earlier->outputs.end(),
                                   [&](const Artifact& a) { return a.path == o.path; });
            if (it == earlier->outputs.end()) return false;
            Snapshot snap;
            snap.exists = true;
            snap.digest = it->digest;
            snap.size = it->size;
            snap.is_dir = it->is_dir;
            if (!snapshot_in_store(repo_, snap)) return false;
            outs.push_back({o.path, snap});
        }
        r.reasons.push_back("restored from run " + earlier->id.substr(0, 12));
        notify_start(r);
        Run run = new_run(s, c, key);
        run.status = RunStatus::restored;
        run.restored_from = earlier->id;
        for (auto& o : outs) {
            restore_path(repo_, o.path, o.snap);
            // A directory's file count comes from its manifest, as the lock records it.
            if (o.snap.is_dir) o.snap = snapshot_path(repo_, o.path, SnapshotMode::hash, started_);
            run.outputs.push_back(artifact_of(o));
        }
        run.metrics = earlier->metrics;
        run.ended_ns = now_ns();
        {
            std::lock_guard<std::mutex> g(db_mu_);
            runs_->begin(run);
            runs_->finish(run);
        }
        r.run_id = run.id;
        commit_lock(s, entry_of(s, c, std::move(outs)));
        return true;
    }

    StageResult run_command(const Stage& s, const Check& c, const std::string& key,
                            StageReport& r) {
        // Outputs start from nothing unless persistent; their directories exist.
        for (const auto& o : s.outs) {
            const fs::path abs = repo_.abs(o.path);
            if (!o.persist) {
                std::error_code ec;
                fs::remove_all(abs, ec);
                if (ec) throw Error("cannot remove output " + quote(o.path) + ": " + ec.message());
            }
            make_dirs(abs.parent_path());
        }
        Run run = new_run(s, c, key);
        {
            std::lock_guard<std::mutex> g(db_mu_);
            runs_->begin(run);
        }
        r.run_id = run.id;
        notify_start(r);

        std::string log;
        bool stopped = false;
        int status = 0;
        std::string failure;
        try {
            const std::string cmd =
                s.cmd.empty() ? builtin_command_line(builtin_job(repo_, pipeline_, s, c.deps))
                              : s.cmd;
            Child child = spawn(cmd, repo_.abs(s.wdir),
                                {"MLO_RUN_ID=" + run.id, "MLO_STAGE=" + s.name,
                                 "MLO_REPO=" + repo_.root().string()});
            status = supervise(
                child,
                [&](const std::string& line) {
                    std::lock_guard<std::mutex> g(mu_);
                    if (opt_.on_output) opt_.on_output(s.name, line);
                },
                log, &stopped);
        } catch (const Error& e) {
            failure = e.what();
            status = 127 << 8;
        }

        StageResult result = StageResult::ran;
        std::vector<LockedPath> outs;
        if (stopped || interrupted()) {
            result = StageResult::interrupted;
            run.status = RunStatus::interrupted;
        } else if (!failure.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            result = StageResult::failed;
            run.status = RunStatus::failed;
            if (WIFEXITED(status)) {
                run.exit_code = WEXITSTATUS(status);
                r.exit_code = run.exit_code;
                if (failure.empty())
                    failure = "command failed with exit code " + std::to_string(*run.exit_code);
                // A built-in stage's own error says more than its exit code.
                if (s.cmd.empty()) {
                    const std::string tag = "mlo: error: ";
                    size_t at = log.rfind(tag);
                    if (at != std::string::npos) {
                        size_t end = log.find('\n', at);
                        failure = log.substr(at + tag.size(), end == std::string::npos
                                                                  ? std::string::npos
                                                                  : end - at - tag.size());
                    }
                }
            } else if (WIFSIGNALED(status)) {
                failure = "command killed by signal " + std::to_string(WTERMSIG(status));
            }
        } else {
            run.exit_code = 0;
            r.exit_code = 0;
            try {
                for (const auto& o : s.outs) {
                    Snapshot snap =
                        snapshot_path(repo_, o.path,
                                      o.cache ? SnapshotMode::store : SnapshotMode::hash, started_);
                    if (!snap.exists)
                        throw Error("declared output " + quote(o.path) + " was not created");
                    outs.push_back({o.path, snap});
                    run.outputs.push_back(artifact_of(outs.back()));
                    if (o.metric) {
                        auto m = read_metrics_file(repo_.abs(o.path), o.path);
                        run.metrics.insert(m.begin(), m.end());
                    }
                }
                run.status = RunStatus::succeeded;
            } catch (const Error& e) {
                failure = e.what();
                result = StageResult::failed;
                run.status = RunStatus::failed;
            }
        }
        if (!log.empty()) {
            try {
                run.log = repo_.store().put_bytes(log).digest;
            } catch (const Error&) {
                // A full disk must not lose the run record; the log is what we give up.
            }
        }
        run.ended_ns = now_ns();
        {
            std::lock_guard<std::mutex> g(db_mu_);
            runs_->finish(run);
        }
        r.error = failure;
        if (result == StageResult::ran) commit_lock(s, entry_of(s, c, std::move(outs)));
        return result;
    }

    void commit_lock(const Stage& s, LockEntry e) {
        std::lock_guard<std::mutex> g(mu_);
        lock_.stages[s.name] = std::move(e);
        // Entries of stages no longer in mlo.yaml stay: another branch may still use them.
        // Atomic (a crash leaves the old or the new file), flushed once at the end of repro.
        lock_.save(repo_, Sync::no);
        lock_written_ = true;
    }
};

}  // namespace

ReproResult repro(Repository& repo, const ReproOptions& options) {
    Executor ex(repo, options);
    return ex.run();
}

std::vector<StageReport> pipeline_status(Repository& repo) {
    ReproOptions none;
    Executor ex(repo, none);
    return ex.status_only();
}

std::vector<std::string> stages_with_role(const Pipeline& p, const std::string& role) {
    std::vector<std::string> out;
    for (const auto& s : p.stages)
        if (s.group == role || s.name == role || s.role == role) {
            out.push_back(s.name);
        } else if (s.role.empty() && !s.builtin.is_null()) {
            // A built-in stage has the role of what it does.
            if (is_learner_spec(s.builtin) ? role == "train" : role == "evaluate")
                out.push_back(s.name);
        }
    if (out.empty())
        throw Error(std::string("no stage named ") + quote(role) + " or marked 'role: " + role +
                    "' in " + kPipelineFile);
    return out;
}

}  // namespace mlo::core
