#include <fcntl.h>
#include <unistd.h>

#include <random>

#include "storage/error.hpp"
#include "storage/fs.hpp"
#include "storage/hash.hpp"
#include "testutil.hpp"

using namespace mlo;
using mlo::test::TempDir;

namespace {

Digest hash_file(const fs::path& p, uint64_t* size) {
    Fd fd = open_read(p);
    return sha256_fd(fd.get(), size, "cannot read " + quote(p));
}

}  // namespace

TEST_CASE("sha256 of known inputs matches the published test vectors", "[hash]") {
    // FIPS 180-2 / NIST CAVS examples.
    CHECK(to_hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(to_hex(sha256("abc")) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(
        to_hex(sha256("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
                      "nopqklmnopqrlmnopqrsmnopqrstnopqrstu")) ==
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    CHECK(to_hex(sha256(std::string(1000000, 'a'))) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("the million-'a' vector fed one byte at a time", "[hash]") {
    Sha256 h;
    for (int i = 0; i < 1000000; ++i)
        h.update("a", 1);
    CHECK(to_hex(h.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("to_hex is lowercase and digest_from_hex inverts it", "[hash]") {
    Digest d{};
    for (size_t i = 0; i < d.size(); ++i)
        d[i] = uint8_t(i * 8 + 7);  // covers high and low nibbles 0..f
    const std::string hex = to_hex(d);
    CHECK(hex == "070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff");
    auto back = digest_from_hex(hex);
    REQUIRE(back.has_value());
    CHECK(*back == d);

    std::mt19937_64 rng(42);
    for (int round = 0; round < 100; ++round) {
        Digest r{};
        for (auto& b : r)
            b = uint8_t(rng());
        auto again = digest_from_hex(to_hex(r));
        REQUIRE(again.has_value());
        CHECK(*again == r);
    }
}

TEST_CASE("digest_from_hex accepts only 64 lowercase hex digits", "[hash]") {
    const std::string good = to_hex(sha256("abc"));
    REQUIRE(digest_from_hex(good).has_value());

    std::string upper = good;
    for (auto& c : upper)
        c = char(std::toupper(static_cast<unsigned char>(c)));
    REQUIRE(upper != good);
    CHECK_FALSE(digest_from_hex(upper).has_value());

    std::string one_upper = good;
    one_upper[1] = 'A';  // 'a' -> 'A' (second digit of "ba78...")
    CHECK_FALSE(digest_from_hex(one_upper).has_value());

    CHECK_FALSE(digest_from_hex("").has_value());
    CHECK_FALSE(digest_from_hex(good.substr(0, 63)).has_value());
    CHECK_FALSE(digest_from_hex(good + "0").has_value());
    CHECK_FALSE(digest_from_hex(good.substr(0, 62)).has_value());

    std::string non_hex = good;
    non_hex[10] = 'g';
    CHECK_FALSE(digest_from_hex(non_hex).has_value());
    std::string space = good;
    space[63] = ' ';
    CHECK_FALSE(digest_from_hex(space).has_value());
    std::string nul = good;
    nul[0] = '\0';
    CHECK_FALSE(digest_from_hex(nul).has_value());
}

TEST_CASE("incremental Sha256 equals one-shot sha256 for any chunking", "[hash]") {
    const std::string data = mlo::test::random_bytes(300000, 7);
    const Digest expected = sha256(data);
    std::mt19937 rng(1234);
    for (int round = 0; round < 20; ++round) {
        // Chunk sizes from 0 (an empty update must change nothing) to a few blocks, with some
        // large chunks.
        std::uniform_int_distribution<size_t> small(0, 200), large(0, 70000);
        Sha256 h;
        size_t pos = 0;
        while (pos < data.size()) {
            size_t n = (rng() % 4 == 0) ? large(rng) : small(rng);
            n = std::min(n, data.size() - pos);
            if (rng() % 2)
                h.update(data.data() + pos, n);
            else
                h.update(std::string_view(data).substr(pos, n));
            pos += n;
        }
        CAPTURE(round);
        CHECK(h.finish() == expected);
    }
}

TEST_CASE("sha256_fd hashes the whole file from offset 0", "[hash]") {
    TempDir tmp;
    // Sizes around sha256_fd's 1 MiB read buffer and a multi-MiB file.
    for (size_t size : {size_t(0), size_t(1), size_t(1 << 20) - 1, size_t(1 << 20),
                        size_t(1 << 20) + 1, size_t(3 << 20) + 12345}) {
        CAPTURE(size);
        const std::string content = mlo::test::random_bytes(size, size + 1);
        const fs::path p = tmp / ("f" + std::to_string(size));
        mlo::test::write_text(p, content);
        uint64_t got_size = 12345678;
        CHECK(hash_file(p, &got_size) == sha256(content));
        CHECK(got_size == size);
    }
}

TEST_CASE("sha256_fd ignores the file position and accepts a null size_out", "[hash]") {
    TempDir tmp;
    const std::string content = "some content that is hashed\n";
    mlo::test::write_text(tmp / "f", content);
    Fd fd = open_read(tmp / "f");
    REQUIRE(::lseek(fd.get(), 10, SEEK_SET) == 10);
    CHECK(sha256_fd(fd.get(), nullptr, "f") == sha256(content));
}

TEST_CASE("sha256_fd on an unreadable descriptor throws naming the subject", "[hash]") {
    TempDir tmp;
    mlo::test::write_text(tmp / "f", "x");
    int wfd = ::open((tmp / "f").c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(wfd >= 0);
    Fd owner(wfd);
    uint64_t size = 0;
    try {
        sha256_fd(wfd, &size, "cannot read 'f'");
        FAIL("no exception");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).rfind("cannot read 'f': ", 0) == 0);
    }
}
