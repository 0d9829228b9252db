#pragma once

// The `--where` filter of `mlo exp list` / `mlo exp rm`: selects runs by their fields
// ("metrics.accuracy >= 0.9 and params.train.l2 < 1e-3", "status = succeeded",
// "name ~ 'lr-*' and not tags.team = infra").
//
// Grammar (keywords are lowercase; `&&`, `||` and `!` are accepted as well):
//   expr    := or
//   or      := and ("or" and)*
//   and     := not ("and" not)*
//   not     := "not" not | "(" expr ")" | compare
//   compare := FIELD OP LITERAL
//   OP      := "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "~" | "!~"
//   FIELD   := WORD | "`" [^`]+ "`"       (backquotes for keys with other characters)
//   LITERAL := NUMBER | STRING | "true" | "false" | WORD
//   WORD    := [A-Za-z_][A-Za-z0-9_.:/-]*  ("metrics.accuracy", "params.train.l2", "succeeded")
//   NUMBER  := "-"? decimal or exponent form, as std::from_chars reads it ("0.9", "-1e-3", "10")
//   STRING  := '...' | "..."              (a backslash escapes the enclosing quote and itself;
//                                          before any other character it stays as it is)
// "true" and "false" are the numbers 1 and 0; any other WORD is a string, so
// `status = succeeded` needs no quotes. "=" and "==" are the same. Comparisons chain no
// further (a < b < c is a syntax error). After "~" and "!~" the literal is a glob pattern: it
// is the literal's text as written, and an unquoted one may also hold `*?[]!^` and start with
// a digit ("name ~ lr-*", "id ~ 3f2*").
//
// Semantics:
// - A comparison whose field is missing is false, for every operator including "!=" and "!~",
//   so `not (metrics.x > 1)` holds for a run without metrics.x.
// - number vs number and string vs string: numeric and bytewise comparison.
// - string field vs number literal: when the whole field parses as a number (std::from_chars),
//   numerically; otherwise the field is compared bytewise with the literal's text as written,
//   for every operator. That makes "=" false and "!=" true (a string equal to a number's text
//   would have parsed), except for "true"/"false": `tags.ok = true` matches the string "true"
//   as well as the number 1. number field vs string literal: the same, parsing the literal,
//   else comparing the field's shortest round-trip text with it. A quoted literal is always a
//   string: `params.epochs > '9'` compares a string field "10" bytewise (and is false).
// - A NaN is like a missing value for every operator but "~"/"!~" (its text is "nan").
// - "~" / "!~": fnmatch-style glob (no FNM_PATHNAME: "*" crosses "/") over the value's text;
//   numbers as their shortest round-trip text (0.1 -> "0.1", 1 -> "1", 1e21 -> "1e+21").

#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace mlo::core {

// A run field's value: missing, a number or a string.
using FieldValue = std::variant<std::monostate, double, std::string>;

// A default-constructed query matches every run (no --where).
class RunQuery {
public:
    // Throws mlo::Error("<shown>: column C: <why>") for a syntax error (C 1-based, bytes), e.g.
    // "--where: column 14: expected a value after '>'".
    static RunQuery parse(const std::string& text, const std::string& shown = "--where");

    // Every field the expression names, sorted, unique ("metrics.accuracy", "params.train.l2").
    const std::vector<std::string>& fields() const { return fields_; }

    // Evaluates against one run; `lookup(field)` returns the run's value of that field. Calls
    // `lookup` only for the comparisons it needs ("and"/"or" stop early).
    bool matches(const std::function<FieldValue(const std::string&)>& lookup) const;

    const std::string& text() const { return text_; }

    struct Node;

private:
    std::string text_;
    std::vector<std::string> fields_;
    std::shared_ptr<const Node> root_;
};

// Three-way comparison used by both --where and --sort: missing sorts last, numbers before
// strings, numbers numerically (NaN after every other number), strings bytewise. Returns <0,
// 0, >0.
int compare_field_values(const FieldValue& a, const FieldValue& b);

// fnmatch-style glob (*, ?, [...] with ranges and a leading ! or ^ to negate, \ to quote the
// next character) over the whole string. "*" and "?" match any byte, "/" included.
bool glob_match(const std::string& pattern, const std::string& text);

// The text "~" matches a value against: a string as it is, a number as its shortest
// round-trip text ("0.1", "1"; -0 is "0"), missing as "".
std::string field_value_text(const FieldValue& v);

}  // namespace mlo::core
