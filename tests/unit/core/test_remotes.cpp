// Remotes in .mlo/config.yaml: added and removed without disturbing the rest of the file.

#include "core/config.hpp"
#include "core/remotes.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using mlo::test::read_text;
using mlo::test::TempDir;
using mlo::test::write_text;

namespace {

RemoteSpec spec_of(const std::string& name, const std::string& url) {
    RemoteSpec r;
    r.name = name;
    r.url = url;
    return r;
}

}  // namespace

TEST_CASE("remote add writes its section and keeps the rest of the file", "[remotes]") {
    TempDir tmp;
    const fs::path file = tmp / "config.yaml";
    write_text(file, core::Config::default_text() + "# my own note\n");
    RemoteSpec s3 = spec_of("origin", "s3://ml-team/churn data");
    s3.endpoint = "http://127.0.0.1:9000";
    s3.region = "eu-west-1";
    s3.profile = "team";
    s3.path_style = true;
    core::add_remote(file, s3, true);
    core::add_remote(file, spec_of("usb", "../usb store"), false);

    std::string text = read_text(file);
    CHECK(text.find("# How checkout makes workspace files") != std::string::npos);
    CHECK(text.find("# my own note") != std::string::npos);
    core::Config c = core::Config::load(file);
    REQUIRE(c.remotes.size() == 2);
    CHECK(c.default_remote == "origin");
    CHECK(c.remotes[0].url == "s3://ml-team/churn data");
    CHECK(c.remotes[0].endpoint == "http://127.0.0.1:9000");
    CHECK(c.remotes[0].region == "eu-west-1");
    CHECK(c.remotes[0].profile == "team");
    CHECK(c.remotes[0].path_style);
    CHECK(c.remotes[1].url == "../usb store");
    CHECK(core::find_remote(c, "").name == "origin");
    CHECK(core::find_remote(c, "usb").name == "usb");

    core::set_default_remote(file, "usb");
    CHECK(core::Config::load(file).default_remote == "usb");
    core::remove_remote(file, "usb");
    c = core::Config::load(file);
    REQUIRE(c.remotes.size() == 1);
    CHECK(c.default_remote.empty());
    // One remote is the default without being marked.
    CHECK(core::find_remote(c, "").name == "origin");
    core::remove_remote(file, "origin");
    c = core::Config::load(file);
    CHECK(c.remotes.empty());
    CHECK(read_text(file).find("remotes:") == std::string::npos);
    CHECK(read_text(file).find("# my own note") != std::string::npos);
}

TEST_CASE("bad remotes are refused and the file is left alone", "[remotes]") {
    TempDir tmp;
    const fs::path file = tmp / "config.yaml";
    write_text(file, core::Config::default_text());
    core::add_remote(file, spec_of("a", "/srv/a"), false);
    const std::string before = read_text(file);
    CHECK_THROWS_WITH(core::add_remote(file, spec_of("a", "/srv/b"), false),
                      Catch::Contains("already exists"));
    CHECK_THROWS_WITH(core::add_remote(file, spec_of("b", "s3://Bad_Bucket"), false),
                      Catch::Contains("Bad_Bucket"));
    CHECK_THROWS_WITH(core::add_remote(file, spec_of("b", "s3://ab"), false),
                      Catch::Contains("bucket"));
    CHECK_THROWS_WITH(core::add_remote(file, spec_of("b", "http://x/y"), false),
                      Catch::Contains("unsupported"));
    CHECK_THROWS_WITH(core::add_remote(file, spec_of("-b", "/srv/b"), false),
                      Catch::Contains("invalid remote name"));
    RemoteSpec dir_with_endpoint = spec_of("b", "/srv/b");
    dir_with_endpoint.endpoint = "http://h";
    CHECK_THROWS_WITH(core::add_remote(file, dir_with_endpoint, false), Catch::Contains("s3://"));
    CHECK_THROWS_WITH(core::remove_remote(file, "zz"), Catch::Contains("no remote named 'zz'"));
    CHECK(read_text(file) == before);
}

TEST_CASE("which remote a command uses", "[remotes]") {
    core::Config c;
    CHECK_THROWS_WITH(core::find_remote(c, ""), Catch::Contains("no remote is configured"));
    c.remotes = {spec_of("a", "/a"), spec_of("b", "/b")};
    CHECK_THROWS_WITH(core::find_remote(c, ""), Catch::Contains("no default remote"));
    c.default_remote = "b";
    CHECK(core::find_remote(c, "").name == "b");
    CHECK_THROWS_WITH(core::find_remote(c, "c"), Catch::Contains("configured: a, b"));
}

TEST_CASE("config.yaml: remote entries are checked like every other key", "[remotes]") {
    TempDir tmp;
    const fs::path file = tmp / "config.yaml";
    write_text(file, "remotes:\n  a:\n    url: /a\n    colour: red\n");
    CHECK_THROWS_WITH(core::Config::load(file), Catch::Contains("remotes.a.colour"));
    write_text(file, "remotes:\n  a:\n    endpoint: http://h\n");
    CHECK_THROWS_WITH(core::Config::load(file), Catch::Contains("has no 'url'"));
    write_text(file, "remotes:\n  a: {url: /a, default: true}\n  b: {url: /b, default: true}\n");
    CHECK_THROWS_WITH(core::Config::load(file), Catch::Contains("both marked default"));
}
