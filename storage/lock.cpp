#include "storage/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "storage/error.hpp"
#include "storage/interrupt.hpp"

namespace mlo {

FileLock::FileLock(fs::path file) : file_(std::move(file)) {}

FileLock::~FileLock() {
    release();
}

void FileLock::open_file() {
    if (fd_.valid()) return;
    make_dirs(file_.parent_path());
    int fd = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) throw_errno("cannot open lock file " + quote(file_));
    fd_ = Fd(fd);
}

void FileLock::write_pid() {
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_.get(), 0) == 0) {
        (void)!::pwrite(fd_.get(), pid.data(), pid.size(), 0);
    }
}

bool FileLock::try_acquire() {
    open_file();
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0) {
        held_ = true;
        write_pid();
        return true;
    }
    if (errno != EWOULDBLOCK) throw_errno("cannot lock " + quote(file_));
    return false;
}

bool FileLock::acquire(const std::function<void(long)>& on_wait) {
    if (try_acquire()) return true;
    if (on_wait) {
        char buf[32] = {};
        long pid = 0;
        if (::pread(fd_.get(), buf, sizeof buf - 1, 0) > 0) pid = std::atol(buf);
        on_wait(pid);
    }
    // Blocking flock returns EINTR on a signal (handlers are installed without SA_RESTART).
    while (::flock(fd_.get(), LOCK_EX) != 0) {
        if (errno != EINTR) throw_errno("cannot lock " + quote(file_));
        check_interrupted();
    }
    held_ = true;
    write_pid();
    return true;
}

void FileLock::release() {
    if (held_) {
        ::flock(fd_.get(), LOCK_UN);
        held_ = false;
    }
    fd_ = Fd();
}

}  // namespace mlo
