#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/error.hpp"
#include "storage/fs.hpp"
#include "storage/hash.hpp"

namespace mlo {

// Where a remote is and how to reach it, as `.mlo/config.yaml` names it. `url` is a directory
// (absolute, or relative to the repository root, or file://…) or s3://bucket[/prefix].
struct RemoteSpec {
    std::string name;
    std::string url;
    // S3 only. Empty means the AWS default (endpoint from the region; region from
    // AWS_REGION / AWS_DEFAULT_REGION / the profile, else us-east-1; profile from AWS_PROFILE,
    // else "default").
    std::string endpoint;
    std::string region;
    std::string profile;
    bool path_style = false;  // https://endpoint/bucket/key instead of https://bucket.endpoint/key
};

// A key that is not on the remote (404 / ENOENT).
class RemoteNotFound : public Error {
public:
    using Error::Error;
};

// A place objects and records are shared through: a directory or an S3 bucket prefix. Keys
// are relative, '/'-separated: "objects/ab/cdef…" (the store's layout) and "meta/…" (run
// and registry records). Every method may be called from many threads at once. Transient
// failures (timeouts, dropped connections, 5xx, SlowDown) are retried inside with exponential
// backoff and jitter; what is thrown is final.
class Remote {
public:
    virtual ~Remote() = default;

    // "s3://bucket/prefix" or the directory, for messages.
    virtual std::string describe() const = 0;
    // Threads worth running transfers on when the user gives no -j.
    virtual unsigned default_jobs() const = 0;
    // The number of threads the caller runs transfers on (its -j). A remote that splits one
    // object over several connections (S3's multipart upload) sends up to as many parts at
    // once, shared among the large objects in flight.
    virtual void set_jobs(unsigned jobs) { (void)jobs; }

    // Calls fn for every key that starts with `prefix` (the key without the remote's own
    // prefix), with its size. Order is unspecified. A missing bucket or directory is an Error;
    // an empty prefix lists nothing.
    virtual void list(const std::string& prefix,
                      const std::function<void(std::string_view key, uint64_t size)>& fn) = 0;

    // Uploads the file `src` (whose SHA-256 is `sha256`, sent as the upload's checksum so the
    // server can reject a corrupted body) to `key`. The key appears only complete. Large files
    // go up in parts, in parallel, resuming an interrupted upload of the same key when the
    // server still holds its parts.
    virtual void put_file(const std::string& key, const fs::path& src, const Digest& sha256) = 0;
    virtual void put_bytes(const std::string& key, std::string_view data) = 0;

    // Writes the key's bytes to `sink` as they arrive (sink may be called many times; a retry
    // after a partial body calls `restart` first so the caller can truncate). Throws
    // RemoteNotFound when the key is missing.
    virtual void get(const std::string& key, const std::function<void(const char*, size_t)>& sink,
                     const std::function<void()>& restart) = 0;
    std::string get_bytes(const std::string& key);

    // Deletes the keys (missing ones are not an error).
    virtual void remove(const std::vector<std::string>& keys) = 0;
};

// Opens the remote `spec` names; relative directory paths are taken from `root`.
std::unique_ptr<Remote> open_remote(const RemoteSpec& spec, const fs::path& root);

// S3 (storage/s3.cpp). Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, else the profile in ~/.aws/credentials and ~/.aws/config
// (AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move those files).
std::unique_ptr<Remote> open_s3_remote(const RemoteSpec& spec);

// A directory (storage/remote.cpp).
std::unique_ptr<Remote> open_dir_remote(const fs::path& dir);

}  // namespace mlo
