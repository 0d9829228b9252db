#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/plots.hpp"
#include "storage/error.hpp"

using namespace mlo;
using namespace mlo::core;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

size_t count(const std::string& s, const std::string& needle) {
    size_t n = 0;
    for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1))
        ++n;
    return n;
}

// Every start tag "<name ...>" or "<name .../>" in document order.
std::vector<std::string> tags(const std::string& doc, const std::string& name) {
    std::vector<std::string> out;
    std::string open = "<" + name;
    for (size_t at = doc.find(open); at != std::string::npos; at = doc.find(open, at + 1)) {
        char next = doc[at + open.size()];
        if (next != ' ' && next != '>' && next != '/') continue;
        out.push_back(doc.substr(at, doc.find('>', at) - at + 1));
    }
    return out;
}

std::string attr(const std::string& tag, const std::string& name) {
    std::string key = " " + name + "=\"";
    size_t at = tag.find(key);
    REQUIRE(at != std::string::npos);
    at += key.size();
    return tag.substr(at, tag.find('"', at) - at);
}

double num(const std::string& tag, const std::string& name) {
    return std::strtod(attr(tag, name).c_str(), nullptr);
}

struct Area {
    double left, top, right, bottom;
};

Area plot_area(const std::string& svg) {
    auto rects = tags(svg, "rect");
    for (const auto& r : rects) {
        if (r.find("class=\"plot-area\"") == std::string::npos) continue;
        double x = num(r, "x"), y = num(r, "y");
        return Area{x, y, x + num(r, "width"), y + num(r, "height")};
    }
    FAIL("no plot-area rect");
    return {};
}

struct Xy {
    double x, y;
};

std::vector<Xy> polyline_points(const std::string& tag) {
    std::vector<Xy> out;
    std::string pts = attr(tag, "points");
    const char* p = pts.c_str();
    while (*p) {
        char* end = nullptr;
        double x = std::strtod(p, &end);
        REQUIRE(*end == ',');
        double y = std::strtod(end + 1, &end);
        out.push_back({x, y});
        p = end;
        while (*p == ' ')
            ++p;
    }
    return out;
}

// A small well-formedness check, enough for the markup these renderers write: tags nest and
// close, attribute values are quoted, '&' only starts a known entity, '<' only starts markup,
// and there is one root element. Returns "" or what is wrong.
std::string well_formed(const std::string& doc) {
    std::vector<std::string> open;
    size_t roots = 0;
    auto entity_ok = [&](size_t at) {
        for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"}) {
            if (doc.compare(at, std::string(e).size(), e) == 0) return true;
        }
        return false;
    };
    auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; };
    size_t i = 0;
    while (i < doc.size()) {
        char c = doc[i];
        if (c == '&') {
            if (!entity_ok(i)) return "bad entity at " + std::to_string(i);
            ++i;
        } else if (c == '>') {
            return "raw '>' at " + std::to_string(i);
        } else if (c != '<') {
            if (open.empty() && !std::isspace(static_cast<unsigned char>(c))) {
                return "text outside the root at " + std::to_string(i);
            }
            ++i;
        } else if (doc.compare(i, 9, "<!DOCTYPE") == 0) {
            if (roots != 0 || !open.empty()) return "misplaced doctype";
            i = doc.find('>', i) + 1;
        } else if (doc.compare(i, 2, "</") == 0) {
            size_t end = doc.find('>', i);
            std::string name = doc.substr(i + 2, end - i - 2);
            if (open.empty() || open.back() != name) return "unbalanced </" + name + ">";
            open.pop_back();
            i = end + 1;
        } else {
            size_t j = i + 1;
            while (j < doc.size() && name_char(doc[j]))
                ++j;
            std::string name = doc.substr(i + 1, j - i - 1);
            if (name.empty()) return "raw '<' at " + std::to_string(i);
            for (;;) {
                while (j < doc.size() && doc[j] == ' ')
                    ++j;
                if (doc.compare(j, 2, "/>") == 0 || doc[j] == '>') break;
                size_t k = j;
                while (k < doc.size() && (name_char(doc[k]) || doc[k] == ':'))
                    ++k;
                if (k == j || doc.compare(k, 2, "=\"") != 0) {
                    return "bad attribute in <" + name + "> at " + std::to_string(j);
                }
                size_t close = doc.find('"', k + 2);
                if (close == std::string::npos) return "unterminated attribute";
                for (size_t v = k + 2; v < close; ++v) {
                    if (doc[v] == '<') return "'<' in an attribute at " + std::to_string(v);
                    if (doc[v] == '&' && !entity_ok(v)) return "bad entity at " + std::to_string(v);
                }
                j = close + 1;
            }
            if (open.empty() && roots++ != 0) return "second root <" + name + ">";
            if (doc[j] == '>') {
                open.push_back(name);
                i = j + 1;
            } else {
                i = j + 2;
            }
        }
    }
    if (!open.empty()) return "unclosed <" + open.back() + ">";
    if (roots != 1) return "no root element";
    return "";
}

MetricPlot loss_plot() {
    MetricPlot plot{"loss", {}};
    plot.series.push_back({"a", {{0, 5}, {1, 1}, {2, 9}, {3, 3}}});
    plot.series.push_back({"b", {{0, 4}, {2, 2}}});
    return plot;
}

}  // namespace

TEST_CASE("ticks are 1, 2 or 5 times a power of ten", "[plots]") {
    auto t = nice_ticks(0, 1);
    REQUIRE(t.size() == 6);
    for (size_t i = 0; i < t.size(); ++i)
        CHECK(t[i] == Approx(0.2 * i).margin(1e-12));
    CHECK(t[3] == 0.6);  // computed as 6/10, not 3 * 0.2 = 0.6000000000000001

    t = nice_ticks(3, 97);
    REQUIRE(t.size() == 4);
    CHECK(t == std::vector<double>{20, 40, 60, 80});

    CHECK(nice_ticks(0, 3, 5, 1) == std::vector<double>{0, 1, 2, 3});  // integer axis
    CHECK(nice_ticks(0, 3) == std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5, 3});
    CHECK(nice_ticks(97, 3) == nice_ticks(3, 97));
    CHECK(nice_ticks(2, 2) == std::vector<double>{2});
    CHECK(nice_ticks(kNaN, 1).empty());
    CHECK(nice_ticks(0, kInf).empty());

    // Crossing zero gives an exact zero, not -5.55e-17.
    t = nice_ticks(-0.3, 0.7);
    CHECK(std::count(t.begin(), t.end(), 0.0) == 1);

    for (auto [lo, hi] : std::vector<std::pair<double, double>>{{0, 1},
                                                                {3, 97},
                                                                {-12.5, 0.01},
                                                                {1e-7, 3e-6},
                                                                {0.9731, 0.9755},
                                                                {1, 1234567},
                                                                {-5e9, 7e9},
                                                                {1000000, 1000010}}) {
        INFO(lo << ".." << hi);
        t = nice_ticks(lo, hi);
        REQUIRE(t.size() >= 3);
        CHECK(t.size() <= 11);
        CHECK(t.front() >= lo - 1e-12 * std::abs(lo));
        CHECK(t.back() <= hi + 1e-12 * std::abs(hi));
        double spacing = t[1] - t[0];
        double mantissa = spacing / std::pow(10.0, std::floor(std::log10(spacing) + 1e-9));
        CHECK((mantissa == Approx(1) || mantissa == Approx(2) || mantissa == Approx(5)));
        for (size_t i = 1; i < t.size(); ++i)
            CHECK(t[i] - t[i - 1] == Approx(spacing));
    }
}

TEST_CASE("tick labels are short", "[plots]") {
    CHECK(format_tick(0.25) == "0.25");
    CHECK(format_tick(1e-5) == "1e-05");
    CHECK(format_tick(1200) == "1200");
    CHECK(format_tick(-3) == "-3");
    CHECK(format_tick(2.5e7) == "2.5e+07");
    CHECK(format_tick(0.1 + 0.2) == "0.3");
    CHECK(format_tick(0.1 + 0.2, 0.1) == "0.3");
    CHECK(format_tick(1000010, 2) == "1000010");
    CHECK(format_tick(0.0) == "0");
    CHECK(format_tick(-0.0) == "0");
    CHECK(format_tick(1e-17, 0.1) == "0");
    CHECK(format_tick(0.975, 0.005) == "0.975");
}

TEST_CASE("markup escaping", "[plots]") {
    CHECK(escape_markup("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
    CHECK(escape_markup("caf\xC3\xA9 \xE2\x82\xAC") == "caf\xC3\xA9 \xE2\x82\xAC");
    // Not allowed in XML 1.0, or not UTF-8: replaced rather than breaking the document.
    CHECK(escape_markup(std::string("a\x01z", 3)) == "a\xEF\xBF\xBDz");
    CHECK(escape_markup("a\xFFz") == "a\xEF\xBF\xBDz");
    CHECK(escape_markup("\xC3") == "\xEF\xBF\xBD");
    CHECK(escape_markup("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST_CASE("a line plot is a standalone svg", "[plots]") {
    std::string svg = render_line_svg(loss_plot());
    CHECK(well_formed(svg) == "");
    CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
    CHECK(svg.find("<?xml") == std::string::npos);
    // The accessible name comes first.
    CHECK(svg.find("<title>loss</title>") < svg.find("<rect"));
    CHECK(attr(tags(svg, "svg")[0], "width") == "640");
    CHECK(attr(tags(svg, "svg")[0], "viewBox") == "0 0 640 360");
    // Axis titles and the legend.
    CHECK(svg.find(">step</text>") != std::string::npos);
    CHECK(count(svg, ">loss</text>") == 2);  // heading and y axis title
    CHECK(svg.find(">a</text>") != std::string::npos);
    CHECK(svg.find(">b</text>") != std::string::npos);
    // No resources from elsewhere.
    CHECK(count(svg, "http") == 1);
    CHECK(svg.find("<script") == std::string::npos);
    CHECK(svg.find("href") == std::string::npos);
    CHECK_THROWS_AS(render_line_svg(loss_plot(), 100, 50), Error);
}

TEST_CASE("one polyline per multi-point series", "[plots]") {
    MetricPlot plot{"acc", {}};
    plot.series.push_back({"two", {{0, 0.1}, {1, 0.2}}});
    plot.series.push_back({"many", {}});
    for (int i = 0; i < 200; ++i)
        plot.series.back().points.push_back({i, i * 0.01});
    plot.series.push_back({"gappy", {{0, 0.3}, {1, kNaN}, {2, 0.5}, {3, kInf}}});
    plot.series.push_back({"single", {{4, 0.7}}});
    plot.series.push_back({"same step", {{5, 0.2}, {5, 0.4}, {5, 0.6}}});
    plot.series.push_back({"not finite", {{0, kNaN}, {1, -kInf}}});
    plot.series.push_back({"empty", {}});
    plot.series.push_back({"one finite", {{0, kNaN}, {1, 0.9}}});

    std::string svg = render_line_svg(plot);
    CHECK(well_formed(svg) == "");
    auto lines = tags(svg, "polyline");
    REQUIRE(lines.size() == 3);
    CHECK(polyline_points(lines[0]).size() == 2);
    CHECK(polyline_points(lines[1]).size() == 200);
    CHECK(polyline_points(lines[2]).size() == 2);  // the NaN and the inf are skipped
    // Dots: 2 + 0 (200 points is too many) + 2 + 1 + 3 + 0 + 0 + 1.
    CHECK(tags(svg, "circle").size() == 9);
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);

    // Every series has a distinct colour.
    std::set<std::string> colours;
    for (const auto& l : lines)
        colours.insert(attr(l, "stroke"));
    CHECK(colours.size() == 3);
}

TEST_CASE("the extremes map to the edges of the plot area", "[plots]") {
    std::string svg = render_line_svg(loss_plot());
    Area area = plot_area(svg);
    CHECK(area.left > 0);
    CHECK(area.right < 640);
    CHECK(area.top > 0);
    CHECK(area.bottom < 360);

    auto lines = tags(svg, "polyline");
    REQUIRE(lines.size() == 2);
    auto a = polyline_points(lines[0]);
    REQUIRE(a.size() == 4);
    CHECK(a[0].x == Approx(area.left).margin(0.01));    // step 0
    CHECK(a[3].x == Approx(area.right).margin(0.01));   // step 3
    CHECK(a[2].y == Approx(area.top).margin(0.01));     // 9, the largest value
    CHECK(a[1].y == Approx(area.bottom).margin(0.01));  // 1, the smallest
    CHECK(a[1].x - a[0].x == Approx(a[2].x - a[1].x).margin(0.02));
    // 5 sits halfway between 1 and 9.
    CHECK(a[0].y == Approx((area.top + area.bottom) / 2).margin(0.01));

    // The dots sit on the line.
    auto dots = tags(svg, "circle");
    REQUIRE(dots.size() == 6);
    CHECK(num(dots[2], "cy") == Approx(area.top).margin(0.01));
    CHECK(num(dots[1], "cy") == Approx(area.bottom).margin(0.01));

    // Ticks are labelled with nice values from the data range 1..9: 2, 4, 6, 8.
    for (const char* label : {">2</text>", ">4</text>", ">6</text>", ">8</text>"}) {
        CHECK(svg.find(label) != std::string::npos);
    }
}

TEST_CASE("unsorted points are drawn in step order", "[plots]") {
    MetricPlot plot{"m", {{"r", {{2, 1}, {0, 3}, {1, 2}}}}};
    auto pts = polyline_points(tags(render_line_svg(plot), "polyline").at(0));
    REQUIRE(pts.size() == 3);
    CHECK(pts[0].x < pts[1].x);
    CHECK(pts[1].x < pts[2].x);
    CHECK(pts[0].y < pts[2].y);  // step 0 has the largest value, so it is highest (smallest y)
}

TEST_CASE("labels are escaped everywhere", "[plots]") {
    const std::string nasty = "x<&\"'>y";
    MetricPlot plot{nasty, {{nasty, {{0, 1}, {1, 2}}}}};
    ScatterPlot scatter{nasty, nasty, {{nasty, 1, 2}, {"ok", 2, 3}}};
    for (const std::string& doc : {render_line_svg(plot), render_scatter_svg(scatter),
                                   render_html_report(nasty, {plot}, {scatter})}) {
        CHECK(well_formed(doc) == "");
        CHECK(doc.find("x<") == std::string::npos);
        CHECK(doc.find("<&") == std::string::npos);
        CHECK(doc.find("&\"") == std::string::npos);
        CHECK(doc.find("\"'") == std::string::npos);
        CHECK(doc.find("'>y") == std::string::npos);
        CHECK(doc.find("x&lt;&amp;&quot;&#39;&gt;y") != std::string::npos);
    }
}

TEST_CASE("degenerate ranges are padded", "[plots]") {
    SECTION("all values equal") {
        MetricPlot plot{"flat", {{"r", {{1, 2.0}, {2, 2.0}, {3, 2.0}}}}};
        std::string svg = render_line_svg(plot);
        CHECK(well_formed(svg) == "");
        Area area = plot_area(svg);
        auto pts = polyline_points(tags(svg, "polyline").at(0));
        for (const auto& p : pts)
            CHECK(p.y == Approx((area.top + area.bottom) / 2).margin(0.01));
        CHECK(svg.find(">2</text>") != std::string::npos);  // a tick at the value itself
        CHECK(svg.find(">1.8</text>") != std::string::npos);
    }
    SECTION("a single point at zero") {
        MetricPlot plot{"z", {{"r", {{7, 0.0}}}}};
        std::string svg = render_line_svg(plot);
        CHECK(well_formed(svg) == "");
        CHECK(tags(svg, "polyline").empty());
        Area area = plot_area(svg);
        auto dots = tags(svg, "circle");
        REQUIRE(dots.size() == 1);
        CHECK(num(dots[0], "cx") == Approx((area.left + area.right) / 2).margin(0.01));
        CHECK(num(dots[0], "cy") == Approx((area.top + area.bottom) / 2).margin(0.01));
        for (const char* label : {">6</text>", ">7</text>", ">8</text>"}) {
            CHECK(svg.find(label) != std::string::npos);
        }
    }
    SECTION("a scatter with one x value") {
        ScatterPlot plot{"lr", "acc", {{"a", 0.01, 0.5}, {"b", 0.01, 0.7}}};
        std::string svg = render_scatter_svg(plot);
        CHECK(well_formed(svg) == "");
        Area area = plot_area(svg);
        auto dots = tags(svg, "circle");
        REQUIRE(dots.size() == 2);
        CHECK(num(dots[0], "cx") == Approx((area.left + area.right) / 2).margin(0.01));
        CHECK(num(dots[0], "cy") == Approx(area.bottom).margin(0.01));
        CHECK(num(dots[1], "cy") == Approx(area.top).margin(0.01));
    }
}

TEST_CASE("empty plots say no data", "[plots]") {
    for (const MetricPlot& plot : {MetricPlot{"m", {}}, MetricPlot{"m", {{"r", {}}}},
                                   MetricPlot{"m", {{"r", {{0, kNaN}}}}}}) {
        std::string svg = render_line_svg(plot);
        CHECK(well_formed(svg) == "");
        CHECK(svg.find(">no data</text>") != std::string::npos);
        CHECK(svg.find("<title>m</title>") != std::string::npos);
        CHECK(tags(svg, "polyline").empty());
        CHECK(tags(svg, "circle").empty());
    }
    for (const ScatterPlot& plot :
         {ScatterPlot{"p", "m", {}}, ScatterPlot{"p", "m", {{"r", kNaN, 1}}}}) {
        std::string svg = render_scatter_svg(plot);
        CHECK(well_formed(svg) == "");
        CHECK(svg.find(">no data</text>") != std::string::npos);
        CHECK(svg.find("<title>m vs p</title>") != std::string::npos);
    }
    std::string html = render_html_report("nothing", {}, {});
    CHECK(well_formed(html) == "");
    CHECK(html.find("<p>no data</p>") != std::string::npos);
    CHECK(html.find("<svg") == std::string::npos);
}

TEST_CASE("a scatter plot puts one dot per run", "[plots]") {
    ScatterPlot plot{"lr",
                     "accuracy",
                     {{"r1", 0.001, 0.80},
                      {"r2", 0.01, 0.90},
                      {"r3", 0.1, 0.85},
                      {"r4", kNaN, 0.9},
                      {"r5", 0.05, kInf}}};
    std::string svg = render_scatter_svg(plot);
    CHECK(well_formed(svg) == "");
    CHECK(svg.find("<title>accuracy vs lr</title>") != std::string::npos);
    CHECK(svg.find(">lr</text>") != std::string::npos);
    CHECK(svg.find(">accuracy</text>") != std::string::npos);
    Area area = plot_area(svg);
    auto dots = tags(svg, "circle");
    REQUIRE(dots.size() == 3);
    CHECK(num(dots[0], "cx") == Approx(area.left).margin(0.01));
    CHECK(num(dots[2], "cx") == Approx(area.right).margin(0.01));
    CHECK(num(dots[0], "cy") == Approx(area.bottom).margin(0.01));
    CHECK(num(dots[1], "cy") == Approx(area.top).margin(0.01));
    CHECK(svg.find("<title>r2: lr = 0.01, accuracy = 0.9</title>") != std::string::npos);
    std::set<std::string> colours;
    for (const auto& d : dots)
        colours.insert(attr(d, "fill"));
    CHECK(colours.size() == 3);
}

TEST_CASE("long histories are thinned to the pixel columns", "[plots]") {
    MetricPlot plot{"m", {{"r", {}}}};
    for (int i = 0; i < 100000; ++i) {
        plot.series[0].points.push_back({i, std::sin(i * 0.01) + (i == 54321 ? 5 : 0)});
    }
    std::string svg = render_line_svg(plot);
    Area area = plot_area(svg);
    auto pts = polyline_points(tags(svg, "polyline").at(0));
    CHECK(pts.size() <= 4 * static_cast<size_t>(area.right - area.left + 1));
    CHECK(pts.front().x == Approx(area.left).margin(0.01));
    CHECK(pts.back().x == Approx(area.right).margin(0.01));
    // The spike survives.
    double top = area.bottom;
    for (const auto& p : pts)
        top = std::min(top, p.y);
    CHECK(top == Approx(area.top).margin(0.01));
    CHECK(svg.size() < 100000);
}

TEST_CASE("colours cycle through the palette", "[plots]") {
    std::set<std::string> distinct;
    for (size_t i = 0; i < 10; ++i)
        distinct.insert(palette_colour(i));
    CHECK(distinct.size() == 10);
    CHECK(std::string(palette_colour(10)) == palette_colour(0));

    MetricPlot plot{"m", {}};
    for (int i = 0; i < 12; ++i)
        plot.series.push_back({"r" + std::to_string(i), {{0, 0}, {1, static_cast<double>(i)}}});
    auto lines = tags(render_line_svg(plot), "polyline");
    REQUIRE(lines.size() == 12);
    CHECK(attr(lines[10], "stroke") == attr(lines[0], "stroke"));
    CHECK(attr(lines[1], "stroke") != attr(lines[0], "stroke"));
}

TEST_CASE("the legend says how many labels did not fit", "[plots]") {
    MetricPlot plot{"m", {}};
    for (int i = 0; i < 40; ++i)
        plot.series.push_back({"run-" + std::to_string(i), {{0, 1}}});
    std::string svg = render_line_svg(plot);
    CHECK(well_formed(svg) == "");
    CHECK(svg.find("more</text>") != std::string::npos);
    CHECK(svg.find(">run-0</text>") != std::string::npos);
    CHECK(svg.find(">run-39</text>") == std::string::npos);
}

TEST_CASE("the html report inlines every plot and keeps a run's colour", "[plots]") {
    MetricPlot loss{"loss", {{"base", {{0, 1}, {1, 0.5}}}, {"tuned", {{0, 1}, {1, 0.4}}}}};
    MetricPlot acc{"accuracy", {{"tuned", {{0, 0.5}, {1, 0.8}}}}};
    ScatterPlot sweep{"lr", "accuracy", {{"base", 0.01, 0.7}, {"tuned", 0.02, 0.8}}};
    std::string html = render_html_report("Runs", {loss, acc}, {sweep});

    CHECK(well_formed(html) == "");
    CHECK(html.rfind("<!DOCTYPE html>\n<html lang=\"en\">", 0) == 0);
    CHECK(html.find("<meta charset=\"utf-8\"/>") != std::string::npos);
    CHECK(html.find("<title>Runs</title>") != std::string::npos);
    CHECK(html.find("<h1>Runs</h1>") != std::string::npos);
    CHECK(count(html, "<svg ") == 3);
    // Line plots first, then scatter plots.
    CHECK(html.find("<title>loss</title>") < html.find("<title>accuracy</title>"));
    CHECK(html.find("<title>accuracy</title>") < html.find("<title>accuracy vs lr</title>"));
    // Self-contained: the only URL is the SVG namespace.
    CHECK(count(html, "http") == count(html, "http://www.w3.org/2000/svg"));
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("<link") == std::string::npos);
    CHECK(html.find("url(") == std::string::npos);
    CHECK(html.find("@import") == std::string::npos);

    // The table maps each run to a colour, and every plot draws the run in that colour.
    auto swatches = tags(html, "span");
    REQUIRE(swatches.size() == 2);
    std::string tuned = attr(swatches[1], "style").substr(std::string("background: ").size());
    CHECK(html.find("<td>tuned</td>") != std::string::npos);
    auto lines = tags(html, "polyline");
    REQUIRE(lines.size() == 3);
    CHECK(attr(lines[1], "stroke") == tuned);
    CHECK(attr(lines[2], "stroke") == tuned);  // the only run of the accuracy plot
    auto dots = tags(html, "circle");
    CHECK(attr(dots.back(), "fill") == tuned);
}

TEST_CASE("long names are cut to fit but kept whole in the title", "[plots]") {
    const std::string name = "validation/" + std::string(200, 'x');
    std::string svg = render_line_svg(MetricPlot{name, {{"r", {{0, 1}, {1, 2}}}}});
    CHECK(well_formed(svg) == "");
    CHECK(svg.find("<title>" + name + "</title>") != std::string::npos);
    CHECK(svg.find(">" + name + "</text>") == std::string::npos);
    for (const auto& text : tags(svg, "text"))
        CHECK(num(text, "x") < 640);
    CHECK(count(svg, "\u2026</text>") == 2);  // the heading and the y axis title
}
