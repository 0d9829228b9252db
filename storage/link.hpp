#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "storage/fs.hpp"

namespace mlo {

// How a workspace file is made from an object.
//   reflink:  a copy-on-write clone (btrfs, XFS): instant, no extra space, safely writable.
//   hardlink: the object's own inode, so read-only (mode 0444): an edit would corrupt the store.
//             Not used for executable files, whose mode the shared inode cannot carry.
//   copy:     an independent copy (copy_file_range, so still in the kernel).
enum class LinkKind { reflink, hardlink, copy };

std::string_view link_name(LinkKind k);
// Parses "reflink,copy" (an ordered fallback list); throws Error naming the bad value.
std::vector<LinkKind> parse_link_order(std::string_view text);

// Places objects into the workspace using the first strategy in `order` that works here. A
// strategy that fails because the file system cannot do it is not tried again for this Linker.
class Linker {
public:
    explicit Linker(std::vector<LinkKind> order);
    // What the caller already knows, to save system calls per file.
    struct Hint {
        static constexpr uint64_t kUnknownSize = ~uint64_t(0);
        uint64_t size = kUnknownSize;  // the object's size
        bool dest_absent = false;      // nothing was at `dest` when the caller looked
    };
    // Atomically replaces `dest` (temporary file in the same directory, then rename); a copy
    // to an absent `dest` is written unnamed and linked into place once complete.
    LinkKind place(const fs::path& object, const fs::path& dest, bool executable, Hint hint) const;
    LinkKind place(const fs::path& object, const fs::path& dest, bool executable) const {
        return place(object, dest, executable, Hint{});
    }

    // The common case of a checkout into an empty place, with what the caller holds open: the
    // object (`object_fd`) and the directory the file goes to (`dir_fd`, O_PATH is enough), so
    // that no path is walked. Returns false, having done nothing, when only place() can do it
    // (something is there after all, or no strategy works this way here). `placed` receives the
    // new file's stat.
    bool place_new(const fs::path& object, int object_fd, int dir_fd, const char* name,
                   const fs::path& dest, bool executable, uint64_t size, LinkKind* used,
                   FileStat* placed) const;

private:
    std::vector<LinkKind> order_;
    mutable std::atomic<bool> reflink_broken_{false};
    mutable std::atomic<bool> hardlink_broken_{false};
};

}  // namespace mlo
