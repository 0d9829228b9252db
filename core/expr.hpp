#pragma once

// Condition expressions over named numbers: a model's `gate` ("accuracy >= 0.80 and
// roc_auc >= 0.85"), and later the retrain policy ("drift_share >= 0.5 or accuracy < 0.80",
// "accuracy >= champion.accuracy").
//
// Grammar (keywords are lowercase; `&&`, `||` and `!` are accepted as well):
//   expr    := or
//   or      := and ("or" and)*
//   and     := not ("and" not)*
//   not     := "not" not | compare
//   compare := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
//   sum     := product (("+" | "-") product)*
//   product := unary (("*" | "/") unary)*
//   unary   := "-" unary | primary
//   primary := NUMBER | NAME | "true" | "false" | "(" expr ")"
//   NAME    := [A-Za-z_][A-Za-z0-9_.]*  (dots separate nested keys: "f1.yes", "champion.r2")
// Values are doubles; a comparison is 1 or 0; "and"/"or"/"not" treat non-zero as true; the
// whole expression holds when its value is non-zero. Comparisons chain no further (a < b < c
// is a syntax error).

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mlo::core {

class Expression {
public:
    // Throws mlo::Error "<shown>: column C: <why>" (1-based, in bytes) for a syntax error.
    static Expression parse(const std::string& text, const std::string& shown);

    struct Result {
        bool holds = false;
        // When it does not hold: each comparison that came out false, with the values of the
        // names in it: "accuracy >= 0.80 (accuracy = 0.7421)".
        std::vector<std::string> failed;
    };
    // Throws mlo::Error "<shown>: unknown name 'x' (known: a, b, ...)" when the expression uses a
    // name `values` does not have.
    Result evaluate(const std::map<std::string, double>& values) const;

    // Every name the expression uses, sorted and unique.
    std::vector<std::string> names() const;
    const std::string& text() const { return text_; }

    struct Node;

private:
    std::string text_, shown_;
    std::shared_ptr<const Node> root_;
};

}  // namespace mlo::core
