#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "core/add.hpp"
#include "core/checkout.hpp"
#include "core/compare.hpp"
#include "core/hashing.hpp"
#include "core/workspace.hpp"
#include "storage/error.hpp"
#include "storage/manifest.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using mlo::test::fingerprint;
using mlo::test::mode_of;
using mlo::test::read_text;
using mlo::test::TempDir;
using mlo::test::UmaskGuard;
using mlo::test::write_text;

namespace {

using Changes = std::vector<std::pair<std::string, std::string>>;  // path, change kind

// An hour ago, with a sub-second part: the files look long settled, so the stat cache trusts
// its entries for them (the racy-git guard does not apply).
const timespec kOld = {::time(nullptr) - 3600, 123456789};

void set_mtime(const fs::path& p, const timespec& t) {
    timespec times[2] = {{0, UTIME_OMIT}, t};
    REQUIRE(::utimensat(AT_FDCWD, p.c_str(), times, 0) == 0);
}

// Overwrites the file's bytes in place: same size, same inode, then the old mtime back. Only
// the ctime tells the change.
void edit_in_place(const fs::path& p, const std::string& bytes) {
    REQUIRE(fs::file_size(p) == bytes.size());
    // Let the coarse kernel clock tick so that the ctime differs from the one recorded.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), 0) == ssize_t(bytes.size()));
    ::close(fd);
    set_mtime(p, kOld);
}

struct Project {
    UmaskGuard mask{022};
    TempDir tmp;
    fs::path root = tmp.path();
    std::map<std::string, std::string> files = {
        {"data/a.csv", "id,x\n1,2\n"},
        {"data/b.csv", "id,x\n3,4\n"},
        {"data/sub/c.bin", mlo::test::random_bytes(10000, 1)},
        {"data/run.sh", "#!/bin/sh\necho hi\n"},
        {"model.bin", mlo::test::random_bytes(50000, 2)},
    };

    Project() {
        REQUIRE(Repository::init(root));
        for (const auto& [rel, bytes] : files)
            write_text(root / rel, bytes);
        ::chmod((root / "data/run.sh").c_str(), 0755);
        for (const auto& [rel, bytes] : files)
            set_mtime(root / rel, kOld);
    }

    // Each call is one command, with a fresh Repository as the CLI would open it.
    std::vector<AddedItem> add() {
        Repository repo(root);
        return add_paths(repo, {(root / "data").string(), (root / "model.bin").string()}, {});
    }

    Changes status(const std::vector<std::string>& args = {}) {
        Repository repo(root);
        Changes out;
        for (const auto& state :
             compare_workspace(repo, select_tracked(repo, args), Detail::changes_only, nullptr)) {
            for (const auto& c : state.changes)
                out.emplace_back(c.path, change_name(c.kind));
        }
        return out;
    }

    CheckoutResult checkout(Force force = Force::no, const std::vector<std::string>& args = {}) {
        Repository repo(root);
        CheckoutOptions options;
        options.force = force;
        return core::checkout(repo, select_tracked(repo, args), options);
    }

    void check_all_restored() {
        for (const auto& [rel, bytes] : files) {
            CAPTURE(rel);
            CHECK(fingerprint(read_text(root / rel)) == fingerprint(bytes));
        }
        CHECK(mode_of(root / "data/run.sh") == 0755);
        CHECK(mode_of(root / "data/a.csv") == 0644);
    }
};

}  // namespace

TEST_CASE("add stores files and directories and writes pointers and .gitignore", "[add]") {
    Project p;
    auto items = p.add();
    REQUIRE(items.size() == 2);

    const AddedItem& dir = items[0];
    CHECK(dir.ptr.rel == "data");
    CHECK(dir.ptr.is_dir);
    CHECK(dir.ptr.files == 4);
    CHECK(dir.ptr.size == 9 + 9 + 10000 + 18);
    CHECK(dir.ptr.file == p.root / "data.mlo");
    CHECK(dir.new_objects == 5);  // four files and the manifest
    CHECK(dir.changed);

    const AddedItem& file = items[1];
    CHECK(file.ptr.rel == "model.bin");
    CHECK_FALSE(file.ptr.is_dir);
    CHECK(file.ptr.digest == sha256(p.files["model.bin"]));
    CHECK(file.ptr.size == 50000);
    CHECK(file.new_objects == 1);

    // The directory's id is its manifest's, which lists every file with hash, size and mode.
    Repository repo(p.root);
    Manifest m = Manifest::parse(repo.store().read(dir.ptr.digest), "m");
    CHECK(sha256(m.serialize()) == dir.ptr.digest);
    REQUIRE(m.entries().size() == 4);
    for (const auto& e : m.entries()) {
        CAPTURE(e.path);
        CHECK(e.digest == sha256(p.files["data/" + e.path]));
        CHECK(e.size == p.files["data/" + e.path].size());
        CHECK(e.executable == (e.path == "run.sh"));
        CHECK(fingerprint(repo.store().read(e.digest)) == fingerprint(p.files["data/" + e.path]));
    }

    CHECK(read_text(p.root / "data.mlo") == pointer_text(dir.ptr));
    CHECK(read_text(p.root / "model.bin.mlo") ==
          "path: model.bin\nhash: sha256:" + to_hex(file.ptr.digest) + "\nsize: 50000\n");
    CHECK(read_text(p.root / ".gitignore") == "/data\n/model.bin\n");
    CHECK(mlo::test::temp_files_below(p.root).empty());

    SECTION("adding again changes nothing") {
        auto again = p.add();
        REQUIRE(again.size() == 2);
        CHECK_FALSE(again[0].changed);
        CHECK_FALSE(again[1].changed);
        CHECK(again[0].new_objects == 0);
        CHECK(again[1].new_objects == 0);
        CHECK_FALSE(again[0].gitignore_changed);
        CHECK(again[0].ptr.digest == dir.ptr.digest);
        CHECK(read_text(p.root / ".gitignore") == "/data\n/model.bin\n");
    }
}

TEST_CASE("status after add is clean", "[status]") {
    Project p;
    p.add();
    CHECK(p.status() == Changes{});
    // And again, now from the stat cache alone.
    CHECK(p.status() == Changes{});
}

TEST_CASE("a same-size edit with the old mtime restored is still seen", "[status]") {
    Project p;
    p.add();
    {
        // Precondition: the stat cache trusts its entries for these files, so only the ctime
        // can reveal the edit.
        Repository repo(p.root);
        repo.stat_cache().load("");
        for (const char* rel : {"data/b.csv", "model.bin"}) {
            CAPTURE(rel);
            FileStat st;
            REQUIRE(stat_path(p.root / rel, st));
            REQUIRE(repo.stat_cache().lookup(rel, st) ==
                    std::optional<Digest>(sha256(p.files[rel])));
        }
    }
    SECTION("a file in a tracked directory") {
        edit_in_place(p.root / "data/b.csv", "id,x\n3,5\n");
        CHECK(p.status() == Changes{{"data/b.csv", "modified"}});
        CHECK(p.status({(p.root / "data" / "sub").string()}) == Changes{});
    }
    SECTION("a tracked file") {
        std::string edited = p.files["model.bin"];
        edited[25000] ^= 1;
        edit_in_place(p.root / "model.bin", edited);
        CHECK(p.status() == Changes{{"model.bin", "modified"}});
    }
}

TEST_CASE("status reports deleted and added files", "[status]") {
    Project p;
    p.add();
    fs::remove(p.root / "data/a.csv");
    fs::remove(p.root / "model.bin");
    write_text(p.root / "data/sub/new.txt", "new\n");
    CHECK(p.status() == Changes{{"data/a.csv", "deleted"},
                                {"data/sub/new.txt", "added"},
                                {"model.bin", "deleted"}});
    CHECK(p.status({(p.root / "data" / "sub").string()}) == Changes{{"data/sub/new.txt", "added"}});
}

TEST_CASE("checkout restores deleted files", "[checkout]") {
    Project p;
    p.add();
    SECTION("single files") {
        fs::remove(p.root / "data/a.csv");
        fs::remove(p.root / "data/run.sh");
        fs::remove(p.root / "model.bin");
        auto result = p.checkout();
        CHECK(result.restored ==
              std::vector<std::string>{"data/a.csv", "data/run.sh", "model.bin"});
        CHECK(result.removed.empty());
        CHECK(result.unchanged == 2);
    }
    SECTION("a whole directory") {
        fs::remove_all(p.root / "data");
        auto result = p.checkout();
        CHECK(result.restored == std::vector<std::string>{"data/a.csv", "data/b.csv", "data/run.sh",
                                                          "data/sub/c.bin"});
    }
    SECTION("only the selected part of a directory") {
        fs::remove(p.root / "data/a.csv");
        fs::remove(p.root / "data/sub/c.bin");
        auto result = p.checkout(Force::no, {(p.root / "data" / "sub").string()});
        CHECK(result.restored == std::vector<std::string>{"data/sub/c.bin"});
        CHECK_FALSE(fs::exists(p.root / "data/a.csv"));
        p.checkout();
    }
    p.check_all_restored();
    CHECK(p.status() == Changes{});
    CHECK(mlo::test::temp_files_below(p.root).empty());
}

TEST_CASE("checkout overwrites a changed file whose content is in the store", "[checkout]") {
    Project p;
    p.add();
    write_text(p.root / "model.bin", p.files["data/a.csv"]);
    auto result = p.checkout();
    CHECK(result.restored == std::vector<std::string>{"model.bin"});
    p.check_all_restored();
}

TEST_CASE("checkout refuses to lose changes that are not in the store", "[checkout]") {
    Project p;
    p.add();
    SECTION("a modified tracked file") {
        write_text(p.root / "model.bin", "local edit\n");
        fs::remove(p.root / "data/a.csv");
        CHECK_THROWS_MATCHES(p.checkout(), Error,
                             Catch::Matchers::Message(
                                 "cannot check out: local changes to 'model.bin' are not in the "
                                 "store and would be lost (use --force to discard them, or 'mlo "
                                 "add' to keep them)"));
        // Nothing changed, not even the deleted file elsewhere.
        CHECK(read_text(p.root / "model.bin") == "local edit\n");
        CHECK_FALSE(fs::exists(p.root / "data/a.csv"));

        auto result = p.checkout(Force::yes);
        CHECK(result.restored == std::vector<std::string>{"data/a.csv", "model.bin"});
    }
    SECTION("a same-size edit in a tracked directory") {
        edit_in_place(p.root / "data/b.csv", "id,x\n3,5\n");
        CHECK_THROWS_WITH(p.checkout(), Contains("local changes to 'data/b.csv'"));
        CHECK(read_text(p.root / "data/b.csv") == "id,x\n3,5\n");

        auto result = p.checkout(Force::yes);
        CHECK(result.restored == std::vector<std::string>{"data/b.csv"});
    }
    SECTION("an untracked file in a tracked directory") {
        write_text(p.root / "data/sub/extra.txt", "mine\n");
        CHECK_THROWS_WITH(p.checkout(), Contains("local changes to 'data/sub/extra.txt'"));
        CHECK(read_text(p.root / "data/sub/extra.txt") == "mine\n");

        auto result = p.checkout(Force::yes);
        CHECK(result.removed == std::vector<std::string>{"data/sub/extra.txt"});
        CHECK_FALSE(fs::exists(p.root / "data/sub/extra.txt"));
    }
    p.check_all_restored();
    CHECK(p.status() == Changes{});
}
