// Lineage: which run wrote an object, what that run read, which runs wrote those, and so on.

#include <map>
#include <set>

#include "core/runs.hpp"

namespace mlo::core {

namespace {

class Walker {
public:
    Walker(RunStore& runs, size_t max_depth) : runs_(runs), max_depth_(max_depth) {}

    // `consumer`: the run that read this artifact (none for the root).
    LineageNode expand(const Artifact& a, const Run* consumer, size_t depth) {
        LineageNode node;
        node.artifact = a;
        node.producer = producer(a, consumer);
        if (!node.producer) return node;  // raw data
        // An object read under another name, or an empty size, gets what its producer wrote.
        for (const Artifact& out : node.producer->outputs) {
            if (out.digest != a.digest) continue;
            if (node.artifact.path.empty()) node.artifact.path = out.path;
            if (node.artifact.size == 0) node.artifact.size = out.size;
            node.artifact.is_dir = node.artifact.is_dir || out.is_dir;
            if (out.path == a.path) break;
        }
        // Each run's inputs are shown once: a later artifact written by a run already shown (the
        // same object again, or another output of that run) points back to it. This also stops
        // cycles (a run that rewrites the file it read).
        if (expanded_.count(node.producer->id)) {
            node.repeated = true;
            return node;
        }
        if (depth >= max_depth_) return node;
        expanded_.insert(node.producer->id);
        const Run& run = *node.producer;
        for (const Artifact& in : run.inputs)
            node.inputs.push_back(expand(in, &run, depth + 1));
        return node;
    }

private:
    // How well run `r` explains the artifact: 2 = it wrote these bytes at this path; 1 = it
    // wrote these bytes elsewhere (a copy); 0 = not at all: it read this file (the bytes existed
    // before it ran, even if it wrote them again, as a stage that rewrites a file in place or
    // whose output equals its input), or it is the run that read the artifact.
    static int fit(const Run& r, const Artifact& a, const Run* consumer) {
        if (consumer && r.id == consumer->id) return 0;
        bool wrote_here = false;
        for (const Artifact& o : r.outputs)
            wrote_here = wrote_here || (o.digest == a.digest && o.path == a.path);
        if (wrote_here) return 2;
        for (const Artifact& i : r.inputs) {
            if (i.digest == a.digest && i.path == a.path) return 0;
        }
        return 1;
    }

    // The run that wrote the artifact: the best fitting producer of its bytes, and among equals
    // the newest one that started no later than the consumer (the version it could have read),
    // else the newest.
    std::optional<Run> producer(const Artifact& a, const Run* consumer) {
        auto it = producers_.find(a.digest);
        if (it == producers_.end())
            it = producers_.emplace(a.digest, runs_.producers_of(a.digest)).first;
        const Run* best = nullptr;
        int best_fit = 0;
        bool best_in_time = false;
        for (const Run& r : it->second) {  // newest first
            int f = fit(r, a, consumer);
            bool in_time = !consumer || r.started_ns <= consumer->started_ns;
            if (f == 0) continue;
            if (!best || f > best_fit || (f == best_fit && in_time && !best_in_time)) {
                best = &r;
                best_fit = f;
                best_in_time = in_time;
            }
        }
        if (!best) return std::nullopt;
        return *best;
    }

    RunStore& runs_;
    size_t max_depth_;
    std::set<std::string> expanded_;  // ids of runs whose inputs are shown
    std::map<Digest, std::vector<Run>> producers_;
};

}  // namespace

LineageNode lineage_of(RunStore& runs, const Artifact& a, size_t max_depth) {
    Walker w(runs, max_depth);
    return w.expand(a, nullptr, 0);
}

}  // namespace mlo::core
