#pragma once

// Scoring requests (issue 6): the bodies `mlo deploy` accepts, turned into the rows a model
// scores, and the predictions turned back into response bodies. Pure functions; the server
// (core/serving.hpp) owns sockets, threads and logs.
//
// Request bodies, as MLflow's scoring server reads them (POST /invocations):
//   {"dataframe_split": {"columns": [...], "data": [[...], ...]}}   ("index" ignored)
//   {"dataframe_records": [{"col": value, ...}, ...]}
//   {"instances": [{"col": value, ...}, ...]}  or  {"instances": [[...], ...]}  (rows in the
//        model's feature order)
//   {"inputs": {"col": [values...], ...}}  or  {"inputs": [...]} (as "instances")
//   text/csv: a header line, then rows (the dialect of core/csv.hpp)
// and the Open Inference Protocol V2 (POST /v2/models/NAME/infer):
//   {"id": "...", "inputs": [{"name": "age", "shape": [n], "datatype": "FP64", "data": [...]},
//                            ...]}                      one tensor per column, or
//   {"inputs": [{"name": "x", "shape": [n, k], "datatype": "FP64", "data": [...]}]}
//        one 2-D tensor whose k columns are the model's features in order.
// Any of these may carry "params": {"proba": true} (MLflow 2's params) to ask for class
// probabilities too.
//
// Values: numbers, true/false, strings and null (missing). For a numeric or boolean feature a
// string that reads as a number (or true/false) is accepted, as are the CSV reader's missing
// spellings (NA, NaN, ...). A categorical feature takes strings, or numbers (matched to the
// training categories by value, as `mlo predict` does).

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "core/learner.hpp"

namespace mlo::core {

// A request the server rejects: the HTTP status and a one-line message for the JSON error
// body. 400 malformed body, 404 unknown model, 413 too large, 415 unsupported content type,
// 422 wrong columns or values (the message names the column), 503 not ready.
class RequestError : public std::runtime_error {
public:
    RequestError(int status, const std::string& message)
        : std::runtime_error(message), status_(status) {}
    int status() const { return status_; }

private:
    int status_;
};

// The rows of a request, column by column, as JSON values (what the command flavour sends to
// its workers, and what the prediction log records).
struct RequestRows {
    std::vector<std::string> columns;
    std::vector<std::vector<nlohmann::json>> values;  // values[column][row]
    size_t rows = 0;
    bool want_proba = false;  // "params": {"proba": true}
    std::string id;           // V2 "id", "" when none
    // The rows as row-major JSON text on one line, when the body held them so (the "data" of
    // a dataframe_split body, copied as sent); "" otherwise. See append_rows_json.
    std::string rows_json;
};

enum class Protocol { mlflow, v2 };

// Parses a JSON body (throws RequestError 400 for malformed JSON or an unknown layout, 422 for
// ragged rows). `features` names the columns of rows given without names ("instances" as
// lists, a V2 2-D tensor); empty when unknown (then such rows are a 422).
RequestRows parse_json_request(std::string_view body, Protocol protocol,
                               const std::vector<std::string>& features);

// A CSV body's rows as JSON values, every column typed as the CSV reader infers it (the
// command flavour: no model schema to type them). 400 when it does not parse or is empty.
RequestRows parse_csv_request(std::string_view body);

// A table for a built-in model from parsed rows: its feature columns, typed for it. Throws
// RequestError 422 "missing column 'age'" or "column 'age', row 3: expected a number, got
// \"abc\"".
Table table_for_model(const Model& m, const RequestRows& rows);
// A CSV body scored by a built-in model (422 for a missing or mistyped column, 400 for CSV
// that does not parse). Fills `rows` (for the log) from the table.
Table table_from_csv(const Model& m, std::string_view body, RequestRows& rows);

// The rows as row-major JSON text, [[v, ...], ...] (the prediction log's "inputs"): rows_json
// when set, else written from the values.
void append_rows_json(std::string& out, const RequestRows& rows);
// The predictions as a JSON list, as in the responses.
std::string predictions_json(const Model& m, const Predictions& p);

// {"predictions": [...]} and, when asked, "probabilities": [[...]] and "classes": [...].
std::string mlflow_response(const Model& m, const Predictions& p, bool proba);
// The V2 response: model_name, model_version, id, outputs ("predictions", and for classifiers
// "probabilities" of shape [n, classes]).
std::string v2_response(const Model& m, const Predictions& p, const std::string& model_name,
                        int64_t version, const std::string& id);

// The same two responses for predictions a command worker returned (already JSON values).
std::string mlflow_response(const nlohmann::json& predictions);
std::string v2_response(const nlohmann::json& predictions, const std::string& model_name,
                        int64_t version, const std::string& id);

// {"error_code": "BAD_REQUEST", "message": "..."} (MLflow's shape; error_code from the status).
std::string error_body(int status, const std::string& message);

}  // namespace mlo::core
