// mlo plots RUN... [--metric NAME]... [-o FILE] [--format html|svg]: each metric's step curve
// across runs, and for runs whose numeric parameters differ (a sweep) a parameter/metric
// scatter; one self-contained HTML file (inline SVG) or one SVG file per plot.

#include <set>

#include "cli/commands.hpp"
#include "core/plots.hpp"
#include "core/runs.hpp"
#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

// A file name from a metric or parameter name.
std::string file_part(const std::string& s) {
    std::string out;
    for (char c : s)
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
                   ? c
                   : '_';
    return out;
}

class Plots : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_option("runs", refs_, "Runs or experiments (ids, unique prefixes or names)")
            ->required()
            ->type_name("RUN");
        app.add_option("--metric", metrics_, "Only these metrics (repeatable)")->type_name("NAME");
        app.add_option("-o,--output", output_,
                       "The HTML file (default plots.html), or with --format svg a directory")
            ->type_name("PATH");
        app.add_option("--format", format_, "html (default) or svg")
            ->check(CLI::IsMember({"html", "svg"}));
    }

    int run(Context& ctx) override {
        core::RunStore store(ctx.repo().db());
        std::vector<core::Run> runs;
        std::set<std::string> seen;
        for (const auto& ref : refs_) {
            std::string id = store.resolve(ref);
            if (!seen.insert(id).second) continue;
            auto r = store.get(id);
            if (!r) throw Error("unknown run " + quote(ref));
            runs.push_back(std::move(*r));
        }
        auto label = [](const core::Run& r) {
            return r.name.empty() ? r.id.substr(0, 8) : r.name + " (" + r.id.substr(0, 8) + ")";
        };
        // Each run's series: its logged histories and its stage runs'; a metric with no history
        // is one point at step 0 (its final value).
        std::map<std::string, core::MetricPlot> plots;
        for (const auto& r : runs) {
            std::map<std::string, std::vector<core::PlotPoint>> series;
            std::vector<std::string> ids = {r.id};
            for (const auto& k : store.children(r.id))
                ids.push_back(k.id);
            for (const auto& id : ids)
                for (const auto& key : store.history_keys(id))
                    for (const auto& p : store.history(id, key))
                        series[key].push_back({p.step, p.value});
            for (const auto& [k, v] : r.metrics)
                if (!series.count(k)) series[k].push_back({0, v});
            for (auto& [k, pts] : series) {
                if (!wanted(k)) continue;
                std::stable_sort(pts.begin(), pts.end(),
                                 [](const auto& a, const auto& b) { return a.step < b.step; });
                plots[k].metric = k;
                plots[k].series.push_back({label(r), std::move(pts)});
            }
        }
        for (const auto& m : metrics_)
            if (!plots.count(m)) throw Error("no run given has a metric " + quote(m));
        if (plots.empty()) throw Error("the runs given have no metrics to plot");

        // Scatter plots: numeric parameters whose value differs between the runs.
        std::vector<core::ScatterPlot> scatters;
        if (runs.size() > 1) {
            std::set<std::string> keys;
            for (const auto& r : runs)
                for (auto it = r.params.begin(); it != r.params.end(); ++it)
                    if (it.value().is_number()) keys.insert(it.key());
            for (const auto& key : keys) {
                std::set<double> values;
                for (const auto& r : runs)
                    if (r.params.contains(key) && r.params[key].is_number())
                        values.insert(r.params[key].get<double>());
                if (values.size() < 2) continue;
                for (const auto& [metric, plot] : plots) {
                    core::ScatterPlot s;
                    s.x_name = key;
                    s.y_name = metric;
                    for (const auto& r : runs) {
                        auto m = r.metrics.find(metric);
                        if (m == r.metrics.end() || !r.params.contains(key) ||
                            !r.params[key].is_number())
                            continue;
                        s.points.push_back({label(r), r.params[key].get<double>(), m->second});
                    }
                    if (s.points.size() >= 2) scatters.push_back(std::move(s));
                }
            }
        }

        std::vector<core::MetricPlot> lines;
        for (auto& [k, p] : plots)
            lines.push_back(std::move(p));
        std::vector<std::string> written;
        if (format_ == "svg") {
            fs::path dir = output_.empty() ? fs::path("plots") : fs::path(output_);
            make_dirs(dir);
            for (const auto& p : lines) {
                fs::path f = dir / (file_part(p.metric) + ".svg");
                write_file_atomic(f, core::render_line_svg(p));
                written.push_back(f.string());
            }
            for (const auto& s : scatters) {
                fs::path f = dir / (file_part(s.y_name) + "-vs-" + file_part(s.x_name) + ".svg");
                write_file_atomic(f, core::render_scatter_svg(s));
                written.push_back(f.string());
            }
        } else {
            fs::path f = output_.empty() ? fs::path("plots.html") : fs::path(output_);
            std::string title = "mlo plots: ";
            for (size_t i = 0; i < runs.size(); ++i)
                title += (i ? ", " : "") +
                         (runs[i].name.empty() ? runs[i].id.substr(0, 8) : runs[i].name);
            write_file_atomic(f, core::render_html_report(title, lines, scatters));
            written.push_back(f.string());
        }
        if (ctx.g.json) {
            ctx.emit(
                {{"files", written}, {"metrics", lines.size()}, {"scatters", scatters.size()}});
            return 0;
        }
        for (const auto& w : written)
            ctx.out() << w << '\n';
        return 0;
    }

private:
    bool wanted(const std::string& metric) const {
        return metrics_.empty() ||
               std::find(metrics_.begin(), metrics_.end(), metric) != metrics_.end();
    }

    std::vector<std::string> refs_, metrics_;
    std::string output_, format_ = "html";
};

}  // namespace

std::unique_ptr<Command> make_plots() {
    return std::make_unique<Plots>();
}

}  // namespace mlo::cli
