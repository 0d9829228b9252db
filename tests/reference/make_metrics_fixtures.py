#!/usr/bin/python3
"""Regenerates tests/unit/fixtures/metrics.json: fixed prediction vectors and what
scikit-learn's sklearn.metrics computes for them. The unit test core/test_metrics.cpp checks
mlo::core::classification_metrics / regression_metrics against these to 1e-9, so CI needs no
sklearn; this script is kept to regenerate the fixture.

Needs numpy and scikit-learn (Debian 12: apt-get install python3-sklearn, which is sklearn
1.2.1, the version the fixture was made with). Run from anywhere:

    /usr/bin/python3 tests/reference/make_metrics_fixtures.py

Floats are written with repr precision (round-trippable); an undefined value is null.
"""

import json
import math
import os
import re
import warnings

import numpy as np
import sklearn
from sklearn import metrics

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "fixtures",
                   "metrics.json")


def num(x):
    x = float(x)
    return None if math.isnan(x) else x


def classification_case(name, description, y_true, proba, classes):
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    n, k = proba.shape
    assert len(y_true) == n and len(classes) == k
    labels = list(range(k))
    y_pred = np.argmax(proba, axis=1)  # ties: lowest index
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero_division, classes absent from y_true
        p, r, f, _ = metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, zero_division=0)
        pm, rm, fm, _ = metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average="macro", zero_division=0)
        try:
            if k == 2:
                auc = metrics.roc_auc_score(y_true, proba[:, 1])
            else:
                auc = metrics.roc_auc_score(y_true, proba, multi_class="ovr",
                                            average="macro", labels=labels)
        except ValueError:  # a class absent from y_true
            auc = None
        expected = {
            "accuracy": num(metrics.accuracy_score(y_true, y_pred)),
            "balanced_accuracy": num(metrics.balanced_accuracy_score(y_true, y_pred)),
            "precision_macro": num(pm),
            "recall_macro": num(rm),
            "f1_macro": num(fm),
            "log_loss": num(metrics.log_loss(y_true, proba, labels=labels)),
            "roc_auc": None if auc is None else num(auc),
            "precision": [num(v) for v in p],
            "recall": [num(v) for v in r],
            "f1": [num(v) for v in f],
            "confusion": metrics.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        }
    return {
        "name": name,
        "description": description,
        "k": k,
        "classes": classes,
        "y_true": [int(v) for v in y_true],
        "proba": [[float(v) for v in row] for row in proba],
        "expected": expected,
    }


def regression_case(name, description, y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # r2 with one sample
        expected = {
            "rmse": num(math.sqrt(metrics.mean_squared_error(y_true, y_pred))),
            "mae": num(metrics.mean_absolute_error(y_true, y_pred)),
            "r2": num(metrics.r2_score(y_true, y_pred)),
        }
    return {
        "name": name,
        "description": description,
        "y_true": [float(v) for v in y_true],
        "y_pred": [float(v) for v in y_pred],
        "expected": expected,
    }


def quantised_rows(rng, n, k, total):
    """Rows of k integer counts summing to `total`, divided by `total`: many tied scores."""
    rows = np.array([rng.multinomial(total, rng.dirichlet(np.ones(k))) for _ in range(n)])
    return rows / float(total)


def main():
    cls = []

    rng = np.random.RandomState(1)
    n = 40
    y = rng.randint(0, 2, size=n)
    s = np.clip(np.round(0.3 * y + 0.7 * rng.rand(n), 1), 0.0, 1.0)  # one decimal: ties
    s[0], s[1] = 0.5, 1.0  # an argmax tie (goes to class 0) and a certain positive
    proba = np.column_stack([1.0 - s, s])
    cls.append(classification_case(
        "binary_ties", "binary, scores rounded to 0.1 so many are tied, one 0.5/0.5 row",
        y, proba, ["neg", "pos"]))

    rng = np.random.RandomState(2)
    n = 30
    y = rng.randint(0, 2, size=n)
    s = 0.49 * rng.rand(n)  # class 1 is never predicted: precision 0 (zero_division)
    s[0], s[1] = 0.0, 0.0  # p = 0 exactly: log loss clipping
    y[0] = 1
    proba = np.column_stack([1.0 - s, s])
    cls.append(classification_case(
        "binary_never_predicted", "binary, the positive class is never predicted; rows "
        "[1, 0] exactly, one on a true positive (log loss clipping)", y, proba, ["no", "yes"]))

    rng = np.random.RandomState(3)
    n, k = 60, 3
    y = rng.randint(0, k, size=n)
    towards = (y + (rng.rand(n) < 0.3)) % k
    proba = 0.5 * rng.dirichlet(np.ones(k), size=n) + 0.5 * np.eye(k)[towards]
    cls.append(classification_case(
        "multiclass_3", "3 classes, Dirichlet probabilities pulled towards the true class "
        "(30% towards a wrong one)", y, proba, ["setosa", "versicolor", "virginica"]))

    rng = np.random.RandomState(4)
    n, k = 80, 4
    y = rng.choice(k, size=n, p=[0.6, 0.25, 0.1, 0.05])
    proba = quantised_rows(rng, n, k, 20)
    hits = rng.rand(n) < 0.5
    proba[hits] = 0.5 * proba[hits] + 0.5 * np.eye(k)[y[hits]]
    cls.append(classification_case(
        "multiclass_4_imbalanced", "4 classes drawn 60/25/10/5%, probabilities in steps of "
        "1/20 or 1/40 (tied scores)", y, proba, ["a", "b", "c", "d"]))

    rng = np.random.RandomState(5)
    n, k = 25, 3
    y = rng.randint(0, 2, size=n)  # class 2 never occurs in y_true
    proba = rng.dirichlet(np.ones(k), size=n)
    cls.append(classification_case(
        "multiclass_absent_class", "3 classes, class 2 absent from y_true: ROC AUC undefined, "
        "balanced accuracy over classes 0 and 1 only", y, proba, ["x", "y", "z"]))

    reg = []
    rng = np.random.RandomState(6)
    n = 50
    yt = rng.normal(10.0, 3.0, size=n)
    reg.append(regression_case("regression_noise", "targets N(10, 3), predictions with "
                               "N(0.5, 1) errors", yt, yt + rng.normal(0.5, 1.0, size=n)))
    rng = np.random.RandomState(7)
    yt = rng.uniform(-5.0, 5.0, size=n)
    reg.append(regression_case("regression_worse_than_mean", "predictions uncorrelated with "
                               "the targets: negative R^2", yt, rng.uniform(-5.0, 5.0, size=n)))
    reg.append(regression_case("regression_constant_target", "constant y_true, imperfect "
                               "predictions: sklearn gives R^2 = 0.0",
                               [2.0, 2.0, 2.0, 2.0], [1.0, 2.0, 3.0, 2.5]))
    reg.append(regression_case("regression_constant_perfect", "constant y_true predicted "
                               "exactly: R^2 = 1.0", [2.0, 2.0, 2.0], [2.0, 2.0, 2.0]))
    reg.append(regression_case("regression_single", "one sample: R^2 undefined (NaN, null "
                               "here)", [3.0], [1.5]))

    doc = {
        "generator": "tests/reference/make_metrics_fixtures.py",
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "classification": cls,
        "regression": reg,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    text = json.dumps(doc, indent=1)
    # Innermost arrays (of numbers, strings or null) on one line each, to keep the file short.
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]",
                  lambda mo: "[" + re.sub(r",\s+", ", ", mo.group(1)) + "]", text)
    assert json.loads(text) == json.loads(json.dumps(doc))
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print("wrote", os.path.normpath(OUT), "with sklearn", sklearn.__version__)


if __name__ == "__main__":
    main()
