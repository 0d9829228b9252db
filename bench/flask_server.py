"""An MLflow-style scoring server for an mlo model file: the Flask peer of `mlo deploy` in
bench/serving.sh.

It answers like MLflow's classic pyfunc scoring server (mlflow/pyfunc/scoring_server):

    GET  /ping          200 (empty body)
    POST /invocations   Content-Type: application/json, one of
                          {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
                          {"dataframe_records": [{"col": value, ...}, ...]}
                        -> 200 {"predictions": [...]}
                        400 {"error_code": "BAD_REQUEST", "message": "..."} for a body it
                        cannot score, 415 for another content type

and is started the way MLflow starts it (`mlflow models serve`): gunicorn with one sync worker
and a 60 s timeout, the app found through environment variables
(gunicorn --timeout=60 -b HOST:PORT -w 1 flask_server:app, MLO_MODEL_PATH naming the model,
MLO_SCORING_MODE the mode), or, when gunicorn is not installed for this Python, Flask's
built-in threaded server.

Two scoring modes; both answer with the labels of `mlo predict` and `mlo deploy`:

--mode mlflow (the default) does per request what MLflow's server does for a scikit-learn
  model: json.loads of the body; a pandas DataFrame built from it (`dataframe_split` as
  pd.DataFrame(data=..., columns=..., index=...), `dataframe_records` as pd.DataFrame(data=...));
  the input schema enforced on it (every feature column of the model file present, selected in
  the model's order, numeric columns cast with astype("float64") and categorical ones with
  astype(object)); the model applied with numpy on whole columns (mean imputation and
  standardisation, one-hot encoding through a pandas Index of the training categories, the
  linear scores, sigmoid or softmax); the predictions serialised with json.dumps of a list.
  What MLflow does that this does not: it builds no ModelSignature/Schema objects and runs no
  MLflow type checks beyond the casts (MLflow rejects, for instance, numbers in a string
  column and strings in a double column; here values that the fast casts do not cover --
  strings in a numeric column, numbers in a categorical one -- are read by mlo's rules in
  plain Python, so the labels stay mlo's); it imports no mlflow (so less memory), goes
  through no scikit-learn Pipeline (no check_array, feature-name checks or ColumnTransformer
  bookkeeping) and uses json.dumps rather than MLflow's NumpyEncoder. It therefore still does
  somewhat less per request than MLflow itself.
  Exactness: the linear scores are summed in mlo's order (four partial sums, as mlo's dot4),
  vectorised over the rows, so they equal mlo's to the bit; numpy's exp may differ from the C
  library's in the last bit, which can only change a label when two classes are within a
  rounding error of a tie, so those rows (|score| or the gap between the two best scores
  below 1e-6) are decided again with math.exp exactly as bench/mlo_model.py does.

--mode python scores with bench/mlo_model.py in plain Python and builds no DataFrame: less
  work per request than MLflow.

    /usr/bin/python3 bench/flask_server.py MODEL.json [--mode mlflow|python] [--host H]
                                           [--port N] [--server auto|gunicorn|flask]
                                           [--workers N]

Prints "serving with gunicorn (1 sync worker), scoring mode mlflow" (or "serving with flask
(threaded), ...") on stderr.
"""

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mlo_model  # noqa: E402

from flask import Flask, Response, request  # noqa: E402

MODES = ("mlflow", "python")
# Below this |score| (binary) or gap between the two best scores (multinomial) a label is
# decided with math.exp, as mlo_model does, rather than numpy's exp (see the docstring).
_NEAR_TIE = 1e-6


def _error(status, message):
    code = {400: "BAD_REQUEST", 415: "BAD_REQUEST", 500: "INTERNAL_ERROR"}.get(status, "BAD_REQUEST")
    return Response(json.dumps({"error_code": code, "message": message}), status=status,
                    mimetype="application/json")


class _PlainScorer:
    """--mode python: mlo_model on the parsed JSON."""

    def __init__(self, model):
        self.model = model

    def split(self, split):
        if not isinstance(split, dict):
            raise mlo_model.ScoringError("dataframe_split must be an object")
        return self.model.predict(split.get("columns"), split.get("data"))

    def records(self, records):
        return self.model.predict_records(records)


class _PandasScorer:
    """--mode mlflow: a DataFrame per request, the schema enforced on it, numpy scoring."""

    def __init__(self, model):
        import numpy as np
        import pandas as pd

        self.np, self.pd, self.model = np, pd, model
        self.indexes = {f.name: pd.Index(f.categories, dtype=object)
                        for f in model.features if f.categorical}
        self.missing = sorted(mlo_model.MISSING)
        m = model.stride // 4
        # Coefficients as (outputs, blocks of 4, 4): block t lane l is feature 4t+l, mlo's dot4.
        self.weights = np.array(model.coefficients, dtype=np.float64).reshape(len(model.coefficients), m, 4)
        self.intercepts = np.array(model.intercepts, dtype=np.float64)
        self.labels = np.array(model.labels, dtype=object)  # each label keeps its JSON type

    # ------------------------------------------------------------------ request -> DataFrame
    def split(self, split):
        if not isinstance(split, dict):
            raise mlo_model.ScoringError("dataframe_split must be an object")
        frame = self.pd.DataFrame(index=split.get("index"), data=split.get("data"), columns=split.get("columns"))
        return self.predict(frame)

    def records(self, records):
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise mlo_model.ScoringError("dataframe_records needs a list of objects")
        return self.predict(self.pd.DataFrame(data=records))

    def enforce_schema(self, frame):
        """A new frame of the feature columns in the model's order, numeric ones float64,
        categorical ones object, built column by column as MLflow's _enforce_named_col_schema
        does (a duplicated column name: its first column, as mlo reads it)."""
        if frame.columns.has_duplicates:
            frame = frame.loc[:, ~frame.columns.duplicated()]
        missing = [n for n in self.model.feature_names if n not in frame.columns]
        if missing:
            raise mlo_model.ScoringError("Model is missing inputs %s." % missing)
        infer = self.pd.api.types.infer_dtype
        out = self.pd.DataFrame(index=frame.index)
        for f in self.model.features:
            col = frame[f.name]
            if f.categorical:
                out[f.name] = col.astype(object)
            elif infer(col, skipna=True) in ("floating", "integer", "mixed-integer-float", "boolean", "empty"):
                out[f.name] = col.astype("float64")
            else:  # strings (or a mix): mlo's reading ("12", "NA", "true"), in plain Python
                out[f.name] = mlo_model._numbers(f.name, col.tolist())
        return out

    # ------------------------------------------------------------------ DataFrame -> labels
    def _codes(self, f, col):
        """Category index per row, -1 for an unknown category, the imputed one for missing."""
        np = self.np
        if self.pd.api.types.infer_dtype(col, skipna=True) not in ("string", "empty"):
            # Numbers or booleans in a categorical column: matched by value, as mlo does.
            return np.array(self.model._category_codes(f, col.tolist()), dtype=np.int64)
        codes = self.indexes[f.name].get_indexer(col)
        codes[(col.isna() | col.isin(self.missing)).to_numpy()] = f.impute
        return codes

    def predict(self, frame):
        np = self.np
        frame = self.enforce_schema(frame)
        n = len(frame)
        model = self.model
        x = np.zeros((n, model.stride), dtype=np.float64)
        rows = np.arange(n)
        for f in model.features:
            col = frame[f.name]
            if f.categorical:
                codes = self._codes(f, col)
                known = codes >= 0
                x[rows[known], f.offset + codes[known]] = 1.0
            else:
                v = col.to_numpy(dtype=np.float64)
                x[:, f.offset] = (np.where(np.isnan(v), f.mean, v) - f.mean) / f.scale
        # z[i, o] = b[o] + ((s0 + s1) + (s2 + s3)), s_l summed over the blocks in order.
        products = x.reshape(n, 1, model.stride // 4, 4) * self.weights  # (rows, outputs, blocks, 4)
        s = np.zeros((n, len(self.intercepts), 4), dtype=np.float64)
        for t in range(products.shape[2]):
            s += products[:, :, t, :]
        z = self.intercepts + ((s[:, :, 0] + s[:, :, 1]) + (s[:, :, 2] + s[:, :, 3]))
        if not model.is_classifier:
            return z[:, 0].tolist()
        return self.labels[self._classes(z)].tolist()

    def _classes(self, z):
        np = self.np
        if z.shape[1] == 1:  # binary: mlo_model's sigmoid, then the lowest class on a tie
            z = z[:, 0]
            e = np.exp(-np.abs(z))
            p1 = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
            best = (p1 > 1 - p1).astype(np.int64)
            near = np.abs(z) < _NEAR_TIE
        else:
            p = np.exp(z - z.max(axis=1, keepdims=True))
            total = np.zeros(len(z))
            for c in range(p.shape[1]):  # summed in class order, as mlo does
                total += p[:, c]
            best = np.argmax(p / total[:, None], axis=1)  # the first of equal maxima
            top2 = np.sort(z, axis=1)[:, -2:]
            near = (top2[:, 1] - top2[:, 0] < _NEAR_TIE) & (top2[:, 1] != top2[:, 0])
        for i in np.flatnonzero(near):
            best[i] = mlo_model.class_probabilities(z[i].tolist() if z.ndim == 2 else [float(z[i])])[1]
        return best


def create_app(model_path, mode="mlflow"):
    model = mlo_model.load(model_path)
    scorer = _PandasScorer(model) if mode == "mlflow" else _PlainScorer(model)
    app = Flask(__name__)

    @app.route("/ping", methods=["GET"])
    @app.route("/health", methods=["GET"])
    def ping():
        return Response(response="\n", status=200, mimetype="application/json")

    @app.route("/invocations", methods=["POST"])
    def invocations():
        ctype = (request.content_type or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return _error(415, "This predictor only supports the following content types: "
                               "['application/json']. Got '%s'." % (request.content_type or ""))
        try:
            doc = json.loads(request.get_data())
        except ValueError as e:
            return _error(400, "Failed to parse input as JSON: %s" % e)
        if not isinstance(doc, dict):
            return _error(400, "The input must be a JSON dictionary")
        keys = [k for k in ("dataframe_split", "dataframe_records") if k in doc]
        if len(keys) != 1:
            return _error(400, "The input must be a JSON dictionary with exactly one of the input "
                               "fields {'dataframe_split', 'dataframe_records'}")
        try:
            if keys[0] == "dataframe_split":
                predictions = scorer.split(doc["dataframe_split"])
            else:
                predictions = scorer.records(doc["dataframe_records"])
        except (ValueError, TypeError) as e:  # ScoringError, and pandas' complaints about the frame
            return _error(400, str(e))
        return Response(json.dumps({"predictions": predictions}), status=200,
                        mimetype="application/json")

    return app


# For gunicorn (`flask_server:app`), as MLflow's scoring_server/wsgi.py builds its app from an
# environment variable.
app = (create_app(os.environ["MLO_MODEL_PATH"], os.environ.get("MLO_SCORING_MODE", "mlflow"))
       if "MLO_MODEL_PATH" in os.environ else None)


def _importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="an mlo model file (or a directory holding one)")
    ap.add_argument("--mode", choices=MODES, default="mlflow",
                    help="mlflow: a pandas DataFrame per request, numpy scoring (default); "
                         "python: plain Python, no DataFrame")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--server", choices=["auto", "gunicorn", "flask"], default="auto")
    ap.add_argument("--workers", type=int, default=1, help="gunicorn workers (MLflow's default: 1)")
    a = ap.parse_args(argv)
    server = a.server
    if server == "auto":
        server = "gunicorn" if _importable("gunicorn") else "flask"
    if a.mode == "mlflow" and not (_importable("pandas") and _importable("numpy")):
        sys.exit("flask_server: --mode mlflow needs pandas and numpy for %s (apt-get install "
                 "python3-pandas); --mode python needs neither" % sys.executable)
    model_path = os.path.abspath(a.model)
    mlo_model.load(model_path)  # fail here, with a clear message, rather than in a worker
    if server == "gunicorn":
        if not _importable("gunicorn"):
            sys.exit("flask_server: gunicorn is not installed for %s" % sys.executable)
        print("serving with gunicorn (%d sync worker%s), scoring mode %s"
              % (a.workers, "" if a.workers == 1 else "s", a.mode), file=sys.stderr, flush=True)
        env = dict(os.environ, MLO_MODEL_PATH=model_path, MLO_SCORING_MODE=a.mode)
        here = os.path.dirname(os.path.abspath(__file__))
        # exec: the server keeps this process id (the gunicorn master; its worker is a child).
        os.execve(sys.executable, [sys.executable, "-m", "gunicorn", "--timeout=60",
                                   "-b", "%s:%d" % (a.host, a.port), "-w", str(a.workers),
                                   "--chdir", here, "--", "flask_server:app"], env)
    print("serving with flask (threaded), scoring mode %s" % a.mode, file=sys.stderr, flush=True)
    # No access log line per request (gunicorn, like MLflow's default, writes none either).
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    create_app(model_path, a.mode).run(host=a.host, port=a.port, threaded=True)


if __name__ == "__main__":
    main(sys.argv[1:])
