// mlo metrics show [A], mlo metrics diff [A [B]], mlo params diff [A [B]]: the metrics and
// parameters of the workspace, a run or a git revision (core::values_of), side by side.

#include <cmath>
#include <cstdio>
#include <set>

#include "cli/commands.hpp"
#include "core/experiments.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

std::string text_of(const std::optional<nlohmann::json>& v) {
    if (!v) return "-";
    if (v->is_number_float()) return short_number(v->get<double>());
    return v->is_string() ? v->get<std::string>() : v->dump();
}

void print_rows(Context& ctx, bool csv, const std::vector<std::vector<std::string>>& rows) {
    if (!csv) {
        print_table(ctx.out(), rows);
        return;
    }
    for (const auto& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i)
            line += (i ? "," : "") + csv_cell(row[i] == "-" ? "" : row[i]);
        ctx.out() << line << '\n';
    }
}

// The two sides of a diff: no argument compares HEAD with the workspace, one compares it
// with the workspace.
std::pair<std::string, std::string> sides(const std::vector<std::string>& refs) {
    if (refs.size() > 2) throw Error("give at most two runs or revisions to compare");
    if (refs.empty()) return {"HEAD", "workspace"};
    if (refs.size() == 1) return {refs[0], "workspace"};
    return {refs[0], refs[1]};
}

class Metrics : public Command {
public:
    explicit Metrics(bool params) : params_(params) {}

    void setup(CLI::App& app) override {
        app.require_subcommand(1);
        if (!params_) {
            show_ = app.add_subcommand("show", "Metrics of the workspace, a run or a revision");
            show_->add_option("source", refs_, "A run, a git revision or 'workspace' (default)")
                ->expected(0, 1);
            show_->add_flag("--csv", csv_, "Print CSV");
        }
        diff_ = app.add_subcommand(
            "diff", params_ ? "Parameters that differ between two runs, revisions or the workspace"
                            : "Metrics that differ between two runs, revisions or the workspace");
        diff_->add_option("sources", refs_, "A [B]: runs, git revisions or 'workspace'")
            ->expected(0, 2);
        diff_->add_flag("--all", all_, "Also list what did not change");
        diff_->add_flag("--csv", csv_, "Print CSV");
    }

    int run(Context& ctx) override {
        if (show_ && show_->parsed()) return do_show(ctx);
        if (diff_->parsed()) return do_diff(ctx);
        throw Error(std::string("no subcommand given for '") + (params_ ? "params" : "metrics") +
                    "'");
    }

private:
    int do_show(Context& ctx) {
        core::SourceValues v = core::values_of(ctx.repo(), refs_.empty() ? "" : refs_[0]);
        if (ctx.g.json) {
            nlohmann::json j = nlohmann::json::object();
            for (const auto& [k, x] : v.metrics)
                j[k] = x;
            ctx.emit(j);
            return 0;
        }
        if (v.metrics.empty()) {
            ctx.note("no metrics in " + v.label);
            return 0;
        }
        std::vector<std::vector<std::string>> rows = {{"METRIC", "VALUE"}};
        for (const auto& [k, x] : v.metrics)
            rows.push_back({k, short_number(x)});
        print_rows(ctx, csv_, rows);
        return 0;
    }

    int do_diff(Context& ctx) {
        auto [a_ref, b_ref] = sides(refs_);
        core::SourceValues a = core::values_of(ctx.repo(), a_ref);
        core::SourceValues b = core::values_of(ctx.repo(), b_ref);
        std::map<std::string, nlohmann::json> av, bv;
        if (params_) {
            av = a.params;
            bv = b.params;
        } else {
            for (const auto& [k, x] : a.metrics)
                av[k] = x;
            for (const auto& [k, x] : b.metrics)
                bv[k] = x;
        }
        std::set<std::string> keys;
        for (const auto& [k, x] : av)
            keys.insert(k);
        for (const auto& [k, x] : bv)
            keys.insert(k);
        struct Row {
            std::string key;
            std::optional<nlohmann::json> old_v, new_v;
            std::optional<double> change;
        };
        std::vector<Row> rows;
        for (const auto& k : keys) {
            Row r{k, {}, {}, {}};
            if (auto it = av.find(k); it != av.end()) r.old_v = it->second;
            if (auto it = bv.find(k); it != bv.end()) r.new_v = it->second;
            if (r.old_v == r.new_v && !all_) continue;
            if (r.old_v && r.new_v && r.old_v->is_number() && r.new_v->is_number())
                r.change = r.new_v->get<double>() - r.old_v->get<double>();
            rows.push_back(std::move(r));
        }
        if (ctx.g.json) {
            nlohmann::json j = nlohmann::json::object();
            for (const auto& r : rows) {
                nlohmann::json e = {{"old", r.old_v ? *r.old_v : nlohmann::json(nullptr)},
                                    {"new", r.new_v ? *r.new_v : nlohmann::json(nullptr)}};
                if (r.change) e["change"] = *r.change;
                j[r.key] = e;
            }
            ctx.emit({{"a", a.label}, {"b", b.label}, {params_ ? "params" : "metrics", j}});
            return 0;
        }
        if (rows.empty()) {
            ctx.note(std::string(params_ ? "no parameter" : "no metric") + " differs between " +
                     a.label + " and " + b.label);
            return 0;
        }
        std::vector<std::vector<std::string>> table = {
            {params_ ? "PARAM" : "METRIC", a.label, b.label, "CHANGE"}};
        for (const auto& r : rows) {
            std::string change = "-";
            if (r.change) change = (*r.change >= 0 ? "+" : "") + short_number(*r.change);
            table.push_back({r.key, text_of(r.old_v), text_of(r.new_v), change});
        }
        print_rows(ctx, csv_, table);
        return 0;
    }

    bool params_;
    CLI::App *show_ = nullptr, *diff_ = nullptr;
    std::vector<std::string> refs_;
    bool all_ = false, csv_ = false;
};

}  // namespace

std::unique_ptr<Command> make_metrics() {
    return std::make_unique<Metrics>(false);
}

std::unique_ptr<Command> make_params() {
    return std::make_unique<Metrics>(true);
}

}  // namespace mlo::cli
