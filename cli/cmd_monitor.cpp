// mlo monitor [--current PATH | --deployment ID [--since DURATION]] [--html FILE]: compares the
// current data (a CSV file or a deployment's prediction log) with the reference profile, prints
// one line per column and the dataset verdict, stores the report; exit 1 on dataset drift or a
// failed performance check. `mlo monitor history` lists stored reports, `mlo monitor show ID`
// prints one (or writes its HTML).

#include "cli/commands.hpp"
#include "core/monitor.hpp"
#include "core/monitor_html.hpp"
#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

using Json = nlohmann::json;

std::string percent(double share) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f%%", share * 100);
    return buf;
}

std::string score_text(const Json& c) {
    if (!c["score"].is_number()) return "n/a";
    const std::string v = short_number(c["score"].get<double>());
    return c.value("score_kind", "") == "p_value" ? "p=" + v : v;
}

std::string thousands(uint64_t n) {
    std::string s = std::to_string(n);
    for (int i = int(s.size()) - 3; i > 0; i -= 3)
        s.insert(size_t(i), ",");
    return s;
}

int exit_code(const Json& report) {
    return report.value("status", "ok") == "ok" ? 0 : 1;
}

void print_report(Context& ctx, const Json& r) {
    std::ostream& out = ctx.out();
    const Json& ref = r["reference"];
    const Json& cur = r["current"];
    out << "reference  " << ref.value("path", "") << " ("
        << thousands(ref.value("rows", uint64_t(0))) << " rows"
        << (ref.value("profile_built", false) ? "; profile computed now" : "") << ")\n";
    out << "current    " << cur.value("path", "") << " ("
        << thousands(cur.value("rows", uint64_t(0))) << " rows"
        << (cur.value("kind", "") == "log" ? " from the prediction log" : "") << ")\n\n";
    std::vector<std::vector<std::string>> table = {
        {"COLUMN", "TYPE", "TEST", "SCORE", "THRESHOLD", "DRIFT"}};
    for (const Json& c : r["columns"])
        table.push_back({c.value("column", ""), c.value("type", ""), c.value("test", ""),
                         score_text(c), short_number(c.value("threshold", 0.0)),
                         c.value("drifted", false) ? "DRIFT" : "-"});
    print_table(out, table);
    for (const Json& m : r["missing_columns"])
        out << "not in the current data: " << m.get<std::string>() << "\n";
    const Json& d = r["dataset"];
    out << "\ndataset drift: " << (d.value("drift", false) ? "YES" : "no") << ", "
        << d.value("drifted", 0) << " of " << d.value("columns", 0) << " columns drifted ("
        << percent(d.value("share", 0.0)) << "; threshold " << percent(d.value("drift_share", 0.5))
        << ")\n";
    const Json& p = r["performance"];
    if (p.is_object()) {
        out << "performance of " << p.value("model", "") << " on "
            << thousands(p.value("rows", uint64_t(0))) << " labelled rows:";
        const Json& champion = p["champion"];
        bool any = false;
        for (const char* k : {"accuracy", "f1_macro", "roc_auc", "rmse", "mae", "r2"}) {
            if (!p["metrics"].contains(k)) continue;
            out << (any ? "," : "") << " " << k << " "
                << short_number(p["metrics"][k].get<double>());
            if (champion.contains(k))
                out << " (champion " << short_number(champion[k].get<double>()) << ")";
            any = true;
        }
        out << "\n";
        if (p.contains("holds")) {
            out << "check " << p.value("check", "") << ": "
                << (p["holds"].get<bool>() ? "holds" : "FAILED") << "\n";
            for (const Json& f : p["failed"])
                out << "  " << f.get<std::string>() << "\n";
        }
    } else if (r.contains("performance_note")) {
        out << r["performance_note"].get<std::string>() << "\n";
    }
    out << "report " << r.value("id", "").substr(0, 12) << ": " << r.value("status", "") << "\n";
}

class Monitor : public Command {
public:
    void setup(CLI::App& app) override {
        app.require_subcommand(0, 1);
        app.add_option("--current", current_,
                       "Current data: a CSV file or a prediction log (default: monitor.current)")
            ->type_name("PATH");
        app.add_option("--deployment", deployment_, "Read this deployment's prediction log")
            ->type_name("ID");
        app.add_option("--since", since_, "Only log records this recent (30m, 24h, 7d)")
            ->type_name("DURATION");
        app.add_option("--reference", reference_, "Reference data (default: monitor.reference)")
            ->type_name("PATH");
        app.add_option("--html", html_, "Also write the report as a self-contained HTML file")
            ->type_name("FILE");
        history_ = app.add_subcommand("history", "List stored monitor reports, newest first");
        history_->add_option("-n,--limit", limit_, "At most this many (default 20; 0 = all)");
        show_ = app.add_subcommand("show", "Print a stored report (or write its HTML)");
        show_->add_option("id", id_, "Report id or prefix")->required();
        show_->add_option("--html", html_, "Write the report as HTML to FILE")->type_name("FILE");
    }

    int run(Context& ctx) override {
        if (history_->parsed()) return do_history(ctx);
        if (show_->parsed()) return do_show(ctx);
        if (!current_.empty() && !deployment_.empty())
            throw Error("give either --current or --deployment, not both");
        core::Pipeline p = core::load_pipeline(ctx.repo());
        core::MonitorSettings s = core::monitor_settings(p);
        if (!reference_.empty()) s.reference = ctx.repo().rel(ctx.repo().resolve_arg(reference_));
        core::MonitorRequest req;
        req.current = current_;
        req.deployment = deployment_;
        if (!since_.empty()) req.since_ns = core::parse_duration_ns(since_, "--since");
        Json report = core::run_monitor(ctx.repo(), s, req);
        if (!html_.empty()) write_html(ctx, report);
        core::store_report(ctx.repo(), report);
        if (ctx.g.json)
            ctx.emit(report);
        else if (!ctx.g.quiet)
            print_report(ctx, report);
        return exit_code(report);
    }

private:
    void write_html(Context& ctx, const Json& report) {
        const fs::path target = fs::absolute(html_);
        write_file_atomic(target, core::monitor_report_html(report));
        ctx.note("wrote " + html_);
    }

    int do_history(Context& ctx) {
        std::vector<Json> reports = core::report_history(ctx.repo(), limit_);
        if (ctx.g.json) {
            Json list = Json::array();
            for (Json& r : reports) {
                for (Json& c : r["columns"])
                    c.erase("histogram");
                list.push_back(std::move(r));
            }
            ctx.emit(list);
            return 0;
        }
        std::vector<std::vector<std::string>> table = {
            {"ID", "TIME", "CURRENT", "ROWS", "DRIFTED", "PERFORMANCE", "STATUS"}};
        for (const Json& r : reports) {
            const Json& d = r["dataset"];
            const Json& p = r["performance"];
            std::string perf = "-";
            if (p.is_object() && p["metrics"].contains("accuracy"))
                perf = "accuracy " + short_number(p["metrics"]["accuracy"].get<double>());
            else if (p.is_object() && p["metrics"].contains("rmse"))
                perf = "rmse " + short_number(p["metrics"]["rmse"].get<double>());
            table.push_back({r.value("id", "").substr(0, 12), r.value("time", "").substr(0, 19),
                             r["current"].value("path", ""),
                             std::to_string(r["current"].value("rows", uint64_t(0))),
                             std::to_string(d.value("drifted", 0)) + "/" +
                                 std::to_string(d.value("columns", 0)),
                             perf, r.value("status", "")});
        }
        if (table.size() > 1)
            print_table(ctx.out(), table);
        else if (!ctx.g.quiet)
            ctx.note("no monitor report yet (run 'mlo monitor')");
        return 0;
    }

    int do_show(Context& ctx) {
        std::optional<Json> r = core::find_report(ctx.repo(), id_);
        if (!r) throw Error("no monitor report " + quote(id_) + " (see 'mlo monitor history')");
        if (!html_.empty()) write_html(ctx, *r);
        if (ctx.g.json)
            ctx.emit(*r);
        else if (html_.empty())
            print_report(ctx, *r);
        return 0;
    }

    std::string current_, deployment_, since_, reference_, html_, id_;
    size_t limit_ = 20;
    CLI::App* history_ = nullptr;
    CLI::App* show_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> make_monitor() {
    return std::make_unique<Monitor>();
}

}  // namespace mlo::cli
