#include "cli/commands.hpp"
#include "core/compare.hpp"

namespace mlo::cli {

namespace {

nlohmann::json side(const std::optional<Digest>& d, uint64_t size) {
    nlohmann::json j = {{"size", size}};
    j["hash"] = d ? nlohmann::json("sha256:" + to_hex(*d)) : nlohmann::json(nullptr);
    return j;
}

class Diff : public Command {
public:
    void setup(CLI::App& app) override {
        add_paths_option(app, paths_, "Limit to these tracked paths");
    }
    int run(Context& ctx) override {
        auto sels = core::select_tracked(ctx.repo(), paths_);
        core::Progress progress;
        std::vector<core::TrackedState> states;
        {
            ProgressBar bar(ctx, progress);
            states = core::compare_workspace(ctx.repo(), sels, core::Detail::digests, &progress);
        }
        nlohmann::json added = nlohmann::json::array(), deleted = nlohmann::json::array(),
                       modified = nlohmann::json::array();
        size_t count = 0;
        for (const auto& s : states) {
            for (const auto& c : s.changes) {
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
        }
        if (ctx.g.json) {
            ctx.emit({{"added", added}, {"deleted", deleted}, {"modified", modified}});
        } else if (count == 0 && !ctx.g.quiet) {
            ctx.out() << "no differences\n";
        }
        return 0;
    }

private:
    std::vector<std::string> paths_;
};

}  // namespace

std::unique_ptr<Command> make_diff() {
    return std::make_unique<Diff>();
}

}  // namespace mlo::cli
