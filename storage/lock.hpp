#pragma once

#include <functional>
#include <string>

#include "storage/fs.hpp"

namespace mlo {

// An exclusive lock on a file, held through flock(2). The kernel drops it when the process
// dies, so a crashed or killed mlo never leaves a stale lock behind; the file only records the
// pid of the last holder for the waiting message.
class FileLock {
public:
    explicit FileLock(fs::path file);
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    ~FileLock();

    // Blocks until the lock is ours. `on_wait` is called once, with the holder's pid (0 if
    // unknown), if another process holds it. Throws Interrupted if a signal arrives meanwhile.
    [[nodiscard]] bool acquire(const std::function<void(long holder_pid)>& on_wait = {});
    // Takes the lock only if it is free.
    [[nodiscard]] bool try_acquire();
    void release();
    bool held() const { return held_; }

private:
    fs::path file_;
    Fd fd_;
    bool held_ = false;
    void open_file();
    void write_pid();
};

}  // namespace mlo
