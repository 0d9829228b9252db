"""Scores an mlo model file (docs/model-format.md) in plain Python: no numpy, no mlo.

The built-in learners' model is one JSON document: logistic_regression (binary or multinomial)
and linear_regression, with their preprocessing (mean imputation and standardisation of
numeric/boolean features; most-frequent imputation and one-hot encoding over the sorted
training categories, an unknown category encoding as zeros). This module applies it the way
mlo does (core/learner.cpp predict(), core/scoring.cpp for JSON values): the same design
matrix, the same summation order (four partial sums, as mlo's dot4), the same sigmoid and
softmax, the lowest class index on ties -- so the class labels equal `mlo predict`'s and
`mlo deploy`'s, and the probabilities agree to the last bit on the same machine.

Used by bench/flask_server.py (the MLflow-style peer of `mlo deploy` in bench/serving.sh).

    model = load("models/churn.json")          # a file, or a directory holding one model
    model.predict(["tenure", "plan"], [[12, "pro"], [None, "team"]])   # -> [0, 1]
    model.predict_records([{"tenure": 12, "plan": "pro"}])
    model.predict_proba(columns, data)         # -> [[p0, p1], ...] in model.classes order

Values: numbers, true/false, strings and None (missing). A numeric or boolean feature also
takes a string that reads as a number or as true/false, and the CSV reader's missing
spellings ("", NA, N/A, NaN, nan, null). A categorical feature takes strings; a column whose
values are all numbers (or all booleans) is matched to the training categories by value
("02139" = 2139), as mlo does. Bad input raises ScoringError with mlo's message
("missing column 'age'", "column 'age', row 3: expected a number, got \"abc\"").

As a script, it scores a CSV file and prints one label per row (for checking against
`mlo predict MODEL --data FILE`, whose output is a header line and one label per row):

    python3 bench/mlo_model.py MODEL.json --data FILE.csv [--proba]
"""

import json
import math
import os
import re
import sys

__all__ = ["Model", "ScoringError", "load"]

MISSING = frozenset(["", "NA", "N/A", "NaN", "nan", "null"])
TRUE_WORDS = frozenset(["true", "True", "TRUE"])
FALSE_WORDS = frozenset(["false", "False", "FALSE"])
# std::from_chars(general): decimal digits with an optional fraction and exponent; mlo also
# allows one leading '+' and surrounding spaces or tabs (no "inf", "nan", hex or '_').
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class ScoringError(ValueError):
    """A request the model cannot score (mlo answers these with HTTP 422)."""


def _number_of(text):
    s = text.strip(" \t")
    if s.startswith("+"):
        s = s[1:]
    if not _NUMBER.fullmatch(s):
        return None
    v = float(s)
    return v if math.isfinite(v) else None


def _parse_number_exact(text):
    # parse_number() of core/csv.cpp: no surrounding blanks; one leading '+'.
    s = text
    if s.startswith("+"):
        s = s[1:]
        if s[:1] in ("+", "-"):
            return None
    if not _NUMBER.fullmatch(s):
        return None
    v = float(s)
    return v if math.isfinite(v) else None


def _shown(v):
    return json.dumps(v, ensure_ascii=False)


def _wrong(name, row, value, expected):
    raise ScoringError("column '%s', row %d: expected %s, got %s" % (name, row + 1, expected, _shown(value)))


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(name, values):
    """A numeric/boolean column: floats, NaN for missing."""
    out = []
    for i, v in enumerate(values):
        if v is None:
            x = math.nan
        elif isinstance(v, bool):
            x = 1.0 if v else 0.0
        elif _is_number(v):
            x = float(v)
        elif isinstance(v, str):
            if v in MISSING:
                x = math.nan
            elif v in TRUE_WORDS:
                x = 1.0
            elif v in FALSE_WORDS:
                x = 0.0
            else:
                x = _number_of(v)
                if x is None:
                    _wrong(name, i, v, "a number")
        else:
            _wrong(name, i, v, "a number")
        out.append(x)
    return out


def _number_text(v):
    """std::to_chars(double): the shortest round-trip digits, in fixed or scientific notation,
    whichever is shorter (fixed on a tie): 2.0 -> "2", 1e8 -> "1e+08", 1e-05 -> "1e-05"."""
    sign = "-" if math.copysign(1.0, v) < 0 else ""
    mant, _, exp = ("%r" % abs(v)).partition("e")
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    # value = 0.digits * 10**point
    point = len(whole) + (int(exp) if exp else 0) - (len(whole + frac) - len((whole + frac).lstrip("0")))
    digits = digits.rstrip("0")
    if not digits:
        return sign + "0"
    if point <= 0:
        fixed = "0." + "0" * -point + digits
    elif point >= len(digits):
        fixed = str(int(abs(v)))  # an integer: all its digits, exactly
    else:
        fixed = digits[:point] + "." + digits[point:]
    e = point - 1
    sci = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + "e" + ("-" if e < 0 else "+") + "%02d" % abs(e)
    return sign + (fixed if len(fixed) <= len(sci) else sci)


class _Feature:
    __slots__ = ("name", "categorical", "mean", "scale", "categories", "index", "impute", "offset", "by_value")

    def __init__(self, doc):
        self.name = doc["name"]
        self.categorical = doc["type"] == "categorical"
        if self.categorical:
            self.categories = list(doc["categories"])
            self.index = {c: k for k, c in enumerate(self.categories)}
            self.impute = self.index[doc["impute"]]
            # For values given as numbers or booleans: category index by value; for equal
            # values the smallest category wins.
            self.by_value = {"number": {}, "boolean": {}}
            for k in range(len(self.categories) - 1, -1, -1):
                c = self.categories[k]
                if c in TRUE_WORDS or c in FALSE_WORDS:
                    self.by_value["boolean"][1.0 if c in TRUE_WORDS else 0.0] = k
                else:
                    v = _parse_number_exact(c)
                    if v is not None:
                        self.by_value["number"][v + 0.0] = k
        else:
            self.mean = float(doc["mean"])
            self.scale = float(doc["scale"])


class Model:
    """A built-in mlo model, read from its JSON document."""

    def __init__(self, doc, shown="the model"):
        if not isinstance(doc, dict) or doc.get("format") != "mlo-model":
            raise ValueError("%s is not an mlo model (no \"format\": \"mlo-model\")" % shown)
        version = doc.get("format_version")
        if not isinstance(version, int) or version > 1:
            raise ValueError("%s was written by a newer mlo (model format %s; this reader reads up to 1)" % (shown, version))
        self.learner = doc["learner"]
        if self.learner not in ("logistic_regression", "linear_regression"):
            raise ValueError("%s: unknown learner %r" % (shown, self.learner))
        self.target = doc.get("target")
        self.target_type = doc.get("target_type", "numeric")
        self.classes = list(doc.get("classes") or [])
        self.features = [_Feature(f) for f in doc["features"]]
        numeric = [f for f in self.features if not f.categorical]
        offset = len(numeric)
        for f in self.features:
            if f.categorical:
                f.offset = offset
                offset += len(f.categories)
        for k, f in enumerate(numeric):
            f.offset = k
        self.width = offset
        self.stride = (offset + 3) // 4 * 4
        self.coefficients = []
        for row in doc["coefficients"]:
            if len(row) != self.width:
                raise ValueError("%s: the coefficients do not fit the features" % shown)
            self.coefficients.append([float(x) for x in row] + [0.0] * (self.stride - self.width))
        self.intercepts = [float(b) for b in doc["intercepts"]]
        if len(self.intercepts) != len(self.coefficients) or not self.coefficients:
            raise ValueError("%s: the intercepts do not fit the coefficients" % shown)
        k = len(self.classes)
        if self.is_classifier and (k < 2 or len(self.coefficients) != (1 if k == 2 else k)):
            raise ValueError("%s: the coefficients do not fit the classes" % shown)
        # The labels as the response gives them: typed like the training target.
        if self.target_type == "numeric":
            self.labels = [json.loads(c) for c in self.classes]
        elif self.target_type == "boolean":
            self.labels = [c == "true" for c in self.classes]
        else:
            self.labels = list(self.classes)
        self.feature_names = [f.name for f in self.features]

    @property
    def is_classifier(self):
        return self.learner == "logistic_regression"

    # ------------------------------------------------------------------ input layouts

    def predict(self, columns, data):
        """Rows as (columns, data): data is a list of rows, each a list in `columns` order."""
        return self._finish(self._scores(self._columns_of_split(columns, data)))

    def predict_records(self, records):
        """Rows as a list of dicts."""
        return self._finish(self._scores(self._columns_of_records(records)))

    def predict_proba(self, columns, data):
        """Class probabilities per row, in `classes` order (classifiers only)."""
        if not self.is_classifier:
            raise ScoringError("a %s model has no classes" % self.learner)
        return [p for p, _ in self._scores(self._columns_of_split(columns, data))]

    def _columns_of_split(self, columns, data):
        if not isinstance(columns, list) or not isinstance(data, list):
            raise ScoringError("dataframe_split needs \"columns\" and \"data\" lists")
        where = {}
        for c, name in enumerate(columns):
            where.setdefault(name, c)
        n = len(columns)
        for r, row in enumerate(data):
            if not isinstance(row, list) or len(row) != n:
                raise ScoringError("row %d has %s values, expected %d" % (r + 1, len(row) if isinstance(row, list) else "no list of", n))
        out = []
        for f in self.features:
            c = where.get(f.name)
            if c is None:
                raise ScoringError("missing column '%s'" % f.name)
            out.append([row[c] for row in data])
        return out, len(data)

    def _columns_of_records(self, records):
        if not isinstance(records, list):
            raise ScoringError("dataframe_records needs a list of objects")
        for r, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise ScoringError("record %d is not an object" % (r + 1))
        out = []
        for f in self.features:
            # A key missing from some records is a missing value there.
            if not any(f.name in rec for rec in records):
                raise ScoringError("missing column '%s'" % f.name)
            out.append([rec.get(f.name) for rec in records])
        return out, len(records)

    # ------------------------------------------------------------------ scoring

    def _category_codes(self, f, values):
        """Model category index per row, -1 for an unknown category."""
        present = [v for v in values if v is not None]
        for i, v in enumerate(values):
            if v is not None and not isinstance(v, (str, int, float)):
                _wrong(f.name, i, v, "a category (a string)")
        if present and (all(_is_number(v) for v in present) or all(isinstance(v, bool) for v in present)):
            kind = "boolean" if isinstance(present[0], bool) else "number"
            table = f.by_value[kind]
            codes = []
            for x in _numbers(f.name, values):
                if math.isnan(x):
                    codes.append(f.impute)
                else:
                    codes.append(table.get(x + 0.0, -1))
            return codes
        codes = []
        for v in values:
            if v is None:
                codes.append(f.impute)
                continue
            if isinstance(v, str):
                text = v
            elif isinstance(v, bool):
                text = "true" if v else "false"
            elif isinstance(v, int):
                text = str(v)
            else:
                text = _number_text(v)
            codes.append(f.impute if text in MISSING else f.index.get(text, -1))
        return codes

    def _scores(self, columns_rows):
        columns, n = columns_rows
        stride = self.stride
        design = [[0.0] * stride for _ in range(n)]
        for f, values in zip(self.features, columns):
            o = f.offset
            if f.categorical:
                for x, k in zip(design, self._category_codes(f, values)):
                    if k >= 0:
                        x[o + k] = 1.0
            else:
                mean, scale = f.mean, f.scale
                for x, v in zip(design, _numbers(f.name, values)):
                    x[o] = ((mean if v != v else v) - mean) / scale
        out = []
        k = len(self.classes) if self.is_classifier else 0
        for x in design:
            z = []
            for b, w in zip(self.intercepts, self.coefficients):
                s0 = s1 = s2 = s3 = 0.0
                for j in range(0, stride, 4):
                    s0 += x[j] * w[j]
                    s1 += x[j + 1] * w[j + 1]
                    s2 += x[j + 2] * w[j + 2]
                    s3 += x[j + 3] * w[j + 3]
                z.append(b + ((s0 + s1) + (s2 + s3)))
            if k == 0:
                out.append((None, z[0]))
                continue
            out.append(class_probabilities(z))
        return out

    def _finish(self, scores):
        if not self.is_classifier:
            return [v for _, v in scores]
        return [self.labels[c] for _, c in scores]


def class_probabilities(z):
    """(probabilities, index of the best class) for one row's linear scores: the sigmoid of
    the one score of a binary model, the softmax of a multinomial one's, as mlo computes them."""
    if len(z) == 1:
        e = math.exp(-abs(z[0]))
        p1 = 1 / (1 + e) if z[0] >= 0 else e / (1 + e)
        p = [1 - p1, p1]
    else:
        m = max(z)
        p = [math.exp(v - m) for v in z]
        s = 0.0
        for v in p:
            s += v
        p = [v / s for v in p]
    best = 0
    for c in range(1, len(p)):
        if p[c] > p[best]:
            best = c
    return p, best


def load(path):
    """The model in `path`: a model file, or a directory holding exactly one (as
    MLO_MODEL_PATH may name a directory version)."""
    if os.path.isdir(path):
        found = []
        for root, _, files in os.walk(path):
            for name in sorted(files):
                if name.endswith(".json"):
                    p = os.path.join(root, name)
                    try:
                        with open(p, encoding="utf-8") as fh:
                            if json.load(fh).get("format") == "mlo-model":
                                found.append(p)
                    except (ValueError, AttributeError, OSError):
                        pass
        if len(found) != 1:
            raise ValueError("%s holds %d mlo model files, expected one" % (path, len(found)))
        path = found[0]
    with open(path, encoding="utf-8") as fh:
        return Model(json.load(fh), path)


def _main(argv):
    import argparse
    import csv

    ap = argparse.ArgumentParser(description="Score a CSV file with an mlo model file.")
    ap.add_argument("model")
    ap.add_argument("--data", required=True)
    ap.add_argument("--proba", action="store_true", help="print the class probabilities too")
    a = ap.parse_args(argv)
    model = load(a.model)
    with open(a.data, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    columns, data = rows[0], [r for r in rows[1:] if r]
    # CSV fields are text: an empty field is missing, as in mlo's reader.
    data = [[None if v == "" else v for v in r] for r in data]
    try:
        scores = model._scores(model._columns_of_split(columns, data))
    except ScoringError as e:
        sys.exit("mlo_model: %s" % e)
    # Class names as the model file spells them ("0", "true", "pro"), as `mlo predict` writes.
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow([model.target] + (["proba_%s" % c for c in model.classes] if a.proba else []))
    for p, v in scores:
        if p is None:
            w.writerow([repr(v)])
        else:
            w.writerow([model.classes[v]] + (["%r" % x for x in p] if a.proba else []))


if __name__ == "__main__":
    _main(sys.argv[1:])
