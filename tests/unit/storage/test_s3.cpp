#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "storage/error.hpp"
#include "storage/interrupt.hpp"
#include "storage/parallel.hpp"
#include "storage/s3.hpp"
#include "testutil.hpp"

using namespace mlo;
using mlo::test::fingerprint;
using mlo::test::random_bytes;
using mlo::test::TempDir;
using mlo::test::write_text;

namespace {

// Sets (or, with nullopt, unsets) environment variables for the lifetime of the object.
class EnvGuard {
public:
    EnvGuard(std::initializer_list<std::pair<const char*, std::optional<std::string>>> vars) {
        for (const auto& [name, value] : vars) {
            const char* old = std::getenv(name);
            saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
            if (value) {
                ::setenv(name, value->c_str(), 1);
            } else {
                ::unsetenv(name);
            }
        }
    }
    ~EnvGuard() {
        for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
            if (it->second) {
                ::setenv(it->first.c_str(), it->second->c_str(), 1);
            } else {
                ::unsetenv(it->first.c_str());
            }
        }
    }
    EnvGuard(const EnvGuard&) = delete;
    EnvGuard& operator=(const EnvGuard&) = delete;

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// No AWS settings from the machine running the tests leak in.
EnvGuard clean_aws_env(const TempDir& tmp) {
    return EnvGuard{{"AWS_ACCESS_KEY_ID", std::nullopt},
                    {"AWS_SECRET_ACCESS_KEY", std::nullopt},
                    {"AWS_SESSION_TOKEN", std::nullopt},
                    {"AWS_PROFILE", std::nullopt},
                    {"AWS_REGION", std::nullopt},
                    {"AWS_DEFAULT_REGION", std::nullopt},
                    {"AWS_SHARED_CREDENTIALS_FILE", (tmp / "credentials").string()},
                    {"AWS_CONFIG_FILE", (tmp / "config").string()},
                    {"MLO_S3_MULTIPART_THRESHOLD", std::nullopt},
                    {"MLO_S3_PART_SIZE", std::nullopt},
                    {"MLO_S3_MAX_ATTEMPTS", std::nullopt}};
}

const s3::Credentials kExampleCreds{"AKIAIOSFODNN7EXAMPLE",
                                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const std::string kExampleHost = "examplebucket.s3.amazonaws.com";
const std::string kExampleDate = "20130524T000000Z";
const std::string kEmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string header_of(const s3::Request& req, const std::string& name) {
    for (const auto& [k, v] : req.headers)
        if (k == name) return v;
    return {};
}

RemoteSpec spec_for(const std::string& url, const std::string& endpoint = "") {
    RemoteSpec spec;
    spec.name = "origin";
    spec.url = url;
    spec.endpoint = endpoint;
    return spec;
}

}  // namespace

// ---- Signature Version 4: AWS's published examples ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk", Amazon S3 API reference) ----

TEST_CASE("sigv4 reproduces AWS's GET Object example", "[s3]") {
    s3::Request req{"GET", "/test.txt", {}, {{"Host", kExampleHost}, {"Range", "bytes=0-9"}}};
    auto sig = s3::sign_v4(req, kExampleCreds, "us-east-1", kExampleDate, kEmptyHash);
    CHECK(sig.canonical_request ==
          "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
          "x-amz-content-sha256:" +
              kEmptyHash +
              "\nx-amz-date:20130524T000000Z\n\n"
              "host;range;x-amz-content-sha256;x-amz-date\n" +
              kEmptyHash);
    CHECK(sig.string_to_sign ==
          "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
          "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    CHECK(sig.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    CHECK(header_of(req, "authorization") ==
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
          "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    CHECK(header_of(req, "x-amz-date") == kExampleDate);
    CHECK(header_of(req, "x-amz-content-sha256") == kEmptyHash);
}

TEST_CASE("sigv4 reproduces AWS's PUT Object example (a '$' in the key)", "[s3]") {
    const std::string payload = to_hex(sha256("Welcome to Amazon S3."));
    REQUIRE(payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    s3::Location loc;
    loc.base_path = "";
    s3::Request req{"PUT",
                    s3::object_path(loc, "test$file.text"),
                    {},
                    {{"Host", kExampleHost},
                     {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"}}};
    CHECK(req.path == "/test%24file.text");
    auto sig = s3::sign_v4(req, kExampleCreds, "us-east-1", kExampleDate, payload);
    CHECK(sig.canonical_request ==
          "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
          "host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:" +
              payload +
              "\nx-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
              "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n" +
              payload);
    CHECK(sig.string_to_sign.substr(sig.string_to_sign.rfind('\n') + 1) ==
          "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    CHECK(sig.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST_CASE("sigv4 reproduces AWS's GET Bucket Lifecycle and list objects examples", "[s3]") {
    s3::Request lifecycle{"GET", "/", {{"lifecycle", ""}}, {{"host", kExampleHost}}};
    auto sig = s3::sign_v4(lifecycle, kExampleCreds, "us-east-1", kExampleDate, kEmptyHash);
    CHECK(sig.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");

    // Given unsorted: the canonical query sorts it.
    s3::Request list{"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {{"host", kExampleHost}}};
    sig = s3::sign_v4(list, kExampleCreds, "us-east-1", kExampleDate, kEmptyHash);
    CHECK(sig.canonical_request.substr(0, sig.canonical_request.find("\nhost:")) ==
          "GET\n/\nmax-keys=2&prefix=J");
    CHECK(sig.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST_CASE("sigv4 signs the session token of temporary credentials", "[s3]") {
    s3::Credentials creds = kExampleCreds;
    creds.session_token = "TOKEN/with+chars";
    s3::Request req{"GET", "/test.txt", {}, {{"host", kExampleHost}}};
    auto sig = s3::sign_v4(req, creds, "us-east-1", kExampleDate, kEmptyHash);
    CHECK(header_of(req, "x-amz-security-token") == "TOKEN/with+chars");
    CHECK(header_of(req, "authorization")
              .find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,") !=
          std::string::npos);
    CHECK(sig.signature != "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("uri_encode and canonical_query encode the S3 way", "[s3]") {
    CHECK(s3::uri_encode("a b+c", false) == "a%20b%2Bc");
    CHECK(s3::uri_encode("objects/ab/cd", false) == "objects/ab/cd");
    CHECK(s3::uri_encode("objects/ab/cd", true) == "objects%2Fab%2Fcd");
    CHECK(s3::uri_encode("A-z_0.9~", true) == "A-z_0.9~");
    CHECK(s3::uri_encode("ключ", false) == "%D0%BA%D0%BB%D1%8E%D1%87");
    CHECK(s3::uri_encode("=&?#%*!'()", true) == "%3D%26%3F%23%25%2A%21%27%28%29");
    CHECK(s3::canonical_query({{"b", "2"}, {"a", "x y"}, {"a", "+"}, {"c", ""}}) ==
          "a=%2B&a=x%20y&b=2&c=");
    CHECK(s3::canonical_query({}) == "");

    s3::Location path_style;
    path_style.base_path = "/bucket";
    path_style.path_style = true;
    CHECK(s3::object_path(path_style, "meta/a b/ü") == "/bucket/meta/a%20b/%C3%BC");
    CHECK(s3::bucket_path(path_style) == "/bucket");
    s3::Location hosted;
    CHECK(s3::bucket_path(hosted) == "/");
}

// ---- credentials, region, location ---------------------------------------------------------

TEST_CASE("parse_aws_ini reads sections, comments and nested settings", "[s3]") {
    auto ini = s3::parse_aws_ini(
        "# comment\n"
        "ignored = before any section\n"
        "[default]\r\n"
        "aws_access_key_id = AKIA1 \r\n"
        "; another comment\n"
        "Region=eu-west-1\n"
        "\n"
        "[profile  dev ]\n"
        "s3 =\n"
        "  addressing_style = path\n"
        "  max_concurrent_requests = 20\n"
        "output = json\n"
        "[broken\n");
    REQUIRE(ini.count("default"));
    CHECK(ini["default"]["aws_access_key_id"] == "AKIA1");
    CHECK(ini["default"]["region"] == "eu-west-1");
    CHECK(ini["default"].count("ignored") == 0);
    REQUIRE(ini.count("profile dev"));
    CHECK(ini["profile dev"]["s3.addressing_style"] == "path");
    CHECK(ini["profile dev"]["s3.max_concurrent_requests"] == "20");
    CHECK(ini["profile dev"]["output"] == "json");
}

TEST_CASE("credentials come from the environment, then the profile's files", "[s3]") {
    TempDir tmp;
    auto env = clean_aws_env(tmp);
    write_text(tmp / "credentials",
               "[default]\naws_access_key_id = FILEKEY\n"
               "aws_secret_access_key = FILESECRET\n"
               "[dev]\naws_access_key_id = DEVKEY\n"
               "aws_secret_access_key = DEVSECRET\naws_session_token = DEVTOKEN\n");
    write_text(tmp / "config",
               "[default]\nregion = eu-central-1\n"
               "[profile dev]\nregion = ap-south-1\n"
               "[profile cfgonly]\naws_access_key_id = CFGKEY\n"
               "aws_secret_access_key = CFGSECRET\n"
               "[profile sso]\nsso_session = corp\n");
    RemoteSpec spec = spec_for("s3://bucket/prefix");

    SECTION("the default profile and its region") {
        auto c = s3::resolve_aws_config(spec);
        CHECK(c.credentials.access_key_id == "FILEKEY");
        CHECK(c.credentials.secret_access_key == "FILESECRET");
        CHECK(c.credentials.session_token.empty());
        CHECK(c.region == "eu-central-1");
        CHECK(c.source == "profile 'default'");
    }
    SECTION("environment variables win over the default profile") {
        EnvGuard e{{"AWS_ACCESS_KEY_ID", "ENVKEY"},
                   {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"},
                   {"AWS_SESSION_TOKEN", "ENVTOKEN"}};
        auto c = s3::resolve_aws_config(spec);
        CHECK(c.credentials.access_key_id == "ENVKEY");
        CHECK(c.credentials.session_token == "ENVTOKEN");
        CHECK(c.source == "environment");
        CHECK(c.region == "eu-central-1");  // the default profile still gives the region
    }
    SECTION("AWS_PROFILE picks the profile; AWS_REGION and AWS_DEFAULT_REGION win over it") {
        EnvGuard e{{"AWS_PROFILE", "dev"}};
        auto c = s3::resolve_aws_config(spec);
        CHECK(c.credentials.access_key_id == "DEVKEY");
        CHECK(c.credentials.session_token == "DEVTOKEN");
        CHECK(c.region == "ap-south-1");
        EnvGuard e2{{"AWS_DEFAULT_REGION", "us-west-1"}};
        CHECK(s3::resolve_aws_config(spec).region == "us-west-1");
        EnvGuard e3{{"AWS_REGION", "us-west-2"}};
        CHECK(s3::resolve_aws_config(spec).region == "us-west-2");
        spec.region = "sa-east-1";
        CHECK(s3::resolve_aws_config(spec).region == "sa-east-1");
    }
    SECTION("the remote's own profile wins over environment credentials") {
        EnvGuard e{{"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "ENVSECRET"}};
        spec.profile = "dev";
        auto c = s3::resolve_aws_config(spec);
        CHECK(c.credentials.access_key_id == "DEVKEY");
        CHECK(c.source == "profile 'dev'");
    }
    SECTION("keys in the config file count too") {
        spec.profile = "cfgonly";
        auto c = s3::resolve_aws_config(spec);
        CHECK(c.credentials.access_key_id == "CFGKEY");
        CHECK(c.region == "us-east-1");
    }
    SECTION("no credentials: the error names the profile and both files") {
        spec.profile = "nosuch";
        try {
            s3::resolve_aws_config(spec);
            FAIL("no error");
        } catch (const Error& e) {
            std::string msg = e.what();
            CHECK(msg.find("remote 'origin': no AWS credentials") == 0);
            CHECK(msg.find("profile 'nosuch' is not in") != std::string::npos);
            CHECK(msg.find((tmp / "credentials").string()) != std::string::npos);
            CHECK(msg.find((tmp / "config").string()) != std::string::npos);
        }
        spec.profile = "sso";
        CHECK_THROWS_WITH(s3::resolve_aws_config(spec),
                          Catch::Contains("uses sso_session, which mlo does not support"));
    }
    SECTION("half of the environment's credentials is an error") {
        EnvGuard e{{"AWS_ACCESS_KEY_ID", "ENVKEY"}};
        CHECK_THROWS_WITH(
            s3::resolve_aws_config(spec),
            Catch::Contains("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));
    }
    SECTION("no files at all") {
        std::filesystem::remove(tmp / "credentials");
        std::filesystem::remove(tmp / "config");
        CHECK_THROWS_WITH(s3::resolve_aws_config(spec),
                          Catch::Contains("AWS_ACCESS_KEY_ID is not set and profile 'default'"));
    }
}

TEST_CASE("resolve_location builds virtual-hosted and path-style addresses", "[s3]") {
    auto loc = s3::resolve_location(spec_for("s3://my-bucket/team/data"), "eu-west-1");
    CHECK(loc.bucket == "my-bucket");
    CHECK(loc.prefix == "team/data/");
    CHECK(loc.scheme == "https");
    CHECK(loc.host == "my-bucket.s3.eu-west-1.amazonaws.com");
    CHECK(loc.base_path == "");
    CHECK_FALSE(loc.path_style);
    CHECK(s3::object_path(loc, "team/data/objects/ab") == "/team/data/objects/ab");

    loc = s3::resolve_location(spec_for("s3://my-bucket"), "us-east-1");
    CHECK(loc.prefix == "");
    CHECK(loc.host == "my-bucket.s3.us-east-1.amazonaws.com");
    CHECK(s3::resolve_location(spec_for("s3://my-bucket/"), "us-east-1").prefix == "");
    CHECK(s3::resolve_location(spec_for("s3://my-bucket/p/"), "us-east-1").prefix == "p/");
    CHECK(s3::resolve_location(spec_for("s3://bkt"), "cn-north-1").host ==
          "bkt.s3.cn-north-1.amazonaws.com.cn");

    loc = s3::resolve_location(spec_for("s3://bkt/p", "http://127.0.0.1:5055"), "us-east-1");
    CHECK(loc.path_style);
    CHECK(loc.scheme == "http");
    CHECK(loc.host == "127.0.0.1:5055");
    CHECK(loc.base_path == "/bkt");
    CHECK(s3::object_path(loc, "p/k") == "/bkt/p/k");

    loc = s3::resolve_location(spec_for("s3://bkt", "http://localhost:9000/"), "us-east-1");
    CHECK(loc.path_style);
    CHECK(loc.host == "localhost:9000");
    loc = s3::resolve_location(spec_for("s3://bkt", "http://[::1]:9000"), "us-east-1");
    CHECK(loc.path_style);
    CHECK(loc.host == "[::1]:9000");

    loc = s3::resolve_location(spec_for("s3://bkt", "minio.example.com:443"), "us-east-1");
    CHECK(loc.scheme == "https");
    CHECK(loc.host == "bkt.minio.example.com");  // the default port is not part of Host
    CHECK_FALSE(loc.path_style);

    RemoteSpec forced = spec_for("s3://bkt", "https://storage.example.com/s3");
    forced.path_style = true;
    loc = s3::resolve_location(forced, "us-east-1");
    CHECK(loc.host == "storage.example.com");
    CHECK(loc.base_path == "/s3/bkt");

    // Dots in a bucket name break the TLS wildcard of virtual-hosted names; so do capitals.
    CHECK(s3::resolve_location(spec_for("s3://my.bucket"), "us-east-1").path_style);
    CHECK(s3::resolve_location(spec_for("s3://My_Bucket"), "us-east-1").path_style);
}

TEST_CASE("bad S3 URLs and endpoints are one-line errors naming the remote and the value", "[s3]") {
    auto error_of = [](const RemoteSpec& spec) -> std::string {
        try {
            s3::resolve_location(spec, "us-east-1");
        } catch (const Error& e) {
            return e.what();
        }
        return "no error";
    };
    CHECK(error_of(spec_for("s3://")) == "remote 'origin': invalid S3 URL 's3://': no bucket name");
    CHECK(error_of(spec_for("s3:///x")) ==
          "remote 'origin': invalid S3 URL 's3:///x': no bucket name");
    CHECK(error_of(spec_for("s3://ab")) ==
          "remote 'origin': invalid S3 URL 's3://ab': bucket names have 3 to 63 characters");
    CHECK(error_of(spec_for("s3://a b c")).find("has the character ' '") != std::string::npos);
    CHECK(error_of(spec_for("s3://bkt//x")) ==
          "remote 'origin': invalid S3 URL 's3://bkt//x': empty path segment");
    CHECK(error_of(spec_for("https://bkt")) ==
          "remote 'origin': invalid S3 URL 'https://bkt': it does not start with s3://");
    CHECK(error_of(spec_for("s3://bkt", "ftp://host")) ==
          "remote 'origin': invalid S3 endpoint 'ftp://host': only http:// and https:// are "
          "supported");
    CHECK(error_of(spec_for("s3://bkt", "http://")) ==
          "remote 'origin': invalid S3 endpoint 'http://': no host name");
    for (const std::string& msg : {error_of(spec_for("s3://")), error_of(spec_for("s3://bkt//x"))})
        CHECK(msg.find('\n') == std::string::npos);
}

// ---- XML -----------------------------------------------------------------------------------

TEST_CASE("ListObjectsV2 replies are read with escaped and URL-encoded keys", "[s3]") {
    const std::string xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>bkt</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys>"
        "<IsTruncated>true</IsTruncated>"
        "<Contents><Key>p/a&amp;b &lt;c&gt; &quot;q&quot; &apos;s&apos;</Key>"
        "<LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag>"
        "<Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>p/cr&#13;&#x41;&#x44f;</Key><Size>0</Size></Contents>"
        "<Contents>\n  <Key>p/big</Key>\n  <Size>5368709120</Size>\n</Contents>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
        "NextContinuationToken>"
        "</ListBucketResult>";
    auto page = s3::parse_list_objects(xml);
    REQUIRE(page.objects.size() == 3);
    CHECK(page.objects[0].key == "p/a&b <c> \"q\" 's'");
    CHECK(page.objects[0].size == 12);
    CHECK(page.objects[1].key == "p/cr\rA\xD1\x8F");
    CHECK(page.objects[1].size == 0);
    CHECK(page.objects[2].size == 5368709120ULL);
    CHECK(page.truncated);
    CHECK(page.next_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

    auto url = s3::parse_list_objects(
        "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
        "<Contents><Key>p/a+b%2Bc%2F%D0%BA%0D</Key><Size>1</Size></Contents></ListBucketResult>");
    REQUIRE(url.objects.size() == 1);
    CHECK(url.objects[0].key == "p/a b+c/\xD0\xBA\r");
    CHECK_FALSE(url.truncated);

    auto empty = s3::parse_list_objects(
        "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></"
        "ListBucketResult>");
    CHECK(empty.objects.empty());
    CHECK_THROWS_WITH(s3::parse_list_objects("<html>proxy error</html>"),
                      "malformed S3 ListObjectsV2 reply: '<html>proxy error</html>'");
    CHECK_THROWS_WITH(s3::parse_list_objects(
                          "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</"
                          "Key><Size>x</Size></Contents></ListBucketResult>"),
                      Catch::Contains("<Size> is 'x'"));
}

TEST_CASE("S3 error, multipart and delete replies are read", "[s3]") {
    auto e = s3::parse_error(
        "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>"
        "<Message>The specified key does not exist.</Message>"
        "<Key>a&amp;b</Key></Error>");
    CHECK(e.code == "NoSuchKey");
    CHECK(e.message == "The specified key does not exist.");
    CHECK(s3::parse_error("").code.empty());
    CHECK(s3::parse_error("<html/>").code.empty());

    auto uploads = s3::parse_list_uploads(
        "<ListMultipartUploadsResult><Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker/>"
        "<NextKeyMarker>k2</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>"
        "<IsTruncated>true</IsTruncated>"
        "<Upload><Key>k1</Key><UploadId>id1</UploadId><Initiated>2024-01-02T00:00:00.000Z</"
        "Initiated>"
        "<ChecksumAlgorithm>SHA256</ChecksumAlgorithm></Upload>"
        "<Upload><Key>k2</Key><UploadId>id2</UploadId><Initiated>2024-01-01T00:00:00.000Z</"
        "Initiated></Upload>"
        "</ListMultipartUploadsResult>");
    REQUIRE(uploads.uploads.size() == 2);
    CHECK(uploads.uploads[0].key == "k1");
    CHECK(uploads.uploads[0].upload_id == "id1");
    CHECK(uploads.uploads[0].checksum_algorithm == "SHA256");
    CHECK(uploads.uploads[1].checksum_algorithm.empty());
    CHECK(uploads.truncated);
    CHECK(uploads.next_key_marker == "k2");
    CHECK(uploads.next_upload_id_marker == "id2");

    auto parts = s3::parse_list_parts(
        "<ListPartsResult><PartNumberMarker>0</PartNumberMarker>"
        "<NextPartNumberMarker>2</NextPartNumberMarker><IsTruncated>false</IsTruncated>"
        "<Part><PartNumber>1</PartNumber><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag>"
        "<Size>5242880</Size></Part>"
        "<Part><PartNumber>2</PartNumber><ETag>\"92eb5ffee6ae2fec3ad71c777531578f\"</ETag><Size>1</"
        "Size></Part>"
        "</ListPartsResult>");
    REQUIRE(parts.parts.size() == 2);
    CHECK(parts.parts[0].number == 1);
    CHECK(parts.parts[0].etag == "\"0cc175b9c0f1b6a831c399e269772661\"");
    CHECK(parts.parts[0].size == 5242880);
    CHECK(parts.parts[1].number == 2);
    CHECK_FALSE(parts.truncated);
    CHECK(parts.next_marker == "2");

    CHECK(s3::complete_multipart_xml({{1, "\"e1\"", "c1"}, {2, "\"e2\"", ""}}) ==
          "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
          "<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag><ChecksumSHA256>c1</ChecksumSHA256></"
          "Part>"
          "<Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag></Part></CompleteMultipartUpload>");
    CHECK(
        s3::delete_objects_xml({"a&b", "c<d>\r"}) ==
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
        "<Object><Key>a&amp;b</Key></Object><Object><Key>c&lt;d&gt;&#13;</Key></Object></Delete>");
    auto errors = s3::parse_delete_errors(
        "<DeleteResult><Error><Key>k&amp;1</Key><Code>SlowDown</Code><Message>m</Message></Error>"
        "</DeleteResult>");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].first == "k&1");
    CHECK(errors[0].second.code == "SlowDown");
    CHECK(s3::parse_delete_errors("<DeleteResult/>").empty());

    CHECK(s3::xml_unescape("&amp;amp; &unknown; & &#xZZ; &#128512;") ==
          "&amp; &unknown; & &#xZZ; \xF0\x9F\x98\x80");
}

TEST_CASE("encodings used by the checksum headers", "[s3]") {
    CHECK(s3::base64_of("") == "");
    CHECK(s3::base64_of("f") == "Zg==");
    CHECK(s3::base64_of("foobar") == "Zm9vYmFy");
    CHECK(s3::hex_of(s3::md5_of("")) == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(s3::base64_of(s3::bytes_of(sha256(""))) ==
          "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST_CASE("tuning: environment overrides, part sizes, backoff", "[s3]") {
    TempDir tmp;
    auto env = clean_aws_env(tmp);
    auto t = s3::tuning_from_env();
    CHECK(t.multipart_threshold == 64u << 20);
    CHECK(t.part_size == 16u << 20);
    CHECK(t.max_attempts == 8);
    {
        EnvGuard e{{"MLO_S3_MULTIPART_THRESHOLD", "1000"},
                   {"MLO_S3_PART_SIZE", "6000000"},
                   {"MLO_S3_MAX_ATTEMPTS", "2"}};
        t = s3::tuning_from_env();
        CHECK(t.multipart_threshold == 1000);
        CHECK(t.part_size == 6000000);
        CHECK(t.max_attempts == 2);
    }
    {
        EnvGuard e{{"MLO_S3_PART_SIZE", "16M"}};
        CHECK_THROWS_WITH(s3::tuning_from_env(),
                          "MLO_S3_PART_SIZE: '16M' is not a positive whole number");
    }
    CHECK(s3::choose_part_size(100, 1) == s3::kMinPartSize);
    CHECK(s3::choose_part_size(100 << 20, 16 << 20) == 16 << 20);
    const uint64_t huge = uint64_t(1) << 40;  // 1 TiB: 16 MiB parts would be 65,536 of them
    uint64_t p = s3::choose_part_size(huge, 16 << 20);
    CHECK((huge + p - 1) / p <= s3::kMaxParts);

    CHECK(s3::backoff_cap_ms(1) == 100);
    CHECK(s3::backoff_cap_ms(2) == 200);
    CHECK(s3::backoff_cap_ms(6) == 3200);
    CHECK(s3::backoff_cap_ms(7) == 5000);
    CHECK(s3::backoff_cap_ms(1000) == 5000);
}

// ---- HTTP behaviour against a scripted server ----------------------------------------------

namespace {

// A one-connection-at-a-time HTTP server on 127.0.0.1 that answers each request with the next
// scripted reply (raw bytes, sent as is, then the connection is closed) and records requests.
class ScriptedServer {
public:
    struct Reply {
        std::string bytes;
        int stall_ms = 0;  // wait this long after sending, before closing
    };

    explicit ScriptedServer(std::vector<Reply> script) : script_(std::move(script)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd_, 16) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    ScriptedServer(const ScriptedServer&) = delete;
    ScriptedServer& operator=(const ScriptedServer&) = delete;

    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::vector<std::string> requests() {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }

private:
    void serve() {
        for (size_t i = 0; !stop_; ++i) {
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                req.append(buf, size_t(n));
            }
            {
                std::lock_guard<std::mutex> lock(mu_);
                requests_.push_back(req.substr(0, req.find("\r\n\r\n")));
            }
            const Reply r = i < script_.size()
                                ? script_[i]
                                : Reply{"HTTP/1.1 599 Unscripted\r\nContent-Length: 0\r\n\r\n"};
            ::send(c, r.bytes.data(), r.bytes.size(), MSG_NOSIGNAL);
            if (r.stall_ms) std::this_thread::sleep_for(std::chrono::milliseconds(r.stall_ms));
            ::close(c);
        }
    }

    std::vector<Reply> script_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mu_;
    std::vector<std::string> requests_;
};

std::string http_reply(int status, const std::string& reason, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string s3_error(const std::string& code, const std::string& message) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" +
           message + "</Message></Error>";
}

}  // namespace

TEST_CASE("transient failures are retried; a partial body restarts the sink", "[s3]") {
    TempDir tmp;
    auto env = clean_aws_env(tmp);
    EnvGuard creds{{"AWS_ACCESS_KEY_ID", "AKIDTEST"}, {"AWS_SECRET_ACCESS_KEY", "secret"}};
    const std::string data(100, 'x');
    ScriptedServer server({
        {http_reply(503, "Slow Down", s3_error("SlowDown", "Please reduce your request rate."))},
        {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + data.substr(0, 10)},  // cut short
        {http_reply(500, "Internal",
                    s3_error("InternalError", "We encountered an internal error."))},
        {http_reply(200, "OK", data)},
    });
    s3::S3Remote remote(spec_for("s3://bucket/pre", server.endpoint()));
    std::string got;
    int restarts = 0;
    remote.get(
        "objects/ab/cd", [&](const char* p, size_t n) { got.append(p, n); },
        [&] {
            ++restarts;
            got.clear();
        });
    CHECK(got == data);
    CHECK(restarts == 1);
    CHECK(remote.counters().retries == 3);
    CHECK(remote.counters().requests == 4);
    auto reqs = server.requests();
    REQUIRE(reqs.size() == 4);
    for (const auto& r : reqs) {
        CHECK(r.rfind("GET /bucket/pre/objects/ab/cd HTTP/1.1\r\n", 0) == 0);
        // curl sends our Host header in its own spelling and place.
        CHECK(r.find("\r\nHost: " + server.endpoint().substr(7) + "\r\n") != std::string::npos);
        CHECK(r.find("\r\nauthorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/") !=
              std::string::npos);
    }
}

TEST_CASE("final S3 errors name the operation, key, status and S3's code and message", "[s3]") {
    TempDir tmp;
    auto env = clean_aws_env(tmp);
    EnvGuard creds{{"AWS_ACCESS_KEY_ID", "AKIDTEST"}, {"AWS_SECRET_ACCESS_KEY", "secret"}};
    ScriptedServer server({
        {http_reply(403, "Forbidden", s3_error("AccessDenied", "Access Denied"))},
        {http_reply(404, "Not Found", s3_error("NoSuchKey", "The specified key does not exist."))},
        {http_reply(404, "Not Found",
                    s3_error("NoSuchBucket", "The specified bucket does not exist"))},
        {http_reply(503, "Slow Down", s3_error("SlowDown", "Reduce your request rate."))},
        {http_reply(503, "Slow Down", s3_error("SlowDown", "Reduce your request rate."))},
    });
    EnvGuard attempts{{"MLO_S3_MAX_ATTEMPTS", "2"}};
    s3::S3Remote remote(spec_for("s3://bucket/pre", server.endpoint()));
    CHECK(remote.describe() == "s3://bucket/pre");
    CHECK_THROWS_WITH(
        remote.put_bytes("meta/x", "data"),
        "cannot upload 's3://bucket/pre/meta/x': HTTP 403 AccessDenied: Access Denied");
    CHECK_THROWS_AS(remote.get_bytes("objects/missing"), RemoteNotFound);
    CHECK_THROWS_WITH(remote.list("objects/", [](std::string_view, uint64_t) {}),
                      "cannot list 's3://bucket/pre/objects/': bucket 'bucket' does not exist");
    CHECK_THROWS_WITH(remote.remove({"a"}),
                      "cannot delete 's3://bucket/pre/a': HTTP 503 SlowDown: Reduce your request "
                      "rate. (after 2 attempts)");
    auto reqs = server.requests();
    REQUIRE(reqs.size() == 5);
    CHECK(reqs[0].find("\r\nx-amz-checksum-sha256: ") != std::string::npos);
    CHECK(reqs[2].rfind(
              "GET /bucket?encoding-type=url&list-type=2&max-keys=1000&prefix=pre%2Fobjects%2F ",
              0) == 0);
    CHECK(reqs[3].rfind("POST /bucket?delete HTTP/1.1", 0) == 0);
    CHECK(reqs[3].find("\r\ncontent-md5: ") != std::string::npos);
}

TEST_CASE("a refused connection is retried, then reported", "[s3]") {
    TempDir tmp;
    auto env = clean_aws_env(tmp);
    EnvGuard creds{{"AWS_ACCESS_KEY_ID", "AKIDTEST"},
                   {"AWS_SECRET_ACCESS_KEY", "secret"},
                   {"MLO_S3_MAX_ATTEMPTS", "3"}};
    int port;
    {  // a port nobody listens on
        ScriptedServer probe({});
        port = std::stoi(probe.endpoint().substr(probe.endpoint().rfind(':') + 1));
    }
    s3::S3Remote remote(spec_for("s3://bucket", "http://127.0.0.1:" + std::to_string(port)));
    CHECK_THROWS_WITH(remote.get_bytes("k"),
                      Catch::StartsWith("cannot download 's3://bucket/k': ") &&
                          Catch::EndsWith("(after 3 attempts)"));
    CHECK(remote.counters().requests == 3);
}

TEST_CASE("an interrupt aborts a transfer promptly", "[s3]") {
    TempDir tmp;
    auto env = clean_aws_env(tmp);
    EnvGuard creds{{"AWS_ACCESS_KEY_ID", "AKIDTEST"}, {"AWS_SECRET_ACCESS_KEY", "secret"}};
    // Headers and a first chunk, then nothing for 5 s.
    ScriptedServer server(
        {{"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'x'), 5000}});
    s3::S3Remote remote(spec_for("s3://bucket", server.endpoint()));
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(remote.get(
                        "k", [](const char*, size_t) { set_interrupted(true); }, [] {}),
                    Interrupted);
    set_interrupted(false);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500));

    set_interrupted(true);
    CHECK_THROWS_AS(remote.put_bytes("k", "x"), Interrupted);
    set_interrupted(false);
}

// ---- against a real server -----------------------------------------------------------------

namespace {

std::string unique_suffix() {
    std::random_device rd;
    std::mt19937_64 rng(rd());
    return std::to_string(rng() % 1000000000) + "-" + std::to_string(::getpid());
}

}  // namespace

TEST_CASE("an S3 server round-trips objects (MLO_TEST_S3_ENDPOINT)", "[s3]") {
    const char* endpoint = std::getenv("MLO_TEST_S3_ENDPOINT");
    if (!endpoint || !*endpoint) {
        WARN(
            "skipped: set MLO_TEST_S3_ENDPOINT (e.g. http://127.0.0.1:5055, a moto server) to run");
        SUCCEED();
        return;
    }
    TempDir tmp;
    auto env = clean_aws_env(tmp);
    EnvGuard creds{
        {"AWS_ACCESS_KEY_ID",
         std::getenv("AWS_ACCESS_KEY_ID") ? std::getenv("AWS_ACCESS_KEY_ID") : "test"},
        {"AWS_SECRET_ACCESS_KEY",
         std::getenv("AWS_SECRET_ACCESS_KEY") ? std::getenv("AWS_SECRET_ACCESS_KEY") : "test"}};
    const std::string bucket = "mlo-test-" + unique_suffix();
    RemoteSpec spec = spec_for("s3://" + bucket + "/store", endpoint);
    spec.region = "us-east-1";
    s3::create_bucket(spec);
    auto remote = open_s3_remote(spec);
    CHECK(remote->describe() == "s3://" + bucket + "/store");
    CHECK(remote->default_jobs() == 16);

    SECTION("put_bytes, put_file, get, list, remove") {
        remote->put_bytes("meta/hello", "hello\n");
        CHECK(remote->get_bytes("meta/hello") == "hello\n");
        remote->put_bytes("meta/empty", "");
        CHECK(remote->get_bytes("meta/empty") == "");

        const std::string blob = random_bytes(300000, 7);
        write_text(tmp / "blob", blob);
        remote->put_file("objects/aa/blob", tmp / "blob", sha256(blob));
        CHECK(fingerprint(remote->get_bytes("objects/aa/blob")) == fingerprint(blob));

        const std::string odd = "meta/a b/ключ ü+&=?#%.txt";
        remote->put_bytes(odd, "odd");
        CHECK(remote->get_bytes(odd) == "odd");
        std::map<std::string, uint64_t> meta;
        remote->list("meta/",
                     [&](std::string_view k, uint64_t size) { meta[std::string(k)] = size; });
        CHECK(meta ==
              std::map<std::string, uint64_t>{{"meta/hello", 6}, {"meta/empty", 0}, {odd, 3}});

        CHECK_THROWS_AS(remote->get_bytes("objects/zz/missing"), RemoteNotFound);
        int nothing = 0;
        remote->list("nothing/", [&](std::string_view, uint64_t) { ++nothing; });
        CHECK(nothing == 0);

        // More than one page of listing and more than one DeleteObjects request.
        const size_t n = 1105;
        std::vector<std::string> keys;
        for (size_t i = 0; i < n; ++i)
            keys.push_back("many/k" + std::to_string(10000 + i));
        parallel_for(n, remote->default_jobs(),
                     [&](size_t i) { remote->put_bytes(keys[i], keys[i]); });
        std::set<std::string> listed;
        uint64_t bytes = 0;
        remote->list("many/", [&](std::string_view k, uint64_t size) {
            listed.insert(std::string(k));
            bytes += size;
        });
        CHECK(listed == std::set<std::string>(keys.begin(), keys.end()));
        CHECK(bytes == n * 11);  // "many/k10000"
        size_t all = 0;
        remote->list("", [&](std::string_view, uint64_t) { ++all; });
        CHECK(all == n + 4);

        keys.push_back("many/never-existed");
        remote->remove(keys);
        remote->remove({});
        size_t left = 0;
        remote->list("many/", [&](std::string_view, uint64_t) { ++left; });
        CHECK(left == 0);
        CHECK(remote->get_bytes("meta/hello") == "hello\n");
    }

    SECTION("multipart uploads, and resuming one") {
        EnvGuard small{{"MLO_S3_MULTIPART_THRESHOLD", "1"}, {"MLO_S3_PART_SIZE", "1"}};
        s3::S3Remote mp(spec);
        const uint64_t part = s3::kMinPartSize;  // S3 and moto refuse smaller parts
        const std::string data = random_bytes(size_t(2 * part + 12345), 11);
        write_text(tmp / "big", data);
        mp.put_file("objects/bb/big", tmp / "big", sha256(data));
        CHECK(mp.counters().parts_uploaded == 3);
        CHECK(mp.counters().parts_reused == 0);
        CHECK(fingerprint(mp.get_bytes("objects/bb/big")) == fingerprint(data));
        CHECK(mp.list_multipart_uploads("objects/bb/big").empty());

        // A small file above the threshold goes up as a one-part upload.
        mp.put_file("meta/small", tmp / "big", sha256(data));  // (content checked below)
        write_text(tmp / "small", "tiny");
        mp.put_file("meta/small", tmp / "small", sha256("tiny"));
        CHECK(mp.get_bytes("meta/small") == "tiny");

        // An interrupted upload: parts 1 and 2 sent, part 3 holds other bytes of its size.
        const std::string key = "objects/cc/resumed";
        const std::string upload = mp.create_multipart_upload(key);
        Fd fd = open_read(tmp / "big");
        for (int i = 0; i < 2; ++i) {
            std::string piece = data.substr(size_t(i * part), size_t(part));
            mp.upload_part(key, upload, i + 1, fd.get(), uint64_t(i) * part, part, sha256(piece));
        }
        const std::string wrong(12345, 'w');
        write_text(tmp / "wrong", wrong);
        Fd wfd = open_read(tmp / "wrong");
        mp.upload_part(key, upload, 3, wfd.get(), 0, wrong.size(), sha256(wrong));
        auto held = mp.list_parts(key, upload);
        REQUIRE(held);
        CHECK(held->size() == 3);
        const uint64_t uploaded_before = mp.counters().parts_uploaded;

        mp.put_file(key, tmp / "big", sha256(data));
        CHECK(mp.counters().parts_reused == 2);
        CHECK(mp.counters().parts_uploaded - uploaded_before == 1);
        CHECK(fingerprint(mp.get_bytes(key)) == fingerprint(data));
        CHECK(mp.list_multipart_uploads(key).empty());
        CHECK_FALSE(mp.list_parts(key, upload).has_value());

        // An upload that was aborted is not resumed: a fresh one is made.
        const std::string gone = mp.create_multipart_upload("objects/dd/gone");
        mp.abort_multipart_upload("objects/dd/gone", gone);
        CHECK(mp.list_multipart_uploads("objects/dd/gone").empty());
        mp.put_file("objects/dd/gone", tmp / "small", sha256("tiny"));
        CHECK(mp.get_bytes("objects/dd/gone") == "tiny");
    }

    SECTION("a missing bucket is an error naming it") {
        auto missing = open_s3_remote(spec_for("s3://" + bucket + "-missing", endpoint));
        CHECK_THROWS_WITH(missing->list("", [](std::string_view, uint64_t) {}),
                          Catch::Contains("bucket '" + bucket + "-missing' does not exist"));
        CHECK_THROWS_WITH(missing->get_bytes("k"), Catch::Contains("does not exist"));
    }
}
