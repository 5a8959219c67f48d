"""How honest is a single run's interval? Seeds of one scenario against each run's own interval.

For each count of the summary: the spread of the count over seeds (its dispersion, variance over
mean: 1 for a Poisson count), and the share of seeds whose single-run 95% interval covers the mean
over seeds, plain Poisson and as reported (widened by the catalogue's dispersion). With
--baseline, the same for the chilling effect: the interval as reported, without its design
effect, and as if the two runs were independent Poisson counts. The dispersions measured here are
the `dispersion` of the catalogue rows (model/catalogue.py) and the design effect of the chilling
effect (docs/uncertainty.md).

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
from scslab.intervals import count_ratio, paired_ratio, poisson
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
    chill: list[tuple[float, ...]] = []
    for seed in range(1, args.seeds + 1):
        res = scslab.simulate(sc, seed=seed)
        for k, v in figure_values(res.summary).items():
            values.setdefault(k, []).append(v)
        if args.baseline:
            base = simulate_baseline(sc, seed)
            reported, _ = chilling(res.timeseries, base, sc.params)
            first = burn_in(sc.params)
            run_days = res.timeseries["political_events"].to_numpy()[first:]
            base_days = base["political_events"].to_numpy()[first:]
            plain = paired_ratio(run_days, base_days)
            independent = count_ratio(float(run_days.sum()), float(base_days.sum()))
            assert plain is not None and independent is not None
            chill.append((reported["value"], *reported["interval"], 1 - plain[2], 1 - plain[1],
                          1 - independent[2], 1 - independent[1]))  # fmt: skip
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
        reported = np.mean([lo <= mean <= hi for lo, hi in (poisson(x, dispersion=m.dispersion) for x in v)])
        rows[name] = {"mean": round(mean, 1), "dispersion": round(disp, 2), "poisson_coverage": float(covered),
                      "catalogue_dispersion": m.dispersion, "reported_coverage": float(reported)}
    seconds = round(time.perf_counter() - t0)
    out = {"scenario": args.scenario, "size": args.size, "seeds": args.seeds, "seconds": seconds,
           "counts": rows}
    if chill:
        c = np.asarray(chill)
        mean = float(c[:, 0].mean())
        half = float(np.mean((c[:, 2] - c[:, 1]) / 2))
        sd = float(c[:, 0].std(ddof=1))
        out["chilling_effect"] = {"mean": mean, "sd_over_seeds": sd}
        methods = (("reported (paired days x design effect)", 1, 2), ("paired days, no design effect", 3, 4),
                   ("independent Poisson counts", 5, 6))
        for name, lo, hi in methods:
            half = float(np.mean((c[:, hi] - c[:, lo]) / 2))
            out["chilling_effect"][name] = {
                "mean_half_width": half, "implied_sd": half / 1.96,
                "coverage": float(np.mean((c[:, lo] <= mean) & (mean <= c[:, hi]))),
                "variance_ratio": (sd / (half / 1.96)) ** 2 if half else math.nan,
            }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
