"""How honest is a single run's interval? Seeds of one scenario against each run's own interval.

For each count of the summary: the spread of the count over seeds (its dispersion, variance over
mean: 1 for a Poisson count), and the share of seeds whose single-run 95% interval covers the mean
over seeds. The dispersions measured here are the `dispersion` of the catalogue rows
(model/catalogue.py) and of the chilling effect (docs/uncertainty.md).

    PYTHONPATH=src python bench/uncertainty.py --seeds 40 --size 22000 [--baseline]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

import scslab
from scslab.experiments.baseline import simulate_baseline
from scslab.intervals import paired_ratio, poisson
from scslab.model.metrics import catalogue
from scslab.uncertainty import burn_in, chilling, figure_values


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="beijing-2020")
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--size", type=int, default=22_000)
    ap.add_argument("--days", type=int, default=0)
    ap.add_argument("--baseline", action="store_true", help="also the chilling effect (runs each seed twice)")
    args = ap.parse_args()
    sc = scslab.load_scenario(args.scenario).with_overrides({"population.size": args.size})
    if args.days:
        sc = sc.with_overrides({"days": args.days})
    t0 = time.perf_counter()
    values: dict[str, list[float]] = {}
    chill: list[tuple[float, float, float]] = []
    for seed in range(1, args.seeds + 1):
        res = scslab.simulate(sc, seed=seed)
        for k, v in figure_values(res.summary).items():
            values.setdefault(k, []).append(v)
        if args.baseline:
            base = simulate_baseline(sc, seed)
            c, _ = chilling(res.timeseries, base, sc.params)
            first = burn_in(sc.params)
            paired = paired_ratio(res.timeseries["political_events"].to_numpy()[first:],
                                  base["political_events"].to_numpy()[first:])
            assert paired is not None
            chill.append((c["value"], c["interval"][0], c["interval"][1], 1 - paired[2], 1 - paired[1]))
    rows = {}
    for name, vs in values.items():
        m = catalogue().get(name)
        if m is None or not m.scales:
            continue
        v = np.asarray(vs)
        mean = float(v.mean())
        if mean < 5:
            continue
        disp = float(v.var(ddof=1) / mean)
        covered = np.mean([lo <= mean <= hi for lo, hi in (poisson(x) for x in v)])
        rows[name] = {"mean": round(mean, 1), "dispersion": round(disp, 2), "poisson_coverage": float(covered)}
    seconds = round(time.perf_counter() - t0)
    out = {"scenario": args.scenario, "size": args.size, "seeds": args.seeds, "seconds": seconds,
           "counts": rows}
    if chill:
        c = np.asarray(chill)
        mean = float(c[:, 0].mean())
        half = float(np.mean((c[:, 2] - c[:, 1]) / 2))
        sd = float(c[:, 0].std(ddof=1))
        out["chilling_effect"] = {"mean": mean, "sd_over_seeds": sd}
        for name, lo, hi in (("conditional_binomial", 1, 2), ("paired_days", 3, 4)):
            half = float(np.mean((c[:, hi] - c[:, lo]) / 2))
            out["chilling_effect"][name] = {
                "mean_half_width": half, "implied_sd": half / 1.96,
                "coverage": float(np.mean((c[:, lo] <= mean) & (mean <= c[:, hi]))),
                "variance_ratio": (sd / (half / 1.96)) ** 2 if half else math.nan,
            }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
