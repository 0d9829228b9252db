#include "cli/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "cli/command.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"

#ifndef MLO_VERSION
#define MLO_VERSION "0.0.0"
#endif

namespace mlo::cli {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

void print_error(const std::string& what) {
    std::cerr << "mlo: error: " << what << '\n';
}

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            cur[j] = std::min(
                {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// The index of the first word from argv[from] on that is not an option (or -C's value): the
// command (or subcommand) the user meant; 0 when there is none.
int find_command_word(int argc, char** argv, int from) {
    for (int i = from; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") return 0;
        if (a == "-C") {
            ++i;
            continue;
        }
        if (!a.empty() && a[0] == '-') continue;
        return i;
    }
    return 0;
}

// Prints "unknown command 'X'" with the nearest of `known` (edit distance up to 2) and returns
// true, or returns false when `word` is one of them.
bool reject_unknown(const std::string& word, const std::vector<std::string>& known,
                    const std::string& prefix) {
    std::string best;
    size_t best_d = 3;  // suggest only near misses
    for (const auto& k : known) {
        if (k == word) return false;
        size_t d = edit_distance(word, k);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    std::string help = prefix.empty() ? "mlo --help" : "mlo " + prefix + " --help";
    std::string shown = prefix.empty() ? word : prefix + " " + word;
    print_error("unknown command " + quote(shown) +
                (best.empty() ? " (see " + quote(help) + ")"
                              : " (did you mean " +
                                    quote(prefix.empty() ? best : prefix + " " + best) + "?)"));
    return true;
}

std::string lower_first(std::string s) {
    if (!s.empty()) s[0] = char(std::tolower(static_cast<unsigned char>(s[0])));
    while (!s.empty() && (s.back() == '\n' || s.back() == '.'))
        s.pop_back();
    return s;
}

int finish_output(int code) {
    std::cout.flush();
    if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
        print_error(std::string("cannot write output: ") + std::strerror(errno ? errno : EIO));
        return kExitUsage;
    }
    return code;
}

}  // namespace

int run(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    install_interrupt_handlers();
    const auto& table = command_table();

    std::vector<std::string> names;
    for (const auto& c : table)
        names.push_back(c.name);
    const int word = find_command_word(argc, argv, 1);
    if (word > 0 && reject_unknown(argv[word], names, "")) return kExitUsage;

    Context ctx;
    CLI::App app("mlo: version data, run pipelines, track experiments, serve and monitor models",
                 "mlo");
    app.set_version_flag("--version", MLO_VERSION);
    app.fallthrough();
    app.require_subcommand(1, 1);
    app.add_option("-C", ctx.g.dir, "Run as if mlo was started in this directory")
        ->type_name("DIR");
    app.add_flag("--json", ctx.g.json, "Print machine-readable JSON on stdout");
    app.add_flag("-q,--quiet", ctx.g.quiet, "Print only errors and data");
    app.add_flag("-v,--verbose", ctx.g.verbose, "Print more detail");
    app.add_flag("--no-progress", ctx.g.no_progress, "Never draw progress bars");

    std::vector<std::unique_ptr<Command>> commands;
    std::vector<CLI::App*> subs;
    for (const auto& spec : table) {
        commands.push_back(spec.make());
        CLI::App* sub = app.add_subcommand(spec.name, spec.summary);
        if (!*spec.summary) sub->group("");  // internal: not listed by --help
        commands.back()->setup(*sub);
        subs.push_back(sub);
    }

    // A command with subcommands of its own (`model list`): an unknown word after it is
    // answered the same way.
    if (word > 0) {
        auto it = std::find(names.begin(), names.end(), std::string(argv[word]));
        CLI::App* cmd = subs[size_t(it - names.begin())];
        auto nested = cmd->get_subcommands([](CLI::App*) { return true; });
        std::vector<std::string> sub_names;
        for (const CLI::App* n : nested)
            sub_names.push_back(n->get_name());
        // Only for commands that need a subcommand: others (`monitor`) have options whose
        // values are words too.
        int sub_word = nested.empty() || cmd->get_require_subcommand_min() == 0
                           ? 0
                           : find_command_word(argc, argv, word + 1);
        if (sub_word > 0 && reject_unknown(argv[sub_word], sub_names, argv[word]))
            return kExitUsage;
        bool wants_help = std::any_of(argv + 1, argv + argc, [](const char* a) {
            return std::string(a) == "-h" || std::string(a) == "--help";
        });
        if (!nested.empty() && sub_word == 0 && !wants_help &&
            cmd->get_require_subcommand_min() > 0) {
            std::string list;
            for (const auto& n : sub_names)
                list += (list.empty() ? "" : ", ") + n;
            print_error("no subcommand given for " + quote(argv[word]) + " (one of " + list +
                        "; see " + quote("mlo " + std::string(argv[word]) + " --help") + ")");
            return kExitUsage;
        }
    }

    // A command that runs another takes everything after `--` as it is.
    int parsed_argc = argc;
    if (word > 0) {
        size_t idx =
            size_t(std::find(names.begin(), names.end(), std::string(argv[word])) - names.begin());
        if (commands[idx]->takes_command()) {
            for (int i = word + 1; i < argc; ++i) {
                if (std::string(argv[i]) == "--") {
                    parsed_argc = i;
                    ctx.rest.assign(argv + i + 1, argv + argc);
                    break;
                }
            }
        }
    }

    try {
        // CLI11 wants the arguments in reverse order when given as a vector.
        std::vector<std::string> args = protect_arguments(parsed_argc, argv);
        args.erase(args.begin());
        std::reverse(args.begin(), args.end());
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {
            app.exit(e);  // --help, --version
            return finish_output(kExitOk);
        }
        print_error(lower_first(e.what()));
        return kExitUsage;
    }

    size_t which = 0;
    while (which < subs.size() && !subs[which]->parsed())
        ++which;
    if (which == subs.size()) {
        print_error("no command given (see 'mlo --help')");
        return kExitUsage;
    }
    const CommandSpec& spec = table[which];

    int code = kExitOk;
    try {
        if (!ctx.g.dir.empty() && ::chdir(ctx.g.dir.c_str()) != 0) {
            throw_errno("cannot change to directory " + quote(ctx.g.dir));
        }
        if (spec.needs != Needs::nothing) {
            ctx.repository.emplace(core::Repository::open(fs::current_path()));
            if (spec.needs == Needs::database) ctx.repo().db();
        }
        code = commands[which]->run(ctx);
    } catch (const Interrupted&) {
        std::cout.flush();
        print_error("interrupted");
        return kExitInterrupted;
    } catch (const Error& e) {
        std::cout.flush();
        print_error(e.what());
        return interrupted() ? kExitInterrupted : kExitUsage;
    } catch (const std::exception& e) {
        std::cout.flush();
        print_error(e.what());
        return interrupted() ? kExitInterrupted : kExitUsage;
    }
    return finish_output(code);
}

}  // namespace mlo::cli
