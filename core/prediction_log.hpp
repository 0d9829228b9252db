#pragma once

// The prediction log of a deployment (issue 6): JSON lines appended to
// .mlo/logs/<name>/<deployment id>-<NNNNNN>.jsonl by a writer thread, off the request path.
// A file is closed and the next one started once it reaches the size limit, so every file is
// complete JSON lines and no file is ever renamed under a reader. `mlo monitor` reads every
// *.jsonl in the directory (see docs/ARCHITECTURE.md for the record layout).
//
// close() (and the destructor) writes every record added before it and fsyncs: a server that
// stops on SIGTERM loses nothing it answered.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "storage/fs.hpp"

namespace mlo::core {

class PredictionLog {
public:
    // Creates `dir` if needed. Throws Error when it cannot.
    PredictionLog(fs::path dir, std::string prefix, uint64_t max_bytes);
    ~PredictionLog();
    PredictionLog(const PredictionLog&) = delete;
    PredictionLog& operator=(const PredictionLog&) = delete;

    // Queues one record (a JSON object on one line, without the newline). Blocks only when
    // more than 64 MiB wait to be written (the disk is slower than the requests).
    void add(std::string record);
    // Writes everything queued, fsyncs and stops the writer. Idempotent.
    void close();

    uint64_t records_written() const;
    uint64_t write_errors() const;
    const fs::path& dir() const { return dir_; }

private:
    void run();
    void open_next();
    void write_out(const std::string& batch);

    fs::path dir_;
    std::string prefix_;
    uint64_t max_bytes_;
    mutable std::mutex mu_;
    std::condition_variable cv_, space_;
    std::string pending_;
    uint64_t pending_records_ = 0;
    bool closing_ = false, closed_ = false;
    uint64_t written_ = 0, errors_ = 0;
    int fd_ = -1;
    uint64_t file_bytes_ = 0;
    uint64_t sent_bytes_ = 0;  // bytes of the current file whose write to disk has been started
    int seq_ = 0;
    std::thread thread_;
};

}  // namespace mlo::core
