#pragma once

// Command-flavour serving (issue 6): N persistent worker processes of the user's program,
// speaking JSON lines on stdin/stdout (protocol in docs/ARCHITECTURE.md, "Serving"). A
// request borrows an idle worker, writes one line and reads one line back. A worker that has
// died, answers garbage or takes longer than the timeout is killed and replaced, and that
// request fails with 503; a dead idle worker is replaced by check() (the server's watcher
// calls it), so one killed with `kill -9` comes back without waiting for traffic.

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/fs.hpp"

namespace mlo::core {

class WorkerPool {
public:
    // Starts `n` workers: `sh -c command` in `cwd` with `env` added to the environment.
    WorkerPool(std::string command, fs::path cwd, std::map<std::string, std::string> env,
               unsigned n, double timeout_seconds);
    // Closes every worker's stdin and waits briefly for it to exit, then kills it.
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Sends one request line and returns the worker's "predictions" (one per row). Throws
    // RequestError 503 when no worker answered in time or one died, 422 when the worker
    // answered {"error": ...}, 500 for an answer that is not the protocol's.
    nlohmann::json predict(const std::string& request_id, const nlohmann::json& columns,
                           const nlohmann::json& rows, size_t n_rows);

    // Replaces idle workers that have exited. Returns how many were replaced.
    unsigned check();

    unsigned size() const { return unsigned(workers_.size()); }
    uint64_t restarts() const;
    std::vector<pid_t> pids() const;

private:
    struct Worker {
        pid_t pid = -1;
        int in = -1;         // its stdin (we write)
        int out = -1;        // its stdout (we read)
        std::string buffer;  // read but not yet consumed
        bool busy = false;
    };
    void start(Worker& w);
    void stop(Worker& w, bool kill_now);

    std::string command_;
    fs::path cwd_;
    std::map<std::string, std::string> env_;
    double timeout_;
    mutable std::mutex mu_;
    std::condition_variable idle_;
    std::vector<Worker> workers_;
    uint64_t restarts_ = 0;
};

}  // namespace mlo::core
