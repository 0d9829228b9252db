#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/csv.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;

namespace {

const Column& col(const Table& t, const std::string& name) {
    const Column* c = t.find(name);
    REQUIRE(c != nullptr);
    return *c;
}

std::vector<std::string> values(const Column& c) {
    REQUIRE(c.type == ColumnType::categorical);
    std::vector<std::string> out;
    for (int32_t code : c.codes)
        out.push_back(code < 0 ? "<missing>" : c.categories.at(size_t(code)));
    return out;
}

// "what" of the Error thrown by parse_csv(text), or "" when it does not throw.
std::string error_of(const std::string& text, const CsvOptions& options = {}) {
    try {
        parse_csv(text, "t.csv", options);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

bool same(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || a == b;
}

}  // namespace

TEST_CASE("quoted fields hold delimiters, line breaks and doubled quotes", "[csv]") {
    Table t = parse_csv(
        "a,b\n"
        "\"x,y\",\"line1\nline2\"\n"
        "\"he said \"\"hi\"\"\",\"crlf\r\nin\"\n"
        "  \" padded \"  ,plain  \n",
        "t.csv");
    REQUIRE(t.rows == 3);
    CHECK(values(col(t, "a")) == std::vector<std::string>{"x,y", "he said \"hi\"", " padded "});
    CHECK(values(col(t, "b")) == std::vector<std::string>{"line1\nline2", "crlf\r\nin", "plain"});
}

TEST_CASE("CRLF line ends, a byte order mark and a last line without newline", "[csv]") {
    Table t = parse_csv("\xEF\xBB\xBFx,y,z\r\n1,true,a\r\n-2.5,False,b\r\n+3e2,TRUE,a", "t.csv");
    REQUIRE(t.rows == 3);
    REQUIRE(t.columns.size() == 3);
    CHECK(t.columns[0].name == "x");
    const Column& x = col(t, "x");
    CHECK(x.type == ColumnType::numeric);
    CHECK(x.numbers == Numbers{1, -2.5, 300});
    const Column& y = col(t, "y");
    CHECK(y.type == ColumnType::boolean);
    CHECK(y.numbers == Numbers{1, 0, 1});
    const Column& z = col(t, "z");
    CHECK(z.type == ColumnType::categorical);
    CHECK(z.categories == std::vector<std::string>{"a", "b"});
    CHECK(z.codes == std::vector<int32_t>{0, 1, 0});
}

TEST_CASE("missing values have six spellings", "[csv]") {
    Table t = parse_csv(
        "n,c,b,e\n"
        ",x,true,\n"
        "NA,NA,NA,NA\n"
        "N/A,y,N/A,\"\"\n"
        "NaN,x,NaN,null\n"
        "nan,nan,false,\n"
        "null,\" z \",null,nan\n"
        " 7 ,  NA  ,true,NaN\n",
        "t.csv");
    REQUIRE(t.rows == 7);
    const Column& n = col(t, "n");
    CHECK(n.type == ColumnType::numeric);
    CHECK(n.missing == 6);
    CHECK(std::isnan(n.numbers[0]));
    CHECK(std::isnan(n.numbers[5]));
    CHECK(n.numbers[6] == 7);
    const Column& c = col(t, "c");
    CHECK(values(c) ==
          std::vector<std::string>{"x", "<missing>", "y", "x", "<missing>", " z ", "<missing>"});
    CHECK(c.missing == 3);
    const Column& b = col(t, "b");
    CHECK(b.type == ColumnType::boolean);
    CHECK(b.missing == 4);
    CHECK(b.numbers[0] == 1);
    CHECK(std::isnan(b.numbers[1]));
    CHECK(b.numbers[4] == 0);
    // A column with nothing but missing values is numeric, all NaN.
    const Column& e = col(t, "e");
    CHECK(e.type == ColumnType::numeric);
    CHECK(e.missing == 7);
    REQUIRE(e.numbers.size() == 7);
    for (double v : e.numbers)
        CHECK(std::isnan(v));
    // Other spellings are values.
    CHECK(col(parse_csv("v\nna\nNULL\n1\n", "t.csv"), "v").type == ColumnType::categorical);
    CHECK(is_missing_value("N/A"));
    CHECK_FALSE(is_missing_value("n/a"));
}

TEST_CASE("column types are inferred over all values", "[csv]") {
    Table t = parse_csv(
        "num,mixed,numbool,cat,bools,quoted_num\n"
        "1,007,1,b,true,\"2.5\"\n"
        "1e-3,3.0,true,a,FALSE,\" 3 \"\n"
        ".5,abc,0,b,True,\"-1\"\n"
        "-0,12,,c,false,\n",
        "t.csv");
    REQUIRE(t.rows == 4);
    const Column& num = col(t, "num");
    CHECK(num.type == ColumnType::numeric);
    CHECK(num.numbers == Numbers{1, 1e-3, 0.5, -0.0});
    // Numbers in a column that also has words keep their text.
    CHECK(values(col(t, "mixed")) == std::vector<std::string>{"007", "3.0", "abc", "12"});
    // Numbers and booleans together are categorical.
    CHECK(values(col(t, "numbool")) == std::vector<std::string>{"1", "true", "0", "<missing>"});
    const Column& cat = col(t, "cat");
    CHECK(cat.categories == std::vector<std::string>{"b", "a", "c"});
    CHECK(cat.codes == std::vector<int32_t>{0, 1, 0, 2});
    const Column& bools = col(t, "bools");
    CHECK(bools.type == ColumnType::boolean);
    CHECK(bools.numbers == Numbers{1, 0, 1, 0});
    const Column& qn = col(t, "quoted_num");
    CHECK(qn.type == ColumnType::numeric);
    CHECK(qn.numbers[0] == 2.5);
    CHECK(qn.numbers[1] == 3);
    CHECK(qn.numbers[2] == -1);
    CHECK(std::isnan(qn.numbers[3]));

    // Not finite, hexadecimal, double sign, decimal comma: not numbers.
    for (const char* v : {"inf", "-inf", "1e999", "0x10", "+-1", "++1", "1,5", "1 2", "+"}) {
        std::string text = std::string("v\n1\n\"") + v + "\"\n";
        INFO(v);
        CHECK(col(parse_csv(text, "t.csv"), "v").type == ColumnType::categorical);
    }
    // The same after a first number (the fast path for numbers must agree), unquoted.
    for (const char* v : {"inf", "1e999", "0x10", "2x", "1.5.", "-", "1e", "1 2"}) {
        std::string text = std::string("v,w\n1,1\n") + v + ",2\r\n";
        INFO(v);
        Table u = parse_csv(text, "t.csv");
        CHECK(values(col(u, "v")) == std::vector<std::string>{"1", v});
        CHECK(col(u, "w").numbers == Numbers{1, 2});
    }
    Table s = parse_csv("v,w\n1,1\nnan,2\n  3  ,4\n+5,6\n", "t.csv");
    CHECK(col(s, "v").missing == 1);
    CHECK(col(s, "v").numbers[2] == 3);
    CHECK(col(s, "v").numbers[3] == 5);
    CsvOptions dot;
    dot.delimiter = '.';
    Table d = parse_csv("a.b\n1.5\n2.25\n", "t.csv", dot);
    CHECK(col(d, "a").numbers == Numbers{1, 2});
    CHECK(col(d, "b").numbers == Numbers{5, 25});
    // yes/no are words.
    CHECK(col(parse_csv("v\ntrue\nyes\n", "t.csv"), "v").type == ColumnType::categorical);
}

TEST_CASE("force_categorical reads numbers as text", "[csv]") {
    CsvOptions o;
    o.force_categorical = {"zip"};
    Table t = parse_csv("zip,x\n01234,1\n,2\n01234,3\n", "t.csv", o);
    CHECK(values(col(t, "zip")) == std::vector<std::string>{"01234", "<missing>", "01234"});
    CHECK(col(t, "x").type == ColumnType::numeric);
    o.force_categorical = {"nope"};
    CHECK(error_of("zip,x\n1,2\n", o) ==
          "cannot read t.csv: no column 'nope' to read as categorical");
}

TEST_CASE("other delimiters", "[csv]") {
    CsvOptions o;
    o.delimiter = '\t';
    Table t = parse_csv("a\tb\n1\t\"x\ty\"\n\t z\n", "t.csv", o);
    REQUIRE(t.rows == 2);
    CHECK(std::isnan(col(t, "a").numbers[1]));
    CHECK(values(col(t, "b")) == std::vector<std::string>{"x\ty", "z"});
    o.delimiter = ';';
    t = parse_csv("a;b\n1,5;2\n", "t.csv", o);
    CHECK(values(col(t, "a")) == std::vector<std::string>{"1,5"});
}

TEST_CASE("empty lines: ignored at the end, a missing value in a one-column table", "[csv]") {
    Table t = parse_csv("v\n1\n\n2\n\n\r\n\n", "t.csv");
    CHECK(t.rows == 3);
    const Column& v = col(t, "v");
    CHECK(v.missing == 1);
    CHECK(v.numbers[0] == 1);
    CHECK(std::isnan(v.numbers[1]));
    CHECK(v.numbers[2] == 2);
    Table h = parse_csv("a,b\r\n", "t.csv");
    CHECK(h.rows == 0);
    CHECK(h.columns.size() == 2);
    CHECK(h.columns[1].type == ColumnType::numeric);
    CHECK(error_of("a,b\n1,2\n\n3,4\n") == "t.csv:3:1: row has 1 field, the header has 2");
}

TEST_CASE("errors name the file, line and column", "[csv]") {
    CHECK(error_of("a,b,c\n1,2,3\n4,5\n") == "t.csv:3:1: row has 2 fields, the header has 3");
    CHECK(error_of("a,b\n1,2,3\n") == "t.csv:2:1: row has 3 fields, the header has 2");
    // Lines are physical lines: the line break inside quotes counts.
    CHECK(error_of("a,b\n\"x\ny\",1\n1\n") == "t.csv:4:1: row has 1 field, the header has 2");
    CHECK(error_of("a,b\r\n1,x\"y\r\n") ==
          "t.csv:2:4: quote inside an unquoted field (quote the whole field and double the "
          "quotes inside it)");
    CHECK(error_of("a,b\n1,\"x\"y\n") ==
          "t.csv:2:6: unexpected text after the closing quote of a field");
    CHECK(error_of("a,b\n1,2\n3,\"abc\n4,5\n") ==
          "t.csv:3:3: quoted field is not closed (the quote opens here)");
    CHECK(error_of("a,b\n1,\"\"\"") ==
          "t.csv:2:3: quoted field is not closed (the quote opens here)");
    CHECK(error_of("a,b,a\n1,2,3\n") == "t.csv:1:5: duplicate column name 'a' (also column 1)");
    CHECK(error_of("a,,b\n1,2,3\n") == "t.csv:1:3: column 2 has an empty name in the header row");
    CHECK(error_of("a,\"\"\n1,2\n") == "t.csv:1:4: column 2 has an empty name in the header row");
    CHECK(error_of("") == "t.csv:1:1: empty file: a header row is required");
    CHECK(error_of("\r\n\n") == "t.csv:1:1: empty file: a header row is required");
    // Invalid UTF-8: truncated sequence, overlong form, surrogate, lone continuation byte.
    CHECK(error_of("a,b\n1,ok\n2,x\xC3y\n") == "t.csv:3:4: value in column 'b' is not valid UTF-8");
    CHECK(error_of("a,b\n1,\xC0\xAF\n") == "t.csv:2:3: value in column 'b' is not valid UTF-8");
    CHECK(error_of("a\n\"q\"\"\xED\xA0\x80\"\n") ==
          "t.csv:2:5: value in column 'a' is not valid UTF-8");
    CHECK(error_of("a\xBF,b\n") == "t.csv:1:2: column name is not valid UTF-8");
    // Valid UTF-8 passes through.
    Table t = parse_csv("名前,b\n\"é, ü\",😀\n", "t.csv");
    CHECK(values(col(t, "名前")) == std::vector<std::string>{"é, ü"});
    CHECK(values(col(t, "b")) == std::vector<std::string>{"😀"});
    // A structural error wins over invalid UTF-8 earlier in the file.
    CHECK(error_of("a,b\n1,\xFF\n2\n") == "t.csv:3:1: row has 1 field, the header has 2");
}

TEST_CASE("read_csv reads a file", "[csv]") {
    test::TempDir tmp;
    test::write_text(tmp / "d.csv", "x,y\r\n1,a\r\n2,b\r\n");
    Table t = read_csv(tmp / "d.csv", "data/d.csv");
    CHECK(t.rows == 2);
    CHECK(col(t, "x").numbers == Numbers{1, 2});
    test::write_text(tmp / "bad.csv", "x,y\n1\n");
    CHECK_THROWS_WITH(read_csv(tmp / "bad.csv", "data/bad.csv"),
                      "data/bad.csv:2:1: row has 1 field, the header has 2");
    test::write_text(tmp / "empty.csv", "");
    CHECK_THROWS_WITH(read_csv(tmp / "empty.csv", "e.csv"),
                      "e.csv:1:1: empty file: a header row is required");
    CHECK_THROWS_AS(read_csv(tmp / "missing.csv", "missing.csv"), Error);
}

namespace {

struct Generated {
    std::string text;
    std::vector<std::vector<double>> numbers;           // per numeric/boolean column
    std::vector<std::vector<std::string>> categorical;  // per categorical column ("" = missing)
    std::vector<size_t> starts;                         // offset of each row in text
};

std::string quote_csv(const std::string& v) {
    bool need = v.empty() || v.front() == ' ' || v.back() == ' ' ||
                v.find_first_of(",\"\r\n") != std::string::npos;
    if (!need) return v;
    std::string out = "\"";
    for (char c : v) {
        out += c;
        if (c == '"') out += '"';
    }
    return out + "\"";
}

// Columns: num0, num1 (doubles, some missing), flag (boolean), cat (strings with delimiters,
// quotes, line breaks, UTF-8), late (numbers, then one word near the end: categorical).
Generated generate(size_t rows, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> real(-1e6, 1e6);
    std::uniform_int_distribution<int> pick(0, 99);
    const std::vector<std::string> pieces = {"a", "b c", ",", "\"",   "\n", "\r\n",
                                             "é", "😀",   " ", "x\"y", "zz", "Ω"};
    Generated g;
    g.numbers.resize(3);
    g.categorical.resize(2);
    g.text = "num0,num1,flag,cat,late\r\n";
    char buf[64];
    for (size_t r = 0; r < rows; ++r) {
        g.starts.push_back(g.text.size());
        std::string line;
        for (int k = 0; k < 2; ++k) {
            int p = pick(rng);
            double v;
            if (p < 5) {
                v = std::nan("");
                line += p < 2 ? "" : "NA";
            } else {
                v = p < 20 ? double(int64_t(real(rng)))
                           : real(rng) * std::pow(10.0, pick(rng) - 50);
                std::snprintf(buf, sizeof buf, "%.17g", v);
                line += buf;
            }
            g.numbers[size_t(k)].push_back(v);
            line += ',';
        }
        int p = pick(rng);
        g.numbers[2].push_back(p < 3 ? std::nan("") : p % 2);
        line += p < 3 ? "" : p % 2 ? "true" : "False";
        line += ',';
        std::string cat;
        if (pick(rng) >= 4) {
            cat = "v";
            int n = pick(rng) % 4;
            for (int i = 0; i < n; ++i)
                cat += pieces[size_t(pick(rng)) % pieces.size()];
            if (pick(rng) < 10) cat = " " + cat + " ";
        }
        g.categorical[0].push_back(cat);
        line += quote_csv(cat);
        line += ',';
        std::string late = r + 3 == rows ? "word" : std::to_string(pick(rng));
        g.categorical[1].push_back(late);
        line += late;
        line += pick(rng) < 50 ? "\n" : "\r\n";
        g.text += line;
    }
    return g;
}

void check_generated(const Table& t, const Generated& g, size_t rows) {
    REQUIRE(t.rows == rows);
    REQUIRE(t.columns.size() == 5);
    const char* numeric[] = {"num0", "num1", "flag"};
    for (size_t k = 0; k < 3; ++k) {
        const Column& c = col(t, numeric[k]);
        CHECK(c.type == (k == 2 ? ColumnType::boolean : ColumnType::numeric));
        REQUIRE(c.numbers.size() == rows);
        size_t mismatches = 0, missing = 0;
        for (size_t r = 0; r < rows; ++r) {
            if (!same(c.numbers[r], g.numbers[k][r])) ++mismatches;
            if (std::isnan(g.numbers[k][r])) ++missing;
        }
        CHECK(mismatches == 0);
        CHECK(c.missing == missing);
    }
    const char* cats[] = {"cat", "late"};
    for (size_t k = 0; k < 2; ++k) {
        const Column& c = col(t, cats[k]);
        REQUIRE(c.type == ColumnType::categorical);
        REQUIRE(c.codes.size() == rows);
        size_t mismatches = 0;
        std::vector<std::string> first_seen;
        for (size_t r = 0; r < rows; ++r) {
            const std::string& want = g.categorical[k][r];
            int32_t code = c.codes[r];
            if (want.empty() ? code != -1 : code < 0 || c.categories[size_t(code)] != want)
                ++mismatches;
            if (!want.empty() &&
                std::find(first_seen.begin(), first_seen.end(), want) == first_seen.end())
                first_seen.push_back(want);
        }
        CHECK(mismatches == 0);
        CHECK(c.categories == first_seen);
    }
}

}  // namespace

TEST_CASE("randomised round trip, on one thread and in chunks", "[csv]") {
    const size_t rows = 100000;  // about 5 MB: enough to be cut into chunks
    Generated g = generate(rows, 42);
    REQUIRE(g.text.size() > (size_t(4) << 20));
    for (unsigned jobs : {1u, 2u, 3u}) {
        INFO("jobs " << jobs);
        CsvOptions o;
        o.jobs = jobs;
        check_generated(parse_csv(g.text, "t.csv", o), g, rows);
    }
    // The same first error whatever the chunking: break a row near the end and one after it.
    std::string broken = g.text;
    size_t line_start = g.starts[rows - 3];
    broken.insert(line_start, "oops\n");
    broken += "1,\"unterminated\n";
    size_t line = 1 + size_t(std::count(broken.begin(), broken.begin() + long(line_start), '\n'));
    std::string want = "t.csv:" + std::to_string(line) + ":1: row has 1 field, the header has 5";
    for (unsigned jobs : {1u, 2u, 4u}) {
        CsvOptions o;
        o.jobs = jobs;
        CHECK(error_of(broken, o) == want);
    }
}

TEST_CASE("small random tables round-trip", "[csv]") {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        INFO("seed " << seed);
        Generated g = generate(50 + seed * 7, seed);
        check_generated(parse_csv(g.text, "t.csv"), g, 50 + seed * 7);
    }
}

TEST_CASE("throughput on numeric data", "[.csv-bench]") {
    test::TempDir tmp;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> real(-1000, 1000);
    std::string text;
    for (int c = 0; c < 20; ++c)
        text += (c ? ",f" : "f") + std::to_string(c);
    text += '\n';
    char buf[64];
    while (text.size() < (size_t(50) << 20)) {
        for (int c = 0; c < 20; ++c) {
            int n = std::snprintf(buf, sizeof buf, c ? ",%.6f" : "%.6f", real(rng));
            text.append(buf, size_t(n));
        }
        text += '\n';
    }
    test::write_text(tmp / "big.csv", text);
    double mb = double(text.size()) / 1e6;
    for (unsigned jobs : {1u, 0u}) {
        CsvOptions o;
        o.jobs = jobs;
        double best = 0;
        for (int rep = 0; rep < 3; ++rep) {
            auto t0 = std::chrono::steady_clock::now();
            Table t = read_csv(tmp / "big.csv", "big.csv", o);
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            REQUIRE(t.columns.size() == 20);
            CHECK(t.columns[19].type == ColumnType::numeric);
            best = std::max(best, mb / s);
        }
        std::printf("csv: %.1f MB, %u job(s) (0 = all cores): best of 3: %.0f MB/s\n", mb, jobs,
                    best);
    }
}
