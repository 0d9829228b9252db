#!/usr/bin/python3
"""Regenerates the learner fixtures: tests/unit/fixtures/{breast_cancer,iris,diabetes,mixed}.csv
and tests/unit/fixtures/learners.json, what scikit-learn fits on them. The unit test
core/test_learner.cpp trains mlo's built-in learners on the same rows and compares, so CI needs
no sklearn; this script is kept to regenerate the fixtures.

Needs numpy and scikit-learn (Debian 12: apt-get install python3-sklearn, which is sklearn
1.2.1, the version the fixtures were made with). Run from anywhere:

    /usr/bin/python3 tests/reference/make_learner_fixtures.py

The CSVs are sklearn's bundled datasets (sklearn/datasets/data/) with a header row, the values
written with their original text, plus a small generated table (mixed.csv) with a boolean and
two categorical features, missing values, and a category that only the test rows have.
Every 4th data row (index % 4 == 3) is a test row, the others train.

Each case fits the model mlo's learner is documented to equal:
  logistic_regression, l2  -> SimpleImputer(mean) + StandardScaler on numeric/boolean columns,
                              SimpleImputer(most_frequent) + OneHotEncoder(handle_unknown=
                              "ignore") on categorical ones (in that column order), then
                              LogisticRegression(C=1/l2, solver="lbfgs", tol=1e-10,
                              max_iter=10000), multinomial for more than two classes
  linear_regression, l2    -> the same preprocessing, then Ridge(alpha=l2) (LinearRegression
                              for l2 = 0)
and stores the coefficients (design-column order), intercepts, the held-out accuracy or R^2 and
the predicted probabilities / values of the test rows. "reference_gradient_max" is the largest
absolute gradient of the objective at sklearn's solution: how far sklearn itself stopped from
the optimum (scipy's L-BFGS-B also stops on a relative decrease of f below 2.2e-9).
Floats are written with repr precision (round-trippable).
"""

import gzip
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "unit", "fixtures"))
DATA = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data")


def is_test(i):
    return i % 4 == 3


def write_csv(name, header, rows):
    with open(os.path.join(FIXTURES, name), "w", newline="") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(r) + "\n")


def number_text(text):
    """A number's text as written in the sklearn file, shortened only where that is exact."""
    v = float(text)
    return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)


# --- datasets ------------------------------------------------------------------------------

def breast_cancer():
    names = [
        "mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness",
        "mean compactness", "mean concavity", "mean concave points", "mean symmetry",
        "mean fractal dimension", "radius error", "texture error", "perimeter error",
        "area error", "smoothness error", "compactness error", "concavity error",
        "concave points error", "symmetry error", "fractal dimension error", "worst radius",
        "worst texture", "worst perimeter", "worst area", "worst smoothness",
        "worst compactness", "worst concavity", "worst concave points", "worst symmetry",
        "worst fractal dimension"]
    with open(os.path.join(DATA, "breast_cancer.csv")) as f:
        lines = f.read().splitlines()
    # The first line is "569,30,malignant,benign": rows, features, then the class names.
    n, p = (int(v) for v in lines[0].split(",")[:2])
    rows = [line.split(",") for line in lines[1:1 + n]]
    assert all(len(r) == p + 1 for r in rows)
    write_csv("breast_cancer.csv", names + ["target"], rows)
    return names, rows


def iris():
    with open(os.path.join(DATA, "iris.csv")) as f:
        lines = f.read().splitlines()
    head = lines[0].split(",")  # "150,4,setosa,versicolor,virginica"
    n, classes = int(head[0]), head[2:]
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    rows = []
    for line in lines[1:1 + n]:
        v = line.split(",")
        rows.append(v[:4] + [classes[int(v[4])]])
    write_csv("iris.csv", names + ["species"], rows)
    return names, rows


def diabetes():
    with gzip.open(os.path.join(DATA, "diabetes_data_raw.csv.gz"), "rt") as f:
        data = [line.split() for line in f.read().splitlines() if line.strip()]
    with gzip.open(os.path.join(DATA, "diabetes_target.csv.gz"), "rt") as f:
        target = [line.strip() for line in f.read().splitlines() if line.strip()]
    assert len(data) == len(target)
    names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    rows = [[number_text(v) for v in d] + [number_text(t)] for d, t in zip(data, target)]
    write_csv("diabetes.csv", names + ["target"], rows)
    return names, rows


def mixed():
    """400 rows: x1 (numeric, missing), x2 (numeric), flag (boolean, missing), color
    (categorical, missing; "purple" only in test rows), size (categorical), and two targets:
    churned (boolean) and spend (numeric)."""
    rng = np.random.default_rng(20240601)
    n = 400
    rows = []
    for i in range(n):
        x1 = rng.normal(5, 2)
        x2 = rng.uniform(-3, 3)
        flag = rng.random() < 0.4
        color = rng.choice(["blue", "green", "red"], p=[0.5, 0.3, 0.2])
        size = rng.choice(["L", "M", "S", "XL"], p=[0.3, 0.35, 0.25, 0.1])
        if is_test(i) and rng.random() < 0.15:
            color = "purple"
        logit = (0.6 * (x1 - 5) - 0.9 * x2 + 0.8 * flag + {"blue": 0, "green": 0.7, "red": -1.0,
                 "purple": 2.0}[color] + {"L": 0.3, "M": 0, "S": -0.4, "XL": 0.9}[size])
        churned = rng.random() < 1 / (1 + np.exp(-logit))
        spend = (3 * x1 - 2 * x2 + 1.5 * flag + {"blue": 0, "green": 4, "red": -3,
                 "purple": 1}[color] + {"L": 1, "M": 0, "S": -1, "XL": 2.5}[size] +
                 rng.normal(0, 2))
        x1t = "%.3f" % x1 if rng.random() >= 0.1 else ""
        flagt = ("true" if flag else "false") if rng.random() >= 0.08 else ""
        colort = color if rng.random() >= 0.1 else "NA"
        rows.append([x1t, "%.3f" % x2, flagt, colort, size, "true" if churned else "false",
                     "%.2f" % spend])
    header = ["x1", "x2", "flag", "color", "size", "churned", "spend"]
    write_csv("mixed.csv", header, rows)
    return header, rows


# --- fitting -------------------------------------------------------------------------------

def missing(text):
    return text.strip() in ("", "NA", "N/A", "NaN", "nan", "null")


def numeric_column(rows, j):
    out = []
    for r in rows:
        t = r[j]
        out.append(np.nan if missing(t) else 1.0 if t == "true" else 0.0 if t == "false"
                   else float(t))
    return np.array(out)


def design(header, rows, numeric, categorical):
    cols = []
    for name in numeric:
        cols.append(numeric_column(rows, header.index(name)).astype(object))
    for name in categorical:
        j = header.index(name)
        cols.append(np.array([np.nan if missing(r[j]) else r[j] for r in rows], dtype=object))
    return np.column_stack(cols)


def preprocessor(numeric, categorical):
    nn = len(numeric)
    parts = [("num", Pipeline([("impute", SimpleImputer(strategy="mean")),
                               ("scale", StandardScaler())]), list(range(nn)))]
    if categorical:
        parts.append(("cat", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]),
            list(range(nn, nn + len(categorical)))))
    return ColumnTransformer(parts)


def design_columns(pre, numeric, categorical):
    out = list(numeric)
    if categorical:
        enc = pre.named_transformers_["cat"].named_steps["onehot"]
        for name, cats in zip(categorical, enc.categories_):
            out += ["%s=%s" % (name, c) for c in cats]
    return out


def logistic_gradient_max(X, y, W, b, l2, sample_weight):
    """max |gradient| of sum_i w_i loss_i + l2/2 ||W||^2 at (W, b)."""
    k = W.shape[0]
    Z = X @ W.T + b
    if k == 1:
        P = (1 / (1 + np.exp(-Z[:, 0])) - y)[:, None]
    else:
        Z = Z - Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=1, keepdims=True)
        P[np.arange(len(y)), y] -= 1
    P *= sample_weight[:, None]
    gw = P.T @ X + l2 * W
    gb = P.sum(axis=0)
    return float(max(np.abs(gw).max(), np.abs(gb).max()))


def split(rows):
    train = [r for i, r in enumerate(rows) if not is_test(i)]
    test = [r for i, r in enumerate(rows) if is_test(i)]
    return train, test


def fit_case(name, data, header, rows, target, numeric, categorical, learner, l2,
             balanced=False, target_kind="numeric"):
    train, test = split(rows)
    pre = preprocessor(numeric, categorical)
    Xtr = pre.fit_transform(design(header, train, numeric, categorical)).astype(float)
    Xte = pre.transform(design(header, test, numeric, categorical)).astype(float)
    t = header.index(target)
    case = {"name": name, "data": data, "learner": learner, "target": target,
            "features": numeric + categorical, "l2": l2, "balanced": balanced,
            "design_columns": design_columns(pre, numeric, categorical)}
    if learner == "logistic_regression":
        if target_kind == "numeric":
            values = sorted({float(r[t]) for r in rows})
            classes = [number_text(repr(v)) for v in values]
            ytr = np.array([values.index(float(r[t])) for r in train])
            yte = np.array([values.index(float(r[t])) for r in test])
        else:  # boolean or categorical: by text ("false" < "true")
            classes = sorted({r[t] for r in rows})
            ytr = np.array([classes.index(r[t]) for r in train])
            yte = np.array([classes.index(r[t]) for r in test])
        model = LogisticRegression(C=1 / l2, solver="lbfgs", tol=1e-10, max_iter=10000,
                                   class_weight="balanced" if balanced else None)
        model.fit(Xtr, ytr)
        proba = model.predict_proba(Xte)
        k = len(classes)
        sw = np.ones(len(ytr))
        if balanced:
            counts = np.bincount(ytr, minlength=k)
            sw = (len(ytr) / (k * counts))[ytr]
        case.update({
            "classes": classes,
            "coefficients": model.coef_.tolist(),
            "intercepts": model.intercept_.tolist(),
            "test_accuracy": float(accuracy_score(yte, np.argmax(proba, axis=1))),
            "test_proba": proba.tolist(),
            "reference_iterations": int(model.n_iter_[0]),
            "reference_gradient_max": logistic_gradient_max(
                Xtr, ytr, model.coef_, model.intercept_, l2, sw),
        })
    else:
        ytr = np.array([float(r[t]) for r in train])
        yte = np.array([float(r[t]) for r in test])
        model = Ridge(alpha=l2) if l2 > 0 else LinearRegression()
        model.fit(Xtr, ytr)
        pred = model.predict(Xte)
        case.update({
            "coefficients": [model.coef_.tolist()],
            "intercepts": [float(model.intercept_)],
            "test_r2": float(r2_score(yte, pred)),
            "test_predictions": pred.tolist(),
        })
    return case


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    bc_names, bc_rows = breast_cancer()
    ir_names, ir_rows = iris()
    db_names, db_rows = diabetes()
    mx_header, mx_rows = mixed()
    bc_header = bc_names + ["target"]
    ir_header = ir_names + ["species"]
    db_header = db_names + ["target"]
    mx_num, mx_cat = ["x1", "x2", "flag"], ["color", "size"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a convergence warning must not go unnoticed
        cases = [
            fit_case("breast_cancer_binary", "breast_cancer.csv", bc_header, bc_rows, "target",
                     bc_names, [], "logistic_regression", 1.0),
            fit_case("breast_cancer_balanced", "breast_cancer.csv", bc_header, bc_rows,
                     "target", bc_names, [], "logistic_regression", 0.5, balanced=True),
            fit_case("iris_multinomial", "iris.csv", ir_header, ir_rows, "species", ir_names,
                     [], "logistic_regression", 0.5, target_kind="categorical"),
            fit_case("mixed_binary", "mixed.csv", mx_header, mx_rows, "churned", mx_num, mx_cat,
                     "logistic_regression", 2.0, target_kind="boolean"),
            fit_case("mixed_balanced", "mixed.csv", mx_header, mx_rows, "churned", mx_num,
                     mx_cat, "logistic_regression", 0.25, balanced=True,
                     target_kind="boolean"),
            fit_case("diabetes_ridge", "diabetes.csv", db_header, db_rows, "target", db_names,
                     [], "linear_regression", 1.0),
            fit_case("diabetes_ols", "diabetes.csv", db_header, db_rows, "target", db_names, [],
                     "linear_regression", 0.0),
            fit_case("mixed_ridge", "mixed.csv", mx_header, mx_rows, "spend", mx_num, mx_cat,
                     "linear_regression", 2.0),
        ]
    doc = {
        "generator": "tests/reference/make_learner_fixtures.py",
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "test_rows": "data rows with index % 4 == 3 (0-based); the others train",
        "cases": cases,
    }
    with open(os.path.join(FIXTURES, "learners.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for c in cases:
        extra = ("iterations %d, gradient max %.3g" % (c["reference_iterations"],
                                                       c["reference_gradient_max"])
                 if "reference_iterations" in c else "")
        score = c.get("test_accuracy", c.get("test_r2"))
        print("%-24s score %.4f %s" % (c["name"], score, extra))


if __name__ == "__main__":
    main()
