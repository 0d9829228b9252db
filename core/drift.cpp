#include "core/drift.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <tuple>

#include "storage/error.hpp"

namespace mlo::core {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846;
constexpr double kLog2Pi = 1.8378770664093454836;  // ln(2 pi)
// cephes MINLOG: exp() of anything smaller underflows to 0.
constexpr double kMinLog = -7.08396418532264106224e2;
// SciPy's method="auto" computes the exact KS p-value up to this sample size.
constexpr uint64_t kKsMaxExactN = 10000;

double clip01(double p) {
    if (std::isnan(p)) return p;
    return std::min(1.0, std::max(0.0, p));
}

// Neumaier's compensated sum; infinities and NaNs are carried apart so they survive.
class Sum {
public:
    void add(double x) {
        if (!std::isfinite(x)) {
            special_ += x;
            return;
        }
        double t = sum_ + x;
        if (std::abs(sum_) >= std::abs(x))
            comp_ += (sum_ - t) + x;
        else
            comp_ += (x - t) + sum_;
        sum_ = t;
    }
    double value() const { return (sum_ + comp_) + special_; }

private:
    double sum_ = 0, comp_ = 0, special_ = 0;
};

// ---- Smirnov, Kolmogorov and the two-sided one-sample distribution (scipy.stats._ksstats) ----

// The lower (or, for a few terms, upper) Birnbaum-Tingey sum, as scipy/special/cephes/
// kolmogorov.c. SciPy evaluates the terms in double-double; this evaluates their logarithms in
// long double (64-bit significand on x86-64): within 1e-11 of SciPy, relative, up to n = 10^6
// (measured), where SciPy switches to an approximation.
double smirnov_sf_impl(int64_t n, double x) {
    if (std::isnan(x) || !(n > 0 && x >= 0.0 && x <= 1.0)) return kNaN;
    if (n == 1) return 1.0 - x;
    if (x == 0.0) return 1.0;
    if (x == 1.0) return 0.0;

    const double nd = static_cast<double>(n);
    // n x = hi + lo exactly; floor(n x) and its fraction alpha without rounding.
    const double hi = nd * x;
    const double lo = std::fma(nd, x, -hi);
    const double fl = std::floor(hi);
    long double frac = static_cast<long double>(hi - fl) + lo;
    int64_t nxfl = static_cast<int64_t>(fl);
    if (frac < 0) {
        --nxfl;
        frac += 1;
    } else if (frac >= 1) {
        ++nxfl;
        frac -= 1;
    }
    double alpha = static_cast<double>(frac);
    if (alpha == 1.0) {
        ++nxfl;
        alpha = 0;
    }
    const long double nx = static_cast<long double>(hi) + lo;

    if (nxfl == 0 || (nxfl == 1 && alpha == 0)) {
        // x <= 1/n: cdf = x (1 + x)^(n - 1).
        long double t =
            std::exp(static_cast<long double>(n - 1) * std::log1p(static_cast<long double>(x)));
        return clip01(1.0 - static_cast<double>(x * t));
    }
    if (-2 * nd * x * x < kMinLog) return 0.0;
    if (nxfl >= n - 1) {
        // x >= 1 - 1/n: sf = (1 - x)^n.
        return clip01(static_cast<double>(
            std::exp(static_cast<long double>(n) * std::log1p(-static_cast<long double>(x)))));
    }
    if (n > 1000000) {
        // SciPy's approximation for very large n: p ~ exp(-(6 n x + 1)^2 / (18 n)).
        double logp = -std::pow(6.0 * nd * x + 1, 2) / 18.0 / nd;
        if (logp < -std::log(2.0)) return clip01(std::exp(logp));
        return clip01(1 - (-std::expm1(logp)));
    }

    const int64_t n1mxceil = n - nxfl + (alpha == 0 ? 1 : 0);
    const int64_t upper_terms = n - n1mxceil + 1;
    const bool use_upper =
        (upper_terms <= 1 && x < 0.5) || (n >= 10 && upper_terms <= 3 && x <= 0.5 / std::sqrt(nd));

    // A_v = C(n, v) (x + v/n)^(v - 1) (1 - x - v/n)^(n - v); sf = x sum over v = 0 .. n - nxfl
    // - 1 (lower), cdf = x sum over v = n down to n1mxceil (upper, alternating signs).
    const int64_t terms = use_upper ? upper_terms : n - nxfl;
    const long double ln = static_cast<long double>(n);
    long double sum = 0;
    long double log_binom = 0;  // log C(n, v), updated term by term
    for (int64_t j = 0; j < terms; ++j) {
        const int64_t v = use_upper ? n - j : j;
        const long double t1 = (static_cast<long double>(v) + nx) / ln;      // x + v/n
        const long double t2 = (static_cast<long double>(n - v) - nx) / ln;  // 1 - x - v/n
        long double log_term = log_binom;
        if (v != 1) log_term += static_cast<long double>(v - 1) * std::log(t1);
        int sign = 1;
        if (n - v != 0) {
            log_term += static_cast<long double>(n - v) * std::log(std::fabs(t2));
            if (t2 < 0 && (n - v) % 2 != 0) sign = -1;
        }
        const long double term = sign * std::exp(log_term);
        sum += term;
        if (use_upper) {
            // C(n, v - 1) = C(n, v) v / (n - v + 1)
            log_binom +=
                std::log(static_cast<long double>(v) / static_cast<long double>(n - v + 1));
        } else {
            // C(n, v + 1) = C(n, v) (n - v) / (v + 1)
            log_binom +=
                std::log(static_cast<long double>(n - v) / static_cast<long double>(v + 1));
            // Stop once the remaining terms cannot matter (as SciPy).
            if (j > 0 && term != 0 && j != terms - 1 &&
                4 * static_cast<long double>(terms - j) * std::fabs(term) < DBL_EPSILON * sum)
                break;
            if (term == 0 && j > n / 2) break;
        }
    }
    const double prob = static_cast<double>(x * sum);
    return clip01(use_upper ? 1.0 - prob : prob);
}

// log(n! / n^n) by Stirling's series (scipy.stats._ksstats._log_nfactorial_div_n_pow_n).
double log_nfactorial_div_n_pow_n(int64_t n) {
    static const double kStirling[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3,
                                       -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                                       -5.952380952380952381e-4,  7.9365079365079365079e-4,
                                       -2.7777777777777777778e-3, 8.3333333333333333333e-2};
    const double nd = static_cast<double>(n);
    const double rn = 1.0 / nd;
    const double y = rn / nd;
    double poly = 0;
    for (double c : kStirling)
        poly = poly * y + c;
    return std::log(nd) / 2 - nd + kLog2Pi / 2 + rn * poly;
}

const double kTwo128 = std::ldexp(1.0, 128);
const double kTwoM128 = std::ldexp(1.0, -128);

// P(D_n <= d) by Durbin's matrix, computed as Marsaglia, Tsang and Wang (2003): the (k, k)
// entry of H^n times n!/n^n, with d = (k - h)/n.
double kolmogn_dmtw_cdf(int64_t n, double d) {
    if (d >= 1.0) return 1.0;
    const double nd = static_cast<double>(n) * d;
    if (nd <= 0.5) return 0.0;
    const int k = static_cast<int>(std::ceil(nd));
    const double h = k - nd;
    const int m = 2 * k - 1;

    std::vector<double> v(m), w(m);
    double fac = 1.0;
    for (int j = 1; j <= m; ++j) {
        w[j - 1] = fac;
        fac /= j;
        v[j - 1] = (1.0 - std::pow(h, j)) * fac;
    }
    const double tt = std::pow(std::max(2 * h - 1.0, 0.0), m) - 2 * std::pow(h, m);
    v[m - 1] = (1.0 + tt) * fac;

    std::vector<double> H(static_cast<size_t>(m) * m, 0.0);
    auto at = [m](std::vector<double>& a, int r, int c) -> double& {
        return a[static_cast<size_t>(r) * m + c];
    };
    for (int i = 1; i < m; ++i)
        for (int r = i - 1; r < m; ++r)
            at(H, r, i) = w[r - (i - 1)];
    for (int r = 0; r < m; ++r)
        at(H, r, 0) = v[r];
    for (int c = 0; c < m; ++c)
        at(H, m - 1, c) = v[m - 1 - c];

    auto multiply = [m, &at](std::vector<double>& a, std::vector<double>& b) {
        std::vector<double> out(static_cast<size_t>(m) * m, 0.0);
        for (int i = 0; i < m; ++i)
            for (int l = 0; l < m; ++l) {
                const double ail = at(a, i, l);
                if (ail == 0) continue;
                for (int j = 0; j < m; ++j)
                    at(out, i, j) += ail * at(b, l, j);
            }
        return out;
    };

    std::vector<double> power(static_cast<size_t>(m) * m, 0.0);
    for (int i = 0; i < m; ++i)
        at(power, i, i) = 1.0;
    int64_t expnt = 0, h_expnt = 0;
    for (int64_t nn = n; nn > 0; nn /= 2) {
        if (nn % 2) {
            power = multiply(power, H);
            expnt += h_expnt;
        }
        if (nn / 2 == 0) break;  // the last squaring would not be used
        H = multiply(H, H);
        h_expnt *= 2;
        if (std::abs(at(H, k - 1, k - 1)) > kTwo128) {
            for (double& e : H)
                e /= kTwo128;
            h_expnt += 128;
        }
    }
    double p = at(power, k - 1, k - 1);
    for (int64_t i = 1; i <= n; ++i) {
        p = static_cast<double>(i) * p / static_cast<double>(n);
        if (std::abs(p) < kTwoM128) {
            p *= kTwo128;
            expnt -= 128;
        }
    }
    if (expnt != 0) p = std::ldexp(p, static_cast<int>(expnt));
    return clip01(p);
}

std::pair<int64_t, int64_t> pomeranz_j1j2(int64_t i, int64_t n, int64_t ll, int ceilf, int roundf) {
    int64_t j1, j2;
    if (i == 0) {
        j1 = -ll - ceilf - 1;
        j2 = ll + ceilf - 1;
    } else {
        const int64_t half = (i + 1) / 2;
        if ((i + 1) % 2 == 0) {  // i odd
            if (half == n + 1) {
                j1 = n - ll - ceilf - 1;
                j2 = n + ll + ceilf - 1;
            } else {
                j1 = half - 1 - ll - roundf - 1;
                j2 = half + ll - 1 + ceilf - 1;
            }
        } else {
            j1 = half - 1 - ll - 1;
            j2 = half + ll + roundf - 1;
        }
    }
    return {std::max<int64_t>(j1 + 2, 0), std::min(j2, n)};
}

// P(D_n <= x) by Pomeranz's recursion (1974), as scipy.stats._ksstats._kolmogn_Pomeranz.
double kolmogn_pomeranz_cdf(int64_t n, double x) {
    const double nd = static_cast<double>(n);
    const double t = nd * x;
    const int64_t ll = static_cast<int64_t>(std::floor(t));
    const double f = t - static_cast<double>(ll);
    const double g = std::min(f, 1.0 - f);
    const int ceilf = f > 0 ? 1 : 0;
    const int roundf = f > 0.5 ? 1 : 0;
    const int64_t npwrs = 2 * (ll + 1);
    // (g/n)^m/m!, (2g/n)^m/m!, ((1-2g)/n)^m/m!: Poisson probabilities without their factor.
    std::vector<double> gpower(npwrs), twogpower(npwrs), onem2gpower(npwrs);
    gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
    const double g_n = g / nd, two_g_n = 2 * g / nd, one_m2g_n = (1 - 2 * g) / nd;
    for (int64_t m = 1; m < npwrs; ++m) {
        gpower[m] = gpower[m - 1] * g_n / static_cast<double>(m);
        twogpower[m] = twogpower[m - 1] * two_g_n / static_cast<double>(m);
        onem2gpower[m] = onem2gpower[m - 1] * one_m2g_n / static_cast<double>(m);
    }

    std::vector<double> V0(npwrs, 0.0), V1(npwrs, 0.0);
    V1[0] = 1;
    int64_t V0s = 0, V1s = 0;  // the column index of element 0 of each row
    int64_t expnt = 0;
    auto [j1, j2] = pomeranz_j1j2(0, n, ll, ceilf, roundf);
    for (int64_t i = 1; i < 2 * n + 2; ++i) {
        const int64_t k1 = j1;
        std::swap(V0, V1);
        std::swap(V0s, V1s);
        std::fill(V1.begin(), V1.end(), 0.0);
        std::tie(j1, j2) = pomeranz_j1j2(i, n, ll, ceilf, roundf);
        const std::vector<double>& pwrs =
            (i == 1 || i == 2 * n + 1) ? gpower : (i % 2 ? twogpower : onem2gpower);
        const int64_t ln2 = j2 - k1 + 1;
        if (ln2 <= 0) continue;
        // V1[c] = (V0[k1 - V0s .. + ln2) convolved with pwrs[0 .. ln2))[j1 - k1 + c]
        const int64_t a0 = k1 - V0s;
        const int64_t a_len = std::min(ln2, npwrs - a0);
        const int64_t b_len = std::min(ln2, npwrs);
        const int64_t conv_start = j1 - k1;
        const int64_t conv_len = j2 - j1 + 1;
        double vmax = 0;
        for (int64_t c = 0; c < conv_len; ++c) {
            const int64_t idx = conv_start + c;
            double s = 0;
            for (int64_t a = std::max<int64_t>(0, idx - b_len + 1); a <= std::min(a_len - 1, idx);
                 ++a)
                s += V0[a0 + a] * pwrs[idx - a];
            V1[c] = s;
            vmax = std::max(vmax, s);
        }
        if (vmax > 0 && vmax < kTwoM128) {
            for (double& e : V1)
                e *= kTwo128;
            expnt -= 128;
        }
        V1s = V0s + j1 - k1;
    }
    double ans = V1[n - V1s];
    for (int64_t m = 1; m <= n; ++m) {
        if (std::abs(ans) > kTwo128) {
            ans *= kTwoM128;
            expnt += 128;
        }
        ans *= static_cast<double>(m);
    }
    if (expnt != 0) ans = std::ldexp(ans, static_cast<int>(expnt));
    return clip01(ans);
}

// The Pelz-Good (1976) approximation of P(D_n <= x) for small x * sqrt(n).
double kolmogn_pelz_good_cdf(int64_t n, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    const double nd = static_cast<double>(n);
    const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
    const double z = std::sqrt(nd) * x;
    const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;

    const double qlog = -pi2 / 8 / z2;
    if (qlog < -708) return 0.0;
    double q = std::exp(qlog);

    const double k1a = -z2, k1b = pi2 / 4;
    const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4,
                 k2c = pi4 * (1 - 2 * z2) / 16;
    const double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
                 k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * std::pow(z, 8);

    double K[4] = {0, 0, 0, 0};
    const int64_t maxk = static_cast<int64_t>(std::ceil(16 * z / kPi));
    for (int64_t k = maxk; k > 0; --k) {
        const double m = static_cast<double>(2 * k - 1);
        const double m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
        const double qpower = std::pow(q, static_cast<double>(8 * k));
        const double coeffs[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                                  k3a + k3b * m2 + k3c * m4 + k3d * m6};
        for (int i = 0; i < 4; ++i)
            K[i] = K[i] * qpower + coeffs[i];
    }
    const double sqrt2pi = std::sqrt(2 * kPi);
    const double div[4] = {z, 6 * z4, 72 * std::pow(z, 7), 6480 * std::pow(z, 10)};
    for (int i = 0; i < 4; ++i)
        K[i] = K[i] * q * sqrt2pi / div[i];

    q = std::exp(-pi2 / 2 / z2);
    const double sqrt3z = std::sqrt(3.0) * z;
    double k2extra = 0, k3extra = 0;
    for (int64_t k = maxk; k > 0; --k) {
        const double kd = static_cast<double>(k);
        const double k2 = kd * kd;
        const double qp = std::pow(q, k2);
        const double kpi = kPi * kd;
        k2extra += k2 * qp;
        k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qp;
    }
    K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
    K[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
    double cdf = 0;
    for (int i = 0; i < 4; ++i)
        cdf += K[i] / std::pow(nd, i / 2.0);
    return cdf;
}

// scipy.stats._ksstats._kolmogn(n, x, cdf=False): Simard and L'Ecuyer's (2011) choice of method.
double kolmogn_sf(int64_t n, double x) {
    if (x >= 1.0) return 0.0;
    if (x <= 0.0) return 1.0;
    const double nd = static_cast<double>(n);
    const double t = nd * x;
    if (t <= 1.0) {  // Ruben-Gambino: exact for 1/(2n) <= x <= 1/n
        if (t <= 0.5) return 1.0;
        double prob;
        if (n <= 140) {
            prob = 1.0;
            for (int64_t i = 1; i <= n; ++i)
                prob *= static_cast<double>(i) * (1.0 / nd) * (2 * t - 1);
        } else {
            prob = std::exp(log_nfactorial_div_n_pow_n(n) + nd * std::log(2 * t - 1));
        }
        return clip01(1.0 - prob);
    }
    if (t >= nd - 1) return clip01(2 * std::pow(1.0 - x, nd));  // Ruben-Gambino
    if (x >= 0.5) return clip01(2 * smirnov_sf_impl(n, x));     // exact: 2 * smirnov

    const double nx2 = t * x;
    if (n <= 140) {
        if (nx2 <= 0.754693) return clip01(1.0 - kolmogn_dmtw_cdf(n, x));
        if (nx2 <= 4) return clip01(1.0 - kolmogn_pomeranz_cdf(n, x));
        return clip01(2 * smirnov_sf_impl(n, x));
    }
    if (nx2 >= 370.0) return 0.0;
    if (nx2 >= 2.2) return clip01(2 * smirnov_sf_impl(n, x));
    double cdf;
    if (n <= 100000 && nd * std::pow(x, 1.5) <= 1.4)
        cdf = kolmogn_dmtw_cdf(n, x);
    else
        cdf = kolmogn_pelz_good_cdf(n, x);
    return clip01(1.0 - clip01(cdf));
}

// ---- Two-sample KS, exact paths (scipy.stats._stats_py) ----

// Pr(D_{n,n} >= h/n): 2 (A0 (1 - A1 (1 - A2 (...)))), each Ai a ratio of binomials.
double ks_prob_outside_square(int64_t n, int64_t h) {
    double P = 0.0;
    int64_t k = static_cast<int64_t>(std::floor(static_cast<double>(n) / static_cast<double>(h)));
    while (k >= 0) {
        double p1 = 1.0;
        for (int64_t j = 0; j < h; ++j)
            p1 = static_cast<double>(n - k * h - j) * p1 / static_cast<double>(n + k * h + j + 1);
        P = p1 * (1.0 - P);
        --k;
    }
    return 2 * P;
}

// Pr(D_{m,n} >= h / lcm(m, n)) for m != n: the lattice paths that leave |x/m - y/n| < h/lcm,
// counted as a proportion column by column (Hodges 1958, with Viehmann's 2021 recursion for
// 1 - p), as scipy's pythran _compute_outer_prob_inside_method.
double ks_outer_prob_inside(int64_t m, int64_t n, int64_t g, int64_t h) {
    if (m < n) std::swap(m, n);
    const int64_t mg = m / g, ng = n / g;
    int64_t minj = 0;
    int64_t maxj = std::min(
        static_cast<int64_t>(std::ceil(static_cast<double>(h) / static_cast<double>(mg))), n + 1);
    int64_t curlen = maxj - minj;
    const int64_t len_a = std::min(2 * maxj + 2, n + 1);
    std::vector<double> A(len_a, 1.0);
    std::fill(A.begin() + minj, A.begin() + std::min(maxj, len_a), 0.0);
    for (int64_t i = 1; i <= m; ++i) {
        const int64_t lastminj = minj, lastlen = curlen;
        minj = std::max<int64_t>(static_cast<int64_t>(std::floor(static_cast<double>(ng * i - h) /
                                                                 static_cast<double>(mg))) +
                                     1,
                                 0);
        minj = std::min(minj, n);
        maxj = std::min(static_cast<int64_t>(
                            std::ceil(static_cast<double>(ng * i + h) / static_cast<double>(mg))),
                        n + 1);
        if (maxj <= minj) return 1.0;
        double val = minj == 0 ? 0.0 : 1.0;
        for (int64_t jj = 0; jj < maxj - minj; ++jj) {
            const int64_t j = jj + minj;
            const int64_t src = jj + minj - lastminj;
            const double prev = src < len_a ? A[src] : 1.0;
            val = (prev * static_cast<double>(i) + val * static_cast<double>(j)) /
                  static_cast<double>(i + j);
            A[jj] = val;
        }
        curlen = maxj - minj;
        if (lastlen > curlen) {
            const int64_t from = std::min(maxj - minj, len_a);
            const int64_t to = std::min(maxj - minj + (lastlen - curlen), len_a);
            std::fill(A.begin() + from, A.begin() + to, 1.0);
        }
    }
    return A[maxj - minj - 1];
}

// The D of two sorted samples: max |F1 - F2| over the pooled values, each F the share of its
// sample at or below the value (searchsorted side="right"), computed as SciPy does.
double ks_statistic_sorted(std::span<const double> a, std::span<const double> b) {
    const size_t na = a.size(), nb = b.size();
    const double dna = static_cast<double>(na), dnb = static_cast<double>(nb);
    size_t i = 0, j = 0;
    double max_diff = 0, min_diff = 0;
    while (i < na || j < nb) {
        double v;
        if (i == na)
            v = b[j];
        else if (j == nb)
            v = a[i];
        else
            v = std::min(a[i], b[j]);
        while (i < na && a[i] <= v)
            ++i;
        while (j < nb && b[j] <= v)
            ++j;
        const double diff = static_cast<double>(i) / dna - static_cast<double>(j) / dnb;
        max_diff = std::max(max_diff, diff);
        min_diff = std::min(min_diff, diff);
    }
    return std::max(max_diff, std::min(-min_diff, 1.0));
}

// W1 of two sorted samples: sum over consecutive pooled values of |F_u - F_v| * gap.
double wasserstein_sorted(std::span<const double> u, std::span<const double> v) {
    const size_t nu = u.size(), nv = v.size();
    const double dnu = static_cast<double>(nu), dnv = static_cast<double>(nv);
    size_t i = 0, j = 0;
    Sum total;
    bool first = true;
    double prev = 0;
    while (i < nu || j < nv) {
        double x;
        if (i == nu)
            x = v[j];
        else if (j == nv)
            x = u[i];
        else
            x = std::min(u[i], v[j]);
        if (!first) {
            const double diff =
                std::abs(static_cast<double>(i) / dnu - static_cast<double>(j) / dnv);
            total.add(diff * (x - prev));
        }
        first = false;
        prev = x;
        while (i < nu && u[i] <= x)
            ++i;
        while (j < nv && v[j] <= x)
            ++j;
    }
    return total.value();
}

std::vector<double> sorted_copy(std::span<const double> values, const char* what) {
    std::vector<double> out(values.begin(), values.end());
    for (double x : out)
        if (std::isnan(x)) throw Error(std::string("the ") + what + " sample has a NaN");
    std::sort(out.begin(), out.end());
    return out;
}

void require_nonempty(std::span<const double> ref, std::span<const double> cur) {
    if (ref.empty()) throw Error("the reference sample is empty");
    if (cur.empty()) throw Error("the current sample is empty");
}

double mean_of(std::span<const double> values) {
    Sum s;
    for (double x : values)
        s.add(x);
    return s.value() / static_cast<double>(values.size());
}

// Population standard deviation (ddof 0), two passes as numpy.std.
double stddev_of(std::span<const double> values, double mean) {
    Sum s;
    for (double x : values)
        s.add((x - mean) * (x - mean));
    return std::sqrt(s.value() / static_cast<double>(values.size()));
}

// scipy.special.rel_entr
double rel_entr(double x, double y) {
    if (x > 0 && y > 0) return x * std::log(x / y);
    if (x == 0 && y >= 0) return 0;
    return std::numeric_limits<double>::infinity();
}

std::vector<double> normalised(std::span<const double> p) {
    Sum s;
    for (double x : p)
        s.add(x);
    const double total = s.value();
    std::vector<double> out(p.begin(), p.end());
    for (double& x : out)
        x /= total;
    return out;
}

void require_same_size(std::span<const double> ref, std::span<const double> cur) {
    if (ref.size() != cur.size())
        throw Error("the reference has " + std::to_string(ref.size()) + " bins, the current " +
                    std::to_string(cur.size()));
    if (ref.empty()) throw Error("no bins to compare");
}

}  // namespace

// ---- Distributions ----

double kolmogorov_sf(double x) {
    if (std::isnan(x)) return kNaN;
    if (x <= 0) return 1.0;
    // exp() of anything below -708 - 38 underflows (cephes MIN_EXPABLE): x <= 0.0407
    if (x <= kPi / std::sqrt(746.0 * 8)) return 1.0;
    if (x <= 0.82) {
        // cdf = sqrt(2 pi)/x * u (1 + u^8 + u^24 + u^48 + ...), u = exp(-pi^2 / (8 x^2))
        const double w = std::sqrt(2 * kPi) / x;
        const double logu8 = -kPi * kPi / (x * x);
        const double u = std::exp(logu8 / 8);
        double cdf;
        if (u == 0) {
            cdf = std::exp(logu8 / 8 + std::log(w));
        } else {
            const double u8 = std::exp(logu8);
            const double u8cub = std::pow(u8, 3);
            double P = 1.0;
            P = 1 + u8cub * P;
            P = 1 + u8 * u8 * P;
            P = 1 + u8 * P;
            cdf = w * u * P;
        }
        return clip01(1 - cdf);
    }
    // sf = 2 (v - v^4 + v^9 - v^16 + ...), v = exp(-2 x^2)
    const double v = std::exp(-2 * x * x);
    const double v3 = std::pow(v, 3);
    double P = 1.0;
    P = 1 - v3 * v3 * v * P;
    P = 1 - v3 * v * v * P;
    P = 1 - v3 * P;
    return clip01(2 * v * P);
}

double smirnov_sf(int64_t n, double x) {
    return smirnov_sf_impl(n, x);
}

double kstwo_sf(double x, int64_t n) {
    if (std::isnan(x) || n < 1) return kNaN;
    // Support (1/(2n), 1), as rv_continuous.sf.
    if (x <= 0.5 / static_cast<double>(n)) return 1.0;
    if (x >= 1.0) return 0.0;
    return kolmogn_sf(n, x);
}

double gamma_q(double a, double x) {
    if (std::isnan(a) || std::isnan(x) || a <= 0 || x < 0) return kNaN;
    if (x == 0) return 1.0;
    if (std::isinf(x)) return 0.0;
    using ld = long double;
    constexpr int kMaxIterations = 100000000;
    constexpr ld kEps = std::numeric_limits<ld>::epsilon();
    constexpr ld kTiny = std::numeric_limits<ld>::min() / kEps;
    const ld la = a, lx = x;
    // log(x^a e^-x / Gamma(a))
    const ld log_prefix = la * std::log(lx) - lx - std::lgamma(la);
    if (x < a + 1) {
        // P(a, x) = x^a e^-x / Gamma(a) * sum_{k>=0} x^k / (a (a+1) ... (a+k))
        ld ap = la, term = 1 / la, sum = term;
        for (int i = 0; i < kMaxIterations; ++i) {
            ap += 1;
            term *= lx / ap;
            sum += term;
            if (std::fabs(term) < std::fabs(sum) * kEps) break;
        }
        return clip01(static_cast<double>(1 - sum * std::exp(log_prefix)));
    }
    // Q(a, x) = x^a e^-x / Gamma(a) * 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...))), by
    // the modified Lentz method.
    ld b = lx + 1 - la, c = 1 / kTiny, d = 1 / b, h = d;
    for (int i = 1; i < kMaxIterations; ++i) {
        const ld an = -i * (i - la);
        b += 2;
        d = an * d + b;
        if (std::fabs(d) < kTiny) d = kTiny;
        c = b + an / c;
        if (std::fabs(c) < kTiny) c = kTiny;
        d = 1 / d;
        const ld delta = d * c;
        h *= delta;
        if (std::fabs(delta - 1) < kEps) break;
    }
    return clip01(static_cast<double>(std::exp(log_prefix) * h));
}

double chi2_sf(double x, double dof) {
    if (std::isnan(x) || std::isnan(dof) || dof <= 0) return kNaN;
    if (x <= 0) return 1.0;
    return gamma_q(dof / 2, x / 2);
}

double normal_sf(double z) {
    return 0.5 * std::erfc(z / std::sqrt(2.0));
}

// ---- Two-sample tests ----

KsResult ks_p_value(double d, uint64_t n1, uint64_t n2) {
    if (n1 == 0 || n2 == 0) throw Error("a KS test needs two non-empty samples");
    KsResult r;
    r.statistic = d;
    if (std::max(n1, n2) <= kKsMaxExactN) {
        const uint64_t g = std::gcd(n1, n2);
        const uint64_t lcm = (n1 / g) * n2;
        const auto h = static_cast<int64_t>(std::nearbyint(d * static_cast<double>(lcm)));
        r.statistic = static_cast<double>(h) / static_cast<double>(lcm);
        if (h == 0) {
            r.p_value = 1.0;
            return r;
        }
        const double prob =
            n1 == n2 ? ks_prob_outside_square(static_cast<int64_t>(n1), h)
                     : ks_outer_prob_inside(static_cast<int64_t>(n1), static_cast<int64_t>(n2),
                                            static_cast<int64_t>(g), h);
        if (prob >= 0 && prob <= 1) {
            r.p_value = prob;
            return r;
        }
        // SciPy falls back to the asymptotic distribution, keeping the rounded D.
    }
    const double m = static_cast<double>(std::max(n1, n2));
    const double n = static_cast<double>(std::min(n1, n2));
    const double en = m * n / (m + n);
    r.method = KsMethod::asymptotic;
    r.p_value = clip01(kstwo_sf(r.statistic, static_cast<int64_t>(std::nearbyint(en))));
    return r;
}

KsResult ks_2samp(std::span<const double> ref, std::span<const double> cur) {
    require_nonempty(ref, cur);
    const std::vector<double> a = sorted_copy(ref, "reference");
    const std::vector<double> b = sorted_copy(cur, "current");
    return ks_p_value(ks_statistic_sorted(a, b), a.size(), b.size());
}

double wasserstein_distance(std::span<const double> u, std::span<const double> v) {
    require_nonempty(u, v);
    return wasserstein_sorted(sorted_copy(u, "reference"), sorted_copy(v, "current"));
}

double wasserstein_normed(std::span<const double> ref, std::span<const double> cur) {
    const double w = wasserstein_distance(ref, cur);
    return w / std::max(stddev_of(ref, mean_of(ref)), 0.001);
}

ChiSquareResult chi_square(std::span<const uint64_t> ref_counts,
                           std::span<const uint64_t> cur_counts) {
    if (ref_counts.size() != cur_counts.size())
        throw Error("the reference has " + std::to_string(ref_counts.size()) +
                    " categories, the current " + std::to_string(cur_counts.size()));
    if (ref_counts.empty()) throw Error("no categories to compare");
    const uint64_t n_ref = std::accumulate(ref_counts.begin(), ref_counts.end(), uint64_t{0});
    const uint64_t n_cur = std::accumulate(cur_counts.begin(), cur_counts.end(), uint64_t{0});
    if (n_ref == 0) throw Error("the reference sample is empty");
    if (n_cur == 0) throw Error("the current sample is empty");
    const double k_norm = static_cast<double>(n_cur) / static_cast<double>(n_ref);
    Sum s;
    for (size_t i = 0; i < ref_counts.size(); ++i) {
        const double expected = static_cast<double>(ref_counts[i]) * k_norm;
        const double diff = static_cast<double>(cur_counts[i]) - expected;
        s.add(diff * diff / expected);
    }
    ChiSquareResult r;
    r.dof = ref_counts.size() - 1;
    r.statistic = s.value();
    if (r.dof == 0) {
        r.statistic = 0;
        r.p_value = 1;
    } else {
        r.p_value = chi2_sf(r.statistic, static_cast<double>(r.dof));
    }
    return r;
}

ZTestResult z_test(uint64_t ref_hits, uint64_t ref_total, uint64_t cur_hits, uint64_t cur_total) {
    if (ref_total == 0) throw Error("the reference sample is empty");
    if (cur_total == 0) throw Error("the current sample is empty");
    if (ref_hits > ref_total || cur_hits > cur_total)
        throw Error("a proportion's count exceeds its total");
    const double n1 = static_cast<double>(ref_total), n2 = static_cast<double>(cur_total);
    const double p1 = static_cast<double>(ref_hits) / n1;
    const double p2 = static_cast<double>(cur_hits) / n2;
    const double P = (p1 * n1 + p2 * n2) / (n1 + n2);
    ZTestResult r;
    const double var = P * (1 - P) * (1.0 / n1 + 1.0 / n2);
    if (!(var > 0)) return r;  // one value everywhere: no evidence of drift
    r.statistic = (p1 - p2) / std::sqrt(var);
    r.p_value = clip01(2 * normal_sf(std::abs(r.statistic)));
    return r;
}

// ---- Bin shares ----

std::vector<double> fill_zero_shares(std::span<const double> shares) {
    std::vector<double> out(shares.begin(), shares.end());
    double min_nonzero = std::numeric_limits<double>::infinity();
    for (double x : out)
        if (x != 0) min_nonzero = std::min(min_nonzero, x);
    if (std::isinf(min_nonzero)) return out;
    const double fill = min_nonzero <= 0.0001 ? min_nonzero / 1e6 : 0.0001;
    for (double& x : out)
        if (x == 0) x = fill;
    return out;
}

std::vector<double> shares_of(std::span<const uint64_t> counts) {
    const uint64_t total = std::accumulate(counts.begin(), counts.end(), uint64_t{0});
    std::vector<double> out(counts.size(), 0.0);
    if (total == 0) return out;
    for (size_t i = 0; i < counts.size(); ++i)
        out[i] = static_cast<double>(counts[i]) / static_cast<double>(total);
    return out;
}

double psi(std::span<const double> ref, std::span<const double> cur) {
    require_same_size(ref, cur);
    Sum s;
    for (size_t i = 0; i < ref.size(); ++i)
        s.add((ref[i] - cur[i]) * std::log(ref[i] / cur[i]));
    return s.value();
}

double kl_divergence(std::span<const double> ref, std::span<const double> cur) {
    require_same_size(ref, cur);
    const std::vector<double> p = normalised(ref), q = normalised(cur);
    Sum s;
    for (size_t i = 0; i < p.size(); ++i)
        s.add(rel_entr(p[i], q[i]));
    return s.value();
}

double js_distance(std::span<const double> ref, std::span<const double> cur) {
    require_same_size(ref, cur);
    const std::vector<double> p = normalised(ref), q = normalised(cur);
    Sum left, right;
    for (size_t i = 0; i < p.size(); ++i) {
        const double m = (p[i] + q[i]) / 2.0;
        left.add(rel_entr(p[i], m));
        right.add(rel_entr(q[i], m));
    }
    return std::sqrt((left.value() + right.value()) / 2.0);
}

// ---- Tests by name ----

namespace {

struct TestInfo {
    DriftTest test;
    std::string_view name;
    double threshold;
};

constexpr TestInfo kTests[] = {
    {DriftTest::ks, "ks", 0.05},
    {DriftTest::chisquare, "chisquare", 0.05},
    {DriftTest::z, "z", 0.05},
    {DriftTest::psi, "psi", 0.1},
    {DriftTest::kl_div, "kl_div", 0.1},
    {DriftTest::jensenshannon, "jensenshannon", 0.1},
    {DriftTest::wasserstein, "wasserstein", 0.1},
};

const TestInfo& info(DriftTest t) {
    for (const TestInfo& i : kTests)
        if (i.test == t) return i;
    throw Error("unknown drift test");
}

}  // namespace

std::string_view to_string(DriftTest t) {
    return info(t).name;
}

std::optional<DriftTest> parse_drift_test(std::string_view name) {
    for (const TestInfo& i : kTests)
        if (i.name == name) return i.test;
    return std::nullopt;
}

double default_threshold(DriftTest t) {
    return info(t).threshold;
}

bool is_p_value_test(DriftTest t) {
    return t == DriftTest::ks || t == DriftTest::chisquare || t == DriftTest::z;
}

bool is_drift(DriftTest t, double score, double threshold) {
    switch (t) {
        case DriftTest::ks:
            return score <= threshold;
        case DriftTest::chisquare:
        case DriftTest::z:
            return score < threshold;
        default:
            return score >= threshold;
    }
}

DriftTest default_drift_test(ColumnKind kind, uint64_t reference_rows, uint64_t distinct_values) {
    const bool many_values = kind == ColumnKind::numeric && distinct_values > 5;
    if (reference_rows <= 1000) {
        if (many_values) return DriftTest::ks;
        return distinct_values > 2 ? DriftTest::chisquare : DriftTest::z;
    }
    return many_values ? DriftTest::wasserstein : DriftTest::jensenshannon;
}

// ---- Reference profile ----

namespace {

// numpy.histogram_bin_edges(values, bins="sturges") for sorted, finite, non-empty values.
std::vector<double> sturges_edges(std::span<const double> sorted) {
    double first = sorted.front(), last = sorted.back();
    const double ptp = last - first;
    if (first == last) {
        first -= 0.5;
        last += 0.5;
    }
    const double width = ptp / (std::log2(static_cast<double>(sorted.size())) + 1.0);
    const int64_t bins = width != 0 ? static_cast<int64_t>(std::ceil((last - first) / width)) : 1;
    // numpy.linspace(first, last, bins + 1)
    std::vector<double> edges(bins + 1);
    const double step = (last - first) / static_cast<double>(bins);
    for (int64_t i = 0; i <= bins; ++i) {
        edges[i] = step == 0
                       ? static_cast<double>(i) / static_cast<double>(bins) * (last - first) + first
                       : static_cast<double>(i) * step + first;
    }
    edges[bins] = last;
    return edges;
}

// Bin of x among edges e0 < ... < ek: -1 below e0, k above ek, else i with e_i <= x < e_i+1
// (the last bin closed), as numpy.histogram with an array of edges.
int64_t bin_of(const std::vector<double>& edges, double x) {
    const auto k = static_cast<int64_t>(edges.size()) - 1;
    if (x < edges.front()) return -1;
    if (x > edges.back()) return k;
    const auto i =
        static_cast<int64_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin()) - 1;
    return std::min(i, k - 1);
}

size_t drop_non_finite(std::vector<double>& values) {
    const size_t before = values.size();
    std::erase_if(values, [](double x) { return !std::isfinite(x); });
    return before - values.size();
}

// Aligned counts of two sorted category lists (the union of their keys, ascending).
struct Aligned {
    std::vector<uint64_t> ref, cur;
};

template <class Key>
Aligned align(const std::vector<std::pair<Key, uint64_t>>& ref,
              const std::vector<std::pair<Key, uint64_t>>& cur) {
    Aligned out;
    size_t i = 0, j = 0;
    while (i < ref.size() || j < cur.size()) {
        if (j == cur.size() || (i < ref.size() && ref[i].first < cur[j].first)) {
            out.ref.push_back(ref[i++].second);
            out.cur.push_back(0);
        } else if (i == ref.size() || cur[j].first < ref[i].first) {
            out.ref.push_back(0);
            out.cur.push_back(cur[j++].second);
        } else {
            out.ref.push_back(ref[i++].second);
            out.cur.push_back(cur[j++].second);
        }
    }
    return out;
}

// Runs of equal values in a sorted vector.
std::vector<std::pair<double, uint64_t>> value_counts(std::span<const double> sorted) {
    std::vector<std::pair<double, uint64_t>> out;
    for (double x : sorted) {
        if (!out.empty() && out.back().first == x)
            ++out.back().second;
        else
            out.emplace_back(x, 1);
    }
    return out;
}

[[noreturn]] void test_does_not_apply(DriftTest t, const std::string& why) {
    throw Error("drift test " + quote(std::string(to_string(t))) + " " + why);
}

// The tests that compare category (or value-bin) counts. `ref` and `cur` are aligned.
void categorical_score(ColumnDrift& r, const std::vector<uint64_t>& ref,
                       const std::vector<uint64_t>& cur) {
    switch (r.test) {
        case DriftTest::chisquare: {
            const ChiSquareResult c = chi_square(ref, cur);
            r.statistic = c.statistic;
            r.score = c.p_value;
            return;
        }
        case DriftTest::z: {
            if (ref.size() > 2)
                test_does_not_apply(r.test, "needs at most two distinct values, the column has " +
                                                std::to_string(ref.size()));
            // Evidently maps one value to 0 and the rest to 1; here the first (smallest) value
            // is the 0, so z > 0 when the first value is more frequent now.
            const uint64_t ref_hits = ref.size() == 2 ? ref[1] : 0;
            const uint64_t cur_hits = cur.size() == 2 ? cur[1] : 0;
            const ZTestResult z = z_test(ref_hits, r.reference_count, cur_hits, r.current_count);
            r.statistic = z.statistic;
            r.score = z.p_value;
            return;
        }
        case DriftTest::psi:
            r.score = psi(fill_zero_shares(shares_of(ref)), fill_zero_shares(shares_of(cur)));
            break;
        case DriftTest::kl_div:
            r.score =
                kl_divergence(fill_zero_shares(shares_of(ref)), fill_zero_shares(shares_of(cur)));
            break;
        case DriftTest::jensenshannon:
            r.score = js_distance(shares_of(ref), shares_of(cur));
            break;
        default:
            test_does_not_apply(r.test, "needs a numeric column");
    }
    r.statistic = r.score;
}

void finish(ColumnDrift& r, const DriftOptions& options) {
    r.threshold = options.threshold.value_or(default_threshold(r.test));
    r.drifted = is_drift(r.test, r.score, r.threshold);
}

}  // namespace

NumericProfile numeric_profile(std::vector<double> values) {
    NumericProfile p;
    p.missing = drop_non_finite(values);
    p.count = values.size();
    if (values.empty()) return p;
    std::sort(values.begin(), values.end());
    p.min = values.front();
    p.max = values.back();
    p.mean = mean_of(values);
    p.stddev = stddev_of(values, p.mean);

    for (double x : values) {
        if (!p.values.empty() && p.values.back().first == x) {
            ++p.values.back().second;
        } else if (p.values.size() == kProfileMaxValueBins) {
            p.values.clear();  // too many distinct values to bin by value
            break;
        } else {
            p.values.emplace_back(x, 1);
        }
    }

    p.edges = sturges_edges(values);
    p.bin_counts.assign(p.edges.size() - 1, 0);
    for (double x : values)
        ++p.bin_counts[bin_of(p.edges, x)];

    if (values.size() <= kProfileMaxValues) {
        p.sorted = std::move(values);
    } else {
        const uint64_t n = values.size(), m = kProfileMaxValues;
        p.sorted.resize(m);
        for (uint64_t i = 0; i < m; ++i)
            p.sorted[i] = values[((2 * i + 1) * n) / (2 * m)];
    }
    return p;
}

CategoricalProfile categorical_profile(CategoryCounts counts) {
    CategoricalProfile p;
    std::erase_if(counts, [](const auto& kv) { return kv.second == 0; });
    for (const auto& [name, count] : counts)
        p.count += count;
    p.categories = std::move(counts);
    return p;
}

CategoryCounts count_categories(std::span<const int32_t> codes,
                                std::span<const std::string> categories) {
    std::vector<uint64_t> by_code(categories.size(), 0);
    for (int32_t c : codes) {
        if (c < 0) continue;
        if (static_cast<size_t>(c) >= categories.size())
            throw Error("category code " + std::to_string(c) + " out of range");
        ++by_code[c];
    }
    CategoryCounts out;
    for (size_t i = 0; i < categories.size(); ++i)
        if (by_code[i] != 0) out[categories[i]] += by_code[i];
    return out;
}

ColumnDrift numeric_column_drift(const NumericProfile& ref, std::vector<double> current,
                                 const DriftOptions& options) {
    if (ref.count == 0) throw Error("the reference column has no numeric value");
    drop_non_finite(current);
    if (current.empty()) throw Error("the current column has no numeric value");
    ColumnDrift r;
    r.reference_count = ref.count;
    r.current_count = current.size();

    // Distinct values of reference and current together matter only up to 6 (the default test
    // changes at > 5), and only when the reference has few.
    if (options.test) {
        r.test = *options.test;
    } else {
        uint64_t distinct = 6;
        if (!ref.values.empty() && ref.values.size() <= 5) {
            std::set<double> seen;
            for (const auto& [value, count] : ref.values)
                seen.insert(value);
            for (double x : current) {
                if (seen.size() > 5) break;
                seen.insert(x);
            }
            distinct = seen.size();
        }
        r.test = default_drift_test(ColumnKind::numeric, ref.count, distinct);
    }

    switch (r.test) {
        case DriftTest::ks: {
            std::sort(current.begin(), current.end());
            const KsResult k =
                ks_p_value(ks_statistic_sorted(ref.sorted, current), ref.count, current.size());
            r.statistic = k.statistic;
            r.score = k.p_value;
            break;
        }
        case DriftTest::wasserstein:
            std::sort(current.begin(), current.end());
            r.score = wasserstein_sorted(ref.sorted, current) / std::max(ref.stddev, 0.001);
            r.statistic = r.score;
            break;
        default:
            if (!ref.values.empty()) {
                // Few distinct reference values: each value is a category (Evidently bins by
                // value up to 20 distinct reference values).
                std::sort(current.begin(), current.end());
                const Aligned a = align(ref.values, value_counts(current));
                categorical_score(r, a.ref, a.cur);
            } else if (r.test == DriftTest::chisquare || r.test == DriftTest::z) {
                const std::string why =
                    "needs a categorical column or a numeric one with at most " +
                    std::to_string(kProfileMaxValueBins) + " distinct values";
                test_does_not_apply(r.test, why);
            } else {
                // The reference histogram, with an outer bin on each side when current values
                // fall outside the reference's range.
                const size_t k = ref.bin_counts.size();
                std::vector<uint64_t> cur(k + 2, 0);
                for (double x : current)
                    ++cur[bin_of(ref.edges, x) + 1];
                std::vector<uint64_t> refc;
                std::vector<uint64_t> curc;
                if (cur[0] != 0) {
                    refc.push_back(0);
                    curc.push_back(cur[0]);
                }
                for (size_t i = 0; i < k; ++i) {
                    refc.push_back(ref.bin_counts[i]);
                    curc.push_back(cur[i + 1]);
                }
                if (cur[k + 1] != 0) {
                    refc.push_back(0);
                    curc.push_back(cur[k + 1]);
                }
                categorical_score(r, refc, curc);
            }
            break;
    }
    finish(r, options);
    return r;
}

std::vector<uint64_t> histogram_counts(const NumericProfile& ref, std::span<const double> current) {
    if (ref.edges.size() < 2) return {};
    std::vector<uint64_t> counts(ref.edges.size() + 1, 0);
    for (double x : current)
        if (std::isfinite(x)) ++counts[bin_of(ref.edges, x) + 1];
    return counts;
}

ColumnDrift categorical_column_drift(const CategoricalProfile& ref, const CategoryCounts& current,
                                     const DriftOptions& options) {
    if (ref.count == 0) throw Error("the reference column has no value");
    std::vector<std::pair<std::string, uint64_t>> ref_list, cur_list;
    for (const auto& kv : ref.categories)
        if (kv.second != 0) ref_list.push_back(kv);
    for (const auto& kv : current)
        if (kv.second != 0) cur_list.push_back(kv);
    ColumnDrift r;
    r.reference_count = ref.count;
    for (const auto& kv : cur_list)
        r.current_count += kv.second;
    if (r.current_count == 0) throw Error("the current column has no value");
    const Aligned a = align(ref_list, cur_list);
    r.test =
        options.test.value_or(default_drift_test(ColumnKind::categorical, ref.count, a.ref.size()));
    categorical_score(r, a.ref, a.cur);
    finish(r, options);
    return r;
}

DatasetDrift dataset_drift(std::span<const ColumnDrift> columns, double drift_share) {
    DatasetDrift d;
    d.columns = columns.size();
    for (const ColumnDrift& c : columns)
        if (c.drifted) ++d.drifted;
    if (d.columns == 0) return d;
    d.share = static_cast<double>(d.drifted) / static_cast<double>(d.columns);
    d.drift = d.share >= drift_share;
    return d;
}

}  // namespace mlo::core
