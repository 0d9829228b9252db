#include "core/scoring.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "storage/error.hpp"

namespace mlo::core {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& why) {
    throw RequestError(400, why);
}
[[noreturn]] void unprocessable(const std::string& why) {
    throw RequestError(422, why);
}

std::string shown_value(const json& v) {
    std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

void require_rows(RequestRows& out, size_t n, const char* what) {
    if (out.columns.empty()) {
        out.rows = n;
        return;
    }
    if (out.rows != n)
        unprocessable(std::string(what) + ": columns have different lengths (" +
                      std::to_string(out.rows) + " and " + std::to_string(n) + ")");
}

size_t add_column(RequestRows& out, const std::string& name) {
    for (size_t i = 0; i < out.columns.size(); ++i)
        if (out.columns[i] == name) return i;
    out.columns.push_back(name);
    out.values.emplace_back();
    return out.columns.size() - 1;
}

// [[row], ...] in `names` order.
void from_lists(const json& data, const std::vector<std::string>& names, RequestRows& out,
                const char* what) {
    if (names.empty())
        unprocessable(std::string(what) +
                      ": rows given as lists need column names (use dataframe_split or records)");
    out.columns = names;
    out.values.assign(names.size(), {});
    for (auto& col : out.values)
        col.reserve(data.size());
    size_t r = 0;
    for (auto it = data.begin(); it != data.end(); ++it, ++r) {
        const json& row = *it;
        if (!row.is_array())
            bad(std::string(what) + ": row " + std::to_string(r + 1) + " is not a list");
        if (row.size() != names.size())
            unprocessable(std::string(what) + ": row " + std::to_string(r + 1) + " has " +
                          std::to_string(row.size()) + " values, expected " +
                          std::to_string(names.size()));
        for (size_t c = 0; c < names.size(); ++c)
            out.values[c].push_back(row[c]);
    }
    out.rows = r;
}

// [{"col": v, ...}, ...]; a key missing from a row is a missing value there.
void from_records(const json& data, RequestRows& out, const char* what) {
    size_t r = 0;
    for (auto it = data.begin(); it != data.end(); ++it, ++r) {
        const json& row = *it;
        if (!row.is_object())
            bad(std::string(what) + ": record " + std::to_string(r + 1) + " is not an object");
        for (auto f = row.begin(); f != row.end(); ++f) {
            size_t c = add_column(out, f.key());
            auto& col = out.values[c];
            if (col.size() < r) col.resize(r);  // a column first seen in a later record
            col.push_back(f.value());
        }
        for (auto& col : out.values)
            if (col.size() < r + 1) col.resize(r + 1);
    }
    out.rows = r;
}

void from_rows_any(const json& data, const std::vector<std::string>& features, RequestRows& out,
                   const char* what) {
    if (!data.is_array()) bad(std::string(what) + " must be a list");
    if (data.empty()) bad(std::string(what) + " is empty");
    const json& first = data.front();
    if (first.is_object()) return from_records(data, out, what);
    if (first.is_array()) return from_lists(data, features, out, what);
    // A list of scalars: one value per row of a single-feature model.
    if (features.size() != 1)
        unprocessable(std::string(what) + ": a list of values needs a model with one feature");
    out.columns = features;
    out.values.assign(1, {});
    for (auto it = data.begin(); it != data.end(); ++it)
        out.values[0].push_back(*it);
    out.rows = data.size();
}

void from_split(const json& split, RequestRows& out) {
    if (!split.is_object()) bad("dataframe_split must be an object");
    auto cols = split.find("columns");
    auto data = split.find("data");
    if (data == split.end() || !data->is_array()) bad("dataframe_split needs a 'data' list");
    std::vector<std::string> names;
    if (cols != split.end()) {
        if (!cols->is_array()) bad("dataframe_split 'columns' must be a list of names");
        for (auto it = cols->begin(); it != cols->end(); ++it) {
            if (!it->is_string()) bad("dataframe_split 'columns' must be a list of names");
            names.push_back(it->get<std::string>());
        }
    }
    if (names.empty()) unprocessable("dataframe_split needs 'columns'");
    from_lists(*data, names, out, "dataframe_split");
}

void from_column_dict(const json& dict, RequestRows& out) {
    bool first = true;
    for (auto it = dict.begin(); it != dict.end(); ++it) {
        size_t c = add_column(out, it.key());
        const json& v = it.value();
        size_t n = v.is_array() ? v.size() : 1;
        if (first) out.rows = n;
        first = false;
        if (n != out.rows)
            unprocessable("inputs: column '" + it.key() + "' has " + std::to_string(n) +
                          " values, others " + std::to_string(out.rows));
        if (v.is_array())
            out.values[c].assign(v.begin(), v.end());
        else
            out.values[c].push_back(v);
    }
    if (out.columns.empty()) bad("inputs is empty");
}

void flatten(const json& v, std::vector<json>& out) {
    if (!v.is_array()) {
        out.push_back(v);
        return;
    }
    for (auto it = v.begin(); it != v.end(); ++it)
        flatten(*it, out);
}

void from_v2(const json& doc, const std::vector<std::string>& features, RequestRows& out) {
    auto inputs = doc.find("inputs");
    if (inputs == doc.end() || !inputs->is_array() || inputs->empty())
        bad("a V2 request needs a non-empty 'inputs' list of tensors");
    if (auto id = doc.find("id"); id != doc.end() && id->is_string())
        out.id = id->get<std::string>();
    bool first = true;
    for (auto it = inputs->begin(); it != inputs->end(); ++it) {
        const json& t = *it;
        if (!t.is_object()) bad("V2 'inputs' must hold tensor objects");
        auto name = t.find("name");
        auto shape = t.find("shape");
        auto data = t.find("data");
        if (name == t.end() || !name->is_string()) bad("a V2 tensor needs a 'name'");
        if (shape == t.end() || !shape->is_array() || shape->empty())
            bad("V2 tensor '" + name->get<std::string>() + "' needs a 'shape'");
        if (data == t.end()) bad("V2 tensor '" + name->get<std::string>() + "' needs 'data'");
        std::vector<int64_t> dims;
        int64_t count = 1;
        for (auto d = shape->begin(); d != shape->end(); ++d) {
            if (!d->is_number_integer() || d->get<int64_t>() < 0)
                bad("V2 tensor '" + name->get<std::string>() + "': bad shape");
            dims.push_back(d->get<int64_t>());
            count *= dims.back();
        }
        std::vector<json> flat;
        flatten(*data, flat);
        const std::string tname = name->get<std::string>();
        if (int64_t(flat.size()) != count)
            unprocessable("V2 tensor '" + tname + "': shape holds " + std::to_string(count) +
                          " values, data has " + std::to_string(flat.size()));
        const size_t n = size_t(dims[0]);
        const size_t k = dims.size() >= 2 ? size_t(count / std::max<int64_t>(dims[0], 1)) : 1;
        if (k > 1 || (inputs->size() == 1 && dims.size() == 2 && !features.empty() &&
                      std::find(features.begin(), features.end(), tname) == features.end())) {
            // One 2-D tensor: its columns are the model's features, in order.
            if (inputs->size() != 1)
                unprocessable("V2 tensor '" + tname + "' has " + std::to_string(k) +
                              " columns; send one 2-D tensor or one tensor per column");
            if (features.empty() || k != features.size())
                unprocessable("V2 tensor '" + tname + "' has " + std::to_string(k) +
                              " columns, the model has " + std::to_string(features.size()) +
                              " features");
            out.columns = features;
            out.values.assign(k, {});
            for (size_t c = 0; c < k; ++c) {
                out.values[c].reserve(n);
                for (size_t r = 0; r < n; ++r)
                    out.values[c].push_back(std::move(flat[r * k + c]));
            }
            out.rows = n;
            return;
        }
        if (first) out.rows = n;
        first = false;
        require_rows(out, n, "V2 inputs");
        size_t c = add_column(out, tname);
        out.values[c] = std::move(flat);
    }
}

std::string number_text(double v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

bool is_true_word(std::string_view s) {
    return s == "true" || s == "True" || s == "TRUE";
}
bool is_false_word(std::string_view s) {
    return s == "false" || s == "False" || s == "FALSE";
}

std::optional<double> number_of(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

[[noreturn]] void wrong_value(const std::string& column, size_t row, const json& v,
                              const char* expected) {
    unprocessable("column '" + column + "', row " + std::to_string(row + 1) + ": expected " +
                  expected + ", got " + shown_value(v));
}

Column numeric_column(const std::string& name, const std::vector<json>& vals) {
    Column col;
    col.name = name;
    col.type = ColumnType::numeric;
    col.numbers.resize(vals.size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (size_t i = 0; i < vals.size(); ++i) {
        const json& v = vals[i];
        double x = nan;
        if (v.is_number()) {
            x = v.get<double>();
        } else if (v.is_boolean()) {
            x = v.get<bool>() ? 1 : 0;
        } else if (v.is_string()) {
            const std::string& s = v.get_ref<const std::string&>();
            if (is_missing_value(s)) {
                x = nan;
            } else if (is_true_word(s)) {
                x = 1;
            } else if (is_false_word(s)) {
                x = 0;
            } else if (auto d = number_of(s)) {
                x = *d;
            } else {
                wrong_value(name, i, v, "a number");
            }
        } else if (!v.is_null()) {
            wrong_value(name, i, v, "a number");
        }
        if (std::isnan(x)) ++col.missing;
        col.numbers[i] = x;
    }
    return col;
}

Column categorical_column(const std::string& name, const std::vector<json>& vals) {
    bool numbers = true, bools = true, any = false;
    for (size_t i = 0; i < vals.size(); ++i) {
        const json& v = vals[i];
        if (v.is_null()) continue;
        if (!v.is_number() && !v.is_boolean() && !v.is_string())
            wrong_value(name, i, v, "a category (a string)");
        any = true;
        numbers = numbers && v.is_number();
        bools = bools && v.is_boolean();
    }
    // All numbers (or all booleans): predict() matches them to the categories by value, as it
    // does for a CSV column that read as numbers.
    if (any && (numbers || bools)) {
        Column c = numeric_column(name, vals);
        if (bools) c.type = ColumnType::boolean;
        return c;
    }
    Column col;
    col.name = name;
    col.type = ColumnType::categorical;
    col.codes.resize(vals.size());
    std::unordered_map<std::string, int32_t> index;
    for (size_t i = 0; i < vals.size(); ++i) {
        const json& v = vals[i];
        std::string text;
        if (v.is_null()) {
            col.codes[i] = -1;
            ++col.missing;
            continue;
        }
        if (v.is_string())
            text = v.get<std::string>();
        else if (v.is_boolean())
            text = v.get<bool>() ? "true" : "false";
        else if (v.is_number_integer())
            text = v.dump();
        else
            text = number_text(v.get<double>());
        if (is_missing_value(text)) {
            col.codes[i] = -1;
            ++col.missing;
            continue;
        }
        auto [it, fresh] = index.try_emplace(text, int32_t(col.categories.size()));
        if (fresh) col.categories.push_back(text);
        col.codes[i] = it->second;
    }
    return col;
}

const char* error_code(int status) {
    switch (status) {
        case 400:
            return "MALFORMED_REQUEST";
        case 401:
            return "UNAUTHENTICATED";
        case 404:
            return "RESOURCE_DOES_NOT_EXIST";
        case 405:
            return "METHOD_NOT_ALLOWED";
        case 413:
            return "REQUEST_TOO_LARGE";
        case 415:
            return "UNSUPPORTED_MEDIA_TYPE";
        case 422:
            return "INVALID_PARAMETER_VALUE";
        case 503:
            return "TEMPORARILY_UNAVAILABLE";
        default:
            return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
    }
}

// The JSON text of each class label, typed like the training target.
std::vector<std::string> class_labels(const Model& m) {
    std::vector<std::string> out;
    out.reserve(m.classes.size());
    for (const auto& c : m.classes) {
        if (m.target_type == ColumnType::numeric)
            out.push_back(c);  // the shortest round-trip text of a number is JSON
        else if (m.target_type == ColumnType::boolean)
            out.push_back(c == "true" ? "true" : "false");
        else
            out.push_back(json(c).dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return out;
}

void append_number(std::string& out, double v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_predictions(std::string& out, const Model& m, const Predictions& p) {
    out += '[';
    if (m.is_classifier()) {
        std::vector<std::string> labels = class_labels(m);
        for (size_t i = 0; i < p.rows; ++i) {
            if (i) out += ',';
            out += labels[size_t(p.labels[i])];
        }
    } else {
        for (size_t i = 0; i < p.rows; ++i) {
            if (i) out += ',';
            append_number(out, p.values[i]);
        }
    }
    out += ']';
}

void append_proba_rows(std::string& out, const Predictions& p, size_t k) {
    out += '[';
    for (size_t i = 0; i < p.rows; ++i) {
        if (i) out += ',';
        out += '[';
        for (size_t c = 0; c < k; ++c) {
            if (c) out += ',';
            append_number(out, p.proba[i * k + c]);
        }
        out += ']';
    }
    out += ']';
}

std::string json_string(const std::string& s) {
    return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

// The common body, {"dataframe_split": {"columns": [...], "data": [[...], ...]}} (what MLflow's
// clients send), read straight into RequestRows without building a document first: a third
// of a 100-row request's time went to the document's allocations. Anything else (another
// layout, "params", "index", escapes other than the simple ones, a ragged row, bad JSON)
// returns false and the general parser reads the body, with its error messages.
class SplitReader {
public:
    explicit SplitReader(std::string_view text) : s_(text) {}

    bool read(RequestRows& out) {
        if (!lit('{') || !key("dataframe_split") || !lit(':') || !lit('{')) return false;
        bool have_cols = false, have_data = false;
        size_t data_at = 0, data_end = 0;
        std::vector<json> cells;  // row-major
        size_t width = 0;
        while (true) {
            std::string k;
            if (!string(k) || !lit(':')) return false;
            if (k == "columns" && !have_cols) {
                if (!lit('[')) return false;
                if (!lit(']')) {
                    do {
                        std::string name;
                        if (!string(name)) return false;
                        out.columns.push_back(std::move(name));
                    } while (lit(','));
                    if (!lit(']')) return false;
                }
                have_cols = true;
            } else if (k == "data" && !have_data) {
                skip();
                data_at = i_;
                if (!lit('[')) return false;
                if (!lit(']')) {
                    do {
                        if (!lit('[')) return false;
                        size_t n = 0;
                        if (!lit(']')) {
                            do {
                                if (!scalar(cells)) return false;
                                ++n;
                            } while (lit(','));
                            if (!lit(']')) return false;
                        }
                        if (out.rows == 0) width = n;
                        if (n != width) return false;
                        ++out.rows;
                    } while (lit(','));
                    if (!lit(']')) return false;
                }
                data_end = i_;
                have_data = true;
            } else {
                return false;
            }
            if (lit('}')) break;
            if (!lit(',')) return false;
        }
        if (!lit('}')) return false;
        skip();
        if (i_ != s_.size() || !have_cols || !have_data || out.rows == 0) return false;
        if (width != out.columns.size()) return false;
        std::string_view data = s_.substr(data_at, data_end - data_at);
        if (data.find_first_of("\r\n") == std::string_view::npos) out.rows_json = data;
        out.values.assign(width, {});
        for (size_t c = 0; c < width; ++c) {
            auto& col = out.values[c];
            col.reserve(out.rows);
            for (size_t r = 0; r < out.rows; ++r)
                col.push_back(std::move(cells[r * width + c]));
        }
        return true;
    }

private:
    void skip() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
            ++i_;
    }
    bool lit(char c) {
        skip();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool key(std::string_view want) {
        std::string k;
        return string(k) && k == want;
    }
    bool string(std::string& out) {
        if (!lit('"')) return false;
        size_t start = i_;
        while (i_ < s_.size()) {
            char c = s_[i_];
            if (c == '"') {
                out.append(s_.data() + start, i_ - start);
                ++i_;
                return true;
            }
            // Control characters are invalid; bytes past ASCII go to the general parser,
            // which checks their UTF-8.
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x80)
                return false;
            if (c != '\\') {
                ++i_;
                continue;
            }
            out.append(s_.data() + start, i_ - start);
            if (++i_ >= s_.size()) return false;
            switch (s_[i_]) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                default:
                    return false;  // \u escapes: the general parser
            }
            start = ++i_;
        }
        return false;
    }
    // A number as nlohmann::json reads it: integers as (un)signed 64-bit when they fit,
    // anything else as a double.
    bool scalar(std::vector<json>& out) {
        skip();
        if (i_ >= s_.size()) return false;
        char c = s_[i_];
        if (c == '"') {
            std::string v;
            if (!string(v)) return false;
            out.emplace_back(std::move(v));
            return true;
        }
        if (c == 'n' || c == 't' || c == 'f') {
            for (auto [word, value] : {std::pair<std::string_view, json>{"null", nullptr},
                                       {"true", true},
                                       {"false", false}}) {
                if (s_.compare(i_, word.size(), word) == 0) {
                    i_ += word.size();
                    out.push_back(value);
                    return true;
                }
            }
            return false;
        }
        size_t start = i_;
        if (c == '-') ++i_;
        if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return false;
        if (s_[i_] == '0' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9')
            return false;  // a leading zero
        bool integer = true;
        while (i_ < s_.size()) {
            char d = s_[i_];
            if (d >= '0' && d <= '9') {
                ++i_;
            } else if (d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-') {
                integer = false;
                ++i_;
            } else {
                break;
            }
        }
        const char* b = s_.data() + start;
        const char* e = s_.data() + i_;
        if (integer) {
            if (c == '-') {
                int64_t v = 0;
                auto r = std::from_chars(b, e, v);
                if (r.ec == std::errc() && r.ptr == e) {
                    out.emplace_back(v);
                    return true;
                }
            } else {
                uint64_t v = 0;
                auto r = std::from_chars(b, e, v);
                if (r.ec == std::errc() && r.ptr == e) {
                    out.emplace_back(v);
                    return true;
                }
            }
        }
        // JSON's grammar for the fraction and exponent; from_chars accepts a superset.
        if (e[-1] < '0' || e[-1] > '9') return false;
        for (const char* q = b + 1; q < e; ++q)
            if (*q == '.' && (q[-1] < '0' || q[-1] > '9' || q + 1 == e || q[1] < '0' || q[1] > '9'))
                return false;
        double v = 0;
        auto r = std::from_chars(b, e, v);
        if (r.ec != std::errc() || r.ptr != e || !std::isfinite(v)) return false;
        out.emplace_back(v);
        return true;
    }

    std::string_view s_;
    size_t i_ = 0;
};

// A column's values as JSON: strings for categories, true/false, numbers, null for missing.
std::vector<json> column_values(const Column& col, size_t rows) {
    std::vector<json> vals;
    vals.reserve(rows);
    for (size_t i = 0; i < rows; ++i) {
        if (col.type == ColumnType::categorical) {
            int32_t code = col.codes[i];
            vals.push_back(code < 0 ? json(nullptr) : json(col.categories[size_t(code)]));
        } else if (std::isnan(col.numbers[i])) {
            vals.push_back(nullptr);
        } else if (col.type == ColumnType::boolean) {
            vals.push_back(col.numbers[i] != 0);
        } else {
            vals.push_back(col.numbers[i]);
        }
    }
    return vals;
}

Table parse_csv_body(std::string_view body, CsvOptions opt) {
    opt.jobs = 1;
    Table t;
    try {
        t = parse_csv(body, "the request body", opt);
    } catch (const Error& e) {
        bad(e.what());
    }
    if (t.rows == 0) bad("the request has no rows");
    return t;
}

// A JSON value as text; doubles in their shortest round-trip form.
void append_value(std::string& out, const json& v) {
    switch (v.type()) {
        case json::value_t::number_float: {
            double d = v.get<double>();
            if (std::isfinite(d))
                append_number(out, d);
            else
                out += "null";
            break;
        }
        case json::value_t::number_unsigned:
            out += std::to_string(v.get<uint64_t>());
            break;
        case json::value_t::number_integer:
            out += std::to_string(v.get<int64_t>());
            break;
        case json::value_t::null:
            out += "null";
            break;
        case json::value_t::boolean:
            out += v.get<bool>() ? "true" : "false";
            break;
        default:
            out += v.dump(-1, ' ', false, json::error_handler_t::replace);
    }
}

}  // namespace

void append_rows_json(std::string& out, const RequestRows& rows) {
    if (!rows.rows_json.empty()) {
        out += rows.rows_json;
        return;
    }
    out += '[';
    for (size_t r = 0; r < rows.rows; ++r) {
        if (r) out += ',';
        out += '[';
        for (size_t c = 0; c < rows.columns.size(); ++c) {
            if (c) out += ',';
            append_value(out, rows.values[c][r]);
        }
        out += ']';
    }
    out += ']';
}

std::string predictions_json(const Model& m, const Predictions& p) {
    std::string out;
    out.reserve(2 + p.rows * 12);
    append_predictions(out, m, p);
    return out;
}

RequestRows parse_json_request(std::string_view body, Protocol protocol,
                               const std::vector<std::string>& features) {
    if (protocol == Protocol::mlflow) {
        RequestRows fast;
        if (SplitReader(body).read(fast)) return fast;
    }
    json doc = json::parse(body.begin(), body.end(), nullptr, false);
    if (doc.is_discarded()) bad("the request body is not valid JSON");
    if (!doc.is_object()) bad("the request body must be a JSON object");
    RequestRows out;
    if (auto params = doc.find("params"); params != doc.end()) {
        if (!params->is_object()) bad("'params' must be an object");
        if (auto proba = params->find("proba"); proba != params->end()) {
            if (!proba->is_boolean()) bad("'params.proba' must be true or false");
            out.want_proba = proba->get<bool>();
        }
    }
    if (protocol == Protocol::v2) {
        from_v2(doc, features, out);
    } else {
        const char* keys[] = {"dataframe_split", "dataframe_records", "instances", "inputs"};
        const char* found = nullptr;
        for (const char* k : keys) {
            if (!doc.contains(k)) continue;
            if (found)
                bad(std::string("the request has both '") + found + "' and '" + k + "'; send one");
            found = k;
        }
        if (!found)
            bad("the request needs one of 'dataframe_split', 'dataframe_records', 'instances' "
                "or 'inputs'");
        const json& v = doc[found];
        std::string key = found;
        if (key == "dataframe_split") {
            from_split(v, out);
        } else if (key == "dataframe_records") {
            if (!v.is_array()) bad("dataframe_records must be a list of objects");
            if (v.empty()) bad("dataframe_records is empty");
            from_records(v, out, "dataframe_records");
        } else if (key == "inputs" && v.is_object()) {
            from_column_dict(v, out);
        } else {
            from_rows_any(v, features, out, found);
        }
    }
    if (out.rows == 0) bad("the request has no rows");
    return out;
}

Table table_for_model(const Model& m, const RequestRows& rows) {
    Table t;
    t.rows = rows.rows;
    t.columns.reserve(m.features.size());
    for (const auto& f : m.features) {
        size_t c = 0;
        while (c < rows.columns.size() && rows.columns[c] != f.name)
            ++c;
        if (c == rows.columns.size()) unprocessable("missing column '" + f.name + "'");
        if (f.type == ColumnType::categorical)
            t.columns.push_back(categorical_column(f.name, rows.values[c]));
        else
            t.columns.push_back(numeric_column(f.name, rows.values[c]));
    }
    return t;
}

RequestRows parse_csv_request(std::string_view body) {
    Table t = parse_csv_body(body, CsvOptions());
    RequestRows rows;
    rows.rows = t.rows;
    for (const auto& c : t.columns) {
        rows.columns.push_back(c.name);
        rows.values.push_back(column_values(c, t.rows));
    }
    return rows;
}

Table table_from_csv(const Model& m, std::string_view body, RequestRows& rows) {
    Table t = parse_csv_body(body, csv_options_for(m));
    rows.columns.clear();
    rows.values.clear();
    rows.rows = t.rows;
    for (const auto& f : m.features) {
        const Column* col = t.find(f.name);
        if (!col) unprocessable("missing column '" + f.name + "'");
        if (f.type != ColumnType::categorical && col->type == ColumnType::categorical) {
            for (size_t i = 0; i < t.rows; ++i)
                if (col->codes[i] >= 0)
                    wrong_value(f.name, i, json(col->categories[size_t(col->codes[i])]),
                                "a number");
        }
    }
    // The log keeps every column as sent (ids and all), as for JSON bodies.
    for (const auto& c : t.columns) {
        rows.columns.push_back(c.name);
        rows.values.push_back(column_values(c, t.rows));
    }
    return t;
}

std::string mlflow_response(const Model& m, const Predictions& p, bool proba) {
    std::string out;
    out.reserve(32 + p.rows * (proba ? 24 * (m.classes.size() + 1) : 12));
    out += "{\"predictions\":";
    append_predictions(out, m, p);
    if (proba && m.is_classifier()) {
        out += ",\"classes\":[";
        std::vector<std::string> labels = class_labels(m);
        for (size_t c = 0; c < labels.size(); ++c) {
            if (c) out += ',';
            out += labels[c];
        }
        out += "],\"probabilities\":";
        append_proba_rows(out, p, m.classes.size());
    }
    out += '}';
    return out;
}

std::string v2_response(const Model& m, const Predictions& p, const std::string& model_name,
                        int64_t version, const std::string& id) {
    std::string out = "{\"model_name\":" + json_string(model_name) + ",\"model_version\":\"" +
                      std::to_string(version) + "\",\"id\":" + json_string(id) +
                      ",\"outputs\":[{\"name\":\"predictions\",\"shape\":[" +
                      std::to_string(p.rows) + "],\"datatype\":\"";
    if (!m.is_classifier()) {
        out += "FP64";
    } else if (m.target_type == ColumnType::boolean) {
        out += "BOOL";
    } else if (m.target_type == ColumnType::numeric) {
        bool ints = true;
        for (const auto& c : m.classes)
            ints = ints && c.find_first_of(".eE") == std::string::npos;
        out += ints ? "INT64" : "FP64";
    } else {
        out += "BYTES";
    }
    out += "\",\"data\":";
    append_predictions(out, m, p);
    out += '}';
    if (m.is_classifier()) {
        const size_t k = m.classes.size();
        out += ",{\"name\":\"probabilities\",\"shape\":[" + std::to_string(p.rows) + "," +
               std::to_string(k) + "],\"datatype\":\"FP64\",\"data\":[";
        for (size_t i = 0; i < p.rows * k; ++i) {
            if (i) out += ',';
            append_number(out, p.proba[i]);
        }
        out += "]}";
    }
    out += "]}";
    return out;
}

std::string mlflow_response(const json& predictions) {
    return json{{"predictions", predictions}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string v2_response(const json& predictions, const std::string& model_name, int64_t version,
                        const std::string& id) {
    std::string type = "BYTES";
    bool all_num = true, all_int = true, all_bool = true;
    for (auto it = predictions.begin(); it != predictions.end(); ++it) {
        all_num = all_num && it->is_number();
        all_int = all_int && it->is_number_integer();
        all_bool = all_bool && it->is_boolean();
    }
    if (!predictions.empty()) {
        if (all_bool)
            type = "BOOL";
        else if (all_int)
            type = "INT64";
        else if (all_num)
            type = "FP64";
    }
    json out = {{"model_name", model_name},
                {"model_version", std::to_string(version)},
                {"id", id},
                {"outputs", json::array({json{{"name", "predictions"},
                                              {"shape", json::array({predictions.size()})},
                                              {"datatype", type},
                                              {"data", predictions}}})}};
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string error_body(int status, const std::string& message) {
    return json{{"error_code", error_code(status)}, {"message", message}, {"error", message}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
}

}  // namespace mlo::core
