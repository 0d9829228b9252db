#include "core/hashing.hpp"

#include <sys/stat.h>

#include "storage/error.hpp"

namespace mlo::core {

Digest workspace_digest(Repository& repo, const std::string& rel, const fs::path& abs,
                        const FileStat& st, int64_t started_ns) {
    StatCache& cache = repo.stat_cache();
    if (auto d = cache.lookup(rel, st)) return *d;
    Fd fd = open_read(abs);
    struct stat before {};
    if (::fstat(fd.get(), &before) != 0) throw_errno("cannot stat " + quote(abs));
    uint64_t size = 0;
    Digest d = sha256_fd(fd.get(), &size, "cannot read " + quote(abs));
    struct stat after {};
    FileStat fs_before = to_file_stat(before);
    // Only a file that did not change while we read it may be remembered.
    if (::fstat(fd.get(), &after) == 0 && size == fs_before.size) {
        FileStat fs_after = to_file_stat(after);
        if (fs_after.mtime_ns == fs_before.mtime_ns && fs_after.size == fs_before.size)
            cache.record(rel, fs_before, d, started_ns);
    }
    return d;
}

bool stat_path(const fs::path& p, FileStat& out, bool* is_dir) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return false;
        throw_errno("cannot stat " + quote(p));
    }
    out = to_file_stat(st);
    if (is_dir) *is_dir = S_ISDIR(st.st_mode);
    return true;
}

}  // namespace mlo::core
