// The directory remote and the store's verified intake of downloaded objects.

#include <sys/stat.h>

#include <map>
#include <set>

#include "storage/error.hpp"
#include "storage/object_store.hpp"
#include "storage/parallel.hpp"
#include "storage/remote.hpp"
#include "testutil.hpp"

using namespace mlo;
using mlo::test::mode_of;
using mlo::test::read_text;
using mlo::test::temp_files_below;
using mlo::test::TempDir;
using mlo::test::write_text;

namespace {

std::map<std::string, uint64_t> listing(Remote& r, const std::string& prefix) {
    std::map<std::string, uint64_t> out;
    r.list(prefix, [&](std::string_view k, uint64_t size) { out.emplace(std::string(k), size); });
    return out;
}

}  // namespace

TEST_CASE("a directory remote stores, lists, reads and removes keys", "[remote]") {
    TempDir tmp;
    fs::create_directories(tmp / "remote");
    std::unique_ptr<Remote> r = open_remote({"shared", "remote", "", "", "", false}, tmp.path());
    CHECK(r->describe() == (tmp / "remote").string());

    write_text(tmp / "src.bin", "hello object");
    Digest d = sha256("hello object");
    std::string hex = to_hex(d);
    const std::string key = "objects/" + hex.substr(0, 2) + "/" + hex.substr(2);
    r->put_file(key, tmp / "src.bin", d);
    r->put_bytes("meta/runs/0001.json", "{\"id\":\"0001\"}");
    r->put_bytes("meta/events/churn/a.json", "{}");

    // Keys are written read-only, complete, and nothing temporary stays behind.
    CHECK(read_text(tmp / "remote" / key) == "hello object");
    CHECK((mode_of(tmp / "remote" / key) & 0222) == 0);
    CHECK(temp_files_below(tmp / "remote").empty());

    CHECK(listing(*r, "objects/") == std::map<std::string, uint64_t>{{key, 12}});
    CHECK(listing(*r, "objects/" + hex.substr(0, 2) + "/").size() == 1);
    CHECK(listing(*r, "objects/zz/").empty());
    CHECK(listing(*r, "meta/").size() == 2);
    CHECK(listing(*r, "meta/runs/").size() == 1);
    CHECK(r->get_bytes("meta/runs/0001.json") == "{\"id\":\"0001\"}");
    CHECK_THROWS_AS(r->get_bytes("meta/runs/nope.json"), RemoteNotFound);

    // Writing a key again (another pusher, same content) is harmless.
    r->put_file(key, tmp / "src.bin", d);
    CHECK(read_text(tmp / "remote" / key) == "hello object");

    r->remove({key, "objects/00/missing"});
    CHECK(listing(*r, "objects/").empty());
}

TEST_CASE("a missing remote directory is an error naming it", "[remote]") {
    TempDir tmp;
    std::unique_ptr<Remote> r = open_dir_remote(tmp / "nowhere");
    CHECK_THROWS_WITH(r->list("objects/", [](std::string_view, uint64_t) {}),
                      Catch::Contains("nowhere") && Catch::Contains("does not exist"));
    CHECK_THROWS_AS(r->put_bytes("meta/x.json", "{}"), Error);
}

TEST_CASE("many threads put into one directory remote at once", "[remote]") {
    TempDir tmp;
    fs::create_directories(tmp / "remote");
    std::unique_ptr<Remote> r = open_dir_remote(tmp / "remote");
    parallel_for(400, 8, [&](size_t i) {
        std::string body = "object " + std::to_string(i % 200);  // every key written twice
        std::string hex = to_hex(sha256(body));
        r->put_bytes("objects/" + hex.substr(0, 2) + "/" + hex.substr(2), body);
    });
    auto all = listing(*r, "objects/");
    CHECK(all.size() == 200);
    for (const auto& [key, size] : all) {
        std::string body = r->get_bytes(key);
        std::string hex = to_hex(sha256(body));
        CHECK(key == "objects/" + hex.substr(0, 2) + "/" + hex.substr(2));
    }
}

TEST_CASE("the store takes a downloaded object only when its bytes match", "[remote]") {
    TempDir tmp;
    ObjectStore store(tmp / "objects");
    const std::string good = "the true bytes";
    Digest d = sha256(good);

    SECTION("matching bytes, in pieces, after a restart") {
        ObjectStore::Incoming in(store, d);
        in.write("garbage from a dropped connection", 33);
        in.restart();
        in.write(good.data(), 4);
        in.write(good.data() + 4, good.size() - 4);
        CHECK(in.size() == good.size());
        CHECK(in.commit());
        CHECK(store.read(d) == good);
        CHECK((mode_of(store.path_of(d)) & 0222) == 0);
    }
    SECTION("corrupted bytes never enter the store") {
        {
            ObjectStore::Incoming in(store, d);
            std::string bad = good;
            bad[3] ^= 1;
            in.write(bad.data(), bad.size());
            CHECK_FALSE(in.commit());
        }
        CHECK_FALSE(store.contains(d));
    }
    SECTION("an abandoned download leaves nothing") {
        {
            ObjectStore::Incoming in(store, d);
            in.write(good.data(), 5);
        }
        CHECK_FALSE(store.contains(d));
    }
    CHECK(temp_files_below(tmp / "objects").empty());
}
