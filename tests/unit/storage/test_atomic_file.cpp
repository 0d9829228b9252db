#include <fcntl.h>
#include <unistd.h>

#include "storage/atomic_file.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using mlo::test::list_dir;
using mlo::test::mode_of;
using mlo::test::read_text;
using mlo::test::TempDir;
using mlo::test::UmaskGuard;
using mlo::test::write_text;

TEST_CASE("AtomicFile commit writes exactly the bytes with the mode minus the umask",
          "[atomic_file]") {
    TempDir tmp;
    const fs::path target = tmp / "out.bin";
    std::string content = mlo::test::random_bytes(100000, 3);
    content[0] = '\0';

    SECTION("umask 022, mode 0666") {
        UmaskGuard mask(022);
        AtomicFile f(target);
        f.write(content.substr(0, 1000));
        f.write(content.substr(1000));
        f.commit();
        CHECK(mode_of(target) == 0644);
    }
    SECTION("umask 027, mode 0666") {
        UmaskGuard mask(027);
        AtomicFile f(target);
        f.write(content);
        f.commit();
        CHECK(mode_of(target) == 0640);
    }
    SECTION("umask 022, mode 0755") {
        UmaskGuard mask(022);
        AtomicFile f(target, 0755);
        f.write(content);
        f.commit();
        CHECK(mode_of(target) == 0755);
    }
    SECTION("umask 077, mode 0444") {
        UmaskGuard mask(077);
        AtomicFile f(target, 0444);
        f.write(content);
        f.commit();
        CHECK(mode_of(target) == 0400);
    }
    CHECK(mlo::test::fingerprint(read_text(target)) == mlo::test::fingerprint(content));
    CHECK(list_dir(tmp.path()) == std::vector<std::string>{"out.bin"});
}

TEST_CASE("AtomicFile writes through a temporary in the target's directory", "[atomic_file]") {
    TempDir tmp;
    const fs::path target = tmp / "sub" / "file.txt";
    fs::create_directories(target.parent_path());
    write_text(target, "old\n");

    AtomicFile f(target);
    CHECK(f.target() == target);
    CHECK(f.temp_path().parent_path() == target.parent_path());
    CHECK(f.temp_path().filename().string().find(".mlo-tmp-") != std::string::npos);
    CHECK(is_temp_name(f.temp_path().filename().string()));
    CHECK(fs::exists(f.temp_path()));
    f.write("new content\n");
    // Until commit the target keeps its old content.
    CHECK(read_text(target) == "old\n");
    f.commit();
    CHECK(read_text(target) == "new content\n");
    CHECK_FALSE(fs::exists(f.temp_path()));
    CHECK(list_dir(target.parent_path()) == std::vector<std::string>{"file.txt"});
}

TEST_CASE("an AtomicFile destroyed without commit leaves the target and no temporary",
          "[atomic_file]") {
    TempDir tmp;
    const fs::path target = tmp / "keep.txt";
    write_text(target, "precious\n");
    fs::path temp;
    {
        AtomicFile f(target);
        temp = f.temp_path();
        f.write("half-written");
        REQUIRE(fs::exists(temp));
    }
    CHECK_FALSE(fs::exists(temp));
    CHECK(read_text(target) == "precious\n");
    CHECK(list_dir(tmp.path()) == std::vector<std::string>{"keep.txt"});

    SECTION("also when unwinding from an exception") {
        try {
            AtomicFile f(target);
            f.write("partial");
            throw std::runtime_error("boom");
        } catch (const std::runtime_error&) {
        }
        CHECK(read_text(target) == "precious\n");
        CHECK(list_dir(tmp.path()) == std::vector<std::string>{"keep.txt"});
    }
    SECTION("and when the target did not exist") {
        {
            AtomicFile f(tmp / "new.txt");
            f.write("x");
        }
        CHECK_FALSE(fs::exists(tmp / "new.txt"));
        CHECK(list_dir(tmp.path()) == std::vector<std::string>{"keep.txt"});
    }
}

TEST_CASE("write_file_atomic replaces existing content by rename", "[atomic_file]") {
    TempDir tmp;
    const fs::path target = tmp / "f.txt";
    write_file_atomic(target, "a much longer first version of the content\n");
    CHECK(read_text(target) == "a much longer first version of the content\n");

    // A reader that opened the old file keeps seeing the old bytes: the target is replaced,
    // never truncated or deleted first.
    Fd old = open_read(target);
    write_file_atomic(target, "short\n");
    CHECK(read_text(target) == "short\n");
    char buf[64] = {};
    ssize_t n = ::pread(old.get(), buf, sizeof buf, 0);
    CHECK(std::string(buf, size_t(std::max<ssize_t>(n, 0))) ==
          "a much longer first version of the content\n");

    // Also over a read-only file (as objects and hardlinked workspace files are).
    ::chmod(target.c_str(), 0444);
    write_file_atomic(target, "third\n");
    CHECK(read_text(target) == "third\n");

    write_file_atomic(target, "");
    CHECK(read_text(target) == "");
    CHECK(fs::file_size(target) == 0);
    CHECK(list_dir(tmp.path()) == std::vector<std::string>{"f.txt"});
}

TEST_CASE("commit with Sync::yes writes the file", "[atomic_file]") {
    TempDir tmp;
    const fs::path target = tmp / "synced";
    {
        AtomicFile f(target, 0600);
        f.write("durable\n");
        f.commit(Sync::yes);
    }
    CHECK(read_text(target) == "durable\n");
    CHECK(mode_of(target) == 0600);
    write_file_atomic(target, "again\n", Sync::yes);
    CHECK(read_text(target) == "again\n");
    CHECK(list_dir(tmp.path()) == std::vector<std::string>{"synced"});
}

TEST_CASE("AtomicFile in a missing directory throws naming the temporary", "[atomic_file]") {
    TempDir tmp;
    try {
        AtomicFile f(tmp / "missing" / "f.txt");
        FAIL("no exception");
    } catch (const Error& e) {
        std::string msg = e.what();
        CHECK(msg.rfind("cannot create '" + (tmp / "missing").string() + "/", 0) == 0);
        CHECK(msg.find(".mlo-tmp-") != std::string::npos);
        CHECK(msg.find("No such file or directory") != std::string::npos);
    }
}
