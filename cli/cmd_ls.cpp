#include "cli/commands.hpp"
#include "core/workspace.hpp"
#include "storage/error.hpp"
#include "storage/manifest.hpp"

namespace mlo::cli {

namespace {

class Ls : public Command {
public:
    void setup(CLI::App& app) override {
        add_paths_option(app, paths_, "Tracked paths; a tracked directory lists its files");
    }
    int run(Context& ctx) override {
        core::Repository& repo = ctx.repo();
        auto sels = core::select_tracked(repo, paths_);
        nlohmann::json list = nlohmann::json::array();
        for (const auto& sel : sels) {
            const core::Pointer& p = sel.ptr;
            bool in_store = repo.store().contains(p.digest);
            // A tracked directory named on the command line lists its files.
            bool expand = p.is_dir && !paths_.empty() && in_store;
            if (!expand) {
                nlohmann::json j = {{"path", p.rel},
                                    {"pointer", repo.rel(p.file)},
                                    {"kind", p.is_dir ? "dir" : "file"},
                                    {"hash", "sha256:" + to_hex(p.digest)},
                                    {"size", p.size},
                                    {"in_store", in_store}};
                if (p.is_dir) j["files"] = p.files;
                list.push_back(j);
                if (!ctx.g.json) {
                    char line[64];
                    std::snprintf(line, sizeof line, "%-4s %10s  ", p.is_dir ? "dir" : "file",
                                  human_size(p.size).c_str());
                    ctx.out() << line << short_hash(p.digest) << "  " << p.rel;
                    if (p.is_dir)
                        ctx.out() << "/  (" << p.files << (p.files == 1 ? " file)" : " files)");
                    if (!in_store) ctx.out() << "  [not in store]";
                    ctx.out() << '\n';
                }
                continue;
            }
            Manifest m = Manifest::parse(repo.store().read(p.digest), to_hex(p.digest));
            for (const auto& e : m.entries()) {
                if (!sel.covers(e.path)) continue;
                std::string path = p.rel + "/" + e.path;
                list.push_back({{"path", path},
                                {"kind", "file"},
                                {"hash", "sha256:" + to_hex(e.digest)},
                                {"size", e.size},
                                {"executable", e.executable}});
                if (!ctx.g.json) {
                    char line[64];
                    std::snprintf(line, sizeof line, "%-4s %10s  ", e.executable ? "exec" : "file",
                                  human_size(e.size).c_str());
                    ctx.out() << line << short_hash(e.digest) << "  " << path << '\n';
                }
            }
        }
        if (ctx.g.json) ctx.emit(list);
        return 0;
    }

private:
    std::vector<std::string> paths_;
};

}  // namespace

std::unique_ptr<Command> make_ls() {
    return std::make_unique<Ls>();
}

}  // namespace mlo::cli
