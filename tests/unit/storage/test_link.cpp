#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "storage/atomic_file.hpp"
#include "storage/error.hpp"
#include "storage/link.hpp"
#include "storage/object_store.hpp"
#include "testutil.hpp"

using namespace mlo;
using Catch::Matchers::Contains;
using mlo::test::fingerprint;
using mlo::test::list_dir;
using mlo::test::mode_of;
using mlo::test::read_text;
using mlo::test::stat_of;
using mlo::test::TempDir;
using mlo::test::UmaskGuard;
using mlo::test::write_text;

namespace {

using Order = std::vector<LinkKind>;

// Whether the file system under `dir` can clone files (btrfs, XFS: yes; ext4, tmpfs: no).
bool can_reflink(const fs::path& dir) {
    write_text(dir / "probe-src", "probe");
    Fd src = open_read(dir / "probe-src");
    int out = ::open((dir / "probe-dst").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(out >= 0);
    Fd owner(out);
    bool ok = ::ioctl(out, FICLONE, src.get()) == 0;
    fs::remove(dir / "probe-src");
    fs::remove(dir / "probe-dst");
    return ok;
}

struct Fixture {
    TempDir tmp;
    ObjectStore store{tmp / "objects"};
    fs::path work = tmp / "work";
    std::string content = mlo::test::random_bytes(200000, 5);
    fs::path object;
    mode_t object_mode;
    Fixture() {
        fs::create_directories(work);
        object = store.path_of(store.put_bytes(content).digest);
        object_mode = mode_of(object);
    }
};

}  // namespace

TEST_CASE("parse_link_order reads an ordered, comma-separated list", "[link]") {
    CHECK(parse_link_order("reflink,copy") == Order{LinkKind::reflink, LinkKind::copy});
    CHECK(parse_link_order("copy") == Order{LinkKind::copy});
    CHECK(parse_link_order("hardlink,reflink,copy") ==
          Order{LinkKind::hardlink, LinkKind::reflink, LinkKind::copy});
    CHECK(parse_link_order(" reflink , hardlink,  copy ") ==
          Order{LinkKind::reflink, LinkKind::hardlink, LinkKind::copy});
    CHECK(link_name(LinkKind::reflink) == "reflink");
    CHECK(link_name(LinkKind::hardlink) == "hardlink");
    CHECK(link_name(LinkKind::copy) == "copy");
}

TEST_CASE("parse_link_order rejects unknown names, naming them", "[link]") {
    CHECK_THROWS_MATCHES(parse_link_order("reflink,cpy"), Error,
                         Catch::Matchers::Message(
                             "unknown link strategy 'cpy' (expected reflink, hardlink or copy)"));
    CHECK_THROWS_WITH(parse_link_order("symlink"), Contains("'symlink'"));
    CHECK_THROWS_WITH(parse_link_order("Copy"), Contains("'Copy'"));
    CHECK_THROWS_AS(parse_link_order(""), Error);
    CHECK_THROWS_AS(parse_link_order("copy,"), Error);
    CHECK_THROWS_AS(parse_link_order(",copy"), Error);
    CHECK_THROWS_AS(parse_link_order("reflink copy"), Error);
}

TEST_CASE("copy places identical bytes with the mode of a new file", "[link]") {
    Fixture f;
    const mode_t mask = GENERATE(mode_t(022), mode_t(027), mode_t(077));
    CAPTURE(mask);
    UmaskGuard guard(mask);
    Linker linker({LinkKind::copy});

    CHECK(linker.place(f.object, f.work / "plain.bin", false) == LinkKind::copy);
    CHECK(fingerprint(read_text(f.work / "plain.bin")) == fingerprint(f.content));
    CHECK(mode_of(f.work / "plain.bin") == (0666 & ~mask));
    CHECK(stat_of(f.work / "plain.bin").st_ino != stat_of(f.object).st_ino);

    CHECK(linker.place(f.object, f.work / "tool", true) == LinkKind::copy);
    CHECK(fingerprint(read_text(f.work / "tool")) == fingerprint(f.content));
    CHECK(mode_of(f.work / "tool") == (0777 & ~mask));

    // The object is untouched.
    CHECK(mode_of(f.object) == f.object_mode);
    CHECK(fingerprint(read_text(f.object)) == fingerprint(f.content));
    CHECK(list_dir(f.work) == std::vector<std::string>{"plain.bin", "tool"});
}

TEST_CASE("copy replaces an existing file atomically", "[link]") {
    Fixture f;
    Linker linker({LinkKind::copy});
    const fs::path dest = f.work / "data.csv";
    write_text(dest, "local edits that are replaced\n");
    Fd old = open_read(dest);

    CHECK(linker.place(f.object, dest, false) == LinkKind::copy);
    CHECK(fingerprint(read_text(dest)) == fingerprint(f.content));
    // The old file was replaced by rename, not truncated in place.
    char buf[64] = {};
    ssize_t n = ::pread(old.get(), buf, sizeof buf, 0);
    CHECK(std::string(buf, size_t(std::max<ssize_t>(n, 0))) == "local edits that are replaced\n");

    // A read-only file in the way (a hardlinked object) is replaced as well.
    ::chmod(dest.c_str(), 0444);
    CHECK(linker.place(f.object, dest, true) == LinkKind::copy);
    CHECK(fingerprint(read_text(dest)) == fingerprint(f.content));
    CHECK(list_dir(f.work) == std::vector<std::string>{"data.csv"});
}

TEST_CASE("hardlink places the object's own read-only inode", "[link]") {
    Fixture f;
    Linker linker({LinkKind::hardlink, LinkKind::copy});
    const fs::path dest = f.work / "big.bin";
    write_text(dest, "old");

    CHECK(linker.place(f.object, dest, false) == LinkKind::hardlink);
    CHECK(stat_of(dest).st_ino == stat_of(f.object).st_ino);
    CHECK(stat_of(f.object).st_nlink == 2);
    CHECK(mode_of(dest) == 0444);
    CHECK(fingerprint(read_text(dest)) == fingerprint(f.content));
    CHECK(list_dir(f.work) == std::vector<std::string>{"big.bin"});
}

TEST_CASE("placing a hardlink where the same hardlink already is leaves no temporary", "[link]") {
    Fixture f;
    Linker linker({LinkKind::hardlink, LinkKind::copy});
    const fs::path dest = f.work / "big.bin";
    REQUIRE(linker.place(f.object, dest, false) == LinkKind::hardlink);
    // rename(2) of one hard link onto another link of the same inode does nothing, so the
    // temporary link must be removed by place() itself.
    CHECK(linker.place(f.object, dest, false) == LinkKind::hardlink);
    CHECK(stat_of(dest).st_ino == stat_of(f.object).st_ino);
    CHECK(list_dir(f.work) == std::vector<std::string>{"big.bin"});
    CHECK(stat_of(f.object).st_nlink == 2);
}

TEST_CASE("hardlink is not used for executable files", "[link]") {
    Fixture f;
    UmaskGuard guard(022);
    SECTION("falls back to the next strategy") {
        Linker linker({LinkKind::hardlink, LinkKind::copy});
        CHECK(linker.place(f.object, f.work / "tool", true) == LinkKind::copy);
        CHECK(stat_of(f.work / "tool").st_ino != stat_of(f.object).st_ino);
        CHECK(mode_of(f.work / "tool") == 0755);
        CHECK(fingerprint(read_text(f.work / "tool")) == fingerprint(f.content));
        CHECK(stat_of(f.object).st_nlink == 1);
        // The Linker still hardlinks plain files afterwards.
        CHECK(linker.place(f.object, f.work / "plain", false) == LinkKind::hardlink);
    }
    SECTION("with nothing to fall back to, place fails and creates nothing") {
        Linker linker({LinkKind::hardlink});
        CHECK_THROWS_WITH(linker.place(f.object, f.work / "tool", true),
                          Contains("'" + (f.work / "tool").string() + "'") &&
                              Contains("no configured link strategy works here"));
        CHECK(list_dir(f.work).empty());
    }
}

TEST_CASE("reflink falls back to copy where the file system cannot clone", "[link]") {
    Fixture f;
    UmaskGuard guard(022);
    const bool clones = can_reflink(f.tmp.path());
    const LinkKind expected = clones ? LinkKind::reflink : LinkKind::copy;
    Linker linker({LinkKind::reflink, LinkKind::copy});
    write_text(f.work / "a.bin", "to be replaced");

    CHECK(linker.place(f.object, f.work / "a.bin", false) == expected);
    CHECK(fingerprint(read_text(f.work / "a.bin")) == fingerprint(f.content));
    CHECK(mode_of(f.work / "a.bin") == 0644);
    CHECK(stat_of(f.work / "a.bin").st_ino != stat_of(f.object).st_ino);
    // Writable and independent of the object.
    write_text(f.work / "a.bin", "edited");
    CHECK(fingerprint(read_text(f.object)) == fingerprint(f.content));

    CHECK(linker.place(f.object, f.work / "b.sh", true) == expected);
    CHECK(mode_of(f.work / "b.sh") == 0755);
    CHECK(fingerprint(read_text(f.work / "b.sh")) == fingerprint(f.content));
    CHECK(list_dir(f.work) == std::vector<std::string>{"a.bin", "b.sh"});

    if (!clones) {
        Linker only({LinkKind::reflink});
        CHECK_THROWS_WITH(only.place(f.object, f.work / "c.bin", false),
                          Contains("no configured link strategy works here"));
        CHECK(list_dir(f.work) == std::vector<std::string>{"a.bin", "b.sh"});
    }
}

TEST_CASE("place into a missing directory or from a missing object fails", "[link]") {
    Fixture f;
    Linker linker({LinkKind::reflink, LinkKind::hardlink, LinkKind::copy});
    CHECK_THROWS_AS(linker.place(f.object, f.work / "missing" / "x", false), Error);
    CHECK_THROWS_AS(linker.place(f.tmp / "objects" / "no-such-object", f.work / "x", false), Error);
    CHECK(list_dir(f.work).empty());
}
