"""Customer-value benchmark: from purchase rows to every customer's P(alive), expected purchases,
expected order value and CLV, the kit's path against pymc-marketing used as documented, in the
same run. Each case runs in a fresh process (bench/clv_case.py)."""

from __future__ import annotations

from datetime import date

from bench.cases import paired
from bench.report import machine, write_section

BEGIN, END = "<!-- bench:clv:begin -->", "<!-- bench:clv:end -->"


def run(sizes: list[int], *, repeat: int) -> list[dict]:
    results = [paired("bench.clv_case", ("rfmkit", "rfmkit"), ("pymc-marketing", "pymc-marketing"),
                      customers, repeat=repeat) for customers in sizes]
    write_report(results)
    return results


def write_report(results: list[dict]) -> None:
    lines = [f"Measured {date.today()} on {machine('pymc-marketing', 'pymc', 'duckdb')}. Input: one row "
             "per purchase day of customers drawn from the generator's latent process (2 years); "
             "output: P(alive), expected purchases in 30/90/365 days, expected order value and "
             "12-month CLV at 1 % a month for every customer. rfmkit = SQL summary on DuckDB + "
             "modified BG/NBD and Gamma-Gamma by maximum likelihood + customer_value's columns; "
             "pymc-marketing = `rfm_summary` on pandas + the same two models with default priors "
             "(MAP) + its prediction methods. Seconds are medians, imports excluded; fit = the "
             "two model fits alone; peak = max RSS of the process.", "",
             "| customers | rfmkit s | fit s | peak MB | pymc-marketing s | fit s | peak MB | "
             "time ratio | runs |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        o, b = r["ours"], r["baseline"]
        lines.append(f"| {o['customers']:,} | {o['seconds']:.1f} | {o['fit_seconds']:.1f} | "
                     f"{o['peak_mb']:,.0f} | {b['seconds']:.1f} | {b['fit_seconds']:.1f} | "
                     f"{b['peak_mb']:,.0f} | {b['seconds'] / o['seconds']:.1f}× | {o['runs']} |")
    write_section(BEGIN, END, "Customer value (CLV)", lines)
