#pragma once

// Run records and lineage in .mlo/mlo.db (issue 3). A run is one execution of a stage (or a
// run-cache restore, or later a tracked command): what ran, with which parameters, on which
// code version, what it read and what it wrote.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/database.hpp"
#include "storage/fs.hpp"
#include "storage/hash.hpp"

namespace mlo::core {

enum class RunStatus { running, succeeded, failed, interrupted, restored };
const char* run_status_name(RunStatus s);  // "running", "succeeded", ...
std::optional<RunStatus> run_status_from(const std::string& name);

// The code version a run used (libgit2).
struct GitState {
    bool in_git = false;    // the repository root is inside a git work tree
    std::string commit;     // HEAD's full hex id; "" when there is no commit yet
    bool dirty = false;     // tracked files differ from HEAD (untracked files do not count)
    std::string diff_hash;  // when dirty: SHA-256 hex of the uncommitted diff (HEAD to work
                            // tree, patch text), stable for the same changes; "" otherwise
};
// Reads the git state of the work tree containing `root`; outside git returns in_git = false.
// Never throws for git problems (a broken .git gives in_git = false and a note in `error`).
GitState read_git_state(const fs::path& root, std::string* error = nullptr);

// An artifact a run read or wrote: a file or a directory (manifest) in the object store.
struct Artifact {
    std::string path;  // repository-relative
    Digest digest{};
    uint64_t size = 0;
    bool is_dir = false;
};

struct Run {
    std::string id;     // see RunStore::new_id
    std::string stage;  // "" for runs that are not a pipeline stage
    std::string cmd;    // the resolved command line (or "builtin: {...}")
    nlohmann::json params = nlohmann::json::object();  // flat {"train.l2": 0.1}
    int64_t started_ns = 0;                            // wall clock, ns since the epoch
    int64_t ended_ns = 0;                              // 0 while running
    RunStatus status = RunStatus::running;
    std::optional<int> exit_code;  // of the command; none when it never ran to an exit
    std::string host, user;
    GitState git;
    std::string cache_key;          // hex; equal keys = same command, dep hashes and params
    std::optional<Digest> log;      // object holding the command's combined stdout/stderr
    std::string restored_from;      // for status restored: the run whose outputs were reused
    std::vector<Artifact> inputs;   // dependencies, with the hashes they had when it ran
    std::vector<Artifact> outputs;  // what it wrote (set by finish)
    std::map<std::string, double> metrics;  // flattened metrics files ("a.b" -> value)
};

class RunStore {
public:
    explicit RunStore(Database& db);

    // A new, unique, time-ordered id: 16 lowercase hex digits of time plus 8 random, e.g.
    // "18a3f09c2b7d4e00a1b2c3d4" (sorting ids sorts runs by start).
    static std::string new_id();

    // Records a run as started (status as given, usually running), with its inputs and params.
    void begin(const Run& r);
    // Records the end: status, ended_ns, exit_code, log, outputs, metrics, restored_from. One
    // transaction: a run is never left half-written.
    void finish(const Run& r);

    std::optional<Run> get(const std::string& id_or_prefix);  // unique prefix allowed
    // Newest first. `stage` empty = all stages; `limit` 0 = no limit.
    std::vector<Run> list(const std::string& stage = "", size_t limit = 0);
    // The newest succeeded (not restored) run with this cache key, if any.
    std::optional<Run> find_cached(const std::string& cache_key);
    // Runs that wrote this object (succeeded or restored), newest first.
    std::vector<Run> producers_of(const Digest& d);
    // Marks runs still "running" whose process is gone (pid recorded at begin, same host) as
    // interrupted; returns how many. Called by repro before it starts.
    size_t reap_stale();

    // For resolving command-line arguments (lineage): artifacts recorded by any run.
    // The newest artifact recorded at `path` that a succeeded or restored run wrote, else the
    // newest one any run read.
    std::optional<Artifact> artifact_at(const std::string& path);
    // The newest recorded artifact with this object id (one a run wrote preferred).
    std::optional<Artifact> artifact_with(const Digest& d);
    // Distinct object ids among recorded artifacts whose hex form starts with `hex_prefix`
    // (lowercase hex digits), at most `limit`.
    std::vector<Digest> digests_with_prefix(const std::string& hex_prefix, size_t limit = 2);

private:
    Database& db_;
};

// The user a record names: the passwd name of the effective uid, else $USER ("" if neither).
std::string current_user();

// Reads a metrics file (JSON, or YAML for .yaml/.yml) and flattens nested keys to "a.b";
// numbers and booleans (1/0) are kept, other values are skipped. Throws Error naming the file
// (and line for YAML) when it cannot be parsed.
std::map<std::string, double> read_metrics_file(const fs::path& file, const std::string& shown);

// Lineage: the tree of runs and artifacts that produced an object.
struct LineageNode {
    Artifact artifact;
    std::optional<Run> producer;      // newest run that wrote it; none = raw data. Below
                                      // the root: never the run that read it, the one that
                                      // wrote this path over one that wrote a copy, and one
                                      // that started before the reader over a later one
    std::vector<LineageNode> inputs;  // the producer's inputs, each with its own lineage
    bool repeated = false;            // already shown above (the tree is a DAG)
};
LineageNode lineage_of(RunStore& runs, const Artifact& a, size_t max_depth = 64);

}  // namespace mlo::core
