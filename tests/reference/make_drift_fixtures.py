#!/usr/bin/python3
"""Regenerates tests/unit/fixtures/drift/drift.json: drift statistics computed by SciPy for
fixed samples. The unit test core/test_drift.cpp checks mlo::core's drift functions against
them (statistics to 1e-12, p-values to 1e-9, both relative when the value is tiny), so CI needs
no SciPy; this script is kept to regenerate the fixture.

Needs numpy and scipy (Debian 12: apt-get install python3-scipy, which is SciPy 1.10.1, the
version the fixture was made with). Run from anywhere:

    /usr/bin/python3 tests/reference/make_drift_fixtures.py

Large samples are not stored: a case names a generator ("formula") that the C++ test evaluates
the same way, bit for bit (integer hashing, sums of exact multiples of 2^-53, multiplications
by powers of two and one addition, so no rounding can differ):

    u(seed, k)  = (splitmix64(seed * 2^32 + k) >> 11) * 2^-53           in [0, 1)
    "tri":  x_i = ((u(3i) + u(3i+1)) + u(3i+2)) * scale + shift        (scale a power of two)
    "int":  x_i = floor(u(i) * levels) + shift                          (levels a power of two)

Evidently conventions reproduced here (evidently.calculations.stattests): chisquare's expected
counts are reference count * (current total / reference total); the z-test pools the two
proportions; PSI and KL fill zero shares with min(non-zero)/1e6 if that minimum is <= 1e-4,
else 1e-4 (get_binned_data(feel_zeroes=True)), Jensen-Shannon does not; the normalised
Wasserstein divides by max(std(ref), 0.001).
"""

import json
import math
import os
import warnings

import numpy as np
import scipy
from scipy import stats
from scipy import special
from scipy.spatial import distance

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "fixtures",
                   "drift", "drift.json")

MASK = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def u(seed, k):
    return (splitmix64((seed << 32) + k) >> 11) * 2.0 ** -53


def generate(spec):
    n, seed = spec["n"], spec["seed"]
    if spec["kind"] == "tri":
        scale, shift = spec["scale"], spec["shift"]
        assert math.frexp(scale)[0] == 0.5, "scale must be a power of two"
        return np.array([((u(seed, 3 * i) + u(seed, 3 * i + 1)) + u(seed, 3 * i + 2)) * scale
                         + shift for i in range(n)])
    if spec["kind"] == "int":
        levels, shift = spec["levels"], spec["shift"]
        assert math.frexp(levels)[0] == 0.5, "levels must be a power of two"
        return np.array([math.floor(u(seed, i) * levels) + shift for i in range(n)])
    raise ValueError(spec["kind"])


def tri(n, seed, shift=0.0, scale=1.0):
    return {"kind": "tri", "n": n, "seed": seed, "scale": scale, "shift": shift}


def ints(n, seed, levels, shift=0.0):
    return {"kind": "int", "n": n, "seed": seed, "levels": levels, "shift": shift}


def sample_json(spec, store):
    """The sample itself when `store`, else its formula."""
    return {"values": [float(x) for x in generate(spec)]} if store else {"formula": spec}


def num(x):
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):
        return None
    return x


# ---- KS ----

def ks_case(name, ref, cur, ref_json, cur_json):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stats.ks_2samp(ref, cur)
    n1, n2 = len(ref), len(cur)
    fell_back = any("Exact calculation unsuccessful" in str(w.message) for w in caught)
    method = "exact" if max(n1, n2) <= 10000 and not fell_back else "asymptotic"
    return {"name": name, "ref": ref_json, "cur": cur_json, "statistic": num(res.statistic),
            "p_value": num(res.pvalue), "method": method}


def ks_cases():
    out = []
    a = np.arange(1.0, 11.0)
    b = np.arange(6.0, 16.0)
    out.append(ks_case("golden 1..10 vs 6..15", a, b, {"values": list(a)}, {"values": list(b)}))
    small = [
        ("equal 5 vs 5", tri(5, 1), tri(5, 2, 0.3)),
        ("equal 20 vs 20 unshifted", tri(20, 3), tri(20, 4)),
        ("equal 20 vs 20 shifted", tri(20, 5), tri(20, 6, 0.5)),
        ("equal 60 vs 60 ties", ints(60, 7, 8), ints(60, 8, 8)),
        ("unequal 7 vs 13", tri(7, 9), tri(13, 10, 0.2)),
        ("unequal 30 vs 45 gcd 15", tri(30, 11), tri(45, 12, 0.25)),
        ("unequal 100 vs 60 ties", ints(100, 13, 16), ints(60, 14, 16, 1.0)),
        ("unequal 250 vs 400 shifted", tri(250, 15), tri(400, 16, 0.1)),
        ("unequal 250 vs 400 unshifted", tri(250, 17), tri(400, 18)),
        ("unequal 300 vs 200 far apart", tri(300, 19), tri(200, 20, 1.0)),
        ("separated 10 vs 12", tri(10, 21), tri(12, 22, 4.0)),
        ("unequal 1 vs 9", tri(1, 23), tri(9, 24)),
        ("unequal 997 vs 1000 ties", ints(997, 25, 32), ints(1000, 26, 32, 1.0)),
    ]
    for name, s1, s2 in small:
        r, c = generate(s1), generate(s2)
        out.append(ks_case(name, r, c, sample_json(s1, True), sample_json(s2, True)))
    out.append(ks_case("identical 50", generate(tri(50, 27)), generate(tri(50, 27)),
                       sample_json(tri(50, 27), False), sample_json(tri(50, 27), False)))
    large = [
        ("exact 2000 vs 3000 shifted", tri(2000, 31), tri(3000, 32, 0.03125)),
        ("exact 10000 vs 10000 shifted", tri(10000, 33), tri(10000, 34, 0.015625)),
        ("exact 10000 vs 9000 shifted", tri(10000, 35), tri(9000, 36, 0.0234375)),
        ("exact 4000 vs 6000 ties", ints(4000, 37, 64), ints(6000, 38, 64, 1.0)),
        ("asymptotic 12000 vs 15000 shifted", tri(12000, 41), tri(15000, 42, 0.015625)),
        ("asymptotic 12000 vs 15000 unshifted", tri(12000, 43), tri(15000, 44)),
        ("asymptotic 12000 vs 15000 far apart", tri(12000, 45), tri(15000, 46, 0.25)),
        ("asymptotic 20000 vs 30000 tiny shift", tri(20000, 47), tri(30000, 48, 0.0078125)),
        ("asymptotic 10001 vs 200", tri(10001, 49), tri(200, 50, 0.125)),
        ("asymptotic 20000 vs 100", tri(20000, 51), tri(100, 52, 0.0625)),
        ("asymptotic 50000 vs 30", tri(50000, 53), tri(30, 54, 0.25)),
        ("asymptotic 15000 vs 150 ties", ints(15000, 55, 32), ints(150, 56, 32, 3.0)),
    ]
    for name, s1, s2 in large:
        out.append(ks_case(name, generate(s1), generate(s2), sample_json(s1, False),
                           sample_json(s2, False)))
    return out


def kstwo_cases():
    out = []
    for n in [1, 2, 3, 5, 10, 50, 100, 140, 141, 500, 1000, 6667, 100000, 100001, 250000]:
        xs = [0.3 / n, 0.8 / n, 1.0 / n, math.sqrt(0.2 / n), math.sqrt(0.5 / n),
              math.sqrt(1.5 / n), math.sqrt(3.0 / n), math.sqrt(10.0 / n), math.sqrt(100.0 / n),
              math.sqrt(400.0 / n), 0.55, 0.9, 1.0 - 0.5 / n, (n - 0.5) / n,
              # the Durbin matrix region for n > 140: n x^1.5 <= 1.4
              0.99 * (1.4 / n) ** (2 / 3), 0.5 * (1.4 / n) ** (2 / 3)]
        for x in xs:
            if 0 < x < 1:
                out.append({"n": n, "x": x, "sf": num(stats.kstwo.sf(x, n))})
    return out


def smirnov_cases():
    out = []
    for n in [1, 2, 5, 10, 100, 1000, 6667, 2000000]:
        for x in [0.5 / n, 1.0 / n, 2.5 / n, 0.01, 0.025, 0.05, 0.1, 0.3, 0.5, 0.9,
                  1.0 - 0.5 / n]:
            if 0 < x < 1:
                out.append({"n": n, "x": x, "sf": num(special.smirnov(n, x))})
    return out


def kolmogorov_cases():
    return [{"x": x, "sf": num(special.kolmogorov(x))}
            for x in [0.03, 0.05, 0.1, 0.3, 0.5, 0.7, 0.82, 0.83, 1.0, 1.5, 3.0, 6.0, 20.0]]


def chi2_cases():
    pairs = [(28.0, 2), (0.5, 1), (3.84, 1), (100.0, 50), (1e-3, 3), (2000.0, 1500), (50.0, 10),
             (1e-8, 1), (300.0, 4), (10.0, 10), (0.2, 7), (700.0, 2), (5000.0, 4999),
             (60.0, 99)]
    return [{"x": x, "dof": d, "sf": num(stats.chi2.sf(x, d))} for x, d in pairs]


# ---- chi-squared, z ----

def evidently_chisquare(ref_counts, cur_counts):
    ref_counts = np.asarray(ref_counts, dtype=float)
    cur_counts = np.asarray(cur_counts, dtype=float)
    k_norm = cur_counts.sum() / ref_counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        stat, p = stats.chisquare(cur_counts, ref_counts * k_norm)
    return stat, p


def chisquare_cases():
    rng = np.random.default_rng(7)
    cases = [("golden a50 b30 c20 vs a30 b30 c40", [50, 30, 20], [30, 30, 40]),
             ("two categories", [600, 400], [550, 450]),
             ("same proportions", [100, 200, 300], [50, 100, 150]),
             ("new category in current", [100, 200, 0], [90, 180, 30])]
    for k, n1, n2, tilt in [(5, 800, 600, 0.0), (5, 800, 600, 0.3), (12, 1000, 1000, 0.1),
                            (30, 20000, 5000, 0.05), (3, 50, 70, 0.5)]:
        p = rng.dirichlet(np.ones(k) * 3)
        q = p * np.exp(tilt * rng.standard_normal(k))
        q /= q.sum()
        ref = rng.multinomial(n1, p)
        cur = rng.multinomial(n2, q)
        ref = np.maximum(ref, 1)  # every category present in the reference
        cases.append((f"{k} categories n={n1}/{n2} tilt {tilt}", ref.tolist(), cur.tolist()))
    out = []
    for name, r, c in cases:
        stat, p = evidently_chisquare(r, c)
        out.append({"name": name, "ref": [int(x) for x in r], "cur": [int(x) for x in c],
                    "statistic": num(stat), "p_value": num(p)})
    return out


def z_cases():
    cases = [(30, 100, 45, 100), (400, 1000, 380, 900), (1, 50, 10, 60), (500, 1000, 500, 1000),
             (5000, 100000, 5600, 100000), (3, 7, 9, 11), (0, 100, 30, 100)]
    out = []
    for h1, n1, h2, n2 in cases:
        p1, p2 = h1 / n1, h2 / n2
        P = float(p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))
        out.append({"ref_hits": h1, "ref_total": n1, "cur_hits": h2, "cur_total": n2,
                    "statistic": num(z), "p_value": num(2 * stats.norm.sf(abs(z)))})
    return out


# ---- Wasserstein ----

def wasserstein_cases():
    out = []
    specs = [("small 8 vs 5", tri(8, 61), tri(5, 62, 0.25), True),
             ("ties 200 vs 300", ints(200, 63, 8), ints(300, 64, 8, 1.0), True),
             ("unshifted 1000 vs 1500", tri(1000, 65), tri(1500, 66), False),
             ("shifted 5000 vs 4000", tri(5000, 67), tri(4000, 68, 0.125), False),
             ("scaled 20000 vs 20000", tri(20000, 69), tri(20000, 70, 0.0, 2.0), False),
             ("constant reference", ints(50, 71, 1, 3.0), tri(40, 72), True)]
    for name, s1, s2, store in specs:
        r, c = generate(s1), generate(s2)
        w = stats.wasserstein_distance(r, c)
        out.append({"name": name, "ref": sample_json(s1, store), "cur": sample_json(s2, store),
                    "distance": num(w), "normed": num(w / max(np.std(r), 0.001))})
    return out


# ---- measures on bins ----

def evidently_fill(shares):
    shares = np.array(shares, dtype=float)
    nonzero = shares[shares != 0]
    if len(nonzero) == 0:
        return shares
    fill = nonzero.min() / 10 ** 6 if nonzero.min() <= 0.0001 else 0.0001
    np.place(shares, shares == 0, fill)
    return shares


def binned_measures(r, c):
    rf, cf = evidently_fill(r), evidently_fill(c)
    psi = np.sum((rf - cf) * np.log(rf / cf))
    kl = stats.entropy(rf, cf)
    js = distance.jensenshannon(np.asarray(r, dtype=float), np.asarray(c, dtype=float))
    return rf, cf, psi, kl, js


def binned_cases():
    rng = np.random.default_rng(11)
    cases = [("golden", [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]),
             ("golden categorical", [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]),
             ("identical", [0.25, 0.25, 0.5], [0.25, 0.25, 0.5]),
             ("zero in current", [0.2, 0.3, 0.5], [0.0, 0.4, 0.6]),
             ("zero in both", [0.5, 0.0, 0.5], [0.4, 0.0, 0.6]),
             ("tiny shares", [0.99995, 0.00005, 0.0], [0.5, 0.25, 0.25]),
             ("disjoint", [0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5])]
    for k in [5, 10, 21]:
        r = rng.dirichlet(np.ones(k))
        c = rng.dirichlet(np.ones(k))
        c[rng.integers(k)] = 0.0
        cases.append((f"random {k} bins", r.tolist(), (c / c.sum()).tolist()))
    out = []
    for name, r, c in cases:
        rf, cf, psi, kl, js = binned_measures(r, c)
        out.append({"name": name, "ref": r, "cur": c, "ref_filled": rf.tolist(),
                    "cur_filled": cf.tolist(), "psi": num(psi), "kl_div": num(kl),
                    "jensenshannon": num(js)})
    return out


# ---- column drift through a reference profile ----

def profile_bins(ref, cur):
    """mlo's histogram: numpy's Sturges edges of the reference alone, plus an outer bin on
    each side that is kept only when current values fall there."""
    edges = np.histogram_bin_edges(ref, bins="sturges")
    ref_counts = np.histogram(ref, edges)[0].astype(float)
    cur_counts = np.histogram(cur, edges)[0].astype(float)
    below, above = np.sum(cur < edges[0]), np.sum(cur > edges[-1])
    r, c = list(ref_counts), list(cur_counts)
    if below:
        r, c = [0.0] + r, [float(below)] + c
    if above:
        r, c = r + [0.0], c + [float(above)]
    return np.array(r) / len(ref), np.array(c) / len(cur), len(edges) - 1


def value_bins(ref, cur):
    keys = sorted(set(ref) | set(cur))
    r = np.array([np.sum(ref == k) for k in keys], dtype=float)
    c = np.array([np.sum(cur == k) for k in keys], dtype=float)
    return r, c


def column_cases():
    out = []
    numeric = [
        # name, reference, current, test (None = default), expected default test
        ("ks default 500 vs 400", tri(500, 81), tri(400, 82, 0.0625), None, "ks"),
        ("ks default 1000 vs 1200 unshifted", tri(1000, 83), tri(1200, 84), None, "ks"),
        ("wasserstein default 5000 vs 4000", tri(5000, 85), tri(4000, 86, 0.0625), None,
         "wasserstein"),
        ("wasserstein default 1001 vs 50", tri(1001, 87), tri(50, 88, 0.5), None, "wasserstein"),
        ("chisquare default 4 values", ints(600, 89, 4), ints(500, 90, 4), None, "chisquare"),
        ("z default 2 values", ints(300, 91, 2), ints(200, 92, 2), None, "z"),
        ("jensenshannon default 4 values", ints(3000, 93, 4, 0.0), ints(2000, 94, 2, 1.0), None,
         "jensenshannon"),
        ("ks 8 values small", ints(800, 95, 8), ints(700, 96, 8), None, "ks"),
        ("psi histogram", tri(3000, 97), tri(2000, 98, 0.0625), "psi", None),
        ("psi histogram out of range", tri(3000, 99), tri(2000, 100, 0.5), "psi", None),
        ("kl_div histogram", tri(3000, 101), tri(2500, 102, 0.125), "kl_div", None),
        ("jensenshannon histogram", tri(3000, 103), tri(2500, 104, -0.25), "jensenshannon",
         None),
        ("psi 16 value bins", ints(3000, 105, 16), ints(2000, 106, 16, 1.0), "psi", None),
        ("kl_div 16 value bins", ints(3000, 107, 16), ints(2000, 108, 16, 2.0), "kl_div", None),
        ("chisquare 8 value bins", ints(900, 109, 8), ints(800, 110, 8), "chisquare", None),
        ("ks forced on 12000 vs 15000", tri(12000, 111), tri(15000, 112, 0.015625), "ks", None),
        ("wasserstein forced on 300", tri(300, 113), tri(300, 114, 0.25), "wasserstein", None),
    ]
    for name, s1, s2, test, default in numeric:
        r, c = generate(s1), generate(s2)
        distinct = len(set(r) | set(c))
        chosen = test
        if test is None:
            if len(r) <= 1000:
                chosen = "ks" if distinct > 5 else ("chisquare" if distinct > 2 else "z")
            else:
                chosen = "wasserstein" if distinct > 5 else "jensenshannon"
            assert chosen == default, (name, chosen)
        few_values = len(set(r)) <= 20
        if chosen == "ks":
            res = stats.ks_2samp(r, c)
            score, statistic = res.pvalue, res.statistic
        elif chosen == "wasserstein":
            score = stats.wasserstein_distance(r, c) / max(np.std(r), 0.001)
            statistic = score
        elif chosen in ("chisquare", "z"):
            rc, cc = value_bins(r, c)
            if chosen == "chisquare":
                statistic, score = evidently_chisquare(rc, cc)
            else:
                n1, n2 = len(r), len(c)
                p1, p2 = rc[1] / n1, cc[1] / n2
                P = (p1 * n1 + p2 * n2) / (n1 + n2)
                statistic = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))
                score = 2 * stats.norm.sf(abs(statistic))
        else:
            if few_values:
                rc, cc = value_bins(r, c)
                rs, cs = rc / len(r), cc / len(c)
            else:
                rs, cs, _ = profile_bins(r, c)
            _, _, psi, kl, js = binned_measures(rs, cs)
            score = {"psi": psi, "kl_div": kl, "jensenshannon": js}[chosen]
            statistic = score
        out.append({"name": name, "kind": "numeric", "ref": {"formula": s1},
                    "cur": {"formula": s2}, "test": test, "expected_test": chosen,
                    "score": num(score), "statistic": num(statistic)})

    categorical = [
        ("categorical default chisquare", {"a": 50, "b": 30, "c": 20},
         {"a": 30, "b": 30, "c": 40}, None, "chisquare"),
        ("categorical default z", {"yes": 400, "no": 600}, {"yes": 470, "no": 530}, None, "z"),
        ("categorical default jensenshannon", {"a": 3000, "b": 2000, "c": 1000},
         {"a": 2000, "b": 2000, "c": 1500, "d": 100}, None, "jensenshannon"),
        ("categorical psi with a new category", {"a": 500, "b": 300, "c": 200},
         {"a": 300, "b": 300, "c": 350, "d": 50}, "psi", None),
        ("categorical kl_div", {"a": 5000, "b": 3000, "c": 2000},
         {"a": 3000, "b": 3000, "c": 4000}, "kl_div", None),
    ]
    for name, rd, cd, test, default in categorical:
        keys = sorted(set(rd) | set(cd))
        rc = np.array([rd.get(k, 0) for k in keys], dtype=float)
        cc = np.array([cd.get(k, 0) for k in keys], dtype=float)
        n1, n2 = rc.sum(), cc.sum()
        chosen = test
        if test is None:
            chosen = ("chisquare" if len(keys) > 2 else "z") if n1 <= 1000 else "jensenshannon"
            assert chosen == default, (name, chosen)
        if chosen == "chisquare":
            statistic, score = evidently_chisquare(rc, cc)
        elif chosen == "z":
            p1, p2 = rc[1] / n1, cc[1] / n2
            P = (p1 * n1 + p2 * n2) / (n1 + n2)
            statistic = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))
            score = 2 * stats.norm.sf(abs(statistic))
        else:
            _, _, psi, kl, js = binned_measures(rc / n1, cc / n2)
            score = {"psi": psi, "kl_div": kl, "jensenshannon": js}[chosen]
            statistic = score
        out.append({"name": name, "kind": "categorical", "ref": rd, "cur": cd, "test": test,
                    "expected_test": chosen, "score": num(score), "statistic": num(statistic)})
    return out


def main():
    doc = {
        "generator": "tests/reference/make_drift_fixtures.py",
        "scipy_version": scipy.__version__,
        "numpy_version": np.__version__,
        "formula_check": [{"spec": s, "first": [float(x) for x in generate(s)[:5]],
                           "sum": float(np.sum(generate(s)))}
                          for s in [tri(1000, 1, 0.5, 0.25), ints(1000, 2, 16, -3.0)]],
        "ks": ks_cases(),
        "kstwo_sf": kstwo_cases(),
        "smirnov": smirnov_cases(),
        "kolmogorov": kolmogorov_cases(),
        "chi2_sf": chi2_cases(),
        "chisquare": chisquare_cases(),
        "z": z_cases(),
        "wasserstein": wasserstein_cases(),
        "binned": binned_cases(),
        "column": column_cases(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    counts = {k: len(v) for k, v in doc.items() if isinstance(v, list)}
    print(f"wrote {os.path.normpath(OUT)}: {counts}")


if __name__ == "__main__":
    main()
