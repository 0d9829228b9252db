#pragma once

// CSV reading for the built-in learners (issue 4).
//
// The dialect is RFC 4180 with the usual relaxations:
// - the first record is the header: names are non-empty and unique;
// - records end with LF or CRLF; the last one may lack its line break; empty lines at the end of
//   the file are ignored (an empty line elsewhere is a record with one empty field, so it is an
//   error unless the table has one column);
// - a field is quoted when it starts with '"' (spaces/tabs before the opening quote and after
//   the closing quote are allowed and dropped); inside quotes "" is one quote and the delimiter,
//   CR and LF are data. A quote inside an unquoted field, or other text after a closing quote,
//   is an error;
// - unquoted fields lose their surrounding spaces and tabs (unless the tab is the delimiter);
//   quoted fields keep them as categorical values;
// - a UTF-8 byte order mark at the start is skipped; other bytes pass through, but a
//   categorical value or a column name that is not valid UTF-8 is an error.
//
// Missing values: a field whose (trimmed) value is empty or exactly one of
// NA  N/A  NaN  nan  null   (case-sensitive; quoted or not).
//
// Column types, inferred over all non-missing values of a column:
// - numeric: every value is a finite number in std::from_chars' general format, optionally with
//   a leading '+' ("1", "-2.5", "1e-3", ".5"; not "inf", "0x1p3", "1,5");
// - boolean: every value is true/false/TRUE/FALSE/True/False (stored as 1/0);
// - categorical: anything else, including a column that mixes numbers and words or numbers and
//   booleans; values keep their original text;
// - a column with no non-missing value is numeric (all NaN).
//
// Errors throw mlo::Error "<shown>:<line>:<column>: <why>": 1-based, lines counted in physical
// lines (a newline inside quotes counts), columns in bytes from the start of the line. When a
// file has several errors, the first structural one (quoting, field count) in file order is
// reported; invalid UTF-8 is only checked once the structure is valid.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace mlo::core {

enum class ColumnType { numeric, boolean, categorical };

// std::allocator, except that growing a vector leaves the new elements uninitialised: the reader
// sizes a column once and its threads fill (and first touch) their own parts of it.
template <class T>
struct UninitAllocator : std::allocator<T> {
    template <class U>
    struct rebind {
        using other = UninitAllocator<U>;
    };
    UninitAllocator() = default;
    template <class U>
    UninitAllocator(const UninitAllocator<U>&) noexcept {}
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};
using Numbers = std::vector<double, UninitAllocator<double>>;

// "numeric", "boolean", "categorical".
const char* to_string(ColumnType t);

struct Column {
    std::string name;
    ColumnType type = ColumnType::numeric;
    // numeric and boolean (1/0) columns: one value per row, NaN = missing.
    Numbers numbers;
    // categorical columns: one code per row, an index into `categories`, -1 = missing.
    std::vector<int32_t> codes;
    // categorical columns: the distinct values in order of first appearance.
    std::vector<std::string> categories;
    size_t missing = 0;  // rows where this column is missing
};

struct Table {
    std::vector<Column> columns;  // in header order
    size_t rows = 0;              // data rows (the header not counted)
    // The column with this name, or nullptr.
    const Column* find(std::string_view name) const;
};

struct CsvOptions {
    char delimiter = ',';  // not '"', CR or LF
    // Columns read as categorical whatever their values look like (ids, zip codes). A name the
    // header does not have is an error.
    std::vector<std::string> force_categorical;
    // true: a name in force_categorical that the header lacks is ignored (the caller checks
    // for the columns it needs and says why it needs them).
    bool force_if_present = false;
    // Worker threads; 0 = all cores. Small inputs are parsed on the calling thread.
    unsigned jobs = 0;
    // Added to the line numbers of data rows in error messages (read_csv_blocks parses a file's
    // later blocks as texts of their own).
    size_t line_offset = 0;
};

// True for the missing-value spellings above (the value already trimmed).
bool is_missing_value(std::string_view v);
// The number / boolean a non-missing field value reads as under the rules above (spaces and
// tabs around `v` ignored, as for a quoted field), or nullopt. For checks that must type a
// categorical column's values the way the reader would have typed them one by one.
std::optional<double> csv_number(std::string_view v, char delimiter = ',');
std::optional<bool> csv_boolean(std::string_view v, char delimiter = ',');

// `v` as one CSV field: as it is, or quoted (quotes doubled) when it holds the delimiter ','
// a quote or a line break.
std::string csv_quote(const std::string& v);

// Reads `file` (memory-mapped) and parses it; `shown` names it in error messages.
Table read_csv(const std::filesystem::path& file, const std::string& shown,
               const CsvOptions& options = {});
// One block of read_csv_blocks.
struct CsvBlock {
    Table table;
    size_t first_line = 0;  // the physical line of the block's first data row
    size_t bytes = 0;       // bytes of the file the block's rows take
    size_t file_bytes = 0;  // the whole file's size (estimates the rows to come)
    // The physical line of data row `row` of the block, exact with line breaks inside quotes
    // (it scans the block: for error messages). Valid during the callback only.
    std::function<size_t(size_t row)> line_of;
};

// Reads `file` in blocks of about `block_bytes` of whole records and hands each, parsed as a
// table of its own (the header repeated, types inferred per block), to `fn` in file order: memory
// stays bounded whatever the file's size. `fn` is called at least once (with no rows for a file
// that has only a header). Errors name the file's real lines. `fn` may change `options` (say,
// force a column categorical once it is known to hold text): the next block is read with them.
// A block never ends with an empty line, so empty lines inside the file are records as they are
// for read_csv (an error unless the table has one column).
void read_csv_blocks(const std::filesystem::path& file, const std::string& shown,
                     CsvOptions& options, size_t block_bytes,
                     const std::function<void(CsvBlock&)>& fn);
// The same with fixed options, handing over the tables only.
void read_csv_blocks(const std::filesystem::path& file, const std::string& shown,
                     const CsvOptions& options, size_t block_bytes,
                     const std::function<void(Table&&)>& fn);
// Parses CSV text; `shown` names it in error messages.
Table parse_csv(std::string_view text, const std::string& shown, const CsvOptions& options = {});

}  // namespace mlo::core
