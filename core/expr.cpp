#include "core/expr.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "storage/error.hpp"

namespace mlo::core {

namespace {

enum class Op { number, name, neg, add, sub, mul, div, lt, le, gt, ge, eq, ne, and_, or_, not_ };

std::string format_number(double v) {
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0f", v);
        return buf;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

}  // namespace

struct Expression::Node {
    Op op = Op::number;
    double number = 0;
    std::string name;
    size_t begin = 0, end = 0;  // the node's text in the expression
    std::shared_ptr<const Node> a, b;
};

namespace {

using NodePtr = std::shared_ptr<const Expression::Node>;

class Parser {
public:
    Parser(const std::string& text, const std::string& shown) : s_(text), shown_(shown) {}

    NodePtr parse() {
        skip();
        if (pos_ == s_.size()) fail(pos_, "empty expression");
        NodePtr n = parse_or();
        skip();
        if (pos_ != s_.size()) fail(pos_, "unexpected " + quote(s_.substr(pos_, 1)));
        return n;
    }

private:
    [[noreturn]] void fail(size_t at, const std::string& why) const {
        throw Error(shown_ + ": column " + std::to_string(at + 1) + ": " + why);
    }

    void skip() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n'))
            ++pos_;
    }

    static bool name_start(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }
    static bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9') || c == '.'; }

    // The keyword at pos_ (a whole word), without consuming it.
    bool at_word(const char* w) {
        skip();
        size_t n = std::char_traits<char>::length(w);
        if (s_.compare(pos_, n, w) != 0) return false;
        return pos_ + n == s_.size() || !name_char(s_[pos_ + n]);
    }
    bool accept_word(const char* w) {
        if (!at_word(w)) return false;
        pos_ += std::char_traits<char>::length(w);
        return true;
    }
    bool accept(const char* sym) {
        skip();
        size_t n = std::char_traits<char>::length(sym);
        if (s_.compare(pos_, n, sym) != 0) return false;
        pos_ += n;
        return true;
    }

    static NodePtr binary(Op op, NodePtr a, NodePtr b) {
        auto n = std::make_shared<Expression::Node>();
        n->op = op;
        n->begin = a->begin;
        n->end = b->end;
        n->a = std::move(a);
        n->b = std::move(b);
        return n;
    }

    NodePtr parse_or() {
        NodePtr n = parse_and();
        while (accept_word("or") || accept("||"))
            n = binary(Op::or_, n, parse_and());
        return n;
    }
    NodePtr parse_and() {
        NodePtr n = parse_not();
        while (accept_word("and") || accept("&&"))
            n = binary(Op::and_, n, parse_not());
        return n;
    }
    NodePtr parse_not() {
        skip();
        size_t at = pos_;
        // "!" but not "!=".
        bool bang = pos_ + 1 <= s_.size() && s_.compare(pos_, 1, "!") == 0 &&
                    s_.compare(pos_, 2, "!=") != 0;
        if (bang) ++pos_;
        if (bang || accept_word("not")) {
            auto n = std::make_shared<Expression::Node>();
            n->op = Op::not_;
            n->a = parse_not();
            n->begin = at;
            n->end = n->a->end;
            return n;
        }
        return parse_compare();
    }
    NodePtr parse_compare() {
        NodePtr n = parse_sum();
        static const std::pair<const char*, Op> ops[] = {{"<=", Op::le}, {">=", Op::ge},
                                                         {"==", Op::eq}, {"!=", Op::ne},
                                                         {"<", Op::lt},  {">", Op::gt}};
        for (const auto& [sym, op] : ops) {
            if (accept(sym)) {
                n = binary(op, n, parse_sum());
                skip();
                for (const auto& [sym2, op2] : ops) {
                    (void)op2;
                    if (s_.compare(pos_, std::char_traits<char>::length(sym2), sym2) == 0)
                        fail(pos_, "comparisons do not chain; use 'and'");
                }
                break;
            }
        }
        return n;
    }
    NodePtr parse_sum() {
        NodePtr n = parse_product();
        for (;;) {
            if (accept("+"))
                n = binary(Op::add, n, parse_product());
            else if (accept("-"))
                n = binary(Op::sub, n, parse_product());
            else
                return n;
        }
    }
    NodePtr parse_product() {
        NodePtr n = parse_unary();
        for (;;) {
            if (accept("*"))
                n = binary(Op::mul, n, parse_unary());
            else if (accept("/"))
                n = binary(Op::div, n, parse_unary());
            else
                return n;
        }
    }
    NodePtr parse_unary() {
        skip();
        size_t at = pos_;
        if (accept("-")) {
            auto n = std::make_shared<Expression::Node>();
            n->op = Op::neg;
            n->a = parse_unary();
            n->begin = at;
            n->end = n->a->end;
            return n;
        }
        return parse_primary();
    }
    NodePtr parse_primary() {
        skip();
        size_t at = pos_;
        if (pos_ == s_.size()) fail(pos_, "expression ends too early");
        auto n = std::make_shared<Expression::Node>();
        n->begin = at;
        char c = s_[pos_];
        if (c == '(') {
            ++pos_;
            NodePtr inner = parse_or();
            if (!accept(")")) fail(pos_, "missing ')'");
            return inner;
        }
        if ((c >= '0' && c <= '9') || c == '.') {
            double v = 0;
            auto r = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), v);
            if (r.ec != std::errc()) fail(pos_, "bad number");
            pos_ = size_t(r.ptr - s_.data());
            if (pos_ < s_.size() && name_char(s_[pos_])) fail(pos_, "bad number");
            n->op = Op::number;
            n->number = v;
            n->end = pos_;
            return n;
        }
        if (name_start(c)) {
            size_t e = pos_;
            while (e < s_.size() && name_char(s_[e]))
                ++e;
            std::string word = s_.substr(pos_, e - pos_);
            if (word.back() == '.') fail(e - 1, "a name cannot end with '.'");
            if (word == "and" || word == "or" || word == "not")
                fail(pos_, "expected a value before " + quote(word));
            pos_ = e;
            n->end = e;
            if (word == "true" || word == "false") {
                n->op = Op::number;
                n->number = word == "true" ? 1 : 0;
            } else {
                n->op = Op::name;
                n->name = word;
            }
            return n;
        }
        fail(pos_, "unexpected " + quote(s_.substr(pos_, 1)));
    }

    const std::string& s_;
    const std::string& shown_;
    size_t pos_ = 0;
};

void collect_names(const Expression::Node& n, std::set<std::string>& out) {
    if (n.op == Op::name) out.insert(n.name);
    if (n.a) collect_names(*n.a, out);
    if (n.b) collect_names(*n.b, out);
}

}  // namespace

Expression Expression::parse(const std::string& text, const std::string& shown) {
    Expression e;
    e.text_ = text;
    e.shown_ = shown;
    e.root_ = Parser(e.text_, shown).parse();
    return e;
}

std::vector<std::string> Expression::names() const {
    std::set<std::string> s;
    if (root_) collect_names(*root_, s);
    return {s.begin(), s.end()};
}

Expression::Result Expression::evaluate(const std::map<std::string, double>& values) const {
    for (const auto& n : names()) {
        if (values.count(n)) continue;
        std::string known;
        size_t shown = 0;
        for (const auto& [k, v] : values) {
            (void)v;
            if (shown == 12) {
                known += ", ...";
                break;
            }
            known += (known.empty() ? "" : ", ") + k;
            ++shown;
        }
        throw Error(
            shown_ + ": unknown name " + quote(n) +
            (known.empty() ? std::string(" (nothing is known)") : " (known: " + known + ")"));
    }
    Result result;
    // Evaluates a node; records failed comparisons that decide the result. `record` is false
    // under "not", where a false comparison is what makes the whole hold.
    auto eval = [&](auto&& self, const Node& n, bool record) -> double {
        switch (n.op) {
            case Op::number:
                return n.number;
            case Op::name:
                return values.at(n.name);
            case Op::neg:
                return -self(self, *n.a, false);
            case Op::add:
                return self(self, *n.a, false) + self(self, *n.b, false);
            case Op::sub:
                return self(self, *n.a, false) - self(self, *n.b, false);
            case Op::mul:
                return self(self, *n.a, false) * self(self, *n.b, false);
            case Op::div:
                return self(self, *n.a, false) / self(self, *n.b, false);
            case Op::not_:
                return self(self, *n.a, !record) != 0 ? 0.0 : 1.0;
            case Op::and_: {
                // Both sides, so every failed comparison is reported.
                double a = self(self, *n.a, record), b = self(self, *n.b, record);
                return (a != 0 && b != 0) ? 1.0 : 0.0;
            }
            case Op::or_: {
                double a = self(self, *n.a, record), b = self(self, *n.b, record);
                return (a != 0 || b != 0) ? 1.0 : 0.0;
            }
            default:
                break;
        }
        double a = self(self, *n.a, false), b = self(self, *n.b, false);
        bool v = false;
        switch (n.op) {
            case Op::lt:
                v = a < b;
                break;
            case Op::le:
                v = a <= b;
                break;
            case Op::gt:
                v = a > b;
                break;
            case Op::ge:
                v = a >= b;
                break;
            case Op::eq:
                v = a == b;
                break;
            case Op::ne:
                v = a != b;
                break;
            default:
                break;
        }
        if (!v && record) {
            std::set<std::string> used;
            collect_names(n, used);
            std::string why = text_.substr(n.begin, n.end - n.begin);
            std::string vals;
            for (const auto& u : used)
                vals += (vals.empty() ? "" : ", ") + u + " = " + format_number(values.at(u));
            if (!vals.empty()) why += " (" + vals + ")";
            result.failed.push_back(why);
        }
        return v ? 1.0 : 0.0;
    };
    result.holds = eval(eval, *root_, true) != 0;
    if (result.holds) result.failed.clear();
    return result;
}

}  // namespace mlo::core
