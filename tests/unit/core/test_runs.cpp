#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "core/runs.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using mlo::test::TempDir;
using mlo::test::write_text;

namespace {

Digest digest_of(const std::string& s) {
    return sha256(s);
}

Artifact artifact(const std::string& path, const std::string& content, bool is_dir = false) {
    return {path, digest_of(content), content.size(), is_dir};
}

Run make_run(const std::string& stage, int64_t started_ns, const std::string& id = "") {
    Run r;
    r.id = id.empty() ? RunStore::new_id() : id;
    r.stage = stage;
    r.cmd = "python3 " + stage + ".py";
    r.started_ns = started_ns;
    return r;
}

// Begins and finishes a run in one go.
Run record(RunStore& store, Run r, RunStatus status, std::vector<Artifact> outputs = {}) {
    store.begin(r);
    r.status = status;
    r.ended_ns = r.started_ns + 1000;
    r.exit_code = status == RunStatus::failed ? 1 : 0;
    r.outputs = std::move(outputs);
    store.finish(r);
    return r;
}

std::vector<std::string> ids(const std::vector<Run>& runs) {
    std::vector<std::string> out;
    for (const auto& r : runs)
        out.push_back(r.id);
    return out;
}

void set_pid(Database& db, const std::string& id, long pid) {
    Database::Statement q(db, "UPDATE runs SET pid = ? WHERE id = ?");
    q.bind(1, int64_t(pid)).bind(2, id);
    q.step();
}

// A pid that certainly belongs to no process: a child that has exited and been reaped.
long dead_pid() {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    REQUIRE(pid > 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return long(pid);
}

std::string host_name() {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
}

}  // namespace

TEST_CASE("run ids are 24 random lowercase hex digits whose short prefixes differ", "[runs]") {
    std::set<std::string> seen, prefixes;
    for (int i = 0; i < 2000; ++i) {
        std::string id = RunStore::new_id();
        REQUIRE(id.size() == 24);
        CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
        CHECK(seen.insert(id).second);
        prefixes.insert(id.substr(0, 8));
    }
    // Ids made in the same instant do not share a time prefix: 8 digits tell 2000 apart
    // (a collision among 2000 random 32-bit prefixes has probability below 0.05%).
    CHECK(prefixes.size() == seen.size());
    std::string name = RunStore::new_name();
    CHECK_THAT(name, Catch::Matchers::Matches("[a-z]+-[a-z]+-[1-9][0-9][0-9]"));
}

TEST_CASE("a run is named by its id, a unique prefix of it, or its unique name", "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    Run a = make_run("", 100, "aaaa1111bbbb2222cccc3333");
    a.kind = RunKind::command;
    a.name = "first";
    Run b = make_run("", 200, "aaaa1111ffff2222cccc3333");
    b.name = "twin";
    Run c = make_run("", 300, "0123456789abcdef01234567");
    c.name = "twin";
    for (const Run& r : {a, b, c})
        record(store, r, RunStatus::succeeded);
    CHECK(store.resolve("aaaa1111bbbb2222cccc3333") == a.id);
    CHECK(store.resolve("aaaa1111b") == a.id);
    CHECK(store.resolve("first") == a.id);
    CHECK(store.resolve("0123") == c.id);
    CHECK_THROWS_WITH(store.resolve("aaaa1111"),
                      StartsWith("run 'aaaa1111' is ambiguous: it matches aaaa1111bbbb"));
    CHECK_THROWS_WITH(store.resolve("twin"), Contains("is ambiguous") && Contains("(twin)"));
    CHECK_THROWS_WITH(store.resolve("nope"), "unknown run 'nope'");
    // Fewer than 4 hex digits is not taken as a prefix.
    CHECK_THROWS_WITH(store.resolve("aaa"), StartsWith("unknown run 'aaa'"));
    auto got = store.get(a.id);
    REQUIRE(got);
    CHECK(got->kind == RunKind::command);
    CHECK(got->name == "first");
}

TEST_CASE("a metric batch written in parts equals one batch, and is all or nothing", "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    Run a = make_run("", 100), b = make_run("", 200);
    store.begin(a);
    store.begin(b);
    std::vector<MetricPoint> all;
    for (int i = 0; i < 10; ++i)
        all.push_back({i % 2 ? "acc" : "loss", 1.0 / (i + 1), i / 2, 0});
    store.log_metrics(a.id, all);
    {
        RunStore::MetricWriter w(store, b.id);
        w.add({all.begin(), all.begin() + 3});
        w.add({all.begin() + 3, all.end()});
        w.commit();
    }
    for (const char* key : {"acc", "loss"}) {
        auto ha = store.history(a.id, key), hb = store.history(b.id, key);
        REQUIRE(ha.size() == 5);
        REQUIRE(hb.size() == ha.size());
        for (size_t i = 0; i < ha.size(); ++i) {
            CHECK(hb[i].step == ha[i].step);
            CHECK(hb[i].value == ha[i].value);
        }
    }
    CHECK(store.get(b.id)->metrics == store.get(a.id)->metrics);
    CHECK(store.next_step(b.id, "loss") == 5);
    {
        RunStore::MetricWriter w(store, b.id);  // never committed: rolled back
        w.add({{"loss", 9, 99, 0}, {"new", 1, 0, 0}});
    }
    CHECK(store.history(b.id, "loss").size() == 5);
    CHECK(store.history(b.id, "new").empty());
    CHECK(store.get(b.id)->metrics.count("new") == 0);
}

TEST_CASE("logged metrics keep their history and the run keeps the highest step's value",
          "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    Run r = make_run("", 100);
    store.begin(r);
    store.log_metrics(r.id, {{"loss", 0.9, 0, 0}, {"loss", 0.5, 2, 0}, {"acc", 0.1, 0, 0}});
    store.log_metrics(r.id, {{"loss", 0.7, 1, 0}});  // an earlier step: history only
    auto h = store.history(r.id, "loss");
    REQUIRE(h.size() == 3);
    CHECK(h[0].step == 0);
    CHECK(h[1].value == 0.7);
    CHECK(h[2].step == 2);
    CHECK(store.next_step(r.id, "loss") == 3);
    CHECK(store.next_step(r.id, "other") == 0);
    CHECK(store.get(r.id)->metrics == std::map<std::string, double>{{"acc", 0.1}, {"loss", 0.5}});
    store.log_metrics(r.id, {{"loss", 0.4, 2, 0}});  // the same step again: the latest wins
    CHECK(store.get(r.id)->metrics.at("loss") == 0.4);
    CHECK(store.history_keys(r.id) == std::vector<std::string>{"acc", "loss"});

    store.log_param(r.id, "lr", 0.1);
    store.log_param(r.id, "lr", 0.1);  // the same value again is fine
    CHECK_THROWS_WITH(store.log_param(r.id, "lr", 0.2),
                      Contains("parameter 'lr'") && Contains("keeps its first value"));
    store.set_tag(r.id, "team", "a");
    store.set_tag(r.id, "team", "b");
    auto got = store.get(r.id);
    CHECK(got->params == nlohmann::json{{"lr", 0.1}});
    CHECK(got->tags == std::map<std::string, std::string>{{"team", "b"}});

    r.status = RunStatus::succeeded;
    store.finish(r);
    CHECK_THROWS_WITH(store.log_metrics(r.id, {{"loss", 1, 9, 0}}),
                      Contains("has ended (succeeded)"));
    CHECK(store.history(r.id, "loss").size() == 4);
}

TEST_CASE("removing an experiment removes its stage runs, histories and tags", "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    Run exp = make_run("", 100);
    exp.kind = RunKind::exp;
    store.begin(exp);
    Run child = make_run("train", 110);
    child.parent = exp.id;
    store.begin(child);
    store.log_metrics(child.id, {{"loss", 1, 0, 0}, {"loss", 0.5, 1, 0}});
    store.set_tag(exp.id, "k", "v");
    Run other = make_run("train", 120);
    store.begin(other);
    store.log_metrics(other.id, {{"loss", 2, 0, 0}});
    CHECK(store.children(exp.id).size() == 1);
    CHECK(store.remove({exp.id}) == 2);
    CHECK_FALSE(store.get(exp.id));
    CHECK_FALSE(store.get(child.id));
    Database::Statement q(db, "SELECT count(*) FROM metric_points");
    REQUIRE(q.step());
    CHECK(q.column_int(0) == 1);  // only the other run's point
    CHECK(store.history(other.id, "loss").size() == 1);
}

TEST_CASE("run statuses convert to and from their names", "[runs]") {
    for (RunStatus s : {RunStatus::running, RunStatus::succeeded, RunStatus::failed,
                        RunStatus::interrupted, RunStatus::restored}) {
        REQUIRE(run_status_from(run_status_name(s)) == s);
    }
    CHECK(std::string(run_status_name(RunStatus::succeeded)) == "succeeded");
    CHECK_FALSE(run_status_from("done"));
}

TEST_CASE("begin and finish record every field of a run", "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);

    Run r = make_run("train", now_ns());
    r.cmd = "python3 train.py --l2 0.1";
    r.params = {{"train.l2", 0.1}, {"train.name", "lr"}, {"train.epochs", 3}};
    r.host = "";  // filled in
    r.user = "";
    r.git = {true, std::string(40, 'a'), true, std::string(64, 'b')};
    r.cache_key = std::string(64, 'c');
    r.inputs = {artifact("data/train.csv", "a,b\n1,2\n"),
                artifact("data/images", "manifest", true)};
    store.begin(r);

    SECTION("while running") {
        auto got = store.get(r.id);
        REQUIRE(got);
        CHECK(got->id == r.id);
        CHECK(got->stage == "train");
        CHECK(got->cmd == r.cmd);
        CHECK(got->params == r.params);
        CHECK(got->started_ns == r.started_ns);
        CHECK(got->ended_ns == 0);
        CHECK(got->status == RunStatus::running);
        CHECK_FALSE(got->exit_code);
        CHECK(got->host == host_name());
        CHECK_FALSE(got->user.empty());
        CHECK(got->git.in_git);
        CHECK(got->git.commit == std::string(40, 'a'));
        CHECK(got->git.dirty);
        CHECK(got->git.diff_hash == std::string(64, 'b'));
        CHECK(got->cache_key == r.cache_key);
        CHECK_FALSE(got->log);
        CHECK(got->restored_from.empty());
        REQUIRE(got->inputs.size() == 2);
        CHECK(got->inputs[0].path == "data/train.csv");
        CHECK(got->inputs[0].digest == digest_of("a,b\n1,2\n"));
        CHECK(got->inputs[0].size == 8);
        CHECK_FALSE(got->inputs[0].is_dir);
        CHECK(got->inputs[1].path == "data/images");
        CHECK(got->inputs[1].is_dir);
        CHECK(got->outputs.empty());
        CHECK(got->metrics.empty());
        // The pid is this process.
        Database::Statement q(db, "SELECT pid FROM runs WHERE id = ?");
        q.bind(1, r.id);
        REQUIRE(q.step());
        CHECK(q.column_int(0) == int64_t(::getpid()));
    }

    SECTION("after finish") {
        r.status = RunStatus::succeeded;
        r.ended_ns = r.started_ns + 5'000'000'000;
        r.exit_code = 0;
        r.log = digest_of("log text");
        r.outputs = {artifact("models/model.json", "{}"), artifact("metrics.json", "{\"a\":1}")};
        r.metrics = {{"accuracy", 0.91}, {"loss.train", -2.5}};
        store.finish(r);
        auto got = store.get(r.id);
        REQUIRE(got);
        CHECK(got->status == RunStatus::succeeded);
        CHECK(got->ended_ns == r.ended_ns);
        REQUIRE(got->exit_code);
        CHECK(*got->exit_code == 0);
        REQUIRE(got->log);
        CHECK(*got->log == digest_of("log text"));
        REQUIRE(got->outputs.size() == 2);
        CHECK(got->outputs[0].path == "models/model.json");
        CHECK(got->outputs[1].path == "metrics.json");
        CHECK(got->outputs[1].digest == digest_of("{\"a\":1}"));
        CHECK(got->inputs.size() == 2);
        CHECK(got->metrics == r.metrics);
        // Parameters are also queryable one by one.
        Database::Statement q(db, "SELECT value_json FROM run_params WHERE run_id = ? AND key = ?");
        q.bind(1, r.id).bind(2, std::string("train.l2"));
        REQUIRE(q.step());
        CHECK(q.column_text(0) == "0.1");
    }

    SECTION("a failed run keeps its exit code; restored runs name their source") {
        r.status = RunStatus::failed;
        r.exit_code = 3;
        r.ended_ns = 0;  // filled in by finish
        store.finish(r);
        auto got = store.get(r.id);
        REQUIRE(got);
        CHECK(got->status == RunStatus::failed);
        CHECK(got->exit_code == 3);
        CHECK(got->ended_ns >= r.started_ns);

        Run restored = make_run("train", now_ns());
        restored.status = RunStatus::restored;
        restored.restored_from = r.id;
        restored.host = "elsewhere";
        restored.user = "someone";
        store.begin(restored);
        store.finish(restored);
        auto back = store.get(restored.id);
        REQUIRE(back);
        CHECK(back->status == RunStatus::restored);
        CHECK(back->restored_from == r.id);
        CHECK(back->host == "elsewhere");
        CHECK(back->user == "someone");
        CHECK_FALSE(back->exit_code);
    }

    SECTION("the same id cannot begin twice, and an unknown run cannot finish") {
        CHECK_THROWS_WITH(store.begin(r), Contains("exists"));
        Run other = make_run("x", now_ns());
        other.status = RunStatus::succeeded;
        CHECK_THROWS_WITH(store.finish(other), Contains("never started"));
        CHECK_FALSE(store.get(other.id));
    }
}

TEST_CASE("runs are found by a unique prefix of their id", "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    for (const char* id : {"ab00000000000000000000001", "ab00000000000000000000002",
                           "ab10000000000000000000000", "cd00000000000000000000000"}) {
        store.begin(make_run("s", 1000, id));
    }
    CHECK(store.get("cd")->id == "cd00000000000000000000000");
    CHECK(store.get("CD0")->id == "cd00000000000000000000000");
    CHECK(store.get("ab1")->id == "ab10000000000000000000000");
    CHECK(store.get("ab00000000000000000000002")->id == "ab00000000000000000000002");
    CHECK_THROWS_WITH(store.get("ab"), "run id prefix 'ab' is ambiguous (3 runs)");
    CHECK_THROWS_WITH(store.get("ab0"), Contains("(2 runs)"));
    CHECK_FALSE(store.get("ef"));
    CHECK_FALSE(store.get(""));
    CHECK_FALSE(store.get("ab%"));
}

TEST_CASE("list shows runs newest first, by stage and up to a limit", "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    // Started out of id order on purpose: the start time decides; equal times fall back to ids.
    store.begin(make_run("prepare", 100, "a1"));
    store.begin(make_run("train", 300, "a2"));
    store.begin(make_run("train", 200, "a3"));
    store.begin(make_run("prepare", 300, "a4"));
    store.begin(make_run("", 50, "a5"));

    CHECK(ids(store.list()) == std::vector<std::string>{"a4", "a2", "a3", "a1", "a5"});
    CHECK(ids(store.list("train")) == std::vector<std::string>{"a2", "a3"});
    CHECK(ids(store.list("prepare", 1)) == std::vector<std::string>{"a4"});
    CHECK(ids(store.list("", 3)) == std::vector<std::string>{"a4", "a2", "a3"});
    CHECK(store.list("evaluate").empty());
    // Listed runs carry their details.
    Run r = make_run("evaluate", 400, "a6");
    r.inputs = {artifact("m", "model")};
    record(store, r, RunStatus::succeeded, {artifact("metrics.json", "{}")});
    auto got = store.list("evaluate");
    REQUIRE(got.size() == 1);
    CHECK(got[0].inputs.size() == 1);
    CHECK(got[0].outputs.size() == 1);
}

TEST_CASE("find_cached returns the newest succeeded run with the key", "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    auto with_key = [](Run r, const std::string& key) {
        r.cache_key = key;
        return r;
    };
    CHECK_FALSE(store.find_cached("k1"));
    record(store, with_key(make_run("train", 100, "r1"), "k1"), RunStatus::succeeded);
    record(store, with_key(make_run("train", 200, "r2"), "k1"), RunStatus::succeeded);
    record(store, with_key(make_run("train", 300, "r3"), "k1"), RunStatus::failed);
    record(store, with_key(make_run("train", 400, "r4"), "k1"), RunStatus::restored);
    record(store, with_key(make_run("train", 450, "r5"), "k1"), RunStatus::interrupted);
    store.begin(with_key(make_run("train", 500, "r6"), "k1"));  // still running
    record(store, with_key(make_run("train", 600, "r7"), "k2"), RunStatus::succeeded);

    auto hit = store.find_cached("k1");
    REQUIRE(hit);
    CHECK(hit->id == "r2");
    CHECK(store.find_cached("k2")->id == "r7");
    CHECK_FALSE(store.find_cached("k3"));
    CHECK_FALSE(store.find_cached(""));
}

TEST_CASE("producers_of lists the succeeded and restored runs that wrote an object", "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    Artifact model = artifact("models/m.json", "model v1");
    Artifact other = artifact("models/m.json", "model v2");
    Run reader = make_run("evaluate", 50, "r0");
    reader.inputs = {model};  // reading is not writing
    record(store, reader, RunStatus::succeeded);
    record(store, make_run("train", 100, "r1"), RunStatus::succeeded, {model});
    record(store, make_run("train", 200, "r2"), RunStatus::failed, {model});
    record(store, make_run("train", 300, "r3"), RunStatus::restored, {model});
    record(store, make_run("train", 400, "r4"), RunStatus::succeeded, {other});
    // The same object written under two names counts once.
    record(store, make_run("copy", 500, "r5"), RunStatus::succeeded,
           {model, artifact("backup/m.json", "model v1")});

    CHECK(ids(store.producers_of(model.digest)) == std::vector<std::string>{"r5", "r3", "r1"});
    CHECK(ids(store.producers_of(other.digest)) == std::vector<std::string>{"r4"});
    CHECK(store.producers_of(digest_of("nothing")).empty());

    SECTION("recorded artifacts resolve paths and id prefixes") {
        auto at = store.artifact_at("models/m.json");
        REQUIRE(at);
        CHECK(at->digest == model.digest);  // the newest succeeded writer, r5
        CHECK_FALSE(store.artifact_at("nope"));
        auto with = store.artifact_with(other.digest);
        REQUIRE(with);
        CHECK(with->path == "models/m.json");
        std::string hex = to_hex(model.digest);
        auto found = store.digests_with_prefix(hex.substr(0, 9));
        REQUIRE(found.size() == 1);
        CHECK(found[0] == model.digest);
        CHECK(store.digests_with_prefix("").size() == 2);
        CHECK(store.digests_with_prefix("xyz").empty());
    }
}

TEST_CASE("reap_stale marks runs whose process is gone as interrupted", "[runs]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    RunStore store(db);
    int64_t now = now_ns();
    Run dead = make_run("train", now, "dead");
    Run alive = make_run("train", now, "alive");
    Run elsewhere = make_run("train", now, "elsewhere");
    elsewhere.host = "another-host-" + host_name();
    Run reused = make_run("train", now - int64_t(30) * 24 * 3600 * 1000000000, "reused");
    Run done = make_run("train", now, "done");
    for (const Run& r : {dead, alive, elsewhere, reused})
        store.begin(r);
    record(store, done, RunStatus::succeeded);
    long gone = dead_pid();
    set_pid(db, "dead", gone);
    set_pid(db, "elsewhere", gone);
    set_pid(db, "done", gone);
    // "alive" and "reused" carry this process's pid; "reused" started long before this process
    // did, so the pid now belongs to someone else.

    CHECK(store.reap_stale() == 2);
    auto d = store.get("dead");
    CHECK(d->status == RunStatus::interrupted);
    CHECK(d->ended_ns >= now);
    CHECK(store.get("reused")->status == RunStatus::interrupted);
    CHECK(store.get("alive")->status == RunStatus::running);
    CHECK(store.get("alive")->ended_ns == 0);
    CHECK(store.get("elsewhere")->status == RunStatus::running);
    CHECK(store.get("done")->status == RunStatus::succeeded);
    // Nothing left to reap.
    CHECK(store.reap_stale() == 0);
}

// ---- git state ----------------------------------------------------------------------------

namespace {

void git(const fs::path& dir, const std::string& args) {
    std::string cmd = "git -C '" + dir.string() +
                      "' -c user.name=mlo -c user.email=mlo@example.com -c commit.gpgsign=false "
                      "-c init.defaultBranch=main " +
                      args + " >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
}

bool have_git() {
    return std::system("git --version >/dev/null 2>&1") == 0;
}

}  // namespace

TEST_CASE("read_git_state reports commit, dirtiness and a stable diff hash", "[runs]") {
    if (!have_git()) {
        WARN("git is not installed; skipped");
        return;
    }
    TempDir tmp;
    fs::path repo = tmp / "repo";
    fs::create_directories(repo / "sub");
    git(repo, "init -q");

    std::string err;
    GitState unborn = read_git_state(repo, &err);
    CHECK(err.empty());
    CHECK(unborn.in_git);
    CHECK(unborn.commit.empty());
    CHECK_FALSE(unborn.dirty);

    write_text(repo / "train.py", "print('v1')\n");
    write_text(repo / "sub/util.py", "x = 1\n");
    git(repo, "add train.py sub/util.py");
    GitState staged = read_git_state(repo);
    CHECK(staged.in_git);
    CHECK(staged.commit.empty());
    CHECK(staged.dirty);  // staged but not committed
    CHECK(staged.diff_hash.size() == 64);

    git(repo, "commit -q -m first");
    std::string head = mlo::test::read_text(repo / ".git/HEAD");
    GitState clean = read_git_state(repo / "sub", &err);  // found from a subdirectory
    CHECK(err.empty());
    CHECK(clean.in_git);
    REQUIRE(clean.commit.size() == 40);
    CHECK(clean.commit.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK_FALSE(clean.dirty);
    CHECK(clean.diff_hash.empty());

    SECTION("untracked and ignored files do not count") {
        write_text(repo / ".git/info/exclude", "*.log\n");
        write_text(repo / "notes.txt", "scratch\n");
        write_text(repo / "run.log", "log\n");
        GitState s = read_git_state(repo);
        CHECK_FALSE(s.dirty);
        CHECK(s.commit == clean.commit);
    }

    SECTION("a modified tracked file makes it dirty, with a hash of the change") {
        write_text(repo / "train.py", "print('v2')\n");
        GitState a = read_git_state(repo);
        GitState b = read_git_state(repo);
        CHECK(a.dirty);
        CHECK(a.commit == clean.commit);
        REQUIRE(a.diff_hash.size() == 64);
        CHECK(a.diff_hash == b.diff_hash);
        // Staging the same change does not change what the work tree differs in.
        git(repo, "add train.py");
        CHECK(read_git_state(repo).diff_hash == a.diff_hash);
        // Another change, another hash.
        write_text(repo / "train.py", "print('v3')\n");
        GitState c = read_git_state(repo);
        CHECK(c.dirty);
        CHECK(c.diff_hash != a.diff_hash);
        // Going back to the first change gives its hash again.
        write_text(repo / "train.py", "print('v2')\n");
        CHECK(read_git_state(repo).diff_hash == a.diff_hash);
        // Undoing the change makes it clean again.
        git(repo, "checkout -q HEAD -- train.py");
        GitState d = read_git_state(repo);
        CHECK_FALSE(d.dirty);
        CHECK(d.diff_hash.empty());
    }

    SECTION("a deleted tracked file makes it dirty") {
        fs::remove(repo / "sub/util.py");
        CHECK(read_git_state(repo).dirty);
    }

    SECTION("outside git there is no git state and no error") {
        fs::create_directories(tmp / "plain");
        std::string e;
        // GIT_CEILING_DIRECTORIES is not needed: the temporary directory is not in a work tree
        // unless TMPDIR is; then the state is that work tree's, which is still no error.
        GitState s = read_git_state(tmp / "plain", &e);
        CHECK(e.empty());
        if (!s.in_git) {
            CHECK(s.commit.empty());
            CHECK_FALSE(s.dirty);
        }
    }

    SECTION("a broken repository gives in_git = false and an error, never an exception") {
        write_text(repo / ".git/HEAD", "garbage\n");
        std::string e;
        GitState s;
        REQUIRE_NOTHROW(s = read_git_state(repo, &e));
        CHECK_FALSE(s.in_git);
        CHECK_FALSE(e.empty());
        write_text(repo / ".git/HEAD", head);
    }
}

// ---- metrics files ------------------------------------------------------------------------

TEST_CASE("metrics files are flattened to dotted keys", "[runs]") {
    TempDir tmp;
    SECTION("JSON") {
        write_text(tmp / "metrics.json", R"({
  "accuracy": 0.91,
  "n": 3,
  "big": 18446744073709551615,
  "ok": true, "bad": false,
  "by_class": {"a": {"f1": 0.5}, "b": {"f1": "0.25"}},
  "scores": [1, 2.5, {"x": 7}],
  "name": "model", "missing": null, "text_number": "1e3", "padded": " 4",
  "empty": {}, "list": []
})");
        auto m = read_metrics_file(tmp / "metrics.json", "metrics.json");
        std::map<std::string, double> want = {{"accuracy", 0.91},
                                              {"n", 3},
                                              {"big", 18446744073709551615.0},
                                              {"ok", 1},
                                              {"bad", 0},
                                              {"by_class.a.f1", 0.5},
                                              {"by_class.b.f1", 0.25},
                                              {"scores.0", 1},
                                              {"scores.1", 2.5},
                                              {"scores.2.x", 7},
                                              {"text_number", 1000}};
        CHECK(m == want);
    }
    SECTION("YAML") {
        write_text(tmp / "m.yaml",
                   "accuracy: 0.8\nloss:\n  train: 0.1\n  test: '0.2'\nok: true\nname: x\n"
                   "none: ~\nlist: [3, four, 5]\nhex: 0x10\n");
        auto m = read_metrics_file(tmp / "m.yaml", "m.yaml");
        std::map<std::string, double> want = {{"accuracy", 0.8},  {"loss.train", 0.1},
                                              {"loss.test", 0.2}, {"ok", 1},
                                              {"list.0", 3},      {"list.2", 5}};
        CHECK(m == want);
        write_text(tmp / "m.yml", "a: {b: 2}\n");
        CHECK(read_metrics_file(tmp / "m.yml", "m.yml") ==
              std::map<std::string, double>{{"a.b", 2}});
        write_text(tmp / "empty.yaml", "");
        CHECK(read_metrics_file(tmp / "empty.yaml", "empty.yaml").empty());
    }
    SECTION("a top-level array is flattened by index") {
        write_text(tmp / "a.json", "[0.5, {\"k\": 1}]");
        CHECK(read_metrics_file(tmp / "a.json", "a.json") ==
              std::map<std::string, double>{{"0", 0.5}, {"1.k", 1}});
    }
}

TEST_CASE("metrics files that cannot be parsed name the file, line and column", "[runs]") {
    TempDir tmp;
    SECTION("JSON") {
        write_text(tmp / "metrics.json", "{\n  \"a\": 1,\n  \"b\": tru\n}\n");
        CHECK_THROWS_WITH(read_metrics_file(tmp / "metrics.json", "out/metrics.json"),
                          StartsWith("cannot read metrics 'out/metrics.json': line 3 column "));
        try {
            read_metrics_file(tmp / "metrics.json", "m");
        } catch (const Error& e) {
            std::string what = e.what();
            // The error is where the bad literal "tru" ends: the newline in column 11 of line 3.
            CHECK_THAT(what, Contains("line 3 column 11: syntax error"));
            CHECK_THAT(what, !Contains("json.exception"));
            // One line, even though nlohmann quotes the newline it read.
            CHECK(what.find('\n') == std::string::npos);
        }
        write_text(tmp / "first.json", "nope");
        CHECK_THROWS_WITH(read_metrics_file(tmp / "first.json", "first.json"),
                          StartsWith("cannot read metrics 'first.json': line 1 column "));
        write_text(tmp / "scalar.json", "3");
        CHECK_THROWS_WITH(read_metrics_file(tmp / "scalar.json", "scalar.json"),
                          Contains("expected an object"));
    }
    SECTION("YAML") {
        write_text(tmp / "m.yaml", "a: 1\nb: [1, 2\n");
        CHECK_THROWS_WITH(read_metrics_file(tmp / "m.yaml", "m.yaml"),
                          "cannot read metrics 'm.yaml': line 3 column 1: end of sequence flow "
                          "not found");
        write_text(tmp / "bad.yaml", "a: 1\n  b: 2\n");
        CHECK_THROWS_WITH(read_metrics_file(tmp / "bad.yaml", "bad.yaml"),
                          StartsWith("cannot read metrics 'bad.yaml': line 2 column "));
    }
    SECTION("a missing file") {
        CHECK_THROWS_WITH(read_metrics_file(tmp / "none.json", "none.json"),
                          StartsWith("cannot read metrics 'none.json': "));
    }
}
