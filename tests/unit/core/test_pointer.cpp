#include "core/pointer.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using mlo::test::read_text;
using mlo::test::TempDir;
using mlo::test::write_text;

namespace {

const std::string kHex = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const std::string kShown = "data/train.csv.mlo";

// Writes `text` as data/train.csv.mlo and returns read_pointer's error message ("" if none).
std::string read_error(const TempDir& tmp, const std::string& text) {
    const fs::path file = tmp / "data" / "train.csv.mlo";
    write_text(file, text);
    try {
        read_pointer(file, "data/train.csv", kShown);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::string at(int line) {
    return "cannot read '" + kShown + "' line " + std::to_string(line);
}

const std::string kPath = "path: train.csv\n";
const std::string kHash = "hash: sha256:" + kHex + "\n";
const std::string kSize = "size: 6\n";

}  // namespace

TEST_CASE("pointer file names", "[pointer]") {
    CHECK(pointer_file_for("/r/data/train.csv") == fs::path("/r/data/train.csv.mlo"));
    CHECK(pointer_file_for("images") == fs::path("images.mlo"));
    CHECK(is_pointer_name("train.csv.mlo"));
    CHECK(is_pointer_name("a.mlo"));
    CHECK_FALSE(is_pointer_name(".mlo"));
    CHECK_FALSE(is_pointer_name("a.mlox"));
    CHECK_FALSE(is_pointer_name("a.ml"));
    CHECK_FALSE(is_pointer_name("mlo"));
}

TEST_CASE("a file pointer is written in the documented format and reads back", "[pointer]") {
    TempDir tmp;
    Pointer p;
    p.file = tmp / "data" / "train.csv.mlo";
    p.rel = "data/train.csv";
    p.digest = *digest_from_hex(kHex);
    p.size = 6;
    CHECK(p.data_path() == tmp / "data" / "train.csv");
    CHECK(p.name() == "train.csv");
    CHECK(pointer_text(p) == "path: train.csv\nhash: sha256:" + kHex + "\nsize: 6\n");

    fs::create_directories(tmp / "data");
    write_pointer(p, Sync::no);
    CHECK(read_text(p.file) == pointer_text(p));
    Pointer back = read_pointer(p.file, "data/train.csv", kShown);
    CHECK(back.file == p.file);
    CHECK(back.rel == "data/train.csv");
    CHECK(back.digest == p.digest);
    CHECK(back.size == 6);
    CHECK_FALSE(back.is_dir);
    CHECK(back.files == 0);
}

TEST_CASE("a directory pointer is written in the documented format and reads back", "[pointer]") {
    TempDir tmp;
    Pointer p;
    p.file = tmp / "images.mlo";
    p.rel = "images";
    p.digest = sha256("manifest");
    p.size = 18446744073709551615ULL;  // the largest size survives the round trip
    p.is_dir = true;
    p.files = 3;
    CHECK(pointer_text(p) == "path: images\nhash: sha256:" + to_hex(p.digest) +
                                 "\nsize: 18446744073709551615\nkind: dir\nfiles: 3\n");
    write_pointer(p, Sync::yes);
    Pointer back = read_pointer(p.file, "images", "images.mlo");
    CHECK(back.digest == p.digest);
    CHECK(back.size == p.size);
    CHECK(back.is_dir);
    CHECK(back.files == 3);
}

TEST_CASE("pointer files round-trip names that YAML treats specially", "[pointer]") {
    TempDir tmp;
    const std::string name =
        GENERATE(as<std::string>{}, "null", "~", "true", "no", "123", "0x1F", "1e3", "#hash",
                 "a: b", "a #b", "- x", "[x]", "{y}", "*star", "&anchor", "!tag", "%pct", "@at",
                 "`tick", "?q", "|pipe", ">gt", "'single'", "\"double\"", " lead", "trail ",
                 "\xc3\xa9t\xc3\xa9.csv", "back\\slash", ",comma");
    CAPTURE(name);
    Pointer p;
    p.file = tmp / (name + ".mlo");
    p.rel = name;
    p.digest = sha256(name);
    p.size = 42;
    write_pointer(p, Sync::no);
    Pointer back = read_pointer(p.file, name, name + ".mlo");
    CHECK(back.digest == p.digest);
    CHECK(back.size == 42);
    CHECK(back.name() == name);
}

TEST_CASE("a valid pointer may list its keys in any order and say kind: file", "[pointer]") {
    TempDir tmp;
    CHECK(read_error(tmp, kSize + "kind: file\n" + kHash + kPath) == "");
    CHECK(read_error(tmp, "# a comment\n" + kPath + kHash + kSize) == "");
}

TEST_CASE("malformed pointer files are errors naming the file and the line", "[pointer]") {
    TempDir tmp;
    SECTION("broken YAML") {
        CHECK_THAT(read_error(tmp, kPath + "hash: [sha256:" + kHex + "\n" + kSize),
                   StartsWith("cannot read '" + kShown + "' line "));
        CHECK_THAT(read_error(tmp, kPath + "  bad: indentation\n"), StartsWith(at(2) + " column "));
        CHECK_THAT(read_error(tmp, kPath + "hash: \"unterminated\n" + kSize),
                   StartsWith("cannot read '" + kShown + "' line "));
    }
    SECTION("not a mapping") {
        CHECK_THAT(read_error(tmp, "- path\n- hash\n"), StartsWith(at(1) + ": not a pointer file"));
        CHECK_THAT(read_error(tmp, "just text\n"), StartsWith(at(1) + ": "));
        CHECK_THAT(read_error(tmp, ""), StartsWith(at(1) + ": "));
    }
    SECTION("unknown key") {
        CHECK(read_error(tmp, kPath + kHash + kSize + "sise: 6\n") ==
              at(4) + " column 1: unknown key 'sise'");
    }
    SECTION("hash without the sha256: prefix") {
        CHECK(read_error(tmp, kPath + "hash: " + kHex + "\n" + kSize) ==
              at(2) + " column 7: 'hash' must be 'sha256:' and 64 lowercase hex digits, not '" +
                  kHex + "'");
        CHECK_THAT(read_error(tmp, kPath + "hash: md5:" + kHex + "\n" + kSize),
                   StartsWith(at(2) + " column 7: 'hash' must be"));
        CHECK_THAT(read_error(tmp, kPath + "hash: SHA256:" + kHex + "\n" + kSize),
                   StartsWith(at(2) + " column 7: 'hash' must be"));
    }
    SECTION("hash of the wrong length") {
        CHECK_THAT(read_error(tmp, kPath + "hash: sha256:" + kHex.substr(1) + "\n" + kSize),
                   StartsWith(at(2) + " column 7: 'hash' must be"));
        CHECK_THAT(read_error(tmp, kPath + "hash: sha256:" + kHex + "0\n" + kSize),
                   StartsWith(at(2) + " column 7: 'hash' must be"));
        CHECK_THAT(read_error(tmp, kPath + "hash: \"sha256:\"\n" + kSize),
                   StartsWith(at(2) + " column 7: 'hash' must be"));
    }
    SECTION("hash in uppercase") {
        std::string upper = kHex;
        for (auto& c : upper)
            c = char(std::toupper(static_cast<unsigned char>(c)));
        CHECK_THAT(read_error(tmp, kPath + "hash: sha256:" + upper + "\n" + kSize),
                   StartsWith(at(2) + " column 7: 'hash' must be"));
    }
    SECTION("negative or non-numeric size") {
        for (const char* bad :
             {"-1", "abc", "1.5", "6 bytes", "0x10", "\"\"", "+6", "18446744073709551616"}) {
            CAPTURE(bad);
            CHECK_THAT(read_error(tmp, kPath + kHash + "size: " + bad + "\n"),
                       StartsWith(at(3) + " column 7: 'size' must be a non-negative integer"));
        }
        CHECK_THAT(read_error(tmp, kPath + kHash + "size: [6]\n"),
                   StartsWith(at(3) + " column 7: 'size' must be a single value"));
    }
    SECTION("kind other than file or dir") {
        CHECK(read_error(tmp, kPath + kHash + kSize + "kind: folder\n") ==
              at(4) + " column 7: 'kind' must be 'file' or 'dir', not 'folder'");
        CHECK_THAT(read_error(tmp, kPath + kHash + kSize + "kind: Dir\n"),
                   StartsWith(at(4) + " column 7: 'kind' must be"));
    }
    SECTION("dir without files") {
        CHECK(read_error(tmp, kPath + kHash + kSize + "kind: dir\n") ==
              at(1) + ": missing key 'files'");
    }
    SECTION("files on a file pointer") {
        CHECK(read_error(tmp, kPath + kHash + kSize + "files: 3\n") ==
              at(1) + ": 'files' is only for 'kind: dir'");
        CHECK(read_error(tmp, kPath + kHash + kSize + "kind: file\nfiles: 3\n") ==
              at(1) + ": 'files' is only for 'kind: dir'");
    }
    SECTION("bad files count") {
        CHECK_THAT(read_error(tmp, kPath + kHash + kSize + "kind: dir\nfiles: -3\n"),
                   StartsWith(at(5) + " column 8: 'files' must be a non-negative integer"));
    }
    SECTION("path not matching the pointer file's name") {
        CHECK(read_error(tmp, "path: test.csv\n" + kHash + kSize) ==
              at(1) + " column 7: 'path' is 'test.csv' but this pointer file is for 'train.csv'");
        CHECK_THAT(read_error(tmp, "path: data/train.csv\n" + kHash + kSize),
                   StartsWith(at(1) + " column 7: 'path' is 'data/train.csv'"));
        CHECK_THAT(read_error(tmp, "path: [train.csv]\n" + kHash + kSize),
                   StartsWith(at(1) + " column 7: 'path' must be a single value"));
    }
    SECTION("missing path, hash or size") {
        CHECK(read_error(tmp, kHash + kSize) == at(1) + ": missing key 'path'");
        CHECK(read_error(tmp, kPath + kSize) == at(1) + ": missing key 'hash'");
        CHECK(read_error(tmp, kPath + kHash) == at(1) + ": missing key 'size'");
    }
}

TEST_CASE("a missing pointer file is an error naming it", "[pointer]") {
    TempDir tmp;
    CHECK_THROWS_MATCHES(read_pointer(tmp / "nope.mlo", "nope", "nope.mlo"), Error,
                         Catch::Matchers::Message("cannot open '" + (tmp / "nope.mlo").string() +
                                                  "': No such file or directory"));
}
