#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace mlo::test {

// A fresh temporary directory per test case. Removed when the test passes; kept, and its path
// printed, when it fails, so the state can be inspected (as ccache's unittest/testutil.hpp).
class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mlo-unit-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        if (Catch::getResultCapture().lastAssertionPassed() && !failed()) {
            std::error_code ec;
            std::filesystem::remove_all(path_, ec);
        } else {
            std::cerr << "test directory kept: " << path_ << '\n';
        }
    }
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

private:
    std::filesystem::path path_;
    static bool failed() {
        auto* ctx = Catch::getCurrentContext().getResultCapture();
        return ctx && !ctx->lastAssertionPassed();
    }
};

inline void write_text(const std::filesystem::path& p, const std::string& text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary);
    f << text;
}

inline std::string read_text(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace mlo::test
