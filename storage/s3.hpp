#pragma once

// The S3 remote's pieces (storage/s3.cpp), declared here so that unit tests reach them: the
// SigV4 signer, credential and region resolution, URL building, the XML reader and the
// multipart steps. The rest of mlo only needs open_s3_remote (storage/remote.hpp).

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/remote.hpp"

namespace mlo::s3 {

// ---- credentials and region --------------------------------------------------------------

struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // temporary credentials only; sent as x-amz-security-token
};

// What an S3 remote resolves once, when it is opened. Never written anywhere.
struct AwsConfig {
    Credentials credentials;
    std::string region;
    // Where the credentials came from, for messages: "environment" or "profile 'NAME'".
    std::string source;
};

// An AWS shared config or credentials file: section → key → value. Keys are lower-cased;
// nested settings ("s3 =" followed by indented lines) become "s3.addressing_style".
using IniSections = std::map<std::string, std::map<std::string, std::string>>;
IniSections parse_aws_ini(std::string_view text);

// spec.profile, else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
// profile AWS_PROFILE (or "default") in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
// AWS_CONFIG_FILE (~/.aws/config). Region: spec.region, AWS_REGION, AWS_DEFAULT_REGION, the
// profile's `region`, us-east-1. Throws Error naming the profile and files when nothing is found.
AwsConfig resolve_aws_config(const RemoteSpec& spec);

// ---- where requests go ---------------------------------------------------------------------

struct Location {
    std::string bucket;
    std::string prefix;  // "" or ends with '/'
    std::string scheme;  // "https" or "http"
    std::string host;    // the Host header: "bucket.s3.eu-west-1.amazonaws.com", "127.0.0.1:5055"
    std::string base_path;  // path before the key: "" (virtual-hosted) or "/bucket" (path-style)
    bool path_style = false;
};

// Parses spec.url (s3://bucket[/prefix]) and picks the endpoint: spec.endpoint, else
// https://s3.<region>.amazonaws.com. Path-style when asked, when the endpoint is an IP address
// or localhost, or when the bucket name cannot be a host name. Throws Error naming the remote.
Location resolve_location(const RemoteSpec& spec, const std::string& region);

// S3's URI encoding: everything but A-Z a-z 0-9 - . _ ~ becomes %XX (UTF-8 bytes); '/' is
// kept unless `encode_slash`.
std::string uri_encode(std::string_view s, bool encode_slash);
// The canonical (and sent) path of a full key: base_path + "/" + uri_encode(key, keep '/').
std::string object_path(const Location& loc, std::string_view full_key);
// The path of bucket-level requests: "/bucket" (path-style) or "/".
std::string bucket_path(const Location& loc);

using Params = std::vector<std::pair<std::string, std::string>>;
// "a=1&b=x%20y": names and values encoded, sorted by name then value.
std::string canonical_query(const Params& query);

// ---- Signature Version 4 -------------------------------------------------------------------

struct Request {
    std::string method;  // GET, PUT, POST, DELETE, HEAD
    std::string path;    // already encoded (object_path / bucket_path)
    Params query;        // not encoded
    Params headers;      // every header sent (and signed) except the ones sign_v4 adds
};

struct SignatureParts {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;  // hex
};

// Adds x-amz-date, x-amz-content-sha256, x-amz-security-token (temporary credentials) and
// authorization to req.headers, signing every header in it. `amz_date` is "20130524T000000Z".
SignatureParts sign_v4(Request& req, const Credentials& creds, const std::string& region,
                       const std::string& amz_date, const std::string& payload_sha256_hex);

std::string hex_of(std::string_view bytes);
std::string base64_of(std::string_view bytes);
std::string md5_of(std::string_view data);  // raw 16 bytes
inline std::string_view bytes_of(const Digest& d) {
    return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// ---- XML -----------------------------------------------------------------------------------

std::string xml_escape(std::string_view s);
// &amp; &lt; &gt; &quot; &apos; and numeric references (&#13; &#x1F;), UTF-8 encoded.
std::string xml_unescape(std::string_view s);

struct ListedObject {
    std::string key;  // full key, unescaped (and URL-decoded when the reply says EncodingType url)
    uint64_t size = 0;
};
struct ListObjectsPage {
    std::vector<ListedObject> objects;
    bool truncated = false;
    std::string next_token;
};
// A ListObjectsV2 reply. Throws Error on a reply that is not one.
ListObjectsPage parse_list_objects(std::string_view xml);

struct ErrorReply {
    std::string code;  // "NoSuchKey"; empty when the body is not an S3 error
    std::string message;
};
ErrorReply parse_error(std::string_view xml);

struct MultipartUpload {
    std::string key;
    std::string upload_id;
    std::string initiated;           // ISO 8601, compares as a string
    std::string checksum_algorithm;  // "SHA256", or empty when the server does not say
};
struct UploadsPage {
    std::vector<MultipartUpload> uploads;
    bool truncated = false;
    std::string next_key_marker;
    std::string next_upload_id_marker;
};
UploadsPage parse_list_uploads(std::string_view xml);

struct UploadedPart {
    int number = 0;
    uint64_t size = 0;
    std::string etag;  // with its quotes, as S3 gives it
};
struct PartsPage {
    std::vector<UploadedPart> parts;
    bool truncated = false;
    std::string next_marker;
};
PartsPage parse_list_parts(std::string_view xml);

struct CompletedPart {
    int number = 0;
    std::string etag;
    std::string checksum_sha256;  // base64; empty to leave out
};
std::string complete_multipart_xml(const std::vector<CompletedPart>& parts);
std::string delete_objects_xml(const std::vector<std::string>& full_keys);
// Keys a quiet DeleteObjects reply says were not deleted, with S3's code.
std::vector<std::pair<std::string, ErrorReply>> parse_delete_errors(std::string_view xml);

// ---- tuning --------------------------------------------------------------------------------

struct Tuning {
    // Files of at least this many bytes go up as multipart uploads (MLO_S3_MULTIPART_THRESHOLD).
    uint64_t multipart_threshold = uint64_t(64) << 20;
    // Wanted part size (MLO_S3_PART_SIZE); S3 refuses parts below 5 MiB except the last.
    uint64_t part_size = uint64_t(16) << 20;
    // Attempts per request, the first included (MLO_S3_MAX_ATTEMPTS).
    int max_attempts = 8;
};
inline constexpr uint64_t kMinPartSize = uint64_t(5) << 20;
inline constexpr uint64_t kMaxParts = 10000;
// Reads the MLO_S3_* overrides; throws Error on a value that is not a positive number.
Tuning tuning_from_env();
// `wanted` raised to 5 MiB and to what keeps `file_size` within 10,000 parts.
uint64_t choose_part_size(uint64_t file_size, uint64_t wanted);
// The longest sleep before attempt `attempt` + 1 (attempt counts from 1): 100 ms doubling,
// capped at 5 s. The sleep itself is uniform in [0, this] ("full jitter").
uint64_t backoff_cap_ms(int attempt);

// ---- the remote ----------------------------------------------------------------------------

class CurlPool;

class S3Remote final : public Remote {
public:
    explicit S3Remote(const RemoteSpec& spec);
    ~S3Remote() override;

    std::string describe() const override;
    unsigned default_jobs() const override { return 16; }
    void set_jobs(unsigned jobs) override { jobs_ = jobs ? jobs : default_jobs(); }
    void list(const std::string& prefix,
              const std::function<void(std::string_view key, uint64_t size)>& fn) override;
    void put_file(const std::string& key, const fs::path& src, const Digest& sha256) override;
    void put_bytes(const std::string& key, std::string_view data) override;
    void get(const std::string& key, const std::function<void(const char*, size_t)>& sink,
             const std::function<void()>& restart) override;
    void remove(const std::vector<std::string>& keys) override;

    const Location& location() const { return loc_; }
    const Tuning& tuning() const { return tuning_; }

    // The multipart steps, public so that a test can stage an interrupted upload. Keys are
    // relative to the remote's prefix, as everywhere else.
    std::string create_multipart_upload(const std::string& key);
    // Sends `size` bytes of `fd` from `offset` as part `number`; returns its ETag.
    std::string upload_part(const std::string& key, const std::string& upload_id, int number,
                            int fd, uint64_t offset, uint64_t size, const Digest& sha256);
    // Unfinished uploads of exactly `key`, oldest first.
    std::vector<MultipartUpload> list_multipart_uploads(const std::string& key);
    // Parts the server holds; nullopt when the upload no longer exists.
    std::optional<std::vector<UploadedPart>> list_parts(const std::string& key,
                                                        const std::string& upload_id);
    void abort_multipart_upload(const std::string& key, const std::string& upload_id);

    // What this remote did, for tests and -v output.
    struct Counters {
        std::atomic<uint64_t> requests{0};
        std::atomic<uint64_t> retries{0};
        std::atomic<uint64_t> parts_uploaded{0};
        std::atomic<uint64_t> parts_reused{0};
    };
    const Counters& counters() const { return counters_; }

    // PUT Bucket in the resolved region (see s3::create_bucket).
    void create_bucket();

    // One request and its answer (defined in s3.cpp; public for its curl callbacks).
    struct Reply;
    struct Call;

private:
    Reply perform(Call& call);
    [[noreturn]] void fail(const Call& call, const Reply& reply) const;
    std::string full_key(const std::string& key) const;
    std::string describe_key(const std::string& full) const;
    void put_single(const std::string& full, int fd, std::string_view memory, uint64_t size,
                    const Digest& sha256);
    void put_multipart(const std::string& key, int fd, uint64_t size);
    void complete_multipart(const std::string& full, const std::string& upload_id,
                            const std::vector<CompletedPart>& parts, uint64_t size);

    AwsConfig aws_;
    Location loc_;
    Tuning tuning_;
    std::unique_ptr<CurlPool> pool_;
    Counters counters_;
    unsigned jobs_ = 16;
    std::atomic<unsigned> multipart_active_{0};  // put_multipart calls running
};

// Creates the bucket spec.url names (tests, against a local server); an existing bucket of
// ours is not an error.
void create_bucket(const RemoteSpec& spec);

}  // namespace mlo::s3
