"""Issue 21's targets, each with the figure this invocation of `python -m bench` measured.

Written last, from the results the suites returned in the same run, so every ratio in the block
compares cases measured side by side; a target whose suite did not run says so.
"""

from __future__ import annotations

from datetime import date

from bench.report import write_section

BEGIN, END = "<!-- bench:targets:begin -->", "<!-- bench:targets:end -->"
SERVING_P99_MS, SERVING_RATE = 10.0, "200/s"
WORKSHOP_SECONDS = 180.0


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def rfm_rows(entries: list[dict] | None) -> list[str]:
    from bench.rfm_bench import ratios

    measured = [e for e in entries or [] if e.get("duckdb")]
    if not measured:
        return ["| RFM end to end (load + score) | not measured in this run | – |"]
    entry = max(measured, key=lambda e: e["rows"])  # the largest size with every baseline
    r, at = ratios(entry), f"{entry['rows']:,} payment rows"
    return [f"| RFM at {at}: kit within 1.3× of the hand-written DuckDB query | "
            f"{r['kit_vs_duckdb']:.2f}× ({entry['kit']['seconds']:.1f} s vs {entry['duckdb']['seconds']:.1f} s) | "
            f"{verdict(r['kit_vs_duckdb'] <= 1.3)} |",
            f"| RFM at {at}: at least 1.5× faster than pandas | {r['pandas_vs_kit']:.2f}× "
            f"({entry['pandas']['seconds']:.1f} s) | {verdict(r['pandas_vs_kit'] >= 1.5)} |",
            f"| RFM at {at}: at least 1.5× faster than polars | {r['polars_vs_kit']:.2f}× "
            f"({entry['polars']['seconds']:.1f} s) | {verdict(r['polars_vs_kit'] >= 1.5)} |",
            f"| RFM at {at}: at most half of pandas' peak memory | {r['memory_vs_pandas']:.2f} "
            f"({entry['kit']['peak_mb']:,.0f} MB vs {entry['pandas']['peak_mb']:,.0f} MB) | "
            f"{verdict(r['memory_vs_pandas'] <= 0.5)} |"]


def serving_rows(results: dict | None) -> list[str]:
    if not results:
        return [f"| endpoint single rows p99 < {SERVING_P99_MS:.0f} ms at {SERVING_RATE} | not measured in "
                f"this run | – |"]
    rows = []
    for name, measured in results["models"].items():
        steady = measured.get(SERVING_RATE)
        if steady is None:
            rows.append(f"| endpoint {name}: p99 < {SERVING_P99_MS:.0f} ms at {SERVING_RATE} | not run at "
                        f"{SERVING_RATE} | – |")
            continue
        rows.append(f"| endpoint {name}: single rows p99 < {SERVING_P99_MS:.0f} ms at {SERVING_RATE} | "
                    f"{steady['p99']:.1f} ms (p50 {steady['p50']:.1f}; p99 over the runs "
                    f"{steady['p99_range'][0]:.1f}–{steady['p99_range'][1]:.1f}; generator lag p99 "
                    f"{steady['generator_lag_p99']:.1f} ms) | {verdict(steady['p99'] < SERVING_P99_MS)} |")
    return rows


def workshop_rows(runs: list[dict] | None, parameters: list[str]) -> list[str]:
    if not runs:
        return [f"| whole workshop (`make run`) under {WORKSHOP_SECONDS:.0f} s | not measured in this run | – |"]
    import statistics

    total = statistics.median(r["total"] for r in runs)
    data = " ".join(f"`-p {p}`" for p in parameters) or "default parameters"
    row = (f"| whole workshop (`rfmkit run`, {data}) under {WORKSHOP_SECONDS:.0f} s | {total:.0f} s "
           f"(median of {len(runs)}) | ")
    if parameters:
        return [row + "– (the target is for the default parameters) |"]
    return [row + f"{verdict(total < WORKSHOP_SECONDS)} |"]


def write(results: dict, workshop_parameters: list[str]) -> None:
    lines = [f"Measured {date.today()}, every figure from this one run of `python -m bench` "
             f"(suites: {', '.join(results) or 'none'}).", "",
             "| target (issue 21) | measured | verdict |", "|---|---|---|",
             *rfm_rows(results.get("rfm")), *serving_rows(results.get("serving")),
             *workshop_rows(results.get("workshop"), workshop_parameters)]
    write_section(BEGIN, END, "Issue 21's targets in one run", lines)
