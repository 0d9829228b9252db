#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "core/meta_sync.hpp"
#include "core/registry.hpp"
#include "core/runs.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using mlo::test::TempDir;

namespace {

Artifact art(const std::string& path, const std::string& content) {
    return {path, sha256(content), content.size(), false};
}

// A finished stage run that read `inputs` and wrote `outputs`.
Run stage_run(RunStore& store, const std::string& id, const std::string& stage, int64_t started,
              std::vector<Artifact> inputs, std::vector<Artifact> outputs) {
    Run r;
    r.id = id;
    r.stage = stage;
    r.cmd = "python3 " + stage + ".py";
    r.started_ns = started;
    r.inputs = std::move(inputs);
    r.params = {{stage + ".l2", 0.1}, {stage + ".name", "a \"quoted\" value"}};
    r.git = {true, std::string(40, 'a'), true, std::string(64, 'b')};
    r.cache_key = "key-" + id;
    store.begin(r);
    r.status = RunStatus::succeeded;
    r.ended_ns = started + 10;
    r.exit_code = 0;
    r.outputs = std::move(outputs);
    r.log = sha256("log of " + id);
    r.metrics = {{"accuracy", 0.875}, {"f1", 1.0 / 3}};
    store.finish(r);
    return r;
}

// Runs (a pipeline, an experiment with a stage run and metric histories, a failed command, one
// still running) and a model with versions, aliases, a rollback and a rejection.
void populate(Database& db) {
    RunStore store(db);
    Artifact raw = art("data/raw.csv", "raw");
    Artifact train = art("data/train.csv", "train");
    Artifact test = art("data/test.csv", "test");
    Artifact model = art("models/churn.json", "model-1");
    Artifact model2 = art("models/churn.json", "model-2");
    stage_run(store, "r1prepare", "prepare", 100, {raw}, {train, test});
    stage_run(store, "r2train", "train", 200, {train}, {model});
    stage_run(store, "r3evaluate", "evaluate", 300, {model, test}, {art("metrics.json", "m")});

    Run exp;
    exp.id = "e1exp";
    exp.kind = RunKind::exp;
    exp.name = "brisk-otter-417";
    exp.sweep = "sweep1";
    exp.started_ns = 400;
    exp.params = {{"train.l2", 1}};
    store.begin(exp);
    Run child;
    child.id = "e1child";
    child.parent = exp.id;
    child.stage = "train";
    child.started_ns = 410;
    child.inputs = {train};
    store.begin(child);
    store.log_metrics(child.id, {{"loss", 0.9, 0, 1000},
                                 {"loss", 0.5, 1, 1001},
                                 {"loss", 0.5, 1, 1002},
                                 {"loss", std::numeric_limits<double>::infinity(), 3, 1003},
                                 {"acc", 0.25, 0, 1004}});
    store.set_tag(child.id, "team", "risk");
    store.add_output(child.id, model2);
    child.status = RunStatus::succeeded;
    child.ended_ns = 420;
    child.outputs = {model2};
    store.finish(child);
    store.set_tag(exp.id, "note", "first try");
    exp.status = RunStatus::succeeded;
    exp.ended_ns = 430;
    exp.lock_object = sha256("lock");
    exp.metrics = {{"loss", -0.0}};
    store.finish(exp);

    Run failed;
    failed.id = "c1command";
    failed.kind = RunKind::command;
    failed.cmd = "false";
    failed.started_ns = 500;
    store.begin(failed);
    failed.status = RunStatus::failed;
    failed.exit_code = 1;
    failed.ended_ns = 510;
    store.finish(failed);

    Run running;
    running.id = "z9running";
    running.stage = "train";
    running.started_ns = 600;
    store.begin(running);

    Registry reg(db);
    reg.register_version("churn", model.digest, model.size, false, "r2train", model.path, "first");
    reg.register_version("churn", model2.digest, model2.size, false, "e1child", model2.path, "");
    reg.register_version("churn", sha256("dir"), 3, true, "", "", "a directory");
    reg.set_alias("churn", 1, "champion", "promote", "first one");
    reg.set_alias("churn", 2, "champion", "promote", "better");
    reg.set_alias("churn", 3, "champion", "alias", "");
    reg.rollback("churn", "champion", "oops");
    reg.set_alias("churn", 1, "staging", "alias", "");
    reg.reject("churn", 3, "staging", "lost");
}

// One line per row of `sql`, every column (REAL with all its digits, BLOB as hex).
std::string rows(Database& db, const char* sql) {
    std::string out;
    Database::Statement q(db, sql);
    while (q.step()) {
        sqlite3_stmt* s = q.raw();
        for (int i = 0; i < sqlite3_column_count(s); ++i) {
            if (i) out += '|';
            switch (sqlite3_column_type(s, i)) {
                case SQLITE_NULL:
                    out += "NULL";
                    break;
                case SQLITE_INTEGER:
                    out += std::to_string(q.column_int(i));
                    break;
                case SQLITE_FLOAT: {
                    char buf[40];
                    std::snprintf(buf, sizeof buf, "%.17g", q.column_double(i));
                    out += buf;
                    break;
                }
                case SQLITE_BLOB: {
                    size_t size = 0;
                    auto p = static_cast<const unsigned char*>(q.column_blob(i, &size));
                    for (size_t k = 0; k < size; ++k) {
                        char hex[3];
                        std::snprintf(hex, sizeof hex, "%02x", p[k]);
                        out += hex;
                    }
                    break;
                }
                default:
                    out += q.column_text(i);
            }
        }
        out += '\n';
    }
    return out + "--\n";
}

// Every shared table (runs that finished, the registry), without local numbering (event seq,
// series ids): equal dumps mean the same records.
std::string dump(Database& db) {
    std::string out;
    for (const char* sql : {
             "SELECT * FROM runs WHERE status != 'running' ORDER BY id",
             "SELECT * FROM run_artifacts WHERE run_id IN (SELECT id FROM runs WHERE status != "
             "'running') ORDER BY run_id, direction, path",
             "SELECT * FROM run_metrics ORDER BY run_id, key",
             "SELECT * FROM run_params WHERE run_id IN (SELECT id FROM runs WHERE status != "
             "'running') ORDER BY run_id, key",
             "SELECT * FROM run_tags ORDER BY run_id, key",
             "SELECT run_id, key, last_step, points FROM metric_series ORDER BY run_id, key",
             "SELECT s.run_id, s.key, p.step, p.seq, p.value, p.time_ns FROM metric_points p "
             "JOIN metric_series s ON s.id = p.series ORDER BY 1, 2, 3, 4",
             "SELECT * FROM models ORDER BY name",
             "SELECT * FROM model_versions ORDER BY name, version",
             "SELECT * FROM model_aliases ORDER BY name, alias",
             "SELECT time_ns, user, action, name, version, alias, previous, reason "
             "FROM model_events ORDER BY time_ns, action, alias, version",
         })
        out += rows(db, sql);
    return out;
}

std::string lineage_text(const LineageNode& n) {
    std::string out = n.artifact.path + "=" + to_hex(n.artifact.digest).substr(0, 8) + "<" +
                      (n.producer ? n.producer->id : "raw") + (n.repeated ? "*" : "") + "[";
    for (const LineageNode& in : n.inputs)
        out += lineage_text(in) + ",";
    return out + "]";
}

std::vector<MetaRecord> export_all(Database& db) {
    return export_meta(db, meta_keys(db));
}

int64_t alias_of(Database& db, const std::string& name, const std::string& alias) {
    return Registry(db).resolve({name, std::nullopt, alias}).version;
}

std::vector<std::string> with_prefix(const std::vector<std::string>& keys,
                                     const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& k : keys) {
        if (k.rfind(prefix, 0) == 0) out.push_back(k);
    }
    return out;
}

size_t count_of(Database& db, const char* table) {
    char sql[128];
    std::snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    Database::Statement q(db, sql);
    q.step();
    return size_t(q.column_int(0));
}

}  // namespace

TEST_CASE("meta keys name every finished run, model version and registry event", "[meta_sync]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    populate(db);
    std::vector<std::string> keys = meta_keys(db);
    CHECK(std::is_sorted(keys.begin(), keys.end()));
    CHECK(with_prefix(keys, "runs/") ==
          std::vector<std::string>{"runs/c1command.json", "runs/e1child.json", "runs/e1exp.json",
                                   "runs/r1prepare.json", "runs/r2train.json",
                                   "runs/r3evaluate.json"});  // not the running one
    CHECK(with_prefix(keys, "models/") == std::vector<std::string>{"models/churn/1.json",
                                                                   "models/churn/2.json",
                                                                   "models/churn/3.json"});
    auto events = with_prefix(keys, "events/churn/");
    CHECK(events.size() == count_of(db, "model_events"));
    for (const auto& k : keys)
        CHECK(is_meta_key(k));
    // The event key: time_ns as 16 hex digits, then the start of the body's SHA-256.
    auto records = export_meta(db, events);
    REQUIRE(records.size() == events.size());
    for (const auto& r : records) {
        auto body = nlohmann::json::parse(r.body);
        char time[17];
        std::snprintf(time, sizeof time, "%016llx",
                      static_cast<unsigned long long>(body["time_ns"].get<int64_t>()));
        CHECK(r.key == "events/churn/" + std::string(time) + "-" +
                           to_hex(sha256(r.body)).substr(0, 16) + ".json");
        CHECK_FALSE(body.contains("seq"));
        CHECK(r.body == body.dump());  // deterministic: sorted keys, no spaces
    }
    auto run = nlohmann::json::parse(export_meta(db, {"runs/e1child.json"})[0].body);
    CHECK(run["parent"] == "e1exp");
    CHECK(run["series"][1]["key"] == "loss");
    CHECK(run["series"][1]["values"].back()[2] == "inf");  // JSON has no infinity
    CHECK(run["artifacts"][0]["hash"] == to_hex(sha256("train")));

    CHECK_THROWS_WITH(export_meta(db, {"runs/z9running.json"}), Contains("runs/z9running.json"));
    CHECK_THROWS_WITH(export_meta(db, {"models/churn/9.json"}), Contains("models/churn/9.json"));
    CHECK_THROWS_WITH(export_meta(db, {"nonsense"}), Contains("nonsense"));

    for (const char* bad :
         {"", "runs/.json", "runs/a/b.json", "runs/x.txt", "models/churn/0.json",
          "models/churn/01.json", "models/churn.json", "models/-x/1.json", "events/churn/1-2.json",
          "events/churn/00000000000000AB-0123456789abcdef.json", "notes/x.json", "runs/x.json.tmp"})
        CHECK_FALSE(is_meta_key(bad));
}

TEST_CASE("records exported from one database recreate its runs, lineage and registry",
          "[meta_sync]") {
    TempDir tmp;
    Database a(tmp / "a.db");
    populate(a);
    std::vector<MetaRecord> records = export_all(a);

    Database b(tmp / "b.db");
    MetaMerge m = import_meta(b, records);
    CHECK(m.runs == 6);
    CHECK(m.versions == 3);
    CHECK(m.events == count_of(a, "model_events"));
    CHECK(m.conflicts.empty());
    CHECK(dump(b) == dump(a));
    CHECK(alias_of(b, "churn", "champion") == alias_of(a, "churn", "champion"));
    CHECK(alias_of(b, "churn", "staging") == 1);

    // The same lineage, the same run details.
    RunStore ra(a), rb(b);
    Artifact metrics = art("metrics.json", "m");
    CHECK(lineage_text(lineage_of(rb, metrics)) == lineage_text(lineage_of(ra, metrics)));
    CHECK(lineage_text(lineage_of(rb, metrics)).find("r1prepare") != std::string::npos);
    auto child = rb.get("e1child");
    REQUIRE(child);
    CHECK(child->tags.at("team") == "risk");
    CHECK(std::isinf(child->metrics.at("loss")));
    CHECK(rb.history("e1child", "loss").size() == 4);
    CHECK(rb.children("e1exp").size() == 1);

    // Exporting the copy gives the same bytes; importing again changes nothing.
    CHECK(meta_keys(b) == meta_keys(a));
    std::vector<MetaRecord> again = export_all(b);
    REQUIRE(again.size() == records.size());
    for (size_t i = 0; i < records.size(); ++i) {
        CHECK(again[i].key == records[i].key);
        CHECK(again[i].body == records[i].body);
    }
    std::string before = dump(b);
    m = import_meta(b, records);
    CHECK(m.runs == 0);
    CHECK(m.versions == 0);
    CHECK(m.events == 0);
    CHECK(m.conflicts.empty());
    CHECK(dump(b) == before);

    // A later move on one side is a fast-forward on the other, with no conflict.
    Registry(a).set_alias("churn", 3, "champion", "promote", "after all");
    m = import_meta(b, export_all(a));
    CHECK(m.events == 1);
    CHECK(m.conflicts.empty());
    CHECK(alias_of(b, "churn", "champion") == 3);
    // Rollback replays the merged history the same way on both sides.
    CHECK(Registry(b).rollback("churn", "champion", "").version ==
          Registry(a).rollback("churn", "champion", "").version);
    CHECK(alias_of(b, "churn", "champion") == alias_of(a, "churn", "champion"));
}

TEST_CASE("an alias moved on both sides ends where the later move put it, reported",
          "[meta_sync]") {
    TempDir tmp;
    Database a(tmp / "a.db");
    Database b(tmp / "b.db");
    {
        Registry reg(a);
        for (const char* content : {"v1", "v2", "v3"})
            reg.register_version("churn", sha256(content), 2, false, "", "", "");
        reg.set_alias("churn", 1, "champion", "promote", "");
    }
    import_meta(b, export_all(a));
    CHECK(alias_of(b, "churn", "champion") == 1);

    // Offline: b promotes v2, then a (later) promotes v3.
    Registry(b).set_alias("churn", 2, "champion", "promote", "b thinks");
    Registry(a).set_alias("churn", 3, "champion", "promote", "a thinks");
    auto from_a = export_all(a);
    auto from_b = export_all(b);

    MetaMerge m = import_meta(b, from_a);
    CHECK(m.events == 1);
    REQUIRE(m.conflicts.size() == 1);
    CHECK_THAT(m.conflicts[0], Contains("'churn@champion'") && Contains("version 2") &&
                                   Contains("version 3") && Contains("wins: version 3"));
    CHECK(alias_of(b, "churn", "champion") == 3);

    m = import_meta(a, from_b);
    CHECK(m.events == 1);
    REQUIRE(m.conflicts.size() == 1);
    CHECK_THAT(m.conflicts[0], Contains("'churn@champion'") && Contains("wins: version 3 (here)"));
    CHECK(alias_of(a, "churn", "champion") == 3);

    // Both sides now hold the union, and agree.
    std::vector<std::string> ka = meta_keys(a), kb = meta_keys(b);
    CHECK(ka == kb);
    CHECK(dump(a) == dump(b));
    m = import_meta(a, from_b);
    CHECK(m.conflicts.empty());

    // In a, b's older move got the later seq; rollback still undoes the latest move in time
    // (v3 -> v2), then the one before (v2 -> v1).
    Registry reg(a);
    CHECK(reg.rollback("churn", "champion", "").version == 2);
    CHECK(reg.rollback("churn", "champion", "").version == 1);
    CHECK(Registry(b).rollback("churn", "champion", "").version == 2);
}

TEST_CASE("a version registered on both sides under one number keeps the local one, reported",
          "[meta_sync]") {
    TempDir tmp;
    Database a(tmp / "a.db");
    Database b(tmp / "b.db");
    Registry(a).register_version("churn", sha256("v1"), 2, false, "", "", "");
    Registry(a).set_alias("churn", 1, "champion", "promote", "");
    import_meta(b, export_all(a));

    // Both register their own churn:2 offline; a promotes it.
    Registry(a).register_version("churn", sha256("mine"), 4, false, "", "", "");
    Registry(a).set_alias("churn", 2, "champion", "promote", "");
    Registry(b).register_version("churn", sha256("theirs"), 6, false, "", "", "");
    std::string b_before = dump(b);

    MetaMerge m = import_meta(b, export_all(a));
    CHECK(m.versions == 0);
    CHECK(m.events == 0);  // the register and promote of a's churn:2 are about another model
    REQUIRE(m.conflicts.size() == 2);
    CHECK_THAT(m.conflicts[0], Contains("'churn:2'") && Contains("kept the one here") &&
                                   Contains(to_hex(sha256("theirs")).substr(0, 12)));
    CHECK_THAT(m.conflicts[1], Contains("cannot move alias 'churn@champion' to version 2") &&
                                   Contains("another model") && Contains("stays at version 1"));
    CHECK(dump(b) == b_before);
    CHECK(Registry(b).find("churn", 2)->object == sha256("theirs"));
    CHECK(alias_of(b, "churn", "champion") == 1);

    // A move to a version whose record did not come cannot be set either.
    Registry(a).register_version("churn", sha256("v3"), 2, false, "", "", "");
    Registry(a).set_alias("churn", 3, "champion", "promote", "");
    std::vector<MetaRecord> only_events;
    for (auto& r : export_all(a)) {
        if (r.key.rfind("events/", 0) == 0) only_events.push_back(std::move(r));
    }
    m = import_meta(b, only_events);
    CHECK(m.events == 0);
    REQUIRE_FALSE(m.conflicts.empty());
    CHECK_THAT(m.conflicts.back(), Contains("version 3 is not here"));
    CHECK(dump(b) == b_before);
}

TEST_CASE("a malformed record is an error naming its key, and nothing changes", "[meta_sync]") {
    TempDir tmp;
    Database a(tmp / "a.db");
    populate(a);
    std::vector<MetaRecord> good = export_all(a);
    Database b(tmp / "b.db");
    Registry(b).register_version("fraud", sha256("f"), 1, false, "", "", "");
    std::string before = dump(b);

    auto body_of = [&](const std::string& key) {
        for (const auto& r : good) {
            if (r.key == key) return nlohmann::json::parse(r.body);
        }
        FAIL("no record " << key);
        return nlohmann::json();
    };
    std::string event_key = with_prefix(meta_keys(a), "events/")[0];
    nlohmann::json run = body_of("runs/r2train.json");
    nlohmann::json dup_artifact = run;
    dup_artifact["artifacts"].push_back(dup_artifact["artifacts"][0]);  // fails on insert
    nlohmann::json no_field = run;
    no_field.erase("started_ns");
    nlohmann::json wrong_type = run;
    wrong_type["metrics"]["accuracy"] = "high";
    nlohmann::json bad_hash = body_of("models/churn/1.json");
    bad_hash["object"] = "sha256:1234";
    nlohmann::json edited = body_of(event_key);
    edited["reason"] = "rewritten history";
    nlohmann::json running = run;
    running["status"] = "running";

    std::vector<std::pair<MetaRecord, std::string>> cases = {
        {{"runs/r2train.json", "{not json"}, "parse error"},
        {{"runs/r2train.json", no_field.dump()}, "'started_ns' is missing"},
        {{"runs/r2train.json", wrong_type.dump()}, "'metrics.accuracy' is not a number"},
        {{"runs/other.json", run.dump()}, "'id' does not match the key"},
        {{"runs/r2train.json", running.dump()}, "'status'"},
        {{"runs/r2train.json", dup_artifact.dump()}, "cannot import record"},
        {{"models/churn/1.json", bad_hash.dump()}, "'object' is not 64 lowercase hex digits"},
        {{"models/churn/2.json", body_of("models/churn/1.json").dump()}, "'version'"},
        {{event_key, edited.dump()}, "does not match its content"},
        {{event_key, "[]"}, "not an object"},
    };
    for (const auto& [bad, why] : cases) {
        std::vector<MetaRecord> records;  // the good ones first: all or nothing
        for (const auto& r : good) {
            if (r.key != bad.key) records.push_back(r);
        }
        records.push_back(bad);
        CHECK_THROWS_WITH(import_meta(b, records),
                          Contains("'meta/" + bad.key + "'") && Contains(why));
        CHECK(dump(b) == before);
    }

    // Files under meta/ that are not records are ignored.
    MetaMerge m = import_meta(b, {{"notes/readme.txt", "hello"}, {"runs/x.json.tmp", "{"}});
    CHECK(m.runs + m.versions + m.events == 0);
    CHECK(dump(b) == before);
}

TEST_CASE("after a merge a database shares the union of both sides' records", "[meta_sync]") {
    TempDir tmp;
    Database a(tmp / "a.db");
    populate(a);
    Database b(tmp / "b.db");
    {
        RunStore store(b);
        stage_run(store, "b1train", "train", 700, {art("data/other.csv", "other")},
                  {art("models/fraud.json", "fraud")});
        Registry reg(b);
        reg.register_version("fraud", sha256("fraud"), 5, false, "b1train", "models/fraud.json",
                             "");
        reg.set_alias("fraud", 1, "champion", "promote", "");
    }
    std::vector<std::string> ka = meta_keys(a), kb = meta_keys(b);
    std::set<std::string> both(ka.begin(), ka.end());
    both.insert(kb.begin(), kb.end());

    MetaMerge m = import_meta(b, export_all(a));
    CHECK(m.conflicts.empty());
    std::vector<std::string> kb_after = meta_keys(b);
    CHECK(kb_after == std::vector<std::string>(both.begin(), both.end()));
    m = import_meta(a, export_meta(b, kb));
    CHECK(m.runs == 1);
    CHECK(m.versions == 1);
    CHECK(meta_keys(a) == kb_after);
    CHECK(dump(a) == dump(b));
    CHECK(alias_of(a, "fraud", "champion") == 1);
}
