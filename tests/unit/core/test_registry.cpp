#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "core/registry.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using mlo::test::TempDir;

namespace {

Digest object_of(const std::string& content) {
    return sha256(content);
}

ModelVersion add(Registry& r, const std::string& name, const std::string& content,
                 const std::string& run_id = "", bool* created = nullptr) {
    return r.register_version(name, object_of(content), content.size(), false, run_id,
                              "models/" + name + ".txt", "", created);
}

// Every row of every registry table, as text: equal dumps mean nothing changed.
std::string dump(Database& db) {
    std::string out;
    for (const char* sql :
         {"SELECT name || '|' || created_ns || '|' || user FROM models ORDER BY name",
          "SELECT name || '|' || version || '|' || hex(object) || '|' || size || '|' || is_dir || "
          "'|' || run_id || '|' || source_path || '|' || created_ns FROM model_versions "
          "ORDER BY name, version",
          "SELECT name || '|' || alias || '|' || version FROM model_aliases ORDER BY name, alias",
          "SELECT seq || '|' || time_ns || '|' || action || '|' || name || '|' || version || '|' "
          "|| alias || '|' || ifnull(previous, '-') || '|' || reason FROM model_events "
          "ORDER BY seq"}) {
        Database::Statement q(db, sql);
        while (q.step())
            out += q.column_text(0) + "\n";
        out += "--\n";
    }
    return out;
}

int64_t alias_of(Registry& r, const std::string& name, const std::string& alias) {
    return r.resolve({name, std::nullopt, alias}).version;
}

}  // namespace

TEST_CASE("model references parse NAME, NAME:VERSION and NAME@ALIAS", "[registry]") {
    auto r = parse_model_ref("churn");
    REQUIRE(r);
    CHECK(r->name == "churn");
    CHECK_FALSE(r->version);
    CHECK(r->alias.empty());

    r = parse_model_ref("churn:3");
    REQUIRE(r);
    CHECK(r->name == "churn");
    CHECK(r->version == 3);
    CHECK(r->alias.empty());

    r = parse_model_ref("churn-v2.1@champion");
    REQUIRE(r);
    CHECK(r->name == "churn-v2.1");
    CHECK_FALSE(r->version);
    CHECK(r->alias == "champion");

    CHECK(format_model_ref(*parse_model_ref("a:12")) == "a:12");
    CHECK(format_model_ref(*parse_model_ref("a@prod")) == "a@prod");
    CHECK(format_model_ref(*parse_model_ref("a")) == "a");

    // Not references (a path, or nonsense): nullopt, never an exception.
    for (const char* bad :
         {"", "churn:", "churn:0", "churn:-1", "churn:x", "churn:3:4", "churn@", "churn@2",
          "@champion", ":3", "churn@a@b", "churn:3@x", "models/churn", "./churn", "-churn",
          "_churn", "churn name", "churn:1234567890123456789", "ch\xc3\xa9rn"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_model_ref(bad));
    }
    CHECK(valid_model_name(std::string(64, 'a')));
    CHECK_FALSE(valid_model_name(std::string(65, 'a')));
    CHECK(valid_model_name("7up"));
    CHECK(valid_alias("v2"));
    CHECK_FALSE(valid_alias("2"));
    CHECK_FALSE(valid_alias("champion!"));
}

TEST_CASE("versions are numbered from 1 and registering the same model again is idempotent",
          "[registry]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    Registry reg(db);
    bool created = false;
    ModelVersion v1 = add(reg, "churn", "model one", "run-a", &created);
    CHECK(created);
    CHECK(v1.version == 1);
    CHECK(v1.object == object_of("model one"));
    CHECK(v1.run_id == "run-a");
    CHECK(v1.source_path == "models/churn.txt");
    CHECK(v1.created_ns > 0);

    // The same object and run as the newest version: that version, nothing written.
    std::string before = dump(db);
    ModelVersion again = add(reg, "churn", "model one", "run-a", &created);
    CHECK_FALSE(created);
    CHECK(again.version == 1);
    CHECK(dump(db) == before);

    CHECK(add(reg, "churn", "model two", "run-b", &created).version == 2);
    CHECK(created);
    // The same bytes from another run are a new version; so are the first bytes again (the
    // check is against the newest version only).
    CHECK(add(reg, "churn", "model two", "run-c").version == 3);
    CHECK(add(reg, "churn", "model one", "run-a").version == 4);
    // Models are numbered independently.
    CHECK(add(reg, "other", "model one").version == 1);

    CHECK(reg.names() == std::vector<std::string>{"churn", "other"});
    auto versions = reg.versions("churn");
    REQUIRE(versions.size() == 4);
    for (size_t i = 0; i < versions.size(); ++i)
        CHECK(versions[i].version == int64_t(i + 1));
    CHECK(reg.resolve({"churn", std::nullopt, ""}).version == 4);
    CHECK(reg.resolve({"churn", 2, ""}).object == object_of("model two"));
    CHECK(reg.find("churn", 3));
    CHECK_FALSE(reg.find("churn", 5));
    CHECK(reg.has_model("other"));
    CHECK_FALSE(reg.has_model("nope"));

    auto objects = reg.all_objects();
    CHECK(std::set<Digest>(objects.begin(), objects.end()) ==
          std::set<Digest>{object_of("model one"), object_of("model two")});
    CHECK(reg.all_versions().size() == 5);

    // Only registrations so far: one event each.
    auto history = reg.history("churn");
    REQUIRE(history.size() == 4);
    CHECK(history[0].action == "register");
    CHECK(history[0].alias.empty());
    CHECK_FALSE(history[0].previous);
    CHECK(history[3].version == 4);
    CHECK(history[0].seq < history[1].seq);
}

TEST_CASE("aliases move, and rollback pops them back like a stack", "[registry]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    Registry reg(db);
    for (const char* content : {"v1", "v2", "v3", "v4"})
        add(reg, "churn", content);

    ModelEvent e = reg.set_alias("churn", 1, "champion", "promote", "first");
    CHECK(e.seq > 0);
    CHECK(e.action == "promote");
    CHECK_FALSE(e.previous);
    e = reg.set_alias("churn", 2, "champion", "promote", "better");
    CHECK(e.previous == 1);
    reg.set_alias("churn", 3, "champion", "alias", "");
    CHECK(alias_of(reg, "churn", "champion") == 3);
    CHECK(reg.resolve({"churn", std::nullopt, "champion"}).aliases ==
          std::vector<std::string>{"champion"});

    // Setting the version it already has records nothing.
    std::string before = dump(db);
    e = reg.set_alias("churn", 3, "champion", "promote", "again");
    CHECK(e.seq == 0);
    CHECK(e.previous == 3);
    CHECK(dump(db) == before);

    e = reg.rollback("churn", "champion", "bad numbers");
    CHECK(e.action == "rollback");
    CHECK(e.version == 2);
    CHECK(e.previous == 3);
    CHECK(e.reason == "bad numbers");
    CHECK(alias_of(reg, "churn", "champion") == 2);
    CHECK(reg.rollback("churn", "champion", "").version == 1);
    before = dump(db);
    CHECK_THROWS_WITH(reg.rollback("churn", "champion", ""), Contains("no earlier version"));
    CHECK(dump(db) == before);
    CHECK(alias_of(reg, "churn", "champion") == 1);

    // After a rollback, a new move is pushed on what is left: v1 -> v4, rollback -> v1.
    reg.set_alias("churn", 4, "champion", "promote", "");
    CHECK(reg.rollback("churn", "champion", "").version == 1);

    // Another alias has its own stack.
    reg.set_alias("churn", 2, "staging", "alias", "");
    reg.set_alias("churn", 3, "staging", "alias", "");
    CHECK(reg.rollback("churn", "staging", "").version == 2);
    CHECK(alias_of(reg, "churn", "champion") == 1);

    auto versions = reg.versions("churn");
    CHECK(versions[0].aliases == std::vector<std::string>{"champion"});
    CHECK(versions[1].aliases == std::vector<std::string>{"staging"});

    auto history = reg.history("churn");
    std::vector<std::string> actions;
    for (const auto& h : history)
        actions.push_back(h.action + ":" + h.alias + ":" + std::to_string(h.version));
    CHECK(actions ==
          std::vector<std::string>{"register::1", "register::2", "register::3", "register::4",
                                   "promote:champion:1", "promote:champion:2", "alias:champion:3",
                                   "rollback:champion:2", "rollback:champion:1",
                                   "promote:champion:4", "rollback:champion:1", "alias:staging:2",
                                   "alias:staging:3", "rollback:staging:2"});
    CHECK(history[4].reason == "first");
    CHECK(history[7].previous == 3);

    nlohmann::json j = to_json(history[7]);
    CHECK(j["action"] == "rollback");
    CHECK(j["previous"] == 3);
    CHECK(j["reason"] == "bad numbers");
    CHECK(to_json(history[0])["alias"].is_null());
    nlohmann::json v = to_json(versions[0]);
    CHECK(v["object"] == to_hex(object_of("v1")));
    CHECK(v["version"] == 1);
    CHECK(v["run_id"].is_null());
    CHECK(v["aliases"] == nlohmann::json::array({"champion"}));
}

TEST_CASE("registry errors name the value and leave every table unchanged", "[registry]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    Registry reg(db);
    add(reg, "churn", "v1");
    reg.set_alias("churn", 1, "champion", "promote", "");
    const std::string before = dump(db);

    CHECK_THROWS_WITH(add(reg, "bad name", "x"), Contains("'bad name'") && Contains("1-64"));
    CHECK_THROWS_WITH(add(reg, "", "x"), Contains("cannot register model ''"));
    CHECK_THROWS_WITH(reg.set_alias("nope", 1, "champion", "promote", ""),
                      Contains("unknown model 'nope'"));
    CHECK_THROWS_WITH(reg.set_alias("churn", 7, "champion", "promote", ""),
                      Contains("model 'churn' has no version 7"));
    CHECK_THROWS_WITH(reg.set_alias("churn", 1, "42", "alias", ""), Contains("'42'"));
    CHECK_THROWS_WITH(reg.set_alias("churn", 1, "x", "delete", ""), Contains("unknown action"));
    CHECK_THROWS_WITH(reg.rollback("churn", "prod", ""), Contains("has no alias 'prod'"));
    CHECK_THROWS_WITH(reg.rollback("nope", "champion", ""), Contains("unknown model 'nope'"));
    CHECK_THROWS_WITH(reg.rollback("churn", "champion", ""), Contains("no earlier version"));
    CHECK_THROWS_WITH(reg.resolve({"nope", std::nullopt, ""}), "unknown model 'nope'");
    CHECK_THROWS_WITH(reg.resolve({"churn", 9, ""}), "model 'churn' has no version 9");
    CHECK_THROWS_WITH(reg.resolve({"churn", std::nullopt, "prod"}),
                      "model 'churn' has no alias 'prod'");
    CHECK_THROWS_WITH(reg.history("nope"), "unknown model 'nope'");
    CHECK(dump(db) == before);
}

TEST_CASE("concurrent registrations from separate processes get distinct versions", "[registry]") {
    TempDir tmp;
    { Database db(tmp / "mlo.db"); }  // migrate once, before the children race
    constexpr int kProcs = 4;
    constexpr int kEach = 10;
    std::vector<pid_t> children;
    for (int p = 0; p < kProcs; ++p) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int rc = 0;
            try {
                Database db(tmp / "mlo.db");
                Registry reg(db);
                for (int i = 0; i < kEach; ++i)
                    add(reg, "churn", "p" + std::to_string(p) + "-" + std::to_string(i));
            } catch (...) {
                rc = 1;
            }
            ::_exit(rc);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    Database db(tmp / "mlo.db");
    Registry reg(db);
    auto versions = reg.versions("churn");
    REQUIRE(versions.size() == size_t(kProcs * kEach));
    std::set<Digest> objects;
    for (size_t i = 0; i < versions.size(); ++i) {
        CHECK(versions[i].version == int64_t(i + 1));
        objects.insert(versions[i].object);
    }
    CHECK(objects.size() == size_t(kProcs * kEach));
}
