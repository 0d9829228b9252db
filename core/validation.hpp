#pragma once

// Data validation (issue 7): a schema inferred from a CSV file (`mlo schema infer`), and a CSV
// file checked against a schema (`mlo validate`, a stage's `validate:`). docs/validation.md is
// the user's reference for the file format and every rule.
//
// A schema has dataset rules (min_rows, max_rows, allow_extra_columns) and per column a type
// (integer, numeric, boolean, categorical: the CSV reader's types, integer being numeric with
// whole values) plus optional rules: min, max, domain (with min_domain_mass), nullable,
// max_null_fraction, unique, and the tolerance `mostly` (Great Expectations' term: a rule
// passes when at least that share of the values it looks at satisfy it).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "storage/fs.hpp"

namespace mlo::core {

inline constexpr const char* kSchemaFormat = "mlo-schema 1";
// Inference lists a categorical column's values as its domain below this many distinct values.
inline constexpr size_t kMaxInferredDomain = 100;

enum class SchemaType { integer, numeric, boolean, categorical };
const char* to_string(SchemaType t);

struct ColumnSchema {
    std::string name;
    SchemaType type = SchemaType::categorical;
    std::optional<double> min, max;  // integer and numeric columns
    // categorical columns: the allowed values; with min_domain_mass (TFDV's term) the share of
    // non-missing values that must lie in it (default: mostly).
    std::optional<std::vector<std::string>> domain;
    std::optional<double> min_domain_mass;
    bool nullable = true;  // false: no missing value (subject to mostly)
    std::optional<double> max_null_fraction;
    bool unique = false;           // no value repeats an earlier row's
    std::optional<double> mostly;  // unset: the schema's default
};

struct Schema {
    std::string source;  // the file it was read from, as shown (parse_schema's `shown`)
    std::optional<uint64_t> observed_rows;  // written by inference; informational, not a rule
    std::optional<uint64_t> min_rows, max_rows;
    double mostly = 1.0;  // default tolerance of every column
    bool allow_extra_columns = true;
    std::vector<ColumnSchema> columns;  // in file order

    const ColumnSchema* find(std::string_view name) const;
};

// The schema the table satisfies as tightly as inference dares: types, min/max, nullable;
// unique for integer and categorical columns whose values are all distinct (at least two);
// the domain of a non-unique categorical column with fewer than kMaxInferredDomain values;
// min_rows 1. A column without any value is categorical (nothing is known about it).
Schema infer_schema(const Table& table);

// The schema as YAML (docs/validation.md), with a comment naming `data` (the inferred file).
std::string schema_to_yaml(const Schema& schema, const std::string& data);
nlohmann::json schema_to_json(const Schema& schema);

// Parses a schema; errors throw mlo::Error "cannot read '<file>' line L column C: <why>".
Schema parse_schema(const std::string& text, const fs::path& shown);
Schema load_schema(const fs::path& file, const fs::path& shown);

struct Example {
    size_t row = 0;                    // 0-based data row
    uint64_t line = 0;                 // 1-based line of the CSV file where the row's record starts
    std::optional<std::string> value;  // as read; nullopt for a missing value
    bool text = false;  // shown quoted: text, or not of the column's type ("abc" for a number)
    // unique: the earlier row holding the same value, and its line.
    std::optional<size_t> first_row;
    uint64_t first_line = 0;
};

struct RuleResult {
    std::string column;  // "" for dataset rules
    // The schema key: type, min, max, domain, nullable, max_null_fraction, unique, min_rows,
    // max_rows, allow_extra_columns, or `present` (a schema column missing from the data).
    std::string rule;
    std::string expected;  // for people: "<= 90", "integer", "one of 3 values", ...
    // counted: `failing` of the `total` values looked at broke the rule. Dataset and presence
    // rules are not counted (failing and total are 0).
    bool counted = true;
    uint64_t failing = 0, total = 0;
    // The share of `total` that must satisfy the rule (mostly, min_domain_mass, or 1 minus
    // max_null_fraction).
    double required = 1.0;
    std::string observed;  // not counted: what was found ("50 rows", "not in the data")
    bool passed = true;
    std::vector<Example> examples;  // the first offending values in file order
};

struct ValidationReport {
    std::string data, schema;  // as shown (schema: the Schema's source)
    uint64_t rows = 0;
    std::vector<RuleResult> rules;  // every rule checked, dataset rules first, then schema order
    size_t failed() const;
    bool valid() const { return failed() == 0; }
};

struct ValidateOptions {
    size_t examples = 5;  // per rule
    unsigned jobs = 0;    // for reading the CSV; 0 = all cores
};

// Reads CSV text (columns the schema calls categorical are read as text, whatever they look
// like) and checks it. Throws Error for unreadable CSV.
ValidationReport validate_csv_text(std::string_view text, const std::string& shown,
                                   const Schema& schema, const ValidateOptions& options = {});
ValidationReport validate_csv_file(const fs::path& file, const std::string& shown,
                                   const Schema& schema, const ValidateOptions& options = {});

// Line (1-based) on which each data row in `rows` (ascending) starts in CSV `text`: records
// are counted at line breaks outside quotes, so a quoted field with line breaks moves the
// following rows down. Exact for text the CSV reader accepts.
std::vector<uint64_t> record_start_lines(std::string_view text, const std::vector<size_t>& rows);

// "line 7: 130", "line 4: \"gold\"", "line 9: missing", "line 12: 3 (also line 5)".
std::string describe_example(const Example& e);
// One line: "column 'age' max (<= 90): 3 of 1000 values fail, line 7: 130, line 19: 200".
std::string describe_failure(const RuleResult& r, size_t examples = 3);
// One line for a pipeline stage: "data 'x.csv' does not match schema 's.yaml': ..." with the
// first few failed rules.
std::string describe_invalid(const ValidationReport& report);

}  // namespace mlo::core
