#include "storage/object_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/atomic_file.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"

namespace mlo {

namespace {

// Files up to this size are read into memory, hashed, and written only if the object is new.
constexpr uint64_t kSmallFile = 4 << 20;
constexpr size_t kChunk = 8 << 20;

const char kHex[] = "0123456789abcdef";

// Removes a temporary file unless released.
struct TempGuard {
    fs::path path;
    bool active = true;
    ~TempGuard() {
        if (active) ::unlink(path.c_str());
    }
};

}  // namespace

ObjectStore::ObjectStore(fs::path dir) : dir_(std::move(dir)) {
    for (auto& fd : shard_fd_)
        fd.store(-1, std::memory_order_relaxed);
}

ObjectStore::~ObjectStore() {
    for (auto& fd : shard_fd_) {
        int f = fd.load(std::memory_order_relaxed);
        if (f >= 0) ::close(f);
    }
}

int ObjectStore::shard_fd(uint8_t first) const {
    int fd = shard_fd_[first].load(std::memory_order_acquire);
    if (fd >= 0) return fd;
    ensure_shard(first);
    fs::path shard = shard_dir(first);
    int opened = ::open(shard.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (opened < 0) throw_errno("cannot open directory " + quote(shard));
    int expected = -1;
    if (shard_fd_[first].compare_exchange_strong(expected, opened, std::memory_order_acq_rel))
        return opened;
    ::close(opened);  // another thread opened it first
    return expected;
}

fs::path ObjectStore::shard_dir(uint8_t first) const {
    char name[3] = {kHex[first >> 4], kHex[first & 15], 0};
    return dir_ / name;
}

fs::path ObjectStore::path_of(const Digest& d) const {
    std::string hex = to_hex(d);
    return dir_ / hex.substr(0, 2) / hex.substr(2);
}

bool ObjectStore::contains(const Digest& d) const {
    int dir = shard_fd_[d[0]].load(std::memory_order_acquire);
    if (dir < 0) return ::access(path_of(d).c_str(), F_OK) == 0;
    std::string hex = to_hex(d);
    return ::faccessat(dir, hex.c_str() + 2, F_OK, 0) == 0;
}

void ObjectStore::ensure_shard(uint8_t first) const {
    if (shard_made_[first].load(std::memory_order_relaxed)) return;
    fs::path shard = shard_dir(first);
    if (::mkdir(shard.c_str(), 0777) != 0 && errno != EEXIST) {
        if (errno == ENOENT) {
            make_dirs(shard);
        } else {
            throw_errno("cannot create directory " + quote(shard));
        }
    }
    shard_made_[first] = true;
}

bool ObjectStore::publish(const fs::path& temp, const Digest& d) const {
    ensure_shard(d[0]);
    fs::path final_path = path_of(d);
    // RENAME_NOREPLACE keeps an existing object (and the inode that hardlinked workspace files
    // share) and tells us whether ours was new. Where the file system lacks it, a plain rename
    // over an existing object is harmless: same name, same bytes.
    if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) == 0)
        return true;
    if (errno == EEXIST) {
        ::unlink(temp.c_str());
        return false;
    }
    if (errno != EINVAL && errno != ENOSYS) throw_errno("cannot store object " + quote(final_path));
    if (::rename(temp.c_str(), final_path.c_str()) != 0)
        throw_errno("cannot store object " + quote(final_path));
    return true;
}

ObjectStore::Put ObjectStore::write_object(std::string_view data, const Digest& d) {
    std::string hex = to_hex(d);
    // An unnamed file linked into place changes the shard directory once; a named temporary
    // and a rename change it twice, and that is most of the cost of storing a 4 KiB file.
    {
        const int dir = shard_fd(d[0]);
        const fs::path where = path_of(d);
        int fd = open_unnamed(dir, ".", 0444);
        if (fd >= 0) {
            Fd out(fd);
            write_all(fd, data.data(), data.size(), "cannot write object " + quote(where));
            int rc = link_unnamed(fd, dir, hex.c_str() + 2, "cannot store object " + quote(where));
            if (rc != EOPNOTSUPP) {
                out.close_checked("cannot write object " + quote(where));
                return Put{d, data.size(), rc == 0};
            }
        } else if (errno != EOPNOTSUPP) {
            throw_errno("cannot create object " + quote(where));
        }
    }
    ensure_shard(d[0]);
    TempGuard temp{dir_ / hex.substr(0, 2) /
                   ("." + hex.substr(2, 8) + std::string(kTempMarker) + temp_suffix())};
    int fd = ::open(temp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) throw_errno("cannot create " + quote(temp.path));
    Fd out(fd);
    write_all(fd, data.data(), data.size(), "cannot write " + quote(temp.path));
    out.close_checked("cannot write " + quote(temp.path));
    Put put{d, data.size(), publish(temp.path, d)};
    temp.active = false;
    return put;
}

ObjectStore::Put ObjectStore::put_bytes(std::string_view data) {
    Digest d = sha256(data);
    if (contains(d)) return Put{d, data.size(), false};
    return write_object(data, d);
}

ObjectStore::Put ObjectStore::put_fd(int src, uint64_t size_hint, const std::string& src_name,
                                     Reflink reflink) {
    if (size_hint > kSmallFile) return put_large(src, src_name, reflink);
    // One read of the size the caller saw: a file that changes meanwhile is stored as read, and
    // the object still matches its name. No existence check first: for new content (the common
    // case when hashing is needed at all) it would be one more system call per file.
    thread_local std::string buf;
    buf.resize(size_t(size_hint));
    size_t n = size_hint
                   ? pread_full(src, buf.data(), buf.size(), 0, "cannot read " + quote(src_name))
                   : 0;
    std::string_view data(buf.data(), n);
    return write_object(data, sha256(data));
}

ObjectStore::Put ObjectStore::put_large(int src, const std::string& src_name, Reflink reflink) {
    make_dirs(dir_);
    TempGuard temp{dir_ / (std::string(kTempMarker) + temp_suffix())};
    int out = ::open(temp.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (out < 0) throw_errno("cannot create " + quote(temp.path));
    Fd out_fd(out);
    const std::string write_what = "cannot write object for " + quote(src_name);

    Put put;
    if (reflink == Reflink::try_first && ::ioctl(out, FICLONE, src) == 0) {
        // A clone shares the source's blocks; hash the clone, which nobody else can change.
        put.digest = sha256_fd(out, &put.size, "cannot read " + quote(temp.path));
    } else {
        // Copy in the kernel on this thread while another thread hashes what has landed in the
        // temporary file: the hash is of the stored bytes, and both run at once.
        std::mutex mu;
        std::condition_variable cv;
        uint64_t copied = 0;
        bool finished = false;
        std::exception_ptr hash_error;
        Sha256 h;
        std::thread hasher([&] {
            try {
                std::vector<char> hbuf(1 << 20);
                uint64_t off = 0;
                for (;;) {
                    uint64_t avail;
                    bool fin;
                    {
                        std::unique_lock<std::mutex> lock(mu);
                        cv.wait(lock, [&] { return copied > off || finished; });
                        avail = copied;
                        fin = finished;
                    }
                    while (off < avail) {
                        size_t want = size_t(std::min<uint64_t>(hbuf.size(), avail - off));
                        size_t got = pread_full(out, hbuf.data(), want, off, write_what);
                        if (got != want) throw Error(write_what + ": short read of temporary");
                        h.update(hbuf.data(), got);
                        off += got;
                    }
                    if (fin) return;
                }
            } catch (...) {
                hash_error = std::current_exception();
            }
        });
        auto finish = [&] {
            {
                std::lock_guard<std::mutex> lock(mu);
                finished = true;
            }
            cv.notify_one();
            hasher.join();
        };
        try {
            loff_t in_off = 0, out_off = 0;
            bool kernel_copy = true;
            std::vector<char> cbuf;
            for (;;) {
                check_interrupted();
                ssize_t n;
                if (kernel_copy) {
                    n = ::copy_file_range(src, &in_off, out, &out_off, kChunk, 0);
                    if (n < 0 && out_off == 0 &&
                        (errno == ENOSYS || errno == EXDEV || errno == EINVAL ||
                         errno == EOPNOTSUPP)) {
                        kernel_copy = false;
                        cbuf.resize(kChunk);
                        continue;
                    }
                    if (n < 0 && errno == EINTR) continue;
                    if (n < 0) throw_errno(write_what);
                } else {
                    size_t got = pread_full(src, cbuf.data(), cbuf.size(), uint64_t(in_off),
                                            "cannot read " + quote(src_name));
                    write_all(out, cbuf.data(), got, write_what);
                    in_off += loff_t(got);
                    out_off += loff_t(got);
                    n = ssize_t(got);
                }
                if (n == 0) break;
                {
                    std::lock_guard<std::mutex> lock(mu);
                    copied = uint64_t(out_off);
                }
                cv.notify_one();
            }
        } catch (...) {
            finish();
            throw;
        }
        finish();
        if (hash_error) std::rethrow_exception(hash_error);
        put.digest = h.finish();
        put.size = copied;
    }
    out_fd.close_checked(write_what);
    put.created = publish(temp.path, put.digest);
    temp.active = false;
    return put;
}

Fd ObjectStore::open_object(const Digest& d) const {
    int dir = shard_fd_[d[0]].load(std::memory_order_acquire);
    if (dir < 0) {
        dir = ::open(shard_dir(d[0]).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) return Fd();
        int expected = -1;
        if (!shard_fd_[d[0]].compare_exchange_strong(expected, dir, std::memory_order_acq_rel)) {
            ::close(dir);  // another thread opened it first
            dir = expected;
        }
    }
    std::string hex = to_hex(d);
    return Fd(::openat(dir, hex.c_str() + 2, O_RDONLY | O_CLOEXEC));
}

std::string ObjectStore::read(const Digest& d) const {
    std::string out;
    if (!read_file_if_exists(path_of(d), out)) {
        throw Error("object " + quote(to_hex(d)) + " is not in the store");
    }
    return out;
}

ObjectStore::Incoming::Incoming(ObjectStore& store, const Digest& expected)
    : store_(store), expected_(expected), sha_(std::make_unique<Sha256>()) {
    store_.ensure_shard(expected[0]);
    std::string hex = to_hex(expected);
    temp_ = store_.dir_ / hex.substr(0, 2) /
            ("." + hex.substr(2, 8) + std::string(kTempMarker) + temp_suffix());
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd_ < 0) throw_errno("cannot create " + quote(temp_));
}

ObjectStore::Incoming::~Incoming() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
}

void ObjectStore::Incoming::write(const char* data, size_t size) {
    write_all(fd_, data, size, "cannot write " + quote(temp_));
    sha_->update(data, size);
    size_ += size;
}

void ObjectStore::Incoming::restart() {
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0)
        throw_errno("cannot truncate " + quote(temp_));
    sha_ = std::make_unique<Sha256>();
    size_ = 0;
}

bool ObjectStore::Incoming::commit() {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw_errno("cannot write " + quote(temp_));
    if (sha_->finish() != expected_) return false;  // the destructor removes the temporary
    store_.publish(temp_, expected_);
    temp_.clear();
    return true;
}

void ObjectStore::list(const std::function<void(const Listed&)>& fn) const {
    DIR* top = ::opendir(dir_.c_str());
    if (!top) {
        if (errno == ENOENT) return;
        throw_errno("cannot read directory " + quote(dir_));
    }
    std::vector<std::string> shards;
    std::vector<std::string> top_files;
    while (dirent* e = ::readdir(top)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        bool is_dir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st {};
            is_dir = ::lstat((dir_ / name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
        }
        if (is_dir && name.size() == 2 && std::isxdigit(uint8_t(name[0])) &&
            std::isxdigit(uint8_t(name[1])))
            shards.push_back(name);
        else
            top_files.push_back(name);
    }
    ::closedir(top);
    for (const auto& name : top_files) {
        Listed l{name, dir_ / name, std::nullopt, is_temp_name(name)};
        fn(l);
    }
    std::sort(shards.begin(), shards.end());
    for (const auto& shard : shards) {
        fs::path sdir = dir_ / shard;
        DIR* d = ::opendir(sdir.c_str());
        if (!d) throw_errno("cannot read directory " + quote(sdir));
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name != "." && name != "..") names.push_back(std::move(name));
        }
        ::closedir(d);
        std::sort(names.begin(), names.end());
        for (auto& name : names) {
            Listed l;
            l.name = shard + "/" + name;
            l.path = sdir / name;
            l.temporary = is_temp_name(name);
            if (!l.temporary) l.digest = digest_from_hex(shard + name);
            fn(l);
        }
    }
}

std::vector<Digest> ObjectStore::list_shard(uint8_t first) const {
    std::vector<Digest> out;
    const fs::path sdir = shard_dir(first);
    DIR* d = ::opendir(sdir.c_str());
    if (!d) {
        if (errno == ENOENT) return out;
        throw_errno("cannot read directory " + quote(sdir));
    }
    const std::string prefix = sdir.filename().string();
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name.size() != 62 || is_temp_name(name)) continue;
        if (auto digest = digest_from_hex(prefix + std::string(name))) out.push_back(*digest);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

void ObjectStore::sync() const {
    int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    Fd owner(fd);
    if (::syncfs(fd) != 0) throw_errno("cannot sync " + quote(dir_));
}

}  // namespace mlo
