#include "core/validation.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <unordered_set>

#include <yaml-cpp/yaml.h>

#include "core/yaml_util.hpp"
#include "storage/error.hpp"

namespace mlo::core {

// The helpers live in their own namespace: in a unity build this file shares a translation
// unit with others, whose file-local helpers would otherwise meet these.
namespace schema_detail {
namespace {

constexpr size_t kNoRow = std::numeric_limits<size_t>::max();

// The shortest text that reads back as `v`, but whole numbers in full ("100000", not the
// shorter "1e+05") so that schemas read naturally.
std::string number_text(double v) {
    char buf[32];
    if (v == std::trunc(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

bool is_reserved_word(std::string_view s) {
    std::string lower(s);
    for (char& c : lower)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    for (const char* w : {"true", "false", "yes", "no", "on", "off", "null", "y", "n"})
        if (lower == w) return true;
    return false;
}

// A YAML scalar that every YAML reader takes as this exact string: plain when it is a simple
// word, else double-quoted with escapes (values are valid UTF-8, which passes through).
std::string yaml_scalar(std::string_view s) {
    bool plain = !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_') &&
                 !is_reserved_word(s);
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (!(std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == '/')) plain = false;
    }
    if (plain) return std::string(s);
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (u < 0x20 || u == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", u);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

// A value for messages: text in double quotes with control characters escaped, long values
// cut (at a UTF-8 character boundary).
std::string shown_text(std::string_view s) {
    constexpr size_t kMax = 60;
    bool cut = s.size() > kMax;
    if (cut) {
        size_t n = kMax;
        while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
            --n;
        s = s.substr(0, n);
    }
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (u < 0x20 || u == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + (cut ? "...\"" : "\"");
}

std::string share_text(double v) {
    return number_text(v);
}

// ------------------------------------------------------------------------------- parsing

using YAML::Node;

// The node an error about `value` points at: the value, or its key when the value is empty.
const Node& blame(const Node& key, const Node& value) {
    return value.IsDefined() && !value.IsNull() ? value : key;
}

double number_of(const Node& key, const Node& value, const fs::path& file,
                 const std::string& what) {
    const Node& at = blame(key, value);
    if (!value.IsScalar()) yaml_fail(file, at, what + " must be a number");
    const std::string& s = value.Scalar();
    if (auto d = csv_number(s)) return *d;
    yaml_fail(file, at, what + " must be a number, not " + quote(s));
}

double share_of(const Node& key, const Node& value, const fs::path& file, const std::string& what) {
    double d = number_of(key, value, file, what);
    if (d < 0 || d > 1)
        yaml_fail(file, value, what + " must be a share between 0 and 1, not " + number_text(d));
    return d;
}

uint64_t count_of(const Node& key, const Node& value, const fs::path& file,
                  const std::string& what) {
    if (!value.IsScalar())
        yaml_fail(file, blame(key, value), quote(what) + " must be a non-negative integer");
    return as_uint(value, file, what);
}

bool flag_of(const Node& key, const Node& value, const fs::path& file, const std::string& what) {
    if (!value.IsScalar()) yaml_fail(file, blame(key, value), what + " must be true or false");
    const std::string& s = value.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    yaml_fail(file, value, what + " must be true or false, not " + quote(s));
}

std::optional<SchemaType> schema_type(std::string_view s) {
    if (s == "integer") return SchemaType::integer;
    if (s == "numeric") return SchemaType::numeric;
    if (s == "boolean") return SchemaType::boolean;
    if (s == "categorical") return SchemaType::categorical;
    return std::nullopt;
}

ColumnSchema parse_column(const Node& name_node, const Node& body, const fs::path& file) {
    ColumnSchema c;
    c.name = name_node.Scalar();
    const std::string of = " of column " + quote(c.name);
    if (!body.IsMap())
        yaml_fail(file, blame(name_node, body),
                  "column " + quote(c.name) + " must be a mapping with at least 'type'");
    std::map<std::string, Node> keys;  // key -> its key node, for errors between keys
    for (auto it = body.begin(); it != body.end(); ++it) {
        const Node k = it->first;
        const Node v = it->second;
        std::string key = k.IsScalar() ? k.Scalar() : YAML::Dump(k);
        if (keys.count(key)) yaml_fail(file, k, "duplicate key " + quote(key) + of);
        keys.emplace(key, k);
        const std::string what = quote(key) + of;
        if (key == "type") {
            if (!v.IsScalar()) yaml_fail(file, blame(k, v), what + " must be a single value");
            auto t = schema_type(v.Scalar());
            if (!t)
                yaml_fail(file, v,
                          what + " must be integer, numeric, boolean or categorical, not " +
                              quote(v.Scalar()));
            c.type = *t;
        } else if (key == "min") {
            c.min = number_of(k, v, file, what);
        } else if (key == "max") {
            c.max = number_of(k, v, file, what);
        } else if (key == "domain") {
            if (!v.IsSequence()) yaml_fail(file, blame(k, v), what + " must be a list of values");
            std::vector<std::string> values;
            for (const auto& item : v) {
                if (!item.IsScalar())
                    yaml_fail(file, item.IsNull() ? v : item,
                              "the values in " + what + " must be single values");
                values.push_back(item.Scalar());
            }
            c.domain = std::move(values);
        } else if (key == "min_domain_mass") {
            c.min_domain_mass = share_of(k, v, file, what);
        } else if (key == "nullable") {
            c.nullable = flag_of(k, v, file, what);
        } else if (key == "max_null_fraction") {
            c.max_null_fraction = share_of(k, v, file, what);
        } else if (key == "unique") {
            c.unique = flag_of(k, v, file, what);
        } else if (key == "mostly") {
            c.mostly = share_of(k, v, file, what);
        } else {
            yaml_fail(file, k,
                      "unknown key " + quote(key) + " in column " + quote(c.name) +
                          " (use type, min, max, domain, min_domain_mass, nullable, "
                          "max_null_fraction, unique, mostly)");
        }
    }
    if (!keys.count("type"))
        yaml_fail(
            file, name_node,
            "column " + quote(c.name) + " needs 'type' (integer, numeric, boolean or categorical)");
    bool numeric = c.type == SchemaType::integer || c.type == SchemaType::numeric;
    for (const char* k : {"min", "max"})
        if (keys.count(k) && !numeric)
            yaml_fail(file, keys[k],
                      quote(k) + of + " needs type integer or numeric, not " + to_string(c.type));
    for (const char* k : {"domain", "min_domain_mass"})
        if (keys.count(k) && c.type != SchemaType::categorical)
            yaml_fail(file, keys[k],
                      quote(k) + of + " needs type categorical, not " + to_string(c.type));
    if (c.min_domain_mass && !c.domain)
        yaml_fail(file, keys["min_domain_mass"], "'min_domain_mass'" + of + " needs a 'domain'");
    if (c.min && c.max && *c.min > *c.max)
        yaml_fail(file, keys["max"],
                  "'max'" + of + " (" + number_text(*c.max) + ") is below its 'min' (" +
                      number_text(*c.min) + ")");
    if (!c.nullable && c.max_null_fraction)
        yaml_fail(file, keys["max_null_fraction"],
                  "column " + quote(c.name) +
                      " has both 'nullable: false' and 'max_null_fraction': keep one");
    return c;
}

// ------------------------------------------------------------------------------- checking

// A column's values as the schema sees them, whatever type the reader gave the column.
class Values {
public:
    Values(const Column& col, SchemaType type) : col_(col), type_(type) {
        if (col.type != ColumnType::categorical) return;
        numbers_.reserve(col.categories.size());
        booleans_.reserve(col.categories.size());
        for (const std::string& v : col.categories) {
            numbers_.push_back(csv_number(v));
            booleans_.push_back(csv_boolean(v).has_value());
        }
    }

    bool missing(size_t i) const {
        return col_.type == ColumnType::categorical ? col_.codes[i] < 0
                                                    : std::isnan(col_.numbers[i]);
    }
    std::optional<double> number(size_t i) const {
        switch (col_.type) {
            case ColumnType::numeric:
                return col_.numbers[i];
            case ColumnType::boolean:
                return std::nullopt;
            case ColumnType::categorical:
                return numbers_[size_t(col_.codes[i])];
        }
        return std::nullopt;
    }
    bool boolean(size_t i) const {
        switch (col_.type) {
            case ColumnType::numeric:
                return false;
            case ColumnType::boolean:
                return true;
            case ColumnType::categorical:
                return booleans_[size_t(col_.codes[i])];
        }
        return false;
    }
    // Shown in quotes: text, and values that are not of the schema's type ("abc" where numbers
    // are expected); numbers and booleans of the right type are shown bare.
    bool quoted(size_t i) const {
        switch (type_) {
            case SchemaType::integer:
            case SchemaType::numeric:
                return !number(i);
            case SchemaType::boolean:
                return !boolean(i);
            case SchemaType::categorical:
                return true;
        }
        return true;
    }
    std::string text(size_t i) const {
        switch (col_.type) {
            case ColumnType::numeric:
                return number_text(col_.numbers[i]);
            case ColumnType::boolean:
                return col_.numbers[i] != 0 ? "true" : "false";
            case ColumnType::categorical:
                return col_.categories[size_t(col_.codes[i])];
        }
        return "";
    }

private:
    const Column& col_;
    SchemaType type_;
    std::vector<std::optional<double>> numbers_;  // per category
    std::vector<bool> booleans_;                  // per category
};

// Counts one rule's offending values and keeps the first few as examples.
class Tally {
public:
    Tally(std::string column, std::string rule, std::string expected, double required, size_t keep)
        : keep_(keep) {
        r_.column = std::move(column);
        r_.rule = std::move(rule);
        r_.expected = std::move(expected);
        r_.required = required;
    }
    void fail(const Values& values, size_t row, size_t first_row = kNoRow) {
        ++r_.failing;
        if (r_.examples.size() >= keep_) return;
        Example e;
        e.row = row;
        if (!values.missing(row)) {
            e.value = values.text(row);
            e.text = values.quoted(row);
        }
        if (first_row != kNoRow) e.first_row = first_row;
        r_.examples.push_back(std::move(e));
    }
    void total(uint64_t n) { r_.total = n; }
    // Passes when at least `required` of the values satisfy the rule.
    RuleResult done() {
        r_.passed =
            r_.total == 0 || double(r_.total - r_.failing) / double(r_.total) >= r_.required;
        return std::move(r_);
    }
    // Passes when at most `fraction` of the values break the rule (max_null_fraction).
    RuleResult done_at_most(double fraction) {
        r_.passed = r_.total == 0 || double(r_.failing) / double(r_.total) <= fraction;
        return std::move(r_);
    }

private:
    RuleResult r_;
    size_t keep_;
};

std::string with_tolerance(std::string expected, const char* name, double share) {
    if (share < 1) expected += ", " + std::string(name) + " " + share_text(share);
    return expected;
}

std::string domain_text(const std::vector<std::string>& domain) {
    if (domain.empty()) return "no value (empty domain)";
    if (domain.size() <= 4) {
        std::string out = "one of ";
        for (size_t i = 0; i < domain.size(); ++i)
            out += (i ? ", " : "") + shown_text(domain[i]);
        return out;
    }
    return "one of " + std::to_string(domain.size()) + " values";
}

// Rows whose value an earlier row already had, with that first row, in row order.
std::vector<std::pair<size_t, size_t>> repeats(const Column& col, const Values& values,
                                               size_t rows) {
    std::vector<std::pair<size_t, size_t>> out;
    if (col.type == ColumnType::categorical) {
        std::vector<size_t> first(col.categories.size(), kNoRow);
        for (size_t i = 0; i < rows; ++i) {
            int32_t code = col.codes[i];
            if (code < 0) continue;
            size_t& f = first[size_t(code)];
            if (f == kNoRow)
                f = i;
            else
                out.emplace_back(i, f);
        }
        return out;
    }
    // Numbers: sort the rows by (value, row); each run of equal values repeats its first row.
    std::vector<size_t> order;
    for (size_t i = 0; i < rows; ++i)
        if (!values.missing(i)) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        double x = col.numbers[a], y = col.numbers[b];
        return x < y || (x == y && a < b);
    });
    for (size_t k = 1, start = 0; k < order.size(); ++k) {
        if (col.numbers[order[k]] == col.numbers[order[start]])
            out.emplace_back(order[k], order[start]);
        else
            start = k;
    }
    std::sort(out.begin(), out.end());
    return out;
}

void check_column(const Column& col, const ColumnSchema& cs, const Schema& schema, size_t rows,
                  size_t keep, std::vector<RuleResult>& out) {
    const double mostly = cs.mostly.value_or(schema.mostly);
    const Values values(col, cs.type);
    const bool numeric = cs.type == SchemaType::integer || cs.type == SchemaType::numeric;
    const bool integer = cs.type == SchemaType::integer;

    std::optional<Tally> type, min, max, domain, nulls;
    if (cs.type != SchemaType::categorical)  // any text is a categorical value
        type.emplace(cs.name, "type", with_tolerance(to_string(cs.type), "mostly", mostly), mostly,
                     keep);
    if (cs.min)
        min.emplace(cs.name, "min", with_tolerance(">= " + number_text(*cs.min), "mostly", mostly),
                    mostly, keep);
    if (cs.max)
        max.emplace(cs.name, "max", with_tolerance("<= " + number_text(*cs.max), "mostly", mostly),
                    mostly, keep);
    std::vector<char> in_domain;  // per category (the column is read as text)
    std::unordered_set<std::string_view> allowed;
    if (cs.domain) {
        double mass = cs.min_domain_mass.value_or(mostly);
        domain.emplace(cs.name, "domain",
                       with_tolerance(domain_text(*cs.domain),
                                      cs.min_domain_mass ? "min_domain_mass" : "mostly", mass),
                       mass, keep);
        allowed.insert(cs.domain->begin(), cs.domain->end());
        if (col.type == ColumnType::categorical)
            for (const std::string& v : col.categories)
                in_domain.push_back(allowed.count(v) ? 1 : 0);
    }
    if (!cs.nullable)
        nulls.emplace(cs.name, "nullable", with_tolerance("not missing", "mostly", mostly), mostly,
                      keep);
    else if (cs.max_null_fraction)
        nulls.emplace(cs.name, "max_null_fraction",
                      "missing share <= " + share_text(*cs.max_null_fraction),
                      1 - *cs.max_null_fraction, keep);

    uint64_t present = 0, numbers = 0;
    for (size_t i = 0; i < rows; ++i) {
        if (values.missing(i)) {
            if (nulls) nulls->fail(values, i);
            continue;
        }
        ++present;
        if (numeric) {
            std::optional<double> v = values.number(i);
            if (!v) {
                type->fail(values, i);
                continue;
            }
            if (integer && std::floor(*v) != *v) type->fail(values, i);
            ++numbers;
            if (min && *v < *cs.min) min->fail(values, i);
            if (max && *v > *cs.max) max->fail(values, i);
        } else if (cs.type == SchemaType::boolean) {
            if (!values.boolean(i)) type->fail(values, i);
        }
        if (domain) {
            bool ok = col.type == ColumnType::categorical ? in_domain[size_t(col.codes[i])] != 0
                                                          : allowed.count(values.text(i)) > 0;
            if (!ok) domain->fail(values, i);
        }
    }
    if (type) {
        type->total(present);
        out.push_back(type->done());
    }
    for (auto* t : {&min, &max}) {
        if (!*t) continue;
        (*t)->total(numbers);
        out.push_back((*t)->done());
    }
    if (domain) {
        domain->total(present);
        out.push_back(domain->done());
    }
    if (nulls) {
        nulls->total(rows);
        out.push_back(cs.nullable ? nulls->done_at_most(*cs.max_null_fraction) : nulls->done());
    }
    if (cs.unique) {
        Tally unique(cs.name, "unique", with_tolerance("unique", "mostly", mostly), mostly, keep);
        for (const auto& [row, first] : repeats(col, values, rows))
            unique.fail(values, row, first);
        unique.total(present);
        out.push_back(unique.done());
    }
}

RuleResult uncounted(std::string column, std::string rule, std::string expected,
                     std::string observed, bool passed) {
    RuleResult r;
    r.column = std::move(column);
    r.rule = std::move(rule);
    r.expected = std::move(expected);
    r.observed = std::move(observed);
    r.counted = false;
    r.passed = passed;
    return r;
}

std::string rows_text(uint64_t n) {
    return std::to_string(n) + (n == 1 ? " row" : " rows");
}

ValidationReport check_table(const Table& table, std::string_view text, const std::string& shown,
                             const Schema& schema, const ValidateOptions& options) {
    ValidationReport rep;
    rep.data = shown;
    rep.rows = table.rows;
    if (schema.min_rows)
        rep.rules.push_back(uncounted("", "min_rows", ">= " + rows_text(*schema.min_rows),
                                      rows_text(table.rows), table.rows >= *schema.min_rows));
    if (schema.max_rows)
        rep.rules.push_back(uncounted("", "max_rows", "<= " + rows_text(*schema.max_rows),
                                      rows_text(table.rows), table.rows <= *schema.max_rows));
    if (!schema.allow_extra_columns)
        for (const Column& col : table.columns)
            if (!schema.find(col.name))
                rep.rules.push_back(uncounted(col.name, "allow_extra_columns",
                                              "no column outside the schema", "not in the schema",
                                              false));
    for (const ColumnSchema& cs : schema.columns) {
        const Column* col = table.find(cs.name);
        if (!col) {
            rep.rules.push_back(
                uncounted(cs.name, "present", "a column of the data", "not in the header", false));
            continue;
        }
        check_column(*col, cs, schema, table.rows, options.examples, rep.rules);
    }

    // Line numbers, found in one pass over the text for just the rows shown.
    std::vector<size_t> wanted;
    for (const RuleResult& r : rep.rules)
        for (const Example& e : r.examples) {
            wanted.push_back(e.row);
            if (e.first_row) wanted.push_back(*e.first_row);
        }
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    std::vector<uint64_t> lines = record_start_lines(text, wanted);
    auto line_of = [&](size_t row) {
        return lines[size_t(std::lower_bound(wanted.begin(), wanted.end(), row) - wanted.begin())];
    };
    for (RuleResult& r : rep.rules)
        for (Example& e : r.examples) {
            e.line = line_of(e.row);
            if (e.first_row) e.first_line = line_of(*e.first_row);
        }
    return rep;
}

}  // namespace
}  // namespace schema_detail

const char* to_string(SchemaType t) {
    switch (t) {
        case SchemaType::integer:
            return "integer";
        case SchemaType::numeric:
            return "numeric";
        case SchemaType::boolean:
            return "boolean";
        case SchemaType::categorical:
            return "categorical";
    }
    return "?";
}

const ColumnSchema* Schema::find(std::string_view name) const {
    for (const ColumnSchema& c : columns)
        if (c.name == name) return &c;
    return nullptr;
}

size_t ValidationReport::failed() const {
    return size_t(
        std::count_if(rules.begin(), rules.end(), [](const RuleResult& r) { return !r.passed; }));
}

Schema infer_schema(const Table& table) {
    Schema s;
    s.observed_rows = table.rows;
    s.min_rows = 1;
    for (const Column& col : table.columns) {
        ColumnSchema c;
        c.name = col.name;
        c.nullable = col.missing > 0;
        const size_t present = table.rows - col.missing;
        if (present == 0) {
            // Nothing is known about the values: categorical accepts any.
            c.type = SchemaType::categorical;
            s.columns.push_back(std::move(c));
            continue;
        }
        switch (col.type) {
            case ColumnType::numeric: {
                double lo = std::numeric_limits<double>::infinity(), hi = -lo;
                bool whole = true;
                std::vector<double> seen;
                seen.reserve(present);
                for (double v : col.numbers) {
                    if (std::isnan(v)) continue;
                    lo = std::min(lo, v);
                    hi = std::max(hi, v);
                    whole = whole && std::floor(v) == v;
                    seen.push_back(v);
                }
                c.type = whole ? SchemaType::integer : SchemaType::numeric;
                c.min = lo;
                c.max = hi;
                // Measurements are distinct by chance; whole numbers that never repeat are
                // most likely identifiers.
                if (whole && present >= 2) {
                    std::sort(seen.begin(), seen.end());
                    c.unique = std::adjacent_find(seen.begin(), seen.end()) == seen.end();
                }
                break;
            }
            case ColumnType::boolean:
                c.type = SchemaType::boolean;
                break;
            case ColumnType::categorical: {
                c.type = SchemaType::categorical;
                std::vector<char> seen(col.categories.size(), 0);
                bool distinct = true;
                for (int32_t code : col.codes) {
                    if (code < 0) continue;
                    if (seen[size_t(code)]) {
                        distinct = false;
                        break;
                    }
                    seen[size_t(code)] = 1;
                }
                c.unique = distinct && present >= 2;
                // An identifier's values are no domain: new data brings new ones.
                if (!c.unique && col.categories.size() < kMaxInferredDomain) {
                    std::vector<std::string> d = col.categories;
                    std::sort(d.begin(), d.end());
                    c.domain = std::move(d);
                }
                break;
            }
        }
        s.columns.push_back(std::move(c));
    }
    return s;
}

std::string schema_to_yaml(const Schema& s, const std::string& data) {
    namespace d = schema_detail;
    std::string y;
    y += "# Schema of " + quote(data) +
         ". Rules, and their tolerances (mostly, min_domain_mass,\n"
         "# max_null_fraction): docs/validation.md. observed_rows is not a rule.\n";
    y += "schema: " + std::string(kSchemaFormat) + "\n";
    if (s.observed_rows) y += "observed_rows: " + std::to_string(*s.observed_rows) + "\n";
    if (s.min_rows) y += "min_rows: " + std::to_string(*s.min_rows) + "\n";
    if (s.max_rows) y += "max_rows: " + std::to_string(*s.max_rows) + "\n";
    if (s.mostly != 1.0) y += "mostly: " + d::share_text(s.mostly) + "\n";
    if (!s.allow_extra_columns) y += "allow_extra_columns: false\n";
    y += s.columns.empty() ? "columns: {}\n" : "columns:\n";
    for (const ColumnSchema& c : s.columns) {
        y += "  " + d::yaml_scalar(c.name) + ":\n";
        y += "    type: " + std::string(to_string(c.type)) + "\n";
        if (c.min) y += "    min: " + d::number_text(*c.min) + "\n";
        if (c.max) y += "    max: " + d::number_text(*c.max) + "\n";
        if (c.domain) {
            std::string flow;
            for (const std::string& v : *c.domain)
                flow += (flow.empty() ? "" : ", ") + d::yaml_scalar(v);
            if (flow.size() <= 80) {
                y += "    domain: [" + flow + "]\n";
            } else {
                y += "    domain:\n";
                for (const std::string& v : *c.domain)
                    y += "      - " + d::yaml_scalar(v) + "\n";
            }
        }
        if (c.min_domain_mass)
            y += "    min_domain_mass: " + d::share_text(*c.min_domain_mass) + "\n";
        y += std::string("    nullable: ") + (c.nullable ? "true" : "false") + "\n";
        if (c.max_null_fraction)
            y += "    max_null_fraction: " + d::share_text(*c.max_null_fraction) + "\n";
        if (c.unique) y += "    unique: true\n";
        if (c.mostly) y += "    mostly: " + d::share_text(*c.mostly) + "\n";
    }
    return y;
}

nlohmann::json schema_to_json(const Schema& s) {
    nlohmann::json j = {{"schema", kSchemaFormat},
                        {"mostly", s.mostly},
                        {"allow_extra_columns", s.allow_extra_columns}};
    auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    j["observed_rows"] = opt(s.observed_rows);
    j["min_rows"] = opt(s.min_rows);
    j["max_rows"] = opt(s.max_rows);
    nlohmann::json cols = nlohmann::json::array();
    for (const ColumnSchema& c : s.columns) {
        cols.push_back({{"name", c.name},
                        {"type", to_string(c.type)},
                        {"min", opt(c.min)},
                        {"max", opt(c.max)},
                        {"domain", opt(c.domain)},
                        {"min_domain_mass", opt(c.min_domain_mass)},
                        {"nullable", c.nullable},
                        {"max_null_fraction", opt(c.max_null_fraction)},
                        {"unique", c.unique},
                        {"mostly", opt(c.mostly)}});
    }
    j["columns"] = std::move(cols);
    return j;
}

Schema parse_schema(const std::string& text, const fs::path& file) {
    namespace d = schema_detail;
    YAML::Node doc = parse_yaml(text, file);
    if (!doc.IsDefined() || doc.IsNull())
        yaml_fail_at(file, -1, -1, "the schema is empty: it needs 'columns'");
    if (!doc.IsMap()) yaml_fail(file, doc, "a schema must be a mapping with 'columns'");
    Schema s;
    std::set<std::string> seen;
    bool has_columns = false;
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        std::string key = k.IsScalar() ? k.Scalar() : YAML::Dump(k);
        if (!seen.insert(key).second) yaml_fail(file, k, "duplicate key " + quote(key));
        if (key == "schema") {
            if (!v.IsScalar() || v.Scalar() != kSchemaFormat)
                yaml_fail(file, d::blame(k, v),
                          "'schema' must be " + quote(kSchemaFormat) +
                              (v.IsScalar() ? ", not " + quote(v.Scalar()) : std::string()) +
                              " (a schema of another version of mlo?)");
        } else if (key == "observed_rows") {
            s.observed_rows = d::count_of(k, v, file, key);
        } else if (key == "min_rows") {
            s.min_rows = d::count_of(k, v, file, key);
        } else if (key == "max_rows") {
            s.max_rows = d::count_of(k, v, file, key);
        } else if (key == "mostly") {
            s.mostly = d::share_of(k, v, file, quote(key));
        } else if (key == "allow_extra_columns") {
            s.allow_extra_columns = d::flag_of(k, v, file, quote(key));
        } else if (key == "columns") {
            has_columns = true;
            if (v.IsNull()) continue;
            if (!v.IsMap())
                yaml_fail(file, d::blame(k, v),
                          "'columns' must be a mapping of column names to their rules");
            std::set<std::string> names;
            for (auto c = v.begin(); c != v.end(); ++c) {
                if (!c->first.IsScalar() || c->first.Scalar().empty())
                    yaml_fail(file, c->first, "a column name must be a non-empty single value");
                if (!names.insert(c->first.Scalar()).second)
                    yaml_fail(file, c->first, "duplicate column " + quote(c->first.Scalar()));
                s.columns.push_back(d::parse_column(c->first, c->second, file));
            }
        } else {
            yaml_fail(file, k,
                      "unknown key " + quote(key) +
                          " (use schema, observed_rows, min_rows, max_rows, mostly, "
                          "allow_extra_columns, columns)");
        }
    }
    if (!has_columns) yaml_fail(file, doc, "the schema needs 'columns'");
    if (s.min_rows && s.max_rows && *s.min_rows > *s.max_rows)
        yaml_fail(file, doc["max_rows"], "'max_rows' is below 'min_rows'");
    s.source = file.string();
    return s;
}

Schema load_schema(const fs::path& file, const fs::path& shown) {
    std::string text;
    if (!read_file_if_exists(file, text))
        throw Error("cannot read schema " + quote(shown) + ": no such file");
    return parse_schema(text, shown);
}

ValidationReport validate_csv_text(std::string_view text, const std::string& shown,
                                   const Schema& schema, const ValidateOptions& options) {
    namespace d = schema_detail;
    CsvOptions csv;
    csv.jobs = options.jobs;
    // Categorical values are compared as text: "02139" must not become 2139 first.
    for (const ColumnSchema& c : schema.columns)
        if (c.type == SchemaType::categorical) csv.force_categorical.push_back(c.name);
    csv.force_if_present = true;
    Table table = parse_csv(text, shown, csv);
    ValidationReport rep = d::check_table(table, text, shown, schema, options);
    rep.schema = schema.source;
    return rep;
}

ValidationReport validate_csv_file(const fs::path& file, const std::string& shown,
                                   const Schema& schema, const ValidateOptions& options) {
    MappedFile map(file);
    return validate_csv_text(map.text(), shown, schema, options);
}

std::vector<uint64_t> record_start_lines(std::string_view text, const std::vector<size_t>& rows) {
    std::vector<uint64_t> out(rows.size(), 0);
    // In text the reader accepts, a quote outside a quoted field opens one and a quote inside
    // closes it or comes doubled, so the parity of the quotes before a line break tells whether
    // the break ends a record (the same rule the reader cuts its chunks by).
    const char* p = text.data();
    const char* end = p + text.size();
    uint64_t line = 1;
    size_t record = 0;  // 0 is the header; data row r is record r + 1
    size_t want = 0;
    bool in_quotes = false;
    while (want < rows.size()) {
        while (want < rows.size() && rows[want] + 1 == record)
            out[want++] = line;
        if (want == rows.size() || p == end) break;
        const void* hit = std::memchr(p, '\n', size_t(end - p));
        const char* stop = hit ? static_cast<const char*>(hit) : end;
        size_t quotes = 0;
        for (const char* q = p;
             (q = static_cast<const char*>(std::memchr(q, '"', size_t(stop - q)))) != nullptr; ++q)
            ++quotes;
        if (quotes % 2 == 1) in_quotes = !in_quotes;
        if (!hit) break;
        ++line;
        if (!in_quotes) ++record;
        p = stop + 1;
    }
    return out;
}

std::string describe_example(const Example& e) {
    namespace d = schema_detail;
    std::string out = "line " + std::to_string(e.line) + ": ";
    if (!e.value)
        out += "missing";
    else
        out += e.text ? d::shown_text(*e.value) : *e.value;
    if (e.first_row) out += " (also line " + std::to_string(e.first_line) + ")";
    return out;
}

std::string describe_failure(const RuleResult& r, size_t examples) {
    std::string out = r.column.empty() ? "" : "column " + quote(r.column) + " ";
    out += r.rule + " (" + r.expected + "): ";
    if (!r.counted) return out + r.observed;
    out += std::to_string(r.failing) + " of " + std::to_string(r.total) +
           (r.total == 1 ? " value" : " values") + " fail";
    for (size_t i = 0; i < r.examples.size() && i < examples; ++i)
        out += ", " + describe_example(r.examples[i]);
    if (r.failing > std::min(r.examples.size(), examples)) out += ", ...";
    return out;
}

std::string describe_invalid(const ValidationReport& rep) {
    constexpr size_t kShown = 3;
    size_t failed = rep.failed();
    std::string out = "data " + quote(rep.data) + " does not match schema " + quote(rep.schema) +
                      ": " + std::to_string(failed) + " of " + std::to_string(rep.rules.size()) +
                      " rules failed: ";
    size_t shown = 0;
    for (const RuleResult& r : rep.rules) {
        if (r.passed) continue;
        if (shown == kShown) {
            out += "; and " + std::to_string(failed - kShown) + " more";
            break;
        }
        out += (shown ? "; " : "") + describe_failure(r);
        ++shown;
    }
    return out;
}

}  // namespace mlo::core
