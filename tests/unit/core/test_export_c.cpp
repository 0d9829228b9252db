#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/builtin.hpp"
#include "core/csv.hpp"
#include "core/export_c.hpp"
#include "core/learner.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;

namespace {

std::string fixture_path(const std::string& name) {
    return (std::filesystem::path(MLO_SOURCE_DIR) / "tests/unit/fixtures" / name).string();
}

bool have_cc() {
    return std::system("command -v cc >/dev/null 2>&1") == 0;
}

// Compiles `source` as the brief for users says (C99, every warning an error) into `dir`/model.
void compile(const test::TempDir& dir, const std::string& source, const std::string& prefix,
             const std::string& extra = "") {
    test::write_text(dir / "model.c", source);
    const std::string log = (dir / "cc.log").string();
    std::string macro = prefix + "_MAIN";  // macros spell the prefix in upper case
    for (char& c : macro)
        if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    std::string cmd = "cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -D" + macro + " " + extra +
                      " " + shell_quote((dir / "model.c").string()) + " -o " +
                      shell_quote((dir / "model").string()) + " -lm 2>" + shell_quote(log);
    int rc = std::system(cmd.c_str());
    INFO(test::read_text(log));
    REQUIRE(rc == 0);
    CHECK(test::read_text(log).empty());
}

// Runs the compiled model on `csv`; returns its stdout lines.
std::vector<std::string> run_model(const test::TempDir& dir, const std::string& csv,
                                   const std::string& args) {
    const std::string out = (dir / "out.txt").string(), err = (dir / "err.txt").string();
    std::string cmd = shell_quote((dir / "model").string()) + " " + args + " <" + shell_quote(csv) +
                      " >" + shell_quote(out) + " 2>" + shell_quote(err);
    int rc = std::system(cmd.c_str());
    INFO(test::read_text(err));
    REQUIRE(rc == 0);
    std::vector<std::string> lines;
    std::istringstream in(test::read_text(out));
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> out;
    std::string field;
    std::istringstream in(line);
    while (std::getline(in, field, ','))
        out.push_back(field);
    return out;
}

// Equal within 1e-12 relative; on x86-64 (IEEE doubles, no FMA in either build) bit-identical.
bool same(double got, double want) {
#if defined(__x86_64__)
    return got == want || (std::isnan(got) && std::isnan(want));
#else
    return std::abs(got - want) <= 1e-12 * std::max(1e-300, std::abs(want));
#endif
}

// Exports `m`, compiles it, scores `csv` with the program and with core::predict(), and checks
// that every row agrees: the same class and probabilities, or the same value.
void check_agrees(const Model& m, const std::string& csv, const std::string& prefix = "mlo_model") {
    test::TempDir dir;
    ExportCOptions o;
    o.prefix = prefix;
    compile(dir, export_c(m, o), prefix);
    const std::vector<std::string> lines = run_model(dir, csv, m.is_classifier() ? "--proba" : "");
    Table t = read_csv(csv, csv, csv_options_for(m));
    Predictions p = predict(m, t, csv);
    REQUIRE(lines.size() == p.rows);
    const size_t k = m.classes.size();
    size_t bad = 0;
    std::string first_bad;
    for (size_t i = 0; i < p.rows; ++i) {
        const std::vector<std::string> f = split(lines[i]);
        bool ok;
        if (m.is_classifier()) {
            ok = f.size() == k + 1 && f[0] == m.classes[size_t(p.labels[i])];
            for (size_t c = 0; ok && c < k; ++c)
                ok = same(std::strtod(f[c + 1].c_str(), nullptr), p.proba[i * k + c]);
        } else {
            ok = f.size() == 1 && same(std::strtod(f[0].c_str(), nullptr), p.values[i]);
        }
        if (!ok && bad++ == 0) first_bad = "row " + std::to_string(i + 1) + ": " + lines[i];
    }
    INFO("first disagreement: " << first_bad);
    CHECK(bad == 0);
}

Model train_on(const std::string& file, const std::string& learner, const std::string& target,
               double l2 = 1.0) {
    TrainOptions o;
    o.learner = learner;
    o.target = target;
    o.l2 = l2;
    return train(read_csv(fixture_path(file), file), o, file);
}

}  // namespace

TEST_CASE("export_c checks the prefix", "[export]") {
    Model m = train_on("iris.csv", "logistic_regression", "species");
    for (const char* bad : {"", "1model", "my-model", "a b", "é"}) {
        ExportCOptions o;
        o.prefix = bad;
        INFO(bad);
        CHECK_THROWS_AS(export_c(m, o), Error);
    }
    ExportCOptions o;
    o.prefix = "_Churn2";
    std::string c = export_c(m, o);
    CHECK(c.find("int _Churn2_predict(const double *numeric") != std::string::npos);
    CHECK(c.find("#define _CHURN2_N_FEATURES 4\n") != std::string::npos);
    CHECK(c.find("#define _CHURN2_N_CLASSES 3\n") != std::string::npos);
    CHECK(c.find("#ifdef _CHURN2_MAIN") != std::string::npos);
    // Deterministic: the same model writes the same bytes.
    CHECK(export_c(m, o) == c);
}

TEST_CASE("exported constants read back as the same doubles", "[export]") {
    Model m = train_on("diabetes.csv", "linear_regression", "target", 0.0);
    std::string c = export_c(m);
    // Every coefficient appears with 17 significant digits, which reads back exactly.
    for (double w : m.coef[0]) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", w);
        CHECK(std::strtod(buf, nullptr) == w);
        CHECK(c.find(std::string("\n        ") + buf) != std::string::npos);
    }
}

TEST_CASE("exported C predicts what predict() predicts", "[export]") {
    if (!have_cc()) {
        WARN("skipped: no C compiler 'cc'");
        return;
    }
    SECTION("multinomial (iris)") {
        check_agrees(train_on("iris.csv", "logistic_regression", "species", 0.5),
                     fixture_path("iris.csv"));
    }
    SECTION("binary (breast cancer)") {
        check_agrees(train_on("breast_cancer.csv", "logistic_regression", "target"),
                     fixture_path("breast_cancer.csv"), "bc");
    }
    SECTION("regression (diabetes)") {
        check_agrees(train_on("diabetes.csv", "linear_regression", "target"),
                     fixture_path("diabetes.csv"));
    }
    SECTION("categorical, boolean and missing values (mixed)") {
        Model clf = train_on("mixed.csv", "logistic_regression", "churned", 2.0);
        check_agrees(clf, fixture_path("mixed.csv"));
        Model reg = train_on("mixed.csv", "linear_regression", "spend", 2.0);
        check_agrees(reg, fixture_path("mixed.csv"));
        // Unknown categories, every missing spelling, quoted fields, booleans and a row that
        // misses everything.
        test::TempDir dir;
        test::write_text(dir / "new.csv",
                         "size,color,x2,flag,x1,churned,spend\n"
                         "L,magenta,1.5,true,3,,\n"
                         "XS,NA,N/A,,nan,true,1\n"
                         "\"M\",\"red\",null,FALSE,NaN,,2\n"
                         " S , blue ,-0.25,True,+4.5,,\n"
                         ",,,,,,\n"
                         "\"XL\" ,\" red\",1e-3,false,-0,,\n");
        check_agrees(clf, (dir / "new.csv").string());
        check_agrees(reg, (dir / "new.csv").string());
    }
    SECTION("names that need escaping in C") {
        // Quotes, backslashes, trigraphs, comment markers and non-ASCII bytes in the feature
        // name, the categories and the classes.
        std::string csv = "\"we/*ird\",x,\"cl\"\"ass\"\n";
        const char* cats[] = {"\"\"\"q\"\"\"", "b\\s", "?\?=", "*/", "caf\xC3\xA9"};
        const char* classes[] = {"\"yes, \"\"really\"\"\"", "n\xC3\xB6"};
        for (int i = 0; i < 60; ++i)
            csv += std::string(cats[i % 5]) + "," + std::to_string((i * 37) % 11) + "," +
                   classes[(i * 7 + i / 5) % 3 == 0] + "\n";
        test::TempDir dir;
        test::write_text(dir / "weird.csv", csv);
        TrainOptions o;
        o.learner = "logistic_regression";
        o.target = "cl\"ass";
        Model m = train(read_csv(dir / "weird.csv", "weird.csv"), o, "weird.csv");
        REQUIRE(m.features[0].categories.size() == 5);
        // Class names with a comma are written quoted; compare the class column by itself.
        test::TempDir build;
        compile(build, export_c(m), "mlo_model");
        const std::vector<std::string> lines = run_model(build, (dir / "weird.csv").string(), "");
        Table t = read_csv(dir / "weird.csv", "weird.csv", csv_options_for(m));
        Predictions p = predict(m, t, "weird.csv");
        REQUIRE(lines.size() == p.rows);
        for (size_t i = 0; i < p.rows; ++i) {
            std::string name = m.classes[size_t(p.labels[i])];
            std::string want = name;
            if (name.find(',') != std::string::npos) {
                want = "\"";
                for (char c : name)
                    want += c == '"' ? std::string("\"\"") : std::string(1, c);
                want += '"';
            }
            INFO("row " << i + 1);
            CHECK(lines[i] == want);
        }
    }
}

TEST_CASE("exported predict() takes NULL arrays as all missing", "[export]") {
    if (!have_cc()) {
        WARN("skipped: no C compiler 'cc'");
        return;
    }
    Model m = train_on("mixed.csv", "logistic_regression", "churned", 2.0);
    test::TempDir dir;
    test::write_text(dir / "driver.c",
                     "#include \"model.c\"\n"
                     "#include <stdio.h>\n"
                     "int main(void) {\n"
                     "    double out[2] = {-1, -1};\n"
                     "    const int label = mlo_model_predict(NULL, NULL, out);\n"
                     "    printf(\"%d,%.17g,%.17g\\n\", label, out[0], out[1]);\n"
                     "    return mlo_model_predict(NULL, NULL, NULL) != label;\n"
                     "}\n");
    test::write_text(dir / "model.c", export_c(m));
    const std::string cmd = "cd " + shell_quote(dir.path().string()) +
                            " && cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 driver.c -o "
                            "driver -lm 2>cc.log && ./driver >out.txt";
    int rc = std::system(cmd.c_str());
    INFO(test::read_text(dir / "cc.log"));
    REQUIRE(rc == 0);

    Table t = parse_csv("x1,x2,flag,color,size,spend\n,,,,,\n", "missing.csv", csv_options_for(m));
    Predictions p = predict(m, t, "missing.csv");
    const std::vector<std::string> f = split(test::read_text(dir / "out.txt"));
    REQUIRE(f.size() == 3);
    CHECK(std::stoi(f[0]) == p.labels[0]);
    CHECK(same(std::strtod(f[1].c_str(), nullptr), p.proba[0]));
    CHECK(same(std::strtod(f[2].c_str(), nullptr), p.proba[1]));
}
