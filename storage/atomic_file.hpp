#pragma once

#include <sys/types.h>

#include <string_view>

#include "storage/fs.hpp"

namespace mlo {

enum class Sync { no, yes };

// Writes a file through a temporary in the same directory; commit() renames it over the target.
// The destructor removes an uncommitted temporary and never renames it: a half-written file must
// never appear under the final name, and the target is never deleted first.
class AtomicFile {
public:
    // `mode` is passed to open(2), so the umask applies as for any new file.
    explicit AtomicFile(fs::path target, mode_t mode = 0666);
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile();

    void write(std::string_view data);
    int fd() const { return fd_.get(); }
    const fs::path& temp_path() const { return temp_; }
    const fs::path& target() const { return target_; }

    // fsync (if asked), checked close, rename into place.
    void commit(Sync sync = Sync::no);

private:
    fs::path target_;
    fs::path temp_;
    Fd fd_;
    bool done_ = false;
};

// The common case: the whole content at once.
void write_file_atomic(const fs::path& target, std::string_view data, Sync sync = Sync::no,
                       mode_t mode = 0666);

}  // namespace mlo
