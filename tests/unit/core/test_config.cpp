#include "core/config.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::StartsWith;
using mlo::test::TempDir;
using mlo::test::write_text;

namespace {

using Order = std::vector<LinkKind>;

Config load_text(const TempDir& tmp, const std::string& text) {
    write_text(tmp / "config.yaml", text);
    return Config::load(tmp / "config.yaml");
}

std::string load_error(const TempDir& tmp, const std::string& text) {
    try {
        load_text(tmp, text);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("config defaults", "[config]") {
    TempDir tmp;
    const Config c = Config::load(tmp / "missing.yaml");
    CHECK(c.link == Order{LinkKind::reflink, LinkKind::copy});
    CHECK(c.jobs == 0);
    CHECK(c.fsync);

    // The file written by init says the same.
    const Config from_default = load_text(tmp, Config::default_text());
    CHECK(from_default.link == c.link);
    CHECK(from_default.jobs == 0);
    CHECK(from_default.fsync);

    for (const char* empty : {"", "# only a comment\n", "core:\n", "core: {}\n"}) {
        CAPTURE(empty);
        const Config e = load_text(tmp, empty);
        CHECK(e.link == Order{LinkKind::reflink, LinkKind::copy});
        CHECK(e.jobs == 0);
        CHECK(e.fsync);
    }
}

TEST_CASE("config values", "[config]") {
    TempDir tmp;
    SECTION("link as a string") {
        CHECK(load_text(tmp, "core:\n  link: hardlink, copy\n").link ==
              Order{LinkKind::hardlink, LinkKind::copy});
        CHECK(load_text(tmp, "core:\n  link: copy\n").link == Order{LinkKind::copy});
    }
    SECTION("link as a flow list") {
        CHECK(load_text(tmp, "core:\n  link: [reflink, hardlink, copy]\n").link ==
              Order{LinkKind::reflink, LinkKind::hardlink, LinkKind::copy});
    }
    SECTION("link as a block list") {
        CHECK(load_text(tmp, "core:\n  link:\n    - hardlink\n    - copy\n").link ==
              Order{LinkKind::hardlink, LinkKind::copy});
    }
    SECTION("jobs and fsync") {
        const Config c = load_text(tmp, "core:\n  jobs: 4\n  fsync: false\n");
        CHECK(c.jobs == 4);
        CHECK_FALSE(c.fsync);
        CHECK(c.link == Order{LinkKind::reflink, LinkKind::copy});
        CHECK_FALSE(load_text(tmp, "core:\n  fsync: no\n").fsync);
        CHECK_FALSE(load_text(tmp, "core:\n  fsync: off\n").fsync);
        CHECK(load_text(tmp, "core:\n  fsync: yes\n").fsync);
        CHECK(load_text(tmp, "core:\n  fsync: on\n").fsync);
    }
}

TEST_CASE("config errors name the file and the line", "[config]") {
    TempDir tmp;
    const std::string where = "cannot read '" + (tmp / "config.yaml").string() + "' line ";
    SECTION("unknown key") {
        CHECK(load_error(tmp, "core:\n  jobs: 2\n  lnk: copy\n") ==
              where + "3 column 3: unknown key 'core.lnk'");
    }
    SECTION("unknown section") {
        CHECK(load_error(tmp, "core:\n  jobs: 2\nremote:\n  x: 1\n") ==
              where + "3 column 1: unknown section 'remote'");
    }
    SECTION("unknown link strategy") {
        CHECK(load_error(tmp, "core:\n  link: reflink,cpy\n") ==
              where +
                  "2 column 9: unknown link strategy 'cpy' (expected reflink, hardlink or copy)");
        CHECK_THAT(load_error(tmp, "core:\n  link:\n    - reflink\n    - hardlinks\n"),
                   StartsWith(where + "3 column 5: unknown link strategy 'hardlinks'"));
        CHECK_THAT(load_error(tmp, "core:\n  link: []\n"), StartsWith(where + "2 column 9: "));
        CHECK_THAT(load_error(tmp, "core:\n  link: {a: b}\n"),
                   StartsWith(where + "2 column 9: 'core.link' must be a single value"));
    }
    SECTION("bad jobs") {
        for (const char* bad : {"-1", "many", "1.5", "\"\""}) {
            CAPTURE(bad);
            CHECK_THAT(
                load_error(tmp, std::string("core:\n  fsync: true\n  jobs: ") + bad + "\n"),
                StartsWith(where + "3 column 9: 'core.jobs' must be a non-negative integer"));
        }
    }
    SECTION("jobs too large for the thread count") {
        // 2^32 would silently become 0 ("all cores") if truncated to unsigned.
        CHECK_THAT(load_error(tmp, "core:\n  jobs: 4294967296\n"),
                   StartsWith(where + "2 column 9: "));
    }
    SECTION("bad fsync") {
        CHECK(load_error(tmp, "core:\n  fsync: maybe\n") ==
              where + "2 column 10: 'core.fsync' must be true or false, not 'maybe'");
    }
    SECTION("not a mapping") {
        CHECK_THAT(load_error(tmp, "core: 5\n"), StartsWith(where + "1 column 7: "));
        CHECK_THAT(load_error(tmp, "- core\n"), StartsWith(where + "1 column 1: "));
    }
    SECTION("broken YAML") {
        CHECK_THAT(load_error(tmp, "core:\n  link: [reflink, copy\n  jobs: 2\n"),
                   StartsWith(where));
    }
}
