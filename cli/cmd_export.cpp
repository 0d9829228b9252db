// mlo export MODEL --format c [-o FILE] [--prefix NAME]: a built-in model as one
// dependency-free C99 source file that predicts what `mlo predict` predicts. MODEL is a file or
// a registry reference (NAME, NAME:VERSION, NAME@ALIAS), resolved as by `mlo predict`.

#include <iostream>

#include "cli/commands.hpp"
#include "core/builtin.hpp"
#include "core/export_c.hpp"
#include "core/learner.hpp"
#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

class Export : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_option("model", model_, "Model file, or NAME, NAME:VERSION, NAME@ALIAS")
            ->required();
        app.add_option("--format", format_, "Output format (only 'c' for now)")->required();
        app.add_option("-o,--out", out_, "Write the source here (default: stdout)");
        app.add_option("--prefix", prefix_,
                       "Prefix of the generated C symbols (default: mlo_model)");
    }

    int run(Context& ctx) override {
        // Checked before the model is loaded: the cheapest mistake is reported first.
        if (format_ != "c")
            throw Error("--format: unsupported format " + quote(format_) + " (supported: c)");
        if (!core::is_c_identifier(prefix_))
            throw Error("--prefix: " + quote(prefix_) +
                        " is not a C identifier (letters, digits and '_', not starting with a "
                        "digit)");
        // A clearer message than the one about the temporary file the write would create.
        if (const fs::path dir = fs::path(out_).parent_path();
            !dir.empty() && !fs::is_directory(dir))
            throw Error("cannot write " + quote(out_) + ": no directory " + quote(dir));
        std::optional<core::Repository> repo;
        if (auto root = core::Repository::find_root(fs::current_path()))
            repo.emplace(core::Repository::open(*root));
        core::ModelSource src = core::locate_model(model_, repo ? &*repo : nullptr);
        core::Model m = core::load_model(src.file, src.shown);

        core::ExportCOptions options;
        options.prefix = prefix_;
        options.source = src.shown;
        const std::string text = core::export_c(m, options);
        if (out_.empty()) {
            ctx.out() << text;
            return 0;
        }
        write_file_atomic(out_, text);
        if (ctx.g.json) {
            nlohmann::json j = {
                {"model", src.shown}, {"format", format_}, {"out", out_}, {"bytes", text.size()}};
            if (!src.name.empty()) {
                j["name"] = src.name;
                j["version"] = src.version;
            }
            ctx.emit(j);
        } else {
            ctx.note("wrote " + quote(src.shown) + " as C source to " + quote(out_) + " (" +
                     human_size(text.size()) + ")");
        }
        return 0;
    }

private:
    std::string model_, format_, out_, prefix_ = "mlo_model";
};

}  // namespace

std::unique_ptr<Command> make_export() {
    return std::make_unique<Export>();
}

}  // namespace mlo::cli
