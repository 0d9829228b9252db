#pragma once

#include <cstdint>
#include <string>

#include "storage/atomic_file.hpp"
#include "storage/fs.hpp"
#include "storage/hash.hpp"

namespace mlo::core {

inline constexpr std::string_view kPointerSuffix = ".mlo";

// A pointer file (data/train.csv.mlo, committed to git) names the content of data/train.csv:
//
//   path: train.csv          # the tracked file or directory, next to the pointer file
//   hash: sha256:<64 hex>    # the object (for a directory: its manifest)
//   size: 1234               # bytes (for a directory: of all its files)
//   kind: dir                # only for directories
//   files: 3                 # only for directories: how many files
struct Pointer {
    fs::path file;    // absolute path of the pointer file
    std::string rel;  // repository-relative path of the tracked data
    Digest digest{};
    uint64_t size = 0;
    bool is_dir = false;
    uint64_t files = 0;

    fs::path data_path() const;
    std::string name() const;  // the `path` field
};

// data -> data.mlo
fs::path pointer_file_for(const fs::path& data);
bool is_pointer_name(std::string_view filename);

// Reads and validates a pointer file. `rel` is the repository-relative path of the data it
// tracks. Errors name the file (as `display`) and the line.
Pointer read_pointer(const fs::path& file, const std::string& rel, const fs::path& display);
std::string pointer_text(const Pointer& p);
void write_pointer(const Pointer& p, Sync sync);

}  // namespace mlo::core
