// mlo validate DATA.csv --schema schema.yaml: checks a CSV file against a schema
// (core/validation). Exit 0 when every rule holds, 1 when one fails, 2 for unreadable data or
// a malformed schema. The text output lists the failed rules (-v: every rule that met an
// offending value); --json lists every rule checked.

#include <algorithm>

#include "cli/commands.hpp"
#include "core/validation.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

nlohmann::json rule_json(const core::RuleResult& r) {
    nlohmann::json examples = nlohmann::json::array();
    for (const auto& e : r.examples) {
        nlohmann::json x = {
            {"line", e.line},
            {"value", e.value ? nlohmann::json(*e.value) : nlohmann::json(nullptr)}};
        if (e.first_row) x["first_line"] = e.first_line;
        examples.push_back(std::move(x));
    }
    auto counted = [&](auto v) { return r.counted ? nlohmann::json(v) : nlohmann::json(nullptr); };
    return {{"column", r.column.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.column)},
            {"rule", r.rule},
            {"expected", r.expected},
            {"passed", r.passed},
            {"failing", counted(r.failing)},
            {"total", counted(r.total)},
            {"required_share", counted(r.required)},
            {"observed", r.counted ? nlohmann::json(nullptr) : nlohmann::json(r.observed)},
            {"examples", std::move(examples)}};
}

class Validate : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_option("data", data_, "CSV file to check")->required();
        app.add_option("-s,--schema", schema_, "Schema file (see 'mlo schema infer')")->required();
    }

    int run(Context& ctx) override {
        core::Schema schema = core::load_schema(schema_, schema_);
        core::ValidationReport rep = core::validate_csv_file(data_, data_, schema);
        const size_t failed = rep.failed();
        if (ctx.g.json) {
            nlohmann::json rules = nlohmann::json::array();
            for (const auto& r : rep.rules)
                rules.push_back(rule_json(r));
            ctx.emit({{"data", rep.data},
                      {"schema", rep.schema},
                      {"rows", rep.rows},
                      {"valid", failed == 0},
                      {"rules_checked", rep.rules.size()},
                      {"rules_failed", failed},
                      {"rules", std::move(rules)}});
            return failed == 0 ? 0 : 1;
        }
        std::vector<std::vector<std::string>> table = {
            {"COLUMN", "RULE", "EXPECTED", "FAILING", "RESULT", "EXAMPLES"}};
        for (const auto& r : rep.rules) {
            if (r.passed && !(ctx.g.verbose && r.counted && r.failing > 0)) continue;
            std::string examples;
            for (size_t i = 0; i < r.examples.size() && i < 3; ++i)
                examples += (i ? ", " : "") + core::describe_example(r.examples[i]);
            if (r.failing > std::min<size_t>(r.examples.size(), 3)) examples += ", ...";
            table.push_back({r.column.empty() ? "-" : r.column, r.rule, r.expected,
                             r.counted ? std::to_string(r.failing) + " / " + std::to_string(r.total)
                                       : r.observed,
                             r.passed ? "ok" : "FAIL", examples});
        }
        if (table.size() > 1) print_table(ctx.out(), table);
        const std::string rows = std::to_string(rep.rows) + (rep.rows == 1 ? " row" : " rows");
        if (failed > 0)
            ctx.out() << quote(rep.data) << " does not match " << quote(rep.schema) << ": "
                      << failed << " of " << rep.rules.size() << " rules failed (" << rows << ")\n";
        else if (!ctx.g.quiet)
            ctx.out() << quote(rep.data) << " matches " << quote(rep.schema) << ": "
                      << rep.rules.size() << (rep.rules.size() == 1 ? " rule" : " rules")
                      << " passed (" << rows << ")\n";
        return failed == 0 ? 0 : 1;
    }

private:
    std::string data_, schema_;
};

}  // namespace

std::unique_ptr<Command> make_validate() {
    return std::make_unique<Validate>();
}

}  // namespace mlo::cli
