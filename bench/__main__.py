"""Run the benchmarks and rewrite docs/PERFORMANCE.md's generated sections.

    python -m bench                      full mode: the documented figures (about an hour, half of
                                         it the 100M RFM case, which needs about 60 GB of free disk)
    python -m bench --quick              small sizes, a few minutes; writes runs/bench/PERFORMANCE-quick.md
    python -m bench --suite rfm,serving  some suites only (load, rfm, kmeans, churn, clv, serving,
                                         contact_center, workshop)

Every case runs in a fresh Python process that reports its wall time and peak memory; each figure
is the median of --repeat runs, with its baseline measured in the same run. Generated inputs are
cached in bench/.cache (git-ignored), so re-runs skip the generator.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.cases import ROOT

SUITES = ("load", "rfm", "kmeans", "churn", "clv", "serving", "contact_center", "workshop")
FULL = {"load_rows": 10_000_000, "rfm_rows": "1000000,10000000,100000000",
        "kmeans_customers": "100000,1000000,10000000", "churn_rows": 100_000, "clv_customers": "100000,1000000",
        "batch_customers": "100000,1000000", "serving_seconds": 10.0, "workshop_params": "",
        "cc_events_per_call": 20}
QUICK = {"load_rows": 1_000_000, "rfm_rows": "1000000", "kmeans_customers": "100000",
         "churn_rows": 10_000, "clv_customers": "100000", "batch_customers": "100000", "serving_seconds": 3.0,
         "workshop_params": "scale=0.1", "repeat": 1, "cc_events_per_call": 5}
DOCUMENTED_RFM_SIZES = [1_000_000, 10_000_000, 100_000_000]
QUICK_REPORT = ROOT / "runs" / "bench" / "PERFORMANCE-quick.md"


def sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes for day-to-day use")
    parser.add_argument("--suite", default="all", help=f"'all' or a comma-separated subset of {SUITES}")
    parser.add_argument("--repeat", type=int, default=None, help="runs per case (median reported); "
                        "default 3, 1 in quick mode")
    parser.add_argument("--load-rows", type=int, help="payment rows for the CSV/Parquet load")
    parser.add_argument("--rfm-rows", help="comma-separated payment-row counts for RFM scoring")
    parser.add_argument("--pandas-max-rows", type=int, default=30_000_000,
                        help="skip the pandas reference above this size (it would exceed memory)")
    parser.add_argument("--kmeans-customers", help="comma-separated customer counts for k-means")
    parser.add_argument("--churn-rows", type=int, help="rows for churn training")
    parser.add_argument("--clv-customers", help="comma-separated customer counts for customer value")
    parser.add_argument("--serving-rate", type=float, default=200.0,
                        help="requests per second of the steady single-row load")
    parser.add_argument("--serving-seconds", type=float, help="seconds per steady-rate run")
    parser.add_argument("--batch-customers", help="comma-separated customer counts for batch scoring")
    parser.add_argument("--cc-calls", type=int, default=50, help="concurrent simulated calls")
    parser.add_argument("--cc-rate", type=float, default=0.5,
                        help="sentiment events per second per call (Poisson)")
    parser.add_argument("--cc-events-per-call", type=int, help="sentiment events in each call")
    parser.add_argument("--workshop-params", help="comma-separated KEY=VALUE for `rfmkit run`")
    parser.add_argument("--out", type=Path, help="report file (default: docs/PERFORMANCE.md; "
                        f"quick mode: {QUICK_REPORT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.repeat = args.repeat or 3
    chosen = SUITES if args.suite == "all" else tuple(s.strip() for s in args.suite.split(","))
    unknown = sorted(set(chosen) - set(SUITES))
    if unknown:
        parser.error(f"--suite {','.join(unknown)}: choose from all, {', '.join(SUITES)}")
    args.suites = chosen
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or (QUICK_REPORT if args.quick else None)
    if out:
        from bench.report import use_report

        use_report(out)
    started, results = time.perf_counter(), {}
    for suite in args.suites:
        print(f"== {suite} ==", flush=True)
        t0 = time.perf_counter()
        results[suite] = run_suite(suite, args)
        print(f"== {suite} done in {time.perf_counter() - t0:.0f} s ==", flush=True)
    from bench import targets
    from bench.report import REPORT

    targets.write(results, [p for p in args.workshop_params.split(",") if p])

    print(f"all suites done in {time.perf_counter() - started:.0f} s; report: {REPORT}")
    return 0


def run_suite(suite: str, args: argparse.Namespace):
    """Run one suite; returns its results (the targets block reads rfm, serving and workshop)."""
    if suite == "load":
        from bench import load_bench

        return load_bench.run(args.load_rows, repeat=args.repeat, generator_rows=min(args.load_rows, 1_000_000))
    elif suite == "rfm":
        from bench import rfm_bench

        return rfm_bench.run(sizes(args.rfm_rows), repeat=args.repeat, pandas_max_rows=args.pandas_max_rows,
                      report_sizes=[] if args.quick else DOCUMENTED_RFM_SIZES)
    elif suite == "kmeans":
        from bench import kmeans_bench

        return kmeans_bench.run(sizes(args.kmeans_customers), repeat=args.repeat)
    elif suite == "churn":
        from bench import churn_bench

        return churn_bench.run(args.churn_rows, repeat=args.repeat)
    elif suite == "clv":
        from bench import clv_bench

        return clv_bench.run(sizes(args.clv_customers), repeat=args.repeat)
    elif suite == "serving":
        from bench import serving_bench

        return serving_bench.run(rate=args.serving_rate, seconds=args.serving_seconds,
                          batch_sizes=tuple(sizes(args.batch_customers)), repeat=args.repeat)
    elif suite == "contact_center":
        from bench import contact_center_bench

        return contact_center_bench.run(calls=args.cc_calls, events_per_call=args.cc_events_per_call,
                                 rate=args.cc_rate)
    elif suite == "workshop":
        from bench import workshop_bench

        return workshop_bench.run(repeat=args.repeat,
                           parameters=[p for p in args.workshop_params.split(",") if p])


if __name__ == "__main__":
    raise SystemExit(main())
