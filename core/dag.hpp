#pragma once

// The stage graph of a pipeline (issue 3): stage B depends on stage A when one of B's deps is
// one of A's outs, lies inside a directory A writes, or is a directory that contains an out of
// A (a dependency on data/ depends on the stage writing data/train.csv).

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/pipeline.hpp"

namespace mlo::core {

struct Dag {
    // Indices into Pipeline::stages.
    std::vector<std::vector<size_t>> upstream;    // stages each stage depends on (sorted)
    std::vector<std::vector<size_t>> downstream;  // stages that depend on each stage (sorted)
    std::vector<size_t> order;                    // a topological order, upstream first;
                                                  // ties broken by file order
    // The given stages and everything upstream of them, in topological order. Empty `targets`
    // means every stage.
    std::vector<size_t> closure(const std::vector<size_t>& targets) const;
    // The given stages and everything downstream of them, in topological order.
    std::vector<size_t> dependants(const std::vector<size_t>& stages) const;
};

// Builds the graph. `exists(path)` says whether a repository-relative path exists in the
// workspace (or is tracked by a pointer file); a dependency that neither exists nor is produced
// by a stage is an error. Throws Error "<file>:<line>:<column>: <why>" for:
//  - two stages writing the same output, or one's output inside the other's ("output
//    'data/x.csv' of stage 'b' is also written by stage 'a' (mlo.yaml:4:12)");
//  - a cycle, printed in full: "dependency cycle: a -> b -> c -> a";
//  - a missing dependency: "dependency 'data/raw.csv' of stage 'prepare' does not exist and no
//    stage writes it".
Dag build_dag(const Pipeline& p, const std::function<bool(const std::string&)>& exists);

// For `mlo dag --dot`: a Graphviz digraph, one node per stage, edges upstream -> downstream.
std::string dag_to_dot(const Pipeline& p, const Dag& d);

}  // namespace mlo::core
