#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "core/monitor_html.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using nlohmann::json;

namespace {

size_t count(const std::string& s, const std::string& needle) {
    size_t n = 0;
    for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1))
        ++n;
    return n;
}

// The n-th inline <svg>...</svg> of a page.
std::string svg_at(const std::string& doc, size_t n) {
    size_t at = doc.find("<svg");
    for (size_t i = 0; i < n && at != std::string::npos; ++i)
        at = doc.find("<svg", at + 1);
    REQUIRE(at != std::string::npos);
    size_t end = doc.find("</svg>", at);
    REQUIRE(end != std::string::npos);
    return doc.substr(at, end + 6 - at);
}

json numeric_column(const std::string& name, bool drifted) {
    return {{"column", name},
            {"type", "numeric"},
            {"test", "ks"},
            {"score", 0.0123},
            {"statistic", 0.31},
            {"threshold", 0.05},
            {"drifted", drifted},
            {"reference_count", 8000},
            {"current_count", 1998},
            {"histogram",
             {{"edges", {0, 6, 12, 18, 24}},
              {"reference", {0.25, 0.25, 0.25, 0.25}},
              {"current", {0.1, 0.2, 0.3, 0.4}},
              {"below", 0.0},
              {"above", 0.0}}}};
}

json categorical_column(const std::string& name, size_t categories) {
    json cats = json::array(), ref = json::array(), cur = json::array();
    for (size_t i = 0; i < categories; ++i) {
        cats.push_back("cat_" + std::to_string(i));
        ref.push_back(1.0 / static_cast<double>(categories));
        cur.push_back(i == 0 ? 0.5 : 0.5 / static_cast<double>(categories - 1));
    }
    return {{"column", name},
            {"type", "categorical"},
            {"test", "chisquare"},
            {"score", 1e-7},
            {"statistic", 28.0},
            {"threshold", 0.05},
            {"drifted", false},
            {"histogram", {{"categories", cats}, {"reference", ref}, {"current", cur}}}};
}

json report(json columns, json performance = nullptr) {
    return {
        {"id", "6f1c"},
        {"time", "2026-11-28T06:00:00Z"},
        {"reference", {{"path", "prepared/train.csv"}, {"object", "ab12"}, {"rows", 8000}}},
        {"current", {{"path", "data/current.csv"}, {"kind", "csv"}, {"rows", 2000}}},
        {"model", "churn:1"},
        {"columns", std::move(columns)},
        {"dataset",
         {{"columns", 5}, {"drifted", 2}, {"share", 0.4}, {"drift_share", 0.5}, {"drift", false}}},
        {"performance", std::move(performance)},
        {"status", "drift"}};
}

}  // namespace

TEST_CASE("monitor report: one svg per column, summary and verdict", "[monitor_html]") {
    json r = report({numeric_column("tenure_months", true), categorical_column("contract", 3)});
    std::string html = monitor_report_html(r);
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(count(html, "<svg") == 2);
    CHECK(count(html, "</svg>") == 2);
    CHECK(count(html, "<svg xmlns=\"http://www.w3.org/2000/svg\"") == 2);
    CHECK(html.find("Dataset drift: 2 of 5 columns (40%), threshold 50%") != std::string::npos);
    CHECK(html.find("prepared/train.csv") != std::string::npos);
    CHECK(html.find("data/current.csv") != std::string::npos);
    CHECK(html.find("status-alert\">drift<") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("nan") == std::string::npos);
    CHECK(monitor_report_html(r) == html);

    // The drifted column's row is marked, the other one is not.
    CHECK(count(html, "<tr class=\"drifted\">") == 1);
    size_t marked = html.find("<tr class=\"drifted\">");
    CHECK(html.find("tenure_months", marked) < html.find("</tr>", marked));
    CHECK(html.find("p-value") != std::string::npos);

    // Each svg names its column and has reference and current bars.
    std::string numeric = svg_at(html, 0);
    CHECK(numeric.find("<title>tenure_months</title>") != std::string::npos);
    CHECK(count(numeric, "fill=\"#1f77b4\"") == 4 + 1);  // 4 bins + the legend swatch
    CHECK(count(numeric, "fill=\"#ff7f0e\"") == 4 + 1);
    CHECK(numeric.find(">24</text>") != std::string::npos);  // the last edge
    CHECK(numeric.find(">below<") == std::string::npos);
    std::string categorical = svg_at(html, 1);
    CHECK(categorical.find("<title>contract</title>") != std::string::npos);
    CHECK(categorical.find(">cat_2</text>") != std::string::npos);

    SECTION("status ok is green") {
        r["status"] = "ok";
        CHECK(monitor_report_html(r).find("status-ok\">ok<") != std::string::npos);
    }
}

TEST_CASE("monitor report: below and above bars only when present", "[monitor_html]") {
    json c = numeric_column("x", false);
    c["histogram"]["below"] = 0.05;
    c["histogram"]["above"] = 0.1;
    std::string svg = svg_at(monitor_report_html(report({c})), 0);
    CHECK(svg.find(">below</text>") != std::string::npos);
    CHECK(svg.find(">above</text>") != std::string::npos);
    CHECK(count(svg, "fill=\"#ff7f0e\"") == 6 + 1);
}

TEST_CASE("monitor report: user strings are escaped everywhere", "[monitor_html]") {
    const std::string evil = "a<b&\"c\"'";
    json c = categorical_column(evil, 3);
    c["histogram"]["categories"][0] = "<script>&amp;";
    json r = report({c});
    r["reference"]["path"] = "</td><b>";
    std::string html = monitor_report_html(r);
    CHECK(html.find(evil) == std::string::npos);
    CHECK(html.find("a&lt;b&amp;&quot;c&quot;&#39;") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("&lt;script&gt;&amp;amp;") != std::string::npos);
    CHECK(html.find("</td><b>") == std::string::npos);
    std::string svg = svg_at(html, 0);
    CHECK(svg.find("<title>a&lt;b&amp;&quot;c&quot;&#39;</title>") != std::string::npos);
    CHECK(svg.find("&nbsp;") == std::string::npos);
}

TEST_CASE("monitor report: long category lists keep the 30 largest plus other", "[monitor_html]") {
    json c = categorical_column("city", 40);
    // cat_39 is the largest on the reference side, so it must be kept.
    c["histogram"]["reference"][39] = 0.3;
    std::string svg = svg_at(monitor_report_html(report({c})), 0);
    CHECK(count(svg, "fill=\"#1f77b4\"><title>") == 31);
    CHECK(count(svg, "fill=\"#ff7f0e\"><title>") == 31);
    CHECK(svg.find(">other</text>") != std::string::npos);
    CHECK(svg.find(">cat_0</text>") != std::string::npos);
    CHECK(svg.find(">cat_39</text>") != std::string::npos);
    CHECK(svg.find("10 other categories") != std::string::npos);

    SECTION("category labels are truncated") {
        c["histogram"]["categories"][0] = "a_very_long_category_name";
        std::string s = svg_at(monitor_report_html(report({c})), 0);
        CHECK(s.find(">a_very_long_\u2026</text>") != std::string::npos);
        CHECK(s.find("<title>a_very_long_category_name: ") != std::string::npos);
    }
}

TEST_CASE("monitor report: NaN, infinities and missing keys", "[monitor_html]") {
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    constexpr double kInf = std::numeric_limits<double>::infinity();
    json c = numeric_column("x", true);
    c["score"] = kNaN;
    c["statistic"] = kInf;
    c["histogram"]["current"][1] = kNaN;
    c["histogram"]["edges"][2] = -kInf;
    std::string html = monitor_report_html(report({c}));
    CHECK(html.find("nan") == std::string::npos);
    CHECK(html.find("inf") == std::string::npos);
    CHECK(html.find("n/a") != std::string::npos);

    // Nothing but columns, and wrong types: still one page, one svg per column, no throw.
    json sparse = {{"columns", {{{"column", "only"}}, {{"column", 7}, {"histogram", 3}}}},
                   {"dataset", "x"},
                   {"reference", nullptr},
                   {"performance", json::array()}};
    std::string s;
    REQUIRE_NOTHROW(s = monitor_report_html(sparse));
    CHECK(count(s, "<svg") == 2);
    CHECK(s.find("no histogram") != std::string::npos);
    CHECK(s.find("<h2>Performance") == std::string::npos);
    REQUIRE_NOTHROW(monitor_report_html(json()));
    REQUIRE_NOTHROW(monitor_report_html(json::array()));
    CHECK(count(monitor_report_html(json::object()), "<svg") == 0);
}

TEST_CASE("monitor report: performance section only for an object", "[monitor_html]") {
    json perf = {{"rows", 1500},
                 {"model", "churn:1"},
                 {"metrics", {{"accuracy", 0.71}, {"f1_macro", 0.6}}},
                 {"champion", {{"accuracy", 0.82}}},
                 {"check", "accuracy >= champion.accuracy - 0.05"},
                 {"holds", false},
                 {"failed",
                  {"accuracy >= champion.accuracy - 0.05 (accuracy = 0.71, champion.accuracy = "
                   "0.82)"}}};
    std::string with = monitor_report_html(report({numeric_column("x", false)}, perf));
    CHECK(with.find("<h2>Performance</h2>") != std::string::npos);
    CHECK(with.find("<tr><td>accuracy</td><td>0.71</td><td>0.82</td></tr>") != std::string::npos);
    CHECK(with.find("<tr><td>f1_macro</td><td>0.6</td><td>n/a</td></tr>") != std::string::npos);
    CHECK(with.find("accuracy &gt;= champion.accuracy - 0.05") != std::string::npos);
    CHECK(with.find("(accuracy = 0.71, champion.accuracy = 0.82)</li>") != std::string::npos);
    CHECK(count(with, "<svg") == 1);

    std::string without = monitor_report_html(report({numeric_column("x", false)}));
    CHECK(without.find("Performance") == std::string::npos);
}

TEST_CASE("monitor report: the e2e checker accepts the page", "[monitor_html]") {
    if (std::system("python3 --version >/dev/null 2>&1") != 0) return;
    test::TempDir dir;
    json c = categorical_column("a<b&\"c\"", 40);
    json r = report({numeric_column("tenure_months", true), c}, json{{"holds", true}});
    std::string path = (dir / "report.html").string();
    std::ofstream(path) << monitor_report_html(r);
    std::string checker = std::string(MLO_SOURCE_DIR) + "/tests/e2e/check_html_report.py";
    CHECK(std::system(("python3 '" + checker + "' '" + path + "' 2 >/dev/null").c_str()) == 0);
    CHECK(std::system(("python3 '" + checker + "' '" + path + "' 3 >/dev/null 2>&1").c_str()) != 0);
}
