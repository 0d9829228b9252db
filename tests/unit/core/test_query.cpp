#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/query.hpp"
#include "storage/error.hpp"

using namespace mlo;
using namespace mlo::core;

namespace {

using Run = std::map<std::string, FieldValue>;

bool matches(const std::string& text, const Run& run) {
    return RunQuery::parse(text).matches([&](const std::string& field) -> FieldValue {
        auto it = run.find(field);
        return it == run.end() ? FieldValue() : it->second;
    });
}

std::string parse_error(const std::string& text) {
    try {
        RunQuery::parse(text);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("query: and binds tighter than or, not tighter than and", "[query]") {
    // a or (b and c): true when a holds alone; (a or b) and c would be false.
    CHECK(matches("a = 1 or b = 2 and c = 3", {{"a", 1.0}, {"b", 0.0}, {"c", 0.0}}));
    CHECK_FALSE(matches("a = 1 or b = 2 and c = 3", {{"a", 0.0}, {"b", 2.0}, {"c", 0.0}}));
    CHECK(matches("a = 1 or b = 2 and c = 3", {{"a", 0.0}, {"b", 2.0}, {"c", 3.0}}));
    CHECK(matches("b = 2 and c = 3 or a = 1", {{"a", 1.0}, {"b", 0.0}, {"c", 0.0}}));
    CHECK(matches("a = 1 || b = 2 && c = 3", {{"a", 1.0}, {"b", 0.0}, {"c", 0.0}}));

    // Parentheses override it.
    CHECK_FALSE(matches("(a = 1 or b = 2) and c = 3", {{"a", 1.0}, {"b", 0.0}, {"c", 0.0}}));
    CHECK(matches("(a = 1 or b = 2) and c = 3", {{"a", 1.0}, {"b", 0.0}, {"c", 3.0}}));
    CHECK(matches("((a = 1))", {{"a", 1.0}}));

    // (not a = 1) and b = 2, not not (a = 1 and b = 2).
    Run run = {{"a", 2.0}, {"b", 3.0}};
    CHECK_FALSE(matches("not a = 1 and b = 2", run));
    CHECK(matches("not (a = 1 and b = 2)", run));
    CHECK(matches("not a = 1", run));
    CHECK(matches("!a = 1", run));
    CHECK(matches("!(a = 1) && !(b = 2)", run));
    CHECK_FALSE(matches("not not a = 1", run));
    CHECK(matches("not not a = 2", run));
    // A keyword is a whole word: "notes" and "order" are fields.
    CHECK(matches("notes = x or order = 1", {{"notes", std::string("x")}}));
}

TEST_CASE("query: every operator on numbers", "[query]") {
    Run run = {{"metrics.accuracy", 0.5}};
    CHECK(matches("metrics.accuracy = 0.5", run));
    CHECK(matches("metrics.accuracy == 0.50", run));
    CHECK_FALSE(matches("metrics.accuracy = 0.4", run));
    CHECK(matches("metrics.accuracy != 0.4", run));
    CHECK_FALSE(matches("metrics.accuracy != 0.5", run));
    CHECK(matches("metrics.accuracy < 0.6", run));
    CHECK_FALSE(matches("metrics.accuracy < 0.5", run));
    CHECK(matches("metrics.accuracy <= 0.5", run));
    CHECK_FALSE(matches("metrics.accuracy <= 0.4", run));
    CHECK(matches("metrics.accuracy > 0.4", run));
    CHECK_FALSE(matches("metrics.accuracy > 0.5", run));
    CHECK(matches("metrics.accuracy >= 0.5", run));
    CHECK_FALSE(matches("metrics.accuracy >= 0.6", run));
    CHECK(matches("metrics.accuracy>.49", run));
    CHECK(matches("metrics.accuracy > -1e-3", run));
    CHECK(matches("metrics.accuracy < 5e-1 or metrics.accuracy = 5E-1", run));
    CHECK(matches("metrics.accuracy > -1", run));

    // Numerically, not by text: 10 > 9.
    CHECK(matches("params.epochs > 9", {{"params.epochs", 10.0}}));
    // true and false are 1 and 0.
    CHECK(matches("params.shuffle = true", {{"params.shuffle", 1.0}}));
    CHECK(matches("params.shuffle = false", {{"params.shuffle", 0.0}}));
    CHECK_FALSE(matches("params.shuffle = true", {{"params.shuffle", 0.0}}));
}

TEST_CASE("query: every operator on strings", "[query]") {
    Run run = {{"status", std::string("succeeded")}, {"name", std::string("lr-0.1/run:2")}};
    CHECK(matches("status = succeeded", run));
    CHECK(matches("status == 'succeeded'", run));
    CHECK(matches("status = \"succeeded\"", run));
    CHECK_FALSE(matches("status = failed", run));
    CHECK(matches("status != failed", run));
    CHECK_FALSE(matches("status != succeeded", run));
    // Bytewise: "succeeded" < "t", > "s", "Z" < "a".
    CHECK(matches("status < t", run));
    CHECK(matches("status <= succeeded", run));
    CHECK_FALSE(matches("status < succeeded", run));
    CHECK(matches("status > s", run));
    CHECK(matches("status >= succeeded", run));
    CHECK_FALSE(matches("status > succeeded", run));
    CHECK(matches("status > Z", run));
    CHECK(matches("name = lr-0.1/run:2", run));
    CHECK(matches("name ~ 'lr-*'", run));
    CHECK(matches("name ~ lr-*", run));
    CHECK_FALSE(matches("name ~ 'lr-0.2*'", run));
    CHECK(matches("name !~ 'lr-0.2*'", run));
    CHECK_FALSE(matches("name !~ 'lr-*'", run));
    CHECK(matches("name ~ *run:?", run));
    CHECK(matches("status ~ [a-z]ucceeded", run));
    CHECK_FALSE(matches("status ~ [!a-z]ucceeded", run));

    // Escapes: the quote and the backslash; before anything else a backslash stays.
    CHECK(matches(R"(note = 'it\'s')", {{"note", std::string("it's")}}));
    CHECK(matches(R"(note = "say \"hi\"")", {{"note", std::string("say \"hi\"")}}));
    CHECK(matches(R"(note = 'a\\b')", {{"note", std::string("a\\b")}}));
    CHECK(matches(R"(note = 'a\b')", {{"note", std::string("a\\b")}}));
    CHECK(matches(R"(note = "it's")", {{"note", std::string("it's")}}));
    CHECK(matches("note = ''", {{"note", std::string()}}));
    // A quoted "and" is a value.
    CHECK(matches("note = 'and'", {{"note", std::string("and")}}));
}

TEST_CASE("query: a missing field fails every comparison", "[query]") {
    Run run = {{"metrics.y", 1.0}};
    for (const char* op : {"=", "==", "!=", "<", "<=", ">", ">=", "~", "!~"}) {
        CAPTURE(op);
        CHECK_FALSE(matches(std::string("metrics.x ") + op + " 1", run));
        CHECK_FALSE(matches(std::string("metrics.x ") + op + " 'a'", run));
        CHECK(matches(std::string("not metrics.x ") + op + " 1", run));
    }
    CHECK(matches("not (metrics.x > 1)", run));
    CHECK(matches("metrics.x > 1 or metrics.y = 1", run));
    CHECK_FALSE(matches("metrics.x != 1 and metrics.y = 1", run));
}

TEST_CASE("query: strings and numbers compared with each other", "[query]") {
    // A string field that reads as a number compares numerically with a number.
    Run text_number = {{"params.epochs", std::string("10")}};
    CHECK(matches("params.epochs > 9", text_number));
    CHECK(matches("params.epochs = 10.0", text_number));
    CHECK(matches("params.epochs = 1e1", text_number));
    CHECK_FALSE(matches("params.epochs != 10", text_number));
    // A quoted literal is a string: "10" < "9" bytewise.
    CHECK_FALSE(matches("params.epochs > '9'", text_number));
    CHECK_FALSE(matches("params.epochs = '10.0'", text_number));
    CHECK(matches("params.epochs = '10'", text_number));

    // One that does not: "=" false, "!=" true, ordering by the literal's text.
    Run text = {{"params.optimizer", std::string("adam")}};
    CHECK_FALSE(matches("params.optimizer = 1", text));
    CHECK(matches("params.optimizer != 1", text));
    CHECK(matches("params.optimizer > 1", text));  // 'a' > '1'
    CHECK(matches("params.optimizer > 100000", text));
    CHECK_FALSE(matches("params.optimizer < 1", text));
    // Leading blanks or a trailing unit do not make a number.
    CHECK_FALSE(matches("x = 1", {{"x", std::string(" 1")}}));
    CHECK_FALSE(matches("x = 1", {{"x", std::string("1s")}}));
    CHECK(matches("x < 2", {{"x", std::string("10s")}}));  // "10s" < "2" bytewise

    // A number field with a string literal: the literal is parsed when it can be.
    Run number = {{"params.epochs", 10.0}};
    CHECK(matches("params.epochs > '9'", number));
    CHECK(matches("params.epochs = \"10\"", number));
    CHECK(matches("params.epochs = '1e1'", number));
    CHECK_FALSE(matches("params.epochs = abc", number));
    CHECK(matches("params.epochs != abc", number));
    CHECK(matches("params.epochs < abc", number));  // "10" < "abc"
    CHECK_FALSE(matches("params.epochs > abc", number));
    CHECK_FALSE(matches("x > '1'", {{"x", 0.25}}));
    // A bare word is a string too, read as a number against a number field.
    CHECK(matches("x < inf", {{"x", 1e300}}));
    CHECK(matches("x > inf", {{"x", std::string("j")}}));  // with a string field, bytewise
    // Its shortest round-trip text: "0.1" < "0.1x", 0.1 is not "0.10000000000000001".
    CHECK(matches("x < '0.1x'", {{"x", 0.1}}));
    CHECK(matches("x > '0.0x'", {{"x", 0.1}}));

    // true/false against a string: the number 1/0 when it reads as one, else its text.
    CHECK(matches("tags.reviewed = true", {{"tags.reviewed", std::string("true")}}));
    CHECK(matches("tags.reviewed = true", {{"tags.reviewed", std::string("1")}}));
    CHECK_FALSE(matches("tags.reviewed = true", {{"tags.reviewed", std::string("yes")}}));
    CHECK(matches("tags.reviewed = false", {{"tags.reviewed", std::string("0.0")}}));
}

TEST_CASE("query: NaN compares like a missing value", "[query]") {
    Run run = {{"metrics.loss", std::numeric_limits<double>::quiet_NaN()}};
    for (const char* op : {"=", "!=", "<", "<=", ">", ">="}) {
        CAPTURE(op);
        CHECK_FALSE(matches(std::string("metrics.loss ") + op + " 1", run));
    }
    CHECK(matches("metrics.loss ~ nan", run));
    CHECK_FALSE(matches("x = 1", {{"x", std::string("nan")}}));
    CHECK_FALSE(matches("x != 1", {{"x", std::string("nan")}}));
}

TEST_CASE("query: glob matching", "[query]") {
    CHECK(glob_match("", ""));
    CHECK_FALSE(glob_match("", "a"));
    CHECK(glob_match("*", ""));
    CHECK(glob_match("*", "anything/at all"));
    CHECK(glob_match("lr-*", "lr-0.1"));
    CHECK_FALSE(glob_match("lr-*", "xlr-0.1"));
    CHECK(glob_match("*-0.1", "lr-0.1"));
    CHECK(glob_match("a*b*c", "aXbYbZc"));
    CHECK_FALSE(glob_match("a*b*c", "aXbYbZ"));
    CHECK(glob_match("*a*a*a*", "banana-ana"));
    CHECK_FALSE(glob_match("*aaa*", "aabaab"));
    CHECK(glob_match("a/*", "a/b/c"));  // '*' crosses '/'

    CHECK(glob_match("run-?", "run-7"));
    CHECK_FALSE(glob_match("run-?", "run-"));
    CHECK_FALSE(glob_match("run-?", "run-10"));
    CHECK(glob_match("run-??", "run-10"));

    CHECK(glob_match("[a-z]1", "q1"));
    CHECK_FALSE(glob_match("[a-z]1", "Q1"));
    CHECK(glob_match("[a-zA-Z_]1", "Q1"));
    CHECK(glob_match("[!a-z]1", "Q1"));
    CHECK(glob_match("[^a-z]1", "Q1"));
    CHECK_FALSE(glob_match("[!a-z]1", "q1"));
    CHECK(glob_match("[xyz]", "y"));
    CHECK_FALSE(glob_match("[xyz]", "w"));
    CHECK(glob_match("[]]", "]"));  // ']' first is a member
    CHECK(glob_match("[!]]", "a"));
    CHECK(glob_match("[a-]", "-"));  // '-' last is a member
    CHECK(glob_match("[", "["));     // unterminated: an ordinary '['
    CHECK(glob_match("[a", "[a"));
    CHECK(glob_match("*[0-9]", "epoch-12"));
    CHECK_FALSE(glob_match("*[0-9]", "epoch-12x"));

    CHECK(glob_match("a\\*", "a*"));
    CHECK_FALSE(glob_match("a\\*", "ab"));
    CHECK(glob_match("\\?", "?"));
    CHECK_FALSE(glob_match("\\?", "x"));
    CHECK(glob_match("[\\]]", "]"));

    // Through "~": numbers as their shortest round-trip text.
    CHECK(matches("metrics.lr ~ '0.1'", {{"metrics.lr", 0.1}}));
    CHECK(matches("metrics.lr ~ 0.1", {{"metrics.lr", 0.1}}));
    CHECK(matches("params.epochs ~ 1", {{"params.epochs", 1.0}}));
    CHECK_FALSE(matches("params.epochs ~ '1.0'", {{"params.epochs", 1.0}}));
    CHECK(matches("params.epochs ~ 1?", {{"params.epochs", 10.0}}));
    CHECK(matches("params.big ~ '1e+21'", {{"params.big", 1e21}}));
    CHECK(matches("id ~ 3f2*", {{"id", std::string("3f2a9c")}}));
    CHECK(matches("id ~ [0-9]f*", {{"id", std::string("3f2a9c")}}));
    CHECK(matches("(id ~ 3f*) and id !~ *x", {{"id", std::string("3f2a9c")}}));
    CHECK(field_value_text(FieldValue(-0.0)) == "0");
    CHECK(field_value_text(FieldValue(0.30000000000000004)) == "0.30000000000000004");
    CHECK(field_value_text(FieldValue()).empty());
}

TEST_CASE("query: field names, backquoted names and fields()", "[query]") {
    Run run = {{"params.odd key", 3.0},
               {"tags.team:ml/core-x", std::string("vision")},
               {"params.train.l2", 1e-4}};
    CHECK(matches("`params.odd key` = 3", run));
    CHECK(matches("`params.odd key`>2 and`params.odd key`<4", run));
    CHECK(matches("tags.team:ml/core-x = vision", run));
    CHECK(matches("params.train.l2 < 1e-3", run));
    CHECK(matches("`params.train.l2` < 1e-3", run));

    auto q = RunQuery::parse(
        "metrics.accuracy > 0.9 and (params.train.l2 < 1e-3 or `params.odd key` = 1) and "
        "not metrics.accuracy > 0.99 or status = succeeded");
    CHECK(q.fields() == std::vector<std::string>{"metrics.accuracy", "params.odd key",
                                                 "params.train.l2", "status"});
    CHECK(q.text() ==
          "metrics.accuracy > 0.9 and (params.train.l2 < 1e-3 or `params.odd key` = 1) and "
          "not metrics.accuracy > 0.99 or status = succeeded");

    // "and"/"or" stop early: the right side's field is not looked up.
    std::vector<std::string> looked_up;
    auto lookup = [&](const std::string& field) -> FieldValue {
        looked_up.push_back(field);
        return 1.0;
    };
    CHECK(RunQuery::parse("a = 1 or b = 1").matches(lookup));
    CHECK(looked_up == std::vector<std::string>{"a"});

    // A default query (no --where) matches every run.
    CHECK(RunQuery().matches([](const std::string&) { return FieldValue(); }));
    CHECK(RunQuery().fields().empty());
}

TEST_CASE("query: syntax errors name the column", "[query]") {
    CHECK(parse_error("") == "--where: column 1: empty expression");
    CHECK(parse_error("   ") == "--where: column 4: empty expression");
    CHECK(parse_error("metrics.acc >") == "--where: column 14: expected a value after '>'");
    CHECK(parse_error("metrics.acc > and b = 1") ==
          "--where: column 15: expected a value after '>'");
    CHECK(parse_error("a = $") == "--where: column 5: expected a value after '='");
    CHECK(parse_error("a ~ )") == "--where: column 5: expected a value after '~'");
    CHECK(parse_error("a !~") == "--where: column 5: expected a value after '!~'");
    CHECK(parse_error("a") == "--where: column 2: expected an operator after 'a'");
    CHECK(parse_error("a 1") == "--where: column 3: expected an operator after 'a'");
    CHECK(parse_error("a $ 1") == "--where: column 3: expected an operator after 'a'");
    CHECK(parse_error("`odd key` 1") ==
          "--where: column 11: expected an operator after '`odd key`'");
    CHECK(parse_error("(a = 1") == "--where: column 7: missing ')'");
    CHECK(parse_error("((a = 1) or b = 2") == "--where: column 18: missing ')'");
    CHECK(parse_error("a = 1)") == "--where: column 6: unmatched ')'");
    CHECK(parse_error("()") == "--where: column 2: expected a field name");
    CHECK(parse_error("a = 'abc") == "--where: column 5: unterminated string");
    CHECK(parse_error(R"(a = "ab\")") == "--where: column 5: unterminated string");
    CHECK(parse_error("a = 1 b = 2") == "--where: column 7: unexpected 'b'");
    CHECK(parse_error("a = 1 & b = 2") == "--where: column 7: unexpected '&'");
    CHECK(parse_error("a = 1 and") == "--where: column 10: expected a field name");
    CHECK(parse_error("not") == "--where: column 4: expected a field name");
    CHECK(parse_error("0 < a") == "--where: column 1: expected a field name");
    CHECK(parse_error("and = 1") == "--where: column 1: expected a field name before 'and'");
    CHECK(parse_error("a < 1 < 2") == "--where: column 7: comparisons do not chain; use 'and'");
    CHECK(parse_error("a > 1x") == "--where: column 5: bad number '1x'");
    CHECK(parse_error("a > 1.2.3") == "--where: column 5: bad number '1.2.3'");
    CHECK(parse_error("a > -") == "--where: column 5: bad number '-'");
    CHECK(parse_error("`a = 1") == "--where: column 1: unterminated '`'");
    CHECK(parse_error("`` = 1") == "--where: column 1: empty field name");

    try {
        RunQuery::parse("status =", "exp rm --where");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()) == "exp rm --where: column 9: expected a value after '='");
    }
}

TEST_CASE("query: compare_field_values orders numbers, then strings, then missing", "[query]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK(compare_field_values(1.0, 2.0) < 0);
    CHECK(compare_field_values(2.0, 1.0) > 0);
    CHECK(compare_field_values(2.0, 2.0) == 0);
    CHECK(compare_field_values(10.0, 9.0) > 0);                            // numerically
    CHECK(compare_field_values(std::string("10"), std::string("9")) < 0);  // bytewise
    CHECK(compare_field_values(std::string("Z"), std::string("a")) < 0);
    CHECK(compare_field_values(std::string("a"), std::string("ab")) < 0);
    CHECK(compare_field_values(std::string("\xff"), std::string("a")) > 0);  // unsigned bytes
    CHECK(compare_field_values(std::string("a"), std::string("a")) == 0);
    CHECK(compare_field_values(1e9, std::string("0")) < 0);  // numbers before strings
    CHECK(compare_field_values(std::string("0"), 1e9) > 0);
    CHECK(compare_field_values(FieldValue(), std::string("z")) > 0);  // missing last
    CHECK(compare_field_values(FieldValue(), 1.0) > 0);
    CHECK(compare_field_values(1.0, FieldValue()) < 0);
    CHECK(compare_field_values(FieldValue(), FieldValue()) == 0);
    CHECK(compare_field_values(nan, 1e300) > 0);  // NaN after every number
    CHECK(compare_field_values(nan, std::string("a")) < 0);
    CHECK(compare_field_values(nan, nan) == 0);

    std::vector<FieldValue> values = {std::string("b"), FieldValue(), 3.0,          nan,
                                      std::string("a"), -1.0,         FieldValue(), 0.5};
    std::stable_sort(values.begin(), values.end(), [](const FieldValue& a, const FieldValue& b) {
        return compare_field_values(a, b) < 0;
    });
    REQUIRE(values.size() == 8);
    CHECK(std::get<double>(values[0]) == -1.0);
    CHECK(std::get<double>(values[1]) == 0.5);
    CHECK(std::get<double>(values[2]) == 3.0);
    CHECK(std::isnan(std::get<double>(values[3])));
    CHECK(std::get<std::string>(values[4]) == "a");
    CHECK(std::get<std::string>(values[5]) == "b");
    CHECK(std::holds_alternative<std::monostate>(values[6]));
    CHECK(std::holds_alternative<std::monostate>(values[7]));
}
