#include <catch2/catch.hpp>

#include "core/expr.hpp"
#include "storage/error.hpp"

using namespace mlo;
using namespace mlo::core;

namespace {

bool holds(const std::string& text, const std::map<std::string, double>& v) {
    return Expression::parse(text, "gate").evaluate(v).holds;
}

std::string parse_error(const std::string& text) {
    try {
        Expression::parse(text, "gate");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("gate expressions compare metrics", "[expr]") {
    std::map<std::string, double> m = {{"accuracy", 0.82}, {"roc_auc", 0.9}, {"f1.yes", 0.5}};
    CHECK(holds("accuracy >= 0.80", m));
    CHECK_FALSE(holds("accuracy >= 0.85", m));
    CHECK(holds("accuracy >= 0.80 and roc_auc >= 0.85", m));
    CHECK_FALSE(holds("accuracy >= 0.80 and roc_auc >= 0.95", m));
    CHECK(holds("accuracy >= 0.99 or roc_auc > 0.85", m));
    CHECK(holds("not accuracy < 0.8", m));
    CHECK(holds("!(accuracy < 0.8) && f1.yes == 0.5", m));
    CHECK(holds("accuracy - 0.02 >= 0.8 - 1e-12", m));
    CHECK(holds("(accuracy + roc_auc) / 2 > 0.85", m));
    CHECK(holds("-accuracy < 0", m));
    CHECK(holds("accuracy != 1", m));
    CHECK(holds("true", m));
    CHECK_FALSE(holds("false or 0", m));
    // Precedence: "and" binds tighter than "or"; arithmetic tighter than comparison.
    CHECK(holds("accuracy > 0.9 and roc_auc > 0.5 or f1.yes >= 0.5", m));
    CHECK_FALSE(holds("accuracy > 0.9 and (roc_auc > 0.5 or f1.yes >= 0.5)", m));
    CHECK(holds("1 + 2 * 3 == 7", m));
}

TEST_CASE("a failed gate says which comparisons failed, with the values", "[expr]") {
    std::map<std::string, double> m = {{"accuracy", 0.7421}, {"roc_auc", 0.9}};
    auto r = Expression::parse("accuracy >= 0.80 and roc_auc >= 0.85", "gate").evaluate(m);
    REQUIRE_FALSE(r.holds);
    REQUIRE(r.failed.size() == 1);
    CHECK(r.failed[0] == "accuracy >= 0.80 (accuracy = 0.7421)");

    r = Expression::parse("accuracy > 0.9 or roc_auc > 0.95", "gate").evaluate(m);
    REQUIRE(r.failed.size() == 2);
    CHECK(r.failed[1] == "roc_auc > 0.95 (roc_auc = 0.9)");

    r = Expression::parse("accuracy > 0.5", "gate").evaluate(m);
    CHECK(r.holds);
    CHECK(r.failed.empty());
}

TEST_CASE("names and unknown names", "[expr]") {
    auto e = Expression::parse("b > 1 and a.x < 2 or b == 3", "gate");
    CHECK(e.names() == std::vector<std::string>{"a.x", "b"});
    try {
        e.evaluate({{"b", 1}, {"accuracy", 1}});
        FAIL("no error");
    } catch (const Error& err) {
        CHECK(std::string(err.what()) == "gate: unknown name 'a.x' (known: accuracy, b)");
    }
}

TEST_CASE("syntax errors name the column", "[expr]") {
    CHECK(parse_error("") == "gate: column 1: empty expression");
    CHECK(parse_error("accuracy >=") == "gate: column 12: expression ends too early");
    CHECK(parse_error("accuracy >= 0.8 and") == "gate: column 20: expression ends too early");
    CHECK(parse_error("(accuracy > 1") == "gate: column 14: missing ')'");
    CHECK(parse_error("accuracy > 1)") == "gate: column 13: unexpected ')'");
    CHECK(parse_error("0 < accuracy < 1") ==
          "gate: column 14: comparisons do not chain; use 'and'");
    CHECK(parse_error("accuracy >= 0.8x") == "gate: column 16: bad number");
    CHECK(parse_error("accuracy $ 1") == "gate: column 10: unexpected '$'");
    CHECK(parse_error("accuracy. > 1") == "gate: column 9: a name cannot end with '.'");
    CHECK(parse_error("and > 1") == "gate: column 1: expected a value before 'and'");
}
