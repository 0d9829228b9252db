#include "core/learner.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <unordered_map>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "storage/error.hpp"
#include "storage/parallel.hpp"

namespace mlo::core {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxCategories = 1000;
constexpr size_t kMaxClasses = 1000;
// Rows per work item. Fixed (not derived from the thread count) so that every partial sum
// covers the same rows whatever `jobs` is: results are bit-identical for any number of threads.
constexpr size_t kBlockRows = 4096;
constexpr const char* kFormatName = "mlo-model";

size_t blocks_of(size_t rows) {
    return (rows + kBlockRows - 1) / kBlockRows;
}

// Design rows are padded to a multiple of 4 doubles (zeros) so the dot products below can run
// four independent accumulators, which g++ -O2 turns into SIMD without -ffast-math.
size_t padded(size_t d) {
    return (d + 3) / 4 * 4;
}

// n is a multiple of 4. The summation order is fixed, so results are reproducible.
inline double dot4(const double* __restrict a, const double* __restrict b, size_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t j = 0; j < n; j += 4) {
        s0 += a[j] * b[j];
        s1 += a[j + 1] * b[j + 1];
        s2 += a[j + 2] * b[j + 2];
        s3 += a[j + 3] * b[j + 3];
    }
    return (s0 + s1) + (s2 + s3);
}

// y += a * x; n is a multiple of 4.
inline void axpy4(double* __restrict y, double a, const double* __restrict x, size_t n) {
    for (size_t j = 0; j < n; j += 4) {
        y[j] += a * x[j];
        y[j + 1] += a * x[j + 1];
        y[j + 2] += a * x[j + 2];
        y[j + 3] += a * x[j + 3];
    }
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i)
        s += a[i] * b[i];
    return s;
}

// Shortest text that reads back as the same double; -0 is "0".
std::string number_text(double v) {
    if (v == 0) v = 0;
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

// A finite number in the CSV reader's syntax (optional leading '+').
bool parse_number(std::string_view s, double& out) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty() || s.front() == '+') return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::general);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
}

// The boolean spellings the CSV reader accepts: 1 true, 0 false, -1 neither.
int parse_bool(std::string_view s) {
    if (s == "true" || s == "TRUE" || s == "True") return 1;
    if (s == "false" || s == "FALSE" || s == "False") return 0;
    return -1;
}

std::optional<ColumnType> parse_type(std::string_view s) {
    if (s == "numeric") return ColumnType::numeric;
    if (s == "boolean") return ColumnType::boolean;
    if (s == "categorical") return ColumnType::categorical;
    return std::nullopt;
}

std::string data_row(size_t i) {
    return "data row " + std::to_string(i + 1);
}

// ---------------------------------------------------------------------------------------------
// Preprocessing

FeatureSpec fit_feature(const Column& c, size_t rows, const std::string& shown) {
    FeatureSpec f;
    f.name = c.name;
    f.type = c.type;
    const std::string subject = "feature column " + quote(c.name) + " of " + shown;
    if (c.type != ColumnType::categorical) {
        size_t present = 0;
        double sum = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (double v : c.numbers) {
            if (std::isnan(v)) continue;
            ++present;
            sum += v;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        if (present == 0) throw Error(subject + " has no values (every value is missing)");
        if (lo == hi)
            throw Error(subject + " is constant (every value is " +
                        (c.type == ColumnType::boolean ? std::string(lo ? "true" : "false")
                                                       : number_text(lo)) +
                        ")");
        f.mean = sum / double(present);
        // The variance of the imputed column: missing values became the mean and add nothing,
        // but they count in the denominator (SimpleImputer, then StandardScaler).
        double ss = 0;
        for (double v : c.numbers)
            if (!std::isnan(v)) ss += (v - f.mean) * (v - f.mean);
        f.scale = std::sqrt(ss / double(rows));
        if (!(f.scale > 0)) f.scale = 1;
        return f;
    }
    std::vector<size_t> counts(c.categories.size(), 0);
    for (int32_t code : c.codes)
        if (code >= 0) ++counts[size_t(code)];
    std::vector<size_t> present;  // codes seen in these rows (a table may list unused ones)
    for (size_t k = 0; k < counts.size(); ++k)
        if (counts[k] > 0) present.push_back(k);
    if (present.empty()) throw Error(subject + " has no values (every value is missing)");
    if (present.size() == 1)
        throw Error(subject + " is constant (every value is " + quote(c.categories[present[0]]) +
                    ")");
    if (present.size() > kMaxCategories)
        throw Error("categorical " + subject + " has " + std::to_string(present.size()) +
                    " categories (at most " + std::to_string(kMaxCategories) + ")");
    std::sort(present.begin(), present.end(),
              [&](size_t a, size_t b) { return c.categories[a] < c.categories[b]; });
    size_t best = present[0];
    for (size_t k : present) {
        f.categories.push_back(c.categories[k]);
        if (counts[k] > counts[best]) best = k;  // sorted order: ties keep the smallest
    }
    f.impute = c.categories[best];
    return f;
}

// Turns table rows into design rows for one model: where each feature comes from, and for
// categorical features which model category each of the table's categories is.
class Encoder {
public:
    Encoder(const Model& m, const Table& t, const std::string& shown) : width_(m.design_width()) {
        size_t numeric = 0;
        for (const FeatureSpec& f : m.features)
            if (f.type != ColumnType::categorical) ++numeric;
        size_t next_numeric = 0, next_onehot = numeric;
        for (const FeatureSpec& f : m.features) {
            const Column* c = t.find(f.name);
            if (!c)
                throw Error("no column " + quote(f.name) + " in " + shown +
                            " (a feature of the model)");
            Source s;
            s.column = c;
            s.spec = &f;
            if (f.type != ColumnType::categorical) {
                if (c->type == ColumnType::categorical)
                    throw Error("column " + quote(f.name) + " of " + shown +
                                " is categorical, but the model's feature " + quote(f.name) +
                                " is " + to_string(f.type));
                s.offset = next_numeric++;
            } else {
                s.offset = next_onehot;
                next_onehot += f.categories.size();
                map_categories(f, *c, s);
            }
            sources_.push_back(std::move(s));
        }
    }

    size_t width() const { return width_; }

    // Writes rows [r0, r1) to out: row i at out + (i - r0) * stride, `stride` >= width(); the
    // columns past width() are zero. With `shift` (stride values, zero past width()), each
    // design column has its shift subtracted.
    void encode(size_t r0, size_t r1, double* out, size_t stride,
                const double* shift = nullptr) const {
        // A feature at a time, a few rows at a time: the rows being filled stay in cache.
        constexpr size_t kRows = 128;
        for (size_t a = r0; a < r1; a += kRows)
            encode_rows(a, std::min(r1, a + kRows), out + (a - r0) * stride, stride, shift);
    }

    // The share of rows in each one-hot column (0 for the other columns), `stride` values.
    std::vector<double> onehot_frequencies(size_t rows, size_t stride) const {
        std::vector<double> f(stride, 0.0);
        for (const Source& s : sources_) {
            if (s.spec->type != ColumnType::categorical) continue;
            std::vector<size_t> counts(s.spec->categories.size(), 0);
            for (size_t i = 0; i < rows; ++i)
                if (int32_t k = category(s, i); k >= 0) ++counts[size_t(k)];
            for (size_t k = 0; k < counts.size(); ++k)
                f[s.offset + k] = double(counts[k]) / double(rows);
        }
        return f;
    }

private:
    struct Source {
        const Column* column = nullptr;
        const FeatureSpec* spec = nullptr;
        size_t offset = 0;         // first design column of the feature
        int32_t impute = -1;       // categorical: index of the imputed category
        std::vector<int32_t> map;  // categorical column: model index per table code
        std::vector<std::pair<double, int32_t>> by_value;  // numeric column: sorted
    };

    void encode_rows(size_t r0, size_t r1, double* out, size_t stride, const double* shift) const {
        if (shift)
            for (size_t i = 0; i < r1 - r0; ++i)
                for (size_t j = 0; j < stride; ++j)
                    out[i * stride + j] = -shift[j];
        else
            std::fill(out, out + (r1 - r0) * stride, 0.0);
        for (const Source& s : sources_) {
            double* o = out + s.offset;
            if (s.spec->type != ColumnType::categorical) {
                const double* v = s.column->numbers.data();
                const double mean = s.spec->mean, scale = s.spec->scale;
                const double sh = shift ? shift[s.offset] : 0.0;
                for (size_t i = r0; i < r1; ++i, o += stride)
                    *o = ((std::isnan(v[i]) ? mean : v[i]) - mean) / scale - sh;
            } else {
                for (size_t i = r0; i < r1; ++i, o += stride)
                    if (int32_t k = category(s, i); k >= 0) o[k] += 1.0;
            }
        }
    }

    static void map_categories(const FeatureSpec& f, const Column& c, Source& s) {
        std::unordered_map<std::string_view, int32_t> index;
        for (size_t k = 0; k < f.categories.size(); ++k)
            index.emplace(f.categories[k], int32_t(k));
        s.impute = index.at(f.impute);
        if (c.type == ColumnType::categorical) {
            s.map.reserve(c.categories.size());
            for (const std::string& v : c.categories) {
                auto it = index.find(v);
                s.map.push_back(it == index.end() ? -1 : it->second);
            }
            return;
        }
        // The table read this column as numbers (it was not read with csv_options_for, so the
        // original text is gone): match categories by value, "02139" = 2139, "True" = true.
        for (size_t k = f.categories.size(); k-- > 0;) {
            double v;
            int b = parse_bool(f.categories[k]);
            if (c.type == ColumnType::boolean && b >= 0)
                s.by_value.emplace_back(double(b), int32_t(k));
            else if (c.type == ColumnType::numeric && parse_number(f.categories[k], v))
                s.by_value.emplace_back(v == 0 ? 0.0 : v, int32_t(k));
        }
        // Stable: for equal values the smallest category (pushed last, so sorted first) wins.
        std::stable_sort(s.by_value.begin(), s.by_value.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
    }

    // The model category of row i of a categorical feature; -1 for an unknown one.
    static int32_t category(const Source& s, size_t i) {
        const Column& c = *s.column;
        if (c.type == ColumnType::categorical) {
            int32_t code = c.codes[i];
            return code < 0 ? s.impute : s.map[size_t(code)];
        }
        double v = c.numbers[i];
        if (std::isnan(v)) return s.impute;
        if (v == 0) v = 0;
        auto it = std::lower_bound(s.by_value.begin(), s.by_value.end(), v,
                                   [](const auto& a, double x) { return a.first < x; });
        return it != s.by_value.end() && it->first == v ? it->second : -1;
    }

    size_t width_;
    std::vector<Source> sources_;
};

struct FreeDeleter {
    void operator()(double* p) const { std::free(p); }
};
using Matrix = std::unique_ptr<double[], FreeDeleter>;

// The whole table as a row-major design matrix, `stride` doubles per row. Large matrices are
// asked to live in transparent huge pages: faulting in hundreds of MB 4 KiB at a time costs
// more than the whole fit on some virtual machines.
Matrix design_matrix(const Encoder& enc, size_t rows, size_t stride, const double* shift,
                     unsigned jobs) {
    constexpr size_t kHuge = size_t(2) << 20;
    const size_t bytes = std::max<size_t>(rows * stride * sizeof(double), 1);
    const bool huge = bytes >= 4 * kHuge;
    const size_t align = huge ? kHuge : 64;
    const size_t alloc = (bytes + align - 1) / align * align;
    Matrix x(static_cast<double*>(std::aligned_alloc(align, alloc)));
    if (!x) throw std::bad_alloc();
    if (huge) ::madvise(x.get(), alloc, MADV_HUGEPAGE);  // a hint; an error is harmless
    parallel_for(blocks_of(rows), jobs, [&](size_t b) {
        size_t r0 = b * kBlockRows, r1 = std::min(rows, r0 + kBlockRows);
        enc.encode(r0, r1, x.get() + r0 * stride, stride, shift);
    });
    return x;
}

// ---------------------------------------------------------------------------------------------
// Targets

struct Target {
    std::vector<std::string> classes;
    std::vector<int32_t> y;  // class index per row
};

Target fit_classes(const Column& c, const std::string& shown) {
    Target t;
    t.y.resize(c.type == ColumnType::categorical ? c.codes.size() : c.numbers.size());
    if (c.type == ColumnType::numeric) {
        // The distinct values, sorted; few in any sensible target, so insertion is cheap.
        std::vector<double> values;
        double last = std::nan("");
        for (double v : c.numbers) {
            if (v == last) continue;
            last = v;
            if (v == 0) v = 0;
            auto it = std::lower_bound(values.begin(), values.end(), v);
            if (it != values.end() && *it == v) continue;
            values.insert(it, v);
            if (values.size() > kMaxClasses) break;
        }
        if (values.size() <= kMaxClasses)
            for (size_t i = 0; i < c.numbers.size(); ++i) {
                double v = c.numbers[i] == 0 ? 0.0 : c.numbers[i];
                t.y[i] =
                    int32_t(std::lower_bound(values.begin(), values.end(), v) - values.begin());
            }
        for (double v : values)
            t.classes.push_back(number_text(v));
    } else if (c.type == ColumnType::boolean) {
        bool seen[2] = {false, false};
        for (double v : c.numbers)
            seen[v != 0] = true;
        for (int b = 0; b < 2; ++b)
            if (seen[b]) t.classes.push_back(b ? "true" : "false");
        for (size_t i = 0; i < c.numbers.size(); ++i)
            t.y[i] = seen[0] && c.numbers[i] != 0 ? 1 : 0;
    } else {
        std::vector<bool> seen(c.categories.size(), false);
        for (int32_t code : c.codes)
            seen[size_t(code)] = true;
        std::vector<size_t> present;
        for (size_t k = 0; k < seen.size(); ++k)
            if (seen[k]) present.push_back(k);
        std::sort(present.begin(), present.end(),
                  [&](size_t a, size_t b) { return c.categories[a] < c.categories[b]; });
        std::vector<int32_t> map(c.categories.size(), -1);
        for (size_t k = 0; k < present.size(); ++k) {
            map[present[k]] = int32_t(k);
            t.classes.push_back(c.categories[present[k]]);
        }
        for (size_t i = 0; i < c.codes.size(); ++i)
            t.y[i] = map[size_t(c.codes[i])];
    }
    if (t.classes.size() < 2)
        throw Error("only one class (" + quote(t.classes.at(0)) + ") in the target column " +
                    quote(c.name) + " of " + shown);
    if (t.classes.size() > kMaxClasses)
        throw Error(
            "the target column " + quote(c.name) + " of " + shown + " has more than " +
            std::to_string(kMaxClasses) + " classes" +
            (c.type == ColumnType::numeric ? "; for a numeric target use linear_regression" : ""));
    return t;
}

// ---------------------------------------------------------------------------------------------
// Logistic regression: loss and gradient

// sum_i w_i * loss_i + (l2 / 2) * ||W||^2 over a row-major design matrix. Parameters:
// [W (rows x d, row-major), b (rows)]; rows = 1 for two classes (the sigmoid of classes[1]),
// k for more (softmax). Each block of kBlockRows rows sums into its own slot; the slots are
// added in block order, so the result does not depend on which thread ran which block.
class LogisticObjective {
public:
    LogisticObjective(const double* x, size_t n, size_t d, size_t stride,
                      const std::vector<int32_t>& y, size_t k,
                      const std::vector<double>& class_weight, double l2, unsigned jobs)
        : x_(x),
          n_(n),
          d_(d),
          stride_(stride),
          y_(y),
          rows_(k == 2 ? 1 : k),
          cw_(class_weight),
          l2_(l2),
          jobs_(jobs),
          slot_(1 + rows_ * (stride + 1)),
          partial_(blocks_of(n) * slot_),
          w_(rows_ * stride, 0.0) {}

    size_t size() const { return rows_ * (d_ + 1); }
    size_t coef_rows() const { return rows_; }

    double operator()(const std::vector<double>& theta, std::vector<double>& grad) {
        for (size_t c = 0; c < rows_; ++c)
            std::copy(theta.begin() + ptrdiff_t(c * d_), theta.begin() + ptrdiff_t((c + 1) * d_),
                      w_.begin() + ptrdiff_t(c * stride_));
        const double* b = theta.data() + rows_ * d_;
        const size_t nb = blocks_of(n_);
        parallel_for(nb, jobs_, [&](size_t blk) {
            size_t r0 = blk * kBlockRows, r1 = std::min(n_, r0 + kBlockRows);
            double* out = partial_.data() + blk * slot_;
            std::fill(out, out + slot_, 0.0);
            if (rows_ == 1)
                binary_block(r0, r1, b[0], out);
            else
                softmax_block(r0, r1, b, out);
        });
        double loss = 0;
        std::vector<double> g(slot_ - 1, 0.0);
        for (size_t blk = 0; blk < nb; ++blk) {
            const double* p = partial_.data() + blk * slot_;
            loss += p[0];
            for (size_t j = 0; j + 1 < slot_; ++j)
                g[j] += p[1 + j];
        }
        grad.assign(size(), 0.0);
        double penalty = 0;
        for (size_t c = 0; c < rows_; ++c) {
            for (size_t j = 0; j < d_; ++j) {
                double wj = theta[c * d_ + j];
                penalty += wj * wj;
                grad[c * d_ + j] = g[c * stride_ + j] + l2_ * wj;
            }
            grad[rows_ * d_ + c] = g[rows_ * stride_ + c];
        }
        return loss + 0.5 * l2_ * penalty;
    }

private:
    // out = [loss, dW (stride), db]
    // Cloned for AVX2+FMA (picked at run time on CPUs that have it) and for the baseline: the
    // dot products and updates are most of a fit.
    __attribute__((target_clones("arch=x86-64-v3", "default"))) void binary_block(
        size_t r0, size_t r1, double b, double* out) const {
        const double* w = w_.data();
        double* gw = out + 1;
        double loss = 0, gb = 0;
        for (size_t i = r0; i < r1; ++i) {
            const double* xi = x_ + i * stride_;
            const double z = b + dot4(xi, w, stride_);
            const double yi = y_[i];
            const double wi = cw_[size_t(y_[i])];
            // log(1 + e^z) - y z, without overflow: log(1 + e^-|z|) + max(z, 0) - y z. log
            // rather than log1p, which is slower in glibc: for tiny e^-|z| the absolute error
            // stays below 1.2e-16 per row, far under the rounding of the sum.
            const double e = std::exp(-std::abs(z));
            loss += wi * (std::log(1.0 + e) + (z > 0 ? z : 0.0) - yi * z);
            const double p = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            const double r = wi * (p - yi);
            gb += r;
            axpy4(gw, r, xi, stride_);
        }
        out[0] = loss;
        out[1 + stride_] = gb;
    }

    // out = [loss, dW (rows x stride), db (rows)]
    __attribute__((target_clones("arch=x86-64-v3", "default"))) void softmax_block(
        size_t r0, size_t r1, const double* b, double* out) const {
        const size_t k = rows_;
        std::vector<double> z(k), e(k);
        double* gw = out + 1;
        double* gb = out + 1 + k * stride_;
        double loss = 0;
        for (size_t i = r0; i < r1; ++i) {
            const double* xi = x_ + i * stride_;
            double m = -std::numeric_limits<double>::infinity();
            for (size_t c = 0; c < k; ++c) {
                z[c] = b[c] + dot4(xi, w_.data() + c * stride_, stride_);
                m = std::max(m, z[c]);
            }
            const size_t yi = size_t(y_[i]);
            const double wi = cw_[yi];
            double s = 0;
            for (size_t c = 0; c < k; ++c)
                s += e[c] = std::exp(z[c] - m);
            loss += wi * (m + std::log(s) - z[yi]);
            for (size_t c = 0; c < k; ++c) {
                double r = wi * (e[c] / s - (c == yi ? 1.0 : 0.0));
                gb[c] += r;
                axpy4(gw + c * stride_, r, xi, stride_);
            }
        }
        out[0] = loss;
    }

    const double* x_;
    size_t n_, d_, stride_;
    const std::vector<int32_t>& y_;
    size_t rows_;
    std::vector<double> cw_;
    double l2_;
    unsigned jobs_;
    size_t slot_;
    std::vector<double> partial_;
    std::vector<double> w_;  // the coefficients, rows padded to `stride_`
};

// ---------------------------------------------------------------------------------------------
// L-BFGS

struct LbfgsResult {
    int iterations = 0;
    bool converged = false;
    double f = 0;
    double gmax = 0;
};

// Line search for the strong Wolfe conditions (Nocedal & Wright, algorithms 3.5 and 3.6, with
// safeguarded cubic interpolation). Near the optimum the decrease of f drowns in its rounding
// error, so a step whose f is within `noise` of f0 also counts as a sufficient decrease when
// its slope shows the decrease (the approximate Wolfe condition of Hager and Zhang).
template <class Fn>
class LineSearch {
public:
    LineSearch(Fn& fg, const std::vector<double>& x, double f0, const std::vector<double>& d,
               double dg0)
        : fg_(fg), x_(x), d_(d), f0_(f0), dg0_(dg0), noise_(1e-10 * std::max(1.0, std::abs(f0))) {}

    // On success xn, gn and fn hold the accepted point.
    bool run(double a0, std::vector<double>& xn, std::vector<double>& gn, double& fn) {
        xn_ = &xn;
        gn_ = &gn;
        Point lo{0, f0_, dg0_}, prev = lo;
        double a = a0;
        for (int k = 0; k < 30; ++k) {
            Point p = eval(a);
            if (!sufficient(p) || (k > 0 && p.f > prev.f + noise_)) return zoom(prev, p, fn);
            if (curvature(p)) return accept(p, fn);
            if (p.dg >= 0) return zoom(p, prev, fn);
            prev = p;
            a *= 4;
        }
        return false;
    }

private:
    struct Point {
        double a, f, dg;
    };

    Point eval(double a) {
        std::vector<double>& xn = *xn_;
        xn.resize(x_.size());
        for (size_t i = 0; i < x_.size(); ++i)
            xn[i] = x_[i] + a * d_[i];
        double f = fg_(xn, *gn_);
        double dg = dot(*gn_, d_);
        if (!std::isfinite(f) || !std::isfinite(dg))
            return {a, std::numeric_limits<double>::infinity(), 0};
        last_ = a;
        return {a, f, dg};
    }

    bool sufficient(const Point& p) const {
        constexpr double c1 = 1e-4;
        return p.f <= f0_ + c1 * p.a * dg0_ || (p.f <= f0_ + noise_ && p.dg <= (2 * c1 - 1) * dg0_);
    }
    bool curvature(const Point& p) const { return std::abs(p.dg) <= -0.9 * dg0_; }

    bool accept(const Point& p, double& fn) {
        if (last_ != p.a) eval(p.a);  // xn/gn hold the last evaluated point
        fn = p.f;
        return true;
    }

    // lo: the best point so far with sufficient decrease; the minimiser lies between lo and hi.
    bool zoom(Point lo, Point hi, double& fn) {
        for (int k = 0; k < 40; ++k) {
            double w = hi.a - lo.a;
            if (std::abs(w) <= 1e-15 * std::max(std::abs(lo.a), std::abs(hi.a))) return false;
            double a = interpolate(lo, hi);
            double inner = 0.1 * std::abs(w), left = std::min(lo.a, hi.a) + inner,
                   right = std::max(lo.a, hi.a) - inner;
            if (!(a >= left && a <= right)) a = lo.a + 0.5 * w;
            Point p = eval(a);
            if (!sufficient(p) || p.f > lo.f + noise_) {
                hi = p;
            } else {
                if (curvature(p)) return accept(p, fn);
                if (p.dg * (hi.a - lo.a) >= 0) hi = lo;
                lo = p;
            }
        }
        return false;
    }

    // Minimiser of the cubic through both points' values and slopes; NaN when there is none.
    static double interpolate(const Point& p, const Point& q) {
        if (!std::isfinite(q.f) || !std::isfinite(p.f)) return std::nan("");
        double d1 = p.dg + q.dg - 3 * (p.f - q.f) / (p.a - q.a);
        double disc = d1 * d1 - p.dg * q.dg;
        if (disc < 0) return std::nan("");
        double d2 = std::copysign(std::sqrt(disc), q.a - p.a);
        return q.a - (q.a - p.a) * (q.dg + d2 - d1) / (q.dg - p.dg + 2 * d2);
    }

    Fn& fg_;
    const std::vector<double>& x_;
    const std::vector<double>& d_;
    double f0_, dg0_, noise_;
    std::vector<double>* xn_ = nullptr;
    std::vector<double>* gn_ = nullptr;
    double last_ = std::nan("");
};

// Minimises fg (returns f, fills the gradient) from x. Stops when gmax(g) <= tol * max(1, |f|)
// (converged), after max_iter iterations, or when no step along steepest descent makes
// progress (the gradient is below what rounding lets f resolve). gmax is max |g| in the
// coordinates the caller reports, which need not be the ones optimised.
template <class Fn, class Gmax>
LbfgsResult minimize_lbfgs(Fn& fg, std::vector<double>& x, int max_iter, double tol,
                           const Gmax& gmax) {
    constexpr size_t kMemory = 10;
    const size_t n = x.size();
    std::vector<double> g(n), d(n), xn(n), gn(n), alpha(kMemory);
    std::vector<std::vector<double>> s(kMemory, std::vector<double>(n)),
        y(kMemory, std::vector<double>(n));
    std::vector<double> rho(kMemory);
    size_t head = 0, count = 0;  // ring buffer of the last `count` pairs; head = next slot

    LbfgsResult r;
    r.f = fg(x, g);
    r.gmax = gmax(g);
    auto done = [&] { return r.gmax <= tol * std::max(1.0, std::abs(r.f)); };
    if (done()) {
        r.converged = true;
        return r;
    }
    while (r.iterations < max_iter) {
        // Two-loop recursion: d = -H g.
        d = g;
        for (size_t i = 0; i < count; ++i) {
            size_t j = (head + kMemory - 1 - i) % kMemory;
            alpha[j] = rho[j] * dot(s[j], d);
            for (size_t t = 0; t < n; ++t)
                d[t] -= alpha[j] * y[j][t];
        }
        if (count > 0) {
            size_t j = (head + kMemory - 1) % kMemory;
            double gamma = dot(s[j], y[j]) / dot(y[j], y[j]);
            for (double& v : d)
                v *= gamma;
        }
        for (size_t i = count; i-- > 0;) {
            size_t j = (head + kMemory - 1 - i) % kMemory;
            double beta = rho[j] * dot(y[j], d);
            for (size_t t = 0; t < n; ++t)
                d[t] += (alpha[j] - beta) * s[j][t];
        }
        for (double& v : d)
            v = -v;
        double dg = dot(d, g);
        double a0 = 1;
        if (count == 0 || !(dg < 0)) {
            count = 0;
            for (size_t t = 0; t < n; ++t)
                d[t] = -g[t];
            dg = -dot(g, g);
            a0 = 1 / std::sqrt(-dg);  // a first step of length 1
        }
        LineSearch<Fn> search(fg, x, r.f, d, dg);
        double fn;
        if (!search.run(a0, xn, gn, fn)) {
            if (count == 0) break;  // not even steepest descent makes progress
            count = 0;              // the quasi-Newton model misleads: start it again
            continue;
        }
        for (size_t t = 0; t < n; ++t) {
            s[head][t] = xn[t] - x[t];
            y[head][t] = gn[t] - g[t];
        }
        double sy = dot(s[head], y[head]);
        if (sy > 1e-12 * dot(y[head], y[head])) {
            rho[head] = 1 / sy;
            head = (head + 1) % kMemory;
            count = std::min(count + 1, kMemory);
        }
        x.swap(xn);
        g.swap(gn);
        r.f = fn;
        r.gmax = gmax(g);
        ++r.iterations;
        if (done()) {
            r.converged = true;
            break;
        }
    }
    return r;
}

// ---------------------------------------------------------------------------------------------
// Fitting

void fit_logistic(Model& m, const Table& table, const Column& target, const TrainOptions& o,
                  const std::string& shown, TrainReport& rep) {
    Target t = fit_classes(target, shown);
    const size_t n = table.rows, k = t.classes.size();
    std::vector<double> counts(k, 0.0), cw(k, 1.0);
    for (int32_t c : t.y)
        counts[size_t(c)] += 1;
    if (o.balanced)
        for (size_t c = 0; c < k; ++c)
            cw[c] = double(n) / (double(k) * counts[c]);
    m.classes = std::move(t.classes);
    Encoder enc(m, table, shown);
    const size_t d = enc.width(), stride = padded(d);
    // The optimiser works on centred one-hot columns (intercept b' = b + shift . w). The
    // optimum is the same, but without centring, moving a whole one-hot block against the
    // intercept changes only the penalty: a direction with curvature l2 next to ones of order
    // n that costs L-BFGS about twice the iterations.
    const std::vector<double> shift = enc.onehot_frequencies(n, stride);
    auto x = design_matrix(enc, n, stride, shift.data(), o.jobs);
    LogisticObjective objective(x.get(), n, d, stride, t.y, k, cw, o.l2, o.jobs);

    // Start from W = 0 and the intercepts that are optimal for it (with centred columns): the
    // log-odds of the weighted class shares. For softmax they are shifted to sum to zero,
    // where sklearn's solution is too (the sum of the intercepts changes no probability, and
    // from zero every gradient keeps it there).
    std::vector<double> theta(objective.size(), 0.0);
    std::vector<double> log_mass(k);
    for (size_t c = 0; c < k; ++c)
        log_mass[c] = std::log(counts[c] * cw[c]);
    if (k == 2) {
        theta[d] = log_mass[1] - log_mass[0];
    } else {
        double mean = 0;
        for (double v : log_mass)
            mean += v / double(k);
        for (size_t c = 0; c < k; ++c)
            theta[k * d + c] = log_mass[c] - mean;
    }

    const size_t rows = objective.coef_rows();
    // The gradient in the model's coordinates: dW = dW' + shift * db.
    auto gmax = [&](const std::vector<double>& g) {
        double mx = 0;
        for (size_t c = 0; c < rows; ++c) {
            const double gb = g[rows * d + c];
            mx = std::max(mx, std::abs(gb));
            for (size_t j = 0; j < d; ++j)
                mx = std::max(mx, std::abs(g[c * d + j] + shift[j] * gb));
        }
        return mx;
    };
    LbfgsResult r = minimize_lbfgs(objective, theta, o.max_iter, o.tol, gmax);
    m.coef.assign(rows, {});
    for (size_t c = 0; c < rows; ++c)
        m.coef[c].assign(theta.begin() + ptrdiff_t(c * d), theta.begin() + ptrdiff_t((c + 1) * d));
    m.intercept.assign(theta.begin() + ptrdiff_t(rows * d), theta.end());
    for (size_t c = 0; c < rows; ++c)
        for (size_t j = 0; j < d; ++j)
            m.intercept[c] -= shift[j] * m.coef[c][j];
    rep.iterations = r.iterations;
    rep.converged = r.converged;
    rep.loss = r.f;
    rep.gradient_norm = r.gmax;
}

// In place: A = L L^T (lower triangle). A column whose pivot vanishes (relative to its
// diagonal: it is a linear combination of the columns before it) is dropped: its coefficient
// will be 0, the least-squares solution that uses only the columns before it (its fitted values
// are those of every least-squares solution). Returns the dropped columns.
std::vector<size_t> cholesky(std::vector<double>& a, size_t d) {
    std::vector<size_t> dropped;
    for (size_t j = 0; j < d; ++j) {
        double diag = a[j * d + j];
        double s = diag;
        for (size_t k = 0; k < j; ++k)
            s -= a[j * d + k] * a[j * d + k];
        if (!(s > 1e-10 * diag)) {
            dropped.push_back(j);
            for (size_t k = 0; k < j; ++k)
                a[j * d + k] = 0;
            a[j * d + j] = 1;
            for (size_t i = j + 1; i < d; ++i)
                a[i * d + j] = 0;
            continue;
        }
        double l = std::sqrt(s);
        a[j * d + j] = l;
        for (size_t i = j + 1; i < d; ++i) {
            double v = a[i * d + j];
            for (size_t k = 0; k < j; ++k)
                v -= a[i * d + k] * a[j * d + k];
            a[i * d + j] = v / l;
        }
    }
    return dropped;
}

void fit_ridge(Model& m, const Table& table, const Column& target, const TrainOptions& o,
               const std::string& shown, TrainReport& rep) {
    if (target.type != ColumnType::numeric)
        throw Error("the target column " + quote(target.name) + " of " + shown + " is " +
                    to_string(target.type) + "; linear_regression needs a numeric target");
    const Numbers& yv = target.numbers;
    Encoder enc(m, table, shown);
    const size_t n = table.rows, d = enc.width(), nb = blocks_of(n);
    // Each block works on a column-major copy of its rows (stride kBlockRows), so the sums
    // over rows below are contiguous dot products. Three passes, nothing n x d kept.
    auto for_blocks = [&](size_t slot, auto&& fn) {
        std::vector<double> partial(nb * slot, 0.0);
        parallel_for(nb, o.jobs, [&](size_t b) {
            size_t r0 = b * kBlockRows, r1 = std::min(n, r0 + kBlockRows);
            std::vector<double> rowmajor((r1 - r0) * d), cols(d * kBlockRows, 0.0);
            enc.encode(r0, r1, rowmajor.data(), d);
            for (size_t i = 0; i < r1 - r0; ++i)
                for (size_t j = 0; j < d; ++j)
                    cols[j * kBlockRows + i] = rowmajor[i * d + j];
            fn(r0, r1, cols, partial.data() + b * slot);
        });
        std::vector<double> total(slot, 0.0);
        for (size_t b = 0; b < nb; ++b)
            for (size_t j = 0; j < slot; ++j)
                total[j] += partial[b * slot + j];
        return total;
    };
    // Pass 1: column means and the mean of y.
    std::vector<double> mean =
        for_blocks(d + 1, [&](size_t r0, size_t r1, const std::vector<double>& cols, double* out) {
            for (size_t j = 0; j < d; ++j)
                for (size_t i = 0; i < r1 - r0; ++i)
                    out[j] += cols[j * kBlockRows + i];
            for (size_t i = r0; i < r1; ++i)
                out[d] += yv[i];
        });
    for (double& v : mean)
        v /= double(n);
    const double ybar = mean[d];
    // Pass 2: the centred Gram matrix (lower triangle) and X^T y.
    std::vector<double> gram = for_blocks(
        d * d + d, [&](size_t r0, size_t r1, const std::vector<double>& cols, double* out) {
            const size_t rows = r1 - r0, len = padded(rows);
            std::vector<double> c(d * len, 0.0), yc(len, 0.0);
            for (size_t j = 0; j < d; ++j)
                for (size_t i = 0; i < rows; ++i)
                    c[j * len + i] = cols[j * kBlockRows + i] - mean[j];
            for (size_t i = 0; i < rows; ++i)
                yc[i] = yv[r0 + i] - ybar;
            for (size_t j = 0; j < d; ++j) {
                for (size_t l = 0; l <= j; ++l)
                    out[j * d + l] = dot4(c.data() + j * len, c.data() + l * len, len);
                out[d * d + j] = dot4(c.data() + j * len, yc.data(), len);
            }
        });
    std::vector<double> a(gram.begin(), gram.begin() + ptrdiff_t(d * d));
    for (size_t j = 0; j < d; ++j)
        a[j * d + j] += o.l2;
    // Only possible with l2 = 0 (ordinary least squares): the one-hot block of a categorical
    // column always sums to 1, so its last column depends on the others and the intercept.
    const std::vector<size_t> dropped = cholesky(a, d);
    // Solve L L^T w = X^T y.
    std::vector<double> w(gram.begin() + ptrdiff_t(d * d), gram.end());
    for (size_t j : dropped)
        w[j] = 0;
    for (size_t j = 0; j < d; ++j) {
        for (size_t k = 0; k < j; ++k)
            w[j] -= a[j * d + k] * w[k];
        w[j] /= a[j * d + j];
    }
    for (size_t j = d; j-- > 0;) {
        for (size_t k = j + 1; k < d; ++k)
            w[j] -= a[k * d + j] * w[k];
        w[j] /= a[j * d + j];
    }
    double b = ybar;
    for (size_t j = 0; j < d; ++j)
        b -= mean[j] * w[j];
    // Pass 3: the objective and its gradient at the solution, for the report.
    std::vector<double> res =
        for_blocks(d + 2, [&](size_t r0, size_t r1, const std::vector<double>& cols, double* out) {
            std::vector<double> resid(r1 - r0);
            for (size_t i = 0; i < r1 - r0; ++i)
                resid[i] = yv[r0 + i] - b;
            for (size_t j = 0; j < d; ++j)
                for (size_t i = 0; i < r1 - r0; ++i)
                    resid[i] -= cols[j * kBlockRows + i] * w[j];
            for (size_t i = 0; i < r1 - r0; ++i) {
                out[0] += resid[i] * resid[i];
                out[1] += resid[i];
            }
            for (size_t j = 0; j < d; ++j)
                for (size_t i = 0; i < r1 - r0; ++i)
                    out[2 + j] += cols[j * kBlockRows + i] * resid[i];
        });
    double penalty = 0, gmax = std::abs(2 * res[1]);
    for (size_t j = 0; j < d; ++j) {
        penalty += w[j] * w[j];
        gmax = std::max(gmax, std::abs(-2 * res[2 + j] + 2 * o.l2 * w[j]));
    }
    m.coef = {w};
    m.intercept = {b};
    rep.iterations = 0;
    rep.converged = true;
    rep.loss = res[0] + o.l2 * penalty;
    rep.gradient_norm = gmax;
}

json or_null(const std::string& s) {
    return s.empty() ? json(nullptr) : json(s);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

size_t Model::design_width() const {
    size_t w = 0;
    for (const FeatureSpec& f : features)
        w += f.type == ColumnType::categorical ? f.categories.size() : 1;
    return w;
}

std::vector<std::string> Model::design_columns() const {
    std::vector<std::string> out;
    for (const FeatureSpec& f : features)
        if (f.type != ColumnType::categorical) out.push_back(f.name);
    for (const FeatureSpec& f : features)
        if (f.type == ColumnType::categorical)
            for (const std::string& c : f.categories)
                out.push_back(f.name + "=" + c);
    return out;
}

Model train(const Table& table, const TrainOptions& o, const std::string& shown,
            TrainReport* report) {
    const bool logistic = o.learner == "logistic_regression";
    if (!logistic && o.learner != "linear_regression")
        throw Error("unknown learner " + quote(o.learner) +
                    " (expected 'logistic_regression' or 'linear_regression')");
    if (!std::isfinite(o.l2) || (logistic ? o.l2 <= 0 : o.l2 < 0))
        throw Error("invalid l2 " + number_text(o.l2) + " for " + o.learner + ": must be " +
                    (logistic ? "> 0" : ">= 0"));
    if (logistic && o.max_iter < 1)
        throw Error("invalid max_iter " + std::to_string(o.max_iter) + ": must be at least 1");
    if (logistic && !(o.tol >= 0 && std::isfinite(o.tol)))
        throw Error("invalid tol " + number_text(o.tol) + ": must be >= 0");
    if (!logistic && o.balanced)
        throw Error("class_weight: balanced applies only to logistic_regression");
    if (o.target.empty()) throw Error("no target column given for " + o.learner);
    const Column* target = table.find(o.target);
    if (!target) throw Error("no target column " + quote(o.target) + " in " + shown);

    std::vector<const Column*> columns;
    if (o.features.empty()) {
        for (const Column& c : table.columns)
            if (c.name != o.target) columns.push_back(&c);
        if (columns.empty()) throw Error("no feature columns in " + shown);
    } else {
        for (const std::string& name : o.features) {
            if (name == o.target)
                throw Error("the target column " + quote(name) + " is also listed as a feature");
            const Column* c = table.find(name);
            if (!c) throw Error("no feature column " + quote(name) + " in " + shown);
            if (std::find(columns.begin(), columns.end(), c) != columns.end())
                throw Error("feature " + quote(name) + " is listed twice");
            columns.push_back(c);
        }
    }
    if (table.rows == 0) throw Error(shown + " has no rows");
    if (target->missing > 0) {
        size_t first = 0;
        if (target->type == ColumnType::categorical)
            while (target->codes[first] >= 0)
                ++first;
        else
            while (!std::isnan(target->numbers[first]))
                ++first;
        throw Error(std::to_string(target->missing) + " missing value" +
                    (target->missing == 1 ? "" : "s") + " in the target column " + quote(o.target) +
                    " of " + shown + " (the first in " + data_row(first) + ")");
    }

    Model m;
    m.learner = o.learner;
    m.target = o.target;
    m.target_type = logistic ? target->type : ColumnType::numeric;
    for (const Column* c : columns)
        m.features.push_back(fit_feature(*c, table.rows, shown));

    TrainReport rep;
    if (logistic)
        fit_logistic(m, table, *target, o, shown, rep);
    else
        fit_ridge(m, table, *target, o, shown, rep);

    m.params = {{"l2", o.l2}, {"seed", o.seed}};
    if (logistic) {
        m.params["max_iter"] = o.max_iter;
        m.params["tol"] = o.tol;
        m.params["class_weight"] = o.balanced ? json("balanced") : json(nullptr);
    }
    m.training = {{"data", or_null(o.data_path)},
                  {"data_object", or_null(o.data_object)},
                  {"rows", table.rows},
                  {"solver", logistic ? "lbfgs" : "cholesky"},
                  {"iterations", rep.iterations},
                  {"converged", rep.converged},
                  {"loss", rep.loss},
                  {"gradient_norm", rep.gradient_norm}};
    if (report) *report = rep;
    return m;
}

// ---------------------------------------------------------------------------------------------
// Model file

json model_to_json(const Model& m) {
    json features = json::array();
    for (const FeatureSpec& f : m.features) {
        json j = {{"name", f.name}, {"type", to_string(f.type)}};
        if (f.type == ColumnType::categorical) {
            j["categories"] = f.categories;
            j["impute"] = f.impute;
        } else {
            j["mean"] = f.mean;
            j["scale"] = f.scale;
        }
        features.push_back(std::move(j));
    }
    json doc = {{"format", kFormatName},
                {"format_version", kModelFormatVersion},
                {"learner", m.learner},
                {"target", m.target},
                {"target_type", to_string(m.target_type)},
                {"features", std::move(features)},
                {"design_columns", m.design_columns()},
                {"coefficients", m.coef},
                {"intercepts", m.intercept},
                {"params", m.params.is_null() ? json::object() : m.params},
                {"training", m.training.is_null() ? json::object() : m.training}};
    if (m.is_classifier()) doc["classes"] = m.classes;
    return doc;
}

namespace {

// Reads a model document, naming the offending field ("features[2].mean") in its errors.
class ModelReader {
public:
    explicit ModelReader(const std::string& shown) : shown_(shown) {}

    [[noreturn]] void fail(const std::string& why) const {
        throw Error(shown_ + " is not a valid mlo model: " + why);
    }

    const json& field(const json& obj, const char* key, const std::string& where) const {
        auto it = obj.find(key);
        if (it == obj.end()) fail("missing field " + quote(where + key));
        return *it;
    }
    std::string string(const json& obj, const char* key, const std::string& where) const {
        const json& v = field(obj, key, where);
        if (!v.is_string()) fail("field " + quote(where + key) + " is not a string");
        return v.get<std::string>();
    }
    double number(const json& v, const std::string& name) const {
        if (!v.is_number() || !std::isfinite(v.get<double>()))
            fail("field " + quote(name) + " is not a finite number");
        return v.get<double>();
    }
    std::vector<double> numbers(const json& v, const std::string& name, size_t size) const {
        if (!v.is_array()) fail("field " + quote(name) + " is not an array");
        if (v.size() != size)
            fail("field " + quote(name) + " has " + std::to_string(v.size()) + " values, " +
                 "expected " + std::to_string(size));
        std::vector<double> out;
        out.reserve(size);
        for (size_t i = 0; i < v.size(); ++i)
            out.push_back(number(v[i], name + "[" + std::to_string(i) + "]"));
        return out;
    }
    std::vector<std::string> unique_strings(const json& v, const std::string& name) const {
        if (!v.is_array()) fail("field " + quote(name) + " is not an array");
        std::vector<std::string> out;
        for (size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_string())
                fail("field " + quote(name + "[" + std::to_string(i) + "]") + " is not a string");
            out.push_back(v[i].get<std::string>());
        }
        std::vector<std::string> sorted = out;
        std::sort(sorted.begin(), sorted.end());
        auto dup = std::adjacent_find(sorted.begin(), sorted.end());
        if (dup != sorted.end()) fail("field " + quote(name) + " lists " + quote(*dup) + " twice");
        return out;
    }

private:
    const std::string& shown_;
};

}  // namespace

Model model_from_json(const json& doc, const std::string& shown) {
    ModelReader r(shown);
    if (!doc.is_object() || doc.find("format") == doc.end() || doc["format"] != kFormatName)
        throw Error(shown + " is not an mlo model (no \"format\": \"mlo-model\")");
    const json& version = r.field(doc, "format_version", "");
    if (!version.is_number_integer()) r.fail("field 'format_version' is not an integer");
    if (version.get<int64_t>() > kModelFormatVersion)
        throw Error(shown + " was written by a newer mlo (model format " +
                    std::to_string(version.get<int64_t>()) + "; this mlo reads up to " +
                    std::to_string(kModelFormatVersion) + ")");
    if (version.get<int64_t>() < 1)
        r.fail("unknown format_version " + std::to_string(version.get<int64_t>()));

    Model m;
    m.format_version = int(version.get<int64_t>());
    m.learner = r.string(doc, "learner", "");
    if (m.learner != "logistic_regression" && m.learner != "linear_regression")
        r.fail("unknown learner " + quote(m.learner));
    m.target = r.string(doc, "target", "");
    if (m.target.empty()) r.fail("field 'target' is empty");
    auto target_type = parse_type(r.string(doc, "target_type", ""));
    if (!target_type) r.fail("field 'target_type' is not numeric, boolean or categorical");
    m.target_type = *target_type;
    if (m.is_classifier()) {
        m.classes = r.unique_strings(r.field(doc, "classes", ""), "classes");
        if (m.classes.size() < 2) r.fail("field 'classes' has fewer than two classes");
    } else if (m.target_type != ColumnType::numeric) {
        r.fail("a linear_regression model needs a numeric target");
    } else if (doc.contains("classes")) {
        r.fail("a linear_regression model has no classes");
    }

    const json& features = r.field(doc, "features", "");
    if (!features.is_array() || features.empty())
        r.fail("field 'features' is not a non-empty array");
    std::vector<std::string> names;
    for (size_t i = 0; i < features.size(); ++i) {
        const json& fj = features[i];
        const std::string where = "features[" + std::to_string(i) + "].";
        if (!fj.is_object())
            r.fail("field " + quote(where.substr(0, where.size() - 1)) + " is not an object");
        FeatureSpec f;
        f.name = r.string(fj, "name", where);
        if (f.name.empty()) r.fail("field " + quote(where + "name") + " is empty");
        if (f.name == m.target) r.fail("the target " + quote(f.name) + " is also a feature");
        if (std::find(names.begin(), names.end(), f.name) != names.end())
            r.fail("feature " + quote(f.name) + " is listed twice");
        names.push_back(f.name);
        auto type = parse_type(r.string(fj, "type", where));
        if (!type)
            r.fail("field " + quote(where + "type") + " is not numeric, boolean or categorical");
        f.type = *type;
        if (f.type == ColumnType::categorical) {
            f.categories = r.unique_strings(r.field(fj, "categories", where), where + "categories");
            if (f.categories.empty()) r.fail("field " + quote(where + "categories") + " is empty");
            f.impute = r.string(fj, "impute", where);
            if (std::find(f.categories.begin(), f.categories.end(), f.impute) == f.categories.end())
                r.fail("field " + quote(where + "impute") + " is not one of the categories");
        } else {
            f.mean = r.number(r.field(fj, "mean", where), where + "mean");
            f.scale = r.number(r.field(fj, "scale", where), where + "scale");
            if (!(f.scale > 0)) r.fail("field " + quote(where + "scale") + " is not positive");
        }
        m.features.push_back(std::move(f));
    }

    const size_t rows = m.is_classifier() && m.classes.size() > 2 ? m.classes.size() : 1;
    const size_t width = m.design_width();
    const json& coef = r.field(doc, "coefficients", "");
    if (!coef.is_array() || coef.size() != rows)
        r.fail("field 'coefficients' is not an array of " + std::to_string(rows) + " row" +
               (rows == 1 ? "" : "s"));
    for (size_t c = 0; c < rows; ++c)
        m.coef.push_back(r.numbers(coef[c], "coefficients[" + std::to_string(c) + "]", width));
    m.intercept = r.numbers(r.field(doc, "intercepts", ""), "intercepts", rows);
    for (const char* key : {"params", "training"}) {
        auto it = doc.find(key);
        if (it == doc.end()) continue;
        if (!it->is_object()) r.fail("field " + quote(key) + " is not an object");
        (std::string_view(key) == "params" ? m.params : m.training) = *it;
    }
    if (m.params.is_null()) m.params = json::object();
    if (m.training.is_null()) m.training = json::object();
    return m;
}

Model load_model(const fs::path& file, const std::string& shown) {
    // Open once here for a message that names `shown`; read_file names the path itself.
    if (int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC); fd < 0)
        throw Error("cannot read model " + shown + ": " + std::strerror(errno));
    else
        ::close(fd);
    std::string text = read_file(file);
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::parse_error& e) {
        std::string why = e.what();
        // "[json.exception.parse_error.101] parse error at line 1, ..." -> "line 1, ..."
        if (auto at = why.find(" at "); at != std::string::npos) why = why.substr(at + 4);
        throw Error(shown + " is not an mlo model: not valid JSON (" + why + ")");
    }
    return model_from_json(doc, shown);
}

CsvOptions csv_options_for(const Model& m) {
    CsvOptions o;
    // Missing columns are predict()'s and target_classes()' to report, with the model's view.
    o.force_if_present = true;
    for (const FeatureSpec& f : m.features)
        if (f.type == ColumnType::categorical) o.force_categorical.push_back(f.name);
    if (m.is_classifier() && m.target_type == ColumnType::categorical)
        o.force_categorical.push_back(m.target);
    return o;
}

// ---------------------------------------------------------------------------------------------
// Scoring

Predictions predict(const Model& m, const Table& table, const std::string& shown, unsigned jobs) {
    Encoder enc(m, table, shown);
    const size_t n = table.rows, d = enc.width(), stride = padded(d);
    const size_t rows = m.coef.size();
    if (rows == 0 || m.intercept.size() != rows) throw Error("the model has no coefficients");
    std::vector<double> w(rows * stride, 0.0);
    for (size_t c = 0; c < rows; ++c) {
        if (m.coef[c].size() != d) throw Error("the model's coefficients do not fit its features");
        std::copy(m.coef[c].begin(), m.coef[c].end(), w.begin() + ptrdiff_t(c * stride));
    }
    const size_t k = m.is_classifier() ? m.classes.size() : 0;
    if (m.is_classifier() && (k < 2 || rows != (k == 2 ? 1 : k)))
        throw Error("the model's coefficients do not fit its classes");

    Predictions p;
    p.rows = n;
    if (k) {
        p.labels.resize(n);
        p.proba.resize(n * k);
    } else {
        p.values.resize(n);
    }
    parallel_for(blocks_of(n), jobs, [&](size_t b) {
        const size_t r0 = b * kBlockRows, r1 = std::min(n, r0 + kBlockRows);
        auto x = std::make_unique_for_overwrite<double[]>((r1 - r0) * stride);
        enc.encode(r0, r1, x.get(), stride);
        std::vector<double> z(rows);
        for (size_t i = r0; i < r1; ++i) {
            const double* xi = x.get() + (i - r0) * stride;
            for (size_t c = 0; c < rows; ++c)
                z[c] = m.intercept[c] + dot4(xi, w.data() + c * stride, stride);
            if (k == 0) {
                p.values[i] = z[0];
                continue;
            }
            double* pr = p.proba.data() + i * k;
            if (k == 2) {
                const double e = std::exp(-std::abs(z[0]));
                pr[1] = z[0] >= 0 ? 1 / (1 + e) : e / (1 + e);
                pr[0] = 1 - pr[1];
            } else {
                double mx = *std::max_element(z.begin(), z.end()), s = 0;
                for (size_t c = 0; c < k; ++c)
                    s += pr[c] = std::exp(z[c] - mx);
                for (size_t c = 0; c < k; ++c)
                    pr[c] /= s;
            }
            p.labels[i] = int(std::max_element(pr, pr + k) - pr);
        }
    });
    return p;
}

namespace {

const Column& target_column(const Model& m, const Table& table, const std::string& shown) {
    const Column* c = table.find(m.target);
    if (!c) throw Error("no target column " + quote(m.target) + " in " + shown);
    if (c->missing > 0)
        for (size_t i = 0; i < table.rows; ++i)
            if (c->type == ColumnType::categorical ? c->codes[i] < 0 : std::isnan(c->numbers[i]))
                throw Error("missing value in the target column " + quote(m.target) + " of " +
                            shown + " (" + data_row(i) + ")");
    return *c;
}

}  // namespace

std::vector<int> target_classes(const Model& m, const Table& table, const std::string& shown) {
    if (!m.is_classifier()) throw Error("a " + m.learner + " model has no classes");
    const Column& c = target_column(m, table, shown);
    auto unknown = [&](const std::string& label) {
        return Error("label " + quote(label) + " in column " + quote(m.target) + " of " + shown +
                     " is not a class of the model");
    };
    std::unordered_map<std::string_view, int> by_name;
    for (size_t k = 0; k < m.classes.size(); ++k)
        by_name.emplace(m.classes[k], int(k));
    // Numeric targets compare as numbers ("1" = "1.0"); boolean ones by truth value.
    std::vector<std::pair<double, int>> by_value;
    for (size_t k = 0; k < m.classes.size(); ++k) {
        double v;
        if (m.target_type == ColumnType::numeric && parse_number(m.classes[k], v))
            by_value.emplace_back(v == 0 ? 0.0 : v, int(k));
        else if (m.target_type == ColumnType::boolean && parse_bool(m.classes[k]) >= 0)
            by_value.emplace_back(double(parse_bool(m.classes[k])), int(k));
    }
    std::sort(by_value.begin(), by_value.end());
    auto find_value = [&](double v) {
        if (v == 0) v = 0;
        auto it = std::lower_bound(by_value.begin(), by_value.end(), std::make_pair(v, -1));
        return it != by_value.end() && it->first == v ? it->second : -1;
    };
    // The class of a label given as text.
    auto find_text = [&](const std::string& s) {
        double v;
        int b = parse_bool(s);
        if (m.target_type == ColumnType::numeric) return parse_number(s, v) ? find_value(v) : -1;
        if (m.target_type == ColumnType::boolean) return b >= 0 ? find_value(double(b)) : -1;
        auto it = by_name.find(s);
        return it == by_name.end() ? -1 : it->second;
    };

    std::vector<int> out(table.rows);
    if (c.type == ColumnType::categorical) {
        std::vector<int> map;
        for (const std::string& s : c.categories)
            map.push_back(find_text(s));
        for (size_t i = 0; i < table.rows; ++i) {
            out[i] = map[size_t(c.codes[i])];
            if (out[i] < 0) throw unknown(c.categories[size_t(c.codes[i])]);
        }
        return out;
    }
    for (size_t i = 0; i < table.rows; ++i) {
        double v = c.numbers[i];
        // A categorical target read as numbers or booleans: compare the canonical text.
        std::string text =
            c.type == ColumnType::boolean ? (v != 0 ? "true" : "false") : number_text(v);
        out[i] = m.target_type == ColumnType::categorical ? find_text(text) : find_value(v);
        if (out[i] < 0) throw unknown(text);
    }
    return out;
}

std::vector<double> target_values(const Model& m, const Table& table, const std::string& shown) {
    const Column& c = target_column(m, table, shown);
    if (c.type != ColumnType::numeric)
        throw Error("the target column " + quote(m.target) + " of " + shown + " is " +
                    to_string(c.type) + ", not numeric");
    return {c.numbers.begin(), c.numbers.end()};
}

}  // namespace mlo::core
