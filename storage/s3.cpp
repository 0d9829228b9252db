// S3 remote: AWS Signature Version 4 over libcurl.
//
// Every request goes through S3Remote::perform, which signs it afresh for each attempt and
// retries transport failures, 5xx and S3's throttling codes with capped exponential backoff and
// full jitter. Bodies stream from disk (read callback, pread at an offset) and downloads stream
// into the caller's sink, so no object is ever held in memory whole.
//
// What moto (the test server) checks and what it does not, as of moto 5.2: it enforces S3's
// 5 MiB minimum part size at CompleteMultipartUpload (unless started with
// S3_UPLOAD_PART_MIN_SIZE), accepts and records x-amz-checksum-sha256 and
// x-amz-checksum-algorithm, but never verifies a checksum or x-amz-content-sha256 against the
// body, and verifies signatures only when its IAM emulation is on (INITIAL_NO_AUTH_ACTION_COUNT).
#include "storage/s3.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "storage/interrupt.hpp"
#include "storage/parallel.hpp"

namespace mlo::s3 {
namespace {

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr size_t kKeysPerDelete = 1000;

std::string s3_getenv(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

std::string s3_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

std::string_view s3_trim(std::string_view s) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && blank(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && blank(s.back()))
        s.remove_suffix(1);
    return s;
}

bool s3_starts_with(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
}

std::optional<uint64_t> s3_parse_u64(std::string_view s) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

}  // namespace

// ---- credentials and region ----------------------------------------------------------------

IniSections parse_aws_ini(std::string_view text) {
    IniSections out;
    std::string section, parent;
    bool have_section = false;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        std::string_view line = s3_trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line.front() == '[') {
            size_t close = line.find(']');
            if (close == std::string_view::npos) continue;
            // "[profile  dev]" and "[ profile dev ]" name the same profile.
            std::string_view name = s3_trim(line.substr(1, close - 1));
            std::string norm;
            for (size_t i = 0; i < name.size(); ++i) {
                bool space = name[i] == ' ' || name[i] == '\t';
                if (space && (norm.empty() || norm.back() == ' ')) continue;
                norm += space ? ' ' : name[i];
            }
            section = norm;
            out[section];
            have_section = true;
            parent.clear();
            continue;
        }
        if (!have_section) continue;
        size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        std::string key = s3_lower(s3_trim(line.substr(0, eq)));
        std::string value(s3_trim(line.substr(eq + 1)));
        bool indented = raw[0] == ' ' || raw[0] == '\t';
        if (indented && !parent.empty()) {
            out[section][parent + "." + key] = value;
            continue;
        }
        parent = value.empty() ? key : std::string();
        out[section][key] = value;
    }
    return out;
}

namespace {

using IniSection = std::map<std::string, std::string>;

const IniSection* s3_find_section(const IniSections& ini, const std::string& name) {
    auto it = ini.find(name);
    return it == ini.end() ? nullptr : &it->second;
}

std::string s3_ini_value(const IniSection* sec, const std::string& key) {
    if (!sec) return {};
    auto it = sec->find(key);
    return it == sec->end() ? std::string() : it->second;
}

IniSections s3_read_ini(const fs::path& p) {
    std::string text;
    if (p.empty() || !read_file_if_exists(p, text)) return {};
    return parse_aws_ini(text);
}

fs::path s3_aws_file(const char* env, const char* name) {
    std::string over = s3_getenv(env);
    if (!over.empty()) return fs::path(over);
    std::string home = s3_getenv("HOME");
    if (home.empty()) return {};
    return fs::path(home) / ".aws" / name;
}

}  // namespace

AwsConfig resolve_aws_config(const RemoteSpec& spec) {
    const std::string who = "remote " + quote(spec.name);
    AwsConfig out;
    std::string profile = spec.profile;
    if (profile.empty()) profile = s3_getenv("AWS_PROFILE");
    if (profile.empty()) profile = "default";

    const fs::path cred_path = s3_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    const fs::path conf_path = s3_aws_file("AWS_CONFIG_FILE", "config");
    const IniSections cred_ini = s3_read_ini(cred_path);
    const IniSections conf_ini = s3_read_ini(conf_path);
    const IniSection* cred_sec = s3_find_section(cred_ini, profile);
    const IniSection* conf_sec = s3_find_section(conf_ini, "profile " + profile);
    if (!conf_sec && profile == "default") conf_sec = s3_find_section(conf_ini, "default");

    const std::string env_key = s3_getenv("AWS_ACCESS_KEY_ID");
    const std::string env_secret = s3_getenv("AWS_SECRET_ACCESS_KEY");
    if (spec.profile.empty() && (!env_key.empty() || !env_secret.empty())) {
        if (env_key.empty() || env_secret.empty()) {
            throw Error(who + ": " +
                        (env_key.empty()
                             ? "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"
                             : "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));
        }
        out.credentials = {env_key, env_secret, s3_getenv("AWS_SESSION_TOKEN")};
        out.source = "environment";
    } else {
        // The credentials file wins over the config file, key by key, as in the AWS CLI.
        auto pick = [&](const std::string& key) {
            std::string v = s3_ini_value(cred_sec, key);
            return v.empty() ? s3_ini_value(conf_sec, key) : v;
        };
        out.credentials = {pick("aws_access_key_id"), pick("aws_secret_access_key"),
                           pick("aws_session_token")};
        out.source = "profile " + quote(profile);
        if (out.credentials.access_key_id.empty() || out.credentials.secret_access_key.empty()) {
            std::string msg = who + ": no AWS credentials: ";
            if (spec.profile.empty()) msg += "AWS_ACCESS_KEY_ID is not set and ";
            msg += "profile " + quote(profile);
            if (!cred_sec && !conf_sec) {
                msg += " is not in ";
            } else {
                msg += " has no aws_access_key_id and aws_secret_access_key in ";
            }
            msg += quote(cred_path) + " or " + quote(conf_path);
            for (const char* unsupported : {"credential_process", "role_arn", "sso_session",
                                            "sso_start_url", "web_identity_token_file"}) {
                if (!pick(unsupported).empty()) {
                    msg += " (it uses " + std::string(unsupported) +
                           ", which mlo does not support; export AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY instead)";
                    break;
                }
            }
            throw Error(msg);
        }
    }

    out.region = spec.region;
    if (out.region.empty()) out.region = s3_getenv("AWS_REGION");
    if (out.region.empty()) out.region = s3_getenv("AWS_DEFAULT_REGION");
    if (out.region.empty()) out.region = s3_ini_value(conf_sec, "region");
    if (out.region.empty()) out.region = "us-east-1";
    return out;
}

// ---- where requests go ---------------------------------------------------------------------

std::string uri_encode(std::string_view s, bool encode_slash) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && !encode_slash);
        if (plain) {
            out += char(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

namespace {

bool s3_is_ip_or_localhost(std::string_view hostport) {
    if (!hostport.empty() && hostport.front() == '[') return true;  // IPv6 literal
    std::string host(hostport.substr(0, hostport.find(':')));
    if (s3_lower(host) == "localhost") return true;
    in_addr addr{};
    return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

// Whether the bucket can be the first label of a host name (virtual-hosted style). Names with
// dots cannot over TLS: the certificate's wildcard covers one label only.
bool s3_dns_compatible(std::string_view bucket, std::string_view scheme) {
    if (bucket.size() < 3 || bucket.size() > 63) return false;
    for (char c : bucket) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  (c == '.' && scheme == "http");
        if (!ok) return false;
    }
    return bucket.front() != '-' && bucket.back() != '-' &&
           bucket.find("..") == std::string_view::npos;
}

}  // namespace

Location resolve_location(const RemoteSpec& spec, const std::string& region) {
    const std::string who = "remote " + quote(spec.name);
    auto bad_url = [&](const std::string& why) {
        return Error(who + ": invalid S3 URL " + quote(spec.url) + ": " + why);
    };
    if (!s3_starts_with(spec.url, "s3://")) throw bad_url("it does not start with s3://");
    Location loc;
    std::string_view rest = std::string_view(spec.url).substr(5);
    size_t slash = rest.find('/');
    loc.bucket = std::string(rest.substr(0, slash));
    if (loc.bucket.empty()) throw bad_url("no bucket name");
    if (loc.bucket.size() < 3 || loc.bucket.size() > 255) {
        throw bad_url("bucket names have 3 to 63 characters");
    }
    for (char c : loc.bucket) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        if (!ok)
            throw bad_url("bucket name " + quote(loc.bucket) + " has the character " +
                          quote(std::string(1, c)));
    }
    if (slash != std::string_view::npos) {
        loc.prefix = std::string(rest.substr(slash + 1));
        if (!loc.prefix.empty() && loc.prefix.back() != '/') loc.prefix += '/';
        if (loc.prefix.find("//") != std::string::npos || loc.prefix.front() == '/') {
            throw bad_url("empty path segment");
        }
    }

    std::string host, base;
    if (spec.endpoint.empty()) {
        loc.scheme = "https";
        host = "s3." + region + ".amazonaws.com";
        if (s3_starts_with(region, "cn-")) host += ".cn";
    } else {
        auto bad_endpoint = [&](const std::string& why) {
            return Error(who + ": invalid S3 endpoint " + quote(spec.endpoint) + ": " + why);
        };
        std::string_view ep = spec.endpoint;
        size_t sep = ep.find("://");
        if (sep == std::string_view::npos) {
            loc.scheme = "https";
        } else {
            loc.scheme = s3_lower(ep.substr(0, sep));
            ep.remove_prefix(sep + 3);
            if (loc.scheme != "http" && loc.scheme != "https") {
                throw bad_endpoint("only http:// and https:// are supported");
            }
        }
        size_t path_at = ep.find('/');
        host = s3_lower(ep.substr(0, path_at));
        if (path_at != std::string_view::npos) base = std::string(ep.substr(path_at));
        while (!base.empty() && base.back() == '/')
            base.pop_back();
        if (host.empty()) throw bad_endpoint("no host name");
        if (host.find_first_of("?#@ ") != std::string::npos) throw bad_endpoint("not a host name");
        // curl leaves a default port out of the Host header; so does the signature.
        std::string default_port = loc.scheme == "https" ? ":443" : ":80";
        if (host.size() > default_port.size() &&
            host.compare(host.size() - default_port.size(), default_port.size(), default_port) ==
                0 &&
            host.back() != ']') {
            host.resize(host.size() - default_port.size());
        }
    }
    loc.path_style = spec.path_style || s3_is_ip_or_localhost(host) ||
                     !s3_dns_compatible(loc.bucket, loc.scheme);
    if (loc.path_style) {
        loc.host = host;
        loc.base_path = base + "/" + uri_encode(loc.bucket, true);
    } else {
        loc.host = loc.bucket + "." + host;
        loc.base_path = base;
    }
    return loc;
}

std::string object_path(const Location& loc, std::string_view full_key) {
    return loc.base_path + "/" + uri_encode(full_key, false);
}

std::string bucket_path(const Location& loc) {
    return loc.path_style ? loc.base_path : loc.base_path + "/";
}

namespace {

std::vector<std::pair<std::string, std::string>> s3_encoded_sorted(const Params& query) {
    std::vector<std::pair<std::string, std::string>> enc;
    enc.reserve(query.size());
    for (const auto& [k, v] : query)
        enc.emplace_back(uri_encode(k, true), uri_encode(v, true));
    std::sort(enc.begin(), enc.end());
    return enc;
}

// The query as sent: like the canonical one, but a subresource with no value goes bare
// ("?uploads"), the way the AWS SDKs send it.
std::string s3_url_query(const Params& query) {
    std::string out;
    for (const auto& [k, v] : s3_encoded_sorted(query)) {
        out += out.empty() ? '?' : '&';
        out += k;
        if (!v.empty()) out += "=" + v;
    }
    return out;
}

}  // namespace

std::string canonical_query(const Params& query) {
    std::string out;
    for (const auto& [k, v] : s3_encoded_sorted(query)) {
        if (!out.empty()) out += '&';
        out += k + "=" + v;
    }
    return out;
}

// ---- Signature Version 4 -------------------------------------------------------------------

std::string hex_of(std::string_view bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out(bytes.size() * 2, '0');
    for (size_t i = 0; i < bytes.size(); ++i) {
        auto b = static_cast<unsigned char>(bytes[i]);
        out[2 * i] = digits[b >> 4];
        out[2 * i + 1] = digits[b & 15];
    }
    return out;
}

std::string base64_of(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), int(bytes.size()));
    out.resize(size_t(n));
    return out;
}

std::string md5_of(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr) != 1) {
        throw Error("MD5 failed: OpenSSL refused");
    }
    return std::string(reinterpret_cast<char*>(md), len);
}

namespace {

std::string s3_hmac(std::string_view key, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), int(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len)) {
        throw Error("HMAC-SHA256 failed: OpenSSL refused");
    }
    return std::string(reinterpret_cast<char*>(md), len);
}

// Header values are signed trimmed, with runs of spaces inside collapsed to one.
std::string s3_canonical_value(std::string_view v) {
    v = s3_trim(v);
    std::string out;
    for (char c : v) {
        if (c == ' ' && !out.empty() && out.back() == ' ') continue;
        out += c;
    }
    return out;
}

std::string s3_amz_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

}  // namespace

SignatureParts sign_v4(Request& req, const Credentials& creds, const std::string& region,
                       const std::string& amz_date, const std::string& payload_sha256_hex) {
    req.headers.emplace_back("x-amz-content-sha256", payload_sha256_hex);
    req.headers.emplace_back("x-amz-date", amz_date);
    if (!creds.session_token.empty()) {
        req.headers.emplace_back("x-amz-security-token", creds.session_token);
    }
    std::vector<std::pair<std::string, std::string>> canon;
    for (const auto& [name, value] : req.headers)
        canon.emplace_back(s3_lower(name), s3_canonical_value(value));
    std::stable_sort(canon.begin(), canon.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string headers_block, signed_headers;
    for (size_t i = 0; i < canon.size(); ++i) {
        if (i > 0 && canon[i].first == canon[i - 1].first) {
            headers_block.back() = ',';  // repeated header: values joined by commas
            headers_block += canon[i].second + "\n";
            continue;
        }
        headers_block += canon[i].first + ":" + canon[i].second + "\n";
        if (!signed_headers.empty()) signed_headers += ';';
        signed_headers += canon[i].first;
    }
    SignatureParts out;
    out.canonical_request = req.method + "\n" + req.path + "\n" + canonical_query(req.query) +
                            "\n" + headers_block + "\n" + signed_headers + "\n" +
                            payload_sha256_hex;
    const std::string day = amz_date.substr(0, 8);
    const std::string scope = day + "/" + region + "/s3/aws4_request";
    out.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" +
                         to_hex(sha256(out.canonical_request));
    std::string key = s3_hmac("AWS4" + creds.secret_access_key, day);
    key = s3_hmac(key, region);
    key = s3_hmac(key, "s3");
    key = s3_hmac(key, "aws4_request");
    out.signature = hex_of(s3_hmac(key, out.string_to_sign));
    req.headers.emplace_back("authorization", "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id +
                                                  "/" + scope + ",SignedHeaders=" + signed_headers +
                                                  ",Signature=" + out.signature);
    return out;
}

// ---- XML -----------------------------------------------------------------------------------

std::string xml_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            // XML parsers turn these into spaces or newlines unless they are references.
            case '\r':
                out += "&#13;";
                break;
            case '\n':
                out += "&#10;";
                break;
            case '\t':
                out += "&#9;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

namespace {

void s3_append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

int s3_hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// encoding-type=url keys: %XX escapes, and '+' for a space (a literal '+' arrives as %2B).
std::string s3_url_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && s3_hex_digit(s[i + 1]) >= 0 &&
                   s3_hex_digit(s[i + 2]) >= 0) {
            out += char(s3_hex_digit(s[i + 1]) * 16 + s3_hex_digit(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The next element named `tag` at or after `pos`: its inner text (empty for <tag/>); `pos`
// moves past it. S3's replies never nest an element inside one of the same name.
bool s3_xml_next(std::string_view xml, std::string_view tag, size_t& pos, std::string_view& inner) {
    while (pos < xml.size()) {
        size_t lt = xml.find('<', pos);
        if (lt == std::string_view::npos) break;
        size_t after = lt + 1 + tag.size();
        if (xml.compare(lt + 1, tag.size(), tag) == 0 && after < xml.size() &&
            std::strchr("> \t\r\n/", xml[after]) != nullptr) {
            size_t gt = xml.find('>', after);
            if (gt == std::string_view::npos) break;
            if (xml[gt - 1] == '/') {
                inner = {};
                pos = gt + 1;
                return true;
            }
            std::string close = "</" + std::string(tag) + ">";
            size_t end = xml.find(close, gt + 1);
            if (end == std::string_view::npos) break;
            inner = xml.substr(gt + 1, end - gt - 1);
            pos = end + close.size();
            return true;
        }
        pos = lt + 1;
    }
    pos = xml.size();
    return false;
}

std::optional<std::string_view> s3_xml_first(std::string_view xml, std::string_view tag) {
    size_t pos = 0;
    std::string_view inner;
    if (s3_xml_next(xml, tag, pos, inner)) return inner;
    return std::nullopt;
}

std::string s3_xml_text(std::string_view xml, std::string_view tag) {
    auto v = s3_xml_first(xml, tag);
    return v ? xml_unescape(*v) : std::string();
}

bool s3_xml_true(std::string_view xml, std::string_view tag) {
    return s3_xml_text(xml, tag) == "true";
}

std::vector<std::string_view> s3_xml_all(std::string_view xml, std::string_view tag) {
    std::vector<std::string_view> out;
    size_t pos = 0;
    std::string_view inner;
    while (s3_xml_next(xml, tag, pos, inner))
        out.push_back(inner);
    return out;
}

uint64_t s3_xml_u64(std::string_view xml, std::string_view tag, const char* reply) {
    std::string text = s3_xml_text(xml, tag);
    auto v = s3_parse_u64(text);
    if (!v)
        throw Error(std::string("malformed S3 ") + reply + " reply: <" + std::string(tag) +
                    "> is " + quote(text));
    return *v;
}

// Every listing reply says whether it is truncated; a body without that is not one (an HTML
// page from a proxy, say). The root element's name is not checked: moto answers ListParts
// with <ListPartsResponse>, S3 with <ListPartsResult>.
void s3_expect_listing(std::string_view xml, const char* reply) {
    if (xml.find("<IsTruncated>") != std::string_view::npos) return;
    std::string start(xml.substr(0, 120));
    for (char& c : start)
        if (c == '\n' || c == '\r') c = ' ';
    throw Error(std::string("malformed S3 ") + reply + " reply: " + quote(start));
}

}  // namespace

std::string xml_unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '&') {
            out += s[i];
            continue;
        }
        size_t semi = s.find(';', i);
        if (semi == std::string_view::npos || semi - i > 12) {
            out += s[i];
            continue;
        }
        std::string_view ent = s.substr(i + 1, semi - i - 1);
        if (ent == "amp")
            out += '&';
        else if (ent == "lt")
            out += '<';
        else if (ent == "gt")
            out += '>';
        else if (ent == "quot")
            out += '"';
        else if (ent == "apos")
            out += '\'';
        else if (ent.size() > 1 && ent[0] == '#') {
            uint32_t cp = 0;
            bool hex = ent[1] == 'x' || ent[1] == 'X';
            std::string_view digits = ent.substr(hex ? 2 : 1);
            auto [end, ec] =
                std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
            if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
                cp > 0x10FFFF) {
                out += s.substr(i, semi - i + 1);
            } else {
                s3_append_utf8(out, cp);
            }
        } else {
            out += s.substr(i, semi - i + 1);
        }
        i = semi;
    }
    return out;
}

ListObjectsPage parse_list_objects(std::string_view xml) {
    s3_expect_listing(xml, "ListObjectsV2");
    ListObjectsPage page;
    bool url = s3_xml_text(xml, "EncodingType") == "url";
    for (std::string_view c : s3_xml_all(xml, "Contents")) {
        ListedObject o;
        o.key = s3_xml_text(c, "Key");
        if (url) o.key = s3_url_decode(o.key);
        o.size = s3_xml_u64(c, "Size", "ListObjectsV2");
        page.objects.push_back(std::move(o));
    }
    page.truncated = s3_xml_true(xml, "IsTruncated");
    page.next_token = s3_xml_text(xml, "NextContinuationToken");
    return page;
}

ErrorReply parse_error(std::string_view xml) {
    ErrorReply e;
    auto block = s3_xml_first(xml, "Error");
    if (!block) return e;
    e.code = s3_xml_text(*block, "Code");
    e.message = s3_xml_text(*block, "Message");
    return e;
}

UploadsPage parse_list_uploads(std::string_view xml) {
    s3_expect_listing(xml, "ListMultipartUploads");
    UploadsPage page;
    for (std::string_view u : s3_xml_all(xml, "Upload")) {
        MultipartUpload up;
        up.key = s3_xml_text(u, "Key");
        up.upload_id = s3_xml_text(u, "UploadId");
        up.initiated = s3_xml_text(u, "Initiated");
        up.checksum_algorithm = s3_xml_text(u, "ChecksumAlgorithm");
        page.uploads.push_back(std::move(up));
    }
    page.truncated = s3_xml_true(xml, "IsTruncated");
    page.next_key_marker = s3_xml_text(xml, "NextKeyMarker");
    page.next_upload_id_marker = s3_xml_text(xml, "NextUploadIdMarker");
    return page;
}

PartsPage parse_list_parts(std::string_view xml) {
    s3_expect_listing(xml, "ListParts");
    PartsPage page;
    for (std::string_view p : s3_xml_all(xml, "Part")) {
        UploadedPart part;
        part.number = int(s3_xml_u64(p, "PartNumber", "ListParts"));
        part.size = s3_xml_u64(p, "Size", "ListParts");
        part.etag = s3_xml_text(p, "ETag");
        page.parts.push_back(std::move(part));
    }
    page.truncated = s3_xml_true(xml, "IsTruncated");
    page.next_marker = s3_xml_text(xml, "NextPartNumberMarker");
    return page;
}

std::string complete_multipart_xml(const std::vector<CompletedPart>& parts) {
    std::string out = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    for (const auto& p : parts) {
        out += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" +
               xml_escape(p.etag) + "</ETag>";
        if (!p.checksum_sha256.empty()) {
            out += "<ChecksumSHA256>" + p.checksum_sha256 + "</ChecksumSHA256>";
        }
        out += "</Part>";
    }
    return out + "</CompleteMultipartUpload>";
}

std::string delete_objects_xml(const std::vector<std::string>& full_keys) {
    std::string out =
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
    for (const auto& k : full_keys)
        out += "<Object><Key>" + xml_escape(k) + "</Key></Object>";
    return out + "</Delete>";
}

std::vector<std::pair<std::string, ErrorReply>> parse_delete_errors(std::string_view xml) {
    std::vector<std::pair<std::string, ErrorReply>> out;
    for (std::string_view e : s3_xml_all(xml, "Error")) {
        out.emplace_back(s3_xml_text(e, "Key"),
                         ErrorReply{s3_xml_text(e, "Code"), s3_xml_text(e, "Message")});
    }
    return out;
}

// ---- tuning --------------------------------------------------------------------------------

namespace {

uint64_t s3_env_number(const char* name, uint64_t fallback) {
    std::string v = s3_getenv(name);
    if (v.empty()) return fallback;
    auto n = s3_parse_u64(v);
    if (!n || *n == 0)
        throw Error(std::string(name) + ": " + quote(v) + " is not a positive whole number");
    return *n;
}

}  // namespace

Tuning tuning_from_env() {
    Tuning t;
    t.multipart_threshold = s3_env_number("MLO_S3_MULTIPART_THRESHOLD", t.multipart_threshold);
    t.part_size = s3_env_number("MLO_S3_PART_SIZE", t.part_size);
    t.max_attempts = int(
        std::min<uint64_t>(s3_env_number("MLO_S3_MAX_ATTEMPTS", uint64_t(t.max_attempts)), 100));
    return t;
}

uint64_t choose_part_size(uint64_t file_size, uint64_t wanted) {
    uint64_t p = std::max(wanted, kMinPartSize);
    uint64_t for_count = (file_size + kMaxParts - 1) / kMaxParts;
    return std::max(p, for_count);
}

uint64_t backoff_cap_ms(int attempt) {
    if (attempt < 1) attempt = 1;
    if (attempt > 20) return 5000;
    return std::min<uint64_t>(5000, uint64_t(100) << (attempt - 1));
}

// ---- HTTP ----------------------------------------------------------------------------------

// Idle easy handles, each keeping its connection alive. A pool rather than thread_local handles:
// parallel_for starts fresh threads for every batch, and a handle that died with its thread
// would take its TLS session with it.
class CurlPool {
public:
    CurlPool() = default;
    CurlPool(const CurlPool&) = delete;
    CurlPool& operator=(const CurlPool&) = delete;
    ~CurlPool() {
        for (CURL* h : idle_)
            curl_easy_cleanup(h);
    }
    CURL* acquire() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!idle_.empty()) {
                CURL* h = idle_.back();
                idle_.pop_back();
                return h;
            }
        }
        CURL* h = curl_easy_init();
        if (!h) throw Error("cannot start an HTTP transfer: curl_easy_init failed");
        return h;
    }
    void release(CURL* h) {
        std::lock_guard<std::mutex> lock(mu_);
        idle_.push_back(h);
    }

private:
    std::mutex mu_;
    std::vector<CURL*> idle_;
};

struct S3Remote::Reply {
    long status = 0;
    std::string body;  // unless streamed into the call's sink
    Params headers;    // names lower-cased
    ErrorReply error;
    int attempts = 0;

    std::string header(std::string_view name) const {
        for (const auto& [k, v] : headers)
            if (k == name) return v;
        return {};
    }
    bool ok() const { return status >= 200 && status < 300 && error.code.empty(); }
};

struct S3Remote::Call {
    std::string what;  // "cannot upload 's3://bucket/key'"
    Request req;
    std::string payload_hash = std::string(kEmptySha256);
    // The body (PUT, POST): `size` bytes from `fd` at `offset`, or `memory` when fd < 0.
    int fd = -1;
    uint64_t offset = 0;
    uint64_t size = 0;
    std::string_view memory;
    // A 2xx body goes here as it arrives instead of into Reply::body.
    const std::function<void(const char*, size_t)>* sink = nullptr;
    const std::function<void()>* restart = nullptr;
    // The server may think for minutes before it answers (CompleteMultipartUpload assembles
    // the object first): no low-speed limit then, only a generous overall one.
    bool slow_answer = false;
};

namespace {

struct S3Transfer {
    S3Remote::Call* call = nullptr;
    S3Remote::Reply* reply = nullptr;
    CURL* handle = nullptr;
    uint64_t sent = 0;
    uint64_t delivered = 0;
    bool decided = false;
    bool streaming = false;
    std::exception_ptr error;
};

size_t s3_read_cb(char* buf, size_t size, size_t nitems, void* p) {
    auto* t = static_cast<S3Transfer*>(p);
    try {
        const S3Remote::Call& c = *t->call;
        uint64_t want = std::min<uint64_t>(uint64_t(size) * nitems, c.size - t->sent);
        if (want == 0) return 0;
        size_t got = 0;
        if (c.fd < 0) {
            std::memcpy(buf, c.memory.data() + t->sent, size_t(want));
            got = size_t(want);
        } else {
            got = pread_full(c.fd, buf, size_t(want), c.offset + t->sent, c.what);
            if (got == 0) throw Error(c.what + ": the file shrank while it was sent");
        }
        t->sent += got;
        return got;
    } catch (...) {
        t->error = std::current_exception();
        return CURL_READFUNC_ABORT;
    }
}

int s3_seek_cb(void* p, curl_off_t offset, int origin) {
    auto* t = static_cast<S3Transfer*>(p);
    if (origin != SEEK_SET || offset < 0 || uint64_t(offset) > t->call->size)
        return CURL_SEEKFUNC_FAIL;
    t->sent = uint64_t(offset);
    return CURL_SEEKFUNC_OK;
}

size_t s3_write_cb(char* data, size_t size, size_t nmemb, void* p) {
    auto* t = static_cast<S3Transfer*>(p);
    size_t n = size * nmemb;
    if (!t->decided) {
        long status = 0;
        curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
        t->streaming = t->call->sink && status >= 200 && status < 300;
        t->decided = true;
    }
    try {
        if (t->streaming) {
            (*t->call->sink)(data, n);
            t->delivered += n;
        } else {
            t->reply->body.append(data, n);
        }
        return n;
    } catch (...) {
        t->error = std::current_exception();
        return 0;
    }
}

size_t s3_header_cb(char* data, size_t size, size_t nitems, void* p) {
    auto* t = static_cast<S3Transfer*>(p);
    size_t n = size * nitems;
    std::string_view line(data, n);
    try {
        if (s3_starts_with(line, "HTTP/")) {
            t->reply->headers.clear();  // a new response (after 100 Continue)
            return n;
        }
        size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
            t->reply->headers.emplace_back(s3_lower(s3_trim(line.substr(0, colon))),
                                           std::string(s3_trim(line.substr(colon + 1))));
        }
        return n;
    } catch (...) {
        t->error = std::current_exception();
        return 0;
    }
}

// Called by curl about once a second and whenever data moves: the prompt way out on Ctrl-C.
int s3_xferinfo_cb(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return interrupted() ? 1 : 0;
}

bool s3_retryable_curl(CURLcode rc) {
    switch (rc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return true;
        default:
            return false;
    }
}

bool s3_retryable_reply(const S3Remote::Reply& r) {
    if (r.status == 429 || r.status == 500 || r.status == 502 || r.status == 503 ||
        r.status == 504) {
        return true;
    }
    const std::string& c = r.error.code;
    return c == "SlowDown" || c == "RequestTimeout" || c == "InternalError";
}

// Sleeps up to backoff_cap_ms(attempt), uniformly at random, waking early on an interrupt.
void s3_backoff(int attempt) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<uint64_t> dist(0, backoff_cap_ms(attempt));
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(dist(rng));
    while (std::chrono::steady_clock::now() < until) {
        check_interrupted();
        auto left = until - std::chrono::steady_clock::now();
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
    }
    check_interrupted();
}

class S3Lease {
public:
    explicit S3Lease(CurlPool& pool) : pool_(pool), h_(pool.acquire()) {}
    ~S3Lease() { pool_.release(h_); }
    S3Lease(const S3Lease&) = delete;
    S3Lease& operator=(const S3Lease&) = delete;
    CURL* get() const { return h_; }

private:
    CurlPool& pool_;
    CURL* h_;
};

struct S3HeaderList {
    curl_slist* list = nullptr;
    S3HeaderList() = default;
    S3HeaderList(const S3HeaderList&) = delete;
    S3HeaderList& operator=(const S3HeaderList&) = delete;
    ~S3HeaderList() { curl_slist_free_all(list); }
    void add(const std::string& line) {
        curl_slist* n = curl_slist_append(list, line.c_str());
        if (!n) throw std::bad_alloc();
        list = n;
    }
};

std::once_flag g_s3_curl_init;

}  // namespace

S3Remote::S3Remote(const RemoteSpec& spec)
    : aws_(resolve_aws_config(spec)),
      loc_(resolve_location(spec, aws_.region)),
      tuning_(tuning_from_env()),
      pool_(std::make_unique<CurlPool>()) {
    std::call_once(g_s3_curl_init, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw Error("cannot initialise libcurl");
        }
    });
}

S3Remote::~S3Remote() = default;

std::string S3Remote::describe() const {
    std::string p = loc_.prefix;
    if (!p.empty()) p.pop_back();
    return "s3://" + loc_.bucket + (p.empty() ? "" : "/" + p);
}

std::string S3Remote::describe_key(const std::string& full) const {
    return "s3://" + loc_.bucket + "/" + full;
}

std::string S3Remote::full_key(const std::string& key) const {
    if (key.empty()) throw Error(describe() + ": empty key");
    return loc_.prefix + key;
}

S3Remote::Reply S3Remote::perform(Call& call) {
    bool delivered_before = false;
    for (int attempt = 1;; ++attempt) {
        check_interrupted();
        if (attempt > 1) {
            counters_.retries++;
            s3_backoff(attempt - 1);
        }
        if (delivered_before && call.restart) {
            (*call.restart)();
            delivered_before = false;
        }
        counters_.requests++;
        Reply reply;
        reply.attempts = attempt;
        Request req = call.req;
        req.headers.emplace_back("host", loc_.host);
        sign_v4(req, aws_.credentials, aws_.region, s3_amz_now(), call.payload_hash);

        S3Lease lease(*pool_);
        CURL* h = lease.get();
        curl_easy_reset(h);
        S3Transfer t;
        t.call = &call;
        t.reply = &reply;
        t.handle = h;
        S3HeaderList headers;
        for (const auto& [k, v] : req.headers)
            headers.add(k + ": " + v);
        headers.add("Expect:");  // no 100-continue round trip (and no 1 s stall where unsupported)
        const std::string url =
            loc_.scheme + "://" + loc_.host + req.path + s3_url_query(req.query);
        char errbuf[CURL_ERROR_SIZE] = {0};
        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);  // keys may contain "/../"
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        // A connection that moves less than 1 KiB/s for 30 s is dead: fail it and retry.
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, call.slow_answer ? 0L : 1024L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, call.slow_answer ? 0L : 30L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, call.slow_answer ? 1800L : 0L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_write_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s3_header_cb);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, s3_xferinfo_cb);
        if (req.method == "GET") {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else if (req.method == "HEAD") {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (req.method == "PUT" || req.method == "POST") {
            if (req.method == "PUT") {
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(call.size));
            } else {
                curl_easy_setopt(h, CURLOPT_POST, 1L);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(call.size));
            }
            curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, s3_read_cb);
            curl_easy_setopt(h, CURLOPT_READDATA, &t);
            curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, s3_seek_cb);
            curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
        } else {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
        }

        CURLcode rc = curl_easy_perform(h);
        if (t.delivered > 0) delivered_before = true;
        if (t.error) std::rethrow_exception(t.error);
        if (rc == CURLE_ABORTED_BY_CALLBACK && interrupted()) throw Interrupted();
        if (rc != CURLE_OK) {
            std::string why = errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc);
            if (s3_retryable_curl(rc) && attempt < tuning_.max_attempts) continue;
            if (attempt > 1) why += " (after " + std::to_string(attempt) + " attempts)";
            throw Error(call.what + ": " + why);
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
        // CompleteMultipartUpload can answer 200 and still fail: the error is in the body.
        if (!t.streaming && reply.body.find("<Error>") != std::string::npos) {
            reply.error = parse_error(reply.body);
        }
        if (reply.ok()) return reply;
        if (s3_retryable_reply(reply) && attempt < tuning_.max_attempts) continue;
        return reply;
    }
}

void S3Remote::fail(const Call& call, const Reply& reply) const {
    std::string msg = call.what + ": ";
    if (reply.error.code == "NoSuchBucket") {
        msg += "bucket " + quote(loc_.bucket) + " does not exist";
    } else {
        msg += "HTTP " + std::to_string(reply.status);
        if (!reply.error.code.empty()) msg += " " + reply.error.code;
        if (!reply.error.message.empty()) msg += ": " + reply.error.message;
        if (reply.error.code == "XAmzContentSHA256Mismatch" || reply.error.code == "BadDigest") {
            msg += " (the data does not match its SHA-256: did the file change?)";
        }
        const std::string region = reply.header("x-amz-bucket-region");
        if (!region.empty() && region != aws_.region) {
            msg +=
                " (the bucket is in region " + quote(region) + ", not " + quote(aws_.region) + ")";
        }
    }
    if (reply.attempts > 1) msg += " (after " + std::to_string(reply.attempts) + " attempts)";
    throw Error(msg);
}

// ---- operations ----------------------------------------------------------------------------

void S3Remote::list(const std::string& prefix,
                    const std::function<void(std::string_view key, uint64_t size)>& fn) {
    const std::string full_prefix = loc_.prefix + prefix;
    std::string token;
    for (;;) {
        Call c;
        c.what = "cannot list " + quote(describe_key(full_prefix));
        c.req.method = "GET";
        c.req.path = bucket_path(loc_);
        c.req.query = {{"list-type", "2"}, {"max-keys", "1000"}, {"encoding-type", "url"}};
        if (!full_prefix.empty()) c.req.query.emplace_back("prefix", full_prefix);
        if (!token.empty()) c.req.query.emplace_back("continuation-token", token);
        Reply r = perform(c);
        if (!r.ok()) fail(c, r);
        ListObjectsPage page = parse_list_objects(r.body);
        for (const auto& o : page.objects) {
            if (!s3_starts_with(o.key, full_prefix)) continue;
            fn(std::string_view(o.key).substr(loc_.prefix.size()), o.size);
        }
        if (!page.truncated) return;
        if (page.next_token.empty()) {
            throw Error(c.what + ": a truncated listing came without a continuation token");
        }
        token = page.next_token;
    }
}

void S3Remote::put_single(const std::string& full, int fd, std::string_view memory, uint64_t size,
                          const Digest& sha256) {
    Call c;
    c.what = "cannot upload " + quote(describe_key(full));
    c.req.method = "PUT";
    c.req.path = object_path(loc_, full);
    c.req.headers = {{"content-type", "application/octet-stream"},
                     {"x-amz-checksum-sha256", base64_of(bytes_of(sha256))},
                     {"x-amz-sdk-checksum-algorithm", "SHA256"}};
    c.payload_hash = to_hex(sha256);
    c.fd = fd;
    c.memory = memory;
    c.size = size;
    Reply r = perform(c);
    if (!r.ok()) fail(c, r);
}

void S3Remote::put_bytes(const std::string& key, std::string_view data) {
    put_single(full_key(key), -1, data, data.size(), sha256(data));
}

void S3Remote::put_file(const std::string& key, const fs::path& src, const Digest& sha256) {
    const std::string full = full_key(key);
    Fd fd = open_read(src);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + quote(src));
    const uint64_t size = uint64_t(st.st_size);
    if (size >= tuning_.multipart_threshold) {
        put_multipart(key, fd.get(), size);
    } else {
        put_single(full, fd.get(), {}, size, sha256);
    }
}

std::string S3Remote::create_multipart_upload(const std::string& key) {
    const std::string full = full_key(key);
    Call c;
    c.what = "cannot start a multipart upload of " + quote(describe_key(full));
    c.req.method = "POST";
    c.req.path = object_path(loc_, full);
    c.req.query = {{"uploads", ""}};
    c.req.headers = {{"content-type", "application/octet-stream"},
                     {"x-amz-checksum-algorithm", "SHA256"}};
    Reply r = perform(c);
    if (!r.ok()) fail(c, r);
    std::string id = s3_xml_text(r.body, "UploadId");
    if (id.empty()) throw Error(c.what + ": the reply has no <UploadId>");
    return id;
}

std::string S3Remote::upload_part(const std::string& key, const std::string& upload_id, int number,
                                  int fd, uint64_t offset, uint64_t size, const Digest& sha256) {
    const std::string full = full_key(key);
    Call c;
    c.what = "cannot upload part " + std::to_string(number) + " of " + quote(describe_key(full));
    c.req.method = "PUT";
    c.req.path = object_path(loc_, full);
    c.req.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
    c.req.headers = {{"x-amz-checksum-sha256", base64_of(bytes_of(sha256))},
                     {"x-amz-sdk-checksum-algorithm", "SHA256"}};
    c.payload_hash = to_hex(sha256);
    c.fd = fd;
    c.offset = offset;
    c.size = size;
    Reply r = perform(c);
    if (!r.ok()) fail(c, r);
    std::string etag = r.header("etag");
    if (etag.empty()) throw Error(c.what + ": the reply has no ETag");
    counters_.parts_uploaded++;
    return etag;
}

std::vector<MultipartUpload> S3Remote::list_multipart_uploads(const std::string& key) {
    const std::string full = full_key(key);
    std::vector<MultipartUpload> out;
    std::string key_marker, id_marker;
    for (;;) {
        Call c;
        c.what = "cannot list the multipart uploads of " + quote(describe_key(full));
        c.req.method = "GET";
        c.req.path = bucket_path(loc_);
        c.req.query = {{"uploads", ""}, {"prefix", full}};
        if (!key_marker.empty()) c.req.query.emplace_back("key-marker", key_marker);
        if (!id_marker.empty()) c.req.query.emplace_back("upload-id-marker", id_marker);
        Reply r = perform(c);
        if (!r.ok()) fail(c, r);
        UploadsPage page = parse_list_uploads(r.body);
        for (auto& u : page.uploads)
            if (u.key == full) out.push_back(std::move(u));
        if (!page.truncated ||
            (page.next_key_marker.empty() && page.next_upload_id_marker.empty())) {
            break;
        }
        key_marker = page.next_key_marker;
        id_marker = page.next_upload_id_marker;
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.initiated < b.initiated; });
    return out;
}

std::optional<std::vector<UploadedPart>> S3Remote::list_parts(const std::string& key,
                                                              const std::string& upload_id) {
    const std::string full = full_key(key);
    std::vector<UploadedPart> out;
    std::string marker;
    for (;;) {
        Call c;
        c.what = "cannot list the parts uploaded to " + quote(describe_key(full));
        c.req.method = "GET";
        c.req.path = object_path(loc_, full);
        c.req.query = {{"uploadId", upload_id}, {"max-parts", "1000"}};
        if (!marker.empty()) c.req.query.emplace_back("part-number-marker", marker);
        Reply r = perform(c);
        if (r.status == 404 && r.error.code == "NoSuchUpload") return std::nullopt;
        if (!r.ok()) fail(c, r);
        PartsPage page = parse_list_parts(r.body);
        for (auto& p : page.parts)
            out.push_back(std::move(p));
        if (!page.truncated || page.next_marker.empty() || page.next_marker == marker) break;
        marker = page.next_marker;
    }
    return out;
}

void S3Remote::abort_multipart_upload(const std::string& key, const std::string& upload_id) {
    const std::string full = full_key(key);
    Call c;
    c.what = "cannot abort the multipart upload of " + quote(describe_key(full));
    c.req.method = "DELETE";
    c.req.path = object_path(loc_, full);
    c.req.query = {{"uploadId", upload_id}};
    Reply r = perform(c);
    if (r.status == 404 && r.error.code == "NoSuchUpload") return;
    if (!r.ok()) fail(c, r);
}

namespace {

struct S3PartDigests {
    Digest sha256{};
    std::string md5;  // raw, only when asked
};

S3PartDigests s3_hash_range(int fd, uint64_t offset, uint64_t size, bool with_md5,
                            const std::string& what) {
    Sha256 sha;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md5(nullptr, EVP_MD_CTX_free);
    if (with_md5) {
        md5.reset(EVP_MD_CTX_new());
        if (!md5 || EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) != 1) {
            throw Error("MD5 failed: OpenSSL refused");
        }
    }
    std::vector<char> buf(size_t(1) << 20);
    uint64_t done = 0;
    while (done < size) {
        check_interrupted();
        size_t want = size_t(std::min<uint64_t>(buf.size(), size - done));
        size_t got = pread_full(fd, buf.data(), want, offset + done, what);
        if (got == 0) throw Error(what + ": the file shrank while it was read");
        sha.update(buf.data(), got);
        if (md5) EVP_DigestUpdate(md5.get(), buf.data(), got);
        done += got;
    }
    S3PartDigests out;
    out.sha256 = sha.finish();
    if (md5) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(md5.get(), md, &len);
        out.md5.assign(reinterpret_cast<char*>(md), len);
    }
    return out;
}

// A part's ETag is the hex MD5 of its bytes in quotes (for uploads that are not SSE-KMS or
// SSE-C encrypted; for those the comparison fails and the part is sent again).
bool s3_etag_is_md5(std::string_view etag, const std::string& md5_hex) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
        etag = etag.substr(1, etag.size() - 2);
    return s3_lower(etag) == md5_hex;
}

}  // namespace

void S3Remote::put_multipart(const std::string& key, int fd, uint64_t size) {
    const std::string full = full_key(key);
    const std::string what = "cannot upload " + quote(describe_key(full));
    const uint64_t part_size = choose_part_size(size, tuning_.part_size);
    const size_t n = size_t(std::max<uint64_t>(1, (size + part_size - 1) / part_size));

    // Resume the newest unfinished upload of this key that still exists and uses our checksum.
    std::string upload_id;
    std::map<int, UploadedPart> held;
    auto uploads = list_multipart_uploads(key);
    for (auto it = uploads.rbegin(); it != uploads.rend() && upload_id.empty(); ++it) {
        // Parts sent with x-amz-checksum-sha256 fit only an upload created for SHA256 (S3 says
        // so in the listing; a server that does not say gets a fresh upload).
        if (it->checksum_algorithm != "SHA256") continue;
        auto parts = list_parts(key, it->upload_id);
        if (!parts) continue;
        upload_id = it->upload_id;
        for (auto& p : *parts)
            held[p.number] = std::move(p);
    }
    if (upload_id.empty()) upload_id = create_multipart_upload(key);

    // Parts go up on the transfer's threads, shared with the other large objects in flight
    // (the AWS CLI likewise runs all parts of all files on one pool of 10): one large object
    // alone gets them all, rather than 2 connections while the other 14 sit idle.
    const unsigned active = ++multipart_active_;
    struct Leave {
        std::atomic<unsigned>& n;
        ~Leave() { --n; }
    } leave{multipart_active_};
    const unsigned part_jobs = std::max(2u, jobs_ / active);
    std::vector<CompletedPart> done(n);
    parallel_for(n, part_jobs, [&](size_t i) {
        const uint64_t off = uint64_t(i) * part_size;
        const uint64_t len = std::min(part_size, size - off);
        const int number = int(i + 1);
        auto h = held.find(number);
        const bool candidate = h != held.end() && h->second.size == len;
        S3PartDigests d = s3_hash_range(fd, off, len, candidate, what);
        CompletedPart& cp = done[i];
        cp.number = number;
        cp.checksum_sha256 = base64_of(bytes_of(d.sha256));
        if (candidate && s3_etag_is_md5(h->second.etag, hex_of(d.md5))) {
            cp.etag = h->second.etag;
            counters_.parts_reused++;
        } else {
            cp.etag = upload_part(key, upload_id, number, fd, off, len, d.sha256);
        }
    });
    complete_multipart(full, upload_id, done, size);
}

void S3Remote::complete_multipart(const std::string& full, const std::string& upload_id,
                                  const std::vector<CompletedPart>& parts, uint64_t size) {
    const std::string body = complete_multipart_xml(parts);
    Call c;
    c.what = "cannot complete the multipart upload of " + quote(describe_key(full));
    c.req.method = "POST";
    c.req.path = object_path(loc_, full);
    c.req.query = {{"uploadId", upload_id}};
    c.req.headers = {{"content-type", "application/xml"}};
    c.payload_hash = to_hex(sha256(body));
    c.memory = body;
    c.size = body.size();
    c.slow_answer = true;
    Reply r = perform(c);
    if (r.ok()) return;
    // A retry after a reply that got lost finds the upload already completed.
    if (r.attempts > 1 && r.status == 404 && r.error.code == "NoSuchUpload") {
        Call head;
        head.what = c.what;
        head.req.method = "HEAD";
        head.req.path = object_path(loc_, full);
        Reply hr = perform(head);
        if (hr.ok() && hr.header("content-length") == std::to_string(size)) return;
    }
    fail(c, r);
}

void S3Remote::get(const std::string& key, const std::function<void(const char*, size_t)>& sink,
                   const std::function<void()>& restart) {
    const std::string full = full_key(key);
    // The ETag of an object uploaded in one PUT (without SSE-KMS or a customer key) is the MD5
    // of its bytes: a body corrupted on the way is downloaded again, as the AWS CLI does. This
    // guards the records under meta/, which have no hash in their names; objects are also
    // checked against their SHA-256 names by the caller.
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md5(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    auto md5_reset = [&] { EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr); };
    const std::function<void(const char*, size_t)> hashing_sink = [&](const char* p, size_t n) {
        EVP_DigestUpdate(md5.get(), p, n);
        sink(p, n);
    };
    const std::function<void()> hashing_restart = [&] {
        md5_reset();
        restart();
    };
    for (int attempt = 1;; ++attempt) {
        md5_reset();
        Call c;
        c.what = "cannot download " + quote(describe_key(full));
        c.req.method = "GET";
        c.req.path = object_path(loc_, full);
        c.sink = &hashing_sink;
        c.restart = &hashing_restart;
        Reply r = perform(c);
        if (r.ok()) {
            std::string etag = r.header("etag");
            if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
                etag = etag.substr(1, etag.size() - 2);
            const bool plain_md5 =
                etag.size() == 32 &&
                std::all_of(etag.begin(), etag.end(),
                            [](char ch) { return std::isxdigit(uint8_t(ch)) != 0; }) &&
                r.header("x-amz-server-side-encryption") != "aws:kms" &&
                r.header("x-amz-server-side-encryption-customer-algorithm").empty();
            if (!plain_md5) return;
            unsigned char d[EVP_MAX_MD_SIZE];
            unsigned len = 0;
            EVP_DigestFinal_ex(md5.get(), d, &len);
            std::string got;
            static const char hexdig[] = "0123456789abcdef";
            for (unsigned i = 0; i < len; ++i) {
                got += hexdig[d[i] >> 4];
                got += hexdig[d[i] & 15];
            }
            if (s3_lower(etag) == got) return;
            if (attempt >= tuning_.max_attempts)
                throw Error(c.what + ": the body did not match its ETag (MD5) in " +
                            std::to_string(attempt) + " attempts");
            restart();
            continue;
        }
        if (r.status == 404 && r.error.code != "NoSuchBucket") {
            throw RemoteNotFound(c.what + ": no such key");
        }
        fail(c, r);
    }
}

void S3Remote::remove(const std::vector<std::string>& keys) {
    for (size_t start = 0; start < keys.size(); start += kKeysPerDelete) {
        std::vector<std::string> pending;
        for (size_t i = start; i < std::min(keys.size(), start + kKeysPerDelete); ++i)
            pending.push_back(full_key(keys[i]));
        for (int attempt = 1; !pending.empty(); ++attempt) {
            const std::string body = delete_objects_xml(pending);
            Call c;
            c.what =
                "cannot delete " + quote(describe_key(pending.front())) +
                (pending.size() > 1 ? " and " + std::to_string(pending.size() - 1) + " more" : "");
            c.req.method = "POST";
            c.req.path = bucket_path(loc_);
            c.req.query = {{"delete", ""}};
            c.req.headers = {{"content-type", "application/xml"},
                             {"content-md5", base64_of(md5_of(body))}};
            c.payload_hash = to_hex(sha256(body));
            c.memory = body;
            c.size = body.size();
            Reply r = perform(c);
            if (!r.ok()) fail(c, r);
            // Quiet mode lists only the keys that failed; retry those that may succeed later.
            std::vector<std::string> again;
            for (auto& [k, e] : parse_delete_errors(r.body)) {
                if (e.code == "NoSuchKey") continue;
                Reply as_reply;
                as_reply.error = e;
                if (!s3_retryable_reply(as_reply) || attempt >= tuning_.max_attempts) {
                    throw Error("cannot delete " + quote(describe_key(k)) + ": " + e.code +
                                (e.message.empty() ? "" : ": " + e.message));
                }
                again.push_back(k);
            }
            pending = std::move(again);
            if (!pending.empty()) {
                counters_.retries++;
                s3_backoff(attempt);
            }
        }
    }
}

void S3Remote::create_bucket() {
    Call c;
    c.what = "cannot create bucket " + quote(loc_.bucket);
    c.req.method = "PUT";
    c.req.path = bucket_path(loc_);
    std::string body;
    if (aws_.region != "us-east-1") {
        body =
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<LocationConstraint>" +
            xml_escape(aws_.region) + "</LocationConstraint></CreateBucketConfiguration>";
        c.req.headers = {{"content-type", "application/xml"}};
    }
    c.payload_hash = to_hex(sha256(body));
    c.memory = body;
    c.size = body.size();
    Reply r = perform(c);
    if (r.ok() || r.error.code == "BucketAlreadyOwnedByYou") return;
    fail(c, r);
}

void create_bucket(const RemoteSpec& spec) {
    S3Remote(spec).create_bucket();
}

}  // namespace mlo::s3

namespace mlo {

std::unique_ptr<Remote> open_s3_remote(const RemoteSpec& spec) {
    return std::make_unique<s3::S3Remote>(spec);
}

}  // namespace mlo
