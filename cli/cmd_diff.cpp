#include "cli/commands.hpp"
#include "core/compare.hpp"
#include "core/git_revs.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

nlohmann::json side(const std::optional<Digest>& d, uint64_t size) {
    nlohmann::json j = {{"size", size}};
    j["hash"] = d ? nlohmann::json("sha256:" + to_hex(*d)) : nlohmann::json(nullptr);
    return j;
}

// An argument names a revision when git resolves it to a commit and no file or tracked path
// of that name exists (a path wins: `mlo diff data` keeps meaning the directory).
bool names_revision(core::Repository& repo, const std::string& arg) {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(arg, ec)) ||
        fs::exists(fs::symlink_status(arg + std::string(core::kPointerSuffix), ec)))
        return false;
    try {
        return core::resolve_commit(repo, arg).has_value();
    } catch (const Error&) {
        return false;  // not in a git repository: only paths
    }
}

// REV [REV]: the pointer files of REV against the workspace's pointer files (or REV's).
std::vector<core::FileChange> diff_revisions(core::Repository& repo,
                                             const std::vector<std::string>& revs,
                                             const std::vector<std::string>& paths) {
    core::Revision before = core::read_revision(repo, revs[0]);
    std::vector<core::Pointer> after =
        revs.size() > 1 ? core::read_revision(repo, revs[1]).pointers : core::find_pointers(repo);
    std::vector<bool> in_before, in_after;
    auto b = core::select_pointers(repo, before.pointers, paths, &in_before);
    auto a = core::select_pointers(repo, after, paths, &in_after);
    for (size_t i = 0; i < paths.size(); ++i) {
        if (!in_before[i] && !in_after[i])
            throw Error(quote(paths[i]) + " is not tracked by mlo at " + quote(revs[0]) +
                        (revs.size() > 1 ? " or " + quote(revs[1]) : " or in the workspace"));
    }
    return core::compare_pointers(repo, b, a);
}

class Diff : public Command {
public:
    void setup(CLI::App& app) override {
        add_paths_option(app, args_,
                         "Up to two git revisions to compare (else the workspace against its "
                         "pointer files), then the tracked paths to limit to");
    }
    int run(Context& ctx) override {
        std::vector<std::string> revs, paths;
        for (const auto& arg : args_) {
            if (paths.empty() && revs.size() < 2 && names_revision(ctx.repo(), arg))
                revs.push_back(arg);
            else
                paths.push_back(arg);
        }
        std::vector<core::FileChange> changes;
        if (!revs.empty()) {
            changes = diff_revisions(ctx.repo(), revs, paths);
        } else {
            auto sels = core::select_tracked(ctx.repo(), paths);
            core::Progress progress;
            std::vector<core::TrackedState> states;
            {
                ProgressBar bar(ctx, progress);
                states =
                    core::compare_workspace(ctx.repo(), sels, core::Detail::digests, &progress);
            }
            for (auto& s : states) {
                for (auto& c : s.changes)
                    changes.push_back(std::move(c));
            }
        }
        print(ctx, changes);
        return 0;
    }

private:
    static void print(Context& ctx, const std::vector<core::FileChange>& changes) {
        nlohmann::json added = nlohmann::json::array(), deleted = nlohmann::json::array(),
                       modified = nlohmann::json::array();
        size_t count = 0;
        for (const auto& c : changes) {
            ++count;
            switch (c.kind) {
                case core::ChangeKind::added: {
                    nlohmann::json j = side(c.new_digest, c.new_size);
                    j["path"] = c.path;
                    added.push_back(j);
                    break;
                }
                case core::ChangeKind::deleted: {
                    nlohmann::json j = side(c.old_digest, c.old_size);
                    j["path"] = c.path;
                    deleted.push_back(j);
                    break;
                }
                case core::ChangeKind::modified:
                    modified.push_back({{"path", c.path},
                                        {"old", side(c.old_digest, c.old_size)},
                                        {"new", side(c.new_digest, c.new_size)},
                                        {"old_executable", c.old_executable},
                                        {"new_executable", c.new_executable}});
                    break;
            }
            if (ctx.g.json) continue;
            std::string kind = core::change_name(c.kind);
            kind.resize(9, ' ');
            ctx.out() << kind << c.path;
            auto h = [](const std::optional<Digest>& d) {
                return d ? short_hash(*d) : std::string("?");
            };
            if (c.kind == core::ChangeKind::added) {
                ctx.out() << "  (" << human_size(c.new_size) << ", " << h(c.new_digest) << ")";
            } else if (c.kind == core::ChangeKind::deleted) {
                ctx.out() << "  (" << human_size(c.old_size) << ", " << h(c.old_digest) << ")";
            } else {
                ctx.out() << "  (" << human_size(c.old_size) << " -> " << human_size(c.new_size)
                          << ", " << h(c.old_digest) << " -> " << h(c.new_digest);
                if (c.old_executable != c.new_executable)
                    ctx.out() << ", mode " << (c.old_executable ? "x" : "-") << " -> "
                              << (c.new_executable ? "x" : "-");
                ctx.out() << ")";
            }
            ctx.out() << '\n';
        }
        if (ctx.g.json) {
            ctx.emit({{"added", added}, {"deleted", deleted}, {"modified", modified}});
        } else if (count == 0 && !ctx.g.quiet) {
            ctx.out() << "no differences\n";
        }
    }

    std::vector<std::string> args_;
};

}  // namespace

std::unique_ptr<Command> make_diff() {
    return std::make_unique<Diff>();
}

}  // namespace mlo::cli
