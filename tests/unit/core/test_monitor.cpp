#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/csv.hpp"
#include "core/drift.hpp"
#include "core/monitor.hpp"
#include "core/pipeline.hpp"
#include "core/repository.hpp"
#include "storage/error.hpp"
#include "storage/hash.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using mlo::test::CwdGuard;
using mlo::test::TempDir;
using mlo::test::write_text;
using nlohmann::json;

namespace {

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

bool same(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

std::string num(double x) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
}

// A column's cells as text whatever its type: "NA", "s:<category>" or "n:<bits>".
std::vector<std::string> cells(const Column& c) {
    std::vector<std::string> out;
    for (int32_t code : c.codes)
        out.push_back(code < 0 ? "NA" : "s:" + c.categories.at(size_t(code)));
    for (double x : c.numbers) {
        uint64_t bits = 0;
        std::memcpy(&bits, &x, sizeof x);
        out.push_back(std::isnan(x) ? "NA" : "n:" + std::to_string(bits));
    }
    return out;
}

std::vector<Table> blocks_of(const fs::path& f, size_t block_bytes) {
    std::vector<Table> out;
    read_csv_blocks(f, "shown.csv", {}, block_bytes,
                    [&](Table&& t) { out.push_back(std::move(t)); });
    return out;
}

// Concatenating the blocks' rows gives read_csv's table; returns the number of blocks.
size_t check_blocks_match(const fs::path& f, size_t block_bytes) {
    const Table whole = read_csv(f, "shown.csv");
    const std::vector<Table> parts = blocks_of(f, block_bytes);
    REQUIRE_FALSE(parts.empty());
    size_t rows = 0;
    for (const Table& t : parts) {
        REQUIRE(t.columns.size() == whole.columns.size());
        rows += t.rows;
    }
    CHECK(rows == whole.rows);
    for (size_t i = 0; i < whole.columns.size(); ++i) {
        std::vector<std::string> joined;
        for (const Table& t : parts) {
            CHECK(t.columns[i].name == whole.columns[i].name);
            if (t.rows > 0) CHECK(t.columns[i].type == whole.columns[i].type);
            for (std::string& s : cells(t.columns[i]))
                joined.push_back(std::move(s));
        }
        const std::vector<std::string> want = cells(whole.columns[i]);
        size_t bad = 0;
        while (bad < want.size() && bad < joined.size() && want[bad] == joined[bad])
            ++bad;
        INFO("column " << whole.columns[i].name << ", first difference at row " << bad);
        CHECK(joined.size() == want.size());
        CHECK(bad == want.size());
    }
    return parts.size();
}

struct Shape {
    bool crlf = false, bom = false, final_newline = true, quoted = false;
    size_t rows = 8000;
};

// id, x (numbers, some missing), flag (booleans), city (text; quoted variants when asked).
std::string make_csv(const Shape& s, uint64_t seed) {
    std::mt19937_64 rng(seed);
    const std::string nl = s.crlf ? "\r\n" : "\n";
    std::string out = s.bom ? "\xEF\xBB\xBF" : "";
    out += "id,x,flag,city" + nl;
    static const char* const cities[] = {"Oslo", "Lima", "Quito", "Z\xC3\xBCrich"};
    for (size_t i = 0; i < s.rows; ++i) {
        const uint64_t r = rng();
        std::string x = r % 17 == 0 ? (r % 2 ? "" : "NA")
                                    : num(double(int64_t(r >> 11) % 2000001 - 1000000) / 997.0);
        const char* flag = r % 13 == 0 ? "N/A" : (r >> 8) % 2 ? "true" : "False";
        std::string city = cities[(r >> 16) % 4];
        if (s.quoted) {
            const std::string forms[] = {"\"" + city + ", \"\"old\"\" town\"",
                                         "\"" + city + "\nnorth\"",
                                         "\"two\r\nlines\"",
                                         "  \" " + city + " \"  ",
                                         "null",
                                         city};
            city = forms[(r >> 20) % 6];
        }
        out += std::to_string(i) + "," + x + "," + flag + "," + city;
        if (i + 1 < s.rows || s.final_newline) out += nl;
    }
    return out;
}

// "name=count,..." (Catch2 cannot print a map).
std::string text_of(const CategoryCounts& counts) {
    std::string out;
    for (const auto& [name, n] : counts)
        out += name + "=" + std::to_string(n) + ",";
    return out;
}

void check_numeric(const NumericProfile& a, const NumericProfile& b) {
    CHECK(a.count == b.count);
    CHECK(a.missing == b.missing);
    CHECK(same(a.mean, b.mean));
    CHECK(same(a.stddev, b.stddev));
    CHECK(same(a.min, b.min));
    CHECK(same(a.max, b.max));
    CHECK(a.sorted == b.sorted);
    CHECK(a.values == b.values);
    CHECK(a.edges == b.edges);
    CHECK(a.bin_counts == b.bin_counts);
}

void check_same_profile(const ReferenceProfile& a, const ReferenceProfile& b) {
    CHECK(a.data == b.data);
    CHECK(a.rows == b.rows);
    REQUIRE(a.columns.size() == b.columns.size());
    for (size_t i = 0; i < a.columns.size(); ++i) {
        INFO("column " << a.columns[i].name);
        CHECK(a.columns[i].name == b.columns[i].name);
        CHECK(a.columns[i].kind == b.columns[i].kind);
        CHECK(a.columns[i].missing == b.columns[i].missing);
        check_numeric(a.columns[i].numeric, b.columns[i].numeric);
        CHECK(a.columns[i].categorical.count == b.columns[i].categorical.count);
        CHECK(text_of(a.columns[i].categorical.categories) ==
              text_of(b.columns[i].categorical.categories));
    }
}

// build_profile agrees column by column with read_csv of the whole file.
void check_profile_matches_read_csv(const ReferenceProfile& p, const fs::path& f,
                                    const std::vector<std::string>& categorical) {
    CsvOptions o;
    o.force_categorical = categorical;
    const Table t = read_csv(f, "ref.csv", o);
    CHECK(p.rows == t.rows);
    REQUIRE(p.columns.size() == t.columns.size());
    for (size_t i = 0; i < t.columns.size(); ++i) {
        const Column& c = t.columns[i];
        const ProfileColumn& pc = p.columns[i];
        INFO("column " << c.name);
        CHECK(pc.name == c.name);
        CHECK(pc.missing == c.missing);
        if (c.type == ColumnType::categorical) {
            REQUIRE(pc.kind == ColumnKind::categorical);
            CHECK(text_of(pc.categorical.categories) ==
                  text_of(count_categories(c.codes, c.categories)));
            CHECK(pc.categorical.count == c.codes.size() - c.missing);
        } else {
            REQUIRE(pc.kind == ColumnKind::numeric);
            check_numeric(pc.numeric, numeric_profile({c.numbers.begin(), c.numbers.end()}));
        }
    }
}

}  // namespace

TEST_CASE("read_csv_blocks: the blocks' rows are read_csv's rows", "[monitor]") {
    TempDir tmp;
    // crlf, bom, final_newline, quoted, rows
    const std::vector<Shape> shapes = {
        {},
        {true, true, false, false, 8000},
        {false, false, true, true, 8000},
        {true, false, false, true, 8000},
        {false, true, true, true, 1},
        {true, false, false, false, 1},
    };
    for (size_t k = 0; k < shapes.size(); ++k) {
        const fs::path f = tmp / ("f" + std::to_string(k) + ".csv");
        const std::string text = make_csv(shapes[k], k + 1);
        write_text(f, text);
        INFO("shape " << k << ", " << text.size() << " bytes");
        for (size_t block : {size_t(1), size_t(100000)}) {
            const size_t n = check_blocks_match(f, block);
            if (text.size() > 200000) CHECK(n >= (block == 1 ? 3u : 2u));
        }
    }
    // A header only: fn is called once, with no rows and the header's columns.
    const std::string bom = "\xEF\xBB\xBF";
    for (const std::string& text :
         {std::string("a,b\n"), std::string("a,b"), bom + "a,b\r\n", bom + "a,b\n\n\n"}) {
        write_text(tmp / "h.csv", text);
        const std::vector<Table> parts = blocks_of(tmp / "h.csv", 1);
        REQUIRE(parts.size() == 1);
        CHECK(parts[0].rows == 0);
        REQUIRE(parts[0].columns.size() == 2);
        CHECK(parts[0].columns[0].name == "a");
        CHECK(parts[0].columns[1].name == "b");
    }
}

TEST_CASE("read_csv_blocks: errors in later blocks name the file's physical line", "[monitor]") {
    TempDir tmp;
    const std::vector<std::string> headers = {"a,b,c\n", "\xEF\xBB\xBF\"a\nA\",b,c\r\n"};
    const std::vector<std::string> bad_rows = {"1,w,2,3\n", "1,w\n", "1,w\"x,2\n", "1,\xFF,2\n"};
    for (const std::string& header : headers) {
        for (const std::string& bad : bad_rows) {
            for (size_t at : {size_t(3), size_t(18000)}) {
                std::string text = header;
                size_t line = 0;
                for (size_t i = 0; i < 20000; ++i) {
                    if (i == at) {
                        line = 1 + size_t(std::count(text.begin(), text.end(), '\n'));
                        text += bad;
                    } else {
                        const std::string w = "w" + std::to_string(i);
                        text += std::to_string(i) + "," + (i % 10 ? w : "\"" + w + "\nv\"") + "," +
                                std::to_string(i * 3) + "\n";
                    }
                }
                write_text(tmp / "e.csv", text);
                const std::string whole = error_of([&] { read_csv(tmp / "e.csv", "shown.csv"); });
                const std::string blocks = error_of([&] { blocks_of(tmp / "e.csv", 1); });
                INFO("header " << header.size() << " bytes, bad row " << bad << " at " << at);
                CHECK_THAT(whole, StartsWith("shown.csv:" + std::to_string(line) + ":"));
                CHECK(blocks == whole);
            }
        }
    }
}

TEST_CASE("build_profile matches read_csv, and profiles round-trip", "[monitor]") {
    TempDir tmp;
    std::mt19937_64 rng(7);
    std::string text = "num,flag,cat,zip\n";
    for (size_t i = 0; i < 3000; ++i) {
        const uint64_t r = rng();
        text +=
            (r % 11 == 0 ? std::string("NA") : num(double(r % 100003) / 7.0)) + "," +
            (r % 7 == 0     ? ""
             : (r >> 5) % 3 ? "true"
                            : "FALSE") +
            "," + (r % 9 == 0 ? std::string("null") : "c" + std::to_string((r >> 9) % 5)) + "," +
            (r % 10 == 0 ? std::string("") : "0" + std::to_string(2100 + (r >> 13) % 40)) + "\n";
    }
    write_text(tmp / "ref.csv", text);
    ReferenceProfile p = build_profile(tmp / "ref.csv", "ref.csv", {"zip"}, 0);
    check_profile_matches_read_csv(p, tmp / "ref.csv", {"zip"});
    REQUIRE(p.columns.size() == 4);
    CHECK(p.columns[1].kind == ColumnKind::numeric);      // booleans as 1/0
    CHECK(p.columns[3].kind == ColumnKind::categorical);  // numeric-looking, but listed
    CHECK(p.columns[3].categorical.categories.count("02100") == 1);
    // Without the listing, zip is numeric.
    CHECK(build_profile(tmp / "ref.csv", "ref.csv", {}, 1).columns[3].kind == ColumnKind::numeric);

    p.data = sha256("reference bytes");
    const std::string bytes = serialize_profile(p);
    check_same_profile(parse_profile(bytes, "obj"), p);
    CHECK(serialize_profile(parse_profile(bytes, "obj")) == bytes);

    // Every truncation, wrong magic or version, trailing bytes, a bad kind: Error, never a crash.
    write_text(tmp / "small.csv", "n,c\n1.5,a\n,b\n3,a\n");
    const std::string small = serialize_profile(build_profile(tmp / "small.csv", "s", {}, 1));
    for (size_t n = 0; n < small.size(); ++n)
        CHECK_THROWS_AS(parse_profile(std::string(small, 0, n), "obj"), Error);
    CHECK_THROWS_WITH(parse_profile("X" + small.substr(1), "obj"),
                      "obj: not a valid monitor profile");
    std::string version = small;
    version[8] = 2;
    CHECK_THROWS_AS(parse_profile(version, "obj"), Error);
    CHECK_THROWS_AS(parse_profile(small + '\0', "obj"), Error);
    for (size_t i = 0; i < small.size(); ++i) {
        for (char v : {'\x00', '\x02', '\x7f', '\xff'}) {
            std::string damaged = small;
            damaged[i] = v;
            CHECK_NOTHROW(error_of([&] { parse_profile(damaged, "obj"); }));
        }
    }

    // 120,000 values: `sorted` is summarised, and still round-trips exactly.
    std::string big = "v\n";
    for (size_t i = 0; i < 120000; ++i)
        big += i % 1000 == 0 ? "\n" : num(double((i * 7919) % 120011) / 3.0) + "\n";
    write_text(tmp / "big.csv", big);
    ReferenceProfile q = build_profile(tmp / "big.csv", "big.csv", {}, 0);
    check_profile_matches_read_csv(q, tmp / "big.csv", {});
    REQUIRE(q.columns.size() == 1);
    CHECK(q.columns[0].numeric.count == 120000 - 120);
    CHECK(q.columns[0].numeric.sorted.size() == kProfileMaxValues);
    CHECK(q.columns[0].numeric.summarised());
    const std::string qbytes = serialize_profile(q);
    check_same_profile(parse_profile(qbytes, "obj"), q);
}

namespace {

// A CSV of `total` bytes (more than build_profile's 16 MiB block): `row(i, late)` gives row i's
// leading fields, `late` once the text has reached `split` bytes; a padding column follows.
std::string big_csv(const std::string& header, size_t split, size_t total,
                    const std::function<std::string(size_t, bool)>& row) {
    std::string text = header + "\n";
    const std::string pad(200, 'p');
    for (size_t i = 0; text.size() < total; ++i)
        text += row(i, text.size() >= split) + "," + pad + "\n";
    return text;
}

}  // namespace

TEST_CASE("build_profile: a column that changes kind in a later block", "[monitor]") {
    TempDir tmp;
    const size_t block = size_t(16) << 20;
    // Numbers in the first block, text in a later one: an Error naming file, line and column.
    size_t bad_row = 0;
    std::string text =
        big_csv("x,pad", block + 100000, block + (1 << 20), [&](size_t i, bool late) {
            if (late && !bad_row) bad_row = i;
            return i == bad_row && late ? std::string("oops") : num(double(i % 977) * 0.5);
        });
    write_text(tmp / "a.csv", text);
    const std::string e = error_of([&] { build_profile(tmp / "a.csv", "a.csv", {}, 0); });
    CHECK_THAT(e, StartsWith("a.csv:" + std::to_string(bad_row + 2) + ": "));
    CHECK_THAT(e, Contains("column " + quote("x")) && Contains(quote("oops")) &&
                      Contains("monitor.categorical"));
    // Listed as categorical, the same file is fine.
    CHECK(build_profile(tmp / "a.csv", "a.csv", {"x"}, 0).columns[0].kind ==
          ColumnKind::categorical);

    // All missing in the first block, text later: categorical, no error.
    text = big_csv("x,y,pad", block + 100000, block + (1 << 20), [](size_t i, bool late) {
        return num(double(i % 1013) / 8.0) + "," + (late ? (i % 3 ? "red" : "NA") : "");
    });
    write_text(tmp / "b.csv", text);
    const ReferenceProfile p = build_profile(tmp / "b.csv", "b.csv", {}, 0);
    check_profile_matches_read_csv(p, tmp / "b.csv", {});
    REQUIRE(p.columns.size() == 3);
    CHECK(p.columns[1].kind == ColumnKind::categorical);
    CHECK(p.columns[1].categorical.categories.size() == 1);
}

namespace {

Pipeline pipeline(const std::string& rest) {
    return parse_pipeline("stages: {}\n" + rest, {});
}

std::string settings_error(const std::string& monitor) {
    return error_of(
        [&] { monitor_settings(pipeline("monitor:\n  reference: r.csv\n" + monitor)); });
}

}  // namespace

TEST_CASE("monitor_settings: defaults, the model, and errors", "[monitor]") {
    MonitorSettings s = monitor_settings(pipeline("monitor:\n  reference: data/ref.csv\n"));
    CHECK(s.reference == "data/ref.csv");
    CHECK(s.drift_share == 0.5);
    CHECK(s.model.empty());
    CHECK(s.current.empty());
    CHECK(s.tests.empty());
    CHECK(s.performance.empty());

    const std::string model = "model: {name: churn, path: models/churn.json}\n";
    const std::string mon = "monitor: {reference: r.csv}\n";
    CHECK(monitor_settings(pipeline(model + mon)).model == "churn@champion");
    CHECK(monitor_settings(pipeline("model: {name: churn, path: m.json, alias: prod}\n" + mon))
              .model == "churn@prod");
    CHECK(monitor_settings(pipeline(model + "deploy: {model: churn@staging}\n" + mon)).model ==
          "churn@staging");
    CHECK(
        monitor_settings(pipeline(model + "monitor: {reference: r.csv, model: other@x}\n")).model ==
        "other@x");

    s = monitor_settings(
        pipeline("monitor:\n  reference: r.csv\n  current: c.csv\n  label: y\n  columns: [a, b]\n"
                 "  categorical: zip\n  drift_share: 0.3\n"
                 "  tests: {a: {test: psi, threshold: 0.2}, b: ks}\n"
                 "  performance: \"accuracy >= champion.accuracy - 0.05\"\n"));
    CHECK(s.current == "c.csv");
    CHECK(s.label == "y");
    CHECK(s.columns == std::vector<std::string>{"a", "b"});
    CHECK(s.categorical == std::vector<std::string>{"zip"});
    CHECK(s.drift_share == 0.3);
    REQUIRE(s.tests.size() == 2);
    CHECK(s.tests["a"].test == DriftTest::psi);
    CHECK(s.tests["a"].threshold == 0.2);
    CHECK(s.tests["b"].test == DriftTest::ks);
    CHECK_FALSE(s.tests["b"].threshold.has_value());
    CHECK(s.performance == "accuracy >= champion.accuracy - 0.05");

    CHECK_THAT(settings_error("  colour: red\n"), StartsWith("mlo.yaml: monitor.colour: "));
    CHECK_THAT(settings_error("  drift_share: 0\n"), StartsWith("mlo.yaml: monitor.drift_share: "));
    CHECK_THAT(settings_error("  drift_share: 1.5\n"),
               StartsWith("mlo.yaml: monitor.drift_share: "));
    CHECK_THAT(settings_error("  tests: {a: {test: magic}}\n"),
               StartsWith("mlo.yaml: monitor.tests.a.test: unknown test"));
    CHECK_THAT(settings_error("  tests: {a: magic}\n"),
               StartsWith("mlo.yaml: monitor.tests.a.test: "));
    CHECK_THAT(settings_error("  tests: {a: {test: ks, threshold: -0.1}}\n"),
               StartsWith("mlo.yaml: monitor.tests.a.threshold: "));
    CHECK_THAT(settings_error("  tests: {a: {test: ks, bound: 1}}\n"),
               StartsWith("mlo.yaml: monitor.tests.a.bound: "));
    CHECK_THAT(settings_error("  performance: \"accuracy >=\"\n"),
               StartsWith("mlo.yaml: monitor.performance"));
    CHECK_THAT(settings_error("  columns: {a: 1}\n"), StartsWith("mlo.yaml: monitor.columns: "));
    CHECK_THAT(error_of([] { monitor_settings(pipeline("monitor: {current: c.csv}\n")); }),
               StartsWith("mlo.yaml: monitor needs 'reference'"));
    CHECK_THAT(error_of([] { monitor_settings(pipeline("")); }), Contains("mlo.yaml"));
}

TEST_CASE("parse_duration_ns", "[monitor]") {
    const int64_t s = 1000000000;
    CHECK(parse_duration_ns("30s", "--since") == 30 * s);
    CHECK(parse_duration_ns("15m", "--since") == 900 * s);
    CHECK(parse_duration_ns("24h", "--since") == 86400 * s);
    CHECK(parse_duration_ns("7d", "--since") == 604800 * s);
    CHECK(parse_duration_ns("90", "--since") == 90 * s);
    CHECK(parse_duration_ns("1.5h", "--since") == 5400 * s);
    CHECK(parse_duration_ns("0.5s", "--since") == s / 2);
    for (const char* bad : {"", "h", "-1h", "5w", "abc", "0s", "5 h", "nan", "1e999d"})
        CHECK_THROWS_WITH(parse_duration_ns(bad, "--since"),
                          StartsWith("invalid --since " + quote(bad) + ": "));
}

TEST_CASE("reference_profile is stored once per content; run_monitor compares", "[monitor]") {
    TempDir tmp;
    Repository::init(tmp.path());
    Repository repo = Repository::open(tmp.path());
    CwdGuard cwd(tmp.path());
    std::vector<double> ref, shifted;
    std::string ref_text = "x,c\n", cur_text = "x,c\n", shifted_text = "x,c\n";
    for (size_t i = 0; i < 300; ++i) {
        const double x = double((i * 37) % 101) / 10.0;
        const std::string c = i % 3 ? "a" : "b";
        ref_text += (i % 50 == 7 ? std::string("NA") : num(x)) + "," + c + "\n";
        if (i % 50 != 7) ref.push_back(x);
        cur_text += num(x) + "," + c + "\n";
        shifted_text += num(x + 2.5) + "," + c + "\n";
        shifted.push_back(x + 2.5);
    }
    write_text(tmp / "ref.csv", ref_text);
    write_text(tmp / "cur.csv", cur_text);
    write_text(tmp / "shifted.csv", shifted_text);

    MonitorSettings s;
    s.reference = "ref.csv";
    s.current = "cur.csv";
    bool built = false;
    const ReferenceProfile p1 = reference_profile(repo, s, &built);
    CHECK(built);
    CHECK(p1.data == sha256(ref_text));
    CHECK(p1.rows == 300);
    const ReferenceProfile p2 = reference_profile(repo, s, &built);
    CHECK_FALSE(built);
    check_same_profile(p1, p2);

    json r = run_monitor(repo, s, {});
    CHECK(r["status"] == "ok");
    CHECK(r["reference"]["profile_built"] == false);
    CHECK(r["current"]["rows"] == 300);
    CHECK(r["dataset"]["drifted"] == 0);
    REQUIRE(r["columns"].size() == 2);
    for (const json& c : r["columns"])
        CHECK(c["drifted"] == false);

    MonitorRequest req;
    req.current = "shifted.csv";
    r = run_monitor(repo, s, req);
    CHECK(r["status"] == "drift");
    const json& x = r["columns"][0];
    REQUIRE(x["column"] == "x");
    CHECK(x["test"] == "ks");
    CHECK(x["drifted"] == true);
    CHECK(x["missing"]["reference"] == 6);
    const KsResult ks = ks_2samp(ref, shifted);
    CHECK(x["score"].get<double>() == ks.p_value);
    CHECK(x["statistic"].get<double>() == ks.statistic);
    CHECK(ks.p_value < 0.05);
    CHECK(r["columns"][1]["drifted"] == false);

    // New content: built again; the old content again: its stored profile is found.
    write_text(tmp / "ref.csv", cur_text + "1,a\n");
    CHECK(reference_profile(repo, s, &built).rows == 301);
    CHECK(built);
    reference_profile(repo, s, &built);
    CHECK_FALSE(built);
    write_text(tmp / "ref.csv", ref_text);
    check_same_profile(reference_profile(repo, s, &built), p1);
    CHECK_FALSE(built);
    // Other categorical settings are another profile.
    s.categorical = {"x"};
    CHECK(reference_profile(repo, s, &built).columns[0].kind == ColumnKind::categorical);
    CHECK(built);
}

// ---- Regressions: bugs found by these tests, since fixed ----

TEST_CASE("read_csv_blocks keeps empty lines that end a block", "[monitor]") {
    TempDir tmp;
    // One column: an empty line is a row with a missing value, for read_csv.
    write_text(tmp / "one.csv", "v\n" + std::string(200000, '\n') + "1\n");
    CHECK(read_csv(tmp / "one.csv", "one.csv").rows == 200001);
    size_t rows = 0;
    for (const Table& t : blocks_of(tmp / "one.csv", 1))
        rows += t.rows;
    CHECK(rows == 200001);
    check_blocks_match(tmp / "one.csv", 1);
    // Two columns: an empty line inside the file is an error, also as the last line of the
    // first block (the first 64 KiB of the file).
    std::string text = "a,b\n";
    while (text.size() < 65500)
        text += "1,2\n";
    text += std::string(65535 - text.size() - 2, '0') + ",\n\n3,4\n";
    REQUIRE(text[65535] == '\n');
    write_text(tmp / "two.csv", text);
    const std::string whole = error_of([&] { read_csv(tmp / "two.csv", "shown.csv"); });
    CHECK_THAT(whole, Contains("row has 1 field"));
    CHECK(error_of([&] { blocks_of(tmp / "two.csv", 1); }) == whole);
}

TEST_CASE("build_profile keeps the text of numbers in a categorical column", "[monitor]") {
    TempDir tmp;
    const size_t block = size_t(16) << 20;
    // Text in the first block; the second holds numbers only.
    write_text(tmp / "c.csv",
               big_csv("z,pad", block - 1000, block + (1 << 20),
                       [](size_t i, bool late) { return late ? (i % 2 ? "0.1" : "7") : "a"; }));
    const ReferenceProfile p = build_profile(tmp / "c.csv", "c.csv", {}, 0);
    check_profile_matches_read_csv(p, tmp / "c.csv", {});
    fs::remove(tmp / "c.csv");  // a failure keeps the directory: not 17 MiB of it
}

TEST_CASE("build_profile names the physical line after quoted line breaks", "[monitor]") {
    TempDir tmp;
    const size_t block = size_t(16) << 20;
    size_t bad_row = 0;
    const std::string text =
        big_csv("x,note,pad", block + 100000, block + (1 << 20), [&](size_t i, bool late) {
            if (late && !bad_row) bad_row = i;
            return std::string(i == bad_row && late ? "oops" : "1") +
                   (i ? ",n" : ",\"two\nlines\"");
        });
    write_text(tmp / "d.csv", text);
    // Row bad_row is on line bad_row + 3: the header, and row 0's two lines.
    const std::string e = error_of([&] { build_profile(tmp / "d.csv", "d.csv", {}, 0); });
    fs::remove(tmp / "d.csv");
    CHECK_THAT(e, StartsWith("d.csv:" + std::to_string(bad_row + 3) + ": "));
}

TEST_CASE("parse_duration_ns rejects durations beyond int64 nanoseconds", "[monitor]") {
    CHECK_THROWS_AS(parse_duration_ns("200000d", "--since"), Error);
    CHECK_THROWS_AS(parse_duration_ns("1e300s", "--since"), Error);
}
