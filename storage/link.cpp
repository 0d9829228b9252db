#include "storage/link.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo {

std::string_view link_name(LinkKind k) {
    switch (k) {
        case LinkKind::reflink:
            return "reflink";
        case LinkKind::hardlink:
            return "hardlink";
        case LinkKind::copy:
            return "copy";
    }
    return "?";
}

std::vector<LinkKind> parse_link_order(std::string_view text) {
    std::vector<LinkKind> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        std::string_view item = text.substr(start, comma - start);
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ')
            item.remove_suffix(1);
        if (item == "reflink")
            out.push_back(LinkKind::reflink);
        else if (item == "hardlink")
            out.push_back(LinkKind::hardlink);
        else if (item == "copy")
            out.push_back(LinkKind::copy);
        else
            throw Error("unknown link strategy " + quote(item) +
                        " (expected reflink, hardlink or copy)");
        start = comma + 1;
    }
    return out;
}

Linker::Linker(std::vector<LinkKind> order) : order_(std::move(order)) {}

static bool cannot_on_this_fs(int err) {
    return err == EOPNOTSUPP || err == EXDEV || err == EINVAL || err == ENOTTY || err == EPERM ||
           err == EMLINK || err == ENOSYS;
}

LinkKind Linker::place(const fs::path& object, const fs::path& dest, bool executable,
                       Hint hint) const {
    const mode_t mode = executable ? 0777 : 0666;
    for (LinkKind kind : order_) {
        switch (kind) {
            case LinkKind::reflink: {
                if (reflink_broken_.load(std::memory_order_relaxed)) break;
                Fd src = open_read(object);
                AtomicFile f(dest, mode);
                if (::ioctl(f.fd(), FICLONE, src.get()) != 0) {
                    if (cannot_on_this_fs(errno)) {
                        reflink_broken_ = true;
                        break;  // ~AtomicFile removes the temporary
                    }
                    throw_errno("cannot clone " + quote(object) + " to " + quote(dest));
                }
                f.commit();
                return kind;
            }
            case LinkKind::hardlink: {
                if (executable || hardlink_broken_.load(std::memory_order_relaxed)) break;
                fs::path temp = dest.parent_path() / ("." + dest.filename().string() +
                                                      std::string(kTempMarker) + temp_suffix());
                if (::link(object.c_str(), temp.c_str()) != 0) {
                    if (cannot_on_this_fs(errno)) {
                        hardlink_broken_ = true;
                        break;
                    }
                    throw_errno("cannot link " + quote(object) + " to " + quote(dest));
                }
                if (::rename(temp.c_str(), dest.c_str()) != 0) {
                    int err = errno;
                    ::unlink(temp.c_str());
                    throw_errno("cannot rename " + quote(temp) + " to " + quote(dest), err);
                }
                // When dest already was a link to the object, rename(2) does nothing and the
                // temporary link is still there.
                ::unlink(temp.c_str());
                return kind;
            }
            case LinkKind::copy: {
                Fd src = open_read(object);
                uint64_t size = hint.size;
                if (size == Hint::kUnknownSize) {
                    struct stat st {};
                    if (::fstat(src.get(), &st) != 0) throw_errno("cannot stat " + quote(object));
                    size = uint64_t(st.st_size);
                }
                const std::string what = "cannot write " + quote(dest);
                if (hint.dest_absent) {
                    int fd = open_unnamed(AT_FDCWD, dest.parent_path().c_str(), mode);
                    if (fd >= 0) {
                        Fd out(fd);
                        copy_fd(src.get(), fd, size, what);
                        // EEXIST: something appeared there meanwhile; replace it as below.
                        if (link_unnamed(fd, AT_FDCWD, dest.c_str(), what) == 0) {
                            out.close_checked(what);
                            return kind;
                        }
                    } else if (errno != EOPNOTSUPP) {
                        throw_errno("cannot create " + quote(dest));
                    }
                }
                AtomicFile f(dest, mode);
                copy_fd(src.get(), f.fd(), size, what);
                f.commit();
                return kind;
            }
        }
    }
    // Only reached when the list had no usable strategy (e.g. "hardlink" alone across devices).
    throw Error("cannot place " + quote(dest) +
                ": no configured link strategy works here (add 'copy')");
}

bool Linker::place_new(const fs::path& object, int object_fd, int dir_fd, const char* name,
                       const fs::path& dest, bool executable, uint64_t size, LinkKind* used,
                       FileStat* placed) const {
    const mode_t mode = executable ? 0777 : 0666;
    const std::string what = "cannot write " + quote(dest);
    for (LinkKind kind : order_) {
        if (kind == LinkKind::hardlink) {
            if (executable || hardlink_broken_.load(std::memory_order_relaxed)) continue;
            return false;  // rare enough to take the general way
        }
        if (kind == LinkKind::reflink && reflink_broken_.load(std::memory_order_relaxed)) continue;
        int fd = open_unnamed(dir_fd, ".", mode);
        if (fd < 0) {
            if (errno == EOPNOTSUPP) return false;
            throw_errno("cannot create " + quote(dest));
        }
        Fd out(fd);
        if (kind == LinkKind::reflink) {
            if (::ioctl(fd, FICLONE, object_fd) != 0) {
                if (!cannot_on_this_fs(errno))
                    throw_errno("cannot clone " + quote(object) + " to " + quote(dest));
                reflink_broken_ = true;
                continue;  // the unnamed file just goes
            }
        } else {
            copy_fd(object_fd, fd, size, what);
        }
        int rc = link_unnamed(fd, dir_fd, name, what);
        if (rc == EEXIST || rc == EOPNOTSUPP) return false;
        // After the link: it changes the ctime that the stat cache compares.
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw_errno("cannot stat " + quote(dest));
        out.close_checked(what);
        *placed = to_file_stat(st);
        *used = kind;
        return true;
    }
    return false;
}

}  // namespace mlo
