#include "core/monitor.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <unordered_map>

#include "core/builtin.hpp"
#include "core/csv.hpp"
#include "core/deployments.hpp"
#include "core/expr.hpp"
#include "core/hashing.hpp"
#include "core/learner.hpp"
#include "core/metrics.hpp"
#include "core/registry.hpp"
#include "core/runs.hpp"
#include "storage/error.hpp"
#include "storage/parallel.hpp"

namespace mlo::core {

using nlohmann::json;

namespace {

// Blocks of this many bytes are read at a time: memory stays bounded on large files.
constexpr size_t kBlockBytes = size_t(8) << 20;
// Version of the profile format and of what a profile holds; part of the lookup key.
constexpr uint32_t kProfileFormat = 1;
constexpr char kProfileMagic[8] = {'M', 'L', 'O', 'P', 'R', 'O', 'F', '\n'};

[[noreturn]] void bad_setting(const std::string& key, const std::string& why) {
    throw Error(std::string(kPipelineFile) + ": monitor." + key + ": " + why);
}

std::vector<std::string> string_list(const json& v, const std::string& key) {
    std::vector<std::string> out;
    if (v.is_string()) return {v.get<std::string>()};
    if (!v.is_array()) bad_setting(key, "must be a list of column names");
    for (const json& x : v) {
        if (!x.is_string() || x.get<std::string>().empty())
            bad_setting(key, "must be a list of column names");
        out.push_back(x.get<std::string>());
    }
    return out;
}

std::string text_setting(const json& v, const std::string& key) {
    if (!v.is_string() || v.get<std::string>().empty())
        bad_setting(key, "must be a non-empty text");
    return v.get<std::string>();
}

// The text a JSON scalar stands for when compared with CSV text: strings as they are, integral
// numbers without a decimal point, booleans as true/false.
std::string scalar_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_float()) {
        double d = v.get<double>();
        if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9e15)
            return std::to_string(static_cast<int64_t>(d));
    }
    return v.dump();
}

// ---- Profile serialisation: little-endian fixed-width fields ----

static_assert(std::endian::native == std::endian::little, "the profile format is little-endian");

class Writer {
public:
    template <class T>
    void put(T v) {
        out_.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void str(const std::string& s) {
        put<uint32_t>(uint32_t(s.size()));
        out_ += s;
    }
    void doubles(const std::vector<double>& v) {
        put<uint64_t>(v.size());
        out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

class Reader {
public:
    Reader(std::string_view in, const std::string& shown) : in_(in), shown_(shown) {}
    template <class T>
    T get() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, in_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    std::string str() {
        const auto n = get<uint32_t>();
        need(n);
        std::string s(in_.substr(pos_, n));
        pos_ += n;
        return s;
    }
    std::vector<double> doubles() {
        const auto n = get<uint64_t>();
        if (n > in_.size() / sizeof(double)) corrupt();
        need(n * sizeof(double));
        std::vector<double> v(n);
        std::memcpy(v.data(), in_.data() + pos_, n * sizeof(double));
        pos_ += n * sizeof(double);
        return v;
    }
    uint64_t count() {
        const auto n = get<uint64_t>();
        if (n > in_.size()) corrupt();
        return n;
    }
    bool done() const { return pos_ == in_.size(); }
    [[noreturn]] void corrupt() const { throw Error(shown_ + ": not a valid monitor profile"); }

private:
    void need(size_t n) const {
        if (in_.size() - pos_ < n) corrupt();
    }
    std::string_view in_;
    const std::string& shown_;
    size_t pos_ = 0;
};

// ---- Reading columns in blocks ----

// One column's values as blocks arrive: numbers, or category counts.
struct Accumulator {
    std::string name;
    bool decided = false;  // false while only missing values were seen
    ColumnKind kind = ColumnKind::numeric;
    std::vector<double> numbers;  // numeric (NaN = missing)
    CategoryCounts counts;        // categorical
    uint64_t missing = 0;         // categorical
};

// The first value of a categorical block column that is neither a number nor a boolean, with
// its row; nullopt when there is none (a block that mixes numbers and booleans is typed
// categorical by the reader, but monitoring reads it as numbers).
std::optional<std::pair<std::string, size_t>> first_text(const Column& c) {
    if (c.type != ColumnType::categorical) return std::nullopt;
    for (size_t r = 0; r < c.codes.size(); ++r) {
        const int32_t code = c.codes[r];
        if (code < 0) continue;
        const std::string& v = c.categories[size_t(code)];
        if (!csv_number(v) && !csv_boolean(v)) return std::make_pair(v, r);
    }
    return std::nullopt;
}

// Reserves room for the numbers of the whole file once the first block shows how many bytes a
// row takes, so the columns do not double their capacity (and memory) while growing.
void reserve_for_file(std::vector<Accumulator>& acc, const CsvBlock& b) {
    if (b.table.rows == 0 || b.bytes == 0 || b.file_bytes <= b.bytes) return;
    const double per_row = double(b.bytes) / double(b.table.rows);
    const auto rows = size_t(double(b.file_bytes) / per_row * 1.02) + 1024;
    for (Accumulator& a : acc)
        if (a.kind == ColumnKind::numeric) a.numbers.reserve(rows);
}

// Appends a block column's values as numbers (NaN = missing, booleans 1 and 0); a categorical
// block column must hold only numbers and booleans (first_text found none).
void append_numbers(Accumulator& a, const Column& c) {
    if (c.type != ColumnType::categorical) {
        a.numbers.insert(a.numbers.end(), c.numbers.begin(), c.numbers.end());
        return;
    }
    for (const int32_t code : c.codes) {
        double x = std::numeric_limits<double>::quiet_NaN();
        if (code >= 0) {
            const std::string& v = c.categories[size_t(code)];
            if (auto n = csv_number(v))
                x = *n;
            else if (auto b = csv_boolean(v))
                x = *b ? 1 : 0;
        }
        a.numbers.push_back(x);
    }
}

[[noreturn]] void text_in_numeric_column(const std::string& shown, const CsvBlock& block,
                                         const Column& c, const std::string& value, size_t row,
                                         const std::string& why) {
    throw Error(shown + ":" + std::to_string(block.line_of(row)) + ": column " + quote(c.name) +
                " " + why + " " + quote(value));
}

// Adds a block's column to an accumulator whose kind may still be open (the reference). A
// column turns categorical at its first value that is text; from then on it is read as text
// (added to `opts.force_categorical`), so later numbers keep their spelling.
void add_reference_column(Accumulator& a, const Column& c, const CsvBlock& block,
                          const std::string& shown, CsvOptions& opts) {
    const bool has_values = c.missing < c.numbers.size() + c.codes.size();
    const auto text = first_text(c);
    const bool forced = std::find(opts.force_categorical.begin(), opts.force_categorical.end(),
                                  c.name) != opts.force_categorical.end();
    if (!a.decided && has_values) {
        if (forced || text) {
            a.kind = ColumnKind::categorical;
            a.missing += a.numbers.size();  // the missing values seen so far
            a.numbers.clear();
            a.numbers.shrink_to_fit();
            if (!forced) opts.force_categorical.push_back(c.name);
        }
        a.decided = true;
    }
    if (a.kind == ColumnKind::categorical) {
        if (c.type == ColumnType::categorical) {
            for (auto& [k, n] : count_categories(c.codes, c.categories))
                a.counts[k] += n;
            a.missing += c.missing;
            return;
        }
        // Only before the column is forced (the missing-only blocks): nothing but missing.
        a.missing += c.numbers.size();
        return;
    }
    if (text)
        text_in_numeric_column(shown, block, c, text->first, text->second,
                               "holds numbers before this line (list it under "
                               "monitor.categorical to compare it as categories), and here");
    append_numbers(a, c);
}

// The profile of one accumulated column (consumes it).
ProfileColumn profile_of(Accumulator&& a) {
    ProfileColumn p;
    p.name = a.name;
    p.kind = a.kind;
    if (a.kind == ColumnKind::numeric) {
        p.numeric = numeric_profile(std::move(a.numbers));
        p.missing = p.numeric.missing;
    } else {
        p.categorical = categorical_profile(std::move(a.counts));
        p.missing = a.missing;
    }
    return p;
}

// ---- Current data ----

struct LabelledRow {
    json prediction;
    json label;
};

struct CurrentData {
    std::string path;  // as shown
    std::string kind;  // "csv" or "log"
    uint64_t rows = 0;
    std::vector<Accumulator> columns;  // aligned with the monitored profile columns
    std::vector<bool> seen;            // whether the current data has each column
    // Performance: CSV scoring, or the log's predictions joined with feedback.
    std::optional<std::string> label_column;
    std::vector<int> y_true;                 // classification (CSV)
    std::vector<double> proba;               // rows x classes (CSV)
    std::vector<double> y_value;             // regression (CSV)
    std::vector<double> predicted;           // regression (CSV)
    std::vector<LabelledRow> labelled;       // log
    std::map<std::string, uint64_t> served;  // "name:version" -> rows (log)
    uint64_t files = 0, unlabelled = 0, feedback_unmatched = 0;
};

}  // namespace

// ---- Settings ----

MonitorSettings monitor_settings(const Pipeline& p) {
    MonitorSettings s;
    const json& m = p.monitor;
    if (m.is_null()) throw Error(std::string(kPipelineFile) + " has no 'monitor:' section");
    if (!m.is_object()) throw Error(std::string(kPipelineFile) + ": 'monitor' must be a mapping");
    static const std::set<std::string> known = {"reference",   "current", "label",
                                                "model",       "columns", "categorical",
                                                "drift_share", "tests",   "performance"};
    for (auto it = m.begin(); it != m.end(); ++it)
        if (!known.count(it.key())) bad_setting(it.key(), "unknown key");
    if (!m.contains("reference"))
        throw Error(std::string(kPipelineFile) +
                    ": monitor needs 'reference' (the data the model was trained on)");
    s.reference = text_setting(m["reference"], "reference");
    if (m.contains("current")) s.current = text_setting(m["current"], "current");
    if (m.contains("label")) s.label = text_setting(m["label"], "label");
    if (m.contains("model")) s.model = text_setting(m["model"], "model");
    if (m.contains("columns")) s.columns = string_list(m["columns"], "columns");
    if (m.contains("categorical")) s.categorical = string_list(m["categorical"], "categorical");
    if (m.contains("drift_share")) {
        const json& v = m["drift_share"];
        if (!v.is_number() || v.get<double>() <= 0 || v.get<double>() > 1)
            bad_setting("drift_share", "must be a number in (0, 1]");
        s.drift_share = v.get<double>();
    }
    if (m.contains("tests")) {
        const json& t = m["tests"];
        if (!t.is_object()) bad_setting("tests", "must map column names to {test, threshold}");
        for (auto it = t.begin(); it != t.end(); ++it) {
            const std::string key = "tests." + it.key();
            DriftOptions o;
            json spec = it.value();
            if (spec.is_string()) spec = {{"test", spec}};
            if (!spec.is_object()) bad_setting(key, "must be {test: NAME, threshold: NUMBER}");
            for (auto f = spec.begin(); f != spec.end(); ++f) {
                if (f.key() == "test") {
                    auto test =
                        f->is_string() ? parse_drift_test(f->get<std::string>()) : std::nullopt;
                    if (!test)
                        bad_setting(key + ".test",
                                    "unknown test " + quote(f->dump()) +
                                        " (ks, chisquare, z, wasserstein, jensenshannon, psi, "
                                        "kl_div)");
                    o.test = test;
                } else if (f.key() == "threshold") {
                    if (!f->is_number() || !std::isfinite(f->get<double>()) || f->get<double>() < 0)
                        bad_setting(key + ".threshold", "must be a number >= 0");
                    o.threshold = f->get<double>();
                } else {
                    bad_setting(key + "." + f.key(), "unknown key (test, threshold)");
                }
            }
            s.tests[it.key()] = o;
        }
    }
    if (m.contains("performance")) {
        s.performance = text_setting(m["performance"], "performance");
        Expression::parse(s.performance, std::string(kPipelineFile) + ": monitor.performance");
    }
    if (s.model.empty()) {
        if (p.deploy.is_object() && p.deploy.contains("model") && p.deploy["model"].is_string())
            s.model = p.deploy["model"].get<std::string>();
        else if (p.model.is_object() && p.model.contains("name") && p.model["name"].is_string())
            s.model = p.model["name"].get<std::string>() + "@" +
                      (p.model.contains("alias") && p.model["alias"].is_string()
                           ? p.model["alias"].get<std::string>()
                           : std::string("champion"));
    }
    return s;
}

// ---- Profiles ----

const ProfileColumn* ReferenceProfile::find(const std::string& name) const {
    for (const auto& c : columns)
        if (c.name == name) return &c;
    return nullptr;
}

ReferenceProfile build_profile(const fs::path& file, const std::string& shown,
                               const std::vector<std::string>& categorical, unsigned jobs) {
    CsvOptions opts;
    opts.force_categorical = categorical;
    opts.force_if_present = true;  // the caller names a missing one
    opts.jobs = jobs;
    ReferenceProfile p;
    std::vector<Accumulator> acc;
    read_csv_blocks(file, shown, opts, kBlockBytes, [&](CsvBlock& block) {
        const Table& t = block.table;
        if (acc.empty()) {
            for (const Column& c : t.columns) {
                acc.emplace_back();
                acc.back().name = c.name;
            }
        }
        for (size_t i = 0; i < t.columns.size(); ++i)
            add_reference_column(acc[i], t.columns[i], block, shown, opts);
        if (p.rows == 0) reserve_for_file(acc, block);
        p.rows += t.rows;
    });
    // Sorting each column is most of the work: one column per core.
    p.columns.resize(acc.size());
    parallel_for(acc.size(), jobs, [&](size_t i) { p.columns[i] = profile_of(std::move(acc[i])); });
    return p;
}

std::string serialize_profile(const ReferenceProfile& p) {
    Writer w;
    for (char c : kProfileMagic)
        w.put<char>(c);
    w.put<uint32_t>(kProfileFormat);
    for (uint8_t b : p.data)
        w.put<uint8_t>(b);
    w.put<uint64_t>(p.rows);
    w.put<uint32_t>(uint32_t(p.columns.size()));
    for (const ProfileColumn& c : p.columns) {
        w.str(c.name);
        w.put<uint8_t>(c.kind == ColumnKind::numeric ? 0 : 1);
        w.put<uint64_t>(c.missing);
        if (c.kind == ColumnKind::numeric) {
            const NumericProfile& n = c.numeric;
            w.put<uint64_t>(n.count);
            w.put<uint64_t>(n.missing);
            for (double d : {n.mean, n.stddev, n.min, n.max})
                w.put<double>(d);
            w.doubles(n.sorted);
            w.put<uint64_t>(n.values.size());
            for (const auto& [v, k] : n.values) {
                w.put<double>(v);
                w.put<uint64_t>(k);
            }
            w.doubles(n.edges);
            w.put<uint64_t>(n.bin_counts.size());
            for (uint64_t k : n.bin_counts)
                w.put<uint64_t>(k);
        } else {
            w.put<uint64_t>(c.categorical.count);
            w.put<uint64_t>(c.categorical.categories.size());
            for (const auto& [name, k] : c.categorical.categories) {
                w.str(name);
                w.put<uint64_t>(k);
            }
        }
    }
    return w.take();
}

ReferenceProfile parse_profile(std::string_view bytes, const std::string& shown) {
    Reader r(bytes, shown);
    for (char c : kProfileMagic)
        if (r.get<char>() != c) r.corrupt();
    if (r.get<uint32_t>() != kProfileFormat) r.corrupt();
    ReferenceProfile p;
    for (uint8_t& b : p.data)
        b = r.get<uint8_t>();
    p.rows = r.get<uint64_t>();
    const auto ncols = r.get<uint32_t>();
    for (uint32_t i = 0; i < ncols; ++i) {
        ProfileColumn c;
        c.name = r.str();
        const auto kind = r.get<uint8_t>();
        if (kind > 1) r.corrupt();
        c.kind = kind == 0 ? ColumnKind::numeric : ColumnKind::categorical;
        c.missing = r.get<uint64_t>();
        if (c.kind == ColumnKind::numeric) {
            NumericProfile& n = c.numeric;
            n.count = r.get<uint64_t>();
            n.missing = r.get<uint64_t>();
            n.mean = r.get<double>();
            n.stddev = r.get<double>();
            n.min = r.get<double>();
            n.max = r.get<double>();
            n.sorted = r.doubles();
            const uint64_t nv = r.count();
            for (uint64_t k = 0; k < nv; ++k) {
                const double v = r.get<double>();
                n.values.emplace_back(v, r.get<uint64_t>());
            }
            n.edges = r.doubles();
            const uint64_t nb = r.count();
            for (uint64_t k = 0; k < nb; ++k)
                n.bin_counts.push_back(r.get<uint64_t>());
            if (n.count > 0 && (n.edges.size() != n.bin_counts.size() + 1 || n.sorted.empty()))
                r.corrupt();
        } else {
            c.categorical.count = r.get<uint64_t>();
            const uint64_t nc = r.count();
            for (uint64_t k = 0; k < nc; ++k) {
                std::string name = r.str();
                c.categorical.categories[name] = r.get<uint64_t>();
            }
        }
        p.columns.push_back(std::move(c));
    }
    if (!r.done()) r.corrupt();
    return p;
}

namespace {

std::string profile_settings_key(const MonitorSettings& s) {
    std::vector<std::string> cats = s.categorical;
    std::sort(cats.begin(), cats.end());
    cats.erase(std::unique(cats.begin(), cats.end()), cats.end());
    std::string key = "format=" + std::to_string(kProfileFormat) + ";categorical=";
    for (size_t i = 0; i < cats.size(); ++i)
        key += (i ? "," : "") + cats[i];
    return key;
}

}  // namespace

ReferenceProfile reference_profile(Repository& repo, const MonitorSettings& s, bool* built) {
    const fs::path abs = repo.resolve_arg((repo.root() / s.reference).string());
    const std::string rel = repo.rel(abs);
    FileStat st;
    bool is_dir = false;
    if (!stat_path(abs, st, &is_dir))
        throw Error("cannot read the reference " + quote(s.reference) +
                    ": no such file (monitor.reference in " + kPipelineFile +
                    "; 'mlo checkout' restores tracked data)");
    if (is_dir)
        throw Error("the reference " + quote(s.reference) + " is a directory, not a CSV file");
    const Digest data = workspace_digest(repo, rel, abs, st, now_ns());
    repo.stat_cache().flush();
    const std::string key = profile_settings_key(s);
    Database& db = repo.db();
    {
        Database::Statement q(db,
                              "SELECT profile_object FROM monitor_profiles "
                              "WHERE data_object = ? AND settings = ?");
        q.bind_blob(1, data.data(), data.size()).bind(2, key);
        if (q.step()) {
            const Digest obj = q.column_digest(0);
            std::string bytes;
            if (read_file_if_exists(repo.store().path_of(obj), bytes)) {
                try {
                    ReferenceProfile p = parse_profile(bytes, "profile " + to_hex(obj));
                    if (p.data == data) {
                        if (built) *built = false;
                        return p;
                    }
                } catch (const Error&) {
                    // A damaged profile is rebuilt below (fsck reports the object).
                }
            }
        }
    }
    ReferenceProfile p = build_profile(abs, s.reference, s.categorical, repo.jobs());
    for (const std::string& c : s.categorical)
        if (!p.find(c))
            throw Error(std::string(kPipelineFile) + ": monitor.categorical names " + quote(c) +
                        ", which " + s.reference + " does not have");
    p.data = data;
    const ObjectStore::Put put = repo.store().put_bytes(serialize_profile(p));
    if (repo.config().fsync) repo.store().sync();
    Database::Statement ins(
        db,
        "INSERT OR REPLACE INTO monitor_profiles "
        "(data_object, settings, profile_object, created_ns) VALUES (?, ?, ?, ?)");
    ins.bind_blob(1, data.data(), data.size())
        .bind(2, key)
        .bind_blob(3, put.digest.data(), put.digest.size())
        .bind(4, now_ns());
    ins.step();
    if (built) *built = true;
    return p;
}

std::vector<Digest> profile_objects(Database& db) {
    std::vector<Digest> out;
    Database::Statement q(db, "SELECT profile_object FROM monitor_profiles");
    while (q.step())
        out.push_back(q.column_digest(0));
    return out;
}

// ---- Durations ----

int64_t parse_duration_ns(const std::string& text, const std::string& what) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    const std::string unit = text.substr(used);
    double scale = 0;
    if (unit.empty() || unit == "s")
        scale = 1;
    else if (unit == "m")
        scale = 60;
    else if (unit == "h")
        scale = 3600;
    else if (unit == "d")
        scale = 86400;
    if (used == 0 || scale == 0 || !std::isfinite(v) || v <= 0 || v * scale > 9.2e9)
        throw Error("invalid " + what + " " + quote(text) +
                    ": give a positive number with s, m, h or d (\"24h\", \"7d\")");
    return static_cast<int64_t>(v * scale * 1e9);
}

// ---- Running the comparison ----

namespace {

struct ModelInfo {
    std::optional<Model> model;
    std::string ref;  // "churn:3"
    Digest object{};
    std::string error;  // why there is none
};

ModelInfo load_monitored_model(Repository& repo, const std::string& ref) {
    ModelInfo m;
    if (ref.empty()) {
        m.error = "no model configured (monitor.model, deploy.model or model.name)";
        return m;
    }
    try {
        Registry registry(repo.db());
        auto parsed = parse_model_ref(ref);
        if (!parsed) throw Error(quote(ref) + " is not a model reference");
        ModelVersion v = registry.resolve(*parsed);
        m.ref = v.name + ":" + std::to_string(v.version);
        m.object = v.object;
        ModelSource src = locate_model(m.ref, &repo);
        m.model = load_model(src.file, src.shown);
    } catch (const Error& e) {
        m.error = e.what();
        m.model.reset();
    }
    return m;
}

// The metrics of the newest successful run that read `model_object` and recorded metrics: the
// model's evaluation.
std::map<std::string, double> evaluation_metrics(Database& db, const Digest& model_object) {
    std::map<std::string, double> out;
    Database::Statement q(db,
                          "SELECT r.id FROM run_artifacts a JOIN runs r ON r.id = a.run_id "
                          "WHERE a.hash = ? AND a.direction = 'in' "
                          "AND r.status IN ('succeeded', 'restored') "
                          "AND EXISTS (SELECT 1 FROM run_metrics m WHERE m.run_id = r.id) "
                          "ORDER BY r.started_ns DESC LIMIT 1");
    q.bind_blob(1, model_object.data(), model_object.size());
    if (!q.step()) return out;
    const std::string run = q.column_text(0);
    Database::Statement m(db, "SELECT key, value FROM run_metrics WHERE run_id = ?");
    m.bind(1, run);
    while (m.step())
        out[m.column_text(0)] = m.column_double(1);
    return out;
}

bool is_log_path(const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p, ec) || p.extension() == ".jsonl";
}

// Reads a CSV file's monitored columns (and scores it when a model and its label are there).
void read_current_csv(const fs::path& file, const std::string& shown,
                      const std::vector<const ProfileColumn*>& cols, const ModelInfo& model,
                      const std::string& label, unsigned jobs, CurrentData& cur) {
    CsvOptions opts;
    opts.force_if_present = true;
    opts.jobs = jobs;
    for (const ProfileColumn* c : cols)
        if (c->kind == ColumnKind::categorical) opts.force_categorical.push_back(c->name);
    if (model.model)
        for (const std::string& c : csv_options_for(*model.model).force_categorical)
            opts.force_categorical.push_back(c);
    bool first = true;
    bool score = false;
    read_csv_blocks(file, shown, opts, kBlockBytes, [&](CsvBlock& block) {
        const Table& t = block.table;
        if (first) {
            first = false;
            for (size_t i = 0; i < cols.size(); ++i)
                cur.seen[i] = t.find(cols[i]->name) != nullptr;
            score = model.model && !label.empty() && t.find(label);
            if (score) cur.label_column = label;
            reserve_for_file(cur.columns, block);
        }
        for (size_t i = 0; i < cols.size(); ++i) {
            if (!cur.seen[i]) continue;
            const Column* c = t.find(cols[i]->name);
            Accumulator& a = cur.columns[i];
            if (cols[i]->kind == ColumnKind::categorical) {
                for (auto& [k, n] : count_categories(c->codes, c->categories))
                    a.counts[k] += n;
                a.missing += c->missing;
                continue;
            }
            if (auto text = first_text(*c))
                text_in_numeric_column(shown, block, *c, text->first, text->second,
                                       "is numeric in the reference, but holds");
            append_numbers(a, *c);
        }
        if (score && t.rows > 0) {
            const Model& m = *model.model;
            Predictions p = predict(m, t, shown, jobs);
            if (m.is_classifier()) {
                std::vector<int> y = target_classes(m, t, shown);
                cur.y_true.insert(cur.y_true.end(), y.begin(), y.end());
                cur.proba.insert(cur.proba.end(), p.proba.begin(), p.proba.end());
            } else {
                std::vector<double> y = target_values(m, t, shown);
                cur.y_value.insert(cur.y_value.end(), y.begin(), y.end());
                cur.predicted.insert(cur.predicted.end(), p.values.begin(), p.values.end());
            }
        }
        cur.rows += t.rows;
    });
}

// The prediction log files to read: a .jsonl file, or every *.jsonl in a directory (only the
// deployment's own when `deployment` is set), in name order.
std::vector<fs::path> log_files(const fs::path& p, const std::string& deployment) {
    std::vector<fs::path> out;
    std::error_code ec;
    if (!fs::is_directory(p, ec)) return {p};
    for (const auto& e : fs::directory_iterator(p)) {
        const std::string name = e.path().filename().string();
        if (e.path().extension() != ".jsonl") continue;
        if (!deployment.empty() && name.rfind(deployment + "-", 0) != 0) continue;
        out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Calls fn(record, type, shown, line) for each complete record of the log files whose time is
// at or after `cutoff` (ISO 8601 text; "" = every record). A line still being written is skipped.
void scan_log(
    const std::vector<fs::path>& files, Repository& repo, const std::string& cutoff,
    const std::function<void(json&, const std::string&, const std::string&, size_t)>& fn) {
    for (const fs::path& f : files) {
        const std::string shown = repo.rel(f);
        std::string text;
        if (!read_file_if_exists(f, text)) continue;  // rotated away meanwhile
        size_t pos = 0, line = 0;
        while (pos < text.size()) {
            size_t end = text.find('\n', pos);
            if (end == std::string::npos) end = text.size();
            std::string_view l(text.data() + pos, end - pos);
            const bool complete = end < text.size();
            pos = end + 1;
            ++line;
            if (l.empty() || !complete) continue;
            json rec = json::parse(l, nullptr, false);
            if (rec.is_discarded() || !rec.is_object())
                throw Error(shown + ":" + std::to_string(line) + ": not a prediction log record");
            const json& type_field = rec["type"];
            const json& time_field = rec["time"];
            const std::string type = type_field.is_string() ? type_field.get<std::string>() : "";
            const std::string time = time_field.is_string() ? time_field.get<std::string>() : "";
            if (!cutoff.empty() && time < cutoff) continue;
            fn(rec, type, shown, line);
        }
    }
}

void read_current_log(const std::vector<fs::path>& files, Repository& repo,
                      const std::vector<const ProfileColumn*>& cols, const std::string& cutoff,
                      CurrentData& cur) {
    cur.files = files.size();
    // Column positions of each distinct `columns` list (requests usually share one).
    std::map<std::string, std::vector<int>> layouts;
    std::unordered_map<std::string, std::pair<json, std::string>> predictions;  // id -> preds
    std::vector<std::pair<std::string, json>> feedback;
    scan_log(
        files, repo, cutoff,
        [&](json& rec, const std::string& type, const std::string& shown, size_t line) {
            if (type == "feedback") {
                if (rec.contains("request_id") && rec["request_id"].is_string() &&
                    rec.contains("labels"))
                    feedback.emplace_back(rec["request_id"].get<std::string>(), rec["labels"]);
                return;
            }
            if (type != "prediction") return;
            const json& columns = rec["columns"];
            const json& inputs = rec["inputs"];
            if (!columns.is_array() || !inputs.is_array())
                throw Error(shown + ":" + std::to_string(line) +
                            ": a prediction record needs 'columns' and 'inputs'");
            auto [it, fresh] = layouts.try_emplace(columns.dump());
            if (fresh) {
                for (const ProfileColumn* c : cols) {
                    int at = -1;
                    for (size_t k = 0; k < columns.size(); ++k)
                        if (columns[k].is_string() && columns[k].get<std::string>() == c->name)
                            at = int(k);
                    it->second.push_back(at);
                }
            }
            const std::vector<int>& layout = it->second;
            for (size_t i = 0; i < cols.size(); ++i)
                if (layout[i] >= 0) cur.seen[i] = true;
            for (const json& row : inputs) {
                if (!row.is_array()) continue;
                for (size_t i = 0; i < cols.size(); ++i) {
                    if (layout[i] < 0) continue;
                    const json& v =
                        size_t(layout[i]) < row.size() ? row[size_t(layout[i])] : json(nullptr);
                    Accumulator& a = cur.columns[i];
                    if (cols[i]->kind == ColumnKind::categorical) {
                        if (v.is_null() ||
                            (v.is_string() && is_missing_value(v.get<std::string>())))
                            ++a.missing;
                        else
                            a.counts[scalar_text(v)] += 1;
                        continue;
                    }
                    double x = std::numeric_limits<double>::quiet_NaN();
                    if (v.is_number())
                        x = v.get<double>();
                    else if (v.is_boolean())
                        x = v.get<bool>() ? 1 : 0;
                    else if (v.is_string() && !is_missing_value(v.get<std::string>())) {
                        auto n = csv_number(v.get<std::string>());
                        if (!n)
                            throw Error(shown + ":" + std::to_string(line) + ": column " +
                                        quote(cols[i]->name) +
                                        " is numeric in the reference, but holds " +
                                        quote(v.get<std::string>()));
                        x = *n;
                    }
                    a.numbers.push_back(x);
                }
                ++cur.rows;
            }
            const json& mname = rec["model"];
            const json& mversion = rec["version"];
            const std::string served =
                (mname.is_string() ? mname.get<std::string>() : std::string("?")) + ":" +
                (mversion.is_number_integer() ? std::to_string(mversion.get<int64_t>())
                                              : std::string("?"));
            cur.served[served] += inputs.size();
            if (rec.contains("request_id") && rec["request_id"].is_string() &&
                rec.contains("predictions"))
                predictions[rec["request_id"].get<std::string>()] = {rec["predictions"], served};
        });
    // Feedback joined by request id; the last answer for a request wins.
    std::unordered_map<std::string, json> labels;
    for (auto& [id, l] : feedback)
        labels[id] = std::move(l);
    for (auto& [id, l] : labels) {
        auto p = predictions.find(id);
        if (p == predictions.end() || !l.is_array() || !p->second.first.is_array() ||
            l.size() != p->second.first.size()) {
            ++cur.feedback_unmatched;
            continue;
        }
        for (size_t k = 0; k < l.size(); ++k)
            cur.labelled.push_back({p->second.first[k], l[k]});
    }
    for (const auto& [id, p] : predictions)
        if (!labels.count(id) && p.first.is_array()) cur.unlabelled += p.first.size();
}

// Metrics from the log's (prediction, label) pairs.
json log_metrics(const CurrentData& cur, const Model& m, uint64_t* unknown) {
    if (m.is_classifier()) {
        std::map<std::string, int> index;
        for (size_t k = 0; k < m.classes.size(); ++k)
            index[m.classes[k]] = int(k);
        std::vector<int> y;
        std::vector<double> proba;
        for (const LabelledRow& r : cur.labelled) {
            auto t = index.find(scalar_text(r.label));
            auto p = index.find(scalar_text(r.prediction));
            if (t == index.end() || p == index.end()) {
                ++*unknown;
                continue;
            }
            y.push_back(t->second);
            for (size_t k = 0; k < m.classes.size(); ++k)
                proba.push_back(int(k) == p->second ? 1.0 : 0.0);
        }
        if (y.empty()) return nullptr;
        json j = to_json(classification_metrics(y, proba, m.classes.size(), m.classes));
        // Only predicted labels are logged: no probabilities, so no log loss or ROC AUC.
        j.erase("log_loss");
        j.erase("roc_auc");
        j["rows"] = y.size();
        return j;
    }
    std::vector<double> y, pred;
    for (const LabelledRow& r : cur.labelled) {
        if (!r.label.is_number() || !r.prediction.is_number()) {
            ++*unknown;
            continue;
        }
        y.push_back(r.label.get<double>());
        pred.push_back(r.prediction.get<double>());
    }
    if (y.empty()) return nullptr;
    json j = to_json(regression_metrics(y, pred));
    j["rows"] = y.size();
    return j;
}

json histogram_json(const ProfileColumn& ref, const Accumulator& cur) {
    json h;
    if (ref.kind == ColumnKind::numeric) {
        const NumericProfile& n = ref.numeric;
        if (n.edges.size() < 2) return nullptr;
        std::vector<uint64_t> counts = histogram_counts(n, cur.numbers);
        uint64_t total = 0;
        for (uint64_t k : counts)
            total += k;
        const size_t k = n.bin_counts.size();
        json rs = json::array(), cs = json::array();
        for (size_t i = 0; i < k; ++i) {
            rs.push_back(n.count ? double(n.bin_counts[i]) / double(n.count) : 0.0);
            cs.push_back(total ? double(counts[i + 1]) / double(total) : 0.0);
        }
        h = {{"edges", n.edges},
             {"reference", rs},
             {"current", cs},
             {"below", total ? double(counts[0]) / double(total) : 0.0},
             {"above", total ? double(counts[k + 1]) / double(total) : 0.0}};
        return h;
    }
    // Categories by reference count, then those new in the current data.
    std::vector<std::pair<std::string, uint64_t>> order(ref.categorical.categories.begin(),
                                                        ref.categorical.categories.end());
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [name, count] : cur.counts)
        if (!ref.categorical.categories.count(name)) order.emplace_back(name, 0);
    uint64_t total = 0;
    for (const auto& [name, count] : cur.counts)
        total += count;
    json names = json::array(), rs = json::array(), cs = json::array();
    for (const auto& [name, rcount] : order) {
        names.push_back(name);
        rs.push_back(ref.categorical.count ? double(rcount) / double(ref.categorical.count) : 0.0);
        auto it = cur.counts.find(name);
        cs.push_back(total && it != cur.counts.end() ? double(it->second) / double(total) : 0.0);
    }
    return {{"categories", names}, {"reference", rs}, {"current", cs}};
}

// JSON numbers cannot be NaN or infinite: those become null.
json number_or_null(double v) {
    return std::isfinite(v) ? json(v) : json(nullptr);
}

}  // namespace

json run_monitor(Repository& repo, const MonitorSettings& s, const MonitorRequest& req) {
    bool built = false;
    ReferenceProfile profile = reference_profile(repo, s, &built);
    ModelInfo model = load_monitored_model(repo, s.model);
    const std::string label = !s.label.empty() ? s.label
                              : model.model    ? model.model->target
                                               : std::string();

    // The columns compared: those named, or every reference column but the label.
    std::vector<const ProfileColumn*> cols;
    if (!s.columns.empty()) {
        for (const std::string& name : s.columns) {
            const ProfileColumn* c = profile.find(name);
            if (!c)
                throw Error(std::string(kPipelineFile) + ": monitor.columns names " + quote(name) +
                            ", which the reference " + s.reference + " does not have");
            cols.push_back(c);
        }
    } else if (model.model &&
               std::all_of(model.model->features.begin(), model.model->features.end(),
                           [&](const FeatureSpec& f) { return profile.find(f.name); })) {
        // The model's features: what the predictions depend on (not ids, not the label).
        for (const FeatureSpec& f : model.model->features)
            cols.push_back(profile.find(f.name));
    } else {
        for (const ProfileColumn& c : profile.columns)
            if (c.name != label) cols.push_back(&c);
    }
    for (const auto& [name, o] : s.tests)
        if (!profile.find(name))
            throw Error(std::string(kPipelineFile) + ": monitor.tests names " + quote(name) +
                        ", which the reference " + s.reference + " does not have");

    // The current data.
    CurrentData cur;
    cur.columns.resize(cols.size());
    cur.seen.assign(cols.size(), false);
    for (size_t i = 0; i < cols.size(); ++i) {
        cur.columns[i].name = cols[i]->name;
        cur.columns[i].kind = cols[i]->kind;
    }
    std::string deployment_id;
    fs::path current;
    if (!req.deployment.empty()) {
        DeploymentStore store(repo.db());
        Deployment d = store.resolve(req.deployment);
        deployment_id = d.id;
        current = d.log_dir;
        cur.kind = "log";
    } else {
        // --current is relative to the working directory, monitor.current to the repository.
        const std::string arg = !req.current.empty() ? req.current : s.current;
        if (arg.empty())
            throw Error(
                "no current data: give --current PATH or --deployment ID, or set "
                "monitor.current in " +
                std::string(kPipelineFile));
        std::error_code ec;
        current =
            (req.current.empty() ? repo.root() / arg : fs::absolute(arg, ec)).lexically_normal();
        if (!current.has_filename()) current = current.parent_path();
        if (!fs::exists(current, ec))
            throw Error("cannot read the current data " + quote(arg) + ": no such file");
        cur.kind = is_log_path(current) ? "log" : "csv";
    }
    {
        // Shown relative to the repository when inside it.
        const std::string rel = current.lexically_relative(repo.root()).generic_string();
        cur.path = rel.empty() || rel.rfind("..", 0) == 0 ? current.string() : rel;
    }
    const std::string cutoff = req.since_ns > 0 ? iso_utc(now_ns() - req.since_ns) : std::string();
    if (cur.kind == "csv" && req.since_ns > 0)
        throw Error("--since selects prediction-log records, but " + cur.path + " is a CSV file");
    if (cur.kind == "csv") {
        read_current_csv(current, cur.path, cols, model, label, repo.jobs(), cur);
    } else {
        std::vector<fs::path> files = log_files(current, deployment_id);
        read_current_log(files, repo, cols, cutoff, cur);
    }
    if (cur.rows == 0)
        throw Error("no current data in " + cur.path +
                    (cur.kind == "log" ? std::string(" (no prediction in the window)")
                                       : std::string(" (no rows)")));

    // Drift per column, the columns on all cores (sorting the current values is most of it).
    json columns = json::array(), missing = json::array();
    std::vector<size_t> compared;
    for (size_t i = 0; i < cols.size(); ++i) {
        if (cur.seen[i]) {
            compared.push_back(i);
        } else {
            if (!s.columns.empty())
                throw Error("the current data " + cur.path + " has no column " +
                            quote(cols[i]->name) + " (monitor.columns)");
            missing.push_back(cols[i]->name);
        }
    }
    std::vector<ColumnDrift> results(compared.size());
    std::vector<json> column_json(compared.size());
    parallel_for(compared.size(), repo.jobs(), [&](size_t k) {
        const ProfileColumn& ref = *cols[compared[k]];
        Accumulator& a = cur.columns[compared[k]];
        DriftOptions o;
        if (auto t = s.tests.find(ref.name); t != s.tests.end()) o = t->second;
        json hist = histogram_json(ref, a);
        const uint64_t cur_missing =
            ref.kind == ColumnKind::numeric
                ? uint64_t(std::count_if(a.numbers.begin(), a.numbers.end(),
                                         [](double x) { return !std::isfinite(x); }))
                : a.missing;
        ColumnDrift d;
        try {
            if (ref.kind == ColumnKind::numeric)
                d = numeric_column_drift(ref.numeric, std::move(a.numbers), o);
            else
                d = categorical_column_drift(ref.categorical, a.counts, o);
        } catch (const Error& e) {
            throw Error("cannot compare column " + quote(ref.name) + ": " + e.what());
        }
        a.numbers = {};
        results[k] = d;
        column_json[k] = {{"column", ref.name},
                          {"type", ref.kind == ColumnKind::numeric ? "numeric" : "categorical"},
                          {"test", std::string(to_string(d.test))},
                          {"score_kind", is_p_value_test(d.test) ? "p_value" : "distance"},
                          {"score", number_or_null(d.score)},
                          {"statistic", number_or_null(d.statistic)},
                          {"threshold", d.threshold},
                          {"drifted", d.drifted},
                          {"reference_count", d.reference_count},
                          {"current_count", d.current_count},
                          {"missing", {{"reference", ref.missing}, {"current", cur_missing}}},
                          {"histogram", std::move(hist)}};
    });
    for (json& c : column_json)
        columns.push_back(std::move(c));
    if (results.empty())
        throw Error("the current data " + cur.path + " has none of the monitored columns");
    const DatasetDrift ds = dataset_drift(results, s.drift_share);

    // Performance.
    json performance = nullptr;
    std::string performance_note;
    std::optional<bool> performance_ok;
    json metrics = nullptr;
    uint64_t unknown_labels = 0;
    if (cur.kind == "csv" && cur.label_column) {
        const Model& m = *model.model;
        if (m.is_classifier() && !cur.y_true.empty()) {
            metrics =
                to_json(classification_metrics(cur.y_true, cur.proba, m.classes.size(), m.classes));
            metrics["rows"] = cur.y_true.size();
        } else if (!m.is_classifier() && !cur.y_value.empty()) {
            metrics = to_json(regression_metrics(cur.y_value, cur.predicted));
            metrics["rows"] = cur.y_value.size();
        }
    } else if (cur.kind == "log" && !cur.labelled.empty()) {
        if (model.model)
            metrics = log_metrics(cur, *model.model, &unknown_labels);
        else
            performance_note = "labels present, but " + model.error;
    } else if (cur.kind == "csv" && !label.empty() && !model.model) {
        performance_note = "no performance: " + model.error;
    }
    if (!metrics.is_null()) {
        std::map<std::string, double> champion = model.model
                                                     ? evaluation_metrics(repo.db(), model.object)
                                                     : std::map<std::string, double>();
        performance = {{"model", model.ref},
                       {"label", label},
                       {"rows", metrics.value("rows", 0)},
                       {"metrics", metrics},
                       {"champion", champion}};
        if (cur.kind == "log") {
            performance["unlabelled"] = cur.unlabelled;
            performance["unknown_labels"] = unknown_labels;
            performance["feedback_unmatched"] = cur.feedback_unmatched;
        }
        if (!s.performance.empty()) {
            std::map<std::string, double> values = numeric_fields(metrics);
            for (const auto& [k, v] : champion)
                values["champion." + k] = v;
            Expression e = Expression::parse(s.performance,
                                             std::string(kPipelineFile) + ": monitor.performance");
            Expression::Result r = e.evaluate(values);
            performance["check"] = s.performance;
            performance["holds"] = r.holds;
            performance["failed"] = r.failed;
            performance_ok = r.holds;
        }
    }

    std::string status;
    if (ds.drift) status = "drift";
    if (performance_ok && !*performance_ok)
        status += status.empty() ? "performance" : ",performance";
    if (status.empty()) status = "ok";
    json served = json::object();
    for (const auto& [k, n] : cur.served)
        served[k] = n;
    json report = {
        {"id", RunStore::new_id()},
        {"time", iso_utc(now_ns())},
        {"reference",
         {{"path", repo.rel(repo.resolve_arg(s.reference))},
          {"object", to_hex(profile.data)},
          {"rows", profile.rows},
          {"profile_built", built}}},
        {"current",
         {{"path", cur.path},
          {"kind", cur.kind},
          {"rows", cur.rows},
          {"deployment", deployment_id.empty() ? json(nullptr) : json(deployment_id)},
          {"since_seconds", req.since_ns > 0 ? json(double(req.since_ns) / 1e9) : json(nullptr)},
          {"window_start", cutoff.empty() ? json(nullptr) : json(cutoff)}}},
        {"model", model.ref.empty() ? json(nullptr) : json(model.ref)},
        {"columns", columns},
        {"missing_columns", missing},
        {"dataset",
         {{"columns", ds.columns},
          {"drifted", ds.drifted},
          {"share", ds.share},
          {"drift_share", s.drift_share},
          {"drift", ds.drift}}},
        {"performance", performance},
        {"status", status}};
    if (cur.kind == "log") {
        report["current"]["files"] = cur.files;
        report["current"]["served"] = served;
    }
    if (!performance_note.empty()) report["performance_note"] = performance_note;
    return report;
}

std::map<std::string, double> numeric_fields(const json& j) {
    std::map<std::string, double> out;
    for (auto it = j.begin(); it != j.end(); ++it)
        if (it->is_number()) out[it.key()] = it->get<double>();
    return out;
}

// ---- Labelled rows for retraining ----

LabelledRows labelled_current_rows(Repository& repo, const json& report, const std::string& label) {
    LabelledRows out;
    const json& cur = report.at("current");
    const std::string path = cur.at("path").get<std::string>();
    const fs::path abs = fs::path(path).is_absolute() ? fs::path(path) : repo.root() / path;
    if (cur.at("kind").get<std::string>() == "csv") {
        // Every column read as text, so values are copied as they were written.
        std::string first;
        {
            std::ifstream in(abs);
            if (!in || !std::getline(in, first))
                throw Error("cannot read " + path + " (the current data of report " +
                            report.at("id").get<std::string>().substr(0, 12) + ")");
        }
        CsvOptions opts;
        for (const Column& c : parse_csv(first + "\n", path).columns)
            opts.force_categorical.push_back(c.name);
        Table t = read_csv(abs, path, opts);
        const Column* l = t.find(label);
        if (!l) throw Error(path + " has no label column " + quote(label));
        for (const Column& c : t.columns)
            if (c.name != label) out.columns.push_back(c.name);
        out.columns.push_back(label);
        for (size_t r = 0; r < t.rows; ++r) {
            if (l->codes[r] < 0) continue;
            std::vector<std::string> row;
            for (const std::string& name : out.columns) {
                const Column& c = *t.find(name);
                row.push_back(c.codes[r] < 0 ? std::string() : c.categories[size_t(c.codes[r])]);
            }
            out.rows.push_back(std::move(row));
        }
        return out;
    }
    const json& dep = cur["deployment"];
    const json& start = cur["window_start"];
    std::vector<fs::path> files =
        log_files(abs, dep.is_string() ? dep.get<std::string>() : std::string());
    std::unordered_map<std::string, std::pair<json, json>> requests;  // id -> (columns, inputs)
    std::unordered_map<std::string, json> labels;
    std::vector<std::string> order;
    scan_log(files, repo, start.is_string() ? start.get<std::string>() : std::string(),
             [&](json& rec, const std::string& type, const std::string&, size_t) {
                 const json& id = rec["request_id"];
                 if (!id.is_string()) return;
                 if (type == "feedback") {
                     labels[id.get<std::string>()] = rec["labels"];
                 } else if (type == "prediction") {
                     if (!requests.count(id.get<std::string>())) order.push_back(id);
                     requests[id.get<std::string>()] = {rec["columns"], rec["inputs"]};
                 }
             });
    std::map<std::string, size_t> index;
    for (const std::string& id : order) {
        auto l = labels.find(id);
        if (l == labels.end()) continue;
        const auto& [columns, inputs] = requests[id];
        if (!columns.is_array() || !inputs.is_array() || !l->second.is_array() ||
            l->second.size() != inputs.size())
            continue;
        std::vector<size_t> at;
        for (const json& c : columns) {
            const std::string name = c.is_string() ? c.get<std::string>() : c.dump();
            auto [it, fresh] = index.try_emplace(name, out.columns.size());
            if (fresh) out.columns.push_back(name);
            at.push_back(it->second);
        }
        for (size_t r = 0; r < inputs.size(); ++r) {
            std::vector<std::string> row(out.columns.size());
            const json& values = inputs[r];
            for (size_t k = 0; k < at.size() && values.is_array() && k < values.size(); ++k)
                row[at[k]] = values[k].is_null() ? std::string() : scalar_text(values[k]);
            out.rows.push_back(std::move(row));
            out.rows.back().push_back(l->second[r].is_null() ? std::string()
                                                             : scalar_text(l->second[r]));
        }
    }
    // Rows from requests with fewer columns than the widest: pad, then put the label last.
    for (auto& row : out.rows) {
        std::string lab = row.back();
        row.pop_back();
        row.resize(out.columns.size());
        row.push_back(std::move(lab));
    }
    out.columns.push_back(label);
    return out;
}

// ---- History ----

void store_report(Repository& repo, const json& report) {
    const auto object = digest_from_hex(report["reference"]["object"].get<std::string>());
    const json& perf = report["performance"];
    Database::Statement q(repo.db(),
                          "INSERT INTO monitor_reports (id, time_ns, user, reference_path, "
                          "reference_object, current_path, current_kind, current_rows, columns, "
                          "drifted, drift, performance_ok, status, report_json) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, report["id"].get<std::string>())
        .bind(2, now_ns())
        .bind(3, current_user())
        .bind(4, report["reference"]["path"].get<std::string>())
        .bind_blob(5, object->data(), object->size())
        .bind(6, report["current"]["path"].get<std::string>())
        .bind(7, report["current"]["kind"].get<std::string>())
        .bind(8, report["current"]["rows"].get<int64_t>())
        .bind(9, report["dataset"]["columns"].get<int64_t>())
        .bind(10, report["dataset"]["drifted"].get<int64_t>())
        .bind(11, report["dataset"]["drift"].get<bool>() ? 1 : 0);
    if (perf.is_object() && perf.contains("holds"))
        q.bind(12, perf["holds"].get<bool>() ? 1 : 0);
    else
        q.bind_null(12);
    q.bind(13, report["status"].get<std::string>()).bind(14, report.dump());
    q.step();
}

std::vector<json> report_history(Repository& repo, size_t limit) {
    std::vector<json> out;
    Database::Statement q(repo.db(),
                          "SELECT report_json FROM monitor_reports ORDER BY time_ns DESC, id "
                          "LIMIT ?");
    q.bind(1, limit == 0 ? int64_t(-1) : int64_t(limit));
    while (q.step())
        out.push_back(json::parse(q.column_text(0)));
    return out;
}

std::optional<json> find_report(Repository& repo, const std::string& id) {
    Database::Statement q(repo.db(),
                          "SELECT report_json FROM monitor_reports WHERE substr(id, 1, ?) = ? "
                          "LIMIT 2");
    q.bind(1, int64_t(id.size())).bind(2, id);
    std::optional<json> found;
    while (q.step()) {
        if (found) throw Error("report id " + quote(id) + " is ambiguous");
        found = json::parse(q.column_text(0));
    }
    return found;
}

}  // namespace mlo::core
