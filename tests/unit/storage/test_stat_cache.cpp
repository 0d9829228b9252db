#include <thread>

#include "storage/database.hpp"
#include "storage/stat_cache.hpp"
#include "testutil.hpp"

using namespace mlo;
using mlo::test::TempDir;

namespace {

constexpr int64_t kSecond = 1000000000;
// A sub-second mtime (as ext4, XFS, btrfs keep) and a whole-second one (as FAT keeps).
constexpr int64_t kFineMtime = 1700000000 * kSecond + 123456789;
constexpr int64_t kWholeMtime = 1700000000 * kSecond;

FileStat stat_with(int64_t mtime_ns) {
    FileStat st;
    st.size = 1234;
    st.mtime_ns = mtime_ns;
    st.ctime_ns = mtime_ns + 5;
    st.inode = 987654;
    return st;
}

// Long after the file was last modified: the entry is trusted.
constexpr int64_t kLater = kFineMtime + 3600 * kSecond;

}  // namespace

TEST_CASE("racy_window is 100 ms for sub-second mtimes and 2 s for whole seconds", "[stat_cache]") {
    CHECK(StatCache::racy_window(stat_with(kFineMtime)) == 100000000);
    CHECK(StatCache::racy_window(stat_with(kWholeMtime)) == 2 * kSecond);
    CHECK(StatCache::racy_window(stat_with(kWholeMtime + 1)) == 100000000);
    CHECK(StatCache::racy_window(stat_with(kWholeMtime + 1000000)) == 100000000);
}

TEST_CASE("a recorded entry is found only when size, mtime, ctime and inode all match",
          "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    StatCache cache(db);
    const FileStat st = stat_with(kFineMtime);
    const Digest d = sha256("content");
    cache.record("data/train.csv", st, d, kLater);
    cache.flush();

    FileStat probe = st;
    SECTION("everything equal: hit") {
        auto got = cache.lookup("data/train.csv", probe);
        REQUIRE(got.has_value());
        CHECK(*got == d);
    }
    SECTION("size changed: miss") {
        probe.size += 1;
        CHECK_FALSE(cache.lookup("data/train.csv", probe).has_value());
    }
    SECTION("mtime changed: miss") {
        probe.mtime_ns -= 1;
        CHECK_FALSE(cache.lookup("data/train.csv", probe).has_value());
    }
    SECTION("ctime changed: miss") {
        probe.ctime_ns += 1;
        CHECK_FALSE(cache.lookup("data/train.csv", probe).has_value());
    }
    SECTION("inode changed: miss") {
        probe.inode += 1;
        CHECK_FALSE(cache.lookup("data/train.csv", probe).has_value());
    }
    SECTION("another path: miss") {
        CHECK_FALSE(cache.lookup("data/train.csv2", probe).has_value());
        CHECK_FALSE(cache.lookup("data", probe).has_value());
    }
}

TEST_CASE("racy-git guard: an entry recorded too soon after the file's mtime is not trusted",
          "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    StatCache cache(db);
    const Digest d = sha256("x");

    SECTION("sub-second mtime: 100 ms window") {
        const FileStat st = stat_with(kFineMtime);
        cache.record("just-inside", st, d, kFineMtime + 100000000 - 1);
        cache.record("at-window", st, d, kFineMtime + 100000000);
        cache.record("same-tick", st, d, kFineMtime);
        cache.record("before-mtime", st, d, kFineMtime - kSecond);
        cache.flush();
        CHECK_FALSE(cache.lookup("just-inside", st).has_value());
        CHECK_FALSE(cache.lookup("same-tick", st).has_value());
        CHECK_FALSE(cache.lookup("before-mtime", st).has_value());
        CHECK(cache.lookup("at-window", st) == std::optional<Digest>(d));
    }
    SECTION("whole-second mtime: 2 s window") {
        const FileStat st = stat_with(kWholeMtime);
        cache.record("1.5s", st, d, kWholeMtime + 1500000000);  // trusted with a 100 ms window
        cache.record("just-inside", st, d, kWholeMtime + 2 * kSecond - 1);
        cache.record("at-window", st, d, kWholeMtime + 2 * kSecond);
        cache.flush();
        CHECK_FALSE(cache.lookup("1.5s", st).has_value());
        CHECK_FALSE(cache.lookup("just-inside", st).has_value());
        CHECK(cache.lookup("at-window", st) == std::optional<Digest>(d));
    }
}

TEST_CASE("stat cache rows persist across StatCache instances and connections", "[stat_cache]") {
    TempDir tmp;
    const FileStat st = stat_with(kFineMtime);
    const Digest d = sha256("persisted");
    {
        Database db(tmp / "mlo.db");
        StatCache cache(db);
        cache.record("data/a.csv", st, d, kLater);
        cache.flush();
    }
    SECTION("a new StatCache on a new connection") {
        Database db(tmp / "mlo.db");
        StatCache cache(db);
        // Lookups go through the rows loaded so far.
        CHECK_FALSE(cache.lookup("data/a.csv", st).has_value());
        cache.load("data");
        CHECK(cache.lookup("data/a.csv", st) == std::optional<Digest>(d));
    }
    SECTION("a new StatCache on the same connection") {
        Database db(tmp / "mlo.db");
        StatCache first(db);
        first.record("data/b.csv", st, sha256("b"), kLater);
        first.flush();
        StatCache second(db);
        second.load("");
        CHECK(second.lookup("data/a.csv", st) == std::optional<Digest>(d));
        CHECK(second.lookup("data/b.csv", st) == std::optional<Digest>(sha256("b")));
    }
}

TEST_CASE("an unflushed record is not written; a later record of the same path wins",
          "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    const FileStat st = stat_with(kFineMtime);
    {
        StatCache cache(db);
        cache.record("p", st, sha256("dropped"), kLater);
    }
    {
        StatCache cache(db);
        cache.load("");
        CHECK_FALSE(cache.lookup("p", st).has_value());
        cache.record("p", st, sha256("old"), kLater);
        cache.record("p", st, sha256("new"), kLater);
        cache.flush();
        CHECK(cache.lookup("p", st) == std::optional<Digest>(sha256("new")));
    }
    StatCache cache(db);
    cache.load("p");
    CHECK(cache.lookup("p", st) == std::optional<Digest>(sha256("new")));
}

TEST_CASE("record is thread-safe and flush writes every row", "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    const FileStat st = stat_with(kFineMtime);
    {
        StatCache cache(db);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 250; ++i) {
                    std::string p = "t" + std::to_string(t) + "/" + std::to_string(i);
                    cache.record(p, st, sha256(p), kLater);
                }
            });
        }
        for (auto& th : threads)
            th.join();
        cache.flush();
    }
    StatCache cache(db);
    cache.load("");
    int found = 0;
    for (int t = 0; t < 4; ++t) {
        for (int i = 0; i < 250; ++i) {
            std::string p = "t" + std::to_string(t) + "/" + std::to_string(i);
            if (cache.lookup(p, st) == std::optional<Digest>(sha256(p))) ++found;
        }
    }
    CHECK(found == 1000);
}

TEST_CASE("load(prefix) loads the prefix itself and what lies below it, nothing else",
          "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    const FileStat st = stat_with(kFineMtime);
    const std::vector<std::string> all = {"data",     "data/x",   "data/sub/y", "database/x",
                                          "data0",    "data.txt", "dat",        "dat/a",
                                          "data-2/z", "other",    "datA/x"};
    {
        StatCache writer(db);
        for (const auto& p : all)
            writer.record(p, st, sha256(p), kLater);
        writer.flush();
    }
    auto found = [&](StatCache& c) {
        std::vector<std::string> out;
        for (const auto& p : all)
            if (c.lookup(p, st).has_value()) out.push_back(p);
        return out;
    };
    SECTION("data") {
        StatCache cache(db);
        cache.load("data");
        CHECK(found(cache) == std::vector<std::string>{"data", "data/x", "data/sub/y"});
    }
    SECTION("data/sub") {
        StatCache cache(db);
        cache.load("data/sub");
        CHECK(found(cache) == std::vector<std::string>{"data/sub/y"});
    }
    SECTION("a narrower prefix after a wider one, and the reverse") {
        StatCache cache(db);
        cache.load("data/sub");
        cache.load("data");
        CHECK(found(cache) == std::vector<std::string>{"data", "data/x", "data/sub/y"});
        cache.load("dat");
        CHECK(found(cache) ==
              std::vector<std::string>{"data", "data/x", "data/sub/y", "dat", "dat/a"});
    }
    SECTION("everything") {
        StatCache cache(db);
        cache.load("");
        CHECK(found(cache) == all);
    }
}

namespace {

int64_t count(Database& db, const char* table) {
    Database::Statement q(db, (std::string("SELECT count(*) FROM ") + table).c_str());
    q.step();
    return q.column_int(0);
}

}  // namespace

TEST_CASE("below a block directory, entries live in one row and persist", "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    const FileStat st = stat_with(kFineMtime);
    {
        StatCache cache(db);
        cache.load_dir("data");
        for (int i = 0; i < 500; ++i)
            cache.record("data/f" + std::to_string(i), st, sha256(std::to_string(i)), kLater);
        cache.record("other/g", st, sha256("g"), kLater);
        cache.flush();
    }
    CHECK(count(db, "stat_cache_dirs") == 1);
    CHECK(count(db, "stat_cache") == 1);  // other/g, outside the block

    StatCache cache(db);
    cache.load_dir("data");
    CHECK(cache.lookup("data/f7", st) == std::optional<Digest>(sha256("7")));
    CHECK(cache.lookup_in("data", "f499", st) == std::optional<Digest>(sha256("499")));
    CHECK_FALSE(cache.lookup_in("data", "f500", st).has_value());
    CHECK_FALSE(cache.lookup("data/f7", stat_with(kFineMtime + 1)).has_value());
    // The racy-git guard holds inside blocks as well.
    cache.record("data/racy", st, sha256("r"), kFineMtime + 1);
    cache.flush();
    CHECK_FALSE(cache.lookup("data/racy", st).has_value());
    // load("") finds blocks too.
    StatCache all(db);
    all.load("");
    CHECK(all.lookup("data/f1", st) == std::optional<Digest>(sha256("1")));
    CHECK(all.lookup("other/g", st) == std::optional<Digest>(sha256("g")));
}

TEST_CASE("rows an older mlo wrote below a directory move into its block", "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    const FileStat st = stat_with(kFineMtime);
    {
        StatCache rows(db);
        rows.record("data/a", st, sha256("a"), kLater);
        rows.record("data/sub/b", st, sha256("b"), kLater);
        rows.record("data0", st, sha256("c"), kLater);
        rows.flush();
    }
    REQUIRE(count(db, "stat_cache") == 3);
    {
        StatCache cache(db);
        cache.load_dir("data");
        CHECK(cache.lookup_in("data", "sub/b", st) == std::optional<Digest>(sha256("b")));
        CHECK(cache.flush());
    }
    CHECK(count(db, "stat_cache") == 1);  // data0 is not below data/
    CHECK(count(db, "stat_cache_dirs") == 1);
    StatCache cache(db);
    cache.load("data");
    CHECK(cache.lookup("data/a", st) == std::optional<Digest>(sha256("a")));
    CHECK(cache.lookup("data/sub/b", st) == std::optional<Digest>(sha256("b")));
}

TEST_CASE("a record below a stored block goes into it even when the block was not loaded",
          "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    const FileStat st = stat_with(kFineMtime);
    {
        StatCache cache(db);
        cache.load_dir("data");
        cache.record("data/a", st, sha256("a"), kLater);
        cache.flush();
    }
    {
        StatCache cache(db);
        cache.record("data/b", st, sha256("b"), kLater);
        cache.flush();
    }
    CHECK(count(db, "stat_cache") == 0);
    StatCache cache(db);
    cache.load_dir("data");
    CHECK(cache.lookup_in("data", "a", st) == std::optional<Digest>(sha256("a")));
    CHECK(cache.lookup_in("data", "b", st) == std::optional<Digest>(sha256("b")));
}

TEST_CASE("replace_dir keeps only the given files; a mirror lasts while the content does",
          "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    const FileStat st = stat_with(kFineMtime);
    const Digest manifest = sha256("manifest");
    {
        StatCache cache(db);
        cache.load_dir("data");
        cache.record("data/gone", st, sha256("gone"), kLater);
        cache.flush();
        std::vector<StatCache::DirEntry> entries;
        for (const char* name : {"b", "a", "c/d"})
            entries.push_back({name, st, sha256(name), kLater});
        cache.replace_dir("data", entries, manifest);
        cache.flush();
    }
    StatCache cache(db);
    cache.load_dir("data");
    CHECK_FALSE(cache.lookup_in("data", "gone", st).has_value());
    CHECK_FALSE(cache.mirror("data", sha256("another manifest")).has_value());
    auto m = cache.mirror("data", manifest);
    REQUIRE(m.has_value());
    REQUIRE(m->size() == 3);
    CHECK(m->path(0) == "a");
    CHECK(m->path(1) == "b");
    CHECK(m->path(2) == "c/d");
    CHECK(m->digest(2) == sha256("c/d"));
    CHECK(m->file_size(0) == st.size);
    CHECK(m->lookup(1, st) == std::optional<Digest>(sha256("b")));
    CHECK_FALSE(m->lookup(1, stat_with(kFineMtime + 7)).has_value());

    SECTION("the same content again (a touched file): still a mirror") {
        cache.record("data/a", stat_with(kFineMtime + 7), sha256("a"), kLater);
        cache.flush();
        CHECK(cache.mirror("data", manifest).has_value());
        StatCache reread(db);
        reread.load_dir("data");
        CHECK(reread.mirror("data", manifest).has_value());
    }
    SECTION("new content, or a new file: no longer a mirror") {
        cache.record(GENERATE(std::string("data/a"), std::string("data/new")), st, sha256("x"),
                     kLater);
        cache.flush();
        CHECK_FALSE(cache.mirror("data", manifest).has_value());
        StatCache reread(db);
        reread.load_dir("data");
        CHECK_FALSE(reread.mirror("data", manifest).has_value());
    }
}

TEST_CASE("a block that does not parse is a cache miss and is rewritten", "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    const FileStat st = stat_with(kFineMtime);
    db.exec("INSERT INTO stat_cache_dirs VALUES ('data', x'6d6c6f736331000005', NULL)");
    {
        StatCache cache(db);
        cache.load_dir("data");
        CHECK_FALSE(cache.lookup_in("data", "a", st).has_value());
        cache.record("data/a", st, sha256("a"), kLater);
        CHECK(cache.flush());
    }
    StatCache cache(db);
    cache.load_dir("data");
    CHECK(cache.lookup_in("data", "a", st) == std::optional<Digest>(sha256("a")));
}

TEST_CASE("an in-memory cache keeps blocks without touching the database", "[stat_cache]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    const FileStat st = stat_with(kFineMtime);
    StatCache cache(db, false);
    cache.load_dir("data");
    cache.record("data/a", st, sha256("a"), kLater);
    cache.record("b", st, sha256("b"), kLater);
    CHECK(cache.flush());
    CHECK(cache.lookup("data/a", st) == std::optional<Digest>(sha256("a")));
    CHECK(cache.lookup("b", st) == std::optional<Digest>(sha256("b")));
    CHECK(count(db, "stat_cache_dirs") == 0);
    CHECK(count(db, "stat_cache") == 0);
}
