#pragma once

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlo::test {

// Failed assertions (CHECK, REQUIRE, unexpected exceptions, ...) since the program started,
// counted by a Catch2 listener in testutil.cpp.
uint64_t failed_assertions();

// A fresh temporary directory per test case (per run of a test case: Catch2 runs the body once
// for each leaf SECTION). Removed when no assertion failed while it existed; kept, and its path
// printed, when one did, so the state can be inspected (as ccache's unittest/testutil.hpp).
// An exception escaping the test body unwinds this object before Catch2 records the failure,
// so an exception in flight also keeps the directory.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

private:
    std::filesystem::path path_;
    uint64_t failures_at_start_;
    int exceptions_at_start_;
};

// Sets the process umask for the lifetime of the object (tests run on one thread).
class UmaskGuard {
public:
    explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
    ~UmaskGuard() { ::umask(old_); }
    UmaskGuard(const UmaskGuard&) = delete;
    UmaskGuard& operator=(const UmaskGuard&) = delete;

private:
    mode_t old_;
};

// Changes the current directory for the lifetime of the object.
class CwdGuard {
public:
    explicit CwdGuard(const std::filesystem::path& dir) : old_(std::filesystem::current_path()) {
        std::filesystem::current_path(dir);
    }
    ~CwdGuard() {
        std::error_code ec;
        std::filesystem::current_path(old_, ec);
    }
    CwdGuard(const CwdGuard&) = delete;
    CwdGuard& operator=(const CwdGuard&) = delete;

private:
    std::filesystem::path old_;
};

// Creates the parent directories and writes `text` exactly.
void write_text(const std::filesystem::path& p, const std::string& text);
std::string read_text(const std::filesystem::path& p);

// "<size>:<sha256 hex>": compare large or binary contents through this so that a failure
// prints something readable.
std::string fingerprint(const std::string& bytes);

// Deterministic pseudo-random bytes (xorshift), the same for the same seed.
std::string random_bytes(size_t size, uint64_t seed);

// Permission bits (st_mode & 07777) of `p` without following a final symbolic link.
mode_t mode_of(const std::filesystem::path& p);
struct stat stat_of(const std::filesystem::path& p);

// The current umask (reading it requires setting it; this restores it at once).
mode_t current_umask();

// A JSON file of tests/unit/fixtures/ (`name` relative to it), parsed once and kept: the
// reference values that tests/reference/make_*_fixtures.py computed. Throws when missing.
const nlohmann::json& json_fixture(const std::string& name);

// Names of the entries directly in `dir`, sorted.
std::vector<std::string> list_dir(const std::filesystem::path& dir);
// Paths (relative to `dir`) of every entry below `dir` whose name contains ".mlo-tmp-".
std::vector<std::string> temp_files_below(const std::filesystem::path& dir);

}  // namespace mlo::test
