// mlo schema infer DATA.csv [-o schema.yaml]: the schema a CSV file satisfies (core/validation),
// as YAML on stdout or in a file; with --json, the schema as a JSON document.

#include "cli/commands.hpp"
#include "core/csv.hpp"
#include "core/validation.hpp"
#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

class SchemaCmd : public Command {
public:
    void setup(CLI::App& app) override {
        app.require_subcommand(1);
        infer_ =
            app.add_subcommand("infer", "Infer a schema (types, ranges, domains) from a CSV file");
        infer_->add_option("data", data_, "CSV file")->required();
        infer_->add_option("-o,--out", out_, "Write the schema here (default: stdout)");
    }

    int run(Context& ctx) override {
        if (!infer_->parsed()) throw Error("no subcommand given for 'schema'");
        // A clearer message than the one about the temporary file the write would create.
        if (const fs::path dir = fs::path(out_).parent_path();
            !out_.empty() && !dir.empty() && !fs::is_directory(dir))
            throw Error("cannot write " + quote(out_) + ": no directory " + quote(dir));
        core::Table table = core::read_csv(data_, data_);
        core::Schema schema = core::infer_schema(table);
        const std::string yaml = core::schema_to_yaml(schema, data_);
        if (!out_.empty()) write_file_atomic(out_, yaml);
        if (ctx.g.json) {
            ctx.emit({{"data", data_},
                      {"out", out_.empty() ? nlohmann::json(nullptr) : nlohmann::json(out_)},
                      {"rows", table.rows},
                      {"schema", core::schema_to_json(schema)}});
        } else if (out_.empty()) {
            ctx.out() << yaml;
        } else {
            ctx.note("wrote the schema of " + std::to_string(schema.columns.size()) + " columns (" +
                     std::to_string(table.rows) + " rows) to " + quote(out_));
        }
        return 0;
    }

private:
    CLI::App* infer_ = nullptr;
    std::string data_, out_;
};

}  // namespace

std::unique_ptr<Command> make_schema() {
    return std::make_unique<SchemaCmd>();
}

}  // namespace mlo::cli
