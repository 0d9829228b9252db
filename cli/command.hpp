#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.hpp"
#include "core/repository.hpp"

namespace mlo::cli {

struct Globals {
    std::string dir;  // -C
    bool json = false;
    bool quiet = false;
    bool verbose = false;
    bool no_progress = false;
};

// What the dispatcher opens before a command runs (git's RUN_SETUP): commands never open the
// repository themselves.
enum class Needs { nothing, repository, database };

class Context {
public:
    Globals g;
    std::optional<core::Repository> repository;
    std::vector<std::string> rest;  // after `--`, for a command that takes_command()

    core::Repository& repo() { return *repository; }
    std::ostream& out();
    // Prints a JSON document (one line) to stdout.
    void emit(const nlohmann::json& j);
    // A hint or note for people: stderr, suppressed by -q and --json.
    void note(const std::string& text);
    // Progress bars only on a terminal, and never with -q, --json or --no-progress.
    bool progress_enabled() const;
    // Tells the user once that we wait for another mlo process.
    std::function<void(long)> on_wait();
};

class Command {
public:
    virtual ~Command() = default;
    virtual void setup(CLI::App& app) = 0;
    // Returns the exit code: 0 success, 1 the command's check failed. Errors throw.
    virtual int run(Context& ctx) = 0;
    // True for a command that runs another (`mlo run -- CMD...`): everything after the first
    // `--` is handed to it untouched (see Context::rest), never parsed as mlo's options.
    virtual bool takes_command() const { return false; }
};

struct CommandSpec {
    const char* name;
    const char* summary;
    Needs needs;
    std::unique_ptr<Command> (*make)();
};

// The table of every command, in the order `mlo --help` lists them.
const std::vector<CommandSpec>& command_table();

// Draws a progress line on stderr while alive (when enabled).
class ProgressBar {
public:
    ProgressBar(Context& ctx, core::Progress& progress);
    ~ProgressBar();
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

private:
    struct State;
    std::unique_ptr<State> state_;
};

// A positional list of paths. Every argument is taken as a path as it is: CLI11 would read
// "[a,b]" as a list of two, so cli::run marks such arguments and this option unmarks them.
CLI::Option* add_paths_option(CLI::App& app, std::vector<std::string>& paths,
                              const std::string& help);
// Marks arguments that CLI11 would otherwise split ("[a,b]"); see add_paths_option.
std::vector<std::string> protect_arguments(int argc, char** argv);

std::string human_size(uint64_t bytes);
// Rows of cells (the first one the header) as left-aligned columns two spaces apart.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows);
// A number as tables show it: six significant digits (%.6g).
std::string short_number(double v);
// A CSV field, quoted when it holds a comma, a quote or a line break.
std::string csv_cell(const std::string& s);
std::string short_hash(const Digest& d);

}  // namespace mlo::cli
