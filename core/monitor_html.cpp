#include "core/monitor_html.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <vector>

#include "core/plots.hpp"

namespace mlo::core {

namespace {

using nlohmann::json;

constexpr const char* kReferenceColour = "#1f77b4";
constexpr const char* kCurrentColour = "#ff7f0e";
constexpr size_t kHtmlMaxCategories = 30;
constexpr size_t kLabelChars = 12;

constexpr const char* kStyle =
    "body { font-family: sans-serif; margin: 24px; color: #222222; }\n"
    "h1 { font-size: 20px; }\n"
    "h2 { font-size: 16px; margin-top: 28px; }\n"
    "table { border-collapse: collapse; margin: 8px 0; }\n"
    "td, th { padding: 3px 12px 3px 0; text-align: left; }\n"
    "th { border-bottom: 1px solid #bbbbbb; }\n"
    "tr.drifted td { background: #fde8e8; }\n"
    ".bad { color: #c62828; font-weight: bold; }\n"
    ".good { color: #2e7d32; }\n"
    ".status { font-weight: bold; padding: 2px 8px; border-radius: 3px; color: #ffffff; }\n"
    ".status-ok { background: #2e7d32; }\n"
    ".status-alert { background: #c62828; }\n"
    ".plot { margin: 12px 0; }\n"
    ".plot svg { max-width: 100%; height: auto; }\n";

// The member `key` of an object, or null (for a missing key or a non-object).
const json& member(const json& j, const char* key) {
    static const json kNull;
    if (!j.is_object()) return kNull;
    auto it = j.find(key);
    return it == j.end() ? kNull : *it;
}

double number(const json& j) {
    return j.is_number() ? j.get<double>() : std::nan("");
}

// printf's %.<precision>g in the "C" locale; "n/a" for NaN and infinities.
std::string fmt(double v, int precision = 4) {
    if (!std::isfinite(v)) return "n/a";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, precision);
    return std::string(buf, r.ptr);
}

std::string percent(double share) {
    return std::isfinite(share) ? fmt(share * 100, 3) + "%" : "n/a";
}

// Any JSON value as (unescaped) text: counts in full, other numbers with 6 significant digits.
std::string text(const json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_number_integer()) return j.dump();
    if (j.is_number()) return fmt(j.get<double>(), 6);
    if (j.is_boolean()) return j.get<bool>() ? "yes" : "no";
    if (j.is_null()) return "n/a";
    return j.dump();
}

std::string esc(const json& j) {
    return escape_markup(text(j));
}

// A pixel coordinate: two decimals, 0 for anything not finite.
std::string px(double v) {
    if (!std::isfinite(v)) v = 0;
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 2);
    std::string s(buf, r.ptr);
    return s == "-0.00" ? "0.00" : s;
}

// The first n code points of s, with an ellipsis in place of the rest.
std::string truncate(const std::string& s, size_t n) {
    size_t seen = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
        if (seen++ == n) return s.substr(0, i) + "\u2026";
    }
    return s;
}

bool is_p_value(const std::string& test) {
    return test == "ks" || test == "chisquare" || test == "z";
}

std::string score_kind(const std::string& test) {
    if (is_p_value(test)) return "p-value";
    static const std::set<std::string> kDistances = {"wasserstein", "jensenshannon", "psi",
                                                     "kl_div"};
    return kDistances.count(test) ? "distance" : "score";
}

// One bar pair: a bin or category with the reference and current shares.
struct Group {
    std::string label;  // under the pair (categories, "below", "above", "other"); may be empty
    std::string tooltip;
    double reference = 0, current = 0;
};

double share(const json& shares, size_t i) {
    double v = shares.is_array() && i < shares.size() ? number(shares[i]) : 0;
    return std::isfinite(v) && v > 0 ? v : 0;
}

std::vector<Group> categorical_groups(const json& h) {
    const json& categories = member(h, "categories");
    const json& ref = member(h, "reference");
    const json& cur = member(h, "current");
    size_t n = categories.is_array() ? categories.size() : 0;
    std::vector<Group> all;
    for (size_t i = 0; i < n; ++i)
        all.push_back({text(categories[i]), text(categories[i]), share(ref, i), share(cur, i)});
    if (all.size() <= kHtmlMaxCategories) return all;
    // Keep the largest (ties: the earlier), in their given order; sum the rest into "other".
    std::vector<size_t> order(all.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    auto peak = [&](size_t i) { return std::max(all[i].reference, all[i].current); };
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return peak(a) > peak(b); });
    std::vector<bool> keep(all.size(), false);
    for (size_t k = 0; k < kHtmlMaxCategories; ++k)
        keep[order[k]] = true;
    std::vector<Group> out;
    Group other{"other", std::to_string(all.size() - kHtmlMaxCategories) + " other categories", 0,
                0};
    for (size_t i = 0; i < all.size(); ++i) {
        if (keep[i]) {
            out.push_back(all[i]);
        } else {
            other.reference += all[i].reference;
            other.current += all[i].current;
        }
    }
    out.push_back(other);
    return out;
}

// Numeric bins; `edges` gets the bin edges when there is one more of them than bins, and
// `first_bin` the index of the first regular bin (1 when a "below" bar precedes it).
std::vector<Group> numeric_groups(const json& h, std::vector<double>& edges, size_t& first_bin) {
    const json& ref = member(h, "reference");
    const json& cur = member(h, "current");
    size_t n = std::max(ref.is_array() ? ref.size() : 0, cur.is_array() ? cur.size() : 0);
    const json& e = member(h, "edges");
    edges.clear();
    if (e.is_array() && e.size() == n + 1) {
        for (const auto& v : e)
            edges.push_back(number(v));
    }
    std::vector<Group> out;
    double below = number(member(h, "below")), above = number(member(h, "above"));
    first_bin = 0;
    if (std::isfinite(below) && below > 0) {
        out.push_back({"below", "below the reference minimum", 0, below});
        first_bin = 1;
    }
    for (size_t i = 0; i < n; ++i) {
        std::string range = edges.empty() ? "bin " + std::to_string(i + 1)
                                          : "[" + fmt(edges[i]) + ", " + fmt(edges[i + 1]) + ")";
        out.push_back({"", range, share(ref, i), share(cur, i)});
    }
    if (std::isfinite(above) && above > 0) {
        out.push_back({"above", "above the reference maximum", 0, above});
    }
    return out;
}

void svg_text(std::string& out, double x, double y, const std::string& s, const char* anchor,
              const std::string& extra = "") {
    out += "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\"";
    if (!extra.empty()) out += " " + extra;
    out += ">" + escape_markup(s) + "</text>\n";
}

void svg_rect(std::string& out, double x, double y, double w, double h, const char* fill,
              const std::string& tooltip = "") {
    out += "<rect x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(std::max(w, 0.0)) +
           "\" height=\"" + px(std::max(h, 0.0)) + "\" fill=\"" + fill + "\"";
    out += tooltip.empty() ? "/>\n" : "><title>" + escape_markup(tooltip) + "</title></rect>\n";
}

std::string column_svg(const json& column) {
    std::string name = text(member(column, "column"));
    std::string test = text(member(column, "test"));
    const json& h = member(column, "histogram");
    bool categorical = member(h, "categories").is_array();
    std::vector<double> edges;
    size_t first_bin = 0;
    std::vector<Group> groups =
        categorical ? categorical_groups(h) : numeric_groups(h, edges, first_bin);

    // Category labels are rotated by 60 degrees: room for 13 characters below and to the left.
    const int width = 640, height = categorical ? 360 : 300;
    const double left = categorical ? 80 : 52, right = width - 16, top = 44,
                 bottom = height - (categorical ? 100 : 40);
    std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
                      "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                      std::to_string(width) + " " + std::to_string(height) +
                      "\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\n";
    out += "<title>" + escape_markup(name) + "</title>\n";
    out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    std::string heading = truncate(name, 48);
    double score = number(member(column, "score"));
    if (member(column, "test").is_string() && std::isfinite(score))
        heading += "  (" + test + " " + score_kind(test) + " " + fmt(score) + ")";
    svg_text(out, left, 20, heading, "start", "font-size=\"13\" font-weight=\"bold\"");
    svg_rect(out, right - 150, 28, 10, 10, kReferenceColour);
    svg_text(out, right - 136, 37, "reference", "start");
    svg_rect(out, right - 66, 28, 10, 10, kCurrentColour);
    svg_text(out, right - 52, 37, "current", "start");

    // y axis: 0 .. the largest share, rounded up to the next tick.
    double peak = 0;
    for (const auto& g : groups)
        peak = std::max({peak, g.reference, g.current});
    if (peak <= 0) peak = 1;
    std::vector<double> ticks = nice_ticks(0, peak, 4);
    double spacing = ticks.size() >= 2 ? ticks[1] - ticks[0] : peak;
    if (ticks.empty() || ticks.back() < peak)
        ticks.push_back(ticks.empty() ? peak : ticks.back() + spacing);
    double y_max = ticks.back();
    auto y_of = [&](double v) { return bottom - std::min(v / y_max, 1.0) * (bottom - top); };
    for (double t : ticks) {
        double y = y_of(t);
        out += "<line x1=\"" + px(left) + "\" y1=\"" + px(y) + "\" x2=\"" + px(right) + "\" y2=\"" +
               px(y) + "\" stroke=\"" + (t == 0 ? "#888888" : "#eeeeee") + "\"/>\n";
        svg_text(out, left - 6, y + 4, format_tick(t * 100, spacing * 100) + "%", "end");
    }
    svg_text(out, 14, (top + bottom) / 2, "share", "middle",
             "transform=\"rotate(-90 14 " + px((top + bottom) / 2) + ")\"");

    if (groups.empty()) {
        svg_text(out, (left + right) / 2, (top + bottom) / 2, "no histogram", "middle",
                 "fill=\"#777777\"");
        return out + "</svg>\n";
    }
    double gw = (right - left) / static_cast<double>(groups.size());
    for (size_t i = 0; i < groups.size(); ++i) {
        const Group& g = groups[i];
        double x = left + i * gw;
        std::string tip =
            g.tooltip + ": reference " + percent(g.reference) + ", current " + percent(g.current);
        svg_rect(out, x + gw * 0.1, y_of(g.reference), gw * 0.4, bottom - y_of(g.reference),
                 kReferenceColour, tip);
        svg_rect(out, x + gw * 0.5, y_of(g.current), gw * 0.4, bottom - y_of(g.current),
                 kCurrentColour, tip);
        if (g.label.empty()) continue;
        if (categorical) {
            double cx = x + gw / 2, cy = bottom + 12;
            svg_text(out, cx, cy, truncate(g.label, kLabelChars), "end",
                     "transform=\"rotate(-60 " + px(cx) + " " + px(cy) + ")\"");
        } else {
            svg_text(out, x + gw / 2, bottom + 28, g.label, "middle", "font-style=\"italic\"");
        }
    }
    // Numeric: the bin edges, thinned to fit (about 56 pixels per label).
    if (!edges.empty()) {
        size_t fit = std::max<size_t>(static_cast<size_t>((right - left) / 56), 2);
        size_t step = (edges.size() + fit - 1) / fit;
        for (size_t k = 0; k < edges.size(); k += step) {
            double x = left + (first_bin + k) * gw;
            out += "<line x1=\"" + px(x) + "\" y1=\"" + px(bottom) + "\" x2=\"" + px(x) +
                   "\" y2=\"" + px(bottom + 4) + "\" stroke=\"#888888\"/>\n";
            svg_text(out, x, bottom + 15, fmt(edges[k]), "middle");
        }
    }
    return out + "</svg>\n";
}

std::string row(const std::vector<std::string>& cells, const char* tag = "td",
                const char* cls = nullptr) {
    std::string out = cls ? std::string("<tr class=\"") + cls + "\">" : "<tr>";
    for (const auto& c : cells)
        out += std::string("<") + tag + ">" + c + "</" + tag + ">";
    return out + "</tr>\n";
}

// "yes" or "no", in red when it is bad news and in green when it is not.
std::string yes_no(bool yes, bool bad) {
    return std::string("<span class=\"") + (bad ? "bad" : "good") + "\">" + (yes ? "yes" : "no") +
           "</span>";
}

std::string performance_section(const json& perf) {
    std::string out = "<h2>Performance</h2>\n<p>Model " + esc(member(perf, "model")) + " on " +
                      esc(member(perf, "rows")) + " labelled rows.</p>\n";
    const json& metrics = member(perf, "metrics");
    const json& champion = member(perf, "champion");
    std::set<std::string> names;  // sorted: the same JSON gives the same page
    for (const json* m : {&metrics, &champion}) {
        if (!m->is_object()) continue;
        for (auto it = m->begin(); it != m->end(); ++it)
            names.insert(it.key());
    }
    if (!names.empty()) {
        out += "<table>\n" + row({"metric", "current", "champion"}, "th");
        for (const auto& n : names) {
            out += row({escape_markup(n), esc(member(metrics, n.c_str())),
                        esc(member(champion, n.c_str()))});
        }
        out += "</table>\n";
    }
    const json& check = member(perf, "check");
    if (!check.is_null()) out += "<p>Check: <code>" + esc(check) + "</code></p>\n";
    const json& holds = member(perf, "holds");
    if (holds.is_boolean())
        out += "<p>Holds: " + yes_no(holds.get<bool>(), !holds.get<bool>()) + "</p>\n";
    const json& failed = member(perf, "failed");
    if (failed.is_array() && !failed.empty()) {
        out += "<p>Failed:</p>\n<ul>\n";
        for (const auto& f : failed)
            out += "<li>" + esc(f) + "</li>\n";
        out += "</ul>\n";
    }
    return out;
}

}  // namespace

std::string monitor_report_html(const json& report) {
    const json& ref = member(report, "reference");
    const json& cur = member(report, "current");
    const json& columns = member(report, "columns");
    const json& dataset = member(report, "dataset");
    std::string status = text(member(report, "status"));

    std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
    out += "<title>Drift report " + esc(member(report, "time")) + "</title>\n<style>\n" + kStyle +
           "</style>\n</head>\n<body>\n";
    out += "<h1>Drift report</h1>\n<table class=\"summary\">\n";
    out += row({"Status", std::string("<span class=\"status ") +
                              (status == "ok" ? "status-ok" : "status-alert") + "\">" +
                              escape_markup(status) + "</span>"});
    out += row({"Time", esc(member(report, "time"))});
    out += row({"Report", esc(member(report, "id"))});
    out += row({"Reference", esc(member(ref, "path")) + " (" + esc(member(ref, "rows")) +
                                 " rows, object " + esc(member(ref, "object")) + ")"});
    out += row({"Current", esc(member(cur, "path")) + " (" + esc(member(cur, "kind")) + ", " +
                               esc(member(cur, "rows")) + " rows)"});
    out += row({"Model", esc(member(report, "model"))});
    if (dataset.is_object()) {
        const json& drift = member(dataset, "drift");
        out +=
            row({"Dataset", "Dataset drift: " + esc(member(dataset, "drifted")) + " of " +
                                esc(member(dataset, "columns")) + " columns (" +
                                percent(number(member(dataset, "share"))) + "), threshold " +
                                percent(number(member(dataset, "drift_share"))) + ": " +
                                (drift.is_boolean() ? yes_no(drift.get<bool>(), drift.get<bool>())
                                                    : std::string("n/a"))});
    }
    out += "</table>\n";

    out += "<h2>Columns</h2>\n<table class=\"columns\">\n";
    out += row({"column", "type", "test", "score", "score is", "statistic", "threshold", "drifted"},
               "th");
    size_t n = columns.is_array() ? columns.size() : 0;
    for (size_t i = 0; i < n; ++i) {
        const json& c = columns[i];
        std::string test = text(member(c, "test"));
        const json& drifted = member(c, "drifted");
        bool yes = drifted.is_boolean() && drifted.get<bool>();
        out += row(
            {esc(member(c, "column")), esc(member(c, "type")), escape_markup(test),
             fmt(number(member(c, "score"))), score_kind(test), fmt(number(member(c, "statistic"))),
             fmt(number(member(c, "threshold"))), drifted.is_boolean() ? yes_no(yes, yes) : "n/a"},
            "td", yes ? "drifted" : nullptr);
    }
    out += "</table>\n";

    const json& perf = member(report, "performance");
    if (perf.is_object()) out += performance_section(perf);

    if (n > 0) out += "<h2>Distributions</h2>\n";
    for (size_t i = 0; i < n; ++i)
        out += "<div class=\"plot\">\n" + column_svg(columns[i]) + "</div>\n";
    return out + "</body>\n</html>\n";
}

}  // namespace mlo::core
