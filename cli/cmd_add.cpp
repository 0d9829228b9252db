#include <algorithm>

#include "cli/commands.hpp"
#include "core/add.hpp"

namespace mlo::cli {

namespace {

class Add : public Command {
public:
    void setup(CLI::App& app) override {
        add_paths_option(app, paths_, "Files or directories to track")->required();
    }
    int run(Context& ctx) override {
        core::Progress progress;
        core::AddOptions options;
        options.on_wait = ctx.on_wait();
        options.progress = &progress;
        std::vector<core::AddedItem> items;
        {
            ProgressBar bar(ctx, progress);
            items = core::add_paths(ctx.repo(), paths_, options);
        }
        if (ctx.g.json) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& it : items) {
                nlohmann::json j = {{"path", it.ptr.rel},
                                    {"pointer", ctx.repo().rel(it.ptr.file)},
                                    {"kind", it.ptr.is_dir ? "dir" : "file"},
                                    {"hash", "sha256:" + to_hex(it.ptr.digest)},
                                    {"size", it.ptr.size},
                                    {"new_objects", it.new_objects},
                                    {"changed", it.changed}};
                if (it.ptr.is_dir) j["files"] = it.ptr.files;
                list.push_back(j);
            }
            ctx.emit({{"added", list}});
            return 0;
        }
        std::vector<std::string> to_git;
        for (const auto& it : items) {
            if (!ctx.g.quiet) {
                ctx.out() << (it.changed ? "added " : "unchanged ") << it.ptr.rel << " (";
                if (it.ptr.is_dir)
                    ctx.out() << it.ptr.files << (it.ptr.files == 1 ? " file, " : " files, ");
                ctx.out() << human_size(it.ptr.size) << ", " << it.new_objects << " new object"
                          << (it.new_objects == 1 ? "" : "s") << ")\n";
            }
            if (it.changed) to_git.push_back(ctx.repo().rel(it.ptr.file));
            std::string ignore = ctx.repo().rel(it.ptr.data_path().parent_path() / ".gitignore");
            if (it.gitignore_changed &&
                std::find(to_git.begin(), to_git.end(), ignore) == to_git.end())
                to_git.push_back(ignore);
        }
        if (!to_git.empty()) {
            std::string hint = "to record this in git: git add";
            for (const auto& p : to_git)
                hint += " " + p;
            ctx.note(hint);
        }
        return 0;
    }

private:
    std::vector<std::string> paths_;
};

}  // namespace

std::unique_ptr<Command> make_add() {
    return std::make_unique<Add>();
}

}  // namespace mlo::cli
