#include "storage/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "storage/error.hpp"

namespace mlo {

AtomicFile::AtomicFile(fs::path target, mode_t mode) : target_(std::move(target)) {
    temp_ = target_.parent_path() /
            ("." + target_.filename().string() + std::string(kTempMarker) + temp_suffix());
    int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) throw_errno("cannot create " + quote(temp_));
    fd_ = Fd(fd);
}

AtomicFile::~AtomicFile() {
    if (!done_) {
        fd_ = Fd();
        ::unlink(temp_.c_str());
    }
}

void AtomicFile::write(std::string_view data) {
    write_all(fd_.get(), data.data(), data.size(), "cannot write " + quote(temp_));
}

void AtomicFile::commit(Sync sync) {
    if (sync == Sync::yes && ::fsync(fd_.get()) != 0) throw_errno("cannot sync " + quote(temp_));
    fd_.close_checked("cannot write " + quote(temp_));
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
        throw_errno("cannot rename " + quote(temp_) + " to " + quote(target_));
    }
    done_ = true;
    if (sync == Sync::yes) {
        // The rename is durable only once the directory is.
        int dfd = ::open(target_.parent_path().empty() ? "." : target_.parent_path().c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            ::fsync(dfd);
            ::close(dfd);
        }
    }
}

void write_file_atomic(const fs::path& target, std::string_view data, Sync sync, mode_t mode) {
    AtomicFile f(target, mode);
    f.write(data);
    f.commit(sync);
}

}  // namespace mlo
