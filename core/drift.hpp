#pragma once

// Drift statistics (issue 7): pure functions, no I/O. docs/monitoring.md states every formula,
// default and threshold; tests/unit/core/test_drift.cpp checks them against SciPy 1.10.1 (the
// fixtures in tests/unit/fixtures/drift/, written by tests/reference/make_drift_fixtures.py).
//
// Conventions, as Evidently's stattests (which call SciPy):
//   ks             scipy.stats.ks_2samp(ref, cur, alternative="two-sided", method="auto")
//   chisquare      scipy.stats.chisquare(current counts, reference share x current total)
//   z              two-proportion Z-test, pooled variance, two-sided
//   psi            sum (r - c) ln(r / c) over bin shares, zero shares filled (see below)
//   kl_div         scipy.stats.entropy(r, c): KL(r || c), natural log, zero shares filled
//   jensenshannon  scipy.spatial.distance.jensenshannon(r, c): the DISTANCE (square root of the
//                  divergence), natural log, zero shares kept (they need no filling)
//   wasserstein    scipy.stats.wasserstein_distance(ref, cur) / max(std(ref, ddof=0), 0.001)
//
// Missing values (NaN) and infinities are dropped from numeric columns before any test, as
// Evidently does; the raw statistics below refuse NaN.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlo::core {

// ---- Distributions (exposed so the tests can check them against scipy.special/stats) ----

// scipy.special.kolmogorov: survival function of the limiting Kolmogorov distribution,
// 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2), with the theta-function series for small x.
double kolmogorov_sf(double x);
// scipy.special.smirnov: P(D+_n >= x), the one-sided one-sample statistic (Birnbaum-Tingey).
double smirnov_sf(int64_t n, double x);
// scipy.stats.kstwo.sf(x, n): P(D_n >= x) for the two-sided one-sample statistic, with SciPy's
// choice among the exact Durbin matrix, Pomeranz recursion, Pelz-Good and 2 * smirnov.
double kstwo_sf(double x, int64_t n);
// scipy.special.gammaincc: regularised upper incomplete gamma Q(a, x), a > 0, x >= 0.
double gamma_q(double a, double x);
// scipy.stats.chi2.sf(x, dof) = Q(dof / 2, x / 2), dof > 0.
double chi2_sf(double x, double dof);
// scipy.stats.norm.sf(z) = erfc(z / sqrt 2) / 2.
double normal_sf(double z);

// ---- Two-sample tests on raw values ----

enum class KsMethod { exact, asymptotic };

struct KsResult {
    // D; on the exact path SciPy rounds it to h / lcm(n1, n2) and so does this.
    double statistic = 0;
    double p_value = 1;
    KsMethod method = KsMethod::exact;
};

// scipy.stats.ks_2samp(ref, cur) with its defaults. Throws mlo::Error when either side is empty
// or holds a NaN.
KsResult ks_2samp(std::span<const double> ref, std::span<const double> cur);
// The p-value part alone: D observed between samples of sizes n1 and n2 (method "auto": exact
// when both are at most 10,000, asymptotic kstwo.sf(D, round(n1 n2 / (n1 + n2))) otherwise or
// when the exact computation fails).
KsResult ks_p_value(double d, uint64_t n1, uint64_t n2);

// scipy.stats.wasserstein_distance(u, v): W1 = integral |F_u - F_v| from the empirical CDFs.
double wasserstein_distance(std::span<const double> u, std::span<const double> v);
// Evidently's normalised Wasserstein: W1(ref, cur) / max(std(ref, ddof=0), 0.001).
double wasserstein_normed(std::span<const double> ref, std::span<const double> cur);

struct ChiSquareResult {
    double statistic = 0;
    double p_value = 1;
    uint64_t dof = 0;
};

// Goodness of fit of the current counts to the reference proportions, as Evidently's chisquare:
// expected_i = ref_i * (current total / reference total), statistic = sum (cur_i - exp_i)^2 /
// exp_i, p = chi2.sf(statistic, k - 1). The two spans are aligned by category (k >= 1). A
// category absent from the reference but present now gives an infinite statistic and p = 0, as
// SciPy; a single category (dof 0) gives statistic 0 and p = 1 (SciPy answers NaN).
ChiSquareResult chi_square(std::span<const uint64_t> ref_counts,
                           std::span<const uint64_t> cur_counts);

struct ZTestResult {
    double statistic = 0;  // z
    double p_value = 1;
};

// Two-proportion Z-test (Evidently's z_stat_test): p1 = ref_hits / ref_total, p2 = cur_hits /
// cur_total, pooled P, z = (p1 - p2) / sqrt(P (1 - P) (1/n1 + 1/n2)), p = 2 norm.sf(|z|). When
// P is 0 or 1 (one value everywhere) z = 0 and p = 1.
ZTestResult z_test(uint64_t ref_hits, uint64_t ref_total, uint64_t cur_hits, uint64_t cur_total);

// ---- Measures on bin shares (natural log) ----

// Evidently's get_binned_data(feel_zeroes=True): zero shares become min(non-zero share) / 1e6
// when that minimum is at most 0.0001, and 0.0001 otherwise (per vector). All zero: unchanged.
std::vector<double> fill_zero_shares(std::span<const double> shares);
// Shares of a count vector (count / total).
std::vector<double> shares_of(std::span<const uint64_t> counts);

// The three take shares as given (fill them first to follow Evidently, as the column tests do).
// PSI = sum (r - c) ln(r / c); not normalised.
double psi(std::span<const double> ref, std::span<const double> cur);
// KL(r || c) = sum r ln(r / c) after normalising both to sum 1 (scipy.stats.entropy).
double kl_divergence(std::span<const double> ref, std::span<const double> cur);
// Jensen-Shannon distance sqrt((KL(r || m) + KL(c || m)) / 2), m = (r + c) / 2, after
// normalising both (scipy.spatial.distance.jensenshannon, base e). Between 0 and sqrt(ln 2).
double js_distance(std::span<const double> ref, std::span<const double> cur);

// ---- Tests by name, defaults, thresholds ----

enum class DriftTest { ks, chisquare, z, psi, kl_div, jensenshannon, wasserstein };
enum class ColumnKind { numeric, categorical };

// "ks", "chisquare", "z", "psi", "kl_div", "jensenshannon", "wasserstein" (Evidently's names).
std::string_view to_string(DriftTest t);
std::optional<DriftTest> parse_drift_test(std::string_view name);
// 0.05 for the p-value tests (ks, chisquare, z), 0.1 for the distances.
double default_threshold(DriftTest t);
// True when the score is a p-value (small means drift).
bool is_p_value_test(DriftTest t);
// ks: p <= threshold; chisquare, z: p < threshold; the distances: score >= threshold (each as
// Evidently compares).
bool is_drift(DriftTest t, double score, double threshold);

// Evidently's get_default_stattest. `reference_rows`: non-missing reference values;
// `distinct_values`: distinct non-missing values in reference and current together.
//   reference_rows <= 1000: numeric with > 5 distinct values: ks; otherwise (categorical, or
//     numeric with <= 5) chisquare when > 2 distinct values, z when <= 2;
//   reference_rows > 1000:  numeric with > 5 distinct values: wasserstein; otherwise
//     jensenshannon.
DriftTest default_drift_test(ColumnKind kind, uint64_t reference_rows, uint64_t distinct_values);

// ---- Reference profile: computed once per reference data version ----

// A numeric reference keeps at most this many values for KS and Wasserstein.
inline constexpr size_t kProfileMaxValues = 100000;
// A numeric reference with at most this many distinct values is binned by value (Evidently's
// get_binned_data does so up to 20).
inline constexpr size_t kProfileMaxValueBins = 20;

struct NumericProfile {
    uint64_t count = 0;           // finite values
    uint64_t missing = 0;         // NaN or infinite
    double mean = 0, stddev = 0;  // over all finite values, ddof 0
    double min = 0, max = 0;
    // All finite values sorted when count <= kProfileMaxValues. Above, kProfileMaxValues order
    // statistics: element i is the value of rank floor((i + 1/2) count / size) (0-based) of the
    // sorted column, so its empirical CDF is within 1/size of the column's everywhere.
    std::vector<double> sorted;
    // Distinct values with their counts, ascending, when there are at most
    // kProfileMaxValueBins of them; empty otherwise.
    std::vector<std::pair<double, uint64_t>> values;
    // Histogram of the reference: Sturges' rule on [min, max] exactly as
    // numpy.histogram_bin_edges(ref, "sturges") (ceil(log2 count) + 1 equal-width bins, [a, b)
    // except the last [a, b]). bin_counts.size() + 1 == edges.size(). Current values below min
    // or above max are counted in two extra outer bins (reference share 0).
    std::vector<double> edges;
    std::vector<uint64_t> bin_counts;

    bool summarised() const { return sorted.size() < count; }
};

// Category (text) -> count, missing values not included.
using CategoryCounts = std::map<std::string, uint64_t>;

struct CategoricalProfile {
    uint64_t count = 0;  // non-missing values
    CategoryCounts categories;
};

// Builds the profile of a numeric reference column (NaN and infinities are counted as missing).
// Takes the column by value: it is sorted in place.
NumericProfile numeric_profile(std::vector<double> values);
CategoricalProfile categorical_profile(CategoryCounts counts);

// Counts of a categorical column given as codes into `categories` (-1 = missing), the layout of
// core/csv.hpp's Column.
CategoryCounts count_categories(std::span<const int32_t> codes,
                                std::span<const std::string> categories);

// The current values counted in the reference histogram's bins plus one outer bin on each
// side: k + 2 counts for k bins, [0] below ref.edges.front(), [k + 1] above ref.edges.back().
// NaN and infinities are skipped. Empty when the reference has no histogram.
std::vector<uint64_t> histogram_counts(const NumericProfile& ref, std::span<const double> current);

// ---- Column and dataset drift ----

struct DriftOptions {
    std::optional<DriftTest> test;    // default: default_drift_test
    std::optional<double> threshold;  // default: default_threshold(test)
};

struct ColumnDrift {
    DriftTest test = DriftTest::ks;
    // The p-value for ks / chisquare / z, the distance for the others: what the threshold is
    // compared with.
    double score = 0;
    // D for ks, chi-squared for chisquare, z for z; equal to score for the distances.
    double statistic = 0;
    double threshold = 0;
    bool drifted = false;
    uint64_t reference_count = 0, current_count = 0;  // non-missing values compared
};

// Compares the current values of a numeric column (NaN / infinities dropped; the vector is
// consumed and sorted in place when the test needs it) with its reference profile. Throws
// mlo::Error when the current column has no finite value, or when the test does not apply (ks
// and wasserstein need > 0 values; chisquare and z need at most kProfileMaxValueBins distinct
// reference values, z at most two distinct values overall).
ColumnDrift numeric_column_drift(const NumericProfile& ref, std::vector<double> current,
                                 const DriftOptions& options = {});
// The same for a categorical column. ks and wasserstein do not apply (mlo::Error).
ColumnDrift categorical_column_drift(const CategoricalProfile& ref, const CategoryCounts& current,
                                     const DriftOptions& options = {});

struct DatasetDrift {
    size_t columns = 0;
    size_t drifted = 0;
    double share = 0;  // drifted / columns (0 with no column)
    bool drift = false;
};

// Dataset drift: the share of drifted columns reaches drift_share (Evidently's default 0.5).
inline constexpr double kDefaultDriftShare = 0.5;
DatasetDrift dataset_drift(std::span<const ColumnDrift> columns,
                           double drift_share = kDefaultDriftShare);

}  // namespace mlo::core
