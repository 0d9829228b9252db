#pragma once

// Built-in learners (issue 4): logistic regression (binary and multinomial, L2, L-BFGS) and
// linear regression (ridge, closed form), with the preprocessing that is part of the model.
// The model file format is documented in docs/model-format.md.
//
// Preprocessing, fitted on the training table only:
// - numeric and boolean features: missing values imputed with the training mean, then
//   standardised, (x - mean) / std with the population std (StandardScaler);
// - categorical features: missing values imputed with the most frequent training category,
//   then one-hot encoded over the training categories in sorted (byte) order; a category not
//   seen in training encodes as all zeros (OneHotEncoder(handle_unknown="ignore")). One-hot
//   columns are not standardised.
// The design matrix is [numeric features in `features` order..., one-hot blocks in `features`
// order...] -- see design_columns().
//
// Objectives (intercepts are never penalised), as scikit-learn's:
// - logistic_regression: sum_i w_i * loss_i + (l2 / 2) * ||W||^2, i.e. LogisticRegression with
//   C = 1 / l2. Two classes: one coefficient vector (sigmoid); more: one per class (softmax,
//   multinomial). w_i = 1, or n / (k * n_class) with class_weight: balanced.
// - linear_regression: ||y - Xw - b||^2 + l2 * ||w||^2, i.e. Ridge(alpha = l2); solved in closed
//   form (Cholesky on the centred normal equations).
//
// Classes (classification): the distinct non-missing target values, sorted: numerically for
// numeric targets (named by their shortest round-trip text, "0", "1", "2.5"), "false" < "true"
// for boolean ones, by bytes for categorical ones.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/csv.hpp"
#include "storage/fs.hpp"

namespace mlo::core {

inline constexpr int kModelFormatVersion = 1;

struct TrainOptions {
    std::string learner;                // "logistic_regression" or "linear_regression"
    std::string target;                 // required
    std::vector<std::string> features;  // empty: every column but the target, in header order
    double l2 = 1.0;                    // > 0 for logistic, >= 0 for linear
    int max_iter = 1000;                // L-BFGS iterations (logistic)
    double tol = 1e-6;                  // L-BFGS: stop when max |gradient| <= tol * max(1, |f|)
    bool balanced = false;              // class_weight: balanced (logistic)
    uint64_t seed = 0;                  // recorded; the solvers are deterministic
    unsigned jobs = 0;                  // threads for the loss/gradient; 0 = all cores
    // Recorded in the model's "training" block.
    std::string data_path;    // repository-relative path of the training CSV
    std::string data_object;  // its object id (hex), "" when unknown
};

struct FeatureSpec {
    std::string name;
    ColumnType type = ColumnType::numeric;  // as in the training table
    double mean = 0, scale = 1;             // numeric/boolean: imputation value and std (1 if 0)
    std::vector<std::string> categories;    // categorical: sorted training categories
    std::string impute;                     // categorical: the most frequent category
};

struct Model {
    int format_version = kModelFormatVersion;
    std::string learner;  // "logistic_regression" | "linear_regression"
    std::string target;
    ColumnType target_type = ColumnType::numeric;
    std::vector<std::string> classes;  // classification only
    std::vector<FeatureSpec> features;
    // Rows: 1 for regression and binary classification (the positive class, classes[1]), k for
    // multinomial. Each row has design_width() entries, in design-column order.
    std::vector<std::vector<double>> coef;
    std::vector<double> intercept;  // one per coef row
    nlohmann::json params;          // {"l2", "max_iter", "tol", "class_weight", "seed", ...}
    nlohmann::json training;        // {"data", "data_object", "rows", "iterations",
                                    //  "converged", "loss", "gradient_norm"}; no time,
                                    //  so the same training writes the same bytes

    bool is_classifier() const { return learner == "logistic_regression"; }
    size_t design_width() const;
    // Names of the design columns: "x", or "color=red" for one-hot columns.
    std::vector<std::string> design_columns() const;
};

struct TrainReport {
    int iterations = 0;
    bool converged = true;     // false: max_iter reached first (the model is still written)
    double loss = 0;           // final objective value
    double gradient_norm = 0;  // max |gradient| there (the measure the convergence test uses)
};

// Fits a model. `shown` names the data in errors. Throws mlo::Error (exit 2) for: unknown
// learner or option value, a target or feature column the table does not have, the target
// among the features, missing target values, a classification target with fewer than two
// classes ("only one class ('1') in the target column 'y' of data/train.csv"), a non-numeric
// regression target, a feature column that is constant or entirely missing, a categorical
// feature with more than 1000 categories, or no rows (also: a feature listed twice, no feature
// columns at all, more than 1000 classes).
Model train(const Table& table, const TrainOptions& options, const std::string& shown,
            TrainReport* report = nullptr);

// The model file: one JSON document ("format": "mlo-model", "format_version": 1, ...).
nlohmann::json model_to_json(const Model& m);
// Throws mlo::Error naming `shown` for a document that is not an mlo model, a newer
// format_version ("<shown> was written by a newer mlo (model format 2; this mlo reads up to 1)"),
// a field of the wrong type, a non-finite number, or inconsistent sizes.
Model model_from_json(const nlohmann::json& doc, const std::string& shown);
Model load_model(const fs::path& file, const std::string& shown);

// CSV options for reading data the model will score: the model's categorical features (and a
// categorical target) read as categorical whatever their values look like; columns the file
// lacks are left for predict() / target_classes() to report.
CsvOptions csv_options_for(const Model& m);

struct Predictions {
    size_t rows = 0;
    std::vector<double> values;  // regression: one per row
    std::vector<int> labels;     // classification: predicted class index (argmax, lowest wins)
    std::vector<double> proba;   // classification: rows x classes.size(), row-major
};

// Scores `table`. The model's feature columns must be present (others are ignored); a numeric
// feature that is categorical in `table` is an error naming the column and file; missing values
// are imputed; unknown categories encode as zeros. A categorical feature that `table` read as
// numbers or booleans (not read with csv_options_for) matches categories by value ("02139" =
// 2139, "True" = true). `jobs` as in TrainOptions; results do not depend on it.
Predictions predict(const Model& m, const Table& table, const std::string& shown,
                    unsigned jobs = 0);

// The target column of `table` as class indices of `m.classes` (classification). Throws
// mlo::Error for a missing target column, a missing value, or a label the model does not know
// ("label 'maybe' in column 'y' of data/test.csv is not a class of the model").
std::vector<int> target_classes(const Model& m, const Table& table, const std::string& shown);
// The target column as numbers (regression); missing values are an error.
std::vector<double> target_values(const Model& m, const Table& table, const std::string& shown);

}  // namespace mlo::core
