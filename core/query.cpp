#include "core/query.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>

#include "storage/error.hpp"

namespace mlo::core {

namespace {

enum class Kind { and_, or_, not_, compare };
enum class Cmp { eq, ne, lt, le, gt, ge, glob, not_glob };

// Longest first, so "<=" is not read as "<" followed by "=".
constexpr std::pair<std::string_view, Cmp> kOperators[] = {
    {"==", Cmp::eq}, {"!=", Cmp::ne}, {"!~", Cmp::not_glob}, {"<=", Cmp::le}, {">=", Cmp::ge},
    {"=", Cmp::eq},  {"<", Cmp::lt},  {">", Cmp::gt},        {"~", Cmp::glob}};

// The whole of `s` as a number, the way a string field or a quoted literal is read.
std::optional<double> parse_number(std::string_view s) {
    double v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

std::string number_text(double v) {
    if (v == 0) v = 0;  // -0 reads as "0"
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

int sign(int c) {
    return (c > 0) - (c < 0);
}

// Numbers in a total order, NaN after everything else, so --sort has a strict weak ordering.
int compare_numbers(double a, double b) {
    bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return int(na) - int(nb);
    return (a > b) - (a < b);
}

}  // namespace

struct RunQuery::Node {
    Kind kind = Kind::compare;
    Cmp cmp = Cmp::eq;
    std::string field;
    // The literal: its text as written (a quoted one without quotes and escapes), and its
    // number when it is a NUMBER, "true"/"false", or a string that reads as a number.
    bool number_literal = false;
    std::string text;
    std::optional<double> number;
    std::shared_ptr<const Node> a, b;
};

namespace {

using NodePtr = std::shared_ptr<const RunQuery::Node>;

class Parser {
public:
    Parser(const std::string& text, const std::string& shown) : s_(text), shown_(shown) {}

    NodePtr parse() {
        skip();
        if (pos_ == s_.size()) fail(pos_, "empty expression");
        NodePtr n = parse_or();
        skip();
        if (pos_ == s_.size()) return n;
        if (s_[pos_] == ')') fail(pos_, "unmatched ')'");
        fail(pos_, "unexpected " + quote(token_at(pos_)));
    }

private:
    [[noreturn]] void fail(size_t at, const std::string& why) const {
        throw Error(shown_ + ": column " + std::to_string(at + 1) + ": " + why);
    }

    void skip() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n'))
            ++pos_;
    }

    static bool word_start(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }
    static bool word_char(char c) {
        return word_start(c) || (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '/' ||
               c == '-';
    }
    static bool pattern_char(char c) {
        return word_char(c) || c == '*' || c == '?' || c == '[' || c == ']' || c == '!' || c == '^';
    }
    static bool is_keyword(const std::string& w) { return w == "and" || w == "or" || w == "not"; }

    size_t word_end(size_t at) const {
        while (at < s_.size() && word_char(s_[at]))
            ++at;
        return at;
    }
    // What an error message shows as found at `at`: a whole word, or one character.
    std::string token_at(size_t at) const {
        size_t e = word_end(at);
        return s_.substr(at, e > at ? e - at : 1);
    }

    bool accept_word(const char* w) {
        skip();
        size_t n = std::char_traits<char>::length(w);
        if (s_.compare(pos_, n, w) != 0 || (pos_ + n < s_.size() && word_char(s_[pos_ + n])))
            return false;
        pos_ += n;
        return true;
    }
    bool accept(const char* sym) {
        skip();
        size_t n = std::char_traits<char>::length(sym);
        if (s_.compare(pos_, n, sym) != 0) return false;
        pos_ += n;
        return true;
    }
    // The comparison operator at pos_, without consuming it.
    std::optional<std::pair<std::string_view, Cmp>> operator_at() const {
        std::string_view rest(s_);
        rest.remove_prefix(pos_);
        for (const auto& op : kOperators)
            if (rest.substr(0, op.first.size()) == op.first) return op;
        return std::nullopt;
    }

    static NodePtr combine(Kind kind, NodePtr a, NodePtr b) {
        auto n = std::make_shared<RunQuery::Node>();
        n->kind = kind;
        n->a = std::move(a);
        n->b = std::move(b);
        return n;
    }

    NodePtr parse_or() {
        NodePtr n = parse_and();
        while (accept_word("or") || accept("||"))
            n = combine(Kind::or_, n, parse_and());
        return n;
    }
    NodePtr parse_and() {
        NodePtr n = parse_not();
        while (accept_word("and") || accept("&&"))
            n = combine(Kind::and_, n, parse_not());
        return n;
    }
    NodePtr parse_not() {
        skip();
        // "!" but not "!=" or "!~" (which are an operator with its field missing).
        bool bang = pos_ < s_.size() && s_[pos_] == '!' && !operator_at();
        if (bang) ++pos_;
        if (bang || accept_word("not")) return combine(Kind::not_, parse_not(), nullptr);
        if (accept("(")) {
            NodePtr inner = parse_or();
            if (!accept(")")) fail(pos_, "missing ')'");
            return inner;
        }
        return parse_compare();
    }

    NodePtr parse_compare() {
        auto n = std::make_shared<RunQuery::Node>();
        skip();
        size_t field_at = pos_;
        if (pos_ < s_.size() && s_[pos_] == '`') {
            size_t close = s_.find('`', pos_ + 1);
            if (close == std::string::npos) fail(pos_, "unterminated '`'");
            if (close == pos_ + 1) fail(pos_, "empty field name");
            n->field = s_.substr(pos_ + 1, close - pos_ - 1);
            pos_ = close + 1;
        } else if (pos_ < s_.size() && word_start(s_[pos_])) {
            size_t e = word_end(pos_);
            n->field = s_.substr(pos_, e - pos_);
            if (is_keyword(n->field)) fail(pos_, "expected a field name before " + quote(n->field));
            pos_ = e;
        } else {
            fail(pos_, "expected a field name");
        }
        std::string field_shown = s_.substr(field_at, pos_ - field_at);

        skip();
        auto op = operator_at();
        if (!op) fail(pos_, "expected an operator after " + quote(field_shown));
        pos_ += op->first.size();
        n->cmp = op->second;
        parse_literal(*n, "expected a value after " + quote(std::string(op->first)));

        skip();
        if (operator_at()) fail(pos_, "comparisons do not chain; use 'and'");
        return n;
    }

    void parse_literal(RunQuery::Node& n, const std::string& missing) {
        skip();
        size_t at = pos_;
        if (pos_ == s_.size()) fail(pos_, missing);
        char c = s_[pos_];
        bool glob = n.cmp == Cmp::glob || n.cmp == Cmp::not_glob;
        if (c == '\'' || c == '"') {
            n.text = quoted_string();
            if (!glob) n.number = parse_number(n.text);
            return;
        }
        if (glob) {
            while (pos_ < s_.size() && pattern_char(s_[pos_]))
                ++pos_;
            n.text = s_.substr(at, pos_ - at);
            if (n.text.empty() || is_keyword(n.text)) fail(at, missing);
            return;
        }
        if ((c >= '0' && c <= '9') || c == '.' || c == '-') {
            double v = 0;
            auto r = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), v);
            size_t e = size_t(r.ptr - s_.data());
            if (r.ec != std::errc() || (e < s_.size() && word_char(s_[e])))
                fail(at, "bad number " + quote(s_.substr(at, std::max(word_end(at), at + 1) - at)));
            pos_ = e;
            n.number_literal = true;
            n.number = v;
            n.text = s_.substr(at, e - at);
            return;
        }
        if (!word_start(c)) fail(at, missing);
        pos_ = word_end(pos_);
        n.text = s_.substr(at, pos_ - at);
        if (is_keyword(n.text)) fail(at, missing);
        if (n.text == "true" || n.text == "false") {
            n.number_literal = true;
            n.number = n.text == "true" ? 1 : 0;
        } else {
            n.number = parse_number(n.text);  // "inf", "nan"
        }
    }

    // A '...' or "..." string at pos_; a backslash escapes the enclosing quote and itself.
    std::string quoted_string() {
        size_t at = pos_;
        char q = s_[pos_++];
        std::string out;
        while (pos_ < s_.size() && s_[pos_] != q) {
            if (s_[pos_] == '\\' && pos_ + 1 < s_.size() &&
                (s_[pos_ + 1] == q || s_[pos_ + 1] == '\\'))
                ++pos_;
            out += s_[pos_++];
        }
        if (pos_ == s_.size()) fail(at, "unterminated string");
        ++pos_;
        return out;
    }

    const std::string& s_;
    const std::string& shown_;
    size_t pos_ = 0;
};

void collect_fields(const RunQuery::Node& n, std::set<std::string>& out) {
    if (n.kind == Kind::compare) out.insert(n.field);
    if (n.a) collect_fields(*n.a, out);
    if (n.b) collect_fields(*n.b, out);
}

// One comparison; false whenever there is no value to compare (missing, NaN).
bool compare(const RunQuery::Node& n, const FieldValue& v) {
    if (std::holds_alternative<std::monostate>(v)) return false;
    if (n.cmp == Cmp::glob || n.cmp == Cmp::not_glob)
        return glob_match(n.text, field_value_text(v)) == (n.cmp == Cmp::glob);

    // Numerically when both sides are (or read as) numbers, else bytewise on the texts.
    std::optional<double> x, y;
    std::string x_text;
    if (const double* d = std::get_if<double>(&v)) {
        x = *d;
        y = n.number;
        if (!y) x_text = number_text(*d);
    } else {
        x_text = std::get<std::string>(v);
        if (n.number_literal) x = parse_number(x_text);
        if (x) y = n.number;
    }
    int c = 0;
    if (x && y) {
        if (std::isnan(*x) || std::isnan(*y)) return false;
        c = compare_numbers(*x, *y);
    } else {
        if (x && std::isnan(*x)) return false;
        c = sign(x_text.compare(n.text));
    }
    switch (n.cmp) {
        case Cmp::eq:
            return c == 0;
        case Cmp::ne:
            return c != 0;
        case Cmp::lt:
            return c < 0;
        case Cmp::le:
            return c <= 0;
        case Cmp::gt:
            return c > 0;
        case Cmp::ge:
            return c >= 0;
        default:
            return false;
    }
}

bool evaluate(const RunQuery::Node& n,
              const std::function<FieldValue(const std::string&)>& lookup) {
    switch (n.kind) {
        case Kind::and_:
            return evaluate(*n.a, lookup) && evaluate(*n.b, lookup);
        case Kind::or_:
            return evaluate(*n.a, lookup) || evaluate(*n.b, lookup);
        case Kind::not_:
            return !evaluate(*n.a, lookup);
        case Kind::compare:
            break;
    }
    return compare(n, lookup(n.field));
}

// The length of the bracket expression at pattern[p] == '[' and whether it matches `c`; 0 when
// it has no closing ']' (then the '[' is an ordinary character, as in fnmatch).
size_t match_class(const std::string& pattern, size_t p, unsigned char c, bool& matched) {
    size_t i = p + 1;
    bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
    if (negate) ++i;
    matched = false;
    // A ']' right after '[' or '[!' is a member, not the end.
    for (bool first = true;; first = false) {
        if (i >= pattern.size()) return 0;
        if (pattern[i] == ']' && !first) break;
        auto next = [&]() -> unsigned char {
            if (pattern[i] == '\\' && i + 1 < pattern.size()) ++i;
            return (unsigned char)pattern[i++];
        };
        unsigned char lo = next(), hi = lo;
        if (i + 1 < pattern.size() && pattern[i] == '-' && pattern[i + 1] != ']') {
            ++i;
            hi = next();
        }
        if (lo <= c && c <= hi) matched = true;
    }
    matched = matched != negate;
    return i + 1 - p;
}

}  // namespace

RunQuery RunQuery::parse(const std::string& text, const std::string& shown) {
    RunQuery q;
    q.text_ = text;
    q.root_ = Parser(q.text_, shown).parse();
    std::set<std::string> fields;
    collect_fields(*q.root_, fields);
    q.fields_.assign(fields.begin(), fields.end());
    return q;
}

bool RunQuery::matches(const std::function<FieldValue(const std::string&)>& lookup) const {
    return !root_ || evaluate(*root_, lookup);
}

int compare_field_values(const FieldValue& a, const FieldValue& b) {
    // Variant order is missing, number, string; missing goes last.
    auto rank = [](const FieldValue& v) { return v.index() == 0 ? 3 : int(v.index()); };
    if (rank(a) != rank(b)) return rank(a) < rank(b) ? -1 : 1;
    if (const double* x = std::get_if<double>(&a)) return compare_numbers(*x, std::get<double>(b));
    if (const std::string* x = std::get_if<std::string>(&a))
        return sign(x->compare(std::get<std::string>(b)));
    return 0;
}

bool glob_match(const std::string& pattern, const std::string& text) {
    // Backtracks only to the last '*', which is enough: an earlier '*' could only absorb text
    // the last one can absorb as well. Linear in practice, O(n*m) at worst.
    size_t p = 0, t = 0;
    size_t star_p = std::string::npos, star_t = 0;
    while (t < text.size()) {
        if (p < pattern.size()) {
            char c = pattern[p];
            if (c == '*') {
                star_p = ++p;
                star_t = t;
                continue;
            }
            if (c == '?') {
                ++p;
                ++t;
                continue;
            }
            size_t len = 0;
            bool matched = false;
            if (c == '[') len = match_class(pattern, p, (unsigned char)text[t], matched);
            if (len > 0 && matched) {
                p += len;
                ++t;
                continue;
            }
            if (len == 0) {
                size_t n = 1;
                if (c == '\\' && p + 1 < pattern.size()) {
                    c = pattern[p + 1];
                    n = 2;
                }
                if (c == text[t]) {
                    p += n;
                    ++t;
                    continue;
                }
            }
        }
        if (star_p == std::string::npos) return false;
        p = star_p;
        t = ++star_t;
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

std::string field_value_text(const FieldValue& v) {
    if (const double* d = std::get_if<double>(&v)) return number_text(*d);
    if (const std::string* s = std::get_if<std::string>(&v)) return *s;
    return "";
}

}  // namespace mlo::core
