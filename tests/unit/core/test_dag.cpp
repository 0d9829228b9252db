#include <set>

#include "core/dag.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::StartsWith;

namespace {

using Idx = std::vector<size_t>;

// Paths that exist in the workspace, for build_dag.
struct Existing {
    std::set<std::string> paths;
    bool operator()(const std::string& p) const { return paths.count(p) > 0; }
};

std::string dag_error(const std::string& text, const Existing& exists = {}) {
    Pipeline p = parse_pipeline(text, {});
    try {
        build_dag(p, exists);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::vector<std::string> names(const Pipeline& p, const Idx& idx) {
    std::vector<std::string> v;
    for (size_t i : idx)
        v.push_back(p.stages[i].name);
    return v;
}

using V = std::vector<std::string>;

// c needs a (file) and b (inside a's directory); d needs the directory holding c's output;
// e is independent; a and e come first in file order.
const std::string kPipeline = R"(stages:
  d:
    cmd: report
    deps: [reports]
    outs: [final.txt]
  c:
    cmd: combine
    deps: [data/prepared.csv, features/f1.csv]
    outs: [reports/summary.txt]
  a:
    cmd: prepare
    deps: [raw.csv]
    outs: [data/prepared.csv]
  b:
    cmd: features
    outs: [features]
  e:
    cmd: independent
)";

}  // namespace

TEST_CASE("edges by file, inside an output directory and a directory holding outputs", "[dag]") {
    Pipeline p = parse_pipeline(kPipeline, {});
    Dag d = build_dag(p, Existing{{"raw.csv"}});
    // Indices: d=0, c=1, a=2, b=3, e=4.
    CHECK(d.upstream[0] == Idx{1});     // d <- c (reports/ holds reports/summary.txt)
    CHECK(d.upstream[1] == Idx{2, 3});  // c <- a (same file), b (inside features/)
    CHECK(d.upstream[2].empty());
    CHECK(d.upstream[3].empty());
    CHECK(d.upstream[4].empty());
    CHECK(d.downstream[2] == Idx{1});
    CHECK(d.downstream[3] == Idx{1});
    CHECK(d.downstream[1] == Idx{0});
    CHECK(d.downstream[0].empty());

    // Upstream first; ties in file order.
    CHECK(names(p, d.order) == V{"a", "b", "c", "d", "e"});

    CHECK(names(p, d.closure({0})) == V{"a", "b", "c", "d"});
    CHECK(names(p, d.closure({1})) == V{"a", "b", "c"});
    CHECK(names(p, d.closure({4})) == V{"e"});
    CHECK(names(p, d.closure({})) == V{"a", "b", "c", "d", "e"});
    CHECK(names(p, d.closure({3, 4})) == V{"b", "e"});
    CHECK(names(p, d.dependants({2})) == V{"a", "c", "d"});
    CHECK(names(p, d.dependants({0})) == V{"d"});
    CHECK(names(p, d.dependants({4, 3})) == V{"b", "c", "d", "e"});
    CHECK(d.dependants({}).empty());

    CHECK(dag_to_dot(p, d) ==
          "digraph mlo {\n"
          "    \"d\";\n    \"c\";\n    \"a\";\n    \"b\";\n    \"e\";\n"
          "    \"c\" -> \"d\";\n    \"a\" -> \"c\";\n    \"b\" -> \"c\";\n"
          "}\n");
}

TEST_CASE("a topological order keeps file order among independent stages", "[dag]") {
    Pipeline p = parse_pipeline(R"(stages:
  z:
    cmd: z
    deps: [y.txt]
  x:
    cmd: x
  y:
    cmd: y
    outs: [y.txt]
  w:
    cmd: w
)",
                                {});
    Dag d = build_dag(p, Existing{});
    CHECK(names(p, d.order) == V{"x", "y", "z", "w"});
}

TEST_CASE("a dependency that exists in the workspace needs no stage", "[dag]") {
    const std::string text = "stages:\n  a:\n    cmd: x\n    deps: [in.csv, tools/run.py]\n";
    CHECK(dag_error(text, Existing{{"in.csv", "tools/run.py"}}).empty());
    CHECK(dag_error(text, Existing{{"in.csv"}}) ==
          "mlo.yaml:4:20: dependency 'tools/run.py' of stage 'a' does not exist and no stage "
          "writes it");
}

TEST_CASE("two stages writing the same output", "[dag]") {
    CHECK(dag_error(R"(stages:
  a:
    cmd: x
    outs: [data/x.csv]
  b:
    cmd: y
    outs: [other, data/x.csv]
)") == "mlo.yaml:7:19: output 'data/x.csv' of stage 'b' is also written by stage 'a' "
       "(mlo.yaml:4:12)");
}

TEST_CASE("overlapping outputs", "[dag]") {
    CHECK(dag_error(R"(stages:
  a:
    cmd: x
    outs: [data]
  b:
    cmd: y
    outs: [data/x.csv]
)") == "mlo.yaml:7:12: output 'data/x.csv' of stage 'b' is inside output 'data' of stage 'a' "
       "(mlo.yaml:4:12)");
    CHECK(dag_error(R"(stages:
  a:
    cmd: x
    outs: [data/sub/x.csv]
  b:
    cmd: y
    outs: [data]
)") == "mlo.yaml:7:12: output 'data' of stage 'b' contains output 'data/sub/x.csv' of stage "
       "'a' (mlo.yaml:4:12)");
    // A common prefix that is not a directory is no overlap.
    CHECK(dag_error(R"(stages:
  a:
    cmd: x
    outs: [data]
  b:
    cmd: y
    outs: [data.csv, data-2, data.d/x]
)")
              .empty());
}

TEST_CASE("a cycle is printed in full", "[dag]") {
    CHECK(dag_error(R"(stages:
  start:
    cmd: s
    outs: [s.txt]
  a:
    cmd: a
    deps: [c.txt, s.txt]
    outs: [a.txt]
  b:
    cmd: b
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: c
    deps: [b.txt]
    outs: [c.txt]
)") == "mlo.yaml:5:3: dependency cycle: a -> b -> c -> a");
    CHECK(dag_error("stages:\n  self:\n    cmd: x\n    deps: [o]\n    outs: [o]\n") ==
          "mlo.yaml:2:3: dependency cycle: self -> self");
}

TEST_CASE("expanded stages join the graph", "[dag]") {
    Pipeline p = parse_pipeline(R"(stages:
  prep:
    foreach: [a, b]
    do:
      cmd: prep ${item}
      outs:
        - data/${item}.csv
  train:
    cmd: train
    deps: [data]
)",
                                {});
    Dag d = build_dag(p, Existing{});
    CHECK(names(p, d.upstream[2]) == V{"prep@a", "prep@b"});
    CHECK(names(p, d.order) == V{"prep@a", "prep@b", "train"});
}
