#include "core/pipeline.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using mlo::test::TempDir;
using mlo::test::write_text;
using nlohmann::json;

namespace {

using Files = std::map<std::string, std::string>;

Pipeline parse(const std::string& text, const Files& params = {}) {
    return parse_pipeline(text, params);
}

// parse_pipeline's error message, or "" when it parses.
std::string error_of(const std::string& text, const Files& params = {}) {
    try {
        parse_pipeline(text, params);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::vector<std::string> dep_paths(const Stage& s) {
    std::vector<std::string> v;
    for (const auto& d : s.deps)
        v.push_back(d.path);
    return v;
}

std::vector<std::string> out_paths(const Stage& s) {
    std::vector<std::string> v;
    for (const auto& o : s.outs)
        v.push_back(o.path);
    return v;
}

std::vector<std::string> param_keys(const Stage& s) {
    std::vector<std::string> v;
    for (const auto& p : s.params)
        v.push_back(p.file + ":" + p.key);
    return v;
}

std::vector<std::string> names(const Pipeline& p) {
    std::vector<std::string> v;
    for (const auto& s : p.stages)
        v.push_back(s.name);
    return v;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("a stage with every key", "[pipeline]") {
    const std::string text = R"(stages:
  prepare:
    cmd: python3 prepare.py
    deps: [data/raw.csv, prepare.py]
    params: [prepare.split]
    outs: [data/train.csv, data/test.csv]
    desc: splits the data
    always_changed: true
    frozen: false
  train:
    builtin: {learner: logistic_regression, data: data/train.csv, target: churned, max_iter: 3}
    params:
      - train.l2
      - other.yaml: [seed]
    outs:
      - models/churn.json
    metrics:
      - metrics.json: {cache: false}
    role: train
    frozen: yes
)";
    Files params = {{"params.yaml", "prepare:\n  split: 0.2\ntrain:\n  l2: 0.1\n"},
                    {"other.yaml", "seed: 42\n"}};
    Pipeline p = parse(text, params);
    REQUIRE(p.stages.size() == 2);

    const Stage& a = p.stages[0];
    CHECK(a.name == "prepare");
    CHECK(a.group == "prepare");
    CHECK(a.cmd == "python3 prepare.py");
    CHECK(a.builtin.is_null());
    CHECK(dep_paths(a) == V{"data/raw.csv", "prepare.py"});
    CHECK(a.deps[1].pos.str() == "mlo.yaml:4:26");
    CHECK(out_paths(a) == V{"data/train.csv", "data/test.csv"});
    CHECK(param_keys(a) == V{"params.yaml:prepare.split"});
    CHECK(a.params[0].pos.str() == "mlo.yaml:5:14");
    CHECK(a.desc == "splits the data");
    CHECK(a.always_changed);
    CHECK_FALSE(a.frozen);
    CHECK(a.role.empty());
    CHECK(a.wdir.empty());
    CHECK(a.pos.str() == "mlo.yaml:2:3");

    const Stage& b = p.stages[1];
    CHECK(b.cmd.empty());
    CHECK(b.builtin == json({{"learner", "logistic_regression"},
                             {"data", "data/train.csv"},
                             {"target", "churned"},
                             {"max_iter", 3}}));
    // The built-in's data is a dependency without being listed.
    CHECK(dep_paths(b) == V{"data/train.csv"});
    CHECK(param_keys(b) == V{"other.yaml:seed", "params.yaml:train.l2"});
    REQUIRE(b.outs.size() == 2);
    CHECK(b.outs[0].path == "models/churn.json");
    CHECK_FALSE(b.outs[0].metric);
    CHECK(b.outs[0].cache);
    CHECK(b.outs[1].path == "metrics.json");
    CHECK(b.outs[1].metric);
    CHECK_FALSE(b.outs[1].cache);
    CHECK(b.outs[1].pos.str() == "mlo.yaml:18:9");
    CHECK(b.role == "train");
    CHECK(b.frozen);

    CHECK(p.find("train") == &p.stages[1]);
    CHECK(p.find("nope") == nullptr);
    CHECK(p.values_for(b) == json({{"other.yaml:seed", 42}, {"train.l2", 0.1}}));
    CHECK(p.param_values.at("params.yaml").at("prepare.split") == json(0.2));
}

TEST_CASE("cmd as a list is joined with &&", "[pipeline]") {
    Pipeline p = parse("stages:\n  a:\n    cmd:\n      - mkdir -p out\n      - touch out/x\n");
    CHECK(p.stages[0].cmd == "mkdir -p out && touch out/x");
}

TEST_CASE("outs and metrics: every shape", "[pipeline]") {
    Pipeline p = parse(R"(stages:
  a:
    cmd: run
    outs:
      - plain.txt
      - kept.bin: {persist: true}
      - big.bin:
          cache: false
          persist: false
      - defaults.bin:
    metrics:
      - m.json
      - n.json: {persist: true}
)");
    const auto& o = p.stages[0].outs;
    REQUIRE(o.size() == 6);
    CHECK(out_paths(p.stages[0]) ==
          V{"plain.txt", "kept.bin", "big.bin", "defaults.bin", "m.json", "n.json"});
    CHECK((!o[0].persist && o[0].cache && !o[0].metric));
    CHECK((o[1].persist && o[1].cache && !o[1].metric));
    CHECK((!o[2].persist && !o[2].cache));
    CHECK((!o[3].persist && o[3].cache));
    CHECK((o[4].metric && !o[4].persist && o[4].cache));
    CHECK((o[5].metric && o[5].persist));
    CHECK(o[1].pos.str() == "mlo.yaml:6:9");
}

TEST_CASE("paths are normalised and wdir makes them repository-relative", "[pipeline]") {
    Pipeline p = parse(R"(stages:
  a:
    cmd: make
    wdir: ./src/../sub/
    deps: [input.csv, ../shared/lib.py, ./x/./y/, data/../z]
    outs: [out/]
    metrics: [../metrics.json]
  b:
    cmd: run
    deps: [./a//b/, "c/d/.."]
)");
    const Stage& a = p.stages[0];
    CHECK(a.wdir == "sub");
    CHECK(dep_paths(a) == V{"sub/input.csv", "shared/lib.py", "sub/x/y", "sub/z"});
    CHECK(out_paths(a) == V{"sub/out", "metrics.json"});
    CHECK(dep_paths(p.stages[1]) == V{"a/b", "c"});
    CHECK(p.stages[1].wdir.empty());

    CHECK(parse("stages:\n  a:\n    cmd: x\n    wdir: .\n").stages[0].wdir.empty());
}

TEST_CASE("paths outside the repository or inside .mlo/ are errors", "[pipeline]") {
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    deps: [ok, ../up.csv]\n") ==
          "mlo.yaml:4:16: path '../up.csv' of stage 'a' is outside the repository");
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    wdir: sub\n    outs: [../../x]\n") ==
          "mlo.yaml:5:12: path '../../x' of stage 'a' is outside the repository");
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    outs: [/etc/passwd]\n") ==
          "mlo.yaml:4:12: path '/etc/passwd' of stage 'a' is outside the repository");
    CHECK_THAT(error_of("stages:\n  a:\n    cmd: x\n    outs: [.mlo/objects]\n"),
               StartsWith("mlo.yaml:4:12: path '.mlo/objects' of stage 'a' is inside .mlo/"));
    CHECK_THAT(error_of("stages:\n  a:\n    cmd: x\n    deps: [sub/../.mlo/x]\n"),
               StartsWith("mlo.yaml:4:12: path 'sub/../.mlo/x' of stage 'a' is inside .mlo/"));
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    outs: [.]\n") ==
          "mlo.yaml:4:12: path '.' of stage 'a' is the repository root");
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    wdir: ..\n") ==
          "mlo.yaml:4:11: path '..' of stage 'a' is outside the repository");
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    deps: ['']\n") ==
          "mlo.yaml:4:12: empty path of stage 'a'");
}

TEST_CASE("${} interpolation: nested keys, list indices, typed rendering, escapes", "[pipeline]") {
    Files params = {{"params.yaml", R"(train:
  lr: 0.10
  epochs: 3
  deep:
    name: "resnet 18"
    flag: true
layers: [64, 32]
out: models
)"}};
    Pipeline p = parse(R"(stages:
  train:
    cmd: train --lr ${train.lr} --epochs ${train.epochs} --net '${train.deep.name}' --first ${layers.0} --last ${ layers.1 } --flag ${train.deep.flag} --lit $${HOME} $$HOME
    deps: ["${out}/in.csv"]
    outs:
      - ${out}/model.bin
    desc: trains ${train.deep.name}
)",
                       params);
    const Stage& s = p.stages[0];
    CHECK(s.cmd ==
          "train --lr 0.10 --epochs 3 --net 'resnet 18' --first 64 --last 32 --flag true --lit "
          "${HOME} $$HOME");
    CHECK(dep_paths(s) == V{"models/in.csv"});
    CHECK(out_paths(s) == V{"models/model.bin"});
    CHECK(s.desc == "trains resnet 18");
    CHECK(param_keys(s) == V{"params.yaml:layers.0", "params.yaml:layers.1", "params.yaml:out",
                             "params.yaml:train.deep.flag", "params.yaml:train.deep.name",
                             "params.yaml:train.epochs", "params.yaml:train.lr"});
    // The position of the string that used the parameter, the first time it was used.
    CHECK(s.params[2].pos.str() == "mlo.yaml:4:12");
    CHECK(s.params[6].pos.str() == "mlo.yaml:3:10");
    // Values are typed.
    CHECK(p.values_for(s) == json({{"layers.0", 64},
                                   {"layers.1", 32},
                                   {"out", "models"},
                                   {"train.deep.flag", true},
                                   {"train.deep.name", "resnet 18"},
                                   {"train.epochs", 3},
                                   {"train.lr", 0.1}}));
}

TEST_CASE("${} in builtin keeps types and structure", "[pipeline]") {
    Files params = {{"params.yaml",
                     "train:\n  l2: 0.5\n  cols: [a, b]\n  opts: {k: 1}\n"
                     "name: churn\n"}};
    Pipeline p = parse(R"(stages:
  train:
    builtin:
      learner: logistic_regression
      l2: ${train.l2}
      features: ${train.cols}
      data: data/${name}.csv
      seed: "3"
      target: $${x}
      class_weight: null
    outs: [m.json]
)",
                       params);
    CHECK(p.stages[0].builtin == json({{"learner", "logistic_regression"},
                                       {"l2", 0.5},
                                       {"features", {"a", "b"}},
                                       {"data", "data/churn.csv"},
                                       {"seed", "3"},
                                       {"target", "${x}"},
                                       {"class_weight", nullptr}}));
    CHECK(param_keys(p.stages[0]) ==
          V{"params.yaml:name", "params.yaml:train.cols", "params.yaml:train.l2"});
    CHECK(dep_paths(p.stages[0]) == V{"data/churn.csv"});
    CHECK(p.values_for(p.stages[0])["train.cols"] == json({"a", "b"}));
}

TEST_CASE("parameters listed under params: and used in ${} are merged", "[pipeline]") {
    Files params = {{"params.yaml", "a: 1\nb: 2\n"}};
    Pipeline p = parse("stages:\n  s:\n    cmd: run ${b} ${a} ${b}\n    params: [b, a]\n", params);
    REQUIRE(p.stages[0].params.size() == 2);
    CHECK(param_keys(p.stages[0]) == V{"params.yaml:a", "params.yaml:b"});
    CHECK(p.stages[0].params[1].pos.str() == "mlo.yaml:3:10");
}

TEST_CASE("a stage without parameters needs no params.yaml", "[pipeline]") {
    Pipeline p = parse("stages:\n  s:\n    cmd: echo hi\n");
    CHECK(p.stages[0].params.empty());
    CHECK(p.param_values.empty());
    CHECK(p.values_for(p.stages[0]) == json::object());
}

TEST_CASE("vars files add parameters", "[pipeline]") {
    Files params = {{"params.yaml", "train:\n  lr: 0.1\n"},
                    {"conf/extra.yaml", "train:\n  batch: 32\ndata: d.csv\n"}};
    Pipeline p = parse(R"(vars: [./conf/extra.yaml]
stages:
  s:
    cmd: run ${train.lr} ${train.batch} ${data}
    params: [data]
)",
                       params);
    CHECK(p.stages[0].cmd == "run 0.1 32 d.csv");
    CHECK(param_keys(p.stages[0]) ==
          V{"conf/extra.yaml:data", "conf/extra.yaml:train.batch", "params.yaml:train.lr"});
    CHECK(p.values_for(p.stages[0]) == json({{"conf/extra.yaml:data", "d.csv"},
                                             {"conf/extra.yaml:train.batch", 32},
                                             {"train.lr", 0.1}}));
    CHECK(p.param_values.at("conf/extra.yaml").at("train.batch") == json(32));
}

TEST_CASE("vars errors", "[pipeline]") {
    SECTION("a key defined in two files") {
        Files params = {{"params.yaml", "train:\n  lr: 0.1\n"},
                        {"extra.yaml", "x: 1\ntrain:\n  lr: 0.2\n"}};
        CHECK(error_of("vars: [extra.yaml]\nstages: {}\n", params) ==
              "extra.yaml:3:3: parameter 'train.lr' is defined in both params.yaml "
              "(params.yaml:2:3) and extra.yaml");
    }
    SECTION("a key above another file's key") {
        Files params = {{"params.yaml", "train:\n  lr: 0.1\n"}, {"extra.yaml", "train: 5\n"}};
        CHECK_THAT(error_of("vars: [extra.yaml]\nstages: {}\n", params),
                   StartsWith("extra.yaml:1:1: parameters 'train' and 'train.lr' are defined in "
                              "both params.yaml"));
    }
    SECTION("a missing vars file") {
        CHECK(error_of("stages: {}\nvars:\n  - nope.yaml\n") ==
              "mlo.yaml:3:5: parameter file 'nope.yaml' does not exist");
    }
    SECTION("vars must be a list") {
        CHECK(error_of("vars: x.yaml\nstages: {}\n") ==
              "mlo.yaml:1:7: 'vars' must be a list of parameter files");
    }
}

TEST_CASE("foreach over a list of scalars", "[pipeline]") {
    Files params = {{"params.yaml", "root: data\n"}};
    Pipeline p = parse(R"(stages:
  first:
    cmd: echo
  prep:
    foreach: [small, large]
    do:
      cmd: prep ${item} --root ${root}
      outs:
        - ${root}/${item}.csv
  last:
    cmd: echo
)",
                       params);
    CHECK(names(p) == V{"first", "prep@small", "prep@large", "last"});
    const Stage& s = p.stages[2];
    CHECK(s.group == "prep");
    CHECK(s.cmd == "prep large --root data");
    CHECK(out_paths(s) == V{"data/large.csv"});
    // ${item} is not a parameter; ${root} is.
    CHECK(param_keys(s) == V{"params.yaml:root"});
    CHECK(s.pos.str() == "mlo.yaml:4:3");
}

TEST_CASE("foreach over a mapping expands by key", "[pipeline]") {
    Pipeline p = parse(R"(stages:
  train:
    foreach:
      us: {lr: 0.1, rows: 100}
      eu: {lr: 0.2, rows: 200}
    do:
      cmd: train --region ${key} --lr ${item.lr} --rows ${item.rows}
)");
    CHECK(names(p) == V{"train@us", "train@eu"});
    CHECK(p.stages[0].cmd == "train --region us --lr 0.1 --rows 100");
    CHECK(p.stages[1].cmd == "train --region eu --lr 0.2 --rows 200");
    CHECK(p.stages[1].params.empty());
}

TEST_CASE("foreach over a list of mappings expands by index", "[pipeline]") {
    Pipeline p = parse(R"(stages:
  fit:
    foreach:
      - {name: a, k: 1}
      - {name: b, k: 2}
    do:
      builtin: {learner: linear_regression, l2: "${item.k}", data: d.csv, target: y}
      outs: ["models/${item.name}.json"]
)");
    CHECK(names(p) == V{"fit@0", "fit@1"});
    CHECK(p.stages[1].builtin ==
          json({{"learner", "linear_regression"}, {"l2", 2}, {"data", "d.csv"}, {"target", "y"}}));
    CHECK(out_paths(p.stages[1]) == V{"models/b.json"});
}

TEST_CASE("foreach over a list from params.yaml", "[pipeline]") {
    Files params = {{"params.yaml", "regions: [us, eu, asia]\n"}};
    Pipeline p = parse(R"(stages:
  r:
    foreach: ${regions}
    do:
      cmd: run ${item}
)",
                       params);
    CHECK(names(p) == V{"r@us", "r@eu", "r@asia"});
    CHECK(p.stages[2].cmd == "run asia");
}

TEST_CASE("matrix expands the product in key order", "[pipeline]") {
    Files params = {{"params.yaml", "epochs: 5\n"}};
    Pipeline p = parse(R"(stages:
  sweep:
    matrix:
      model: [lr, tree]
      size: [1, 2, 3]
    cmd: train ${item.model} ${item.size} ${epochs}
    outs: ["out/${item.model}-${item.size}"]
  other:
    matrix:
      x: [a]
    do:
      cmd: echo ${item.x}
)",
                       params);
    CHECK(names(p) == V{"sweep@lr-1", "sweep@lr-2", "sweep@lr-3", "sweep@tree-1", "sweep@tree-2",
                        "sweep@tree-3", "other@a"});
    CHECK(p.stages[4].cmd == "train tree 2 5");
    CHECK(out_paths(p.stages[4]) == V{"out/tree-2"});
    CHECK(p.stages[4].group == "sweep");
    CHECK(param_keys(p.stages[4]) == V{"params.yaml:epochs"});
    CHECK(p.stages[6].cmd == "echo a");
}

TEST_CASE("top-level sections are kept as typed JSON", "[pipeline]") {
    Pipeline p = parse(R"(stages: {}
model: {name: churn, path: models/churn.json, gate: "accuracy >= 0.80"}
deploy: {model: churn@champion, port: 8080, debug: false, extra: ~}
monitor: {reference: data/train.csv, current: .mlo/logs/churn/, ratio: 0.5}
)");
    CHECK(p.stages.empty());
    CHECK(p.model ==
          json({{"name", "churn"}, {"path", "models/churn.json"}, {"gate", "accuracy >= 0.80"}}));
    CHECK(
        p.deploy ==
        json({{"model", "churn@champion"}, {"port", 8080}, {"debug", false}, {"extra", nullptr}}));
    CHECK(p.monitor["ratio"] == json(0.5));
    CHECK(p.retrain.is_null());
}

TEST_CASE("structural errors name file, line and column", "[pipeline]") {
    CHECK(error_of("stages:\n  train:\n    cmd: x\n    dpes: [a]\n") ==
          "mlo.yaml:4:5: unknown key 'dpes' in stage 'train'");
    CHECK(error_of("stages: {}\nstagse: {}\n") == "mlo.yaml:2:1: unknown key 'stagse'");
    CHECK(error_of("stages:\n  train:\n    cmd: x\n    deps: a.csv\n") ==
          "mlo.yaml:4:11: 'deps' of stage 'train' must be a list of paths");
    CHECK(error_of("stages:\n  train:\n    cmd: x\n    deps: [[a]]\n") ==
          "mlo.yaml:4:12: 'deps' of stage 'train' must be a list of paths");
    CHECK(error_of("stages:\n  train:\n    deps: [a]\n") ==
          "mlo.yaml:2:3: stage 'train' needs 'cmd' or 'builtin'");
    CHECK(error_of("stages:\n  train:\n    cmd: x\n    builtin: {a: 1}\n") ==
          "mlo.yaml:4:5: stage 'train' has both 'cmd' and 'builtin'");
    CHECK(error_of("stages:\n  train:\n    cmd: {a: 1}\n") ==
          "mlo.yaml:3:10: 'cmd' of stage 'train' must be a string or a list of strings");
    CHECK(error_of("stages:\n  train:\n    cmd: ''\n") ==
          "mlo.yaml:3:10: 'cmd' of stage 'train' is empty");
    CHECK(error_of("stages:\n  train:\n    builtin: x\n") ==
          "mlo.yaml:3:14: 'builtin' of stage 'train' must be a mapping");
    CHECK(error_of("stages:\n  t:\n    cmd: x\n    frozen: maybe\n") ==
          "mlo.yaml:4:13: 'frozen' of stage 't' must be true or false");
    CHECK(error_of("stages:\n  t:\n    cmd: x\n    role: serve\n") ==
          "mlo.yaml:4:11: 'role' of stage 't' must be 'train' or 'evaluate', not 'serve'");
    CHECK(error_of("stages:\n  t:\n    cmd: x\n    outs: [{a: 1, b: 2}]\n") ==
          "mlo.yaml:4:12: 'outs' of stage 't' must be a list of paths or {path: {persist: .., "
          "cache: ..}} mappings");
    CHECK(error_of("stages:\n  t:\n    cmd: x\n    metrics: [m.json: {persist: true, "
                   "kache: 1}]\n") ==
          "mlo.yaml:4:39: unknown key 'kache' for 'm.json' in stage 't' (use 'persist' or "
          "'cache')");
    CHECK(error_of("stages:\n  t:\n    cmd: x\n    params: [{p.yaml: k}]\n") ==
          "mlo.yaml:4:23: 'params' of stage 't' must be a list of parameter names or {file: "
          "[names]} mappings");
    CHECK(error_of("stages:\n  bad name:\n    cmd: x\n") ==
          "mlo.yaml:2:3: invalid stage name 'bad name': use only letters, digits, '_', '.' and "
          "'-'");
    CHECK(error_of("stages:\n  t: x\n") == "mlo.yaml:2:6: stage 't' must be a mapping");
    CHECK(error_of("stages:\n  t:\n    cmd: a\n  t:\n    cmd: b\n") ==
          "mlo.yaml:4:3: duplicate stage name 't' (first at mlo.yaml:2:3)");
    CHECK(error_of("stages: [a, b]\n") ==
          "mlo.yaml:1:9: 'stages' must be a mapping of stage names to stages");
    CHECK(error_of("model: {}\n") == "mlo.yaml:1:1: mlo.yaml needs 'stages'");
    CHECK(error_of("") == "mlo.yaml:1:1: mlo.yaml is empty: it needs 'stages'");
    CHECK_THAT(error_of("stages:\n  t:\n    cmd: [a\n"), StartsWith("mlo.yaml:4:1: "));
}

TEST_CASE("interpolation errors", "[pipeline]") {
    Files params = {{"params.yaml", "train:\n  l2: 0.1\n  cols: [a, b]\n"}};
    CHECK(error_of("stages:\n  train:\n    cmd: run\n    outs:\n      - m/${train.lr}\n", params) ==
          "mlo.yaml:5:9: undefined parameter '${train.lr}' in stage 'train' (not in "
          "params.yaml)");
    CHECK(error_of("stages:\n  train:\n    cmd: run ${x}\n") ==
          "mlo.yaml:3:10: undefined parameter '${x}' in stage 'train' (params.yaml does not "
          "exist)");
    CHECK(error_of("stages:\n  train:\n    cmd: run\n    params: [train.l2, train.lr]\n", params) ==
          "mlo.yaml:4:24: undefined parameter 'train.lr' in stage 'train' (not in params.yaml)");
    CHECK(error_of("stages:\n  train:\n    cmd: run\n    params:\n      - o.yaml: [a]\n", params) ==
          "mlo.yaml:5:18: undefined parameter 'a' in stage 'train' (o.yaml does not exist)");
    CHECK(error_of("stages:\n  train:\n    cmd: run ${train.cols}\n", params) ==
          "mlo.yaml:3:10: '${train.cols}' in stage 'train' is a list, not a single value");
    CHECK(error_of("stages:\n  train:\n    cmd: run ${train\n", params) ==
          "mlo.yaml:3:10: unterminated '${' in 'run ${train' in stage 'train' (write '$${' for a "
          "literal '${')");
    CHECK(error_of("stages:\n  train:\n    cmd: run ${ }\n", params) ==
          "mlo.yaml:3:10: empty '${}' in 'run ${ }' in stage 'train'");
    CHECK(error_of("stages:\n  t:\n    foreach: [a]\n    do:\n      cmd: ${item.x}\n") ==
          "mlo.yaml:5:12: undefined '${item.x}' in stage 't@a' (no such field in the current "
          "'foreach' item)");
}

TEST_CASE("a malformed parameter file is reported at its own position", "[pipeline]") {
    Files params = {{"params.yaml", "train:\n  l2: [0.1\n"}};
    CHECK_THAT(error_of("stages:\n  t:\n    cmd: x\n", params), StartsWith("params.yaml:3:1: "));
    CHECK(error_of("stages:\n  t:\n    cmd: x\n", {{"params.yaml", "- a\n- b\n"}}) ==
          "params.yaml:1:1: a parameter file must be a mapping of names to values");
}

TEST_CASE("foreach and matrix errors", "[pipeline]") {
    CHECK(error_of("stages:\n  t:\n    foreach: []\n    do: {cmd: x}\n") ==
          "mlo.yaml:3:14: 'foreach' of stage 't' is empty");
    CHECK(error_of("stages:\n  t:\n    foreach: [a]\n") ==
          "mlo.yaml:2:3: stage 't' with 'foreach' needs 'do'");
    CHECK(error_of("stages:\n  t:\n    foreach: [a]\n    cmd: x\n    do: {cmd: x}\n") ==
          "mlo.yaml:4:5: stage 't' with 'foreach' takes only 'do' ('cmd' belongs under 'do')");
    CHECK(error_of("stages:\n  t:\n    foreach: [a]\n    do: {cmd: x, dpes: []}\n") ==
          "mlo.yaml:4:18: unknown key 'dpes' in stage 't'");
    CHECK(error_of("stages:\n  t:\n    foreach: [a, b, a]\n    do: {cmd: x}\n") ==
          "mlo.yaml:3:21: duplicate stage name 't@a' (first at mlo.yaml:3:15)");
    CHECK(error_of("stages:\n  t:\n    foreach: [a b]\n    do: {cmd: x}\n") ==
          "mlo.yaml:3:15: stage name 't@a b' is not valid: expanded names use only letters, "
          "digits, '_', '.' and '-'");
    CHECK(error_of("stages:\n  t:\n    foreach: ${nope}\n    do: {cmd: x}\n") ==
          "mlo.yaml:3:14: undefined parameter '${nope}' in stage 't' (params.yaml does not "
          "exist)");
    CHECK(error_of("stages:\n  t:\n    foreach: 3\n    do: {cmd: x}\n") ==
          "mlo.yaml:3:14: 'foreach' of stage 't' must be a list, a mapping or '${param}'");
    CHECK(error_of("stages:\n  t:\n    cmd: x\n    do: {cmd: x}\n") ==
          "mlo.yaml:4:5: 'do' of stage 't' needs 'foreach' or 'matrix'");
    CHECK(error_of("stages:\n  t:\n    matrix: {a: [1], b: []}\n    cmd: x\n") ==
          "mlo.yaml:3:25: 'matrix.b' of stage 't' is empty");
    CHECK(error_of("stages:\n  t:\n    matrix: {a: x}\n    cmd: x\n") ==
          "mlo.yaml:3:17: 'matrix.a' of stage 't' must be a list, a mapping or '${param}'");
    CHECK(error_of("stages:\n  t:\n    matrix: {[a]: [1]}\n    cmd: x\n") ==
          "mlo.yaml:3:14: a name in 'matrix' of stage 't' must be a single name of letters, "
          "digits, '_', '.' and '-'");
    CHECK(error_of("stages:\n  t:\n    matrix: {a: [[1]]}\n    cmd: x\n") ==
          "mlo.yaml:3:18: values of 'matrix.a' in stage 't' must be single values");
    CHECK(error_of("stages:\n  t:\n    matrix: {a: [1, 1]}\n    cmd: x\n") ==
          "mlo.yaml:3:21: duplicate stage name 't@1' (first at mlo.yaml:3:18)");
    CHECK(error_of("stages:\n  t:\n    matrix: {a: [1]}\n    foreach: [1]\n    cmd: x\n") ==
          "mlo.yaml:3:5: stage 't' has both 'foreach' and 'matrix'");
    CHECK(error_of("stages:\n  t:\n    matrix: []\n    cmd: x\n") ==
          "mlo.yaml:3:13: 'matrix' of stage 't' must be a mapping of names to lists of values");
}

TEST_CASE("load_pipeline reads mlo.yaml and parameter files from the repository", "[pipeline]") {
    TempDir tmp;
    Repository::init(tmp.path());
    Repository repo = Repository::open(tmp.path());
    CHECK_THAT(
        [&] {
            try {
                load_pipeline(repo);
            } catch (const Error& e) {
                return std::string(e.what());
            }
            return std::string();
        }(),
        StartsWith("no mlo.yaml in "));

    write_text(tmp / "mlo.yaml",
               "vars: [conf/v.yaml]\nstages:\n  s:\n    cmd: run ${a} ${b}\n    deps: [" +
                   (tmp / "data" / "x.csv").string() + "]\n    params: [{other.yaml: [c]}]\n");
    write_text(tmp / "params.yaml", "a: 1\n");
    write_text(tmp / "conf" / "v.yaml", "b: two\n");
    write_text(tmp / "other.yaml", "c: [1, 2]\n");
    Pipeline p = load_pipeline(repo);
    REQUIRE(p.stages.size() == 1);
    CHECK(p.stages[0].cmd == "run 1 two");
    // An absolute path inside the repository becomes repository-relative.
    CHECK(dep_paths(p.stages[0]) == V{"data/x.csv"});
    CHECK(p.values_for(p.stages[0]) ==
          json({{"a", 1}, {"conf/v.yaml:b", "two"}, {"other.yaml:c", {1, 2}}}));

    write_text(tmp / "params.yaml", "a: [1\n");
    CHECK_THROWS_WITH(load_pipeline(repo), StartsWith("params.yaml:2:1: "));
}

TEST_CASE("built-in stages and the model section are checked where written", "[pipeline]") {
    const std::string head = "stages:\n  t:\n";
    CHECK(error_of(head + "    builtin: {learner: knn, data: d.csv, target: y}\n    outs: [m]\n") ==
          "mlo.yaml:3:24: 'builtin' of stage 't': 'learner' must be 'logistic_regression' or "
          "'linear_regression', not \"knn\"");
    CHECK(error_of(head + "    builtin: {learner: linear_regression, data: d.csv, target: y, "
                          "epochs: 3}\n    outs: [m]\n") ==
          "mlo.yaml:3:67: 'builtin' of stage 't': unknown key 'epochs' for a built-in learner "
          "(known: class_weight, data, features, l2, learner, max_iter, seed, target, tol)");
    CHECK(error_of(head + "    builtin: {learner: linear_regression, data: d.csv, target: y, "
                          "l2: -1}\n    outs: [m]\n") ==
          "mlo.yaml:3:71: 'builtin' of stage 't': 'l2' must be a number >= 0, not -1");
    CHECK(
        error_of(head + "    builtin: {learner: linear_regression, target: y}\n    outs: [m]\n") ==
        "mlo.yaml:3:5: 'builtin' of stage 't': needs 'data' (a CSV file)");
    CHECK(error_of(head + "    builtin: {learner: linear_regression, data: d.csv, target: y}\n") ==
          "mlo.yaml:3:5: built-in learner stage 't' needs exactly one entry under 'outs' (the "
          "model file it writes), not 0");
    CHECK(error_of(head + "    builtin: {evaluate: m.json, data: d.csv}\n    outs: [x]\n") ==
          "mlo.yaml:3:5: built-in evaluation stage 't' needs exactly one entry under 'metrics' "
          "(the file it writes) and nothing under 'outs'");
    CHECK(error_of(head + "    builtin: {evaluate: m.json, learner: linear_regression}\n") ==
          "mlo.yaml:3:25: 'builtin' of stage 't': a built-in stage has 'learner' or "
          "'evaluate', not both");
    CHECK(error_of(head + "    builtin: {data: ../d.csv, evaluate: m.json}\n    metrics: [x]\n")
              .find("mlo.yaml:3:21: ") == 0);

    const std::string ok = head + "    cmd: x\n";
    CHECK(error_of(ok + "model: {name: 'a b', path: m.json}\n") ==
          "mlo.yaml:4:15: 'model.name' 'a b' is not a valid model name (letters, digits, '_', "
          "'.', '-'; at most 64)");
    CHECK(error_of(ok + "model: {name: churn}\n") ==
          "mlo.yaml:4:1: 'model' needs 'path' (the model file the pipeline writes)");
    CHECK(error_of(ok + "model: {name: churn, path: m.json, gate: 'accuracy >'}\n") ==
          "mlo.yaml:4:42: invalid 'model.gate': gate: column 11: expression ends too early");
    CHECK(error_of(ok + "model: {name: churn, path: m.json, promote: yes}\n") ==
          "mlo.yaml:4:36: unknown key 'promote' in 'model' (use name, path, gate, alias)");
}
