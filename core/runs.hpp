#pragma once

// Run records and lineage in .mlo/mlo.db (issue 3). A run is one execution of a stage (or a
// run-cache restore, or later a tracked command): what ran, with which parameters, on which
// code version, what it read and what it wrote.

#include <cstdint>
#include <map>
#include <memory>
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

// What a run is: one pipeline stage, one experiment (`mlo exp run`: a whole pipeline in an
// isolated workspace; its stage runs name it as parent), or a tracked command (`mlo run`).
enum class RunKind { stage, exp, command };
const char* run_kind_name(RunKind k);  // "stage", "exp", "command"
std::optional<RunKind> run_kind_from(const std::string& name);

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

// What git ignores in the work tree containing `root` (.gitignore files, info/exclude, the
// global excludes). Outside git nothing is ignored.
class GitIgnores {
public:
    explicit GitIgnores(const fs::path& root);
    ~GitIgnores();
    // `rel` is relative to `root`, '/'-separated.
    bool ignored(const std::string& rel, bool is_dir) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// An artifact a run read or wrote: a file or a directory (manifest) in the object store.
struct Artifact {
    std::string path;  // repository-relative
    Digest digest{};
    uint64_t size = 0;
    bool is_dir = false;
};

struct Run {
    std::string id;  // see RunStore::new_id
    RunKind kind = RunKind::stage;
    std::string name;    // human name ("" for stage runs)
    std::string parent;  // the experiment a stage run belongs to, else ""
    std::string sweep;   // experiments of one `exp run` share it, else ""
    std::string stage;   // "" for runs that are not a pipeline stage
    std::string cmd;     // the resolved command line (or "builtin: {...}")
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
    std::map<std::string, double> metrics;  // flattened metrics files ("a.b" -> value), and
                                            // logged metrics at their highest step
    std::map<std::string, std::string> tags;
    std::optional<Digest> lock_object;  // exp: the mlo.lock it ended with
};

// One logged value of a metric.
struct MetricPoint {
    std::string key;
    double value = 0;
    int64_t step = 0;
    int64_t time_ns = 0;  // 0 = now
};

class RunStore {
public:
    explicit RunStore(Database& db);

    // A new unique id: 24 random lowercase hex digits, so that, as with git's object ids, a
    // short prefix names one run. (Databases from before migration 4 also hold time-ordered
    // ids: 16 hex digits of the start time plus 8 random ones.)
    static std::string new_id();
    // A human name for a run, "adjective-noun-NNN" ("brisk-otter-417").
    static std::string new_name();

    // Records a run as started (status as given, usually running), with its inputs and params.
    void begin(const Run& r);
    // Records the end: status, ended_ns, exit_code, log, outputs, metrics, restored_from. One
    // transaction: a run is never left half-written.
    void finish(const Run& r);

    std::optional<Run> get(const std::string& id_or_prefix);  // unique prefix allowed
    // What the user typed for a run: its full id, a unique prefix of it (4 or more hex
    // digits) or its name when no other run has that name. Returns the full id. Throws Error
    // "unknown run 'x'" or "run 'x' is ambiguous: ..." listing the candidates.
    std::string resolve(const std::string& ref);
    // Every run id, sorted (for the shortest unambiguous abbreviations).
    std::vector<std::string> all_ids();
    // The stage runs of an experiment, in the order they started.
    std::vector<Run> children(const std::string& parent);

    // Recording into a run that is still running (`mlo log`); each call is one transaction.
    // Throws Error when the run does not exist or has ended.
    void log_metrics(const std::string& run_id, const std::vector<MetricPoint>& points);
    // The same for a batch too large to hold at once (a million-line file): add() it in
    // parts, then commit(). One transaction: nothing is recorded unless commit() is reached.
    class MetricWriter {
    public:
        MetricWriter(RunStore& store, const std::string& run_id);
        ~MetricWriter();
        MetricWriter(const MetricWriter&) = delete;
        MetricWriter& operator=(const MetricWriter&) = delete;
        // Points are written in (metric, step) order within a part (see runs.cpp).
        void add(const std::vector<MetricPoint>& points);
        void commit();

    private:
        struct State;
        std::unique_ptr<State> state_;
    };
    // A parameter, once set, keeps its value: the same value again is accepted, another is an
    // error.
    void log_param(const std::string& run_id, const std::string& key, const nlohmann::json& value);
    // Adds the parameters a run does not have yet (any status); the others keep their values.
    void add_missing_params(const std::string& run_id, const nlohmann::json& params);
    void set_tag(const std::string& run_id, const std::string& key, const std::string& value);
    void add_output(const std::string& run_id, const Artifact& a);
    // A metric's logged history, by step (then in the order logged).
    std::vector<MetricPoint> history(const std::string& run_id, const std::string& key);
    // One past the highest step logged for the metric (0 when none is).
    int64_t next_step(const std::string& run_id, const std::string& key);
    // Keys of the metrics that have a logged history.
    std::vector<std::string> history_keys(const std::string& run_id);
    // Deletes runs with their artifacts, metrics, histories, tags and their experiments'
    // stage runs; returns how many runs went. One transaction.
    size_t remove(const std::vector<std::string>& ids);
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
// This machine's host name ("" when unknown).
std::string this_host();
// True when process `pid` (on this host), which started at `started_ns`, is gone: no such pid,
// or the pid now belongs to a process that started well after (pid reuse).
bool process_gone(long pid, int64_t started_ns);
// A random number from a generator seeded once per process from the kernel (for ids).
uint64_t random_u64();

// Reads a metrics file (JSON, or YAML for .yaml/.yml) and flattens nested keys to "a.b";
// numbers and booleans (1/0) are kept, other values are skipped. Throws Error naming the file
// (and line for YAML) when it cannot be parsed.
std::map<std::string, double> read_metrics_file(const fs::path& file, const std::string& shown);
// The same from the file's text (`file` gives the extension).
std::map<std::string, double> parse_metrics(const std::string& text, const fs::path& file,
                                            const std::string& shown);

// The content of `rel` (relative to `root`, which lies in a git work tree) in revision `rev`
// ("HEAD", "main~2", a commit id): nullopt when the revision has no such file. Throws Error
// when `rev` is not a revision or there is no git repository.
std::optional<std::string> read_git_file(const fs::path& root, const std::string& rev,
                                         const std::string& rel);
// True when `rev` names a commit in the git repository containing `root`.
bool is_git_revision(const fs::path& root, const std::string& rev);

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
