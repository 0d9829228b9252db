#include "core/export_c.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <vector>

#include "storage/error.hpp"

namespace mlo::core {

namespace {

// The scorer sums the dot product in four lanes over rows padded to a multiple of four (dot4 in
// core/learner.cpp); the generated code must do the same to round the same way.
constexpr size_t kLanes = 4;

size_t padded(size_t d) {
    return (d + kLanes - 1) / kLanes * kLanes;
}

// `text` with "@p" replaced by the prefix and "@P" by the upper-case prefix.
std::string expand(std::string_view text, const std::string& p, const std::string& up) {
    std::string out;
    out.reserve(text.size() + 256);
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '@' && i + 1 < text.size() && (text[i + 1] == 'p' || text[i + 1] == 'P')) {
            out += text[i + 1] == 'p' ? p : up;
            ++i;
        } else {
            out += text[i];
        }
    }
    return out;
}

// A C string literal for `s`. Everything but printable ASCII is an octal escape (always three
// digits, so a following digit cannot join it), and '?' is escaped because C99 still has
// trigraphs. Inside a comment, where "/*" and "*/" must not appear, a '/' next to a '*' is
// escaped as well.
enum class Context { code, comment };

std::string c_string(std::string_view s, Context where = Context::code) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size(); ++i) {
        const char ch = s[i];
        const auto c = static_cast<unsigned char>(ch);
        if (c == 0) throw Error("cannot write " + quote(s) + " as a C string: it holds a NUL byte");
        if (c == '"' || c == '\\' || c == '?') {
            out += '\\';
            out += ch;
        } else if (c == '/' && where == Context::comment &&
                   ((i > 0 && s[i - 1] == '*') || (i + 1 < s.size() && s[i + 1] == '*'))) {
            out += "\\057";
        } else if (c >= 0x20 && c < 0x7f) {
            out += ch;
        } else {
            const char oct[] = {'\\', char('0' + (c >> 6)), char('0' + ((c >> 3) & 7)),
                                char('0' + (c & 7))};
            out.append(oct, sizeof oct);
        }
    }
    return out + '"';
}

// A double constant that reads back as the same double: 17 significant digits, and always
// with a '.' or an exponent so that C reads it as a double ("-0" would be the int 0).
std::string c_double(double v) {
    if (!std::isfinite(v)) throw Error("cannot export a model with a non-finite constant");
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 17);
    std::string s(buf, r.ptr);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
}

// Shortest round-trip text, for comments.
std::string short_number(double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

std::string upper(std::string s) {
    for (char& c : s)
        if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    return s;
}

const char* type_macro(ColumnType t) {
    switch (t) {
        case ColumnType::numeric:
            return "NUMERIC";
        case ColumnType::boolean:
            return "BOOLEAN";
        case ColumnType::categorical:
            return "CATEGORICAL";
    }
    return "NUMERIC";
}

constexpr std::string_view kApi = R"( *
 * API
 *
 *   int @p_predict(const double *numeric, const char *const *categorical,
 *       double *out);
 *
 *   numeric[i] is the value of feature i when it is numeric or boolean (1 true, 0 false); NAN
 *   means missing: the training mean is used. categorical[i] is the value of feature i when it
 *   is categorical; NULL means missing: the most frequent training category is used. A
 *   category not seen in training counts as none of them (its one-hot columns are all 0).
 *   Both arrays are indexed by feature position; entries for features of the other kind are
 *   ignored. Either pointer may be NULL, meaning every feature of its kind is missing.
)";

constexpr std::string_view kApiClassifier =
    R"( *   Returns the predicted class: the most probable one, the lowest index on ties. Unless out
 *   is NULL, writes the probability of each class to out[0], out[1], ... (@P_N_CLASSES
 *   values).
)";

constexpr std::string_view kApiRegression =
    R"( *   Returns 0 and, unless out is NULL, writes the predicted value to out[0].
)";

constexpr std::string_view kApiRest = R"( *
 *   Compiled with -D@P_MAIN this file is also a program: it reads CSV with a header row
 *   from stdin (comma-separated, RFC 4180 quoting, the feature columns found by name, a field
 *   that is empty or NA, N/A, NaN, nan or null is missing) and prints one prediction per row
 *   (with --proba also the class probabilities), numbers with 17 significant digits.
 *
 * The arithmetic is `mlo predict`'s, step by step and in the same order (standardise, one-hot,
 * the same partial sums of the dot products, the same sigmoid or max-shifted softmax). With
 * IEEE 754 double arithmetic (FLT_EVAL_METHOD 0, e.g. x86-64) and without contraction into
 * fused multiply-adds (turned off below for GCC and Clang) the results are bit-identical.
 */
)";

// Appends `items` to `s` as comment lines starting with `lead`, wrapped before column 96.
void append_wrapped(std::string& s, const std::string& lead,
                    const std::vector<std::string>& items) {
    std::string line = lead;
    for (size_t i = 0; i < items.size(); ++i) {
        const std::string item = items[i] + (i + 1 < items.size() ? "," : "");
        if (line.size() > lead.size() && line.size() + 1 + item.size() > 96) {
            s += line + "\n";
            line = " *" + std::string(lead.size() - 2, ' ');
        }
        line += (line.size() > lead.size() || line.back() != ' ' ? " " : "") + item;
    }
    s += line + "\n";
}

// The dot product and the category lookup, between the constants and @p_predict.
constexpr std::string_view kDot = R"(
/* Four partial sums added as (s0 + s1) + (s2 + s3), the order `mlo predict` uses; the rows are
   padded with zeros to a multiple of four. */
static double @p_dot(const double *x, const double *w)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int j;
    for (j = 0; j < @P_STRIDE; j += 4) {
        s0 += x[j] * w[j];
        s1 += x[j + 1] * w[j + 1];
        s2 += x[j + 2] * w[j + 2];
        s3 += x[j + 3] * w[j + 3];
    }
    return (s0 + s1) + (s2 + s3);
}
)";

constexpr std::string_view kCategory = R"(
/* The index of `value` among the n categories (sorted by bytes, as strcmp compares), -1 when it
   is not one of them; `impute` when it is missing (NULL). */
static int @p_category(const char *value, const char *const *categories, int n, int impute)
{
    int lo = 0, hi = n;
    if (value == NULL) return impute;
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        const int c = strcmp(value, categories[mid]);
        if (c == 0) return mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}
)";

constexpr std::string_view kBinary = R"(    {
        /* The sigmoid of the log-odds of class 1, computed without overflow. */
        const double e = exp(-fabs(z[0]));
        const double p1 = z[0] >= 0 ? 1 / (1 + e) : e / (1 + e);
        const double p0 = 1 - p1;
        if (out != NULL) {
            out[0] = p0;
            out[1] = p1;
        }
        return p0 < p1 ? 1 : 0;
    }
}
)";

constexpr std::string_view kSoftmax = R"(    {
        /* Softmax, shifted by the largest z so that exp cannot overflow. */
        double p[@P_N_CLASSES], mx = z[0], s = 0;
        int best = 0;
        for (i = 1; i < @P_N_CLASSES; ++i)
            if (mx < z[i]) mx = z[i];
        for (i = 0; i < @P_N_CLASSES; ++i) {
            p[i] = exp(z[i] - mx);
            s += p[i];
        }
        for (i = 0; i < @P_N_CLASSES; ++i)
            p[i] /= s;
        for (i = 1; i < @P_N_CLASSES; ++i)
            if (p[best] < p[i]) best = i;
        if (out != NULL)
            for (i = 0; i < @P_N_CLASSES; ++i)
                out[i] = p[i];
        return best;
    }
}
)";

constexpr std::string_view kRegression = R"(    if (out != NULL) out[0] = z[0];
    return 0;
}
)";

// The command-line program: a small CSV reader and main(). @OUT is the size of `out`.
constexpr std::string_view kMain = R"(
#ifdef @P_MAIN
#include <stdio.h>
#include <stdlib.h>

/* One CSV record: its fields' texts, each NUL-terminated, one after another in `text`. */
struct @p_csv {
    char *text;
    size_t len, cap;
    size_t *start; /* offset of each field in text */
    int *quoted;   /* whether each field was quoted */
    int n, room;   /* fields in the record, entries allocated in start and quoted */
    long line;     /* lines read so far */
};

static void @p_fail(long line, const char *what, const char *subject)
{
    if (line > 0)
        fprintf(stderr, "error: line %ld: ", line);
    else
        fputs("error: ", stderr);
    fprintf(stderr, "%s%s%s\n", what, subject ? ": " : "", subject ? subject : "");
    exit(1);
}

static void *@p_grow(void *p, size_t size)
{
    p = realloc(p, size);
    if (p == NULL) @p_fail(0, "out of memory", NULL);
    return p;
}

static void @p_put(struct @p_csv *r, int c)
{
    if (r->len == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->text = (char *)@p_grow(r->text, r->cap);
    }
    r->text[r->len++] = (char)c;
}

/* Ends the field that starts at text[from]: an unquoted one loses trailing blanks. */
static void @p_end_field(struct @p_csv *r, size_t from, int quoted)
{
    while (!quoted && r->len > from &&
           (r->text[r->len - 1] == ' ' || r->text[r->len - 1] == '\t' ||
            r->text[r->len - 1] == '\r'))
        --r->len;
    if (r->n == r->room) {
        r->room = r->room ? 2 * r->room : 16;
        r->start = (size_t *)@p_grow(r->start, (size_t)r->room * sizeof *r->start);
        r->quoted = (int *)@p_grow(r->quoted, (size_t)r->room * sizeof *r->quoted);
    }
    r->start[r->n] = from;
    r->quoted[r->n] = quoted;
    ++r->n;
    @p_put(r, '\0');
}

/* Reads the next record that is not an empty line; returns 0 at the end of the input. */
static int @p_read(FILE *in, struct @p_csv *r)
{
    int c;
    do {
        r->len = 0;
        r->n = 0;
        ++r->line;
        do {
            const size_t from = r->len;
            int quoted = 0;
            do
                c = getc(in);
            while (c == ' ' || c == '\t');
            if (c == '"') {
                quoted = 1;
                for (;;) {
                    c = getc(in);
                    if (c == EOF) @p_fail(r->line, "unterminated quoted field", NULL);
                    if (c == '"' && (c = getc(in)) != '"') break;
                    if (c == '\n') ++r->line;
                    @p_put(r, c);
                }
                while (c == ' ' || c == '\t' || c == '\r')
                    c = getc(in);
                if (c != ',' && c != '\n' && c != EOF)
                    @p_fail(r->line, "text after a closing quote", NULL);
            } else {
                for (; c != ',' && c != '\n' && c != EOF; c = getc(in)) {
                    if (c == '"') @p_fail(r->line, "quote inside an unquoted field", NULL);
                    @p_put(r, c);
                }
            }
            @p_end_field(r, from, quoted);
        } while (c == ',');
        if (r->n > 1 || r->quoted[0] || r->text[0] != '\0') return 1;
    } while (c != EOF);
    return 0;
}

/* Whether a field is missing: empty or one of the spellings below, blanks around it aside. */
static int @p_is_missing(const char *s)
{
    static const char *const spellings[] = {"", "NA", "N/A", "NaN", "nan", "null"};
    size_t n, i;
    while (*s == ' ' || *s == '\t')
        ++s;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        --n;
    for (i = 0; i < sizeof spellings / sizeof *spellings; ++i)
        if (strlen(spellings[i]) == n && strncmp(s, spellings[i], n) == 0) return 1;
    return 0;
}

/* A numeric or boolean value: a finite number, or true/false as 1/0. */
static double @p_number(const char *s, long line)
{
    char *end;
    double v;
    if (strcmp(s, "true") == 0 || strcmp(s, "TRUE") == 0 || strcmp(s, "True") == 0) return 1;
    if (strcmp(s, "false") == 0 || strcmp(s, "FALSE") == 0 || strcmp(s, "False") == 0) return 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v)) @p_fail(line, "not a number", s);
    return v;
}

/* A class name as a CSV field: quoted when it holds a comma, quote or line break. */
static void @p_put_field(const char *s)
{
    const size_t n = strlen(s);
    if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (s[0] != ' ' && s[n - 1] != ' '))) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; ++s) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

int main(int argc, char **argv)
{
    struct @p_csv r;
    int column[@P_N_FEATURES], i, label, proba = 0;
    double numeric[@P_N_FEATURES], out[@OUT];
    const char *categorical[@P_N_FEATURES];
    memset(&r, 0, sizeof r);
    if (argc == 2 && strcmp(argv[1], "--proba") == 0 && @P_N_CLASSES > 0)
        proba = 1;
    else if (argc != 1) {
        fprintf(stderr, "usage: %s%s < data.csv\n", argv[0],
                @P_N_CLASSES > 0 ? " [--proba]" : "");
        return 2;
    }
    if (!@p_read(stdin, &r)) @p_fail(1, "no header row", NULL);
    /* A UTF-8 byte order mark before the first (unquoted) name. */
    if (strncmp(r.text, "\357\273\277", 3) == 0) r.start[0] += 3;
    for (i = 0; i < @P_N_FEATURES; ++i) {
        int c;
        column[i] = -1;
        for (c = 0; c < r.n; ++c)
            if (strcmp(r.text + r.start[c], @p_feature_names[i]) == 0)
                column[i] = c;
        if (column[i] < 0)
            @p_fail(1, "no column for the feature", @p_feature_names[i]);
    }
    {
        const int header_fields = r.n;
        while (@p_read(stdin, &r)) {
            if (r.n != header_fields)
                @p_fail(r.line, "the row and the header differ in fields", NULL);
            for (i = 0; i < @P_N_FEATURES; ++i) {
                const char *s = r.text + r.start[column[i]];
                const int missing = @p_is_missing(s);
                numeric[i] = NAN;
                categorical[i] = NULL;
                if (@p_feature_types[i] == @P_CATEGORICAL)
                    categorical[i] = missing ? NULL : s;
                else if (!missing)
                    numeric[i] = @p_number(s, r.line);
            }
            label = @p_predict(numeric, categorical, out);
            if (@P_N_CLASSES > 0) {
                @p_put_field(@p_class_names[label]);
                for (i = 0; proba && i < @P_N_CLASSES; ++i)
                    printf(",%.17g", out[i]);
                putchar('\n');
            } else {
                printf("%.17g\n", out[0]);
            }
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("error: cannot write the predictions");
        return 1;
    }
    return 0;
}
#endif
)";

// Writes the source, one part at a time, into `s`.
class Writer {
public:
    Writer(const Model& m, const ExportCOptions& o)
        : m_(m), o_(o), p_(o.prefix), up_(upper(o.prefix)) {
        k_ = m.is_classifier() ? m.classes.size() : 0;
        rows_ = m.coef.size();
        width_ = m.design_width();
        stride_ = padded(width_);
        if (m.features.empty()) throw Error("the model has no features");
        if (rows_ == 0 || m.intercept.size() != rows_ || rows_ != (k_ > 2 ? k_ : 1) ||
            (m.is_classifier() && k_ < 2))
            throw Error("the model's coefficients do not fit its classes");
        for (const auto& row : m.coef)
            if (row.size() != width_)
                throw Error("the model's coefficients do not fit its features");
        for (size_t i = 0; i < m.features.size(); ++i)
            (m.features[i].type == ColumnType::categorical ? categorical_ : numeric_).push_back(i);
        s_.reserve(8192 + 64 * rows_ * stride_);
    }

    std::string write() {
        header();
        s_ += "\n#include <math.h>\n#include <stddef.h>\n#include <string.h>\n\n";
        s_ +=
            "#if defined(__clang__)\n#pragma STDC FP_CONTRACT OFF\n"
            "#elif defined(__GNUC__)\n#pragma GCC push_options\n"
            "#pragma GCC optimize(\"fp-contract=off\")\n#endif\n\n";
        public_names();
        constants();
        s_ += x(kDot);
        if (!categorical_.empty()) s_ += x(kCategory);
        predict();
        s_ +=
            "\n#if defined(__clang__)\n#pragma STDC FP_CONTRACT DEFAULT\n"
            "#elif defined(__GNUC__)\n#pragma GCC pop_options\n#endif\n";
        std::string program = x(kMain);
        program.replace(program.find("@OUT"), 4, std::to_string(k_ ? k_ : 1));
        s_ += program;
        return std::move(s_);
    }

private:
    std::string x(std::string_view text) const { return expand(text, p_, up_); }
    static std::string comment(std::string_view text) { return c_string(text, Context::comment); }

    // The comment at the top: what the model is, then how to use it.
    void header() {
        s_ += "/* " + p_ + ": a " + m_.learner + " model, as C99 source written by `mlo export`";
        if (!o_.source.empty()) s_ += " from " + comment(o_.source);
        s_ += ".\n *\n";
        s_ += " * target    " + comment(m_.target) + " (" + to_string(m_.target_type) + ")\n";
        if (k_) {
            std::vector<std::string> items;
            for (size_t c = 0; c < k_; ++c)
                items.push_back(std::to_string(c) + " " + comment(m_.classes[c]));
            append_wrapped(s_, " * classes   ", items);
        }
        s_ += " * features  position, name, type, preprocessing\n";
        size_t name_width = 0;
        for (const FeatureSpec& f : m_.features)
            name_width = std::max(name_width, comment(f.name).size());
        for (size_t i = 0; i < m_.features.size(); ++i) {
            const FeatureSpec& f = m_.features[i];
            const std::string name = comment(f.name), type = to_string(f.type);
            std::string line = " *   " + std::to_string(i);
            line.resize(std::max<size_t>(line.size() + 2, 10), ' ');
            line += name + std::string(name_width - name.size() + 2, ' ') + type +
                    std::string(13 - type.size(), ' ');
            if (f.type == ColumnType::categorical)
                line += std::to_string(f.categories.size()) + " categories, missing is " +
                        comment(f.impute);
            else
                line += "(x - " + short_number(f.mean) + ") / " + short_number(f.scale) +
                        ", missing is the mean";
            s_ += line + "\n";
        }
        s_ += x(kApi);
        s_ += x(k_ ? kApiClassifier : kApiRegression);
        const std::vector<std::pair<std::string, std::string>> names = {
            {up_ + "_N_FEATURES", "the number of features"},
            {p_ + "_feature_names[]", "their names"},
            {p_ + "_feature_types[]", x("@P_NUMERIC, @P_BOOLEAN or @P_CATEGORICAL")},
            {up_ + "_N_CLASSES", k_ ? "the number of classes" : "0 (a regression model)"},
            {p_ + "_class_names[]", k_ ? "their names" : "a single NULL"},
        };
        size_t width = 0;
        for (const auto& [name, what] : names)
            width = std::max(width, name.size());
        s_ += " *\n";
        for (const auto& [name, what] : names)
            s_ += " *   " + name + std::string(width - name.size() + 2, ' ') + what + "\n";
        s_ += x(kApiRest);
    }

    void public_names() {
        s_ += "#define " + up_ + "_N_FEATURES " + std::to_string(m_.features.size()) + "\n";
        s_ += "#define " + up_ + "_N_CLASSES " + std::to_string(k_) + "\n";
        s_ += x("#define @P_NUMERIC 0\n#define @P_BOOLEAN 1\n#define @P_CATEGORICAL 2\n\n");
        s_ += x("const char *const @p_feature_names[@P_N_FEATURES] = {");
        for (const FeatureSpec& f : m_.features)
            s_ += "\n    " + c_string(f.name) + ",";
        s_ += "\n};\n";
        s_ += x("const int @p_feature_types[@P_N_FEATURES] = {");
        for (const FeatureSpec& f : m_.features)
            s_ += "\n    " + up_ + "_" + type_macro(f.type) + ",";
        s_ += "\n};\n";
        if (k_) {
            s_ += x("const char *const @p_class_names[@P_N_CLASSES] = {");
            for (const std::string& c : m_.classes)
                s_ += "\n    " + c_string(c) + ",";
            s_ += "\n};\n";
        } else {
            s_ += x("const char *const @p_class_names[1] = {NULL};\n");
        }
        s_ +=
            x("int @p_predict(const double *numeric, const char *const *categorical, "
              "double *out);\n");
    }

    // The preprocessing and the coefficients.
    void constants() {
        s_ += "\n#define " + up_ + "_N_DESIGN " + std::to_string(width_) + "\n";
        s_ += "#define " + up_ + "_STRIDE " + std::to_string(stride_) + "\n";
        s_ += "#define " + up_ + "_N_ROWS " + std::to_string(rows_) + "\n";
        if (!numeric_.empty()) {
            s_ += "#define " + up_ + "_N_NUMERIC " + std::to_string(numeric_.size()) + "\n\n";
            s_ +=
                "/* Numeric and boolean features: their positions, training means (the value of "
                "a\n   missing one) and scales; design column i standardises feature_index[i]. "
                "*/\n";
            s_ += x("static const int @p_feature_index[@P_N_NUMERIC] = {");
            for (size_t i : numeric_)
                s_ += "\n    " + std::to_string(i) + ", /* " + comment(m_.features[i].name) + " */";
            s_ += "\n};\n";
            s_ += x("static const double @p_mean[@P_N_NUMERIC] = {");
            for (size_t i : numeric_)
                s_ += "\n    " + c_double(m_.features[i].mean) + ",";
            s_ += "\n};\n";
            s_ += x("static const double @p_scale[@P_N_NUMERIC] = {");
            for (size_t i : numeric_)
                s_ += "\n    " + c_double(m_.features[i].scale) + ",";
            s_ += "\n};\n";
        }
        for (size_t i : categorical_) {
            const FeatureSpec& f = m_.features[i];
            s_ += "\n/* Categories of " + comment(f.name) + " (feature " + std::to_string(i) +
                  "), sorted by bytes. */\n";
            s_ += "static const char *const " + p_ + "_categories_" + std::to_string(i) + "[" +
                  std::to_string(f.categories.size()) + "] = {";
            for (const std::string& c : f.categories)
                s_ += "\n    " + c_string(c) + ",";
            s_ += "\n};\n";
        }
        s_ += "\n/* Coefficients: one row per linear function (";
        s_ += k_ == 0   ? "the predicted value"
              : k_ == 2 ? "the log-odds of class 1, " + comment(m_.classes[1])
                        : "one per class, softmax";
        s_ += "), one value per\n   design column, padded with zeros to a multiple of four. */\n";
        s_ += x("static const double @p_coef[@P_N_ROWS][@P_STRIDE] = {");
        const std::vector<std::string> design = m_.design_columns();
        for (size_t r = 0; r < rows_; ++r) {
            s_ += "\n    {";
            if (k_ > 2) s_ += " /* " + comment(m_.classes[r]) + " */";
            for (size_t j = 0; j < width_; ++j)
                s_ += "\n        " + c_double(m_.coef[r][j]) + ", /* " + comment(design[j]) + " */";
            if (stride_ > width_) {
                s_ += "\n        ";
                for (size_t j = width_; j < stride_; ++j)
                    s_ += j + 1 < stride_ ? "0.0, " : "0.0, /* padding */";
            }
            s_ += "\n    },";
        }
        s_ += "\n};\n";
        s_ += x("static const double @p_intercept[@P_N_ROWS] = {");
        for (double b : m_.intercept)
            s_ += "\n    " + c_double(b) + ",";
        s_ += "\n};\n";
    }

    // The scorer: the design row, then z = intercept + w . x per row, then the link.
    void predict() {
        s_ +=
            x("\nint @p_predict(const double *numeric, const char *const *categorical, "
              "double *out)\n{\n    double x[@P_STRIDE] = {0}, z[@P_N_ROWS];\n    int i;\n");
        if (!numeric_.empty())
            s_ +=
                x("    for (i = 0; i < @P_N_NUMERIC; ++i) {\n"
                  "        const double v = numeric != NULL ? numeric[@p_feature_index[i]] : "
                  "NAN;\n"
                  "        x[i] = ((isnan(v) ? @p_mean[i] : v) - @p_mean[i]) / @p_scale[i];\n"
                  "    }\n");
        else
            s_ += "    (void)numeric;\n";
        if (!categorical_.empty()) {
            s_ += "    {\n        int c;\n";
            size_t offset = numeric_.size();
            for (size_t i : categorical_) {
                const FeatureSpec& f = m_.features[i];
                const auto it = std::find(f.categories.begin(), f.categories.end(), f.impute);
                if (it == f.categories.end())
                    throw Error("the impute category of feature " + quote(f.name) +
                                " is not one of its categories");
                const std::string pos = std::to_string(i);
                s_ += "        /* " + comment(f.name) + " */\n";
                s_ += "        c = " + p_ + "_category(categorical != NULL ? categorical[" + pos +
                      "] : NULL,\n            " + p_ + "_categories_" + pos + ", " +
                      std::to_string(f.categories.size()) + ", " +
                      std::to_string(it - f.categories.begin()) + ");\n";
                s_ += "        if (c >= 0) x[" + std::to_string(offset) + " + c] = 1.0;\n";
                offset += f.categories.size();
            }
            s_ += "    }\n";
        } else {
            s_ += "    (void)categorical;\n";
        }
        s_ +=
            x("    for (i = 0; i < @P_N_ROWS; ++i)\n"
              "        z[i] = @p_intercept[i] + @p_dot(x, @p_coef[i]);\n");
        s_ += x(k_ == 0 ? kRegression : k_ == 2 ? kBinary : kSoftmax);
    }

    const Model& m_;
    const ExportCOptions& o_;
    const std::string p_, up_;  // the prefix, and in upper case for macros
    size_t k_, rows_, width_, stride_;
    std::vector<size_t> numeric_, categorical_;  // feature positions, in design-column order
    std::string s_;
};

}  // namespace

bool is_c_identifier(const std::string& s) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

std::string export_c(const Model& m, const ExportCOptions& o) {
    if (!is_c_identifier(o.prefix))
        throw Error("invalid prefix " + quote(o.prefix) +
                    ": a C identifier is letters, digits and '_', not starting with a digit");
    return Writer(m, o).write();
}

}  // namespace mlo::core
