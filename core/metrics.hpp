#pragma once

// Evaluation metrics for the built-in learners. Every number matches scikit-learn 1.2.1 (the
// version Debian 12 ships) to 1e-9 on the fixtures in tests/unit/fixtures/metrics.json, which
// tests/reference/make_metrics_fixtures.py regenerates:
//
//   accuracy           accuracy_score
//   balanced_accuracy  balanced_accuracy_score: mean recall over the classes present in y_true
//   precision, recall, f1 (per class and macro)
//                      precision_recall_fscore_support(labels=range(k), zero_division=0): a
//                      class with no predicted (precision) or no true (recall) samples scores 0,
//                      and F1 is 0 where precision + recall = 0; the macro value averages over
//                      all k classes, so a class absent from both y_true and y_pred counts as 0
//   log_loss           log_loss(labels=range(k)): probabilities clipped to [eps, 1 - eps] with
//                      eps = 2.220446049250313e-16 (float64 machine epsilon), rows renormalised,
//                      then the mean of -log p[true class]
//   roc_auc            binary (k = 2): roc_auc_score(y_true, proba[:, 1]); k > 2:
//                      roc_auc_score(multi_class="ovr", average="macro"), the mean of the k
//                      one-vs-rest AUCs. Computed exactly (Mann-Whitney U with tied scores
//                      counted as 1/2, the same as the trapezoid under sklearn's roc_curve).
//                      Undefined (nullopt) when a class is absent from y_true, where sklearn
//                      raises
//   confusion          confusion_matrix(labels=range(k)), [true][predicted]
//   rmse, mae          sqrt(mean_squared_error), mean_absolute_error
//   r2                 r2_score (force_finite=True): 1 - SS_res / SS_tot; 1.0 when SS_res = 0
//                      (even if SS_tot = 0), 0.0 when SS_res != 0 and SS_tot = 0 (constant
//                      y_true), and NaN for a single sample, as sklearn (which also warns)
//
// The predicted class of a row is its argmax, ties going to the lowest index (np.argmax).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlo::core {

struct ClassificationMetrics {
    std::vector<std::string> classes;  // label names, in the order given (index = class)
    double accuracy = 0;
    double balanced_accuracy = 0;
    double precision_macro = 0;
    double recall_macro = 0;
    double f1_macro = 0;
    double log_loss = 0;
    std::optional<double> roc_auc;  // nullopt when undefined (a class absent from y_true)
    std::vector<double> precision, recall, f1;     // per class
    std::vector<std::vector<uint64_t>> confusion;  // [true][predicted], k x k
};

// y_true: class indices 0..k-1, one per row; proba: n x k row-major probabilities (each row
// non-negative, summing to 1 within 1e-6); classes: k names. Throws mlo::Error for empty input,
// k < 2, mismatched sizes, a class index out of range, or a probability that is negative, not
// finite, or in a row that does not sum to 1.
ClassificationMetrics classification_metrics(const std::vector<int>& y_true,
                                             const std::vector<double>& proba, size_t k,
                                             const std::vector<std::string>& classes);

struct RegressionMetrics {
    double rmse = 0;
    double mae = 0;
    double r2 = 0;
};

// Throws mlo::Error for empty input, mismatched sizes or a value that is not finite.
RegressionMetrics regression_metrics(const std::vector<double>& y_true,
                                     const std::vector<double>& y_pred);

// Flat objects for a run's metrics file:
//   {"accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
//    "log_loss", "roc_auc" (left out when undefined), "precision.<class>", "recall.<class>",
//    "f1.<class>", "confusion.<true>.<pred>" (counts)}
//   {"rmse", "mae", "r2" (left out when NaN)}
nlohmann::json to_json(const ClassificationMetrics& m);
nlohmann::json to_json(const RegressionMetrics& m);

}  // namespace mlo::core
