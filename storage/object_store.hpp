#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/fs.hpp"
#include "storage/hash.hpp"

namespace mlo {

enum class Reflink { no, try_first };

// Content-addressed objects under `dir`: objects/ab/cdef… named by the SHA-256 of their bytes.
// Objects are read-only (mode 0444) and appear under their final name only once complete (a
// link of an unnamed O_TMPFILE, or a rename of a temporary file), so a crash or kill leaves at
// most a temporary file behind, never a wrong object.
class ObjectStore {
public:
    explicit ObjectStore(fs::path dir);
    ~ObjectStore();
    ObjectStore(const ObjectStore&) = delete;
    ObjectStore& operator=(const ObjectStore&) = delete;

    const fs::path& dir() const { return dir_; }
    fs::path path_of(const Digest& d) const;
    bool contains(const Digest& d) const;

    struct Put {
        Digest digest{};
        uint64_t size = 0;
        bool created = false;  // false: the object was already there
    };

    Put put_bytes(std::string_view data);
    // Stores the content of `src`: `size_hint` bytes (what the caller's stat saw) for small
    // files, everything up to its end for large ones. The digest is computed
    // from the bytes that went into the store, never from a second read of the source, so an
    // object's name matches its content even if the source changes meanwhile.
    Put put_fd(int src, uint64_t size_hint, const std::string& src_name, Reflink reflink);

    std::string read(const Digest& d) const;
    // Opens an object for reading relative to its shard directory (no walk of the whole path);
    // an invalid Fd, with errno set, if it cannot.
    Fd open_object(const Digest& d) const;

    // An object arriving from elsewhere (a remote): its bytes go to a temporary file in the
    // store as they come, hashed on the way, and appear under their name only when they hash to
    // `expected`. A mismatch stores nothing, so a corrupted download never enters the store.
    class Incoming {
    public:
        Incoming(ObjectStore& store, const Digest& expected);
        ~Incoming();
        Incoming(const Incoming&) = delete;
        Incoming& operator=(const Incoming&) = delete;
        void write(const char* data, size_t size);
        // Starts over (a retried download): drops what was written.
        void restart();
        uint64_t size() const { return size_; }
        // true: stored (or it was there already); false: the bytes did not match, nothing stored.
        bool commit();

    private:
        ObjectStore& store_;
        Digest expected_;
        fs::path temp_;
        int fd_ = -1;
        uint64_t size_ = 0;
        std::unique_ptr<Sha256> sha_;
    };

    struct Listed {
        std::string name;  // "ab/cdef…"
        fs::path path;
        std::optional<Digest> digest;  // nullopt: not an object name (temporary or stray file)
        bool temporary = false;
    };
    void list(const std::function<void(const Listed&)>& fn) const;
    // The objects whose digest starts with byte `first`, sorted: one directory read.
    std::vector<Digest> list_shard(uint8_t first) const;

    // Flushes everything written so far to disk: one syncfs per batch, not one fsync per object.
    void sync() const;

private:
    fs::path dir_;
    mutable std::array<std::atomic<bool>, 256> shard_made_{};
    // Open shard directories (O_PATH), so writing an object walks no path from the root.
    mutable std::array<std::atomic<int>, 256> shard_fd_;
    int shard_fd(uint8_t first) const;
    fs::path shard_dir(uint8_t first) const;
    void ensure_shard(uint8_t first) const;
    Put put_large(int src, const std::string& src_name, Reflink reflink);
    // Renames a finished temporary to the object's name; false if the object already existed.
    bool publish(const fs::path& temp, const Digest& d) const;
    Put write_object(std::string_view data, const Digest& d);
};

}  // namespace mlo
