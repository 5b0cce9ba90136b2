"""k-means benchmark: the kit's k-means (k = 5) at several customer counts, against
MiniBatchKMeans (the local analogue of SageMaker's mini-batch algorithm) in the same run.
Each case runs in a fresh process (bench/kmeans_case.py) for a clean peak-memory figure."""

from __future__ import annotations

from datetime import date

from bench.cases import paired
from bench.report import machine, write_section

BEGIN, END = "<!-- bench:kmeans:begin -->", "<!-- bench:kmeans:end -->"


def run(sizes: list[int], *, repeat: int) -> list[dict]:
    results = [paired("bench.kmeans_case", ("rfmkit", "k-means"), ("minibatch", "MiniBatchKMeans"),
                      customers, repeat=1 if customers >= 5_000_000 else repeat)
               for customers in sizes]
    write_report(results)
    return results


def write_report(results: list[dict]) -> None:
    lines = [f"Measured {date.today()} on {machine('scikit-learn', 'numpy')}. k = 5; seconds are "
             "medians of the runs shown and cover fitting plus assigning every customer "
             "(closest cluster and distance); peak = max RSS of the process.", "",
             "| customers | k-means s (n_init=4) | peak MB | MiniBatchKMeans s | peak MB | "
             "time ratio | inertia ratio (ours / mini-batch) | runs |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        o, b = r["ours"], r["baseline"]
        lines.append(f"| {r['customers']:,} | {o['seconds']:.1f} | {o['peak_mb']:,.0f} | "
                     f"{b['seconds']:.1f} | {b['peak_mb']:,.0f} | {b['seconds'] / o['seconds']:.1f}× | "
                     f"{o['inertia'] / b['inertia']:.3f} | {o['runs']} |")
    write_section(BEGIN, END, "k-means segmentation", lines)
