#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "core/learner.hpp"
#include "core/metrics.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using nlohmann::json;

namespace {

std::string fixture_path(const std::string& name) {
    return std::string(MLO_SOURCE_DIR) + "/tests/unit/fixtures/" + name;
}

// The sklearn reference fits (tests/reference/make_learner_fixtures.py writes them).
const json& fixtures() {
    return test::json_fixture("learners.json");
}

// The rows of `t` whose index i has (i % 4 == 3) == test: the fixtures' split.
Table split(const Table& t, bool test) {
    Table out;
    for (const Column& c : t.columns) {
        Column o;
        o.name = c.name;
        o.type = c.type;
        o.categories = c.categories;
        for (size_t i = 0; i < t.rows; ++i) {
            if ((i % 4 == 3) != test) continue;
            if (c.type == ColumnType::categorical) {
                o.codes.push_back(c.codes[i]);
                o.missing += c.codes[i] < 0;
            } else {
                o.numbers.push_back(c.numbers[i]);
                o.missing += std::isnan(c.numbers[i]);
            }
        }
        out.columns.push_back(std::move(o));
    }
    out.rows = out.columns.empty()
                   ? 0
                   : std::max(out.columns[0].numbers.size(), out.columns[0].codes.size());
    return out;
}

Table csv(const std::string& text, const CsvOptions& options = {}) {
    return parse_csv(text, "data/train.csv", options);
}

TrainOptions logistic(const std::string& target) {
    TrainOptions o;
    o.learner = "logistic_regression";
    o.target = target;
    return o;
}

// "what" of the Error `fn` throws, or "" when it does not throw.
template <class Fn>
std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::string train_error(const std::string& text, const TrainOptions& o) {
    Table t = csv(text);
    return error_of([&] { train(t, o, "data/train.csv"); });
}

double sigmoid(double z) {
    return 1 / (1 + std::exp(-z));
}

// A reproducible table: `rows` rows of x1..x3 (numeric), c (categorical, 4 levels) and a
// target y with `classes` classes.
std::string synthetic_csv(size_t rows, int classes, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    std::ostringstream out;
    out << std::setprecision(17) << "x1,x2,x3,c,y\n";
    const char* levels[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < rows; ++i) {
        double x1 = normal(rng), x2 = normal(rng) * 3 + 1, x3 = normal(rng);
        int c = int(rng() % 4);
        double score = x1 - 0.5 * x2 / 3 + 0.3 * c + normal(rng);
        int y = classes == 2 ? score > 0 : score < -0.7 ? 0 : score < 0.7 ? 1 : 2;
        out << x1 << ',' << x2 << ',' << x3 << ',' << levels[c] << ',' << y << '\n';
    }
    return out.str();
}

}  // namespace

// --- agreement with scikit-learn -----------------------------------------------------------

TEST_CASE("learners agree with scikit-learn on the reference fixtures", "[learner]") {
    const json& doc = fixtures();
    REQUIRE(doc.at("cases").size() >= 8);
    for (const json& c : doc.at("cases")) {
        const std::string name = c.at("name").get<std::string>();
        SECTION(name) {
            const std::string data = c.at("data").get<std::string>();
            Table all = read_csv(fixture_path(data), data);
            Table train_rows = split(all, false), test_rows = split(all, true);

            TrainOptions o;
            o.learner = c.at("learner").get<std::string>();
            o.target = c.at("target").get<std::string>();
            o.features = c.at("features").get<std::vector<std::string>>();
            o.l2 = c.at("l2").get<double>();
            o.balanced = c.at("balanced").get<bool>();
            o.tol = 1e-10;
            o.max_iter = 10000;
            TrainReport report;
            Model m = train(train_rows, o, data, &report);
            INFO("iterations " << report.iterations << ", gradient max " << report.gradient_norm
                               << ", loss " << report.loss);
            CHECK(report.converged);
            CHECK(m.design_columns() == c.at("design_columns").get<std::vector<std::string>>());

            // Coefficients and intercepts, relative to the largest of them (a per-coefficient
            // relative error means little for coefficients near zero).
            auto want_coef = c.at("coefficients").get<std::vector<std::vector<double>>>();
            auto want_b = c.at("intercepts").get<std::vector<double>>();
            REQUIRE(m.coef.size() == want_coef.size());
            REQUIRE(m.intercept.size() == want_b.size());
            double scale = 0, diff = 0;
            for (size_t r = 0; r < want_coef.size(); ++r) {
                REQUIRE(m.coef[r].size() == want_coef[r].size());
                for (size_t j = 0; j < want_coef[r].size(); ++j) {
                    scale = std::max(scale, std::abs(want_coef[r][j]));
                    diff = std::max(diff, std::abs(m.coef[r][j] - want_coef[r][j]));
                }
                scale = std::max(scale, std::abs(want_b[r]));
                diff = std::max(diff, std::abs(m.intercept[r] - want_b[r]));
            }
            const bool classifier = m.is_classifier();
            INFO("max |coef - sklearn| / max |sklearn coef| = " << diff / scale);
            CHECK(diff <= (classifier ? 1e-3 : 1e-6) * scale);

            Predictions p = predict(m, test_rows, data);
            REQUIRE(p.rows == test_rows.rows);
            if (classifier) {
                CHECK(m.classes == c.at("classes").get<std::vector<std::string>>());
                std::vector<int> y = target_classes(m, test_rows, data);
                ClassificationMetrics cm =
                    classification_metrics(y, p.proba, m.classes.size(), m.classes);
                double want_acc = c.at("test_accuracy").get<double>();
                INFO("accuracy " << cm.accuracy << ", sklearn " << want_acc);
                CHECK(std::abs(cm.accuracy - want_acc) <= 0.005);
                double pdiff = 0;
                size_t i = 0;
                for (const json& row : c.at("test_proba"))
                    for (const json& v : row)
                        pdiff = std::max(pdiff, std::abs(p.proba.at(i++) - v.get<double>()));
                CHECK(i == p.proba.size());
                INFO("max |proba - sklearn| = " << pdiff);
                CHECK(pdiff <= 1e-3);
            } else {
                std::vector<double> y = target_values(m, test_rows, data);
                RegressionMetrics rm = regression_metrics(y, p.values);
                double want_r2 = c.at("test_r2").get<double>();
                INFO("r2 " << rm.r2 << ", sklearn " << want_r2);
                CHECK(std::abs(rm.r2 - want_r2) <= 1e-9);
                auto want_pred = c.at("test_predictions").get<std::vector<double>>();
                REQUIRE(want_pred.size() == p.values.size());
                for (size_t k = 0; k < want_pred.size(); ++k)
                    CHECK(std::abs(p.values[k] - want_pred[k]) <=
                          1e-8 * std::max(1.0, std::abs(want_pred[k])));
            }
        }
    }
}

// --- training errors -----------------------------------------------------------------------

TEST_CASE("train rejects an unknown learner or option value", "[learner]") {
    const std::string text = "x,y\n1,0\n2,1\n3,0\n";
    TrainOptions o = logistic("y");
    o.learner = "random_forest";
    CHECK(train_error(text, o) ==
          "unknown learner 'random_forest' (expected 'logistic_regression' or "
          "'linear_regression')");
    o = logistic("y");
    o.l2 = 0;
    CHECK(train_error(text, o) == "invalid l2 0 for logistic_regression: must be > 0");
    o.learner = "linear_regression";
    o.l2 = -1;
    CHECK(train_error(text, o) == "invalid l2 -1 for linear_regression: must be >= 0");
    o = logistic("y");
    o.max_iter = 0;
    CHECK(train_error(text, o) == "invalid max_iter 0: must be at least 1");
    o = logistic("y");
    o.tol = -1;
    CHECK(train_error(text, o) == "invalid tol -1: must be >= 0");
}

TEST_CASE("train names a target column the table does not have", "[learner]") {
    CHECK(train_error("x,y\n1,0\n2,1\n", logistic("label")) ==
          "no target column 'label' in data/train.csv");
}

TEST_CASE("train names a feature column the table does not have", "[learner]") {
    TrainOptions o = logistic("y");
    o.features = {"x", "z"};
    CHECK(train_error("x,y\n1,0\n2,1\n", o) == "no feature column 'z' in data/train.csv");
}

TEST_CASE("train refuses the target among the features", "[learner]") {
    TrainOptions o = logistic("y");
    o.features = {"x", "y"};
    CHECK(train_error("x,y\n1,0\n2,1\n", o) == "the target column 'y' is also listed as a feature");
}

TEST_CASE("train refuses missing target values", "[learner]") {
    CHECK(train_error("x,y\n1,0\n2,1\n3,\n4,NA\n", logistic("y")) ==
          "2 missing values in the target column 'y' of data/train.csv (the first in data row "
          "3)");
}

TEST_CASE("train refuses a target with one class", "[learner]") {
    CHECK(train_error("x,y\n1,1\n2,1\n3,1\n", logistic("y")) ==
          "only one class ('1') in the target column 'y' of data/train.csv");
    CHECK(train_error("x,y\n1,true\n2,true\n", logistic("y")) ==
          "only one class ('true') in the target column 'y' of data/train.csv");
}

TEST_CASE("linear_regression refuses a non-numeric target", "[learner]") {
    TrainOptions o;
    o.learner = "linear_regression";
    o.target = "y";
    CHECK(train_error("x,y\n1,a\n2,b\n", o) ==
          "the target column 'y' of data/train.csv is categorical; linear_regression needs a "
          "numeric target");
}

TEST_CASE("train refuses a constant or entirely missing feature", "[learner]") {
    CHECK(train_error("x,z,y\n1,3,0\n2,3,1\n3,,0\n", logistic("y")) ==
          "feature column 'z' of data/train.csv is constant (every value is 3)");
    CHECK(train_error("x,z,y\n1,red,0\n2,red,1\n3,NA,0\n", logistic("y")) ==
          "feature column 'z' of data/train.csv is constant (every value is 'red')");
    CHECK(train_error("x,z,y\n1,,0\n2,NA,1\n3,,0\n", logistic("y")) ==
          "feature column 'z' of data/train.csv has no values (every value is missing)");
}

TEST_CASE("train refuses a categorical feature with more than 1000 categories", "[learner]") {
    std::string text = "id,y\n";
    for (int i = 0; i < 1001; ++i)
        text += "id" + std::to_string(i) + "," + std::to_string(i % 2) + "\n";
    CHECK(train_error(text, logistic("y")) ==
          "categorical feature column 'id' of data/train.csv has 1001 categories (at most 1000)");
}

TEST_CASE("train refuses a table without rows", "[learner]") {
    CHECK(train_error("x,y\n", logistic("y")) == "data/train.csv has no rows");
}

TEST_CASE("linear_regression without l2 drops collinear design columns", "[learner]") {
    TrainOptions o;
    o.learner = "linear_regression";
    o.target = "y";
    o.l2 = 0;
    // y = 1 + x + 2 [c = b] exactly; the one-hot columns c=a, c=b sum to 1 (the intercept).
    Table t = csv("x,c,y\n1,a,2\n2,b,5\n3,a,4\n4,b,7\n5,a,6\n6,b,9\n");
    Model m = train(t, o, "data/train.csv");
    REQUIRE(m.design_columns() == std::vector<std::string>{"x", "c=a", "c=b"});
    // c=b is dropped (coefficient 0); the fit is still exact.
    CHECK(m.coef[0][2] == 0);
    Predictions p = predict(m, t, "data/train.csv");
    for (size_t i = 0; i < t.rows; ++i)
        CHECK(p.values[i] == Approx(t.find("y")->numbers[i]).margin(1e-9));
}

// --- preprocessing -------------------------------------------------------------------------

TEST_CASE("preprocessing is fitted on the training table", "[learner]") {
    Table t = csv("x,flag,c,y\n1,true,b,0\n2,false,a,1\n,true,b,0\n5,,c,1\n4,false,,1\n");
    Model m = train(t, logistic("y"), "data/train.csv");
    REQUIRE(m.features.size() == 3);
    // x: mean of 1, 2, 5, 4 = 3; std of the imputed column 1, 2, 3, 5, 4 (population).
    CHECK(m.features[0].mean == 3);
    CHECK(m.features[0].scale == Approx(std::sqrt(10.0 / 5)).epsilon(1e-15));
    CHECK(m.features[1].type == ColumnType::boolean);
    CHECK(m.features[1].mean == 0.5);
    CHECK(m.features[2].categories == std::vector<std::string>{"a", "b", "c"});
    CHECK(m.features[2].impute == "b");  // most frequent
    CHECK(m.design_columns() == std::vector<std::string>{"x", "flag", "c=a", "c=b", "c=c"});
    // Ties go to the smallest category.
    Model tie = train(csv("c,y\nz,0\ny,1\ny,0\nz,1\n"), logistic("y"), "data/train.csv");
    CHECK(tie.features[0].impute == "y");
}

TEST_CASE("missing values are imputed with the training statistics", "[learner]") {
    Table t = csv(synthetic_csv(400, 2, 7));
    Model m = train(t, logistic("y"), "data/train.csv");
    // A scoring table whose own means differ wildly from the training ones.
    std::ostringstream text;
    text << std::setprecision(17) << "x1,x2,x3,c,y\n"
         << ",100,-50,,1\n"
         << m.features[0].mean << ",100,-50," << m.features[3].impute << ",1\n"
         << "900,900,900,d,0\n";
    Table s = parse_csv(text.str(), "data/test.csv");
    Predictions p = predict(m, s, "data/test.csv");
    CHECK(p.proba[0] == p.proba[2]);
    CHECK(p.proba[1] == p.proba[3]);
}

TEST_CASE("an unknown category encodes as zeros", "[learner]") {
    Table t = csv(synthetic_csv(300, 2, 3));
    Model m = train(t, logistic("y"), "data/train.csv");
    Table s = parse_csv("x1,x2,x3,c,y\n0.5,1,-1,never-seen,1\n", "data/test.csv");
    Predictions p = predict(m, s, "data/test.csv");
    REQUIRE(p.proba.size() == 2);
    double z = m.intercept[0];
    const double x[] = {0.5, 1, -1};
    for (size_t j = 0; j < 3; ++j)
        z += m.coef[0][j] * (x[j] - m.features[j].mean) / m.features[j].scale;
    CHECK(p.proba[1] == Approx(sigmoid(z)).epsilon(1e-12));
    CHECK(p.labels[0] == (p.proba[1] > p.proba[0] ? 1 : 0));
}

TEST_CASE("predict names a feature that is categorical in the scoring table", "[learner]") {
    Model m = train(csv("x,y\n1,0\n2,1\n3,0\n4,1\n"), logistic("y"), "data/train.csv");
    Table s = parse_csv("x,y\n1,0\nlots,1\n", "data/test.csv");
    CHECK(error_of([&] { predict(m, s, "data/test.csv"); }) ==
          "column 'x' of data/test.csv is categorical, but the model's feature 'x' is numeric");
    Table none = parse_csv("z,y\n1,0\n", "data/test.csv");
    CHECK(error_of([&] { predict(m, none, "data/test.csv"); }) ==
          "no column 'x' in data/test.csv (a feature of the model)");
}

TEST_CASE("csv_options_for reads the model's categorical features as categorical", "[learner]") {
    Model m = train(csv("zip,x,y\n02139,1,0\nx9,2,1\n02139,3,0\n10001,4,1\n"), logistic("y"),
                    "data/train.csv");
    CsvOptions o = csv_options_for(m);
    CHECK(o.force_categorical == std::vector<std::string>{"zip"});
    Table s = parse_csv("zip,x\n02139,1\n10001,2\n", "data/test.csv", o);
    Predictions a = predict(m, s, "data/test.csv");
    // Read without the options, the numbers still find their categories by value.
    Table plain = parse_csv("zip,x\n02139,1\n10001,2\n", "data/test.csv");
    Predictions b = predict(m, plain, "data/test.csv");
    CHECK(a.proba == b.proba);
}

// --- targets -------------------------------------------------------------------------------

TEST_CASE("target classes compare numbers as numbers", "[learner]") {
    Model m =
        train(csv("x,y\n1,0\n2,1\n3,2.5\n4,0\n5,1\n6,2.5\n"), logistic("y"), "data/train.csv");
    CHECK(m.classes == std::vector<std::string>{"0", "1", "2.5"});
    Table s = parse_csv("x,y\n1,1.0\n2,0.0\n3,+2.50\n4,1e0\n", "data/test.csv");
    CHECK(target_classes(m, s, "data/test.csv") == std::vector<int>{1, 0, 2, 1});
    Table bad = parse_csv("x,y\n1,1\n2,3\n", "data/test.csv");
    CHECK(error_of([&] { target_classes(m, bad, "data/test.csv"); }) ==
          "label '3' in column 'y' of data/test.csv is not a class of the model");
    Table words = parse_csv("x,y\n1,1\n2,maybe\n", "data/test.csv");
    CHECK(error_of([&] { target_classes(m, words, "data/test.csv"); }) ==
          "label 'maybe' in column 'y' of data/test.csv is not a class of the model");
    Table gap = parse_csv("x,y\n1,1\n2,\n", "data/test.csv");
    CHECK(error_of([&] { target_classes(m, gap, "data/test.csv"); }) ==
          "missing value in the target column 'y' of data/test.csv (data row 2)");
}

TEST_CASE("boolean and categorical targets name their classes by text", "[learner]") {
    Model b =
        train(csv("x,y\n1,true\n2,false\n3,True\n4,FALSE\n"), logistic("y"), "data/train.csv");
    CHECK(b.classes == std::vector<std::string>{"false", "true"});
    Table s = parse_csv("x,y\n1,TRUE\n2,false\n", "data/test.csv");
    CHECK(target_classes(b, s, "data/test.csv") == std::vector<int>{1, 0});
    Model c = train(csv("x,y\n1,no\n2,yes\n3,No\n4,yes\n"), logistic("y"), "data/train.csv");
    CHECK(c.classes == std::vector<std::string>{"No", "no", "yes"});  // bytes: 'N' < 'n'
    CHECK(c.coef.size() == 3);
}

TEST_CASE("target values must be present and numeric", "[learner]") {
    TrainOptions o;
    o.learner = "linear_regression";
    o.target = "y";
    Model m = train(csv("x,y\n1,2\n2,4.5\n3,5\n"), o, "data/train.csv");
    CHECK(target_values(m, parse_csv("x,y\n1,2\n", "t.csv"), "t.csv") == std::vector<double>{2});
    CHECK(error_of([&] { target_values(m, parse_csv("x,y\n1,2\n2,NA\n", "t.csv"), "t.csv"); }) ==
          "missing value in the target column 'y' of t.csv (data row 2)");
    CHECK(error_of([&] { target_values(m, parse_csv("x,y\n1,a\n", "t.csv"), "t.csv"); }) ==
          "the target column 'y' of t.csv is categorical, not numeric");
}

// --- solver --------------------------------------------------------------------------------

TEST_CASE("results do not depend on the number of threads", "[learner]") {
    for (int classes : {2, 3}) {
        // More rows than one work block, so the threads really split the work.
        Table t = csv(synthetic_csv(20000, classes, 11 + uint64_t(classes)));
        TrainOptions o = logistic("y");
        o.jobs = 1;
        TrainReport r1, r2;
        Model a = train(t, o, "data/train.csv", &r1);
        o.jobs = 2;
        Model b = train(t, o, "data/train.csv", &r2);
        CHECK(r1.converged);
        CHECK(r1.iterations == r2.iterations);
        CHECK(r1.loss == r2.loss);
        CHECK(a.coef == b.coef);
        CHECK(a.intercept == b.intercept);
        CHECK(predict(a, t, "t", 1).proba == predict(a, t, "t", 2).proba);
    }
}

TEST_CASE("the report says when max_iter stopped the solver", "[learner]") {
    Table t = csv(synthetic_csv(500, 3, 5));
    TrainOptions o = logistic("y");
    o.max_iter = 2;
    TrainReport r;
    Model m = train(t, o, "data/train.csv", &r);
    CHECK_FALSE(r.converged);
    CHECK(r.iterations == 2);
    CHECK(m.training.at("converged") == false);
    CHECK(m.training.at("iterations") == 2);
    o.max_iter = 1000;
    Model full = train(t, o, "data/train.csv", &r);
    CHECK(r.converged);
    CHECK(r.gradient_norm <= o.tol * std::max(1.0, r.loss));
    CHECK(full.training.at("converged") == true);
}

// --- model file ----------------------------------------------------------------------------

TEST_CASE("a model round-trips through JSON exactly", "[learner]") {
    Table t = csv(synthetic_csv(500, 3, 9));
    TrainOptions o = logistic("y");
    o.data_path = "data/train.csv";
    Model m = train(t, o, "data/train.csv");
    json doc = model_to_json(m);
    CHECK(doc.at("format") == "mlo-model");
    CHECK(doc.at("format_version") == 1);
    CHECK(doc.at("design_columns").size() == m.design_width());
    CHECK(doc.at("training").at("data") == "data/train.csv");
    Model back = model_from_json(json::parse(doc.dump()), "models/m.json");
    CHECK(back.coef == m.coef);
    CHECK(back.intercept == m.intercept);
    CHECK(back.classes == m.classes);
    CHECK(back.features[0].mean == m.features[0].mean);
    CHECK(back.features[0].scale == m.features[0].scale);
    CHECK(predict(back, t, "t").proba == predict(m, t, "t").proba);
    CHECK(model_to_json(back).dump() == doc.dump());

    // Doubles in general (nlohmann writes enough digits; strtod reads them back).
    std::mt19937_64 rng(1);
    for (int i = 0; i < 10000; ++i) {
        uint64_t bits = rng();
        double v;
        std::memcpy(&v, &bits, sizeof v);
        if (!std::isfinite(v)) continue;
        json j = v;
        REQUIRE(json::parse(j.dump()).get<double>() == v);
    }

    TrainOptions r;
    r.learner = "linear_regression";
    r.target = "x1";
    Model lin = train(t, r, "data/train.csv");
    Model lin_back = model_from_json(json::parse(model_to_json(lin).dump()), "m.json");
    CHECK(lin_back.coef == lin.coef);
    CHECK(predict(lin_back, t, "t").values == predict(lin, t, "t").values);
}

TEST_CASE("model_from_json refuses a newer format and malformed models", "[learner]") {
    Model m = train(csv(synthetic_csv(100, 2, 4)), logistic("y"), "data/train.csv");
    json doc = model_to_json(m);
    auto error = [](const json& d) {
        return error_of([&] { model_from_json(d, "models/m.json"); });
    };

    json newer = doc;
    newer["format_version"] = 2;
    CHECK(error(newer) ==
          "models/m.json was written by a newer mlo (model format 2; this mlo reads up to 1)");
    CHECK(error(json{{"format", "something"}}) ==
          "models/m.json is not an mlo model (no \"format\": \"mlo-model\")");
    CHECK(error(json::array()) ==
          "models/m.json is not an mlo model (no \"format\": \"mlo-model\")");

    json short_row = doc;
    short_row["coefficients"][0].erase(0);
    CHECK(error(short_row) ==
          "models/m.json is not a valid mlo model: field 'coefficients[0]' has 6 values, "
          "expected 7");
    json bad_mean = doc;
    bad_mean["features"][1]["mean"] = "zero";
    CHECK(error(bad_mean) ==
          "models/m.json is not a valid mlo model: field 'features[1].mean' is not a finite "
          "number");
    json no_classes = doc;
    no_classes.erase("classes");
    CHECK(error(no_classes) == "models/m.json is not a valid mlo model: missing field 'classes'");
    json bad_impute = doc;
    bad_impute["features"][3]["impute"] = "zz";
    CHECK(error(bad_impute) ==
          "models/m.json is not a valid mlo model: field 'features[3].impute' is not one of the "
          "categories");
    json extra = doc;  // unknown fields are ignored within a format version
    extra["comment"] = "added by a later mlo 1.x";
    CHECK(error(extra).empty());
}

TEST_CASE("load_model names an unreadable or non-JSON file", "[learner]") {
    test::TempDir dir;
    CHECK(error_of([&] { load_model(dir / "none.json", "models/none.json"); }) ==
          "cannot read model models/none.json: No such file or directory");
    test::write_text(dir / "bad.json", "{\"format\": ");
    std::string e = error_of([&] { load_model(dir / "bad.json", "models/bad.json"); });
    CHECK(e.rfind("models/bad.json is not an mlo model: not valid JSON (line 1, column 12", 0) ==
          0);
    Model m = train(csv(synthetic_csv(100, 2, 4)), logistic("y"), "data/train.csv");
    test::write_text(dir / "m.json", model_to_json(m).dump(2));
    CHECK(load_model(dir / "m.json", "m.json").coef == m.coef);
}

// --- timing (hidden: run with "[.bench]" and MLO_BENCH_CSV=file.csv MLO_BENCH_TARGET=y) ------

TEST_CASE("train timing on a large CSV", "[.bench]") {
    const char* file = std::getenv("MLO_BENCH_CSV");
    const char* target = std::getenv("MLO_BENCH_TARGET");
    if (!file || !target) {
        WARN("set MLO_BENCH_CSV and MLO_BENCH_TARGET");
        return;
    }
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    Table t = read_csv(file, file);
    auto t1 = clock::now();
    TrainOptions o = logistic(target);
    if (const char* l2 = std::getenv("MLO_BENCH_L2")) o.l2 = std::atof(l2);
    if (const char* jobs = std::getenv("MLO_BENCH_JOBS")) o.jobs = unsigned(std::atoi(jobs));
    TrainReport r;
    Model m = train(t, o, file, &r);
    auto t2 = clock::now();
    Predictions p = predict(m, t, file);
    auto t3 = clock::now();
    std::vector<int> y = target_classes(m, t, file);
    size_t right = 0;
    for (size_t i = 0; i < y.size(); ++i)
        right += p.labels[i] == y[i];
    auto s = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    std::printf(
        "read_csv %.3f s, train %.3f s (%d iterations, converged %d, loss %.10g, "
        "max |g| %.3g), predict %.3f s, training accuracy %.6f\n",
        s(t0, t1), s(t1, t2), r.iterations, int(r.converged), r.loss, r.gradient_norm, s(t2, t3),
        double(right) / double(y.size()));
}
