#include "core/runs.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using mlo::test::TempDir;

namespace {

Artifact artifact(const std::string& path, const std::string& content) {
    return {path, sha256(content), content.size(), false};
}

Run finished(RunStore& store, const std::string& id, const std::string& stage, int64_t started,
             std::vector<Artifact> inputs, std::vector<Artifact> outputs,
             RunStatus status = RunStatus::succeeded) {
    Run r;
    r.id = id;
    r.stage = stage;
    r.cmd = stage;
    r.started_ns = started;
    r.inputs = std::move(inputs);
    r.params = {{stage + ".p", 1}};
    store.begin(r);
    r.status = status;
    r.ended_ns = started + 10;
    r.exit_code = 0;
    r.outputs = std::move(outputs);
    store.finish(r);
    return r;
}

std::string producer_id(const LineageNode& n) {
    return n.producer ? n.producer->id : "";
}

}  // namespace

TEST_CASE("lineage follows a chain of runs back to raw data", "[lineage]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore runs(db);
    Artifact raw = artifact("data/raw.csv", "raw");
    Artifact train = artifact("data/train.csv", "train");
    Artifact test = artifact("data/test.csv", "test");
    Artifact model = artifact("models/model.json", "model");
    Artifact metrics = artifact("metrics.json", "metrics");
    Artifact script = artifact("evaluate.py", "script");
    finished(runs, "r1", "prepare", 100, {raw}, {train, test});
    finished(runs, "r2", "train", 200, {train}, {model});
    // evaluate reads the model, the test split (another output of prepare) and the training
    // split again (already shown under the model).
    finished(runs, "r3", "evaluate", 300, {model, test, train, script}, {metrics});

    LineageNode root = lineage_of(runs, metrics);
    CHECK(root.artifact.path == "metrics.json");
    CHECK(producer_id(root) == "r3");
    CHECK_FALSE(root.repeated);
    REQUIRE(root.inputs.size() == 4);

    const LineageNode& m = root.inputs[0];
    CHECK(m.artifact.path == "models/model.json");
    CHECK(producer_id(m) == "r2");
    CHECK_FALSE(m.repeated);
    REQUIRE(m.inputs.size() == 1);
    const LineageNode& t = m.inputs[0];
    CHECK(t.artifact.path == "data/train.csv");
    CHECK(t.artifact.digest == train.digest);
    CHECK(producer_id(t) == "r1");
    CHECK_FALSE(t.repeated);
    REQUIRE(t.inputs.size() == 1);
    CHECK(t.inputs[0].artifact.path == "data/raw.csv");
    CHECK_FALSE(t.inputs[0].producer);  // raw data
    CHECK(t.inputs[0].inputs.empty());

    // data/test.csv was written by r1, whose inputs are already shown: not expanded again.
    const LineageNode& te = root.inputs[1];
    CHECK(te.artifact.path == "data/test.csv");
    CHECK(producer_id(te) == "r1");
    CHECK(te.repeated);
    CHECK(te.inputs.empty());
    // The same object read again.
    const LineageNode& again = root.inputs[2];
    CHECK(again.artifact.path == "data/train.csv");
    CHECK(again.repeated);
    CHECK(again.inputs.empty());
    // A file no run wrote.
    CHECK(root.inputs[3].artifact.path == "evaluate.py");
    CHECK_FALSE(root.inputs[3].producer);
    CHECK_FALSE(root.inputs[3].repeated);

    SECTION("max_depth stops the walk") {
        LineageNode shallow = lineage_of(runs, metrics, 1);
        REQUIRE(shallow.inputs.size() == 4);
        CHECK(producer_id(shallow.inputs[0]) == "r2");
        CHECK(shallow.inputs[0].inputs.empty());
        CHECK(lineage_of(runs, metrics, 0).inputs.empty());
    }

    SECTION("an object no run wrote is raw data") {
        LineageNode n = lineage_of(runs, raw);
        CHECK_FALSE(n.producer);
        CHECK(n.inputs.empty());
    }

    SECTION("an unnamed artifact gets the path its producer wrote") {
        Artifact bare;
        bare.digest = model.digest;
        LineageNode n = lineage_of(runs, bare);
        CHECK(n.artifact.path == "models/model.json");
        CHECK(n.artifact.size == model.size);
        CHECK(producer_id(n) == "r2");
    }
}

TEST_CASE("lineage picks the producer a run could have read and ignores failed runs", "[lineage]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore runs(db);
    Artifact raw = artifact("raw", "raw");
    Artifact data = artifact("data", "data");
    Artifact model = artifact("model", "model");
    finished(runs, "p1", "prepare", 100, {raw}, {data});
    finished(runs, "t1", "train", 200, {data}, {model});
    // Later, prepare ran again and wrote the same bytes; a failed run claims them too.
    finished(runs, "p2", "prepare", 300, {raw}, {data});
    finished(runs, "p3", "prepare", 400, {raw}, {data}, RunStatus::failed);

    LineageNode n = lineage_of(runs, model);
    REQUIRE(n.inputs.size() == 1);
    CHECK(producer_id(n.inputs[0]) == "p1");  // the one before t1 started
    // Asked directly, the newest successful producer.
    CHECK(producer_id(lineage_of(runs, data)) == "p2");
}

TEST_CASE("a run is never the producer of what it read, even if it wrote the same bytes",
          "[lineage]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore runs(db);
    SECTION("a file rewritten in place") {
        Artifact same = artifact("state.json", "state");
        finished(runs, "c1", "update", 100, {same}, {same});
        LineageNode n = lineage_of(runs, same);
        CHECK(producer_id(n) == "c1");
        REQUIRE(n.inputs.size() == 1);
        CHECK(n.inputs[0].artifact.path == "state.json");
        CHECK_FALSE(n.inputs[0].producer);
        CHECK_FALSE(n.inputs[0].repeated);
    }
    SECTION("an output equal to the input, read again by a later run") {
        Artifact raw = artifact("raw.csv", "rows");
        Artifact copy = artifact("train.csv", "rows");
        finished(runs, "p1", "prepare", 100, {raw}, {copy});
        finished(runs, "t1", "train", 200, {copy}, {artifact("model", "m")});
        LineageNode n = lineage_of(runs, artifact("model", "m"));
        REQUIRE(n.inputs.size() == 1);
        const LineageNode& c = n.inputs[0];
        CHECK(c.artifact.path == "train.csv");
        CHECK(producer_id(c) == "p1");
        REQUIRE(c.inputs.size() == 1);
        CHECK(c.inputs[0].artifact.path == "raw.csv");
        CHECK_FALSE(c.inputs[0].producer);  // raw data, although p1 wrote the same bytes
    }
}

TEST_CASE("a producer that wrote the artifact's path wins over one that wrote a copy",
          "[lineage]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore runs(db);
    Artifact raw = artifact("raw.csv", "rows");
    Artifact copy = artifact("train.csv", "rows");
    finished(runs, "g1", "generate", 100, {}, {raw});
    finished(runs, "p1", "prepare", 200, {raw}, {copy});
    // The copy's bytes were last written by p1 (as train.csv), but raw.csv itself by g1.
    CHECK(producer_id(lineage_of(runs, raw)) == "g1");
    CHECK(producer_id(lineage_of(runs, copy)) == "p1");
    // Asked by bytes only (no path), the newest writer.
    Artifact bare;
    bare.digest = raw.digest;
    CHECK(producer_id(lineage_of(runs, bare)) == "p1");
    LineageNode n = lineage_of(runs, copy);
    REQUIRE(n.inputs.size() == 1);
    CHECK(producer_id(n.inputs[0]) == "g1");
}
