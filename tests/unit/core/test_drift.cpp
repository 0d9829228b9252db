#include <cmath>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/drift.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using nlohmann::json;

namespace {

// The SciPy reference values (tests/reference/make_drift_fixtures.py writes them).
const json& fixtures() {
    return test::json_fixture("drift/drift.json");
}

constexpr double kStatTol = 1e-12;
constexpr double kPTol = 1e-9;
constexpr double kInf = std::numeric_limits<double>::infinity();

double number(const json& v) {
    if (v.is_string()) {
        if (v == "inf") return kInf;
        if (v == "-inf") return -kInf;
    }
    return v.get<double>();
}

// Statistics: tol absolute below 1, relative above.
bool stat_agrees(double got, double want) {
    if (std::isinf(want)) return got == want;
    return std::abs(got - want) <= kStatTol * std::max(1.0, std::abs(want));
}

// P-values: relative, so that a tiny p-value must be right in its leading digits too.
bool p_agrees(double got, double want) {
    return std::abs(got - want) <= kPTol * std::abs(want) || std::abs(got - want) <= 1e-300;
}

std::string show(double x) {
    std::ostringstream s;
    s << std::setprecision(17) << x;
    return s.str();
}

void check_stat(const std::string& what, double got, double want) {
    INFO(what << ": got " << show(got) << ", scipy " << show(want));
    CHECK(stat_agrees(got, want));
}

void check_p(const std::string& what, double got, double want) {
    INFO(what << ": got " << show(got) << ", scipy " << show(want));
    CHECK(p_agrees(got, want));
}

// The fixture generator's samples (see make_drift_fixtures.py): integer hashing and exact
// floating-point steps, so C++ and Python produce the same bits.
uint64_t splitmix64(uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double unit(uint64_t seed, uint64_t k) {
    return static_cast<double>(splitmix64((seed << 32) + k) >> 11) * 0x1p-53;
}

std::vector<double> generate(const json& spec) {
    const auto n = spec.at("n").get<uint64_t>();
    const auto seed = spec.at("seed").get<uint64_t>();
    const std::string kind = spec.at("kind");
    std::vector<double> out(n);
    if (kind == "tri") {
        const double scale = spec.at("scale"), shift = spec.at("shift");
        for (uint64_t i = 0; i < n; ++i)
            out[i] = ((unit(seed, 3 * i) + unit(seed, 3 * i + 1)) + unit(seed, 3 * i + 2)) * scale +
                     shift;
    } else if (kind == "int") {
        const double levels = spec.at("levels"), shift = spec.at("shift");
        for (uint64_t i = 0; i < n; ++i)
            out[i] = std::floor(unit(seed, i) * levels) + shift;
    } else {
        throw std::runtime_error("unknown sample kind " + kind);
    }
    return out;
}

std::vector<double> sample(const json& s) {
    if (s.contains("values")) return s.at("values").get<std::vector<double>>();
    return generate(s.at("formula"));
}

std::vector<double> numbers(const json& a) {
    std::vector<double> out;
    for (const json& v : a)
        out.push_back(number(v));
    return out;
}

CategoryCounts counts_of(const json& obj) {
    CategoryCounts out;
    for (const auto& [k, v] : obj.items())
        out[k] = v.get<uint64_t>();
    return out;
}

}  // namespace

TEST_CASE("drift: the golden values of issue 7", "[drift]") {
    SECTION("KS, reference 1..10, current 6..15") {
        std::vector<double> ref, cur;
        for (int i = 1; i <= 10; ++i) {
            ref.push_back(i);
            cur.push_back(i + 5);
        }
        KsResult r = ks_2samp(ref, cur);
        check_stat("D", r.statistic, 0.5);
        check_p("p", r.p_value, 0.16782134274394334);
        CHECK(r.method == KsMethod::exact);
    }
    SECTION("bins r = [.1 .2 .3 .4], c = [.4 .3 .2 .1]") {
        const std::vector<double> r = {.1, .2, .3, .4}, c = {.4, .3, .2, .1};
        check_stat("PSI", psi(r, c), 0.9128696382935673);
        check_stat("KL(r||c)", kl_divergence(r, c), 0.45643481914678347);
        check_stat("JS distance", js_distance(r, c), 0.3262516441126745);
        // Filling changes nothing without zero shares.
        CHECK(fill_zero_shares(r) == r);
    }
    SECTION("categorical a50 b30 c20 vs a30 b30 c40") {
        const std::vector<uint64_t> ref = {50, 30, 20}, cur = {30, 30, 40};
        ChiSquareResult c = chi_square(ref, cur);
        check_stat("chi-squared", c.statistic, 28.0);
        check_p("p", c.p_value, 8.31528719103568e-07);
        CHECK(c.dof == 2);
        check_stat("PSI", psi(shares_of(ref), shares_of(cur)), 0.2407945608651872);

        // The same through a reference profile and the column test.
        CategoricalProfile profile = categorical_profile({{"a", 50}, {"b", 30}, {"c", 20}});
        CHECK(profile.count == 100);
        const CategoryCounts now = {{"a", 30}, {"b", 30}, {"c", 40}};
        ColumnDrift d = categorical_column_drift(profile, now);
        CHECK(d.test == DriftTest::chisquare);
        check_stat("column chi-squared", d.statistic, 28.0);
        check_p("column p", d.score, 8.31528719103568e-07);
        CHECK(d.threshold == 0.05);
        CHECK(d.drifted);
        ColumnDrift p = categorical_column_drift(profile, now, {DriftTest::psi, std::nullopt});
        check_stat("column PSI", p.score, 0.2407945608651872);
        CHECK(p.threshold == 0.1);
        CHECK(p.drifted);
    }
}

TEST_CASE("drift: the fixture's sample formulas match the Python generator", "[drift]") {
    const json& checks = fixtures().at("formula_check");
    REQUIRE(checks.size() == 2);
    for (const json& c : checks) {
        std::vector<double> x = generate(c.at("spec"));
        auto first = c.at("first").get<std::vector<double>>();
        for (size_t i = 0; i < first.size(); ++i)
            CHECK(x[i] == first[i]);
        double sum = 0;
        for (double v : x)
            sum += v;
        check_stat("sum", sum, c.at("sum").get<double>());
    }
}

TEST_CASE("drift: ks_2samp agrees with scipy.stats.ks_2samp", "[drift]") {
    const json& cases = fixtures().at("ks");
    REQUIRE(cases.size() >= 25);
    size_t exact = 0, asymptotic = 0;
    for (const json& c : cases) {
        const std::string name = c.at("name");
        INFO(name);
        std::vector<double> ref = sample(c.at("ref")), cur = sample(c.at("cur"));
        KsResult r = ks_2samp(ref, cur);
        check_stat("D", r.statistic, c.at("statistic").get<double>());
        check_p("p", r.p_value, c.at("p_value").get<double>());
        const bool want_exact = c.at("method") == "exact";
        CHECK((r.method == KsMethod::exact) == want_exact);
        (want_exact ? exact : asymptotic)++;
        // The test is symmetric in its two samples.
        KsResult swapped = ks_2samp(cur, ref);
        CHECK(swapped.statistic == r.statistic);
        check_p("p swapped", swapped.p_value, r.p_value);
    }
    CHECK(exact >= 10);
    CHECK(asymptotic >= 5);
}

TEST_CASE("drift: Kolmogorov-Smirnov distributions agree with SciPy", "[drift]") {
    const json& doc = fixtures();
    REQUIRE(doc.at("kstwo_sf").size() >= 150);
    for (const json& c : doc.at("kstwo_sf")) {
        const auto n = c.at("n").get<int64_t>();
        const double x = c.at("x");
        check_p("kstwo.sf(" + show(x) + ", " + std::to_string(n) + ")", kstwo_sf(x, n),
                number(c.at("sf")));
    }
    REQUIRE(doc.at("smirnov").size() >= 50);
    for (const json& c : doc.at("smirnov")) {
        const auto n = c.at("n").get<int64_t>();
        const double x = c.at("x");
        check_p("smirnov(" + std::to_string(n) + ", " + show(x) + ")", smirnov_sf(n, x),
                number(c.at("sf")));
    }
    REQUIRE(doc.at("kolmogorov").size() >= 10);
    for (const json& c : doc.at("kolmogorov")) {
        const double x = c.at("x");
        check_p("kolmogorov(" + show(x) + ")", kolmogorov_sf(x), number(c.at("sf")));
    }
    CHECK(kolmogorov_sf(0) == 1.0);
    CHECK(std::isnan(kstwo_sf(std::nan(""), 10)));
}

TEST_CASE("drift: the chi-squared survival function agrees with scipy.stats.chi2.sf", "[drift]") {
    const json& cases = fixtures().at("chi2_sf");
    REQUIRE(cases.size() >= 10);
    for (const json& c : cases) {
        const double x = c.at("x"), dof = c.at("dof");
        check_p("chi2.sf(" + show(x) + ", " + show(dof) + ")", chi2_sf(x, dof), number(c.at("sf")));
    }
    // chi2 with 2 degrees of freedom is exp(-x/2).
    check_p("Q(1, 14)", gamma_q(1, 14), std::exp(-14.0));
    CHECK(chi2_sf(0, 3) == 1.0);
    CHECK(std::isnan(gamma_q(-1, 2)));
}

TEST_CASE("drift: chi-square goodness of fit as Evidently's chisquare", "[drift]") {
    const json& cases = fixtures().at("chisquare");
    REQUIRE(cases.size() >= 8);
    for (const json& c : cases) {
        INFO(c.at("name").get<std::string>());
        auto ref = c.at("ref").get<std::vector<uint64_t>>();
        auto cur = c.at("cur").get<std::vector<uint64_t>>();
        ChiSquareResult r = chi_square(ref, cur);
        check_stat("statistic", r.statistic, number(c.at("statistic")));
        check_p("p", r.p_value, number(c.at("p_value")));
        CHECK(r.dof == ref.size() - 1);
    }
    // One category: no degree of freedom, no evidence of drift.
    const std::vector<uint64_t> one_ref = {10}, one_cur = {7};
    ChiSquareResult single = chi_square(one_ref, one_cur);
    CHECK(single.dof == 0);
    CHECK(single.p_value == 1.0);
    const std::vector<uint64_t> two = {1, 2}, three = {1, 2, 3};
    CHECK_THROWS_AS(chi_square(two, three), Error);
}

TEST_CASE("drift: two-proportion z-test as Evidently's z_stat_test", "[drift]") {
    const json& cases = fixtures().at("z");
    REQUIRE(cases.size() >= 5);
    for (const json& c : cases) {
        const auto h1 = c.at("ref_hits").get<uint64_t>(), n1 = c.at("ref_total").get<uint64_t>();
        const auto h2 = c.at("cur_hits").get<uint64_t>(), n2 = c.at("cur_total").get<uint64_t>();
        INFO(h1 << "/" << n1 << " vs " << h2 << "/" << n2);
        ZTestResult r = z_test(h1, n1, h2, n2);
        check_stat("z", r.statistic, number(c.at("statistic")));
        check_p("p", r.p_value, number(c.at("p_value")));
        // Counting the other value flips the sign of z only.
        ZTestResult other = z_test(n1 - h1, n1, n2 - h2, n2);
        check_stat("z other way", other.statistic, -r.statistic);
        check_p("p other way", other.p_value, r.p_value);
    }
    ZTestResult constant = z_test(0, 40, 0, 60);
    CHECK(constant.statistic == 0);
    CHECK(constant.p_value == 1);
    CHECK_THROWS_AS(z_test(5, 4, 1, 2), Error);
}

TEST_CASE("drift: Wasserstein distance agrees with scipy.stats.wasserstein_distance", "[drift]") {
    const json& cases = fixtures().at("wasserstein");
    REQUIRE(cases.size() >= 5);
    for (const json& c : cases) {
        INFO(c.at("name").get<std::string>());
        std::vector<double> ref = sample(c.at("ref")), cur = sample(c.at("cur"));
        check_stat("W1", wasserstein_distance(ref, cur), c.at("distance").get<double>());
        check_stat("W1 / std", wasserstein_normed(ref, cur), c.at("normed").get<double>());
        check_stat("W1 symmetric", wasserstein_distance(cur, ref), c.at("distance").get<double>());
    }
}

TEST_CASE("drift: PSI, KL and Jensen-Shannon on bin shares", "[drift]") {
    const json& cases = fixtures().at("binned");
    REQUIRE(cases.size() >= 8);
    for (const json& c : cases) {
        INFO(c.at("name").get<std::string>());
        std::vector<double> r = numbers(c.at("ref")), cur = numbers(c.at("cur"));
        std::vector<double> rf = fill_zero_shares(r), cf = fill_zero_shares(cur);
        std::vector<double> want_rf = numbers(c.at("ref_filled")),
                            want_cf = numbers(c.at("cur_filled"));
        CHECK(rf == want_rf);
        CHECK(cf == want_cf);
        check_stat("PSI", psi(rf, cf), number(c.at("psi")));
        check_stat("KL", kl_divergence(rf, cf), number(c.at("kl_div")));
        check_stat("JS distance", js_distance(r, cur), number(c.at("jensenshannon")));
    }
    // The JS distance in natural log is at most sqrt(ln 2) (disjoint supports).
    const std::vector<double> a = {1, 0}, b = {0, 1};
    check_stat("JS disjoint", js_distance(a, b), std::sqrt(std::log(2.0)));
    const std::vector<double> three = {0.2, 0.3, 0.5};
    CHECK_THROWS_AS(psi(a, three), Error);
}

TEST_CASE("drift: column tests through a reference profile agree with SciPy", "[drift]") {
    const json& cases = fixtures().at("column");
    REQUIRE(cases.size() >= 20);
    for (const json& c : cases) {
        const std::string name = c.at("name");
        INFO(name);
        DriftOptions options;
        if (!c.at("test").is_null()) {
            options.test = parse_drift_test(c.at("test").get<std::string>());
            REQUIRE(options.test);
        }
        ColumnDrift d;
        if (c.at("kind") == "numeric") {
            std::vector<double> ref = sample(c.at("ref")), cur = sample(c.at("cur"));
            NumericProfile profile = numeric_profile(ref);
            CHECK(profile.count == ref.size());
            d = numeric_column_drift(profile, cur, options);
        } else {
            CategoricalProfile profile = categorical_profile(counts_of(c.at("ref")));
            d = categorical_column_drift(profile, counts_of(c.at("cur")), options);
        }
        CHECK(to_string(d.test) == c.at("expected_test").get<std::string>());
        if (is_p_value_test(d.test))
            check_p("score", d.score, number(c.at("score")));
        else
            check_stat("score", d.score, number(c.at("score")));
        check_stat("statistic", d.statistic, number(c.at("statistic")));
        CHECK(d.threshold == default_threshold(d.test));
        CHECK(d.drifted == is_drift(d.test, d.score, d.threshold));
    }
}

TEST_CASE("drift: default tests as Evidently's get_default_stattest", "[drift]") {
    using K = ColumnKind;
    using T = DriftTest;
    CHECK(default_drift_test(K::numeric, 1000, 6) == T::ks);
    CHECK(default_drift_test(K::numeric, 1001, 6) == T::wasserstein);
    CHECK(default_drift_test(K::numeric, 1000, 5) == T::chisquare);
    CHECK(default_drift_test(K::numeric, 1000, 3) == T::chisquare);
    CHECK(default_drift_test(K::numeric, 1000, 2) == T::z);
    CHECK(default_drift_test(K::numeric, 1001, 5) == T::jensenshannon);
    CHECK(default_drift_test(K::categorical, 10, 50) == T::chisquare);
    CHECK(default_drift_test(K::categorical, 10, 2) == T::z);
    CHECK(default_drift_test(K::categorical, 1, 1) == T::z);
    CHECK(default_drift_test(K::categorical, 5000, 2) == T::jensenshannon);

    // The distinct values of reference and current count together: 4 in the reference and 2
    // new ones make 6, so a numeric column goes from chisquare to ks.
    NumericProfile profile = numeric_profile({1, 2, 3, 4, 1, 2, 3, 4});
    CHECK(numeric_column_drift(profile, {1, 2, 3, 4}).test == T::chisquare);
    CHECK(numeric_column_drift(profile, {1, 2, 3, 4, 5, 6}).test == T::ks);
}

TEST_CASE("drift: test names, thresholds and comparisons", "[drift]") {
    const std::vector<std::string> names = {"ks",     "chisquare",     "z",          "psi",
                                            "kl_div", "jensenshannon", "wasserstein"};
    for (const std::string& n : names) {
        auto t = parse_drift_test(n);
        REQUIRE(t);
        CHECK(to_string(*t) == n);
        CHECK(default_threshold(*t) == (is_p_value_test(*t) ? 0.05 : 0.1));
    }
    CHECK_FALSE(parse_drift_test("kolmogorov"));
    CHECK_FALSE(parse_drift_test("KS"));
    // Evidently: ks drifts at p <= threshold, chisquare and z at p < threshold, the distances
    // at score >= threshold.
    CHECK(is_drift(DriftTest::ks, 0.05, 0.05));
    CHECK_FALSE(is_drift(DriftTest::chisquare, 0.05, 0.05));
    CHECK_FALSE(is_drift(DriftTest::z, 0.05, 0.05));
    CHECK(is_drift(DriftTest::z, 0.0499, 0.05));
    CHECK(is_drift(DriftTest::psi, 0.1, 0.1));
    CHECK_FALSE(is_drift(DriftTest::wasserstein, 0.0999, 0.1));

    // A threshold override is used and reported.
    CategoricalProfile profile = categorical_profile({{"a", 50}, {"b", 50}});
    const CategoryCounts now = {{"a", 45}, {"b", 55}};
    ColumnDrift d = categorical_column_drift(profile, now, {DriftTest::psi, 0.001});
    CHECK(d.threshold == 0.001);
    CHECK(d.score > 0.001);
    CHECK(d.drifted);
    CHECK_FALSE(categorical_column_drift(profile, now, {DriftTest::psi, std::nullopt}).drifted);
}

TEST_CASE("drift: dataset drift is the share of drifted columns reaching drift_share", "[drift]") {
    auto columns = [](std::vector<bool> drifted) {
        std::vector<ColumnDrift> out;
        for (bool b : drifted) {
            ColumnDrift c;
            c.drifted = b;
            out.push_back(c);
        }
        return out;
    };
    DatasetDrift none = dataset_drift({});
    CHECK(none.columns == 0);
    CHECK_FALSE(none.drift);
    DatasetDrift half = dataset_drift(columns({true, false}));
    CHECK(half.drifted == 1);
    CHECK(half.share == 0.5);
    CHECK(half.drift);
    CHECK_FALSE(dataset_drift(columns({true, false, false})).drift);
    CHECK(dataset_drift(columns({true, false, false}), 0.3).drift);
    CHECK_FALSE(dataset_drift(columns({true, true, false}), 0.7).drift);
}

TEST_CASE("drift: numeric reference profile", "[drift]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    SECTION("missing values, moments, value bins and Sturges edges") {
        NumericProfile p = numeric_profile({3, nan, 1, 2, kInf, 2, 4});
        CHECK(p.count == 5);
        CHECK(p.missing == 2);
        CHECK(p.min == 1);
        CHECK(p.max == 4);
        check_stat("mean", p.mean, 2.4);
        check_stat("std", p.stddev, std::sqrt(1.04));
        CHECK(p.sorted == std::vector<double>{1, 2, 2, 3, 4});
        REQUIRE(p.values.size() == 4);
        CHECK(p.values[1] == std::pair<double, uint64_t>{2, 2});
        // numpy.histogram_bin_edges([1, 2, 2, 3, 4], "sturges"): ceil(log2 5 + 1) = 4 bins.
        CHECK(p.edges == std::vector<double>{1, 1.75, 2.5, 3.25, 4});
        CHECK(p.bin_counts == std::vector<uint64_t>{1, 2, 1, 1});
        CHECK_FALSE(p.summarised());
    }
    SECTION("a constant column has one bin of width 1") {
        NumericProfile p = numeric_profile({7, 7, 7});
        CHECK(p.edges == std::vector<double>{6.5, 7.5});
        CHECK(p.bin_counts == std::vector<uint64_t>{3});
    }
    SECTION("NaN in the current column is dropped") {
        std::vector<double> ref, cur;
        for (int i = 0; i < 300; ++i) {
            ref.push_back(unit(1, i));
            cur.push_back(unit(2, i) + 0.1);
        }
        NumericProfile p = numeric_profile(ref);
        ColumnDrift clean = numeric_column_drift(p, cur);
        cur.push_back(nan);
        cur.push_back(-kInf);
        ColumnDrift dirty = numeric_column_drift(p, cur);
        CHECK(dirty.test == DriftTest::ks);
        CHECK(dirty.current_count == 300);
        CHECK(dirty.score == clean.score);
        check_p("ks p", clean.score,
                ks_2samp(ref, std::vector<double>(cur.begin(), cur.end() - 2)).p_value);
        CHECK_THROWS_AS(numeric_column_drift(p, {nan, nan}), Error);
    }
    SECTION("a large reference keeps order statistics, within 1/size of the full column") {
        json ref_spec = {
            {"kind", "tri"}, {"n", 150000}, {"seed", 5}, {"scale", 1.0}, {"shift", 0.0}};
        json cur_spec = {
            {"kind", "tri"}, {"n", 20000}, {"seed", 6}, {"scale", 1.0}, {"shift", 0.01}};
        std::vector<double> ref = generate(ref_spec), cur = generate(cur_spec);
        NumericProfile p = numeric_profile(ref);
        CHECK(p.count == 150000);
        CHECK(p.sorted.size() == kProfileMaxValues);
        CHECK(p.summarised());
        CHECK(std::is_sorted(p.sorted.begin(), p.sorted.end()));

        KsResult full = ks_2samp(ref, cur);
        ColumnDrift ks = numeric_column_drift(p, cur, {DriftTest::ks, std::nullopt});
        INFO("D full " << show(full.statistic) << ", from the profile " << show(ks.statistic));
        CHECK(std::abs(ks.statistic - full.statistic) <= 1.0 / kProfileMaxValues);
        CHECK(ks.score < 0.05);

        const double w_full = wasserstein_normed(ref, cur);
        ColumnDrift w = numeric_column_drift(p, cur);
        CHECK(w.test == DriftTest::wasserstein);
        INFO("W full " << show(w_full) << ", from the profile " << show(w.score));
        CHECK(std::abs(w.score - w_full) <= (p.max - p.min) / kProfileMaxValues / p.stddev);
    }
}

TEST_CASE("drift: tests that do not apply are refused", "[drift]") {
    CategoricalProfile cat = categorical_profile({{"a", 5}, {"b", 3}, {"c", 1}});
    const CategoryCounts now = {{"a", 5}, {"b", 4}};
    CHECK_THROWS_AS(categorical_column_drift(cat, now, {DriftTest::ks, std::nullopt}), Error);
    CHECK_THROWS_AS(categorical_column_drift(cat, now, {DriftTest::wasserstein, std::nullopt}),
                    Error);
    CHECK_THROWS_AS(categorical_column_drift(cat, now, {DriftTest::z, std::nullopt}), Error);
    CHECK_THROWS_AS(categorical_column_drift(cat, {}), Error);

    std::vector<double> many;
    for (int i = 0; i < 100; ++i)
        many.push_back(i * 0.5);
    NumericProfile num = numeric_profile(many);
    CHECK(num.values.empty());
    CHECK_THROWS_AS(numeric_column_drift(num, many, {DriftTest::chisquare, std::nullopt}), Error);
    CHECK_THROWS_AS(ks_2samp(many, {}), Error);
    const std::vector<double> with_nan = {1.0, std::nan("")};
    CHECK_THROWS_AS(ks_2samp(many, with_nan), Error);
}

TEST_CASE("drift: categories are counted from codes", "[drift]") {
    const std::vector<std::string> categories = {"x", "y", "z"};
    const std::vector<int32_t> codes = {0, 1, -1, 1, 2, 1};
    CategoryCounts counts = count_categories(codes, categories);
    CHECK(counts == CategoryCounts{{"x", 1}, {"y", 3}, {"z", 1}});
    const std::vector<int32_t> bad = {3};
    CHECK_THROWS_AS(count_categories(bad, categories), Error);
    CategoricalProfile p = categorical_profile({{"x", 2}, {"gone", 0}});
    CHECK(p.count == 2);
    CHECK(p.categories.size() == 1);
}
