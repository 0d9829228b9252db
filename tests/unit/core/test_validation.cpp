#include <string>
#include <vector>

#include "core/csv.hpp"
#include "core/pipeline.hpp"
#include "core/validation.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;

namespace {

Schema infer(const std::string& csv) {
    return infer_schema(parse_csv(csv, "t.csv"));
}

const ColumnSchema& column(const Schema& s, const std::string& name) {
    const ColumnSchema* c = s.find(name);
    REQUIRE(c != nullptr);
    return *c;
}

Schema schema(const std::string& yaml) {
    return parse_schema(yaml, "s.yaml");
}

ValidationReport check(const std::string& csv, const std::string& yaml) {
    return validate_csv_text(csv, "t.csv", schema(yaml));
}

// The result of rule `rule` of `col` ("" for dataset rules); fails the test when absent.
const RuleResult& rule(const ValidationReport& r, const std::string& col, const std::string& name) {
    for (const RuleResult& x : r.rules)
        if (x.column == col && x.rule == name) return x;
    FAIL("no rule " << name << " for column '" << col << "'");
    throw;
}

bool has_rule(const ValidationReport& r, const std::string& col, const std::string& name) {
    for (const RuleResult& x : r.rules)
        if (x.column == col && x.rule == name) return true;
    return false;
}

std::vector<uint64_t> lines(const RuleResult& r) {
    std::vector<uint64_t> out;
    for (const Example& e : r.examples)
        out.push_back(e.line);
    return out;
}

std::vector<std::string> shown(const RuleResult& r) {
    std::vector<std::string> out;
    for (const Example& e : r.examples)
        out.push_back(describe_example(e));
    return out;
}

// "what" of the Error parse_schema throws, or "" when it does not throw.
std::string schema_error(const std::string& yaml) {
    try {
        parse_schema(yaml, "s.yaml");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Ten rows: id 1..10, score 0.5..9.5 with one missing, plan a/b/c, flag true/false.
const char* kData =
    "id,score,plan,flag\n"
    "1,0.5,a,true\n"
    "2,1.5,b,false\n"
    "3,2.5,c,true\n"
    "4,,a,false\n"
    "5,4.5,b,true\n"
    "6,5.5,c,false\n"
    "7,6.5,a,true\n"
    "8,7.5,b,false\n"
    "9,8.5,c,true\n"
    "10,9.5,a,false\n";

}  // namespace

TEST_CASE("inference: types, ranges, domains, nullable and unique", "[validation]") {
    Schema s = infer(kData);
    CHECK(s.observed_rows == 10u);
    CHECK(s.min_rows == 1u);
    CHECK_FALSE(s.max_rows);
    REQUIRE(s.columns.size() == 4);

    const ColumnSchema& id = column(s, "id");
    CHECK(id.type == SchemaType::integer);
    CHECK(id.min == 1.0);
    CHECK(id.max == 10.0);
    CHECK_FALSE(id.nullable);
    CHECK(id.unique);  // whole numbers that never repeat: an identifier

    const ColumnSchema& score = column(s, "score");
    CHECK(score.type == SchemaType::numeric);
    CHECK(score.min == 0.5);
    CHECK(score.max == 9.5);
    CHECK(score.nullable);
    CHECK_FALSE(score.unique);  // measurements are distinct by chance: never inferred unique

    const ColumnSchema& plan = column(s, "plan");
    CHECK(plan.type == SchemaType::categorical);
    REQUIRE(plan.domain);
    CHECK(*plan.domain == std::vector<std::string>{"a", "b", "c"});  // sorted
    CHECK_FALSE(plan.nullable);
    CHECK_FALSE(plan.unique);

    const ColumnSchema& flag = column(s, "flag");
    CHECK(flag.type == SchemaType::boolean);
    CHECK_FALSE(flag.min);
    CHECK_FALSE(flag.domain);
}

TEST_CASE("inference: identifiers, large domains and empty columns", "[validation]") {
    std::string csv = "code,many,empty,small\n";
    for (int i = 0; i < 150; ++i)
        csv += "c" + std::to_string(i) + ",v" + std::to_string(i % 120) + ",," +
               std::to_string(i % 3) + "\n";
    Schema s = infer(csv);
    const ColumnSchema& code = column(s, "code");
    CHECK(code.type == SchemaType::categorical);
    CHECK(code.unique);
    CHECK_FALSE(code.domain);  // an identifier's values are no domain
    const ColumnSchema& many = column(s, "many");
    CHECK_FALSE(many.unique);
    CHECK_FALSE(many.domain);  // 120 distinct values: not below 100
    const ColumnSchema& empty = column(s, "empty");
    CHECK(empty.type == SchemaType::categorical);  // nothing known: anything goes
    CHECK(empty.nullable);
    const ColumnSchema& small = column(s, "small");
    CHECK(small.type == SchemaType::integer);
    CHECK_FALSE(small.unique);

    // 99 distinct values still get a domain.
    std::string csv99 = "v\n";
    for (int i = 0; i < 198; ++i)
        csv99 += "x" + std::to_string(i % 99) + "\n";
    REQUIRE(column(infer(csv99), "v").domain);
    CHECK(column(infer(csv99), "v").domain->size() == 99);
}

TEST_CASE("the inferred schema round-trips through YAML, odd names and values included",
          "[validation]") {
    std::string csv =
        "\"monthly charge\",\"a:b\",true,\"#x\"\n"
        "1.25,\"pro, annual\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
        "-3e-7,yes,null-ish,\"tab\there\"\n"
        "2,\"\\back\",\"caf\xc3\xa9\",x\n";
    Schema s = infer(csv);
    std::string yaml = schema_to_yaml(s, "t.csv");
    Schema back = parse_schema(yaml, "s.yaml");
    REQUIRE(back.columns.size() == s.columns.size());
    for (size_t i = 0; i < s.columns.size(); ++i) {
        INFO(yaml);
        const ColumnSchema& a = s.columns[i];
        const ColumnSchema& b = back.columns[i];
        CHECK(a.name == b.name);
        CHECK(a.type == b.type);
        CHECK(a.min == b.min);
        CHECK(a.max == b.max);
        CHECK(a.domain == b.domain);
        CHECK(a.nullable == b.nullable);
        CHECK(a.unique == b.unique);
    }
    CHECK(back.observed_rows == 3u);
    CHECK(column(back, "monthly charge").min == -3e-7);
    // And the data it came from is valid under it.
    CHECK(validate_csv_text(csv, "t.csv", back).valid());
}

TEST_CASE("data validates against the schema inferred from it", "[validation]") {
    Schema s = infer(kData);
    ValidationReport r = validate_csv_text(kData, "t.csv", s);
    CHECK(r.valid());
    CHECK(r.rows == 10);
    // min_rows, then per column: type/min/max, domain, nullable, unique where inferred.
    CHECK(r.rules.size() == 1 + 5 + 3 + 2 + 2);
}

TEST_CASE("type: numbers, whole numbers and booleans, whatever the reader made of the column",
          "[validation]") {
    const char* yaml =
        "columns:\n"
        "  n: {type: numeric}\n"
        "  i: {type: integer}\n"
        "  b: {type: boolean}\n"
        "  c: {type: categorical}\n";
    ValidationReport ok = check("n,i,b,c\n1.5,2,true,x\n-2,3,False,4\n", yaml);
    CHECK(ok.valid());
    CHECK_FALSE(has_rule(ok, "c", "type"));  // any text is a categorical value

    ValidationReport bad = check(
        "n,i,b,c\n"
        "1,1,true,x\n"
        "abc,2.5,yes,y\n"
        "3,\" 7 \",1,z\n"
        "4,NA,false,z\n",
        yaml);
    CHECK_FALSE(bad.valid());
    const RuleResult& n = rule(bad, "n", "type");
    CHECK_FALSE(n.passed);
    CHECK(n.failing == 1);
    CHECK(n.total == 4);
    CHECK(shown(n) == std::vector<std::string>{"line 3: \"abc\""});
    const RuleResult& i = rule(bad, "i", "type");
    CHECK(i.failing == 1);  // 2.5; " 7 " reads as 7 (quoted spaces ignored, as the reader does)
    CHECK(i.total == 3);    // NA is missing, not a value
    CHECK(shown(i) == std::vector<std::string>{"line 3: 2.5"});
    const RuleResult& b = rule(bad, "b", "type");
    CHECK(b.failing == 2);
    CHECK(shown(b) == std::vector<std::string>{"line 3: \"yes\"", "line 4: \"1\""});

    // A boolean column where numbers are expected: every value fails.
    ValidationReport flags = check("n\ntrue\nfalse\n", "columns: {n: {type: numeric}}");
    CHECK(rule(flags, "n", "type").failing == 2);
    CHECK(shown(rule(flags, "n", "type"))[0] == "line 2: \"true\"");
}

TEST_CASE("min and max, on numbers only", "[validation]") {
    ValidationReport r =
        check("x\n5\n-1\n\n20\nten\n10\n", "columns: {x: {type: numeric, min: 0, max: 10}}");
    const RuleResult& min = rule(r, "x", "min");
    CHECK_FALSE(min.passed);
    CHECK(min.failing == 1);
    CHECK(min.total == 4);  // numbers only: the missing value and "ten" are not counted
    CHECK(min.expected == ">= 0");
    CHECK(lines(min) == std::vector<uint64_t>{3});
    const RuleResult& max = rule(r, "x", "max");
    CHECK(max.failing == 1);
    CHECK(lines(max) == std::vector<uint64_t>{5});
    CHECK(describe_failure(max) == "column 'x' max (<= 10): 1 of 4 values fail, line 5: 20");
    CHECK(rule(r, "x", "type").failing == 1);
}

TEST_CASE("domain, with min_domain_mass, compares the text as written", "[validation]") {
    const char* csv =
        "zip,plan\n"
        "02139,basic\n"
        "02139,pro\n"
        "10001,gold\n"
        "2139,basic\n"
        ",pro\n";
    ValidationReport r =
        check(csv,
              "columns:\n"
              "  zip: {type: categorical, domain: [\"02139\", \"10001\"]}\n"
              "  plan: {type: categorical, domain: [basic, pro], min_domain_mass: 0.75}\n");
    const RuleResult& zip = rule(r, "zip", "domain");
    CHECK_FALSE(zip.passed);
    CHECK(zip.failing == 1);  // "2139" is not "02139"
    CHECK(zip.total == 4);    // share of the non-missing values
    CHECK(shown(zip) == std::vector<std::string>{"line 5: \"2139\""});
    const RuleResult& plan = rule(r, "plan", "domain");
    CHECK(plan.passed);  // 4 of 5 = 0.8 >= 0.75
    CHECK(plan.failing == 1);
    CHECK(plan.required == 0.75);
    CHECK(plan.expected == "one of \"basic\", \"pro\", min_domain_mass 0.75");

    ValidationReport strict = check(
        csv, "columns: {plan: {type: categorical, domain: [basic, pro], min_domain_mass: 0.85}}");
    CHECK_FALSE(rule(strict, "plan", "domain").passed);
}

TEST_CASE("nullable: false and max_null_fraction", "[validation]") {
    const char* csv = "a,b\n1,x\nNA,y\n3,\n4,z\n";
    ValidationReport r = check(csv,
                               "columns:\n"
                               "  a: {type: integer, nullable: false}\n"
                               "  b: {type: categorical, max_null_fraction: 0.25}\n");
    const RuleResult& a = rule(r, "a", "nullable");
    CHECK_FALSE(a.passed);
    CHECK(a.failing == 1);
    CHECK(a.total == 4);
    CHECK(shown(a) == std::vector<std::string>{"line 3: missing"});
    const RuleResult& b = rule(r, "b", "max_null_fraction");
    CHECK(b.passed);  // 1 of 4 = 0.25 <= 0.25
    CHECK(b.failing == 1);

    ValidationReport r2 = check(csv, "columns: {b: {type: categorical, max_null_fraction: 0.2}}");
    CHECK_FALSE(rule(r2, "b", "max_null_fraction").passed);
    // nullable (the default) checks nothing.
    CHECK(check(csv, "columns: {a: {type: integer}}").rules.size() == 1);
}

TEST_CASE("unique names each repeat with the line of its first occurrence", "[validation]") {
    ValidationReport r = check("id,name\n1,a\n2,b\n1,c\n3,b\n1,d\n,e\n,f\n",
                               "columns:\n"
                               "  id: {type: integer, unique: true}\n"
                               "  name: {type: categorical, unique: true}\n");
    const RuleResult& id = rule(r, "id", "unique");
    CHECK_FALSE(id.passed);
    CHECK(id.failing == 2);  // missing values are no repeats
    CHECK(id.total == 5);
    CHECK(shown(id) ==
          std::vector<std::string>{"line 4: 1 (also line 2)", "line 6: 1 (also line 2)"});
    const RuleResult& name = rule(r, "name", "unique");
    CHECK(name.failing == 1);
    CHECK(shown(name) == std::vector<std::string>{"line 5: \"b\" (also line 3)"});
}

TEST_CASE("row counts, missing and extra columns", "[validation]") {
    const char* csv = "a,b\n1,2\n3,4\n";
    ValidationReport r = check(csv,
                               "min_rows: 3\n"
                               "allow_extra_columns: false\n"
                               "columns: {a: {type: integer}, c: {type: numeric}}\n");
    const RuleResult& min = rule(r, "", "min_rows");
    CHECK_FALSE(min.passed);
    CHECK_FALSE(min.counted);
    CHECK(min.observed == "2 rows");
    CHECK(describe_failure(min) == "min_rows (>= 3 rows): 2 rows");
    CHECK_FALSE(rule(r, "b", "allow_extra_columns").passed);
    CHECK_FALSE(rule(r, "c", "present").passed);
    CHECK(rule(r, "a", "type").passed);
    CHECK(r.failed() == 3);
    ValidationReport few = check(csv, "max_rows: 1\ncolumns: {}");
    const RuleResult& max = rule(few, "", "max_rows");
    CHECK_FALSE(max.passed);
    CHECK(max.expected == "<= 1 row");
    CHECK(schema_error("min_rows: 3\nmax_rows: 1\ncolumns: {}") ==
          "cannot read 's.yaml' line 2 column 11: 'max_rows' is below 'min_rows'");

    ValidationReport fine = check(csv, "min_rows: 2\nmax_rows: 2\ncolumns: {a: {type: integer}}");
    CHECK(fine.valid());  // extra columns are allowed by default
}

TEST_CASE("mostly: a rule passes when at least that share of the values satisfy it",
          "[validation]") {
    std::string csv = "x,y\n";
    for (int i = 0; i < 100; ++i)
        csv += std::to_string(i < 99 ? 5 : 50) + "," + (i < 98 ? "a" : "zzz") + "\n";
    const char* column_mostly =
        "columns:\n"
        "  x: {type: integer, max: 10, mostly: 0.99}\n"
        "  y: {type: categorical, domain: [a], mostly: 0.99}\n";
    ValidationReport r = check(csv, column_mostly);
    const RuleResult& x = rule(r, "x", "max");
    CHECK(x.passed);  // 99 of 100: exactly the share asked for
    CHECK(x.failing == 1);
    CHECK(x.expected == "<= 10, mostly 0.99");
    CHECK(lines(x) == std::vector<uint64_t>{101});
    const RuleResult& y = rule(r, "y", "domain");
    CHECK_FALSE(y.passed);  // 98 of 100
    CHECK(y.failing == 2);

    // The schema's default applies to every column without its own.
    ValidationReport d = check(csv,
                               "mostly: 0.98\n"
                               "columns:\n"
                               "  x: {type: integer, max: 10}\n"
                               "  y: {type: categorical, domain: [a]}\n");
    CHECK(d.valid());
    ValidationReport o = check(csv,
                               "mostly: 0.98\n"
                               "columns:\n"
                               "  x: {type: integer, max: 10, mostly: 1}\n"
                               "  y: {type: categorical, domain: [a]}\n");
    CHECK_FALSE(rule(o, "x", "max").passed);
    CHECK(rule(o, "y", "domain").passed);

    // It applies to nullable: false and unique too.
    ValidationReport n = check("v\n1\n2\n\n4\n5\n5\n",
                               "columns: {v: {type: integer, nullable: false, unique: true, "
                               "mostly: 0.8}}");
    CHECK(rule(n, "v", "nullable").passed);  // 5 of 6 present
    CHECK(rule(n, "v", "unique").passed);    // 4 of 5 are not repeats
}

TEST_CASE("line numbers count physical lines: quoted fields with line breaks shift them",
          "[validation]") {
    // The header holds a line break too; CRLF ends some records.
    const char* csv =
        "id,\"note\nsecond line\"\r\n"  // lines 1-2
        "1,\"a\nb\nc\"\n"               // lines 3-5
        "-2,plain\r\n"                  // line 6
        "3,\"x\"\"\ny\"\n"              // lines 7-8 (a doubled quote before the break)
        "-4,\"\"\n"                     // line 9
        "5,\"\r\n\"\n"                  // lines 10-11
        "-6,last";                      // line 12, no final line break
    ValidationReport r = check(csv, "columns: {id: {type: integer, min: 0}}");
    const RuleResult& min = rule(r, "id", "min");
    CHECK(min.failing == 3);
    CHECK(lines(min) == std::vector<uint64_t>{6, 9, 12});

    CHECK(record_start_lines(csv, {0, 1, 2, 3, 4, 5}) == std::vector<uint64_t>{3, 6, 7, 9, 10, 12});
    CHECK(record_start_lines("\xEF\xBB\xBF"
                             "a\n1\n\"2\n\"\n3\n",
                             {0, 1, 2}) == std::vector<uint64_t>{2, 3, 5});
    CHECK(record_start_lines("a\n1\n", {}).empty());
}

TEST_CASE("examples stop at the asked number; counts go on", "[validation]") {
    std::string csv = "x\n";
    for (int i = 0; i < 20; ++i)
        csv += "-1\n";
    ValidateOptions opt;
    opt.examples = 3;
    ValidationReport r =
        validate_csv_text(csv, "t.csv", schema("columns: {x: {type: integer, min: 0}}"), opt);
    const RuleResult& min = rule(r, "x", "min");
    CHECK(min.failing == 20);
    CHECK(lines(min) == std::vector<uint64_t>{2, 3, 4});
    CHECK(describe_failure(min, 2) ==
          "column 'x' min (>= 0): 20 of 20 values fail, line 2: -1, line 3: -1, ...");
}

TEST_CASE("a stage's message names the data, the schema and the first failed rules",
          "[validation]") {
    ValidationReport r = validate_csv_text(
        "a,b\n-1,q\n", "data.csv",
        schema("min_rows: 2\ncolumns: {a: {type: integer, min: 0}, b: {type: categorical, "
               "domain: [p]}, c: {type: numeric}}"));
    CHECK(r.schema == "s.yaml");
    CHECK(describe_invalid(r) ==
          "data 'data.csv' does not match schema 's.yaml': 4 of 5 rules failed: min_rows (>= 2 "
          "rows): 1 row; column 'a' min (>= 0): 1 of 1 value fail, line 2: -1; column 'b' domain "
          "(one of \"p\"): 1 of 1 value fail, line 2: \"q\"; and 1 more");
}

TEST_CASE("unreadable CSV is an error, not a failed rule", "[validation]") {
    CHECK_THROWS_WITH(check("a,b\n1\n", "columns: {a: {type: integer}}"),
                      Catch::Contains("t.csv:2:1: row has 1 field"));
}

TEST_CASE("schema errors name the file, line and column", "[validation]") {
    CHECK(schema_error("columns:\n  a: {type: integer}\n  b:\n    type: text\n") ==
          "cannot read 's.yaml' line 4 column 11: 'type' of column 'b' must be integer, "
          "numeric, boolean or categorical, not 'text'");
    CHECK(schema_error("columns:\n  a:\n    type: integer\n    mni: 3\n") ==
          "cannot read 's.yaml' line 4 column 5: unknown key 'mni' in column 'a' (use type, min, "
          "max, domain, min_domain_mass, nullable, max_null_fraction, unique, mostly)");
    CHECK(schema_error("columns:\n  a: {type: integer, min: low}\n") ==
          "cannot read 's.yaml' line 2 column 27: 'min' of column 'a' must be a number, not "
          "'low'");
    CHECK(schema_error("columns:\n  a: {type: integer, min: 5, max: 1}\n") ==
          "cannot read 's.yaml' line 2 column 30: 'max' of column 'a' (1) is below its 'min' (5)");
    CHECK(schema_error("columns:\n  a: {type: categorical, min: 5}\n") ==
          "cannot read 's.yaml' line 2 column 26: 'min' of column 'a' needs type integer or "
          "numeric, not categorical");
    CHECK(schema_error("columns:\n  a: {type: integer, mostly: 1.5}\n") ==
          "cannot read 's.yaml' line 2 column 30: 'mostly' of column 'a' must be a share "
          "between 0 and 1, not 1.5");
    CHECK(schema_error("columns:\n  a: {nullable: false}\n") ==
          "cannot read 's.yaml' line 2 column 3: column 'a' needs 'type' (integer, numeric, "
          "boolean or categorical)");
    CHECK(schema_error("min_rows: -1\ncolumns: {}\n") ==
          "cannot read 's.yaml' line 1 column 11: 'min_rows' must be a non-negative integer, "
          "not '-1'");
    CHECK(schema_error("colums: {}\n") ==
          "cannot read 's.yaml' line 1 column 1: unknown key 'colums' (use schema, "
          "observed_rows, min_rows, max_rows, mostly, allow_extra_columns, columns)");
    CHECK(schema_error("schema: mlo-schema 2\ncolumns: {}\n") ==
          "cannot read 's.yaml' line 1 column 9: 'schema' must be 'mlo-schema 1', not "
          "'mlo-schema 2' (a schema of another version of mlo?)");
    CHECK(schema_error("columns:\n  a: {type: integer, nullable: false, max_null_fraction: 0.1}\n")
              .find("line 2 column 39: column 'a' has both") != std::string::npos);
    CHECK(schema_error("columns:\n  a: {type: categorical, min_domain_mass: 0.5}\n") ==
          "cannot read 's.yaml' line 2 column 26: 'min_domain_mass' of column 'a' needs a "
          "'domain'");
    CHECK(schema_error("columns:\n  a: {type: categorical, domain: [x, [y]]}\n")
              .find("line 2 column 38: the values in 'domain' of column 'a'") != std::string::npos);
    // YAML syntax errors carry yaml-cpp's mark.
    CHECK(schema_error("columns:\n  a: {type: integer\n  b: 1\n")
              .rfind("cannot read 's.yaml' line ", 0) == 0);
    CHECK(schema_error("") == "cannot read 's.yaml': the schema is empty: it needs 'columns'");
    CHECK(schema_error("min_rows: 1\n") ==
          "cannot read 's.yaml' line 1 column 1: the schema needs 'columns'");
}

TEST_CASE("load_schema names a missing file", "[validation]") {
    test::TempDir dir;
    CHECK_THROWS_WITH(load_schema(dir / "none.yaml", "none.yaml"),
                      "cannot read schema 'none.yaml': no such file");
    test::write_text(dir / "s.yaml", "columns: {a: {type: integer}}\n");
    CHECK(load_schema(dir / "s.yaml", "s.yaml").source == "s.yaml");
}

TEST_CASE("a stage's validate: entries are parsed and become dependencies", "[validation]") {
    Pipeline p = parse_pipeline(
        "stages:\n"
        "  train:\n"
        "    cmd: train.sh\n"
        "    wdir: sub\n"
        "    deps: [train.sh, data/train.csv]\n"
        "    validate: {data: data/train.csv, schema: ../schema.yaml}\n"
        "    outs: [model.bin]\n"
        "  both:\n"
        "    cmd: x\n"
        "    validate:\n"
        "      - {data: a.csv, schema: s.yaml}\n"
        "      - {data: b.csv, schema: s.yaml}\n",
        {});
    const Stage& train = *p.find("train");
    REQUIRE(train.validate.size() == 1);
    CHECK(train.validate[0].data == "sub/data/train.csv");
    CHECK(train.validate[0].schema == "schema.yaml");
    std::vector<std::string> deps;
    for (const auto& d : train.deps)
        deps.push_back(d.path);
    CHECK(deps == std::vector<std::string>{"sub/train.sh", "sub/data/train.csv", "schema.yaml"});
    const Stage& both = *p.find("both");
    REQUIRE(both.validate.size() == 2);
    CHECK(both.deps.size() == 3);  // a.csv, s.yaml (once), b.csv

    auto error_of = [](const std::string& text) -> std::string {
        try {
            parse_pipeline(text, {});
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    };
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    validate: {data: d.csv}\n") ==
          "mlo.yaml:4:15: 'validate' of stage 'a' needs 'schema' (the schema file)");
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    validate: {data: d.csv, schma: s}\n") ==
          "mlo.yaml:4:29: unknown key 'schma' in 'validate' of stage 'a' (use 'data' and "
          "'schema')");
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    validate: d.csv\n") ==
          "mlo.yaml:4:15: 'validate' of stage 'a' must be a mapping {data: PATH, schema: PATH} "
          "or a list of them");
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    validate: {data: ../d.csv, schema: s}\n") ==
          "mlo.yaml:4:22: path '../d.csv' of stage 'a' is outside the repository");
}
