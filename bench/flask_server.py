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
and a 60 s timeout, the app found through an environment variable
(gunicorn --timeout=60 -b HOST:PORT -w 1 flask_server:app, MLO_MODEL_PATH naming the model),
or, when gunicorn is not installed for this Python, Flask's built-in threaded server.

Scoring is bench/mlo_model.py (plain Python, the same labels as mlo). Unlike MLflow, no pandas
DataFrame is built per request, so this peer does less work per request than MLflow would.

    /usr/bin/python3 bench/flask_server.py MODEL.json [--host H] [--port N]
                                           [--server auto|gunicorn|flask] [--workers N]

Prints "serving with gunicorn (1 sync worker)" or "serving with flask (threaded)" on stderr.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mlo_model  # noqa: E402

from flask import Flask, Response, request  # noqa: E402


def _error(status, message):
    code = {400: "BAD_REQUEST", 415: "BAD_REQUEST", 500: "INTERNAL_ERROR"}.get(status, "BAD_REQUEST")
    return Response(json.dumps({"error_code": code, "message": message}), status=status,
                    mimetype="application/json")


def create_app(model_path):
    model = mlo_model.load(model_path)
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
                split = doc["dataframe_split"]
                if not isinstance(split, dict):
                    raise mlo_model.ScoringError("dataframe_split must be an object")
                predictions = model.predict(split.get("columns"), split.get("data"))
            else:
                predictions = model.predict_records(doc["dataframe_records"])
        except mlo_model.ScoringError as e:
            return _error(400, str(e))
        return Response(json.dumps({"predictions": predictions}), status=200,
                        mimetype="application/json")

    return app


# For gunicorn (`flask_server:app`), as MLflow's scoring_server/wsgi.py builds its app from an
# environment variable.
app = create_app(os.environ["MLO_MODEL_PATH"]) if "MLO_MODEL_PATH" in os.environ else None


def _have_gunicorn():
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="an mlo model file (or a directory holding one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--server", choices=["auto", "gunicorn", "flask"], default="auto")
    ap.add_argument("--workers", type=int, default=1, help="gunicorn workers (MLflow's default: 1)")
    a = ap.parse_args(argv)
    server = a.server
    if server == "auto":
        server = "gunicorn" if _have_gunicorn() else "flask"
    model_path = os.path.abspath(a.model)
    mlo_model.load(model_path)  # fail here, with a clear message, rather than in a worker
    if server == "gunicorn":
        if not _have_gunicorn():
            sys.exit("flask_server: gunicorn is not installed for %s" % sys.executable)
        print("serving with gunicorn (%d sync worker%s)" % (a.workers, "" if a.workers == 1 else "s"),
              file=sys.stderr, flush=True)
        env = dict(os.environ, MLO_MODEL_PATH=model_path)
        here = os.path.dirname(os.path.abspath(__file__))
        # exec: the server keeps this process id (the gunicorn master; its worker is a child).
        os.execve(sys.executable, [sys.executable, "-m", "gunicorn", "--timeout=60",
                                   "-b", "%s:%d" % (a.host, a.port), "-w", str(a.workers),
                                   "--chdir", here, "--", "flask_server:app"], env)
    print("serving with flask (threaded)", file=sys.stderr, flush=True)
    # No access log line per request (gunicorn, like MLflow's default, writes none either).
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    create_app(model_path).run(host=a.host, port=a.port, threaded=True)


if __name__ == "__main__":
    main(sys.argv[1:])
