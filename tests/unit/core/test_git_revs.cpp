#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <set>

#include "core/add.hpp"
#include "core/git_revs.hpp"
#include "core/references.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using mlo::test::read_text;
using mlo::test::TempDir;
using mlo::test::write_text;

namespace {

// Fails the test with libgit2's message.
void git_ok(int rc, const char* what) {
    if (rc >= 0) return;
    const git_error* e = git_error_last();
    FAIL(what << ": " << (e && e->message ? e->message : "unknown error"));
}

// A git repository made with libgit2 (no `git` needed), committing everything not ignored.
class GitRepo {
public:
    explicit GitRepo(const fs::path& dir) {
        git_libgit2_init();
        git_ok(git_repository_init(&repo_, dir.c_str(), 0), "init");
        git_ok(git_signature_new(&sig_, "Test", "test@example.com", 1700000000, 0), "signature");
    }
    ~GitRepo() {
        git_signature_free(sig_);
        git_repository_free(repo_);
        git_libgit2_shutdown();
    }
    GitRepo(const GitRepo&) = delete;
    GitRepo& operator=(const GitRepo&) = delete;

    // Stages every change (additions, edits, deletions) and commits on HEAD; returns the id.
    std::string commit(const std::string& message) {
        git_index* index = nullptr;
        git_ok(git_repository_index(&index, repo_), "index");
        char star[] = "*";
        char* paths[] = {star};
        git_strarray spec = {paths, 1};
        git_ok(git_index_add_all(index, &spec, GIT_INDEX_ADD_DEFAULT, nullptr, nullptr), "add");
        git_ok(git_index_update_all(index, &spec, nullptr, nullptr), "update");
        git_ok(git_index_write(index), "write index");
        git_oid tree_id, commit_id;
        git_ok(git_index_write_tree(&tree_id, index), "write tree");
        git_index_free(index);
        git_tree* tree = nullptr;
        git_ok(git_tree_lookup(&tree, repo_, &tree_id), "tree");
        git_commit* parent = nullptr;
        git_object* head = nullptr;
        if (git_revparse_single(&head, repo_, "HEAD^{commit}") == 0)
            parent = reinterpret_cast<git_commit*>(head);
        const git_commit* parents[] = {parent};
        git_ok(git_commit_create(&commit_id, repo_, "HEAD", sig_, sig_, nullptr, message.c_str(),
                                 tree, parent ? 1 : 0, parents),
               "commit");
        git_tree_free(tree);
        git_object_free(head);
        char hex[GIT_OID_HEXSZ + 1] = {};
        git_oid_tostr(hex, sizeof hex, &commit_id);
        return hex;
    }

    // A branch at `commit` (HEAD stays where it is).
    void branch(const std::string& name, const std::string& commit) {
        git_oid id;
        git_ok(git_oid_fromstr(&id, commit.c_str()), "oid");
        git_commit* c = nullptr;
        git_ok(git_commit_lookup(&c, repo_, &id), "lookup");
        git_reference* ref = nullptr;
        git_ok(git_branch_create(&ref, repo_, name.c_str(), c, 0), "branch");
        git_reference_free(ref);
        git_commit_free(c);
    }

    // Moves the current branch back to `commit` (as `git reset --soft`): later commits are
    // reachable from no ref any more.
    void reset_soft(const std::string& commit) {
        git_object* obj = nullptr;
        git_ok(git_revparse_single(&obj, repo_, commit.c_str()), "revparse");
        git_ok(git_reset(repo_, obj, GIT_RESET_SOFT, nullptr), "reset");
        git_object_free(obj);
    }

private:
    git_repository* repo_ = nullptr;
    git_signature* sig_ = nullptr;
};

std::string hex_of(const std::string& bytes) {
    return to_hex(sha256(bytes));
}

Pointer add_one(const fs::path& root, const std::string& rel) {
    Repository repo(root);
    auto items = add_paths(repo, {(root / rel).string()}, {});
    REQUIRE(items.size() == 1);
    return items[0].ptr;
}

std::set<std::string> ids_of(const HistoryReferences& h) {
    std::set<std::string> out;
    for (const auto& o : h.objects)
        out.insert(o.id);
    return out;
}

}  // namespace

TEST_CASE("read_revision reads pointer files and mlo.lock of any commit", "[git_revs]") {
    TempDir tmp;
    const fs::path root = tmp.path();
    GitRepo git(root);
    REQUIRE(Repository::init(root));
    write_text(root / "data/x.csv", "id\n1\n");
    write_text(root / "images/a.txt", "a\n");
    write_text(root / "images/sub/b.txt", "b\n");
    add_one(root, "data/x.csv");
    Pointer dir1 = add_one(root, "images");
    const std::string lock_text =
        "schema: mlo-lock 1\nstages:\n  train:\n    cmd: echo\n    outs:\n      - path: m.txt\n"
        "        hash: sha256:" +
        hex_of("model\n") + "\n        size: 6\n";
    write_text(root / "mlo.lock", lock_text);
    const std::string c1 = git.commit("first");

    write_text(root / "data/x.csv", "id\n1\n2\n");
    add_one(root, "data/x.csv");
    write_text(root / "images/sub/b.txt", "B!\n");
    add_one(root, "images");
    fs::remove(root / "mlo.lock");
    const std::string c2 = git.commit("second");
    const std::string workspace_pointer = read_text(root / "data/x.csv.mlo");

    Repository repo(root);
    SECTION("the older commit, by an abbreviated id and by HEAD~1") {
        for (const std::string& rev : {c1.substr(0, 8), std::string("HEAD~1")}) {
            Revision r = read_revision(repo, rev);
            CHECK(r.commit == c1);
            REQUIRE(r.pointers.size() == 2);
            CHECK(r.pointers[0].rel == "data/x.csv");
            CHECK(to_hex(r.pointers[0].digest) == hex_of("id\n1\n"));
            CHECK(r.pointers[0].size == 5);
            CHECK(r.pointers[0].data_path() == root / "data/x.csv");
            CHECK(r.pointers[1].rel == "images");
            CHECK(r.pointers[1].is_dir);
            CHECK(r.pointers[1].files == 2);
            CHECK(r.pointers[1].digest == dir1.digest);
            REQUIRE(r.lock.stages.count("train") == 1);
            CHECK(to_hex(r.lock.stages.at("train").outs.at(0).snap.digest) == hex_of("model\n"));
        }
        // Reading a revision changes nothing in the workspace.
        CHECK(read_text(root / "data/x.csv") == "id\n1\n2\n");
        CHECK(read_text(root / "data/x.csv.mlo") == workspace_pointer);
    }
    SECTION("the newest commit has no mlo.lock") {
        Revision r = read_revision(repo, "HEAD");
        CHECK(r.commit == c2);
        CHECK(r.lock.stages.empty());
        CHECK(to_hex(r.pointers.at(0).digest) == hex_of("id\n1\n2\n"));
    }
    SECTION("revisions that name no commit") {
        CHECK(resolve_commit(repo, "HEAD") == c2);
        CHECK(resolve_commit(repo, "no-such-branch") == std::nullopt);
        CHECK(resolve_commit(repo, "HEAD~5") == std::nullopt);
        CHECK_THROWS_WITH(read_revision(repo, "nope"), Contains("'nope' is not a git revision"));
    }
    SECTION("compare_pointers between the two commits") {
        Revision a = read_revision(repo, c1), b = read_revision(repo, c2);
        auto changes = compare_pointers(repo, select_pointers(repo, a.pointers, {}),
                                        select_pointers(repo, b.pointers, {}));
        REQUIRE(changes.size() == 2);
        CHECK(changes[0].path == "data/x.csv");
        CHECK(changes[0].kind == ChangeKind::modified);
        CHECK(changes[0].old_size == 5);
        CHECK(changes[0].new_size == 7);
        // Both manifests are in the store: the change is file by file.
        CHECK(changes[1].path == "images/sub/b.txt");
        CHECK(changes[1].kind == ChangeKind::modified);
        CHECK(to_hex(*changes[1].new_digest) == hex_of("B!\n"));
        // Narrowed to a path inside the directory, and against nothing (everything deleted).
        auto narrowed = compare_pointers(
            repo, select_pointers(repo, a.pointers, {(root / "images/a.txt").string()}), {});
        REQUIRE(narrowed.size() == 1);
        CHECK(narrowed[0].path == "images/a.txt");
        CHECK(narrowed[0].kind == ChangeKind::deleted);
    }
}

TEST_CASE("an mlo repository in a subdirectory of the git work tree", "[git_revs]") {
    TempDir tmp;
    GitRepo git(tmp.path());
    const fs::path root = tmp.path() / "ml" / "project";
    REQUIRE(Repository::init(root));
    // A pointer file outside the mlo repository is not its business.
    write_text(tmp.path() / "other/y.csv.mlo", "not: a pointer\n");
    write_text(root / "x.csv", "1\n");
    add_one(root, "x.csv");
    const std::string c = git.commit("one");
    Repository repo(root);
    Revision r = read_revision(repo, c);
    REQUIRE(r.pointers.size() == 1);
    CHECK(r.pointers[0].rel == "x.csv");
    CHECK(r.pointers[0].file == root / "x.csv.mlo");
    HistoryReferences h = history_references(repo);
    CHECK(h.warnings.empty());
    CHECK(ids_of(h) == std::set<std::string>{hex_of("1\n")});
}

TEST_CASE("history_references walks every commit reachable from a ref", "[git_revs]") {
    TempDir tmp;
    const fs::path root = tmp.path();
    GitRepo git(root);
    REQUIRE(Repository::init(root));
    std::set<std::string> kept;
    std::string first;
    // Ten versions on the main line, each committed.
    for (int i = 0; i < 10; ++i) {
        std::string bytes = "v" + std::to_string(i) + "\n";
        write_text(root / "data/x.csv", bytes);
        add_one(root, "data/x.csv");
        std::string c = git.commit("v" + std::to_string(i));
        if (i == 0) first = c;
        kept.insert(hex_of(bytes));
    }
    // One more version that a second branch names too, then a commit dropped from every ref
    // again (its object must not be kept).
    write_text(root / "data/x.csv", "branch\n");
    add_one(root, "data/x.csv");
    const std::string tip = git.commit("on main");
    kept.insert(hex_of("branch\n"));
    git.branch("side", tip);
    write_text(root / "data/x.csv", "dropped\n");
    add_one(root, "data/x.csv");
    git.commit("dropped");
    git.reset_soft(tip);
    // The workspace's pointer goes back to the tip's version too (a soft reset leaves it).
    write_text(root / "data/x.csv", "branch\n");
    add_one(root, "data/x.csv");

    Repository repo(root);
    HistoryReferences h = history_references(repo);
    CHECK(h.commits == 11);
    CHECK(ids_of(h) == kept);
    CHECK(h.warnings.empty());

    SECTION("collect_references keeps them, plain collection does not") {
        References all = collect_references(repo, find_pointers(repo), AllCommits::yes);
        References now = collect_references(repo, find_pointers(repo), AllCommits::no);
        CHECK(all.commits == 11);
        CHECK(all.objects.count(hex_of("v0\n")) == 1);
        CHECK(now.objects.count(hex_of("v0\n")) == 0);
        CHECK(all.objects.count(hex_of("dropped\n")) == 0);
    }
    SECTION("a broken pointer file in history is a warning, and its ids are kept") {
        const std::string id = hex_of("orphan\n");
        write_text(root / "data/bad.csv.mlo", "path: bad.csv\nhash: sha256:" + id + "\n");
        git.commit("broken pointer");
        HistoryReferences h2 = history_references(repo);
        REQUIRE(h2.warnings.size() == 1);
        CHECK_THAT(h2.warnings[0], Contains("data/bad.csv.mlo") && Contains("missing key 'size'"));
        CHECK(ids_of(h2).count(id) == 1);
    }
}

TEST_CASE("outside a git repository there are no revisions", "[git_revs]") {
    TempDir tmp;
    const fs::path root = tmp.path();
    git_libgit2_init();
    git_repository* probe = nullptr;
    bool inside_git = git_repository_open_ext(&probe, root.c_str(), 0, nullptr) == 0;
    git_repository_free(probe);
    git_libgit2_shutdown();
    if (inside_git) return;  // the temporary directory itself is inside a git work tree
    REQUIRE(Repository::init(root));
    Repository repo(root);
    CHECK_THROWS_WITH(read_revision(repo, "HEAD"), Contains("is not inside a git repository"));
    CHECK_THROWS_WITH(history_references(repo), Contains("is not inside a git repository"));
}
