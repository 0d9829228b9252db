"""Data generator and SciPy peer for bench/monitor.sh (issue 7).

  monitor_scipy.py gen ROWS DIR
      Writes DIR/ref.csv and DIR/cur.csv (fixed seed): a header, ROWS rows, 20 numeric columns
      x01..x20 (normal, lognormal, uniform and integer-valued, a few missing values written as
      empty fields) and 5 categorical columns c1..c5 (3, 5, 10, 20 and 30 weighted string
      categories; cur.csv's c5 also has one category the reference never had). cur.csv is
      shifted in 13 of the 25 columns (mean shift, scale change, category weights); prints
      their names, one a line, on stdout.

  monitor_scipy.py peer REF CUR [--categorical c1,c2,...]
      What a user would write with pandas and SciPy: pandas.read_csv of both files, then
      scipy.stats.ks_2samp(ref.dropna(), cur.dropna()) for each numeric column (drifted when
      p <= 0.05), and for each categorical column the shares of each category over the union of
      both sides' categories and scipy.spatial.distance.jensenshannon(ref_shares, cur_shares)
      (natural log; drifted when >= 0.1). Categorical columns: --categorical, else the columns
      pandas reads as strings. Prints JSON on stdout: per-column results, and the seconds spent
      reading (read_s) and in the statistics alone (stats_s, shares included).

Needs numpy (gen), and pandas and scipy (peer): Debian python3-numpy, python3-pandas,
python3-scipy.
"""
import json
import sys
import time

KS_ALPHA = 0.05
JS_THRESHOLD = 0.1


def weights(k, power=1.0):
    """Zipf-like weights of k categories, summing to 1."""
    import numpy as np

    w = 1.0 / np.arange(1, k + 1) ** power
    return w / w.sum()


def columns(rng, n, cur):
    """The 25 columns of one file, as (name, values, decimals or None for strings/ints).

    cur=True draws the current data: the columns marked shifted get a different distribution.
    Returns the columns and the names of the shifted ones."""
    import numpy as np

    cols = []
    shifted = []

    def num(name, ref_draw, cur_draw=None, decimals=4, missing=0.0, integer=False):
        draw = cur_draw if (cur and cur_draw is not None) else ref_draw
        if cur_draw is not None:
            shifted.append(name)
        v = draw().astype(float)
        v = v if integer else np.round(v, decimals)
        if missing > 0:
            v[rng.random(n) < missing] = np.nan
        cols.append((name, v, None if integer else decimals))

    def ints(k, p):
        return rng.choice(k, size=n, p=np.asarray(p) / np.sum(p))

    num("x01", lambda: rng.normal(0, 1, n), lambda: rng.normal(0.5, 1, n))  # mean shift
    num("x02", lambda: rng.normal(50, 10, n), lambda: rng.normal(50, 15, n), 3)  # scale change
    num("x03", lambda: rng.normal(-3, 2, n))
    num("x04", lambda: rng.normal(100, 15, n), decimals=2, missing=0.01)
    num("x05", lambda: rng.normal(0, 0.01, n), lambda: rng.normal(0.004, 0.01, n), 6)
    num("x06", lambda: rng.normal(5, 1, n))
    num("x07", lambda: rng.lognormal(0, 0.5, n), lambda: rng.lognormal(0, 0.8, n))
    num("x08", lambda: rng.lognormal(3, 1, n), decimals=2)
    num("x09", lambda: rng.lognormal(1, 0.3, n), lambda: 1.3 * rng.lognormal(1, 0.3, n))
    num("x10", lambda: rng.lognormal(0, 1, n), missing=0.05 if cur else 0.02)  # only more missing
    num("x11", lambda: rng.uniform(0, 1, n), lambda: rng.uniform(0.2, 1.2, n))
    num("x12", lambda: rng.uniform(-10, 10, n), decimals=3)
    num("x13", lambda: rng.uniform(0, 100, n), lambda: rng.uniform(0, 70, n), 3)
    num("x14", lambda: rng.uniform(0, 1, n), missing=0.005)
    num("x15", lambda: ints(5, [40, 30, 15, 10, 5]), lambda: ints(5, [15, 20, 30, 20, 15]), integer=True)
    num("x16", lambda: ints(5, [1, 1, 1, 1, 1]), integer=True)
    num("x17", lambda: ints(3, [5, 3, 2]), integer=True, missing=0.01)
    num("x18", lambda: rng.poisson(3, n), lambda: rng.poisson(4, n), integer=True)
    num("x19", lambda: rng.poisson(10, n), integer=True, missing=0.01)
    num("x20", lambda: rng.integers(0, 100, n), lambda: rng.integers(10, 110, n), integer=True)

    def cat(name, levels, ref_p, cur_p=None):
        p = cur_p if (cur and cur_p is not None) else ref_p
        if cur_p is not None:
            shifted.append(name)
        levels = np.asarray(levels)
        p = np.asarray(p, float)
        cols.append((name, levels[rng.choice(len(levels), size=n, p=p / p.sum())], None))

    cat("c1", ["basic", "plus", "pro"], [60, 30, 10], [35, 40, 25])
    cat("c2", ["north", "south", "east", "west", "central"], [30, 25, 20, 15, 10])
    devices = ["android", "ios", "windows", "macos", "linux", "tablet", "tv", "console", "watch", "other"]
    cat("c3", devices, weights(10), weights(10)[::-1])
    countries = "DE FR GB IT ES NL BE PL SE AT CH DK NO FI IE PT CZ HU RO GR".split()
    cat("c4", countries, weights(20, 0.8))
    # c5: 30 products in the reference; the current data moves weight to the tail and brings a
    # new product (p30) that the reference never had.
    products = ["p%02d" % i for i in range(31)]
    ref5 = np.append(weights(30), 0.0)
    cur5 = np.append(np.roll(weights(30), 10), 0.03)
    cat("c5", products, ref5, cur5)
    return cols, shifted


def write_csv(path, cols):
    """Writes the columns as CSV with pandas (fast: no Python call per value). The floats were
    rounded, so their shortest repr is short ("0.1235"); missing values are empty fields."""
    import pandas as pd

    text = {}
    for name, v, decimals in cols:
        if decimals is None and v.dtype.kind == "f":  # integer-valued, NaN for missing
            text[name] = pd.Series(v).astype("Int64")
        else:  # rounded floats (written as their shortest repr) or strings
            text[name] = pd.Series(v)
    pd.DataFrame(text).to_csv(path, index=False, na_rep="", lineterminator="\n")


def gen(rows, outdir):
    import os

    import numpy as np

    rng = np.random.default_rng(20261128)
    shifted = None
    for name, cur in (("ref.csv", False), ("cur.csv", True)):
        cols, s = columns(rng, rows, cur)
        shifted = s
        write_csv(os.path.join(outdir, name), cols)
    print("\n".join(shifted))


def peer(ref_path, cur_path, categorical):
    t0 = time.perf_counter()
    import pandas as pd
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp

    t1 = time.perf_counter()
    ref = pd.read_csv(ref_path)
    cur = pd.read_csv(cur_path)
    t2 = time.perf_counter()
    if categorical is None:
        categorical = [c for c in ref.columns if ref[c].dtype == object]
    out = []
    for c in ref.columns:
        r, k = ref[c].dropna(), cur[c].dropna()
        if c in categorical:
            rc, kc = r.value_counts(), k.value_counts()
            cats = rc.index.union(kc.index)
            p = rc.reindex(cats, fill_value=0).to_numpy(float)
            q = kc.reindex(cats, fill_value=0).to_numpy(float)
            d = float(jensenshannon(p / p.sum(), q / q.sum()))
            out.append({"column": c, "type": "categorical", "test": "jensenshannon", "score": d,
                        "threshold": JS_THRESHOLD, "drifted": bool(d >= JS_THRESHOLD)})
        else:
            res = ks_2samp(r.to_numpy(), k.to_numpy())
            p = float(res.pvalue)
            out.append({"column": c, "type": "numeric", "test": "ks", "score": p,
                        "statistic": float(res.statistic), "threshold": KS_ALPHA,
                        "drifted": bool(p <= KS_ALPHA)})
    t3 = time.perf_counter()
    drifted = sum(c["drifted"] for c in out)
    json.dump({"columns": out,
               "dataset": {"columns": len(out), "drifted": drifted,
                           "share": drifted / len(out) if out else 0.0},
               "rows": {"reference": len(ref), "current": len(cur)},
               "import_s": round(t1 - t0, 4), "read_s": round(t2 - t1, 4),
               "stats_s": round(t3 - t2, 4)}, sys.stdout, indent=1)
    sys.stdout.write("\n")


def main(argv):
    if len(argv) == 4 and argv[1] == "gen":
        gen(int(argv[2]), argv[3])
    elif len(argv) in (4, 6) and argv[1] == "peer":
        cat = None
        if len(argv) == 6:
            if argv[4] != "--categorical":
                sys.exit("usage: monitor_scipy.py peer REF CUR [--categorical c1,c2,...]")
            cat = [c for c in argv[5].split(",") if c]
        peer(argv[2], argv[3], cat)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
