#include "core/csv.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "storage/error.hpp"
#include "storage/fs.hpp"
#include "storage/parallel.hpp"

// How it works: after the header, the data is cut into chunks at line breaks outside quotes
// (found from the parity of the quote count before a cut, which is exact for valid RFC 4180
// text), and the chunks are parsed in parallel. Each chunk splits fields without allocating
// (string_views into the text; one reused buffer for quoted fields with "") and converts each
// column as it goes, guessing its type from the first non-missing value: numbers are parsed with
// std::from_chars (fast_float in GCC 12), booleans compared, categorical values interned in a
// per-chunk hash map. A chunk whose column turns out not to fit its guess stops collecting that
// column ("demoted"). The merge decides each column's type over all chunks and parses again only
// the chunks that collected a categorical column as something else. Categories are merged in
// chunk order, which keeps them in order of first appearance.
//
// Errors inside a chunk are recorded (with their byte offset) and stop that chunk; the first
// chunk with an error holds the first error in the file, because every chunk before it was cut
// correctly. Line and column are computed from the offset only when reporting.

namespace mlo::core {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kMinChunk = size_t(1) << 20;      // bytes
constexpr size_t kParallelFrom = size_t(4) << 20;  // bytes of data before threads are used

struct CsvError {
    size_t offset;  // into the text
    std::string why;
};

std::string_view trim(std::string_view v, char delim) {
    auto space = [delim](char c) { return (c == ' ' || c == '\t') && c != delim; };
    size_t b = 0, e = v.size();
    while (b < e && space(v[b]))
        ++b;
    while (e > b && space(v[e - 1]))
        --e;
    return v.substr(b, e - b);
}

bool parse_number(std::string_view v, double& out) {
    const char* b = v.data();
    const char* e = b + v.size();
    if (b != e && *b == '+') {
        ++b;
        if (b == e || *b == '-' || *b == '+') return false;
    }
    auto r = std::from_chars(b, e, out, std::chars_format::general);
    return r.ec == std::errc() && r.ptr == e && std::isfinite(out);
}

std::optional<double> parse_boolean(std::string_view v) {
    if (v == "true" || v == "TRUE" || v == "True") return 1.0;
    if (v == "false" || v == "FALSE" || v == "False") return 0.0;
    return std::nullopt;
}

// Index of the first byte that does not belong to valid UTF-8 (no overlong forms, surrogates or
// code points above U+10FFFF), or npos.
size_t invalid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size(), i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return i;
        }
        if (i + 1 >= n || p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t k = 2; k < len; ++k)
            if (i + k >= n || (p[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return std::string_view::npos;
}

enum class Term { delimiter, newline, end };

struct Field {
    std::string_view value;  // unquoted: trimmed; quoted: the content, "" already undoubled
    size_t content = 0;      // offset of the value's first byte in the text
    bool quoted = false;
    bool escaped = false;  // quoted and contained "" (value lives in the tokenizer's buffer)
};

class Tokenizer {
public:
    Tokenizer(std::string_view text, char delim) : text_(text), delim_(delim) {
        special_.fill(0);
        special_[uint8_t(delim)] = 1;
        special_[uint8_t('\n')] = 1;
        special_[uint8_t('"')] = 1;
    }

    size_t offset(const char* p) const { return size_t(p - text_.data()); }
    bool is_space(char c) const { return (c == ' ' || c == '\t') && c != delim_; }

    // Reads the field at `p` (which must be before `end`, or equal to it for an empty last
    // field), sets `p` past its terminator and returns the terminator.
    Term field(const char*& p, const char* end, Field& f) {
        const char* s = p;
        while (s < end && is_space(*s))
            ++s;
        if (s < end && *s == '"') return quoted(s, p, end, f);
        const char* q = s;
        while (q < end && !special_[uint8_t(*q)])
            ++q;
        Term t;
        if (q == end) {
            t = Term::end;
            p = q;
        } else if (*q == '"') {
            throw CsvError{offset(q),
                           "quote inside an unquoted field (quote the whole field and double "
                           "the quotes inside it)"};
        } else {
            t = *q == delim_ ? Term::delimiter : Term::newline;
            p = q + 1;
        }
        const char* e = q;
        if (t == Term::newline && e > s && e[-1] == '\r') --e;
        while (e > s && is_space(e[-1]))
            --e;
        f.value = std::string_view(s, size_t(e - s));
        f.content = offset(s);
        f.quoted = false;
        f.escaped = false;
        return t;
    }

private:
    Term quoted(const char* s, const char*& p, const char* end, Field& f) {
        const char* q = s + 1;
        const char* close;
        bool escaped = false;
        for (;;) {
            const void* hit = std::memchr(q, '"', size_t(end - q));
            if (!hit)
                throw CsvError{offset(s), "quoted field is not closed (the quote opens here)"};
            close = static_cast<const char*>(hit);
            if (close + 1 < end && close[1] == '"') {
                escaped = true;
                q = close + 2;
                continue;
            }
            break;
        }
        f.quoted = true;
        f.escaped = escaped;
        f.content = offset(s + 1);
        if (escaped) {
            buffer_.clear();
            for (const char* r = s + 1; r < close; ++r) {
                buffer_.push_back(*r);
                if (*r == '"') ++r;
            }
            f.value = buffer_;
        } else {
            f.value = std::string_view(s + 1, size_t(close - s - 1));
        }
        const char* t = close + 1;
        while (t < end && is_space(*t))
            ++t;
        if (t == end) {
            p = t;
            return Term::end;
        }
        if (*t == delim_) {
            p = t + 1;
            return Term::delimiter;
        }
        if (*t == '\n') {
            p = t + 1;
            return Term::newline;
        }
        if (*t == '\r' && t + 1 < end && t[1] == '\n') {
            p = t + 2;
            return Term::newline;
        }
        throw CsvError{offset(t), "unexpected text after the closing quote of a field"};
    }

    std::string_view text_;
    char delim_;
    std::array<uint8_t, 256> special_;
    std::string buffer_;
};

// What a chunk has collected for one column so far.
enum class Kind : uint8_t { empty, numeric, boolean, categorical, demoted, skip };

struct Category {
    std::string_view text;  // into the input, or into Chunk::owned
    size_t content;         // offset of its first occurrence's first byte in the input
    bool escaped;           // that occurrence was quoted with ""
};

// Where a chunk puts its numbers: its own slice of the column's final array (sized to an upper
// bound of the chunk's rows), so nothing is copied after parsing.
struct NumberSink {
    double* out = nullptr;
    size_t cap = 0, n = 0;
    void push_back(double v) {
        if (n == cap) throw std::logic_error("csv: more rows in a chunk than its line breaks");
        out[n++] = v;
    }
    size_t size() const { return n; }
    void clear() { n = 0; }
};

struct ChunkColumn {
    Kind kind = Kind::empty;
    NumberSink numbers;          // empty, numeric, boolean
    std::vector<int32_t> codes;  // categorical
    std::unordered_map<std::string_view, int32_t> index;
    std::vector<Category> categories;
    size_t missing = 0;
};

struct Chunk {
    size_t begin = 0, end = 0;  // byte range in the input, whole records
    size_t rows = 0;
    std::vector<ChunkColumn> columns;
    std::deque<std::string> owned;  // texts of categories that were quoted with ""
    std::optional<CsvError> error;
};

std::string plural_fields(size_t n) {
    return std::to_string(n) + (n == 1 ? " field" : " fields");
}

void add_category(ChunkColumn& c, const Field& f, Chunk& chunk) {
    auto it = c.index.find(f.value);
    if (it != c.index.end()) {
        c.codes.push_back(it->second);
        return;
    }
    if (c.categories.size() >= size_t(std::numeric_limits<int32_t>::max()))
        throw CsvError{f.content, "too many distinct values in one column"};
    std::string_view key = f.value;
    if (f.escaped) key = chunk.owned.emplace_back(f.value);
    auto code = int32_t(c.categories.size());
    c.index.emplace(key, code);
    c.categories.push_back(Category{key, f.content, f.escaped});
    c.codes.push_back(code);
}

void take(ChunkColumn& c, const Field& f, Chunk& chunk, char delim) {
    if (c.kind == Kind::skip) return;
    std::string_view v = f.quoted ? trim(f.value, delim) : f.value;
    if (is_missing_value(v)) {
        ++c.missing;
        switch (c.kind) {
            case Kind::empty:
            case Kind::numeric:
            case Kind::boolean:
                c.numbers.push_back(kNaN);
                break;
            case Kind::categorical:
                c.codes.push_back(-1);
                break;
            default:
                break;
        }
        return;
    }
    double d;
    switch (c.kind) {
        case Kind::numeric:
            if (parse_number(v, d)) {
                c.numbers.push_back(d);
            } else {
                c.kind = Kind::demoted;
                c.numbers.clear();
            }
            return;
        case Kind::categorical:
            add_category(c, f, chunk);
            return;
        case Kind::boolean:
            if (auto b = parse_boolean(v)) {
                c.numbers.push_back(*b);
            } else {
                c.kind = Kind::demoted;
                c.numbers.clear();
            }
            return;
        case Kind::empty:
            if (parse_number(v, d)) {
                c.kind = Kind::numeric;
                c.numbers.push_back(d);
            } else if (auto b = parse_boolean(v)) {
                c.kind = Kind::boolean;
                c.numbers.push_back(*b);
            } else {
                c.kind = Kind::categorical;
                c.codes.assign(c.numbers.size(), -1);
                c.numbers.clear();
                add_category(c, f, chunk);
            }
            return;
        default:
            return;
    }
}

// A plain number (no quote, sign '+' or surrounding space) directly followed by the end of its
// field: appends it and moves `p` past the field. Anything else is left to the tokenizer.
inline bool fast_number(const char*& p, const char* end, char delim, ChunkColumn& c, Term& t) {
    if (p == end) return false;
    char c0 = *p;
    if (c0 == '+' || c0 == ' ' || c0 == '\t' || c0 == '"') return false;
    double d;
    auto r = std::from_chars(p, end, d, std::chars_format::general);
    if (r.ec != std::errc()) return false;
    const char* q = r.ptr;
    const char* next;
    if (q == end) {
        t = Term::end;
        next = q;
    } else if (*q == delim) {
        t = Term::delimiter;
        next = q + 1;
    } else if (*q == '\n') {
        t = Term::newline;
        next = q + 1;
    } else if (*q == '\r' && q + 1 < end && q[1] == '\n') {
        t = Term::newline;
        next = q + 2;
    } else {
        return false;
    }
    if (!std::isfinite(d)) return false;  // "nan" is missing, "inf" a word: the slow path decides
    c.numbers.push_back(d);
    p = next;
    return true;
}

// Parses the records in [chunk.begin, chunk.end) into chunk.columns (whose kinds say what to
// collect). Records an error instead of throwing it.
void parse_chunk(std::string_view text, char delim, Chunk& chunk) {
    Tokenizer tok(text, delim);
    const char* p = text.data() + chunk.begin;
    const char* end = text.data() + chunk.end;
    size_t ncols = chunk.columns.size();
    size_t rows = 0;
    // The fast path for numbers lets from_chars find the end of the field, which is only right
    // when the delimiter cannot be part of a number.
    const bool fast = !(std::isalnum(static_cast<unsigned char>(delim)) || delim == '.' ||
                        delim == '+' || delim == '-');
    Field f;
    try {
        while (p < end) {
            const char* row_start = p;
            size_t col = 0;
            Term t;
            do {
                if (col < ncols) {
                    ChunkColumn& cc = chunk.columns[col];
                    if (fast && cc.kind == Kind::numeric && fast_number(p, end, delim, cc, t)) {
                        ++col;
                        continue;
                    }
                    t = tok.field(p, end, f);
                    take(cc, f, chunk, delim);
                } else {
                    t = tok.field(p, end, f);
                }
                ++col;
            } while (t == Term::delimiter);
            if (col != ncols)
                throw CsvError{
                    tok.offset(row_start),
                    "row has " + plural_fields(col) + ", the header has " + std::to_string(ncols)};
            if (++rows == 64 && end - p > 64 * (p - text.data() - ptrdiff_t(chunk.begin))) {
                // Reserve for the rows still to come, estimated from these first ones.
                size_t estimate =
                    rows +
                    size_t(double(end - p) / double(p - text.data() - ptrdiff_t(chunk.begin)) *
                           double(rows) * 1.05) +
                    16;
                for (ChunkColumn& cc : chunk.columns) {
                    if (cc.kind == Kind::categorical) cc.codes.reserve(estimate);
                }
            }
        }
    } catch (CsvError& e) {
        chunk.error = std::move(e);
    }
    chunk.rows = rows;
}

[[noreturn]] void fail(std::string_view text, const std::string& shown, const CsvError& e,
                       size_t line_offset = 0) {
    size_t off = std::min(e.offset, text.size());
    size_t line = 1 + size_t(std::count(text.begin(), text.begin() + off, '\n'));
    // The header (line 1) never errs in a later block, whose lines are shifted.
    if (line > 1) line += line_offset;
    size_t line_start = off == 0 ? std::string_view::npos : text.rfind('\n', off - 1);
    size_t column = line_start == std::string_view::npos ? off + 1 : off - line_start;
    throw Error(shown + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + e.why);
}

// Offset in the text of byte `index` of a category's value (undoing "" for escaped ones).
size_t offset_in_text(std::string_view text, const Category& c, size_t index) {
    if (!c.escaped) return c.content + index;
    size_t j = c.content;
    for (size_t k = 0; k < index; ++k)
        j += text[j] == '"' ? 2 : 1;
    return j;
}

// How many times `c` occurs in [b, e): memchr runs at memory speed, a byte loop does not.
size_t count_byte(const char* b, const char* e, char c) {
    size_t n = 0;
    while (b < e) {
        const void* hit = std::memchr(b, c, size_t(e - b));
        if (!hit) break;
        ++n;
        b = static_cast<const char*>(hit) + 1;
    }
    return n;
}

// Cuts [begin, text.size()) into about `n` ranges that end after a line break outside quotes.
std::vector<std::pair<size_t, size_t>> cut(std::string_view text, size_t begin, size_t n,
                                           unsigned jobs) {
    size_t size = text.size() - begin;
    std::vector<size_t> targets(n + 1);
    for (size_t i = 0; i <= n; ++i)
        targets[i] = begin + size / n * i;
    targets[n] = text.size();
    std::vector<size_t> quotes(n, 0);
    parallel_for(n, jobs, [&](size_t i) {
        quotes[i] = count_byte(text.data() + targets[i], text.data() + targets[i + 1], '"');
    });
    std::vector<std::pair<size_t, size_t>> ranges;
    size_t prev = begin, before = 0;
    for (size_t i = 1; i < n; ++i) {
        before += quotes[i - 1];
        bool in_quotes = before % 2 == 1;
        size_t j = targets[i], b = text.size();
        for (; j < text.size(); ++j) {
            if (text[j] == '"') {
                in_quotes = !in_quotes;
            } else if (text[j] == '\n' && !in_quotes) {
                b = j + 1;
                break;
            }
        }
        if (b > prev) {
            ranges.emplace_back(prev, b);
            prev = b;
        }
    }
    if (text.size() > prev) ranges.emplace_back(prev, text.size());
    return ranges;
}

}  // namespace

const char* to_string(ColumnType t) {
    switch (t) {
        case ColumnType::numeric:
            return "numeric";
        case ColumnType::boolean:
            return "boolean";
        case ColumnType::categorical:
            return "categorical";
    }
    return "?";
}

const Column* Table::find(std::string_view name) const {
    for (const Column& c : columns)
        if (c.name == name) return &c;
    return nullptr;
}

std::string csv_quote(const std::string& v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string out = "\"";
    for (char c : v) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

bool is_missing_value(std::string_view v) {
    switch (v.size()) {
        case 0:
            return true;
        case 2:
            return v == "NA";
        case 3:
            return v == "N/A" || v == "NaN" || v == "nan";
        case 4:
            return v == "null";
        default:
            return false;
    }
}

std::optional<double> csv_number(std::string_view v, char delimiter) {
    double d;
    if (parse_number(trim(v, delimiter), d)) return d;
    return std::nullopt;
}

std::optional<bool> csv_boolean(std::string_view v, char delimiter) {
    if (auto b = parse_boolean(trim(v, delimiter))) return *b != 0;
    return std::nullopt;
}

Table parse_csv(std::string_view text, const std::string& shown, const CsvOptions& options) {
    const char delim = options.delimiter;
    if (delim == '"' || delim == '\n' || delim == '\r')
        throw Error("cannot read " + shown + ": the delimiter cannot be a quote or a line break");
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    // Empty lines at the end are ignored.
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.remove_suffix(1);
    if (text.empty()) throw Error(shown + ":1:1: empty file: a header row is required");

    // The header.
    Tokenizer tok(text, delim);
    std::vector<std::string> names;
    const char* p = text.data();
    const char* end = text.data() + text.size();
    try {
        Field f;
        Term t;
        do {
            t = tok.field(p, end, f);
            size_t col = names.size() + 1;
            if (f.value.empty())
                throw CsvError{f.content, "column " + std::to_string(col) +
                                              " has an empty name in the header row"};
            if (size_t bad = invalid_utf8(f.value); bad != std::string_view::npos)
                throw CsvError{offset_in_text(text, Category{f.value, f.content, f.escaped}, bad),
                               "column name is not valid UTF-8"};
            for (size_t k = 0; k < names.size(); ++k)
                if (names[k] == f.value)
                    throw CsvError{f.content, "duplicate column name " + quote(f.value) +
                                                  " (also column " + std::to_string(k + 1) + ")"};
            names.emplace_back(f.value);
        } while (t == Term::delimiter);
    } catch (const CsvError& e) {
        fail(text, shown, e);
    }
    const size_t ncols = names.size();
    std::vector<bool> forced(ncols, false);
    for (const std::string& name : options.force_categorical) {
        auto it = std::find(names.begin(), names.end(), name);
        if (it == names.end() && options.force_if_present) continue;
        if (it == names.end())
            throw Error("cannot read " + shown + ": no column " + quote(name) +
                        " to read as categorical");
        forced[size_t(it - names.begin())] = true;
    }

    // Cut the data into chunks and parse them.
    const size_t data_begin = tok.offset(p);
    const size_t data_size = text.size() - data_begin;
    const unsigned jobs = options.jobs ? options.jobs : default_jobs();
    std::vector<std::pair<size_t, size_t>> ranges;
    if (jobs > 1 && data_size >= kParallelFrom)
        ranges =
            cut(text, data_begin, std::min<size_t>(size_t(jobs) * 4, data_size / kMinChunk), jobs);
    else if (data_size > 0)
        ranges.emplace_back(data_begin, text.size());
    std::vector<Chunk> chunks(ranges.size());
    // Every record but the last ends with a line break, so a chunk has at most one row more
    // than it has line breaks: that many slots in each column's array are the chunk's.
    std::vector<size_t> caps(chunks.size()), first(chunks.size() + 1, 0);
    parallel_for(chunks.size(), jobs, [&](size_t i) {
        caps[i] =
            1 + count_byte(text.data() + ranges[i].first, text.data() + ranges[i].second, '\n');
    });
    for (size_t i = 0; i < chunks.size(); ++i)
        first[i + 1] = first[i] + caps[i];
    std::vector<Numbers> arrays(ncols);
    for (size_t c = 0; c < ncols; ++c)
        if (!forced[c]) arrays[c].resize(first.back());  // not touched yet: see UninitAllocator
    for (size_t i = 0; i < chunks.size(); ++i) {
        chunks[i].begin = ranges[i].first;
        chunks[i].end = ranges[i].second;
        chunks[i].columns.resize(ncols);
        for (size_t c = 0; c < ncols; ++c) {
            if (forced[c]) {
                chunks[i].columns[c].kind = Kind::categorical;
            } else {
                chunks[i].columns[c].numbers.out = arrays[c].data() + first[i];
                chunks[i].columns[c].numbers.cap = caps[i];
            }
        }
    }
    parallel_for(chunks.size(), jobs, [&](size_t i) { parse_chunk(text, delim, chunks[i]); });
    for (const Chunk& chunk : chunks)
        if (chunk.error) fail(text, shown, *chunk.error, options.line_offset);

    // Decide the types; parse again what a categorical column collected as something else.
    std::vector<ColumnType> types(ncols, ColumnType::numeric);
    std::vector<std::vector<size_t>> again(chunks.size());
    for (size_t c = 0; c < ncols; ++c) {
        bool numeric = false, boolean = false, categorical = forced[c];
        for (const Chunk& chunk : chunks) {
            switch (chunk.columns[c].kind) {
                case Kind::numeric:
                    numeric = true;
                    break;
                case Kind::boolean:
                    boolean = true;
                    break;
                case Kind::categorical:
                case Kind::demoted:
                    categorical = true;
                    break;
                default:
                    break;
            }
        }
        if (categorical || (numeric && boolean)) {
            types[c] = ColumnType::categorical;
            for (size_t i = 0; i < chunks.size(); ++i) {
                Kind k = chunks[i].columns[c].kind;
                if (k == Kind::numeric || k == Kind::boolean || k == Kind::demoted)
                    again[i].push_back(c);
            }
        } else if (boolean) {
            types[c] = ColumnType::boolean;
        }
    }
    std::vector<size_t> redo;
    for (size_t i = 0; i < chunks.size(); ++i)
        if (!again[i].empty()) redo.push_back(i);
    parallel_for(redo.size(), jobs, [&](size_t r) {
        Chunk& chunk = chunks[redo[r]];
        std::vector<Kind> kept(ncols);
        for (size_t c = 0; c < ncols; ++c) {
            kept[c] = chunk.columns[c].kind;
            chunk.columns[c].kind = Kind::skip;
        }
        for (size_t c : again[redo[r]]) {
            chunk.columns[c] = ChunkColumn{};
            chunk.columns[c].kind = Kind::categorical;
            kept[c] = Kind::categorical;
        }
        parse_chunk(text, delim, chunk);
        for (size_t c = 0; c < ncols; ++c)
            chunk.columns[c].kind = kept[c];
    });
    for (const Chunk& chunk : chunks)
        if (chunk.error) fail(text, shown, *chunk.error, options.line_offset);

    // Merge.
    Table table;
    for (const Chunk& chunk : chunks)
        table.rows += chunk.rows;
    table.columns.resize(ncols);
    // Columns merge independently, on all cores: copying into fresh memory is a good part of
    // reading a large file.
    std::vector<std::optional<CsvError>> bad_utf8s(ncols);
    parallel_for(ncols, jobs, [&](size_t c) {
        std::optional<CsvError>& bad_utf8 = bad_utf8s[c];
        Column& col = table.columns[c];
        col.name = names[c];
        col.type = types[c];
        if (col.type != ColumnType::categorical) {
            // Close the gaps between the chunks' slices (line breaks inside quotes, or the
            // last record's missing one, leave a slot unused).
            double* base = arrays[c].data();
            size_t filled = 0;
            for (size_t i = 0; i < chunks.size(); ++i) {
                ChunkColumn& cc = chunks[i].columns[c];
                if (filled != first[i] && cc.numbers.n > 0)
                    std::memmove(base + filled, base + first[i], cc.numbers.n * sizeof(double));
                filled += cc.numbers.n;
                col.missing += cc.missing;
            }
            arrays[c].resize(filled);
            col.numbers = std::move(arrays[c]);
            return;
        }
        Numbers().swap(arrays[c]);
        col.codes.reserve(table.rows);
        std::unordered_map<std::string_view, int32_t> index;
        std::vector<const Category*> order;
        std::vector<int32_t> remap;
        for (Chunk& chunk : chunks) {
            ChunkColumn& cc = chunk.columns[c];
            col.missing += cc.missing;
            if (cc.kind == Kind::empty) {
                col.codes.insert(col.codes.end(), chunk.rows, -1);
                continue;
            }
            remap.resize(cc.categories.size());
            for (size_t k = 0; k < cc.categories.size(); ++k) {
                const Category& cat = cc.categories[k];
                auto [it, inserted] = index.try_emplace(cat.text, int32_t(order.size()));
                if (inserted) order.push_back(&cat);
                remap[k] = it->second;
            }
            for (int32_t code : cc.codes)
                col.codes.push_back(code < 0 ? -1 : remap[size_t(code)]);
            std::vector<int32_t>().swap(cc.codes);
        }
        col.categories.reserve(order.size());
        for (const Category* cat : order) {
            if (size_t bad = invalid_utf8(cat->text); bad != std::string_view::npos) {
                size_t off = offset_in_text(text, *cat, bad);
                if (!bad_utf8 || off < bad_utf8->offset)
                    bad_utf8 =
                        CsvError{off, "value in column " + quote(col.name) + " is not valid UTF-8"};
            }
            col.categories.emplace_back(cat->text);
        }
    });
    std::optional<CsvError> bad_utf8;
    for (auto& b : bad_utf8s)
        if (b && (!bad_utf8 || b->offset < bad_utf8->offset)) bad_utf8 = std::move(b);
    if (bad_utf8) fail(text, shown, *bad_utf8, options.line_offset);
    return table;
}

Table read_csv(const fs::path& file, const std::string& shown, const CsvOptions& options) {
    MappedFile map(file);
    return parse_csv(map.text(), shown, options);
}

namespace {

// The end (one past the line break) of the last record in `text` that ends with a line break
// outside quotes, `from` being a record start; 0 when none does.
size_t last_record_end(std::string_view text, size_t from) {
    bool quoted = false;
    size_t end = 0;
    for (size_t i = from; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"')
            quoted = !quoted;
        else if (c == '\n' && !quoted)
            end = i + 1;
    }
    return end;
}

// The end (one past the line break) of the first record from `from`; 0 when it does not end.
size_t first_record_end(std::string_view text, size_t from) {
    bool quoted = false;
    for (size_t i = from; i < text.size(); ++i) {
        if (text[i] == '"')
            quoted = !quoted;
        else if (text[i] == '\n' && !quoted)
            return i + 1;
    }
    return 0;
}

// The physical line of data row `row` in `text` (a block: the header, then data rows), the
// data starting at byte `data_begin` on physical line `first_line`.
size_t block_line_of(std::string_view text, size_t data_begin, size_t first_line, size_t row) {
    size_t line = first_line, records = 0;
    bool quoted = false;
    for (size_t i = data_begin; i < text.size() && records < row; ++i) {
        const char c = text[i];
        if (c == '"') {
            quoted = !quoted;
        } else if (c == '\n') {
            ++line;
            if (!quoted) ++records;
        }
    }
    return line;
}

}  // namespace

void read_csv_blocks(const fs::path& file, const std::string& shown, CsvOptions& options,
                     size_t block_bytes, const std::function<void(CsvBlock&)>& fn) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) throw Error("cannot read " + shown + ": " + std::strerror(errno));
    block_bytes = std::max<size_t>(block_bytes, 1 << 16);
    std::string buf, text;
    std::string header;  // with its line break
    size_t header_lines = 0, next_line = 1;
    bool eof = false, called = false, have_header = false;
    struct stat st {};
    const size_t file_bytes = ::fstat(fd.get(), &st) == 0 ? size_t(st.st_size) : 0;
    auto hand_over = [&](Table&& t, size_t first_line) {
        CsvBlock b;
        b.table = std::move(t);
        b.first_line = first_line;
        b.bytes = text.size() - header.size();
        b.file_bytes = file_bytes;
        b.line_of = [&text, &header, first_line](size_t row) {
            return block_line_of(text, header.size(), first_line, row);
        };
        called = true;
        fn(b);
    };
    while (!eof || !buf.empty()) {
        // Fill the buffer to the block size (or the end of the file).
        while (!eof && buf.size() < block_bytes) {
            const size_t old = buf.size();
            buf.resize(old + block_bytes);
            const ssize_t n = ::read(fd.get(), buf.data() + old, block_bytes);
            if (n < 0 && errno == EINTR) {
                buf.resize(old);
                continue;
            }
            if (n < 0) throw Error("cannot read " + shown + ": " + std::strerror(errno));
            buf.resize(old + size_t(n));
            if (n == 0) eof = true;
        }
        if (!have_header) {
            const size_t start = buf.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
            const size_t end = first_record_end(buf, start);
            if (end == 0 && !eof) {
                block_bytes *= 2;  // a header longer than a block
                continue;
            }
            if (end == 0) {
                text = buf;  // the whole file is one line
                hand_over(parse_csv(text, shown, options), 2);
                return;
            }
            header = buf.substr(start, end - start);
            header_lines = size_t(std::count(header.begin(), header.end(), '\n'));
            next_line = header_lines + 1;
            buf.erase(0, end);
            have_header = true;
        }
        size_t cut = eof ? buf.size() : last_record_end(buf, 0);
        // Not at an empty line: parse_csv would drop it as the end of its text.
        while (!eof && cut > 0) {
            size_t before = cut - 1;  // the '\n' ending the last record
            if (before > 0 && buf[before - 1] == '\r') --before;
            if (before > 0 && buf[before - 1] == '\n')
                cut = before;  // that record was empty: end the block before it
            else if (before == 0)
                cut = 0;
            else
                break;
        }
        if (cut == 0 && !eof) {
            block_bytes *= 2;  // one record (or a run of empty lines) longer than a block
            continue;
        }
        text.assign(header);
        text.append(buf, 0, cut);
        options.line_offset = next_line - (header_lines + 1);
        Table t = parse_csv(text, shown, options);
        const size_t first_line = next_line;
        next_line += size_t(std::count(buf.begin(), buf.begin() + cut, '\n'));
        buf.erase(0, cut);
        if (t.rows > 0 || !called) hand_over(std::move(t), first_line);
        if (eof) break;
    }
    if (!called) {
        text = header;
        hand_over(parse_csv(text, shown, options), next_line);
    }
    options.line_offset = 0;
}

void read_csv_blocks(const fs::path& file, const std::string& shown, const CsvOptions& options,
                     size_t block_bytes, const std::function<void(Table&&)>& fn) {
    CsvOptions opts = options;
    read_csv_blocks(file, shown, opts, block_bytes, [&](CsvBlock& b) { fn(std::move(b.table)); });
}

}  // namespace mlo::core
