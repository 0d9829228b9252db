#include "core/workers.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/scoring.hpp"
#include "storage/error.hpp"

extern char** environ;

namespace mlo::core {

namespace {

using Clock = std::chrono::steady_clock;

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

// Waits up to `ms` for `pid` to exit; true when it has (and was reaped).
bool wait_exit(pid_t pid, int ms) {
    for (int waited = 0;; waited += 10) {
        int st = 0;
        pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (waited >= ms) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

WorkerPool::WorkerPool(std::string command, fs::path cwd, std::map<std::string, std::string> env,
                       unsigned n, double timeout_seconds)
    : command_(std::move(command)),
      cwd_(std::move(cwd)),
      env_(std::move(env)),
      timeout_(timeout_seconds),
      workers_(std::max(1u, n)) {
    for (auto& w : workers_)
        start(w);
}

WorkerPool::~WorkerPool() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& w : workers_)
        close_fd(w.in);  // EOF: a well-behaved worker exits now
    auto until = Clock::now() + std::chrono::seconds(2);
    for (auto& w : workers_) {
        if (w.pid <= 0) continue;
        int left = int(
            std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
        if (!wait_exit(w.pid, std::max(left, 0))) {
            ::kill(-w.pid, SIGKILL);
            ::kill(w.pid, SIGKILL);
            wait_exit(w.pid, 2000);
        }
        w.pid = -1;
        close_fd(w.out);
    }
}

void WorkerPool::start(Worker& w) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw_errno("cannot create a pipe for a worker");
    if (::pipe2(out, O_CLOEXEC) != 0) {
        ::close(in[0]);
        ::close(in[1]);
        throw_errno("cannot create a pipe for a worker");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addchdir_np(&fa, cwd_.c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own process group (killing it kills what `sh -c` started), default signal
    // handling (the server ignores SIGPIPE) and an empty signal mask.
    sigset_t def, none;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    std::vector<std::string> env_text;
    for (char** e = environ; e && *e; ++e) {
        std::string kv = *e;
        std::string key = kv.substr(0, kv.find('='));
        if (!env_.count(key)) env_text.push_back(kv);
    }
    for (const auto& [k, v] : env_)
        env_text.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_text)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string sh = "/bin/sh", dash_c = "-c";
    char* argv[] = {sh.data(), dash_c.data(), command_.data(), nullptr};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
        ::close(in[1]);
        ::close(out[0]);
        throw Error("cannot start worker " + quote(command_) + ": " + std::strerror(rc));
    }
    w.pid = pid;
    w.in = in[1];
    w.out = out[0];
    w.buffer.clear();
}

void WorkerPool::stop(Worker& w, bool kill_now) {
    close_fd(w.in);
    if (w.pid > 0) {
        if (kill_now || !wait_exit(w.pid, 200)) {
            ::kill(-w.pid, SIGKILL);
            ::kill(w.pid, SIGKILL);
            wait_exit(w.pid, 2000);
        }
    }
    w.pid = -1;
    close_fd(w.out);
    w.buffer.clear();
}

uint64_t WorkerPool::restarts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return restarts_;
}

std::vector<pid_t> WorkerPool::pids() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<pid_t> out;
    for (const auto& w : workers_)
        out.push_back(w.pid);
    return out;
}

unsigned WorkerPool::check() {
    std::lock_guard<std::mutex> lock(mu_);
    unsigned replaced = 0;
    for (auto& w : workers_) {
        if (w.busy || w.pid <= 0) continue;
        int st = 0;
        pid_t r = ::waitpid(w.pid, &st, WNOHANG);
        if (r != w.pid && !(r < 0 && errno == ECHILD)) continue;
        w.pid = -1;
        stop(w, true);
        try {
            start(w);
            ++restarts_;
            ++replaced;
        } catch (const Error& e) {
            std::fprintf(stderr, "mlo: error: %s\n", e.what());
        }
    }
    if (replaced) idle_.notify_all();
    return replaced;
}

nlohmann::json WorkerPool::predict(const std::string& request_id, const nlohmann::json& columns,
                                   const nlohmann::json& rows, size_t n_rows) {
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(int64_t(std::max(timeout_, 0.001) * 1000));
    Worker* w = nullptr;
    {
        std::unique_lock<std::mutex> lock(mu_);
        auto free_worker = [&]() -> Worker* {
            for (auto& x : workers_)
                if (!x.busy && x.pid > 0) return &x;
            return nullptr;
        };
        if (!idle_.wait_until(lock, deadline, [&] { return (w = free_worker()) != nullptr; }))
            throw RequestError(503, "no model worker was free within the timeout");
        w->busy = true;
    }
    // Any failure below replaces the worker (it may be dead, or out of step with us).
    auto fail = [&](int status, const std::string& why) -> RequestError {
        std::lock_guard<std::mutex> lock(mu_);
        stop(*w, true);
        try {
            start(*w);
            ++restarts_;
        } catch (const Error& e) {
            std::fprintf(stderr, "mlo: error: %s\n", e.what());
        }
        w->busy = false;
        idle_.notify_one();
        return RequestError(status, why);
    };
    nlohmann::json req = {{"id", request_id}, {"columns", columns}, {"data", rows}};
    std::string line = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(w->in, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw fail(503, "the model worker has exited; it is being restarted");
        }
        p += n;
        left -= size_t(n);
    }
    std::string answer;
    for (;;) {
        size_t nl = w->buffer.find('\n');
        if (nl != std::string::npos) {
            answer = w->buffer.substr(0, nl);
            w->buffer.erase(0, nl + 1);
            break;
        }
        auto left_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left_ms <= 0)
            throw fail(503,
                       "the model worker did not answer within the timeout; it is being "
                       "restarted");
        struct pollfd pfd = {w->out, POLLIN, 0};
        int r = ::poll(&pfd, 1, int(std::min<int64_t>(left_ms, 1000)));
        if (r < 0 && errno != EINTR)
            throw fail(503, "cannot read from the model worker; it is being restarted");
        if (r <= 0) continue;
        char buf[65536];
        ssize_t n = ::read(w->out, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw fail(503, "the model worker has exited; it is being restarted");
        w->buffer.append(buf, size_t(n));
    }
    nlohmann::json doc = nlohmann::json::parse(answer, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        throw fail(500, "the model worker answered something that is not a JSON object");
    auto id = doc.find("id");
    if (id != doc.end() && !(id->is_string() && id->get<std::string>() == request_id))
        throw fail(500, "the model worker answered another request's id");
    nlohmann::json result;
    int status = 0;
    std::string why;
    if (auto err = doc.find("error"); err != doc.end()) {
        status = 422;
        why = err->is_string() ? err->get<std::string>() : err->dump();
    } else if (auto preds = doc.find("predictions");
               preds != doc.end() && preds->is_array() && preds->size() == n_rows) {
        result = std::move(*preds);
    } else {
        status = 500;
        why = "the model worker's answer needs a 'predictions' list with one value per row";
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        w->busy = false;
        idle_.notify_one();
    }
    if (status) throw RequestError(status, why);
    return result;
}

}  // namespace mlo::core
