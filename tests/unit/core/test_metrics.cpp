#include <cmath>
#include <fstream>
#include <iomanip>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using nlohmann::json;

namespace {

// The sklearn reference values (tests/reference/make_metrics_fixtures.py writes them).
const json& fixtures() {
    return test::json_fixture("metrics.json");
}

// 1e-9 absolute or relative.
bool agrees(double got, double want) {
    double diff = std::abs(got - want);
    return diff <= 1e-9 || diff <= 1e-9 * std::abs(want);
}

void check_close(const std::string& what, double got, double want) {
    INFO(what << ": got " << std::setprecision(17) << got << ", sklearn " << want);
    CHECK(agrees(got, want));
}

void check_vector(const std::string& what, const std::vector<double>& got, const json& want) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i)
        check_close(what + "[" + std::to_string(i) + "]", got[i], want[i].get<double>());
}

std::vector<double> flatten(const json& rows) {
    std::vector<double> out;
    for (const auto& row : rows)
        for (const auto& v : row)
            out.push_back(v.get<double>());
    return out;
}

}  // namespace

TEST_CASE("classification metrics agree with sklearn on the fixtures", "[metrics]") {
    const json& doc = fixtures();
    REQUIRE(doc.at("classification").size() >= 5);
    for (const json& c : doc.at("classification")) {
        std::string name = c.at("name").get<std::string>();
        SECTION(name) {
            size_t k = c.at("k").get<size_t>();
            auto classes = c.at("classes").get<std::vector<std::string>>();
            auto y_true = c.at("y_true").get<std::vector<int>>();
            std::vector<double> proba = flatten(c.at("proba"));
            const json& e = c.at("expected");

            ClassificationMetrics m = classification_metrics(y_true, proba, k, classes);
            CHECK(m.classes == classes);
            check_close("accuracy", m.accuracy, e.at("accuracy").get<double>());
            check_close("balanced_accuracy", m.balanced_accuracy,
                        e.at("balanced_accuracy").get<double>());
            check_close("precision_macro", m.precision_macro,
                        e.at("precision_macro").get<double>());
            check_close("recall_macro", m.recall_macro, e.at("recall_macro").get<double>());
            check_close("f1_macro", m.f1_macro, e.at("f1_macro").get<double>());
            check_close("log_loss", m.log_loss, e.at("log_loss").get<double>());
            if (e.at("roc_auc").is_null()) {
                CHECK_FALSE(m.roc_auc.has_value());
            } else {
                REQUIRE(m.roc_auc.has_value());
                check_close("roc_auc", *m.roc_auc, e.at("roc_auc").get<double>());
            }
            check_vector("precision", m.precision, e.at("precision"));
            check_vector("recall", m.recall, e.at("recall"));
            check_vector("f1", m.f1, e.at("f1"));
            CHECK(m.confusion == e.at("confusion").get<std::vector<std::vector<uint64_t>>>());
        }
    }
}

TEST_CASE("regression metrics agree with sklearn on the fixtures", "[metrics]") {
    const json& doc = fixtures();
    REQUIRE(doc.at("regression").size() >= 4);
    for (const json& c : doc.at("regression")) {
        std::string name = c.at("name").get<std::string>();
        SECTION(name) {
            auto y_true = c.at("y_true").get<std::vector<double>>();
            auto y_pred = c.at("y_pred").get<std::vector<double>>();
            const json& e = c.at("expected");
            RegressionMetrics m = regression_metrics(y_true, y_pred);
            check_close("rmse", m.rmse, e.at("rmse").get<double>());
            check_close("mae", m.mae, e.at("mae").get<double>());
            if (e.at("r2").is_null())
                CHECK(std::isnan(m.r2));
            else
                check_close("r2", m.r2, e.at("r2").get<double>());
        }
    }
}

TEST_CASE("hand-checked classification cases", "[metrics]") {
    const double eps = std::numeric_limits<double>::epsilon();

    SECTION("a perfect, certain binary classifier") {
        ClassificationMetrics m =
            classification_metrics({0, 1, 1, 0}, {1, 0, 0, 1, 0, 1, 1, 0}, 2, {"a", "b"});
        CHECK(m.accuracy == 1.0);
        CHECK(m.balanced_accuracy == 1.0);
        CHECK(m.f1_macro == 1.0);
        REQUIRE(m.roc_auc);
        CHECK(*m.roc_auc == 1.0);
        // Each true-class probability clips to 1 - eps: loss ~ eps, never 0 or negative.
        CHECK(m.log_loss >= 0);
        CHECK(m.log_loss <= 2 * eps);
        CHECK(m.confusion == std::vector<std::vector<uint64_t>>{{2, 0}, {0, 2}});
    }

    SECTION("a certain, always wrong classifier: log loss is bounded by -log(eps)") {
        ClassificationMetrics m = classification_metrics({0, 1}, {0, 1, 1, 0}, 2, {"a", "b"});
        CHECK(m.accuracy == 0.0);
        CHECK(*m.roc_auc == 0.0);
        CHECK(std::abs(m.log_loss - (-std::log(eps))) < 1e-9);
        CHECK(m.precision == std::vector<double>{0.0, 0.0});  // zero_division = 0
        CHECK(m.f1 == std::vector<double>{0.0, 0.0});
    }

    SECTION("all scores tied: AUC 0.5, argmax ties go to the lowest class") {
        ClassificationMetrics m =
            classification_metrics({0, 1, 1}, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, 2, {"a", "b"});
        CHECK(*m.roc_auc == 0.5);
        CHECK(m.confusion == std::vector<std::vector<uint64_t>>{{1, 0}, {2, 0}});
        CHECK(std::abs(m.accuracy - 1.0 / 3) < 1e-15);
        CHECK(std::abs(m.precision[0] - 1.0 / 3) < 1e-15);
        CHECK(m.recall[0] == 1.0);
        CHECK(m.precision[1] == 0.0);
        CHECK(m.balanced_accuracy == 0.5);
        CHECK(std::abs(m.log_loss - std::log(2.0)) < 1e-15);
    }

    SECTION("a class absent from y_true: no AUC, balanced accuracy over the present ones") {
        ClassificationMetrics m =
            classification_metrics({0, 1}, {0.8, 0.1, 0.1, 0.2, 0.3, 0.5}, 3, {"a", "b", "c"});
        CHECK_FALSE(m.roc_auc.has_value());
        CHECK(m.balanced_accuracy == 0.5);                  // recall 1 (a), 0 (b); c left out
        CHECK(std::abs(m.recall_macro - 1.0 / 3) < 1e-15);  // c counts as 0 here
    }
}

TEST_CASE("hand-checked regression cases", "[metrics]") {
    RegressionMetrics m = regression_metrics({1, 2, 3, 4}, {1, 2, 3, 8});
    CHECK(m.rmse == 2.0);
    CHECK(m.mae == 1.0);
    CHECK(std::abs(m.r2 - (1 - 16.0 / 5.0)) < 1e-15);

    CHECK(regression_metrics({0.1, 0.1, 0.1}, {0.1, 0.1, 0.1}).r2 == 1.0);
    CHECK(regression_metrics({0.1, 0.1, 0.1}, {0.1, 0.2, 0.1}).r2 == 0.0);  // SS_tot = 0
    CHECK(std::isnan(regression_metrics({1}, {2}).r2));
}

TEST_CASE("metrics reject empty and mismatched input", "[metrics]") {
    CHECK_THROWS_AS(classification_metrics({}, {}, 2, {"a", "b"}), Error);
    CHECK_THROWS_AS(classification_metrics({0}, {0.5, 0.5, 0.0}, 2, {"a", "b"}), Error);
    CHECK_THROWS_AS(classification_metrics({0}, {0.5, 0.5}, 2, {"a"}), Error);
    CHECK_THROWS_AS(classification_metrics({2}, {0.5, 0.5}, 2, {"a", "b"}), Error);
    CHECK_THROWS_AS(classification_metrics({-1}, {0.5, 0.5}, 2, {"a", "b"}), Error);
    CHECK_THROWS_AS(classification_metrics({0}, {1.0}, 1, {"a"}), Error);
    CHECK_THROWS_AS(classification_metrics({0}, {0.7, 0.7}, 2, {"a", "b"}), Error);
    CHECK_THROWS_AS(classification_metrics({0}, {1.5, -0.5}, 2, {"a", "b"}), Error);
    CHECK_THROWS_AS(classification_metrics({0}, {std::nan(""), 1.0}, 2, {"a", "b"}), Error);
    CHECK_THROWS_AS(regression_metrics({}, {}), Error);
    CHECK_THROWS_AS(regression_metrics({1, 2}, {1}), Error);
    CHECK_THROWS_AS(regression_metrics({1, std::nan("")}, {1, 2}), Error);
}

TEST_CASE("metrics flatten to JSON for a run's metrics file", "[metrics]") {
    ClassificationMetrics m =
        classification_metrics({0, 1, 1}, {0.9, 0.1, 0.4, 0.6, 0.6, 0.4}, 2, {"cat", "dog"});
    json j = to_json(m);
    CHECK(j.at("accuracy").get<double>() == m.accuracy);
    CHECK(j.at("roc_auc").get<double>() == *m.roc_auc);
    CHECK(j.at("f1.dog").get<double>() == m.f1[1]);
    CHECK(j.at("precision.cat").get<double>() == m.precision[0]);
    CHECK(j.at("recall.dog").get<double>() == m.recall[1]);
    CHECK(j.at("confusion.dog.cat").get<uint64_t>() == 1);
    CHECK(j.at("confusion.dog.dog").get<uint64_t>() == 1);
    CHECK(j.at("confusion.cat.dog").get<uint64_t>() == 0);
    CHECK(j.size() == 7 + 3 * 2 + 4);

    m.roc_auc.reset();
    CHECK_FALSE(to_json(m).contains("roc_auc"));

    json r = to_json(regression_metrics({1, 2, 3}, {1, 2, 4}));
    CHECK(r.size() == 3);
    CHECK(r.at("mae").get<double>() == 1.0 / 3);
    CHECK_FALSE(to_json(regression_metrics({1}, {2})).contains("r2"));
}
