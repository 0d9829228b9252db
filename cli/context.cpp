#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/command.hpp"
#include "core/csv.hpp"

namespace mlo::cli {

std::ostream& Context::out() {
    return std::cout;
}

void Context::emit(const nlohmann::json& j) {
    // File names need not be UTF-8; JSON strings must be. Invalid bytes become U+FFFD.
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

void Context::note(const std::string& text) {
    if (g.quiet || g.json) return;
    std::cerr << text << '\n';
}

bool Context::progress_enabled() const {
    return !g.quiet && !g.json && !g.no_progress && ::isatty(STDERR_FILENO);
}

std::function<void(long)> Context::on_wait() {
    bool quiet = g.quiet;
    return [quiet](long pid) {
        if (quiet) return;
        std::string who = pid > 0 ? "process " + std::to_string(pid) : "another process";
        std::cerr << "mlo: waiting for " << who << " to release the workspace lock\n";
    };
}

struct ProgressBar::State {
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;
    std::thread thread;
};

ProgressBar::ProgressBar(Context& ctx, core::Progress& progress) {
    if (!ctx.progress_enabled()) return;
    state_ = std::make_unique<State>();
    State* s = state_.get();
    s->thread = std::thread([s, &progress] {
        auto start = std::chrono::steady_clock::now();
        bool drawn = false;
        std::unique_lock<std::mutex> lock(s->mu);
        while (!s->cv.wait_for(lock, std::chrono::milliseconds(100), [s] { return s->stop; })) {
            // Quick commands finish without ever drawing.
            if (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300)) continue;
            uint64_t done = progress.done(), total = progress.total();
            std::string phase = progress.phase();
            if (phase.empty()) continue;
            char line[160];
            if (total > 0) {
                int width = 30;
                int filled = int(double(done) / double(total) * width);
                if (filled > width) filled = width;
                std::snprintf(line, sizeof line, "\r%s [%s%s] %" PRIu64 "/%" PRIu64 "\033[K",
                              phase.c_str(), std::string(size_t(filled), '#').c_str(),
                              std::string(size_t(width - filled), ' ').c_str(), done, total);
            } else {
                std::snprintf(line, sizeof line, "\r%s %" PRIu64 "\033[K", phase.c_str(), done);
            }
            std::fputs(line, stderr);
            std::fflush(stderr);
            drawn = true;
        }
        if (drawn) {
            std::fputs("\r\033[K", stderr);
            std::fflush(stderr);
        }
    });
}

ProgressBar::~ProgressBar() {
    if (!state_) return;
    {
        std::lock_guard<std::mutex> lock(state_->mu);
        state_->stop = true;
    }
    state_->cv.notify_one();
    state_->thread.join();
}

namespace {
constexpr char kProtect = '\x1f';
}

std::vector<std::string> protect_arguments(int argc, char** argv) {
    std::vector<std::string> args;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (i > 0 && a.size() >= 2 && a.front() == '[' && a.back() == ']')
            a.insert(a.begin(), kProtect);
        args.push_back(std::move(a));
    }
    return args;
}

namespace {

// The argument without the mark protect_arguments gave it.
std::string unprotect(const std::string& s) {
    return !s.empty() && s[0] == kProtect ? s.substr(1) : s;
}

}  // namespace

// GCC 12 sees a string moved through std::function as maybe uninitialised when the unity
// build inlines this into some neighbours (a false positive; -Werror makes it fatal).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
CLI::Option* add_paths_option(CLI::App& app, std::vector<std::string>& paths,
                              const std::string& help) {
    return app.add_option("paths", paths, help)->type_name("PATH")->transform(unprotect);
}
#pragma GCC diagnostic pop

std::string human_size(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::string short_hash(const Digest& d) {
    return to_hex(d).substr(0, 12);
}

std::string short_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string csv_cell(const std::string& s) {
    return core::csv_quote(s);
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> width(rows.front().size(), 0);
    for (const auto& row : rows) {
        for (size_t i = 0; i < row.size(); ++i)
            width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out << line << '\n';
    }
}

}  // namespace mlo::cli
