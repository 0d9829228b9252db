#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mlo {

namespace fs = std::filesystem;

// Owns a file descriptor; closes it on destruction. close() reports errors for writers.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }
    // Closes and throws Error naming `what` if close fails (it can report a failed write).
    void close_checked(const std::string& what);

private:
    int fd_ = -1;
};

// What the stat cache compares: a file is unchanged when all of these are.
struct FileStat {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    uint64_t inode = 0;
    bool executable = false;
};

FileStat to_file_stat(const struct stat& st);

// Opens for reading; throws Error "cannot open 'path': <why>".
Fd open_read(const fs::path& p);
Fd open_dir(const fs::path& p);

std::string read_file(const fs::path& p);

// A whole file mapped read-only and populated up front (faulting pages in one at a time while
// parsing costs more than reading). A file that is not a regular file (a pipe, /dev/stdin) is
// read into memory instead. Throws Error "cannot open/read 'path': <why>".
class MappedFile {
public:
    explicit MappedFile(const fs::path& file);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    std::string_view text() const { return data_ ? std::string_view(data_, size_) : read_; }

private:
    const char* data_ = nullptr;
    size_t size_ = 0;
    std::string read_;  // when not mapped
};
// Reads the whole file if it exists; returns false if it does not.
bool read_file_if_exists(const fs::path& p, std::string& out);

// Writes all bytes, retrying short writes and EINTR; throws Error naming `what`.
void write_all(int fd, const void* data, size_t size, const std::string& what);
// Reads up to `size` bytes at `offset` (short only at end of file).
size_t pread_full(int fd, void* data, size_t size, uint64_t offset, const std::string& what);

// Copies `size` bytes from the start of `in` into `out` in the kernel (copy_file_range),
// falling back to read/write where that is not supported.
void copy_fd(int in, int out, uint64_t size, const std::string& what);

// mkdir -p that tolerates concurrent creators.
void make_dirs(const fs::path& p);

// Wall clock in nanoseconds, comparable with file timestamps.
int64_t now_ns();
// A wall-clock time (ns since the epoch) as "2026-11-27T17:31:10Z" (UTC) and as
// "2026-11-27 17:31:10" (local time, for tables people read).
std::string iso_utc(int64_t ns);
std::string local_time(int64_t ns);

// Repository-relative path with '/' separators (the form stored in manifests and the database).
std::string generic(const fs::path& p);

// Unique suffix for temporary files of this process: "<pid>-<counter>".
std::string temp_suffix();
// Every temporary file mlo creates has this in its name, so walks can skip leftovers.
inline constexpr std::string_view kTempMarker = ".mlo-tmp-";

// Unnamed files (O_TMPFILE) that get their name only when complete: one directory change
// instead of a temporary name plus a rename, and nothing left behind by a crash. Returns the
// open file, or -1 with errno set (EOPNOTSUPP and friends where the file system cannot; then
// use a named temporary). `dir_fd` may be AT_FDCWD.
int open_unnamed(int dir_fd, const char* dir, mode_t mode);
// Links an unnamed file to `name` in `dir_fd`. Returns 0, EEXIST when the name is taken, or
// EOPNOTSUPP when this process cannot name unnamed files (no CAP_DAC_READ_SEARCH and no /proc);
// throws Error for any other failure.
int link_unnamed(int fd, int dir_fd, const char* name, const std::string& what);
bool is_temp_name(std::string_view name);

}  // namespace mlo
