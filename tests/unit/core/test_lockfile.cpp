#include "core/lockfile.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;

namespace {

LockedPath locked(const std::string& path, const std::string& content, bool dir = false) {
    LockedPath lp;
    lp.path = path;
    lp.snap.exists = true;
    lp.snap.digest = sha256(content);
    lp.snap.size = content.size();
    lp.snap.is_dir = dir;
    lp.snap.files = dir ? 3 : 0;
    return lp;
}

}  // namespace

TEST_CASE("mlo.lock round-trips every field", "[lockfile]") {
    LockFile lock;
    LockEntry& e = lock.stages["train@small"];
    e.cmd = "awk -F, -v x=${not.interpolated} 'NR>1 {print $1}' data.csv > out: \"quoted\"";
    e.deps = {locked("data/train.csv", "abc"), locked("data/raw", "manifest", true)};
    e.outs = {locked("models/m.txt", "model")};
    e.params["params.yaml"]["train.l2"] = 0.1;
    e.params["params.yaml"]["train.name"] = "0.1";  // a string that looks like a number
    e.params["params.yaml"]["train.flag"] = true;
    e.params["params.yaml"]["train.none"] = nullptr;
    e.params["params.yaml"]["train.layers"] = nlohmann::json::array({1, 2, "x"});
    e.params["other.yaml"]["yes"] = "yes";
    lock.stages["prepare"].cmd = "true";

    const std::string text = lock.serialize();
    LockFile back = LockFile::parse(text, "mlo.lock");
    REQUIRE(back.stages.size() == 2);
    const LockEntry& b = back.stages.at("train@small");
    CHECK(b.cmd == e.cmd);
    REQUIRE(b.deps.size() == 2);
    CHECK(b.deps[0].path == "data/train.csv");
    CHECK(b.deps[0].snap.digest == sha256(std::string("abc")));
    CHECK(b.deps[0].snap.size == 3);
    CHECK_FALSE(b.deps[0].snap.is_dir);
    CHECK(b.deps[1].snap.is_dir);
    CHECK(b.deps[1].snap.files == 3);
    REQUIRE(b.outs.size() == 1);
    CHECK(b.outs[0].snap.digest == sha256(std::string("model")));
    // Types survive: the number stays a number, the numeric-looking string a string.
    CHECK(b.params.at("params.yaml").at("train.l2") == nlohmann::json(0.1));
    CHECK(b.params.at("params.yaml").at("train.name") == nlohmann::json("0.1"));
    CHECK(b.params.at("params.yaml").at("train.flag") == nlohmann::json(true));
    CHECK(b.params.at("params.yaml").at("train.none").is_null());
    CHECK(b.params.at("params.yaml").at("train.layers") == nlohmann::json::array({1, 2, "x"}));
    CHECK(b.params.at("other.yaml").at("yes") == nlohmann::json("yes"));
    CHECK(back.stages.at("prepare").cmd == "true");
    // Serialising again gives the same bytes (a stable file in git).
    CHECK(back.serialize() == text);
    CHECK_THAT(text, Contains("schema: mlo-lock 1"));
}

TEST_CASE("a missing mlo.lock is empty, a broken one names file and line", "[lockfile]") {
    mlo::test::TempDir tmp;
    Repository::init(tmp.path());
    Repository repo(tmp.path());
    CHECK(LockFile::load(repo).stages.empty());
    mlo::test::write_text(tmp / "mlo.lock",
                          "schema: mlo-lock 1\nstages:\n  a:\n    cmd: x\n    outs:\n"
                          "      - path: o\n        hash: md5:abc\n        size: 1\n");
    try {
        LockFile::load(repo);
        FAIL("a bad hash was accepted");
    } catch (const Error& e) {
        CHECK_THAT(std::string(e.what()), Contains("mlo.lock") && Contains("line 7"));
    }
    mlo::test::write_text(tmp / "mlo.lock", "schema: mlo-lock 9\n");
    CHECK_THROWS_WITH(LockFile::load(repo), Contains("unknown lock format"));
}
