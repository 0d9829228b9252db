#include <unistd.h>

#include "core/repository.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using mlo::test::CwdGuard;
using mlo::test::read_text;
using mlo::test::TempDir;
using mlo::test::write_text;

namespace {

std::string resolve_error(const Repository& repo, const std::string& arg) {
    try {
        repo.resolve_arg(arg);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("init creates .mlo with objects, tmp, config, gitignore and database", "[repository]") {
    TempDir tmp;
    const fs::path root = tmp / "project";
    fs::create_directories(root);
    CHECK(Repository::init(root));
    const fs::path dot = root / ".mlo";
    CHECK(fs::is_directory(dot / "objects"));
    CHECK(fs::is_directory(dot / "tmp"));
    CHECK(read_text(dot / "config.yaml") == Config::default_text());
    const std::string gitignore = read_text(dot / ".gitignore");
    CHECK_THAT(gitignore, Contains("\n/*\n"));
    CHECK_THAT(gitignore, Contains("\n!/config.yaml\n"));
    CHECK_THAT(gitignore, Contains("\n!/.gitignore\n"));
    REQUIRE(fs::is_regular_file(dot / "mlo.db"));
    Database db(dot / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(mlo::test::temp_files_below(root).empty());
}

TEST_CASE("init of an existing repository keeps what it has", "[repository]") {
    TempDir tmp;
    const fs::path root = tmp.path();
    REQUIRE(Repository::init(root));
    write_text(root / ".mlo" / "config.yaml", "core:\n  jobs: 3\n");
    write_text(root / ".mlo" / ".gitignore", "custom\n");
    write_text(root / ".mlo" / "objects" / "ab" / "cdef", "an object");
    CHECK_FALSE(Repository::init(root));
    CHECK(read_text(root / ".mlo" / "config.yaml") == "core:\n  jobs: 3\n");
    CHECK(read_text(root / ".mlo" / ".gitignore") == "custom\n");
    CHECK(read_text(root / ".mlo" / "objects" / "ab" / "cdef") == "an object");
    Repository repo(root);
    CHECK(repo.config().jobs == 3);
    CHECK(repo.jobs() == 3);
}

TEST_CASE("a fresh clone with only .mlo/config.yaml is completed by init", "[repository]") {
    TempDir tmp;
    write_text(tmp / ".mlo" / "config.yaml", "core:\n  link: copy\n");
    CHECK_FALSE(Repository::init(tmp.path()));
    CHECK(fs::is_directory(tmp / ".mlo" / "objects"));
    CHECK(fs::is_regular_file(tmp / ".mlo" / "mlo.db"));
    CHECK(read_text(tmp / ".mlo" / "config.yaml") == "core:\n  link: copy\n");
}

TEST_CASE("find_root finds the repository from a nested directory", "[repository]") {
    TempDir tmp;
    const fs::path root = tmp / "project";
    fs::create_directories(root / "a" / "b" / "c");
    REQUIRE(Repository::init(root));

    CHECK(Repository::find_root(root) == root);
    CHECK(Repository::find_root(root / "a" / "b" / "c") == root);
    CHECK(Repository::find_root(root / "a" / "b" / "c" / "") == root);
    CHECK(Repository::find_root(root / "a" / "not-yet-created" / "file.csv") == root);
    CHECK(Repository::find_root(root / "a" / ".." / "a" / "b") == root);
    CHECK_FALSE(Repository::find_root(tmp.path()).has_value());

    // A nested repository is its own root.
    fs::create_directories(root / "a" / "inner");
    REQUIRE(Repository::init(root / "a" / "inner"));
    CHECK(Repository::find_root(root / "a" / "inner" / "x") == root / "a" / "inner");

    SECTION("relative to the current directory") {
        CwdGuard cwd(root / "a" / "b");
        CHECK(Repository::find_root(".") == root);
        CHECK(Repository::find_root("c") == root);
        CHECK(Repository::open(".").root() == root);
    }
}

TEST_CASE("open outside a repository says it is not an mlo repository", "[repository]") {
    TempDir tmp;
    fs::create_directories(tmp / "plain" / "dir");
    CHECK_THROWS_MATCHES(
        Repository::open(tmp / "plain" / "dir"), Error,
        Catch::Matchers::Message("not an mlo repository (or any parent directory): '" +
                                 (tmp / "plain" / "dir").string() + "'"));
    // A file named .mlo is not a repository.
    write_text(tmp / "plain" / ".mlo", "");
    CHECK_THROWS_WITH(Repository::open(tmp / "plain" / "dir"), Contains("not an mlo repository"));
}

TEST_CASE("rel and abs convert between absolute and repository-relative paths", "[repository]") {
    TempDir tmp;
    REQUIRE(Repository::init(tmp.path()));
    Repository repo(tmp.path());
    CHECK(repo.rel(tmp / "data" / "train.csv") == "data/train.csv");
    CHECK(repo.rel(tmp.path()) == "");
    CHECK(repo.abs("data/train.csv") == tmp / "data" / "train.csv");
    CHECK(repo.abs("") == tmp.path());
    CHECK(repo.dot_mlo() == tmp / ".mlo");
}

TEST_CASE("resolve_arg accepts paths inside the work tree", "[repository]") {
    TempDir tmp;
    const fs::path root = tmp / "project";
    fs::create_directories(root / "sub" / "dir");
    REQUIRE(Repository::init(root));
    Repository repo(root);

    SECTION("absolute paths") {
        CHECK(repo.resolve_arg((root / "sub" / "dir").string()) == root / "sub" / "dir");
        CHECK(repo.resolve_arg((root / "sub" / "dir").string() + "/") == root / "sub" / "dir");
        CHECK(repo.resolve_arg((root / "sub" / "dir").string() + "//") == root / "sub" / "dir");
        CHECK(repo.resolve_arg((root / "sub" / "." / "dir" / ".." / "x.csv").string()) ==
              root / "sub" / "x.csv");
        CHECK(repo.resolve_arg((root / "not" / "there.csv").string()) ==
              root / "not" / "there.csv");
        CHECK(repo.resolve_arg(root.string()) == root);
        CHECK(repo.resolve_arg(root.string() + "/") == root);
        CHECK(repo.resolve_arg((root / ".mlo-like").string()) == root / ".mlo-like");
        CHECK(repo.resolve_arg((root / "data.mlo").string()) == root / "data.mlo");
    }
    SECTION("relative to the current directory") {
        CwdGuard cwd(root);
        CHECK(repo.resolve_arg("sub/dir/") == root / "sub" / "dir");
        CHECK(repo.resolve_arg("sub/dir") == root / "sub" / "dir");
        CHECK(repo.resolve_arg(".") == root);
        CwdGuard deeper(root / "sub" / "dir");
        CHECK(repo.resolve_arg("../x.csv") == root / "sub" / "x.csv");
        CHECK(repo.resolve_arg("../../") == root);
    }
    SECTION("a symbolic link as the last component is kept") {
        fs::create_symlink(root / "sub" / "dir", root / "link");
        CHECK(repo.resolve_arg((root / "link").string()) == root / "link");
    }
}

TEST_CASE("resolve_arg rejects paths outside the work tree", "[repository]") {
    TempDir tmp;
    const fs::path root = tmp / "project";
    fs::create_directories(root / "sub");
    fs::create_directories(tmp / "elsewhere");
    REQUIRE(Repository::init(root));
    Repository repo(root);
    const std::string outside = " is outside the repository '" + root.string() + "'";

    SECTION("outside the root") {
        CHECK(resolve_error(repo, tmp.path().string()) ==
              "'" + tmp.path().string() + "'" + outside);
        CHECK(resolve_error(repo, "/") == "'/'" + outside);
        const std::string sibling = (tmp / "project2" / "x").string();
        CHECK(resolve_error(repo, sibling) == "'" + sibling + "'" + outside);
        const std::string escape = (root / "sub" / ".." / ".." / "elsewhere").string();
        CHECK(resolve_error(repo, escape) == "'" + escape + "'" + outside);
        CwdGuard cwd(root / "sub");
        CHECK(resolve_error(repo, "../..") == "'../..'" + outside);
    }
    SECTION("through a symbolic link leading outside") {
        fs::create_directory_symlink(tmp / "elsewhere", root / "out");
        const std::string through = (root / "out" / "file.csv").string();
        CHECK(resolve_error(repo, through) == "'" + through + "'" + outside);
    }
    SECTION("inside .mlo") {
        for (const fs::path& p : {root / ".mlo", root / ".mlo" / "objects",
                                  root / ".mlo" / "config.yaml", root / "sub" / ".." / ".mlo"}) {
            CAPTURE(p);
            CHECK(resolve_error(repo, p.string()) ==
                  "'" + p.string() + "' is inside the repository's '.mlo' directory");
        }
        CHECK_THAT(resolve_error(repo, (root / ".mlo").string() + "/"), Contains("'.mlo'"));
    }
    SECTION("inside .git") {
        fs::create_directories(root / ".git");
        CHECK(resolve_error(repo, (root / ".git" / "config").string()) ==
              "'" + (root / ".git" / "config").string() + "' is inside the git directory");
    }
    SECTION("empty") {
        CHECK(resolve_error(repo, "") == "empty path");
    }
}

TEST_CASE("the database and stat cache are opened on first use", "[repository]") {
    TempDir tmp;
    fs::create_directories(tmp / ".mlo");
    Repository repo(tmp.path());
    CHECK_FALSE(fs::exists(tmp / ".mlo" / "mlo.db"));
    Database& db = repo.db();
    CHECK(&repo.db() == &db);
    CHECK(fs::exists(tmp / ".mlo" / "mlo.db"));
    CHECK(&repo.stat_cache() == &repo.stat_cache());
}

TEST_CASE("lock_workspace holds the workspace lock until released", "[repository]") {
    TempDir tmp;
    REQUIRE(Repository::init(tmp.path()));
    Repository repo(tmp.path());
    auto lock = repo.lock_workspace({});
    REQUIRE(lock);
    CHECK(lock->held());
    FileLock other(tmp / ".mlo" / "tmp" / "workspace.lock");
    CHECK_FALSE(other.try_acquire());
    lock.reset();
    CHECK(other.try_acquire());
}
