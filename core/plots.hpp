#pragma once

// Charts for `mlo plots RUN... -o report.html`: metric histories as line plots and sweeps as
// scatter plots, rendered as SVG, or as one self-contained HTML page with the SVG inline. The
// output references nothing outside itself (no scripts, fonts or stylesheets), so a report can
// be mailed or archived and still open years later. Tooltips are SVG <title> children, which
// browsers show on hover without any script.
//
// Layout rules the tests rely on:
//   - each plot area is drawn as <rect class="plot-area" x= y= width= height=>; an axis spans
//     exactly the finite data range, so the smallest value sits on the bottom (left) edge and the
//     largest on the top (right) edge. A range of one value is padded by 10% of its magnitude
//     (by 1 for a zero, and by one step on the step axis) so that the point lands mid-plot;
//   - NaN and infinite values are skipped; a series with at least two finite points at two or
//     more distinct steps is one <polyline> (gaps are bridged, not split), anything else is
//     drawn as dots; points get a dot each when a series has at most 50 of them;
//   - a plot with no finite point says "no data" and is still a well-formed SVG document;
//   - a run keeps its colour across every plot of a report: colours go to labels in order of
//     first appearance, cycling through a palette of 10.
// Coordinates are written with two decimals in the "C" locale whatever the global locale is.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlo::core {

struct PlotPoint {
    int64_t step;
    double value;
};

// One run's history of one metric, sorted by step (the renderer sorts a copy if it is not).
struct PlotSeries {
    std::string label;
    std::vector<PlotPoint> points;
};

struct MetricPlot {
    std::string metric;
    std::vector<PlotSeries> series;
};

// One point per run: x = a parameter's value, y = a metric's final value (sweeps).
struct ScatterPoint {
    std::string label;
    double x;
    double y;
};

struct ScatterPlot {
    std::string x_name, y_name;
    std::vector<ScatterPoint> points;
};

// A standalone SVG document: <svg xmlns="http://www.w3.org/2000/svg" ...> with no XML
// declaration, whose first child is a <title> naming the metric. Throws mlo::Error when the size
// is outside 160x120 .. 10000x10000.
std::string render_line_svg(const MetricPlot& plot, int width = 640, int height = 360);
std::string render_scatter_svg(const ScatterPlot& plot, int width = 480, int height = 360);

// One HTML5 page: <title>, a heading, a table of the runs (label -> colour), then each line plot
// and each scatter plot as inline <svg>. The markup is also well-formed XML (every element
// closed, every attribute quoted), so the page and its SVG parts parse as XHTML too.
std::string render_html_report(const std::string& title, const std::vector<MetricPlot>& lines,
                               const std::vector<ScatterPlot>& scatters);

// Helpers, public for the tests and for callers that label things the same way.

// Tick values inside [lo, hi] at a "nice" spacing of 1, 2 or 5 x 10^k chosen so that there are
// about `target` intervals across the range; the spacing is at least `min_spacing` (1 for an
// integer axis such as steps). Empty when the range is empty or not finite. lo > hi is swapped.
std::vector<double> nice_ticks(double lo, double hi, int target = 5, double min_spacing = 0);

// The shortest readable label for a tick: "0.25", "1200", "-3", "1e-05", "2.5e+07". `spacing`
// is the distance between ticks and sets the precision (0 = the value's own shortest form):
// 0.30000000000000004 with spacing 0.1 prints as "0.3". Fixed notation for magnitudes in
// [1e-4, 1e7), scientific otherwise, as %g would choose.
std::string format_tick(double value, double spacing = 0);

// &, <, >, " and ' as entities, so the result is safe in both element text and attribute values
// of HTML and XML. Control characters that XML 1.0 forbids become U+FFFD.
std::string escape_markup(std::string_view text);

// "#rrggbb" for the i-th label, cycling through the palette.
const char* palette_colour(size_t i);

}  // namespace mlo::core
