#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "storage/error.hpp"

namespace mlo::core {

namespace {

// float64 machine epsilon: sklearn 1.2's log_loss clips to [eps, 1 - eps] with
// eps = np.finfo(y_pred.dtype).eps.
constexpr double kEps = std::numeric_limits<double>::epsilon();

double ratio_or_zero(double num, double den) {
    return den == 0 ? 0.0 : num / den;
}

double mean(const std::vector<double>& v) {
    return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

// AUC of "class c against the rest" scored by column c: the Mann-Whitney U statistic over
// P * N, tied scores counting 1/2. Equal to the trapezoid area under sklearn's roc_curve,
// which groups exactly equal scores into one point. nullopt when either side is empty.
std::optional<double> binary_auc(const std::vector<int>& y_true, const std::vector<double>& proba,
                                 size_t k, size_t c) {
    size_t n = y_true.size();
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return proba[a * k + c] < proba[b * k + c]; });
    double negatives_below = 0;  // negatives with a strictly lower score
    double u = 0;
    double positives = 0, negatives = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double pos = 0, neg = 0;
        double score = proba[order[i] * k + c];
        for (; j < n && proba[order[j] * k + c] == score; ++j) {
            if (size_t(y_true[order[j]]) == c)
                pos += 1;
            else
                neg += 1;
        }
        u += pos * negatives_below + 0.5 * pos * neg;
        negatives_below += neg;
        positives += pos;
        negatives += neg;
        i = j;
    }
    if (positives == 0 || negatives == 0) return std::nullopt;
    return u / (positives * negatives);
}

}  // namespace

ClassificationMetrics classification_metrics(const std::vector<int>& y_true,
                                             const std::vector<double>& proba, size_t k,
                                             const std::vector<std::string>& classes) {
    size_t n = y_true.size();
    if (n == 0) throw Error("metrics: no samples");
    if (k < 2) throw Error("metrics: need at least 2 classes, got " + std::to_string(k));
    if (classes.size() != k)
        throw Error("metrics: " + std::to_string(classes.size()) + " class names for " +
                    std::to_string(k) + " classes");
    if (proba.size() != n * k)
        throw Error("metrics: " + std::to_string(proba.size()) + " probabilities for " +
                    std::to_string(n) + " samples of " + std::to_string(k) + " classes");
    for (size_t i = 0; i < n; ++i) {
        if (y_true[i] < 0 || size_t(y_true[i]) >= k)
            throw Error("metrics: class index " + std::to_string(y_true[i]) + " of sample " +
                        std::to_string(i) + " is not in 0.." + std::to_string(k - 1));
        double sum = 0;
        for (size_t c = 0; c < k; ++c) {
            double p = proba[i * k + c];
            if (!std::isfinite(p) || p < 0)
                throw Error("metrics: probability " + std::to_string(p) + " of sample " +
                            std::to_string(i) + " is not a probability");
            sum += p;
        }
        if (std::abs(sum - 1.0) > 1e-6)
            throw Error("metrics: probabilities of sample " + std::to_string(i) + " sum to " +
                        std::to_string(sum) + ", not 1");
    }

    ClassificationMetrics m;
    m.classes = classes;
    m.confusion.assign(k, std::vector<uint64_t>(k, 0));

    double log_loss = 0;
    uint64_t correct = 0;
    for (size_t i = 0; i < n; ++i) {
        const double* row = proba.data() + i * k;
        size_t pred = size_t(std::max_element(row, row + k) - row);  // first maximum
        size_t t = size_t(y_true[i]);
        ++m.confusion[t][pred];
        if (pred == t) ++correct;
        // Clip each probability to [eps, 1 - eps], renormalise the row, as sklearn 1.2.
        double clipped_sum = 0;
        for (size_t c = 0; c < k; ++c)
            clipped_sum += std::clamp(row[c], kEps, 1 - kEps);
        log_loss -= std::log(std::clamp(row[t], kEps, 1 - kEps) / clipped_sum);
    }
    m.accuracy = double(correct) / double(n);
    m.log_loss = log_loss / double(n);

    m.precision.resize(k);
    m.recall.resize(k);
    m.f1.resize(k);
    std::vector<double> present_recall;  // balanced accuracy: classes present in y_true
    for (size_t c = 0; c < k; ++c) {
        double tp = double(m.confusion[c][c]);
        double actual = 0, predicted = 0;
        for (size_t o = 0; o < k; ++o) {
            actual += double(m.confusion[c][o]);
            predicted += double(m.confusion[o][c]);
        }
        double p = ratio_or_zero(tp, predicted);
        double r = ratio_or_zero(tp, actual);
        m.precision[c] = p;
        m.recall[c] = r;
        m.f1[c] = ratio_or_zero(2 * p * r, p + r);  // sklearn: (1 + b^2) p r / (b^2 p + r)
        if (actual > 0) present_recall.push_back(r);
    }
    m.precision_macro = mean(m.precision);
    m.recall_macro = mean(m.recall);
    m.f1_macro = mean(m.f1);
    m.balanced_accuracy = mean(present_recall);

    if (k == 2) {
        m.roc_auc = binary_auc(y_true, proba, k, 1);
    } else {
        double sum = 0;
        bool defined = true;
        for (size_t c = 0; c < k && defined; ++c) {
            std::optional<double> auc = binary_auc(y_true, proba, k, c);
            if (auc)
                sum += *auc;
            else
                defined = false;
        }
        if (defined) m.roc_auc = sum / double(k);
    }
    return m;
}

RegressionMetrics regression_metrics(const std::vector<double>& y_true,
                                     const std::vector<double>& y_pred) {
    size_t n = y_true.size();
    if (n == 0) throw Error("metrics: no samples");
    if (y_pred.size() != n)
        throw Error("metrics: " + std::to_string(y_pred.size()) + " predictions for " +
                    std::to_string(n) + " targets");
    for (size_t i = 0; i < n; ++i)
        if (!std::isfinite(y_true[i]) || !std::isfinite(y_pred[i]))
            throw Error("metrics: sample " + std::to_string(i) + " is not a finite number");

    double ss_res = 0, abs_sum = 0;
    for (size_t i = 0; i < n; ++i) {
        double d = y_true[i] - y_pred[i];
        ss_res += d * d;
        abs_sum += std::abs(d);
    }
    RegressionMetrics m;
    m.rmse = std::sqrt(ss_res / double(n));
    m.mae = abs_sum / double(n);

    if (n < 2) {
        m.r2 = std::numeric_limits<double>::quiet_NaN();  // sklearn: not well-defined
        return m;
    }
    // A constant y_true has SS_tot = 0 exactly, whatever rounding the mean picks up.
    bool constant =
        std::all_of(y_true.begin(), y_true.end(), [&](double v) { return v == y_true[0]; });
    double ss_tot = 0;
    if (!constant) {
        double avg = mean(y_true);
        for (double v : y_true)
            ss_tot += (v - avg) * (v - avg);
    }
    if (ss_res == 0)
        m.r2 = 1.0;
    else if (ss_tot == 0)
        m.r2 = 0.0;
    else
        m.r2 = 1.0 - ss_res / ss_tot;
    return m;
}

nlohmann::json to_json(const ClassificationMetrics& m) {
    nlohmann::json j = nlohmann::json::object();
    j["accuracy"] = m.accuracy;
    j["balanced_accuracy"] = m.balanced_accuracy;
    j["precision_macro"] = m.precision_macro;
    j["recall_macro"] = m.recall_macro;
    j["f1_macro"] = m.f1_macro;
    j["log_loss"] = m.log_loss;
    if (m.roc_auc) j["roc_auc"] = *m.roc_auc;
    for (size_t c = 0; c < m.classes.size(); ++c) {
        const std::string& name = m.classes[c];
        if (c < m.precision.size()) j["precision." + name] = m.precision[c];
        if (c < m.recall.size()) j["recall." + name] = m.recall[c];
        if (c < m.f1.size()) j["f1." + name] = m.f1[c];
    }
    for (size_t t = 0; t < m.confusion.size() && t < m.classes.size(); ++t)
        for (size_t p = 0; p < m.confusion[t].size() && p < m.classes.size(); ++p)
            j["confusion." + m.classes[t] + "." + m.classes[p]] = m.confusion[t][p];
    return j;
}

nlohmann::json to_json(const RegressionMetrics& m) {
    nlohmann::json j = nlohmann::json::object();
    j["rmse"] = m.rmse;
    j["mae"] = m.mae;
    if (!std::isnan(m.r2)) j["r2"] = m.r2;
    return j;
}

}  // namespace mlo::core
