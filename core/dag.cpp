#include "core/dag.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <queue>
#include <set>

#include "core/params.hpp"
#include "storage/error.hpp"

namespace mlo::core {

namespace {

struct OutRef {
    size_t stage;
    const OutSpec* out;
};

bool inside(const std::string& path, const std::string& dir) {
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           path[dir.size()] == '/';
}

// Outputs at `path`, above it (a directory containing it) or below it (inside it).
std::vector<const OutRef*> overlapping(const std::map<std::string, OutRef>& outs,
                                       const std::string& path) {
    std::vector<const OutRef*> found;
    for (size_t slash = 0;; ++slash) {
        slash = path.find('/', slash);
        std::string prefix = slash == std::string::npos ? path : path.substr(0, slash);
        if (auto it = outs.find(prefix); it != outs.end()) found.push_back(&it->second);
        if (slash == std::string::npos) break;
    }
    for (auto it = outs.lower_bound(path + "/"); it != outs.end() && inside(it->first, path); ++it)
        found.push_back(&it->second);
    return found;
}

// Marks `from` and everything reachable through `edges`, returned in `order`.
std::vector<size_t> reach(const std::vector<std::vector<size_t>>& edges,
                          const std::vector<size_t>& order, const std::vector<size_t>& from) {
    std::vector<bool> seen(edges.size(), false);
    std::vector<size_t> stack;
    for (size_t s : from) {
        if (s >= edges.size()) throw Error("no stage number " + std::to_string(s));
        if (!seen[s]) {
            seen[s] = true;
            stack.push_back(s);
        }
    }
    while (!stack.empty()) {
        size_t s = stack.back();
        stack.pop_back();
        for (size_t n : edges[s]) {
            if (!seen[n]) {
                seen[n] = true;
                stack.push_back(n);
            }
        }
    }
    std::vector<size_t> out;
    for (size_t s : order) {
        if (seen[s]) out.push_back(s);
    }
    return out;
}

}  // namespace

std::vector<size_t> Dag::closure(const std::vector<size_t>& targets) const {
    if (targets.empty()) return order;
    return reach(upstream, order, targets);
}

std::vector<size_t> Dag::dependants(const std::vector<size_t>& stages) const {
    return reach(downstream, order, stages);
}

Dag build_dag(const Pipeline& p, const std::function<bool(const std::string&)>& exists) {
    const size_t n = p.stages.size();
    Dag d;
    d.upstream.assign(n, {});
    d.downstream.assign(n, {});

    // Every output, checking that no two overlap.
    std::map<std::string, OutRef> outs;
    for (size_t i = 0; i < n; ++i) {
        const Stage& s = p.stages[i];
        for (const OutSpec& o : s.outs) {
            auto clash = overlapping(outs, o.path);
            if (!clash.empty()) {
                const OutRef& c = *clash.front();
                const std::string& other = p.stages[c.stage].name;
                std::string why;
                if (c.out->path == o.path) {
                    why = "output " + quote(o.path) + " of stage " + quote(s.name) +
                          " is also written by stage " + quote(other);
                } else if (inside(o.path, c.out->path)) {
                    why = "output " + quote(o.path) + " of stage " + quote(s.name) +
                          " is inside output " + quote(c.out->path) + " of stage " + quote(other);
                } else {
                    why = "output " + quote(o.path) + " of stage " + quote(s.name) +
                          " contains output " + quote(c.out->path) + " of stage " + quote(other);
                }
                fail_at(o.pos, why + " (" + c.out->pos.str() + ")");
            }
            outs.emplace(o.path, OutRef{i, &o});
        }
    }

    // Edges: a dependency on an output, on a path inside an output directory, or on a directory
    // that contains outputs.
    std::vector<std::set<size_t>> up(n);
    for (size_t i = 0; i < n; ++i) {
        const Stage& s = p.stages[i];
        for (const DepSpec& dep : s.deps) {
            auto producers = overlapping(outs, dep.path);
            if (producers.empty()) {
                if (!exists(dep.path))
                    fail_at(dep.pos, "dependency " + quote(dep.path) + " of stage " +
                                         quote(s.name) + " does not exist and no stage writes it");
                continue;
            }
            for (const OutRef* o : producers)
                up[i].insert(o->stage);
        }
    }
    for (size_t i = 0; i < n; ++i) {
        d.upstream[i].assign(up[i].begin(), up[i].end());
        for (size_t u : up[i])
            d.downstream[u].push_back(i);
    }
    for (auto& v : d.downstream)
        std::sort(v.begin(), v.end());

    // Kahn's algorithm; among the stages ready at once, the first in the file goes first.
    std::vector<size_t> indegree(n);
    std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
    for (size_t i = 0; i < n; ++i) {
        indegree[i] = d.upstream[i].size();
        if (indegree[i] == 0) ready.push(i);
    }
    while (!ready.empty()) {
        size_t s = ready.top();
        ready.pop();
        d.order.push_back(s);
        for (size_t t : d.downstream[s]) {
            if (--indegree[t] == 0) ready.push(t);
        }
    }
    if (d.order.size() == n) return d;

    // A cycle: every stage left over has an upstream stage left over. Find the shortest cycle
    // through the first such stage (in file order) that is on one, walking downstream.
    std::vector<bool> left(n, false);
    for (size_t i = 0; i < n; ++i)
        left[i] = indegree[i] > 0;
    for (size_t start = 0; start < n; ++start) {
        if (!left[start]) continue;
        std::vector<size_t> parent(n, SIZE_MAX);
        std::deque<size_t> queue = {start};
        std::vector<bool> seen(n, false);
        seen[start] = true;
        while (!queue.empty()) {
            size_t s = queue.front();
            queue.pop_front();
            for (size_t t : d.downstream[s]) {
                if (!left[t]) continue;
                if (t == start) {
                    std::vector<size_t> path = {start};
                    for (size_t x = s; x != start; x = parent[x])
                        path.push_back(x);
                    std::reverse(path.begin() + 1, path.end());
                    std::string text;
                    for (size_t x : path)
                        text += p.stages[x].name + " -> ";
                    text += p.stages[start].name;
                    fail_at(p.stages[start].pos, "dependency cycle: " + text);
                }
                if (!seen[t]) {
                    seen[t] = true;
                    parent[t] = s;
                    queue.push_back(t);
                }
            }
        }
    }
    throw Error("dependency cycle among the stages");  // not reached
}

std::string dag_to_dot(const Pipeline& p, const Dag& d) {
    auto q = [](const std::string& s) {
        std::string out = "\"";
        for (char c : s) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        return out + "\"";
    };
    std::string out = "digraph mlo {\n";
    for (const Stage& s : p.stages)
        out += "    " + q(s.name) + ";\n";
    for (size_t i = 0; i < p.stages.size() && i < d.downstream.size(); ++i) {
        for (size_t t : d.downstream[i])
            out += "    " + q(p.stages[i].name) + " -> " + q(p.stages[t].name) + ";\n";
    }
    return out + "}\n";
}

}  // namespace mlo::core
