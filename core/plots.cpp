#include "core/plots.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "storage/error.hpp"

namespace mlo::core {

namespace {

// d3's category10: distinct hues that stay readable on white.
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

// Dots per point only up to this many points; beyond it they would merge into a thick line.
constexpr size_t kMaxDottedPoints = 50;
// Width of one character at font-size 11 in a generic sans-serif, generously rounded up:
// margins sized with it keep tick labels and legends inside the picture without measuring text.
constexpr double kCharWidth = 6.5;
constexpr double kLegendRow = 16;
constexpr size_t kLegendMaxChars = 28;

// Labels get their colours in order of first appearance, so a run keeps its colour in every plot
// of one report.
class Colours {
public:
    size_t index(const std::string& label) {
        auto [it, inserted] = index_.emplace(label, order_.size());
        if (inserted) order_.push_back(label);
        return it->second;
    }
    const char* of(const std::string& label) { return palette_colour(index(label)); }
    const std::vector<std::string>& labels() const { return order_; }

private:
    std::map<std::string, size_t> index_;
    std::vector<std::string> order_;
};

void check_size(int width, int height) {
    if (width < 160 || height < 120 || width > 10000 || height > 10000) {
        throw Error("plot size " + std::to_string(width) + "x" + std::to_string(height) +
                    " is outside 160x120..10000x10000");
    }
}

// A coordinate in pixels: two decimals, never "-0.00". std::to_chars ignores the global locale,
// where printf would write "12,50" under a German LC_NUMERIC.
std::string px(double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 2);
    std::string s(buf, r.ptr);
    if (s == "-0.00") s = "0.00";
    return s;
}

enum class Notation { fixed, scientific };

Notation notation_for(double magnitude) {
    return magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e7) ? Notation::scientific
                                                                    : Notation::fixed;
}

// The fewest digits (in the given notation) that read back within `tol` of v.
std::string shortest(double v, double tol, Notation notation) {
    if (v == 0) return "0";
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    auto format =
        notation == Notation::fixed ? std::chars_format::fixed : std::chars_format::scientific;
    char buf[512];
    for (int precision = 0; precision <= 17; ++precision) {
        auto r = std::to_chars(buf, buf + sizeof buf, v, format, precision);
        if (r.ec != std::errc()) break;
        double back = 0;
        std::from_chars(buf, r.ptr, back);
        if (std::abs(back - v) <= tol) return std::string(buf, r.ptr);
    }
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

std::string tick_label(double v, double spacing, Notation notation) {
    if (spacing > 0 && std::abs(v) < spacing * 1e-6) return "0";
    double tol = spacing > 0 ? spacing * 1e-6 : std::abs(v) * 1e-9;
    return shortest(v, tol, notation);
}

// A value as a tooltip shows it: as many digits as it takes, and no more than 10.
std::string value_text(double v) {
    return shortest(v, std::abs(v) * 1e-10, notation_for(std::abs(v)));
}

size_t codepoints(std::string_view s) {
    return static_cast<size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The first `n` code points of s, with "…" in place of the rest.
std::string truncate(const std::string& s, size_t n) {
    if (codepoints(s) <= n || n == 0) return s;
    size_t seen = 0, i = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && seen++ == n - 1) break;
    }
    return s.substr(0, i) + "\u2026";
}

// One axis: the data range it spans, padded when it is a single value, and its ticks.
struct Axis {
    double lo = 0, hi = 1;
    std::vector<double> ticks;
    std::vector<std::string> labels;

    double fraction(double v) const { return (v - lo) / (hi - lo); }
};

enum class AxisKind { real, integer };

Axis make_axis(double lo, double hi, AxisKind kind, int target) {
    Axis a;
    double magnitude = std::max(std::abs(lo), std::abs(hi));
    if (hi - lo <= magnitude * 1e-12) {
        double centre = lo + (hi - lo) / 2;
        double pad = kind == AxisKind::integer ? 1 : (centre == 0 ? 1 : std::abs(centre) * 0.1);
        lo = centre - pad;
        hi = centre + pad;
    }
    a.lo = lo;
    a.hi = hi;
    a.ticks = nice_ticks(lo, hi, target, kind == AxisKind::integer ? 1 : 0);
    double spacing = a.ticks.size() >= 2 ? a.ticks[1] - a.ticks[0] : 0;
    double widest = 0;
    for (double t : a.ticks)
        widest = std::max(widest, std::abs(t));
    // One notation for the whole axis, so "8000000" does not sit next to "1e+07".
    Notation notation = notation_for(widest);
    for (double t : a.ticks)
        a.labels.push_back(tick_label(t, spacing, notation));
    return a;
}

// The plot area in pixels.
struct Frame {
    double left, top, right, bottom;

    double x(const Axis& a, double v) const { return left + a.fraction(v) * (right - left); }
    double y(const Axis& a, double v) const { return bottom - a.fraction(v) * (bottom - top); }
};

class Svg {
public:
    Svg(int width, int height, const std::string& title) : width_(width), height_(height) {
        out_ += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
                "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                std::to_string(width) + " " + std::to_string(height) +
                "\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\n";
        out_ += "<title>" + escape_markup(title) + "</title>\n";
        out_ += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
        // Long names are cut to fit; the <title> above keeps them whole.
        text(width / 2.0, 20, truncate(title, static_cast<size_t>(width / 9.5)), "middle",
             "font-size=\"13\" font-weight=\"bold\"");
    }

    int width() const { return width_; }
    int height() const { return height_; }

    void raw(const std::string& s) { out_ += s; }

    void text(double x, double y, const std::string& s, const char* anchor,
              const std::string& extra = "") {
        out_ += "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\"";
        if (!extra.empty()) out_ += " " + extra;
        out_ += ">" + escape_markup(s) + "</text>\n";
    }

    void line(double x1, double y1, double x2, double y2, const char* stroke) {
        out_ += "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" +
                px(y2) + "\" stroke=\"" + stroke + "\"/>\n";
    }

    void circle(double x, double y, double r, const char* fill, const std::string& tooltip) {
        out_ += "<circle cx=\"" + px(x) + "\" cy=\"" + px(y) + "\" r=\"" + px(r) + "\" fill=\"" +
                fill + "\"";
        if (tooltip.empty()) {
            out_ += "/>\n";
        } else {
            out_ += "><title>" + escape_markup(tooltip) + "</title></circle>\n";
        }
    }

    void no_data() { text(width_ / 2.0, height_ / 2.0, "no data", "middle", "fill=\"#777777\""); }

    std::string finish() {
        out_ += "</svg>\n";
        return std::move(out_);
    }

private:
    int width_, height_;
    std::string out_;
};

int tick_target(double pixels, double per_tick) {
    return std::clamp(static_cast<int>(pixels / per_tick), 2, 10);
}

size_t widest_label(const Axis& a) {
    size_t n = 0;
    for (const auto& l : a.labels)
        n = std::max(n, codepoints(l));
    return n;
}

double legend_width(const std::vector<std::string>& labels, int width) {
    if (labels.empty()) return 0;
    size_t chars = 0;
    for (const auto& l : labels)
        chars = std::max(chars, std::min(codepoints(l), kLegendMaxChars));
    return std::min(chars * kCharWidth + 26, width / 3.0);
}

// Lays out the plot area: room on the left for the y tick labels and title, at the top for the
// heading, at the bottom for the x tick labels and title, and on the right for the legend.
Frame make_frame(const Svg& svg, const Axis& y_axis, double legend) {
    double left = 22 + widest_label(y_axis) * kCharWidth + 8;
    double right = svg.width() - 14 - legend;
    return Frame{left, 32, std::max(right, left + 10), std::max(svg.height() - 42.0, 42.0)};
}

void draw_axes(Svg& svg, const Frame& f, const Axis& x_axis, const Axis& y_axis,
               const std::string& x_title, const std::string& y_title) {
    svg.raw("<rect class=\"plot-area\" x=\"" + px(f.left) + "\" y=\"" + px(f.top) + "\" width=\"" +
            px(f.right - f.left) + "\" height=\"" + px(f.bottom - f.top) +
            "\" fill=\"none\" stroke=\"#bbbbbb\"/>\n");
    for (size_t i = 0; i < y_axis.ticks.size(); ++i) {
        double y = f.y(y_axis, y_axis.ticks[i]);
        svg.line(f.left, y, f.right, y, "#eeeeee");
        svg.line(f.left - 4, y, f.left, y, "#888888");
        svg.text(f.left - 6, y + 4, y_axis.labels[i], "end");
    }
    for (size_t i = 0; i < x_axis.ticks.size(); ++i) {
        double x = f.x(x_axis, x_axis.ticks[i]);
        svg.line(x, f.top, x, f.bottom, "#eeeeee");
        svg.line(x, f.bottom, x, f.bottom + 4, "#888888");
        svg.text(x, f.bottom + 15, x_axis.labels[i], "middle");
    }
    auto fit = [](const std::string& s, double pixels) {
        return truncate(s, static_cast<size_t>(std::max(pixels / kCharWidth, 4.0)));
    };
    svg.text((f.left + f.right) / 2, svg.height() - 8.0, fit(x_title, f.right - f.left), "middle");
    double cy = (f.top + f.bottom) / 2;
    svg.text(14, cy, fit(y_title, f.bottom - f.top), "middle",
             "transform=\"rotate(-90 14 " + px(cy) + ")\"");
}

// Each label once, with its colour; rows that do not fit become "+N more".
void draw_legend(Svg& svg, const Frame& f, double width, const std::vector<std::string>& labels,
                 Colours& colours) {
    if (labels.empty() || width <= 0) return;
    double x = f.right + 14;
    size_t chars = static_cast<size_t>(std::max(1.0, (width - 26) / kCharWidth));
    size_t rows = static_cast<size_t>(std::max(1.0, (f.bottom - f.top) / kLegendRow));
    size_t shown = labels.size() <= rows ? labels.size() : rows - 1;
    for (size_t i = 0; i < shown; ++i) {
        double y = f.top + 8 + i * kLegendRow;
        const char* colour = colours.of(labels[i]);
        svg.raw("<g><title>" + escape_markup(labels[i]) + "</title>");
        svg.raw("<rect x=\"" + px(x) + "\" y=\"" + px(y - 5) +
                "\" width=\"14\" height=\"4\" fill=\"" + colour + "\"/>");
        svg.text(x + 20, y, truncate(labels[i], chars), "start");
        svg.raw("</g>\n");
    }
    if (shown < labels.size()) {
        svg.text(x, f.top + 8 + shown * kLegendRow,
                 "+" + std::to_string(labels.size() - shown) + " more", "start",
                 "fill=\"#777777\"");
    }
}

std::vector<std::string> unique_labels(const std::vector<std::string>& labels) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& l : labels) {
        if (seen.insert(l).second) out.push_back(l);
    }
    return out;
}

struct Pixel {
    double x, y;
};

// Thousands of points in a few hundred pixel columns: keep the first, lowest, highest and last
// point of each column, which draws the same picture with a fraction of the coordinates.
std::vector<Pixel> decimate(const std::vector<Pixel>& in, double columns) {
    if (in.size() <= 4 * static_cast<size_t>(columns)) return in;
    std::vector<Pixel> out;
    for (size_t i = 0; i < in.size();) {
        double column = std::floor(in[i].x);
        size_t end = i, lo = i, hi = i;
        for (; end < in.size() && std::floor(in[end].x) == column; ++end) {
            if (in[end].y < in[lo].y) lo = end;
            if (in[end].y > in[hi].y) hi = end;
        }
        size_t keep[] = {i, std::min(lo, hi), std::max(lo, hi), end - 1};
        for (size_t k = 0; k < 4; ++k) {
            if (k == 0 || keep[k] != keep[k - 1]) out.push_back(in[keep[k]]);
        }
        i = end;
    }
    return out;
}

std::string render_line(const MetricPlot& plot, int width, int height, Colours& colours) {
    check_size(width, height);
    Svg svg(width, height, plot.metric);

    struct Prepared {
        const std::string* label;
        std::vector<PlotPoint> points;
    };
    std::vector<Prepared> series;
    std::vector<std::string> labels;
    bool any = false;
    double xlo = 0, xhi = 0, ylo = 0, yhi = 0;
    for (const auto& s : plot.series) {
        Prepared p{&s.label, {}};
        for (const auto& pt : s.points) {
            if (!std::isfinite(pt.value)) continue;
            double x = static_cast<double>(pt.step);
            if (!any) {
                xlo = xhi = x;
                ylo = yhi = pt.value;
                any = true;
            }
            xlo = std::min(xlo, x);
            xhi = std::max(xhi, x);
            ylo = std::min(ylo, pt.value);
            yhi = std::max(yhi, pt.value);
            p.points.push_back(pt);
        }
        std::stable_sort(p.points.begin(), p.points.end(),
                         [](const PlotPoint& a, const PlotPoint& b) { return a.step < b.step; });
        labels.push_back(s.label);
        series.push_back(std::move(p));
    }
    if (!any) {
        svg.no_data();
        return svg.finish();
    }

    labels = unique_labels(labels);
    double legend = legend_width(labels, width);
    Axis y_axis = make_axis(ylo, yhi, AxisKind::real, tick_target(height - 74.0, 50));
    Frame f = make_frame(svg, y_axis, legend);
    Axis x_axis = make_axis(xlo, xhi, AxisKind::integer, tick_target(f.right - f.left, 80));
    draw_axes(svg, f, x_axis, y_axis, "step", plot.metric);

    for (const auto& s : series) {
        if (s.points.empty()) continue;
        const char* colour = colours.of(*s.label);
        svg.raw("<g class=\"series\"><title>" + escape_markup(*s.label) + "</title>\n");
        std::vector<Pixel> pixels;
        for (const auto& pt : s.points) {
            pixels.push_back({f.x(x_axis, static_cast<double>(pt.step)), f.y(y_axis, pt.value)});
        }
        bool is_line = s.points.front().step != s.points.back().step;
        if (is_line) {
            std::string points;
            for (const auto& p : decimate(pixels, f.right - f.left)) {
                if (!points.empty()) points += ' ';
                points += px(p.x) + "," + px(p.y);
            }
            svg.raw("<polyline points=\"" + points + "\" fill=\"none\" stroke=\"" + colour +
                    "\" stroke-width=\"1.5\" stroke-linejoin=\"round\"/>\n");
        }
        if (!is_line || s.points.size() <= kMaxDottedPoints) {
            double r = s.points.size() == 1 ? 3.5 : 2.5;
            bool tooltips = s.points.size() <= kMaxDottedPoints;
            for (size_t i = 0; i < s.points.size(); ++i) {
                std::string tip;
                if (tooltips) {
                    tip = *s.label + ", step " + std::to_string(s.points[i].step) + ": " +
                          value_text(s.points[i].value);
                }
                svg.circle(pixels[i].x, pixels[i].y, r, colour, tip);
            }
        }
        svg.raw("</g>\n");
    }
    draw_legend(svg, f, legend, labels, colours);
    return svg.finish();
}

std::string scatter_title(const ScatterPlot& plot) {
    return plot.y_name + " vs " + plot.x_name;
}

std::string render_scatter(const ScatterPlot& plot, int width, int height, Colours& colours) {
    check_size(width, height);
    Svg svg(width, height, scatter_title(plot));

    std::vector<const ScatterPoint*> points;
    std::vector<std::string> labels;
    double xlo = 0, xhi = 0, ylo = 0, yhi = 0;
    for (const auto& p : plot.points) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        if (points.empty()) {
            xlo = xhi = p.x;
            ylo = yhi = p.y;
        }
        xlo = std::min(xlo, p.x);
        xhi = std::max(xhi, p.x);
        ylo = std::min(ylo, p.y);
        yhi = std::max(yhi, p.y);
        points.push_back(&p);
        labels.push_back(p.label);
    }
    if (points.empty()) {
        svg.no_data();
        return svg.finish();
    }

    labels = unique_labels(labels);
    double legend = legend_width(labels, width);
    Axis y_axis = make_axis(ylo, yhi, AxisKind::real, tick_target(height - 74.0, 50));
    Frame f = make_frame(svg, y_axis, legend);
    Axis x_axis = make_axis(xlo, xhi, AxisKind::real, tick_target(f.right - f.left, 80));
    draw_axes(svg, f, x_axis, y_axis, plot.x_name, plot.y_name);

    for (const ScatterPoint* p : points) {
        std::string tip = p->label + ": " + plot.x_name + " = " + value_text(p->x) + ", " +
                          plot.y_name + " = " + value_text(p->y);
        svg.circle(f.x(x_axis, p->x), f.y(y_axis, p->y), 4, colours.of(p->label), tip);
    }
    draw_legend(svg, f, legend, labels, colours);
    return svg.finish();
}

constexpr const char* kStyle =
    "body { font-family: sans-serif; margin: 24px; color: #222222; }\n"
    "h1 { font-size: 20px; }\n"
    "h2 { font-size: 16px; margin-top: 28px; }\n"
    "table.runs { border-collapse: collapse; }\n"
    "table.runs td, table.runs th { padding: 2px 10px 2px 0; text-align: left; }\n"
    ".swatch { display: inline-block; width: 12px; height: 12px; }\n"
    ".plot { margin: 12px 0; }\n"
    ".plot svg { max-width: 100%; height: auto; }\n";

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target, double min_spacing) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
    if (lo > hi) std::swap(lo, hi);
    if (lo == hi) return {lo};
    double span = hi - lo;
    if (!std::isfinite(span)) return {};
    double raw = span / std::max(target, 1);
    // spacing = mantissa x 10^exponent; ticks are computed from the integer parts so that 3 x 0.1
    // comes out as 0.3 and not 0.30000000000000004.
    double exponent = std::floor(std::log10(raw));
    double norm = raw / std::pow(10.0, exponent);
    double mantissa = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
    double spacing = mantissa * std::pow(10.0, exponent);
    if (!(spacing > 0) || !std::isfinite(spacing)) return {};
    if (spacing < min_spacing) {
        mantissa = spacing = min_spacing;
        exponent = 0;
    }
    auto value = [&](double k) {
        return exponent < 0 ? k * mantissa / std::pow(10.0, -exponent)
                            : k * mantissa * std::pow(10.0, exponent);
    };
    double eps = spacing * 1e-9;
    double first = std::ceil((lo - eps) / spacing);
    double last = std::floor((hi + eps) / spacing);
    std::vector<double> ticks;
    for (double k = first; k <= last && ticks.size() < 1000; ++k) {
        double v = value(k);
        ticks.push_back(std::abs(v) < eps ? 0.0 : v);
    }
    return ticks;
}

std::string format_tick(double value, double spacing) {
    return tick_label(value, spacing, notation_for(std::abs(value)));
}

std::string escape_markup(std::string_view text) {
    static constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
                case '&':
                    out += "&amp;";
                    break;
                case '<':
                    out += "&lt;";
                    break;
                case '>':
                    out += "&gt;";
                    break;
                case '"':
                    out += "&quot;";
                    break;
                case '\'':
                    out += "&#39;";
                    break;
                case '\t':
                case '\n':
                case '\r':
                    out += static_cast<char>(c);
                    break;
                default:
                    if (c < 0x20) {
                        out += kReplacement;
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            ++i;
            continue;
        }
        // Multi-byte UTF-8: copy a valid sequence, replace a broken byte, so that an odd run
        // name cannot make the document unparseable.
        size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                     : c >= 0xE0 && c <= 0xEF ? 3
                     : c >= 0xF0 && c <= 0xF4 ? 4
                                              : 0;
        uint32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
        bool ok = len != 0 && i + len <= text.size();
        for (size_t k = 1; ok && k < len; ++k) {
            auto cc = static_cast<unsigned char>(text[i + k]);
            ok = (cc & 0xC0) == 0x80;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        ok = ok && cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) &&
             cp != 0xFFFE && cp != 0xFFFF;
        if (ok) {
            out.append(text.substr(i, len));
            i += len;
        } else {
            out += kReplacement;
            ++i;
        }
    }
    return out;
}

const char* palette_colour(size_t i) {
    return kPalette[i % kPaletteSize];
}

std::string render_line_svg(const MetricPlot& plot, int width, int height) {
    Colours colours;
    return render_line(plot, width, height, colours);
}

std::string render_scatter_svg(const ScatterPlot& plot, int width, int height) {
    Colours colours;
    return render_scatter(plot, width, height, colours);
}

std::string render_html_report(const std::string& title, const std::vector<MetricPlot>& lines,
                               const std::vector<ScatterPlot>& scatters) {
    // Colours first, over every plot, so that the table and all plots agree.
    Colours colours;
    for (const auto& plot : lines) {
        for (const auto& s : plot.series)
            colours.index(s.label);
    }
    for (const auto& plot : scatters) {
        for (const auto& p : plot.points)
            colours.index(p.label);
    }

    std::string t = escape_markup(title);
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
    out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
    out += "<title>" + t + "</title>\n<style>\n" + kStyle + "</style>\n</head>\n<body>\n";
    out += "<h1>" + t + "</h1>\n";
    if (!colours.labels().empty()) {
        out += "<table class=\"runs\">\n<tr><th>colour</th><th>run</th></tr>\n";
        for (const auto& label : colours.labels()) {
            out += std::string("<tr><td><span class=\"swatch\" style=\"background: ") +
                   colours.of(label) + "\"></span></td><td>" + escape_markup(label) +
                   "</td></tr>\n";
        }
        out += "</table>\n";
    }
    if (lines.empty() && scatters.empty()) out += "<p>no data</p>\n";
    if (!lines.empty()) out += "<h2>Metrics</h2>\n";
    for (const auto& plot : lines) {
        out += "<div class=\"plot\">\n" + render_line(plot, 640, 360, colours) + "</div>\n";
    }
    if (!scatters.empty()) out += "<h2>Sweeps</h2>\n";
    for (const auto& plot : scatters) {
        out += "<div class=\"plot\">\n" + render_scatter(plot, 480, 360, colours) + "</div>\n";
    }
    out += "</body>\n</html>\n";
    return out;
}

}  // namespace mlo::core
