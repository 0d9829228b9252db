#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <thread>

#include "storage/error.hpp"
#include "storage/object_store.hpp"
#include "testutil.hpp"

using namespace mlo;
using mlo::test::fingerprint;
using mlo::test::mode_of;
using mlo::test::read_text;
using mlo::test::temp_files_below;
using mlo::test::TempDir;
using mlo::test::UmaskGuard;
using mlo::test::write_text;

namespace {

ObjectStore::Put put_file(ObjectStore& store, const fs::path& p, Reflink reflink,
                          uint64_t size_hint) {
    Fd fd = open_read(p);
    return store.put_fd(fd.get(), size_hint, p.string(), reflink);
}

ObjectStore::Put put_file(ObjectStore& store, const fs::path& p, Reflink reflink) {
    return put_file(store, p, reflink, fs::file_size(p));
}

}  // namespace

TEST_CASE("put_bytes stores an object named by the sha256 of its bytes, read-only",
          "[object_store]") {
    TempDir tmp;
    UmaskGuard mask(022);
    ObjectStore store(tmp / "objects");
    const std::string data = "hello\n";
    const std::string hex = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    auto first = store.put_bytes(data);
    CHECK(to_hex(first.digest) == hex);
    CHECK(first.size == 6);
    CHECK(first.created);
    const fs::path expected = tmp / "objects" / "58" / hex.substr(2);
    CHECK(store.path_of(first.digest) == expected);
    REQUIRE(fs::is_regular_file(expected));
    CHECK(read_text(expected) == data);
    CHECK(mode_of(expected) == 0444);
    CHECK(store.contains(first.digest));
    CHECK(store.read(first.digest) == data);

    auto second = store.put_bytes(data);
    CHECK(second.digest == first.digest);
    CHECK(second.size == 6);
    CHECK_FALSE(second.created);

    auto empty = store.put_bytes("");
    CHECK(to_hex(empty.digest) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(empty.created);
    CHECK(fs::file_size(store.path_of(empty.digest)) == 0);
    CHECK(temp_files_below(tmp.path()).empty());
}

TEST_CASE("put_fd stores small and large files under the sha256 of their content",
          "[object_store]") {
    TempDir tmp;
    UmaskGuard mask(022);
    ObjectStore store(tmp / "objects");
    const Reflink reflink = GENERATE(Reflink::no, Reflink::try_first);
    // Below, at and above the 4 MiB limit where put_fd switches to the streaming path.
    const size_t size =
        GENERATE(size_t(0), size_t(1000), size_t(4 << 20), size_t(4 << 20) + 1, size_t(9 << 20));
    CAPTURE(size, reflink == Reflink::try_first);
    const std::string content = mlo::test::random_bytes(size, size + 17);
    const fs::path src = tmp / "src.bin";
    write_text(src, content);

    auto put = put_file(store, src, reflink);
    CHECK(put.digest == sha256(content));
    CHECK(put.size == size);
    CHECK(put.created);
    const fs::path obj = store.path_of(put.digest);
    REQUIRE(fs::is_regular_file(obj));
    CHECK(fs::file_size(obj) == size);
    CHECK(fingerprint(read_text(obj)) == fingerprint(content));
    CHECK(mode_of(obj) == 0444);
    CHECK(temp_files_below(tmp.path()).empty());

    // Storing the same content again (from another file) creates nothing and leaves no temporary.
    write_text(tmp / "copy.bin", content);
    auto again = put_file(store, tmp / "copy.bin", reflink);
    CHECK(again.digest == put.digest);
    CHECK(again.size == size);
    CHECK_FALSE(again.created);
    CHECK(temp_files_below(tmp.path()).empty());
    CHECK(fingerprint(read_text(src)) == fingerprint(content));  // the source is not touched
}

TEST_CASE("put_fd names the object by the bytes it stored even when the size hint is stale",
          "[object_store]") {
    TempDir tmp;
    ObjectStore store(tmp / "objects");
    const std::string content = mlo::test::random_bytes(5000, 1);
    write_text(tmp / "f", content);

    // Whatever part of a changing file is stored, the object's name is the hash of exactly the
    // stored bytes, and the reported size is their number.
    auto check_consistent = [&](const ObjectStore::Put& put) {
        const std::string stored = store.read(put.digest);
        CHECK(sha256(stored) == put.digest);
        CHECK(stored.size() == put.size);
        CHECK(fingerprint(stored) == fingerprint(content.substr(0, stored.size())));
    };
    SECTION("the file grew after it was looked at") {
        auto put = put_file(store, tmp / "f", Reflink::no, 100);
        check_consistent(put);
        CHECK(put.size >= 100);
    }
    SECTION("the file shrank after it was looked at") {
        auto put = put_file(store, tmp / "f", Reflink::no, 6000);
        CHECK(put.digest == sha256(content));
        CHECK(put.size == 5000);
        check_consistent(put);
    }
    SECTION("a large hint for a small file") {
        auto put = put_file(store, tmp / "f", Reflink::no, uint64_t(64) << 20);
        CHECK(put.digest == sha256(content));
        CHECK(put.size == 5000);
        check_consistent(put);
    }
    CHECK(temp_files_below(tmp.path()).empty());
}

TEST_CASE("concurrent puts of the same content all succeed", "[object_store]") {
    TempDir tmp;
    ObjectStore store(tmp / "objects");
    std::vector<std::string> blobs;
    for (int i = 0; i < 64; ++i)
        blobs.push_back("blob " + std::to_string(i));
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            try {
                for (const auto& b : blobs)
                    store.put_bytes(b);
            } catch (...) {
                ++errors;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    CHECK(errors == 0);
    for (const auto& b : blobs)
        CHECK(store.read(sha256(b)) == b);
    CHECK(temp_files_below(tmp.path()).empty());
}

TEST_CASE("list reports objects with their digests and flags temporaries and strays",
          "[object_store]") {
    TempDir tmp;
    ObjectStore store(tmp / "objects");
    std::map<std::string, Digest> objects;
    for (const char* s : {"one", "two", "three"}) {
        auto put = store.put_bytes(s);
        std::string hex = to_hex(put.digest);
        objects[hex.substr(0, 2) + "/" + hex.substr(2)] = put.digest;
    }
    const std::string first_shard = objects.begin()->first.substr(0, 2);
    // What an interrupted mlo or a careless user may leave behind.
    write_text(tmp / "objects" / (first_shard + "/.abc.mlo-tmp-1-2"), "partial");
    write_text(tmp / "objects" / ".mlo-tmp-7-8", "partial");
    write_text(tmp / "objects" / "README", "stray");
    write_text(tmp / "objects" / (first_shard + "/not-an-object"), "stray");

    std::map<std::string, ObjectStore::Listed> seen;
    store.list([&](const ObjectStore::Listed& l) { seen[l.name] = l; });

    for (const auto& [name, digest] : objects) {
        CAPTURE(name);
        REQUIRE(seen.count(name));
        REQUIRE(seen[name].digest.has_value());
        CHECK(*seen[name].digest == digest);
        CHECK_FALSE(seen[name].temporary);
        CHECK(seen[name].path == store.path_of(digest));
    }
    const std::string shard_temp = first_shard + "/.abc.mlo-tmp-1-2";
    REQUIRE(seen.count(shard_temp));
    CHECK(seen[shard_temp].temporary);
    CHECK_FALSE(seen[shard_temp].digest.has_value());
    REQUIRE(seen.count(".mlo-tmp-7-8"));
    CHECK(seen[".mlo-tmp-7-8"].temporary);
    CHECK_FALSE(seen[".mlo-tmp-7-8"].digest.has_value());
    REQUIRE(seen.count("README"));
    CHECK_FALSE(seen["README"].temporary);
    CHECK_FALSE(seen["README"].digest.has_value());
    CHECK(seen["README"].path == tmp / "objects" / "README");
    const std::string shard_stray = first_shard + "/not-an-object";
    REQUIRE(seen.count(shard_stray));
    CHECK_FALSE(seen[shard_stray].temporary);
    CHECK_FALSE(seen[shard_stray].digest.has_value());
    CHECK(seen.size() == objects.size() + 4);
}

TEST_CASE("list reports a stray file whose name looks like a shard", "[object_store]") {
    TempDir tmp;
    ObjectStore store(tmp / "objects");
    auto put = store.put_bytes("content");
    // A plain file named like a shard directory ("ab") is a stray, like any other odd name;
    // listing must report it rather than fail on it (fsck and gc rely on list).
    write_text(tmp / "objects" / "ab", "stray");
    std::map<std::string, ObjectStore::Listed> seen;
    REQUIRE_NOTHROW(store.list([&](const ObjectStore::Listed& l) { seen[l.name] = l; }));
    REQUIRE(seen.count("ab"));
    CHECK_FALSE(seen["ab"].digest.has_value());
    CHECK_FALSE(seen["ab"].temporary);
    std::string hex = to_hex(put.digest);
    CHECK(seen.count(hex.substr(0, 2) + "/" + hex.substr(2)) == 1);
}

TEST_CASE("list of a store that does not exist yet is empty", "[object_store]") {
    TempDir tmp;
    ObjectStore store(tmp / "objects");
    int n = 0;
    store.list([&](const ObjectStore::Listed&) { ++n; });
    CHECK(n == 0);
}

TEST_CASE("contains and read of a missing object", "[object_store]") {
    TempDir tmp;
    ObjectStore store(tmp / "objects");
    store.put_bytes("present");
    CHECK(store.contains(sha256("present")));
    const Digest missing = sha256("absent");
    CHECK_FALSE(store.contains(missing));
    CHECK_THROWS_MATCHES(
        store.read(missing), Error,
        Catch::Matchers::Message("object '" + to_hex(missing) + "' is not in the store"));
    CHECK_NOTHROW(store.sync());
}
