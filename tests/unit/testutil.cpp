// The listener needs Catch2's reporter interfaces, which only this file includes.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "testutil.hpp"

#include "storage/hash.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <system_error>

namespace {

std::atomic<uint64_t> g_failed{0};

// Counts failed assertions. TempDir compares the count at its construction and destruction,
// so a failure in one SECTION does not keep the directories of the others.
struct FailureCounter : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    bool assertionEnded(const Catch::AssertionStats& stats) override {
        if (!stats.assertionResult.isOk()) ++g_failed;
        return true;
    }
};

}  // namespace

CATCH_REGISTER_LISTENER(FailureCounter)

namespace mlo::test {

uint64_t failed_assertions() {
    return g_failed.load();
}

TempDir::TempDir()
    : failures_at_start_(failed_assertions()), exceptions_at_start_(std::uncaught_exceptions()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mlo-unit-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    bool failed = failed_assertions() != failures_at_start_ ||
                  std::uncaught_exceptions() > exceptions_at_start_;
    if (failed) {
        std::cerr << "test directory kept: " << path_.string() << '\n';
        return;
    }
    // Objects are read-only and a test may leave read-only directories: make everything
    // writable first so that remove_all cannot fail half-way.
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) {
            std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                         std::filesystem::perm_options::add, ec);
        }
    }
    std::filesystem::remove_all(path_, ec);
}

void write_text(const std::filesystem::path& p, const std::string& text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) throw std::runtime_error("cannot write " + p.string());
}

std::string read_text(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + p.string());
    return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string fingerprint(const std::string& bytes) {
    return std::to_string(bytes.size()) + ":" + mlo::to_hex(mlo::sha256(bytes));
}

std::string random_bytes(size_t size, uint64_t seed) {
    std::string out(size, '\0');
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < size; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = char(x >> 24);
    }
    return out;
}

struct stat stat_of(const std::filesystem::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
        throw std::system_error(errno, std::generic_category(), "lstat " + p.string());
    }
    return st;
}

mode_t mode_of(const std::filesystem::path& p) {
    return stat_of(p).st_mode & 07777;
}

mode_t current_umask() {
    mode_t m = ::umask(0);
    ::umask(m);
    return m;
}

std::vector<std::string> list_dir(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> temp_files_below(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (e.path().filename().string().find(".mlo-tmp-") != std::string::npos)
            out.push_back(e.path().lexically_relative(dir).generic_string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

const nlohmann::json& json_fixture(const std::string& name) {
    static std::map<std::string, nlohmann::json> loaded;
    auto it = loaded.find(name);
    if (it != loaded.end()) return it->second;
    std::string path = std::string(MLO_SOURCE_DIR) + "/tests/unit/fixtures/" + name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    return loaded.emplace(name, nlohmann::json::parse(in)).first->second;
}

}  // namespace mlo::test
