#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/hash.hpp"

namespace mlo {

struct ManifestEntry {
    std::string path;  // relative to the directory, '/'-separated
    Digest digest{};
    uint64_t size = 0;
    bool executable = false;
};

// A directory as an object: its files sorted by relative path (bytewise), each with hash, size
// and executable bit. The directory's id is the SHA-256 of serialize(). Text format:
//   mlo-manifest 1
//   <64 hex> <size> <x|-> <path>
// with '\\', '\n' and '\r' in paths escaped as \\ \n \r.
// A relative path that stays below its directory: no leading '/', no empty, '.' or '..' parts.
bool is_safe_relative_path(std::string_view path);

class Manifest {
public:
    Manifest() = default;
    // Sorts the entries; throws Error on a duplicate path.
    explicit Manifest(std::vector<ManifestEntry> entries);

    const std::vector<ManifestEntry>& entries() const { return entries_; }
    uint64_t total_size() const;
    const ManifestEntry* find(std::string_view path) const;

    std::string serialize() const;
    // `name` is used in error messages ("manifest 'abc…' line 3: …").
    static Manifest parse(std::string_view text, const std::string& name);

private:
    std::vector<ManifestEntry> entries_;
};

}  // namespace mlo
