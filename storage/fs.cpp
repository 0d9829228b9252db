#include "storage/fs.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include "storage/error.hpp"
#include "storage/interrupt.hpp"

namespace mlo {

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.release();
    }
    return *this;
}

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

void Fd::close_checked(const std::string& what) {
    int f = release();
    if (f >= 0 && ::close(f) != 0 && errno != EINTR) throw_errno(what);
}

FileStat to_file_stat(const struct stat& st) {
    FileStat s;
    s.size = static_cast<uint64_t>(st.st_size);
    s.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    s.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    s.inode = static_cast<uint64_t>(st.st_ino);
    s.executable = (st.st_mode & S_IXUSR) != 0;
    return s;
}

Fd open_read(const fs::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open " + quote(p));
    return Fd(fd);
}

Fd open_dir(const fs::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open directory " + quote(p));
    return Fd(fd);
}

static std::string read_fd(int fd, const fs::path& p) {
    // Reads straight into the string, sized from fstat (a file that grows meanwhile, or a
    // pipe, grows it further).
    std::string out;
    struct stat st {};
    size_t used = 0;
    out.resize(::fstat(fd, &st) == 0 && st.st_size > 0 ? size_t(st.st_size) + 1 : 65536);
    for (;;) {
        if (used == out.size()) out.resize(out.size() * 2);
        ssize_t n = ::read(fd, out.data() + used, out.size() - used);
        if (n < 0) {
            if (errno == EINTR) {
                check_interrupted();
                continue;
            }
            throw_errno("cannot read " + quote(p));
        }
        if (n == 0) break;
        used += size_t(n);
    }
    out.resize(used);
    return out;
}

std::string read_file(const fs::path& p) {
    Fd fd = open_read(p);
    return read_fd(fd.get(), p);
}

MappedFile::MappedFile(const fs::path& file) {
    Fd fd = open_read(file);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + quote(file));
    if (!S_ISREG(st.st_mode)) {
        read_ = read_fd(fd.get(), file);
        return;
    }
    size_ = size_t(st.st_size);
    if (size_ == 0) return;
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.get(), 0);
    if (p == MAP_FAILED) throw_errno("cannot map " + quote(file));
    data_ = static_cast<const char*>(p);
    ::madvise(p, size_, MADV_WILLNEED);
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
}

bool read_file_if_exists(const fs::path& p, std::string& out) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return false;
        throw_errno("cannot open " + quote(p));
    }
    Fd owner(fd);
    out = read_fd(fd, p);
    return true;
}

void write_all(int fd, const void* data, size_t size, const std::string& what) {
    auto p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) {
                check_interrupted();
                continue;
            }
            throw_errno(what);
        }
        p += n;
        size -= size_t(n);
    }
}

size_t pread_full(int fd, void* data, size_t size, uint64_t offset, const std::string& what) {
    auto p = static_cast<char*>(data);
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::pread(fd, p + done, size - done, off_t(offset + done));
        if (n < 0) {
            if (errno == EINTR) {
                check_interrupted();
                continue;
            }
            throw_errno(what);
        }
        if (n == 0) break;
        done += size_t(n);
    }
    return done;
}

void copy_fd(int in, int out, uint64_t size, const std::string& what) {
    static std::atomic<bool> cfr_unsupported{false};
    uint64_t done = 0;
    if (!cfr_unsupported.load(std::memory_order_relaxed)) {
        loff_t in_off = 0, out_off = 0;
        while (done < size) {
            ssize_t n = ::copy_file_range(in, &in_off, out, &out_off, size - done, 0);
            if (n < 0) {
                if (errno == EINTR) {
                    check_interrupted();
                    continue;
                }
                if (done == 0 &&
                    (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) {
                    cfr_unsupported = true;
                    break;
                }
                throw_errno(what);
            }
            if (n == 0) break;  // the source shrank; the caller checks the size
            done += uint64_t(n);
        }
        if (!cfr_unsupported.load()) return;
    }
    std::vector<char> buf(1 << 20);
    while (done < size) {
        size_t want = size_t(std::min<uint64_t>(buf.size(), size - done));
        size_t n = pread_full(in, buf.data(), want, done, what);
        if (n == 0) break;
        write_all(out, buf.data(), n, what);
        done += n;
    }
}

void make_dirs(const fs::path& p) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec && !fs::is_directory(p)) {
        throw Error("cannot create directory " + quote(p) + ": " + ec.message());
    }
}

int64_t now_ns() {
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string iso_utc(int64_t ns) {
    std::time_t t = std::time_t(ns / 1000000000);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string local_time(int64_t ns) {
    std::time_t t = std::time_t(ns / 1000000000);
    struct tm tm {};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string generic(const fs::path& p) {
    return p.generic_string();
}

std::string temp_suffix() {
    static std::atomic<uint64_t> counter{0};
    static const std::string pid = std::to_string(::getpid());
    return pid + "-" + std::to_string(counter.fetch_add(1));
}

bool is_temp_name(std::string_view name) {
    return name.find(kTempMarker) != std::string_view::npos;
}

namespace {
// linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH before Linux 6.10; /proc/self/fd works
// without it. The first failure picks the next way for the rest of the process.
enum class LinkWay { empty_path, proc_fd, none };
std::atomic<LinkWay> g_link_way{LinkWay::empty_path};
}  // namespace

int open_unnamed(int dir_fd, const char* dir, mode_t mode) {
    if (g_link_way.load(std::memory_order_relaxed) == LinkWay::none) {
        errno = EOPNOTSUPP;
        return -1;
    }
    int fd = ::openat(dir_fd, dir, O_WRONLY | O_TMPFILE | O_CLOEXEC, mode);
    if (fd < 0 && (errno == EISDIR || errno == EINVAL)) errno = EOPNOTSUPP;  // no O_TMPFILE
    return fd;
}

int link_unnamed(int fd, int dir_fd, const char* name, const std::string& what) {
    for (;;) {
        LinkWay way = g_link_way.load(std::memory_order_relaxed);
        int rc;
        if (way == LinkWay::empty_path) {
            rc = ::linkat(fd, "", dir_fd, name, AT_EMPTY_PATH);
        } else if (way == LinkWay::proc_fd) {
            char proc[32];
            std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
            rc = ::linkat(AT_FDCWD, proc, dir_fd, name, AT_SYMLINK_FOLLOW);
        } else {
            return EOPNOTSUPP;
        }
        if (rc == 0) return 0;
        if (errno == EEXIST) return EEXIST;
        if (way == LinkWay::empty_path && (errno == EPERM || errno == ENOENT)) {
            g_link_way = LinkWay::proc_fd;
        } else if (way == LinkWay::proc_fd && (errno == ENOENT || errno == EACCES)) {
            g_link_way = LinkWay::none;
        } else {
            throw_errno(what);
        }
    }
}

}  // namespace mlo
