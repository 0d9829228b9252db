#include "storage/remote.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "storage/interrupt.hpp"
#include "storage/parallel.hpp"

namespace mlo {

std::string Remote::get_bytes(const std::string& key) {
    std::string out;
    get(
        key, [&](const char* p, size_t n) { out.append(p, n); }, [&] { out.clear(); });
    return out;
}

namespace {

// A remote that is a directory: a mounted share, a second disk, another clone's neighbour. Keys
// are paths below it. Files are written the way the store writes objects (an unnamed file
// linked into place, or a temporary renamed), so a key never holds half a file, and are made
// read-only like the store's objects.
class DirRemote : public Remote {
public:
    explicit DirRemote(fs::path dir) : dir_(std::move(dir)) {}

    std::string describe() const override { return dir_.string(); }
    unsigned default_jobs() const override { return mlo::default_jobs(); }

    void list(const std::string& prefix,
              const std::function<void(std::string_view, uint64_t)>& fn) override {
        check_root();
        // Walk the deepest directory the prefix names, then filter by the rest of it.
        std::string::size_type slash = prefix.rfind('/');
        std::string base = slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
        walk(base, prefix, fn);
    }

    void put_file(const std::string& key, const fs::path& src, const Digest&) override {
        Fd in = open_read(src);
        struct stat st {};
        if (::fstat(in.get(), &st) != 0) throw_errno("cannot read " + quote(src));
        write_key(key, [&](int out, const std::string& what) {
            copy_fd(in.get(), out, uint64_t(st.st_size), what);
        });
    }

    void put_bytes(const std::string& key, std::string_view data) override {
        write_key(key, [&](int out, const std::string& what) {
            write_all(out, data.data(), data.size(), what);
        });
    }

    void get(const std::string& key, const std::function<void(const char*, size_t)>& sink,
             const std::function<void()>&) override {
        fs::path p = dir_ / key;
        int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                throw RemoteNotFound(quote(key) + " is not on remote " + quote(dir_));
            throw_errno("cannot open " + quote(p));
        }
        Fd in(fd);
        std::vector<char> buf(1 << 20);
        for (;;) {
            check_interrupted();
            ssize_t n = ::read(fd, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("cannot read " + quote(p));
            if (n == 0) break;
            sink(buf.data(), size_t(n));
        }
    }

    void remove(const std::vector<std::string>& keys) override {
        for (const auto& k : keys) {
            fs::path p = dir_ / k;
            if (::unlink(p.c_str()) != 0 && errno != ENOENT)
                throw_errno("cannot remove " + quote(p));
        }
    }

private:
    fs::path dir_;

    void check_root() const {
        struct stat st {};
        if (::stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            throw Error("remote directory " + quote(dir_) + " does not exist");
    }

    void walk(const std::string& rel_dir, const std::string& prefix,
              const std::function<void(std::string_view, uint64_t)>& fn) {
        fs::path d = rel_dir.empty() ? dir_ : dir_ / rel_dir;
        DIR* dir = ::opendir(d.c_str());
        if (!dir) {
            if (errno == ENOENT || errno == ENOTDIR) return;
            throw_errno("cannot read directory " + quote(d));
        }
        std::vector<std::string> subdirs;
        int dfd = ::dirfd(dir);
        while (dirent* e = ::readdir(dir)) {
            std::string_view name = e->d_name;
            if (name == "." || name == ".." || is_temp_name(name)) continue;
            std::string key = rel_dir + std::string(name);
            // Only what can match the prefix: a directory whose path is a prefix of it, or
            // which lies below it.
            struct stat st {};
            if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
            if (S_ISDIR(st.st_mode)) {
                std::string sub = key + "/";
                if (sub.compare(0, std::min(sub.size(), prefix.size()), prefix, 0,
                                std::min(sub.size(), prefix.size())) == 0)
                    subdirs.push_back(sub);
            } else if (S_ISREG(st.st_mode) && key.compare(0, prefix.size(), prefix) == 0) {
                fn(key, uint64_t(st.st_size));
            }
        }
        ::closedir(dir);
        for (const auto& s : subdirs)
            walk(s, prefix, fn);
    }

    void write_key(const std::string& key,
                   const std::function<void(int, const std::string&)>& fill) {
        check_root();
        fs::path target = dir_ / key;
        fs::path parent = target.parent_path();
        make_dirs(parent);
        const std::string what = "cannot write " + quote(target);
        int fd = open_unnamed(AT_FDCWD, parent.c_str(), 0444);
        if (fd >= 0) {
            Fd out(fd);
            fill(fd, what);
            Fd dfd = open_dir(parent);
            int rc = link_unnamed(fd, dfd.get(), target.filename().c_str(), what);
            if (rc == 0 || rc == EEXIST) {
                // EEXIST: the same key (same bytes: keys name content) is there already.
                out.close_checked(what);
                return;
            }
        } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
            throw_errno(what);
        }
        fs::path temp =
            parent / ("." + target.filename().string() + std::string(kTempMarker) + temp_suffix());
        int tfd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (tfd < 0) throw_errno("cannot create " + quote(temp));
        Fd out(tfd);
        try {
            fill(tfd, what);
            out.close_checked(what);
            if (::rename(temp.c_str(), target.c_str()) != 0) throw_errno(what);
        } catch (...) {
            ::unlink(temp.c_str());
            throw;
        }
    }
};

}  // namespace

std::unique_ptr<Remote> open_dir_remote(const fs::path& dir) {
    return std::make_unique<DirRemote>(dir);
}

std::unique_ptr<Remote> open_remote(const RemoteSpec& spec, const fs::path& root) {
    if (spec.url.rfind("s3://", 0) == 0) return open_s3_remote(spec);
    std::string path = spec.url.rfind("file://", 0) == 0 ? spec.url.substr(7) : spec.url;
    fs::path dir(path);
    if (dir.is_relative()) dir = root / dir;
    return open_dir_remote(dir.lexically_normal());
}

}  // namespace mlo
