#include "core/experiments.hpp"
#include "core/repository.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using mlo::test::TempDir;
using mlo::test::write_text;

TEST_CASE("set_yaml_value changes one scalar and keeps every other byte", "[experiments]") {
    const std::string text =
        "# training\n"
        "train:\n"
        "  l2: 0.1   # regularisation\n"
        "  name: 'baseline'\n"
        "  layers: [64, 32]\n"
        "  flow: {a: 1, b: two}\n"
        "other: \"x\"\n";
    CHECK(set_yaml_value(text, "params.yaml", "train.l2", 1) ==
          "# training\ntrain:\n  l2: 1   # regularisation\n  name: 'baseline'\n"
          "  layers: [64, 32]\n  flow: {a: 1, b: two}\nother: \"x\"\n");
    // Quoted scalars are replaced whole; a float keeps reading as a float.
    CHECK(set_yaml_value(text, "params.yaml", "train.name", "v2").find("  name: v2\n") !=
          std::string::npos);
    CHECK(set_yaml_value(text, "params.yaml", "other", 2.0).find("other: 2.0\n") !=
          std::string::npos);
    // Values inside flow collections stop at their comma.
    CHECK(set_yaml_value(text, "params.yaml", "train.layers.1", 16).find("[64, 16]") !=
          std::string::npos);
    CHECK(set_yaml_value(text, "params.yaml", "train.flow.b", "three").find("{a: 1, b: three}") !=
          std::string::npos);
    // A string that YAML would read as something else is quoted.
    CHECK(set_yaml_value(text, "params.yaml", "train.name", "true").find("name: \"true\"") !=
          std::string::npos);
    CHECK(set_yaml_value(text, "params.yaml", "train.name", "1e3").find("name: \"1e3\"") !=
          std::string::npos);
    CHECK_THROWS_WITH(set_yaml_value(text, "params.yaml", "train.nope", 1),
                      "no parameter 'train.nope' in params.yaml");
    CHECK_THROWS_WITH(set_yaml_value(text, "params.yaml", "train.layers", 1),
                      Contains("params.yaml:5:") && Contains("is not a single value"));
}

TEST_CASE("parameter values from the command line are typed as YAML reads them", "[experiments]") {
    CHECK(parse_param_value("0.1") == nlohmann::json(0.1));
    CHECK(parse_param_value("3") == nlohmann::json(3));
    CHECK(parse_param_value("true") == nlohmann::json(true));
    CHECK(parse_param_value("abc") == nlohmann::json("abc"));
    CHECK(parse_param_value("'0.1'") == nlohmann::json("0.1"));
    CHECK(parse_param_value("a: b: c") == nlohmann::json("a: b: c"));
}

TEST_CASE("-S arguments resolve to a file and key, and expand to their product", "[experiments]") {
    TempDir tmp;
    write_text(tmp / "params.yaml", "train:\n  l2: 0.1\n  iters: 10\nprep:\n  split: 0.2\n");
    write_text(tmp / "extra.yaml", "model:\n  depth: 3\n");
    write_text(tmp / "mlo.yaml",
               "vars: [extra.yaml]\n"
               "stages:\n"
               "  train:\n"
               "    cmd: echo ${train.l2} ${model.depth}\n"
               "    params: [train.iters]\n");
    Repository::init(tmp.path());
    Repository repo(tmp.path());
    Pipeline p = load_pipeline(repo);

    SweepParam a = parse_sweep_arg("train.l2=0.01,0.1,1", p, repo);
    CHECK(a.file == "params.yaml");
    CHECK(a.key == "train.l2");
    CHECK(a.values == std::vector<nlohmann::json>{0.01, 0.1, 1});
    // A stage prefix picks that stage's parameter by its last component.
    SweepParam b = parse_sweep_arg("train:depth=2,4", p, repo);
    CHECK(b.file == "extra.yaml");
    CHECK(b.key == "model.depth");
    CHECK(b.shown == "extra.yaml:model.depth");
    // A file prefix, and a key only another file has.
    CHECK(parse_sweep_arg("extra.yaml:model.depth=5", p, repo).key == "model.depth");
    CHECK(parse_sweep_arg("model.depth=5", p, repo).file == "extra.yaml");
    // Quotes and brackets keep their commas.
    CHECK(parse_sweep_arg("prep.split='a,b',[1,2]", p, repo).values ==
          std::vector<nlohmann::json>{"a,b", "[1,2]"});

    CHECK_THROWS_WITH(parse_sweep_arg("train.nope=1", p, repo),
                      "-S 'train.nope=1': no parameter 'train.nope' in params.yaml");
    CHECK_THROWS_WITH(parse_sweep_arg("train:nope=1", p, repo),
                      "-S 'train:nope=1': stage 'train' has no parameter 'nope'");
    CHECK_THROWS_WITH(parse_sweep_arg("l2", p, repo), Contains("expected [STAGE_OR_FILE:]KEY="));
    CHECK_THROWS_WITH(parse_sweep_arg("train.l2=1,,2", p, repo), Contains("empty value"));

    auto combos = expand_sweep({a, b});
    REQUIRE(combos.size() == 6);
    CHECK(combos[0][0].value == 0.01);
    CHECK(combos[0][1].value == 2);
    CHECK(combos[1][0].value == 0.01);
    CHECK(combos[1][1].value == 4);
    CHECK(combos[5][0].value == 1);
    CHECK(combos[5][1].value == 4);
    CHECK(expand_sweep({}).size() == 1);  // no -S: one experiment with nothing overridden
    CHECK_THROWS_WITH(expand_sweep({a, a}), Contains("is swept twice"));
}

TEST_CASE("run rows give fields by name and ids abbreviate to unique prefixes", "[experiments]") {
    RunRow r;
    r.id = "abc";
    r.status = "succeeded";
    r.started_ns = 1'000'000'000;
    r.ended_ns = 3'500'000'000;
    r.params = {{"lr", "0.1"}, {"name", "\"big\""}, {"flag", "true"}};
    std::sort(r.params.begin(), r.params.end());
    r.metrics = {{"acc", 0.9}};
    r.tags = {{"team", "x"}};
    CHECK(r.field("params.lr") == FieldValue(0.1));
    CHECK(r.field("params.name") == FieldValue(std::string("big")));
    CHECK(r.field("params.flag") == FieldValue(1.0));
    CHECK(r.field("metrics.acc") == FieldValue(0.9));
    CHECK(r.field("tags.team") == FieldValue(std::string("x")));
    CHECK(r.field("duration") == FieldValue(2.5));
    CHECK(std::holds_alternative<std::monostate>(r.field("metrics.nope")));
    CHECK(std::holds_alternative<std::monostate>(r.field("name")));

    auto ab = abbreviate_ids({"aaaa0000111", "aaaa0000222", "bbbbbbbbbbbb", "ccc"}, 4);
    CHECK(ab["aaaa0000111"] == "aaaa00001");
    CHECK(ab["aaaa0000222"] == "aaaa00002");
    CHECK(ab["bbbbbbbbbbbb"] == "bbbb");
    CHECK(ab["ccc"] == "ccc");
}

TEST_CASE("run rows carry their own details, skip stage runs and keep only what is asked",
          "[experiments]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    // Ids chosen so that a stage run sorts between the listed runs: its details must not
    // leak into a neighbour.
    std::vector<std::string> ids = {"aaaa0000000000000000000a", "bbbb0000000000000000000b",
                                    "cccc0000000000000000000c"};
    for (size_t i = 0; i < ids.size(); ++i) {
        Run r;
        r.id = ids[i];
        r.kind = i == 1 ? RunKind::stage : RunKind::command;
        r.name = "run" + std::to_string(i);
        r.started_ns = int64_t(i + 1) * 1'000'000'000;
        r.params = {{"lr", 0.1 * double(i + 1)}};
        store.begin(r);
        store.log_metrics(r.id, {{"acc", 0.5 + 0.1 * double(i), 0, 0}});
        store.set_tag(r.id, "i", std::to_string(i));
    }
    auto rows = load_run_rows(db, false);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].id == ids[2]);  // newest first
    CHECK(rows[1].id == ids[0]);
    CHECK(rows[0].field("params.lr") == FieldValue(0.30000000000000004));
    CHECK(rows[0].field("metrics.acc") == FieldValue(0.7));
    CHECK(rows[0].field("tags.i") == FieldValue(std::string("2")));
    CHECK(rows[1].metrics.size() == 1);
    CHECK(rows[1].field("metrics.acc") == FieldValue(0.5));
    CHECK(load_run_rows(db, true).size() == 3);

    auto kept = load_run_rows(
        db, true, [](const RunRow& r) { return std::get<double>(r.field("metrics.acc")) > 0.55; });
    REQUIRE(kept.size() == 2);
    CHECK(kept[0].id == ids[2]);
    CHECK(kept[1].id == ids[1]);
    CHECK(kept[1].field("tags.i") == FieldValue(std::string("1")));
}
