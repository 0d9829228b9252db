#!/usr/bin/env python3
"""A scoring worker for `mlo deploy --command "python3 worker.py"`.

mlo starts a few of these (`--workers`, default 2) and keeps them running. Each one loads the
model once, from the file named by MLO_MODEL_PATH, then answers requests forever, one JSON line
in, one JSON line out:

    stdin:  {"id": "<request id>", "columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}
    stdout: {"id": "<same id>", "predictions": [p1, p2]}      one prediction per row
            {"id": "<same id>", "error": "why"}               mlo answers 422 with it

It must flush stdout after every line; anything written to stderr goes to the server's log.

This worker scores mlo's own model file (a logistic or linear regression, docs/model-format.md)
in plain Python, so the example needs nothing installed. To serve another kind of model, keep
main() and replace load_model() / Model.predict() with your framework's loading and scoring.
"""

import json
import math
import os
import re
import sys

MISSING = {"", "NA", "N/A", "NaN", "nan", "null"}
TRUE, FALSE = {"true", "True", "TRUE"}, {"false", "False", "FALSE"}
NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class BadRequest(ValueError):
    pass


def as_number(name, row, v):
    """A numeric feature's value; NaN when missing."""
    if v is None:
        return math.nan
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip(" \t")
        if v in MISSING:
            return math.nan
        if v in TRUE or v in FALSE:
            return 1.0 if v in TRUE else 0.0
        if s.startswith("+"):
            s = s[1:]
        if NUMBER.fullmatch(s) and math.isfinite(float(s)):
            return float(s)
    raise BadRequest("column '%s', row %d: expected a number, got %s" % (name, row + 1, json.dumps(v)))


class Model:
    """mlo's model file: standardise numeric features (missing -> training mean), one-hot the
    categorical ones over the training categories (missing -> most frequent, unknown -> zeros),
    then a linear function per class (sigmoid for two classes, softmax for more)."""

    def __init__(self, doc):
        if doc.get("format") != "mlo-model" or doc.get("format_version", 99) > 1:
            raise ValueError("not an mlo model file (format 1)")
        self.classifier = doc["learner"] == "logistic_regression"
        self.classes = doc.get("classes", [])
        kind = doc.get("target_type")
        # Labels typed like the training target: 0/1 for numbers, true/false, or strings.
        self.labels = [json.loads(c) if kind == "numeric" else (c == "true" if kind == "boolean" else c)
                       for c in self.classes]
        self.features = doc["features"]
        numeric = [f for f in self.features if f["type"] != "categorical"]
        offset = len(numeric)
        for k, f in enumerate(numeric):
            f["offset"] = k
        for f in self.features:
            if f["type"] == "categorical":
                f["offset"] = offset
                f["index"] = {c: k for k, c in enumerate(f["categories"])}
                # Categories matched by value when a client sends numbers (2139 = "02139").
                f["by_value"] = {}
                for k in range(len(f["categories"]) - 1, -1, -1):
                    c = f["categories"][k]
                    if NUMBER.fullmatch(c[1:] if c.startswith("+") else c):
                        f["by_value"][float(c) + 0.0] = k
                offset += len(f["categories"])
        self.width = (offset + 3) // 4 * 4  # padded: four partial sums, as mlo adds them
        self.coef = [row + [0.0] * (self.width - len(row)) for row in doc["coefficients"]]
        self.intercepts = doc["intercepts"]

    def predict(self, columns, data):
        where = {}
        for c, name in enumerate(columns):
            where.setdefault(name, c)
        for r, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(columns):
                raise BadRequest("row %d does not have %d values" % (r + 1, len(columns)))
        x = [[0.0] * self.width for _ in data]
        for f in self.features:
            if f["name"] not in where:
                raise BadRequest("missing column '%s'" % f["name"])
            c, o = where[f["name"]], f["offset"]
            values = [row[c] for row in data]
            if f["type"] != "categorical":
                for r, v in enumerate(values):
                    v = as_number(f["name"], r, v)
                    x[r][o] = ((f["mean"] if v != v else v) - f["mean"]) / f["scale"]
                continue
            given = [v for v in values if v is not None]
            by_value = given and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given)
            for r, v in enumerate(values):
                if by_value:
                    k = f["by_value"].get(float(v) + 0.0, -1) if v is not None else -2
                elif v is None or (isinstance(v, str) and v in MISSING):
                    k = -2
                elif isinstance(v, str):
                    k = f["index"].get(v, -1)
                elif isinstance(v, bool):
                    k = f["index"].get("true" if v else "false", -1)
                else:
                    raise BadRequest("column '%s', row %d: expected a category (a string), got %s"
                                     % (f["name"], r + 1, json.dumps(v)))
                if k == -2:
                    k = f["index"][f["impute"]]
                if k >= 0:
                    x[r][o + k] = 1.0
        out = []
        for xi in x:
            z = []
            for b, w in zip(self.intercepts, self.coef):
                s = [0.0, 0.0, 0.0, 0.0]
                for j in range(0, self.width, 4):
                    for lane in range(4):
                        s[lane] += xi[j + lane] * w[j + lane]
                z.append(b + ((s[0] + s[1]) + (s[2] + s[3])))
            if not self.classifier:
                out.append(z[0])
            elif len(z) == 1:
                e = math.exp(-abs(z[0]))
                p1 = 1 / (1 + e) if z[0] >= 0 else e / (1 + e)
                out.append(self.labels[1 if p1 > 1 - p1 else 0])
            else:
                m = max(z)
                p = [math.exp(v - m) for v in z]
                total = 0.0
                for v in p:
                    total += v
                p = [v / total for v in p]
                out.append(self.labels[p.index(max(p))])  # the lowest class on ties
        return out


def load_model(path):
    if os.path.isdir(path):  # a directory version: the one model file in it
        found = [os.path.join(path, n) for n in sorted(os.listdir(path)) if n.endswith(".json")]
        if len(found) != 1:
            raise ValueError("%s holds %d .json files, expected one" % (path, len(found)))
        path = found[0]
    with open(path, encoding="utf-8") as fh:
        return Model(json.load(fh))


def main():
    path = os.environ.get("MLO_MODEL_PATH")
    if not path:
        sys.exit("worker.py: MLO_MODEL_PATH is not set (mlo deploy sets it)")
    model = load_model(path)
    print("worker %d: serving %s version %s from %s" % (os.getpid(), os.environ.get("MLO_MODEL_NAME", "?"),
                                                      os.environ.get("MLO_MODEL_VERSION", "?"), path),
          file=sys.stderr, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        rid = None
        try:
            request = json.loads(line)
            rid = request.get("id")
            answer = {"id": rid, "predictions": model.predict(request["columns"], request["data"])}
        except BadRequest as e:
            answer = {"id": rid, "error": str(e)}
        except Exception as e:  # a bug or a malformed line: say so, keep serving
            answer = {"id": rid, "error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
