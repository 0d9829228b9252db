#include <algorithm>
#include <random>

#include "storage/error.hpp"
#include "storage/manifest.hpp"
#include "testutil.hpp"

using namespace mlo;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

ManifestEntry entry(std::string path, std::string_view content, bool executable = false) {
    ManifestEntry e;
    e.path = std::move(path);
    e.digest = sha256(content);
    e.size = content.size();
    e.executable = executable;
    return e;
}

std::vector<std::string> paths_of(const Manifest& m) {
    std::vector<std::string> out;
    for (const auto& e : m.entries())
        out.push_back(e.path);
    return out;
}

void check_same_entries(const Manifest& a, const Manifest& b) {
    REQUIRE(a.entries().size() == b.entries().size());
    for (size_t i = 0; i < a.entries().size(); ++i) {
        const auto& x = a.entries()[i];
        const auto& y = b.entries()[i];
        CAPTURE(i, x.path);
        CHECK(x.path == y.path);
        CHECK(x.digest == y.digest);
        CHECK(x.size == y.size);
        CHECK(x.executable == y.executable);
    }
}

const std::string kHello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

// The error message of parsing `text` as manifest "m1" (empty if it parsed).
std::string parse_error(const std::string& text) {
    try {
        Manifest::parse(text, "m1");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a fixed manifest serializes to the documented text and has a stable id", "[manifest]") {
    // Given in reverse order on purpose.
    Manifest m({entry("b.txt", "hello\n"), entry("a/run.sh", "#!/bin/sh\n", true)});
    const std::string expected =
        "mlo-manifest 1\n"
        "a8076d3d28d21e02012b20eaf7dbf75409a6277134439025f282e368e3305abf 10 x a/run.sh\n"
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 6 - b.txt\n";
    CHECK(m.serialize() == expected);
    // Computed independently: printf '<expected>' | sha256sum
    CHECK(to_hex(sha256(m.serialize())) ==
          "87c16ae229d09c5d91bba5705fb1534db561077efa6164d32ac5263db6e6bb1f");
    CHECK(m.total_size() == 16);

    // The same entries in the other order give the same bytes, hence the same id.
    Manifest again({entry("a/run.sh", "#!/bin/sh\n", true), entry("b.txt", "hello\n")});
    CHECK(again.serialize() == expected);
}

TEST_CASE("manifest serialize and parse round-trip", "[manifest]") {
    Manifest m({entry("data/train.csv", "a,b\n1,2\n"), entry("data/test.csv", "a,b\n3,4\n"),
                entry("bin/tool", "#!/bin/sh\necho\n", true), entry("empty", ""),
                entry("deep/er/still/file.bin", std::string(1000, '\xff'))});
    const std::string text = m.serialize();
    Manifest back = Manifest::parse(text, "m");
    check_same_entries(m, back);
    CHECK(back.serialize() == text);
    CHECK(back.total_size() == m.total_size());

    Manifest empty;
    CHECK(empty.serialize() == "mlo-manifest 1\n");
    CHECK(Manifest::parse("mlo-manifest 1\n", "m").entries().empty());
}

TEST_CASE("manifest entries are sorted bytewise whatever the input order", "[manifest]") {
    // '-' (0x2d) < '/' (0x2f) < '0' (0x30) < 'A' < 'a' < 0xc3 (UTF-8 lead byte of 'é').
    std::vector<std::string> names = {
        "\xc3\xa9t\xc3\xa9", "a0", "a/b", "a-c", "Z", "a", "b/a/z", "b/a"};
    const std::vector<std::string> sorted = {"Z",  "a",   "a-c",   "a/b",
                                             "a0", "b/a", "b/a/z", "\xc3\xa9t\xc3\xa9"};
    std::mt19937 rng(99);
    for (int round = 0; round < 50; ++round) {
        std::shuffle(names.begin(), names.end(), rng);
        std::vector<ManifestEntry> entries;
        for (const auto& n : names)
            entries.push_back(entry(n, n));
        Manifest m(std::move(entries));
        REQUIRE(paths_of(m) == sorted);
        // Parsing accepts exactly this order.
        CHECK(paths_of(Manifest::parse(m.serialize(), "m")) == sorted);
    }
}

TEST_CASE("manifest find looks entries up by exact path", "[manifest]") {
    Manifest m({entry("a/b", "1"), entry("a", "2"), entry("c", "3")});
    REQUIRE(m.find("a") != nullptr);
    CHECK(m.find("a")->digest == sha256("2"));
    REQUIRE(m.find("a/b") != nullptr);
    CHECK(m.find("a/b")->digest == sha256("1"));
    CHECK(m.find("b") == nullptr);
    CHECK(m.find("a/") == nullptr);
    CHECK(m.find("d") == nullptr);
    CHECK(m.find("") == nullptr);
}

TEST_CASE("a duplicate path in a manifest is rejected", "[manifest]") {
    CHECK_THROWS_MATCHES(Manifest({entry("x", "1"), entry("y", "2"), entry("x", "3")}), Error,
                         Catch::Matchers::Message("duplicate path in directory manifest: 'x'"));
}

TEST_CASE("backslash, newline and CR in names are escaped and round-trip", "[manifest]") {
    Manifest m({entry("back\\slash", "1"), entry("new\nline", "2"), entry("car\rriage", "3"),
                entry("all\\\n\r\\n", "4"), entry("tab\there", "5")});
    const std::string text = m.serialize();
    // One line per entry plus the header: no raw newline leaks from a name.
    CHECK(std::count(text.begin(), text.end(), '\n') == 6);
    CHECK(text.find('\r') == std::string::npos);
    CHECK_THAT(text, Contains(" - back\\\\slash\n"));
    CHECK_THAT(text, Contains(" - new\\nline\n"));
    CHECK_THAT(text, Contains(" - car\\rriage\n"));
    CHECK_THAT(text, Contains(" - all\\\\\\n\\r\\\\n\n"));
    CHECK_THAT(text, Contains(" - tab\there\n"));
    Manifest back = Manifest::parse(text, "m");
    check_same_entries(m, back);
}

TEST_CASE("manifest parse errors name the manifest and the line", "[manifest]") {
    const std::string h = kHello;
    const std::string head = "mlo-manifest 1\n";
    const std::string ok_a = h + " 6 - a\n";

    SECTION("bad header") {
        CHECK_THAT(parse_error("mlo-manifest 2\n"),
                   StartsWith("cannot read manifest 'm1' line 1: "));
        CHECK_THAT(parse_error("hello\n" + ok_a), StartsWith("cannot read manifest 'm1' line 1: "));
    }
    SECTION("empty text") {
        CHECK_THAT(parse_error(""), StartsWith("cannot read manifest 'm1'"));
    }
    SECTION("bad hash") {
        std::string bad = h;
        bad[5] = 'G';
        CHECK_THAT(parse_error(head + ok_a + bad + " 6 - b\n"),
                   StartsWith("cannot read manifest 'm1' line 3: ") && Contains("hash"));
        std::string upper = h;
        upper[4] = 'B';  // "5891B5..." instead of "5891b5...": hex must be lowercase
        CHECK_THAT(parse_error(head + upper + " 6 - b\n"),
                   StartsWith("cannot read manifest 'm1' line 2: "));
    }
    SECTION("bad size") {
        CHECK_THAT(parse_error(head + ok_a + h + " 6x - b\n"),
                   StartsWith("cannot read manifest 'm1' line 3: ") && Contains("size"));
        CHECK_THAT(parse_error(head + h + " -6 - b\n"),
                   StartsWith("cannot read manifest 'm1' line 2: "));
        CHECK_THAT(parse_error(head + h + "  - b\n"),
                   StartsWith("cannot read manifest 'm1' line 2: "));
        CHECK_THAT(parse_error(head + h + " 99999999999999999999999 - b\n"),
                   StartsWith("cannot read manifest 'm1' line 2: "));
    }
    SECTION("bad mode") {
        CHECK_THAT(parse_error(head + ok_a + h + " 6 y b\n"),
                   StartsWith("cannot read manifest 'm1' line 3: ") && Contains("mode"));
        CHECK_THAT(parse_error(head + h + " 6 xx b\n"),
                   StartsWith("cannot read manifest 'm1' line 2: "));
    }
    SECTION("entries out of order") {
        CHECK_THAT(parse_error(head + h + " 6 - b\n" + ok_a),
                   StartsWith("cannot read manifest 'm1' line 3: ") && Contains("order"));
    }
    SECTION("duplicate entry") {
        CHECK_THAT(parse_error(head + ok_a + ok_a),
                   StartsWith("cannot read manifest 'm1' line 3: "));
    }
    SECTION("missing final newline") {
        CHECK_THAT(parse_error(head + ok_a + h + " 6 - b"),
                   StartsWith("cannot read manifest 'm1' line 3: ") && Contains("newline"));
        CHECK_THAT(parse_error("mlo-manifest 1"), StartsWith("cannot read manifest 'm1' line 1: "));
    }
    SECTION("unsafe or badly escaped path") {
        CHECK_THAT(parse_error(head + h + " 6 - ../etc/passwd\n"),
                   StartsWith("cannot read manifest 'm1' line 2: ") && Contains("path"));
        CHECK_THAT(parse_error(head + h + " 6 - /abs\n"),
                   StartsWith("cannot read manifest 'm1' line 2: "));
        CHECK_THAT(parse_error(head + h + " 6 - bad\\tescape\n"),
                   StartsWith("cannot read manifest 'm1' line 2: "));
        CHECK_THAT(parse_error(head + h + " 6 - trailing\\\n"),
                   StartsWith("cannot read manifest 'm1' line 2: "));
        CHECK_THAT(parse_error(head + h + " 6 - \n"),
                   StartsWith("cannot read manifest 'm1' line 2: "));
    }
}

TEST_CASE("is_safe_relative_path keeps paths below their directory", "[manifest]") {
    for (const char* bad :
         {"", "/a", "a//b", "./a", "a/../b", "..", ".", "a/", "a/.", "a/..", "../a", "/", "//"}) {
        CAPTURE(bad);
        CHECK_FALSE(is_safe_relative_path(bad));
    }
    CHECK_FALSE(is_safe_relative_path(std::string_view("a\0b", 3)));
    for (const char* good : {"a/b.c", "a", ".hidden", "..foo", "a/...", "a b/c d", "x/y/z"}) {
        CAPTURE(good);
        CHECK(is_safe_relative_path(good));
    }
}
