#include "core/prediction_log.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "storage/error.hpp"

namespace mlo::core {

namespace {
constexpr size_t kMaxPending = 64u << 20;
constexpr size_t kFlushBytes = 1u << 20;
// Every this many bytes the writer starts their write to disk itself (as RocksDB's
// bytes_per_sync and PostgreSQL's wal_writer_flush_after do), instead of leaving gigabytes of
// dirty pages for the kernel's flusher threads, which then take CPU in bursts from the threads
// answering requests.
constexpr uint64_t kSendBytes = 4u << 20;
}  // namespace

PredictionLog::PredictionLog(fs::path dir, std::string prefix, uint64_t max_bytes)
    : dir_(std::move(dir)),
      prefix_(std::move(prefix)),
      max_bytes_(std::max<uint64_t>(max_bytes, 1)) {
    make_dirs(dir_);
    open_next();
    thread_ = std::thread([this] { run(); });
}

PredictionLog::~PredictionLog() {
    close();
}

void PredictionLog::add(std::string record) {
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] { return pending_.size() < kMaxPending || closing_; });
    if (closed_) return;  // after close(): nowhere to write (the server has stopped)
    // The writer is woken when the queue stops being empty (it then gathers for a few
    // milliseconds) or grows large, not for every record: a wake-up per request was two
    // context switches per request.
    bool wake = pending_.empty() || pending_.size() >= kFlushBytes;
    pending_ += record;
    pending_ += '\n';
    ++pending_records_;
    if (wake) cv_.notify_one();
}

void PredictionLog::close() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (closing_) {
            if (!thread_.joinable()) return;
        }
        closing_ = true;
    }
    cv_.notify_one();
    space_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    if (fd_ >= 0) {
        ::fsync(fd_);
        ::close(fd_);
        fd_ = -1;
    }
}

uint64_t PredictionLog::records_written() const {
    std::lock_guard<std::mutex> lock(mu_);
    return written_;
}

uint64_t PredictionLog::write_errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
}

void PredictionLog::open_next() {
    if (fd_ >= 0) {
        ::fsync(fd_);
        ::close(fd_);
        fd_ = -1;
    }
    for (;;) {
        char name[64];
        std::snprintf(name, sizeof name, "-%06d.jsonl", ++seq_);
        fs::path p = dir_ / (prefix_ + name);
        fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ >= 0) break;
        if (errno == EEXIST) continue;  // a restarted deployment with the same id: next number
        throw_errno("cannot create prediction log " + quote(p));
    }
    file_bytes_ = 0;
    sent_bytes_ = 0;
}

void PredictionLog::write_out(const std::string& batch) {
    // Whole records only: a file gets the lines that fit under the limit, then the next file
    // starts (a single record larger than the limit gets a file of its own).
    size_t at = 0;
    while (at < batch.size()) {
        size_t room = max_bytes_ > file_bytes_ ? size_t(max_bytes_ - file_bytes_) : 0;
        size_t end = batch.size();
        if (end - at > room) {
            size_t cut = room ? batch.rfind('\n', at + room - 1) : std::string::npos;
            if (cut != std::string::npos && cut >= at)
                end = cut + 1;
            else if (file_bytes_ == 0)
                end = batch.find('\n', at) + 1;
            else
                end = at;
        }
        const char* p = batch.data() + at;
        size_t left = end - at;
        while (left > 0) {
            ssize_t n = ::write(fd_, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                std::lock_guard<std::mutex> lock(mu_);
                ++errors_;
                std::cerr << "mlo: error: cannot write the prediction log in " << quote(dir_)
                          << ": " << std::strerror(errno) << '\n';
                return;
            }
            p += n;
            left -= size_t(n);
        }
        file_bytes_ += end - at;
        if (file_bytes_ - sent_bytes_ >= kSendBytes) {
            // A hint without waiting: its errors, if any, come back from the fsync at rotation.
            ::sync_file_range(fd_, off64_t(sent_bytes_), off64_t(file_bytes_ - sent_bytes_),
                              SYNC_FILE_RANGE_WRITE);
            sent_bytes_ = file_bytes_;
        }
        at = end;
        if (at < batch.size()) open_next();
    }
}

void PredictionLog::run() {
    // The writer (and the disk writes it starts) gives way to the threads answering requests:
    // records wait in memory for a few milliseconds more, a request does not.
    ::setpriority(PRIO_PROCESS, pid_t(::syscall(SYS_gettid)), 10);
    std::string batch;
    for (;;) {
        uint64_t records = 0;
        bool last = false;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return !pending_.empty() || closing_; });
            // Gather what arrives in the next few milliseconds into the same write.
            cv_.wait_for(lock, std::chrono::milliseconds(5),
                         [&] { return closing_ || pending_.size() >= kFlushBytes; });
            batch.swap(pending_);
            pending_.clear();
            records = pending_records_;
            pending_records_ = 0;
            last = closing_ && pending_.empty();
        }
        space_.notify_all();
        if (!batch.empty()) {
            try {
                write_out(batch);
            } catch (const std::exception& e) {
                std::lock_guard<std::mutex> lock(mu_);
                ++errors_;
                std::cerr << "mlo: error: " << e.what() << '\n';
            }
            std::lock_guard<std::mutex> lock(mu_);
            written_ += records;
        }
        batch.clear();
        if (last) {
            std::lock_guard<std::mutex> lock(mu_);
            if (pending_.empty()) return;
        }
    }
}

}  // namespace mlo::core
