#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "core/learner.hpp"
#include "core/scoring.hpp"
#include "storage/fs.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

std::string fixture(const std::string& name) {
    return std::string(MLO_SOURCE_DIR) + "/tests/unit/fixtures/" + name;
}

// mixed.csv: numeric (x1, x2), boolean (flag), categorical (color, with missing values; size)
// features and a boolean target.
struct Mixed {
    Table table;
    Model model;
    Mixed() {
        table = read_csv(fixture("mixed.csv"), "mixed.csv");
        TrainOptions o;
        o.learner = "logistic_regression";
        o.target = "churned";
        o.features = {"x1", "x2", "flag", "color", "size"};
        model = train(table, o, "mixed.csv");
    }
};

const Mixed& mixed() {
    static Mixed m;
    return m;
}

// The first n rows of mixed.csv as JSON records, typed as a client would send them.
json records(size_t n) {
    const Table& t = mixed().table;
    json out = json::array();
    for (size_t r = 0; r < n; ++r) {
        json rec = json::object();
        for (const char* name : {"x1", "x2", "flag", "color", "size"}) {
            const Column* c = t.find(name);
            if (c->type == ColumnType::categorical) {
                rec[name] = c->codes[r] < 0 ? json(nullptr) : json(c->categories[c->codes[r]]);
            } else if (std::isnan(c->numbers[r])) {
                rec[name] = nullptr;
            } else if (c->type == ColumnType::boolean) {
                rec[name] = c->numbers[r] != 0;
            } else {
                rec[name] = c->numbers[r];
            }
        }
        out.push_back(rec);
    }
    return out;
}

std::vector<std::string> features() {
    return {"x1", "x2", "flag", "color", "size"};
}

// Predicted labels for a request body, through the same path the server takes.
std::vector<int> labels_for(const json& body, Protocol p = Protocol::mlflow) {
    RequestRows rows = parse_json_request(body.dump(), p, features());
    Table t = table_for_model(mixed().model, rows);
    return predict(mixed().model, t, "request", 1).labels;
}

}  // namespace

TEST_CASE("every request layout scores like the CSV file", "[scoring]") {
    const Model& m = mixed().model;
    const size_t n = 60;
    Table head;
    {
        // The same rows read from CSV, as `mlo predict` reads them.
        std::string text = read_file(fixture("mixed.csv"));
        size_t at = 0;
        for (size_t i = 0; i <= n; ++i)
            at = text.find('\n', at) + 1;
        head = parse_csv(text.substr(0, at), "head", csv_options_for(m));
    }
    std::vector<int> want = predict(m, head, "head", 1).labels;
    REQUIRE(want.size() == n);

    json recs = records(n);
    json split_rows = json::array();
    json lists = json::array();
    json columns = json::object();
    for (const auto& f : features())
        columns[f] = json::array();
    for (const auto& r : recs) {
        json row = json::array();
        for (const auto& f : features()) {
            row.push_back(r[f]);
            columns[f].push_back(r[f]);
        }
        lists.push_back(row);
    }
    CHECK(labels_for({{"dataframe_split", {{"columns", features()}, {"data", lists}}}}) == want);
    CHECK(labels_for({{"dataframe_records", recs}}) == want);
    CHECK(labels_for({{"instances", recs}}) == want);
    CHECK(labels_for({{"instances", lists}}) == want);
    CHECK(labels_for({{"inputs", columns}}) == want);
    CHECK(labels_for({{"inputs", recs}}) == want);
    // Columns in another order, and an extra column, change nothing.
    json shuffled = recs;
    for (auto& r : shuffled)
        r["extra"] = "ignored";
    CHECK(labels_for({{"dataframe_records", shuffled}}) == want);
    // V2: one tensor per column.
    json inputs = json::array();
    for (const auto& f : features())
        inputs.push_back({{"name", f},
                          {"shape", {n}},
                          {"datatype", f == "color" || f == "size" ? "BYTES" : "FP64"},
                          {"data", columns[f]}});
    CHECK(labels_for({{"inputs", inputs}}, Protocol::v2) == want);
    // CSV bodies.
    RequestRows rows;
    std::string text = read_file(fixture("mixed.csv"));
    Table t = table_from_csv(m, text, rows);
    CHECK(rows.rows == 400);
    // The log keeps every column as sent (the target and the unused one too), in file order.
    CHECK(rows.columns ==
          std::vector<std::string>{"x1", "x2", "flag", "color", "size", "churned", "spend"});
    CHECK(rows.values.size() == rows.columns.size());
    CHECK(predict(m, t, "body", 1).labels.size() == 400);
}

TEST_CASE("numbers may come as strings, booleans as words, missing values as null or NA",
          "[scoring]") {
    json a = {
        {"dataframe_records",
         {{{"x1", 6.296}, {"x2", 0.485}, {"flag", false}, {"color", "red"}, {"size", "L"}},
          {{"x1", 7.0}, {"x2", nullptr}, {"flag", true}, {"color", nullptr}, {"size", "S"}}}}};
    json b = {
        {"dataframe_records",
         {{{"x1", "6.296"}, {"x2", " 0.485"}, {"flag", "False"}, {"color", "red"}, {"size", "L"}},
          {{"x1", "+7"}, {"x2", "NA"}, {"flag", 1}, {"color", "NaN"}, {"size", "S"}}}}};
    RequestRows ra = parse_json_request(a.dump(), Protocol::mlflow, features());
    RequestRows rb = parse_json_request(b.dump(), Protocol::mlflow, features());
    Predictions pa = predict(mixed().model, table_for_model(mixed().model, ra), "a", 1);
    Predictions pb = predict(mixed().model, table_for_model(mixed().model, rb), "b", 1);
    CHECK(pa.labels == pb.labels);
    CHECK(pa.proba == pb.proba);
}

TEST_CASE("a V2 two-dimensional tensor holds the features in order", "[scoring]") {
    Table t = read_csv(fixture("iris.csv"), "iris.csv");
    TrainOptions o;
    o.learner = "logistic_regression";
    o.target = "species";
    Model m = train(t, o, "iris.csv");
    json data = json::array();
    for (size_t r = 0; r < 10; ++r)
        for (size_t c = 0; c < 4; ++c)
            data.push_back(t.columns[c].numbers[r * 15]);
    json body = {
        {"inputs", {{{"name", "x"}, {"shape", {10, 4}}, {"datatype", "FP64"}, {"data", data}}}}};
    std::vector<std::string> names = {"sepal_length", "sepal_width", "petal_length", "petal_width"};
    RequestRows rows = parse_json_request(body.dump(), Protocol::v2, names);
    REQUIRE(rows.columns == names);
    Predictions p = predict(m, table_for_model(m, rows), "x", 1);
    REQUIRE(p.rows == 10);
    for (size_t r = 0; r < 10; ++r) {
        Table one;
        one.rows = 1;
        for (size_t c = 0; c < 4; ++c) {
            Column col;
            col.name = names[c];
            col.numbers.push_back(t.columns[c].numbers[r * 15]);
            one.columns.push_back(col);
        }
        CHECK(predict(m, one, "one", 1).labels[0] == p.labels[r]);
    }
    // The response: string labels as BYTES, probabilities [n, 3].
    json v2 = json::parse(v2_response(m, p, "iris", 4, "req-1"));
    CHECK(v2["model_version"] == "4");
    CHECK(v2["id"] == "req-1");
    CHECK(v2["outputs"][0]["datatype"] == "BYTES");
    CHECK(v2["outputs"][0]["data"][0] == "setosa");
    CHECK(v2["outputs"][1]["shape"] == json({10, 3}));
    json ml = json::parse(mlflow_response(m, p, true));
    CHECK(ml["predictions"].size() == 10);
    CHECK(ml["classes"] == json({"setosa", "versicolor", "virginica"}));
    double sum = 0;
    for (const auto& x : ml["probabilities"][0])
        sum += x.get<double>();
    CHECK(sum == Approx(1.0));
}

TEST_CASE("labels are typed like the training target", "[scoring]") {
    const Model& m = mixed().model;  // boolean target
    json body = {{"dataframe_records", records(3)}};
    RequestRows rows = parse_json_request(body.dump(), Protocol::mlflow, features());
    Predictions p = predict(m, table_for_model(m, rows), "x", 1);
    json ml = json::parse(mlflow_response(m, p, false));
    for (const auto& v : ml["predictions"])
        CHECK(v.is_boolean());
    CHECK(json::parse(v2_response(m, p, "m", 1, ""))["outputs"][0]["datatype"] == "BOOL");
}

TEST_CASE("bad requests get the right status and name what is wrong", "[scoring]") {
    auto status_of = [](const std::string& body, Protocol p = Protocol::mlflow) {
        try {
            RequestRows rows = parse_json_request(body, p, features());
            table_for_model(mixed().model, rows);
        } catch (const RequestError& e) {
            return std::to_string(e.status()) + " " + e.what();
        }
        return std::string("ok");
    };
    CHECK_THAT(status_of("{"), Contains("400 the request body is not valid JSON"));
    CHECK_THAT(status_of("[1]"), Contains("400"));
    CHECK_THAT(status_of("{\"rows\": []}"), Contains("400 the request needs one of"));
    CHECK_THAT(status_of("{\"instances\": [], \"inputs\": []}"), Contains("400"));
    CHECK_THAT(status_of("{\"dataframe_records\": []}"), Contains("400"));
    CHECK_THAT(status_of(R"({"dataframe_split": {"columns": ["x1"], "data": [[1, 2]]}})"),
               Contains("422 dataframe_split: row 1 has 2 values, expected 1"));
    CHECK_THAT(status_of(R"({"dataframe_split": {"columns": ["x1"], "data": [[1]]}})"),
               Contains("422 missing column 'x2'"));
    CHECK_THAT(status_of(R"({"dataframe_records": [{"x1": 1, "x2": 2, "flag": true, "color": "red",
                     "size": "L"}, {"x1": "abc", "x2": 2, "flag": true, "color": "red", "size": "L"}]})"),
               Contains("422 column 'x1', row 2: expected a number, got \"abc\""));
    CHECK_THAT(status_of(R"({"dataframe_records": [{"x1": [1], "x2": 2, "flag": true,
                            "color": "red", "size": "L"}]})"),
               Contains("422 column 'x1', row 1: expected a number, got [1]"));
    CHECK_THAT(
        status_of(R"({"inputs": [{"name": "x1", "shape": [2], "data": [1]}]})", Protocol::v2),
        Contains("422 V2 tensor 'x1': shape holds 2 values, data has 1"));
    CHECK_THAT(status_of(R"({"inputs": {"x1": [1, 2], "x2": [1]}})"),
               Contains("422 inputs: column 'x2' has 1 values, others 2"));
    CHECK_THAT(status_of(R"({"dataframe_split": {"columns": ["x1"], "data": []}})"),
               Contains("400 the request has no rows"));
    RequestRows rows;
    CHECK_THROWS_WITH(table_from_csv(mixed().model, "x1,x2\n1,2\n", rows),
                      Contains("missing column 'flag'"));
    CHECK_THROWS_WITH(
        table_from_csv(mixed().model, "x1,x2,flag,color,size\nabc,2,true,red,L\n", rows),
        Contains("column 'x1', row 1: expected a number, got \"abc\""));
    CHECK_THROWS_WITH(table_from_csv(mixed().model, "x1,x2\n\"1,2\n", rows),
                      Contains("the request body"));
    json err = json::parse(error_body(422, "missing column 'x'"));
    CHECK(err["error_code"] == "INVALID_PARAMETER_VALUE");
    CHECK(err["message"] == "missing column 'x'");
}

TEST_CASE("dataframe_split bodies read the same on the fast path and the general one",
          "[scoring]") {
    // The server reads plain dataframe_split bodies without building a JSON document; a body
    // with "params" goes through the general parser. Both must give the same rows (values and
    // JSON types: an integer stays an integer, for categories and the log) or the same error.
    const std::vector<std::string> features = {"a", "b", "c"};
    auto both = [&](const std::string& split) {
        std::string fast = "{\"dataframe_split\": " + split + "}";
        std::string general = "{\"params\": {}, \"dataframe_split\": " + split + "}";
        INFO(split);
        int fast_status = 0, general_status = 0;
        RequestRows f, g;
        try {
            f = parse_json_request(fast, Protocol::mlflow, features);
        } catch (const RequestError& e) {
            fast_status = e.status();
        }
        try {
            g = parse_json_request(general, Protocol::mlflow, features);
        } catch (const RequestError& e) {
            general_status = e.status();
        }
        REQUIRE(fast_status == general_status);
        if (fast_status) return fast_status;
        REQUIRE(f.columns == g.columns);
        REQUIRE(f.rows == g.rows);
        for (size_t c = 0; c < f.columns.size(); ++c)
            for (size_t r = 0; r < f.rows; ++r) {
                CHECK(f.values[c][r].type() == g.values[c][r].type());
                CHECK(f.values[c][r].dump() == g.values[c][r].dump());
            }
        // The fast path keeps the rows' text as sent (when on one line); it must read as the
        // same values as the text written from them.
        CHECK(g.rows_json.empty());
        std::string rf, rg;
        append_rows_json(rf, f);
        append_rows_json(rg, g);
        CHECK(json::parse(rf) == json::parse(rg));
        CHECK(json::parse(rf).size() == f.rows);
        f.rows_json.clear();
        rf.clear();
        append_rows_json(rf, f);
        CHECK(rf == rg);
        return 0;
    };
    CHECK(both(R"({"columns": ["a", "b", "c"], "data": [[1, -2, 3.5], [0, -0, 1e3],
                  [18446744073709551615, 18446744073709551616, -9223372036854775809],
                  [1.5E-3, -0.0, 12345678901234567890123]]})") == 0);
    CHECK(both(R"({"data": [["x\"y\\z\/\n\t", null, true], ["", false, "caf\u00e9"]],
                   "columns": ["a", "b", "c"]})") == 0);
    CHECK(both("{\"columns\":[\"a\",\"b\",\"c\"],\"data\":[[\"\xc3\xa9t\xc3\xa9\",1,2]]}") == 0);
    CHECK(
        both(
            " \n{ \"columns\" : [ \"a\" , \"b\" , \"c\" ] ,\r\n \"data\" : [ [ 1 , 2 , 3 ] ] } ") ==
        0);
    CHECK(both(R"({"columns": ["a", "b", "c"], "data": [[1, 2, 3]], "index": [7]})") == 0);
    RequestRows kept = parse_json_request(
        R"({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2.50, "x"]]}})",
        Protocol::mlflow, features);
    CHECK(kept.rows_json == R"([[1, 2.50, "x"]])");
    RequestRows multiline = parse_json_request(
        "{\"dataframe_split\": {\"columns\": [\"a\", \"b\", \"c\"], \"data\": [[1,\n2, 3]]}}",
        Protocol::mlflow, features);
    CHECK(multiline.rows_json.empty());  // a log record is one line
    // Errors: the fast path gives up and the general parser names the problem.
    CHECK(both(R"({"columns": ["a", "b", "c"], "data": [[1, 2], [1, 2, 3]]})") == 422);
    CHECK(both(R"({"columns": ["a", "b"], "data": [[1, 2, 3]]})") == 422);
    CHECK(both(R"({"columns": ["a", "b", "c"], "data": []})") == 400);
    CHECK(both(R"({"columns": ["a", "b", "c"]})") == 400);
    CHECK(both(R"({"data": [[1, 2, 3]]})") == 422);
    for (const char* number : {"01", "1.", ".5", "-", "1e", "1e+", "+1", "1.e5", "--1", "0x1",
                               "NaN", "Infinity", "1e999"}) {
        std::string split =
            std::string(R"({"columns": ["a", "b", "c"], "data": [[1, 2, )") + number + "]]}";
        CHECK(both(split) == 400);
    }
    CHECK(both("{\"columns\": [\"a\", \"b\", \"c\"], \"data\": [[1, 2, \"\x01\"]]}") == 400);
    CHECK(both("{\"columns\": [\"a\", \"b\", \"c\"], \"data\": [[1, 2, \"\xff\"]]}") == 400);
    CHECK(both(R"({"columns": ["a", "b", "c"], "data": [[1, 2, 3]]} trailing)") == 400);
}
