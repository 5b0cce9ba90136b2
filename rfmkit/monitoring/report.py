"""Per-window drift reports (HTML + JSON) and the index page of all of them.

The reports open offline: plotly's JavaScript is written once beside them (plotly.min.js) and
every page loads it from there, so a folder of a hundred reports does not hold a hundred copies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape

from rfmkit.monitoring.drift import NUMERIC, PREDICTION

PLOTLY_FILE = "plotly.min.js"
INDEX_FILE = "index.html"
FIGURES_PER_REPORT = 6   # the drifted columns first, then the prediction, then the largest distances
REFERENCE_COLOUR, CURRENT_COLOUR = "#4E79A7", "#E15759"


def environment() -> Environment:
    return Environment(loader=PackageLoader("rfmkit", "templates"),
                       autoescape=select_autoescape(["html", "j2"]))


def write_window(folder: Path, summary: dict, reference, rows: pd.DataFrame) -> tuple[Path, Path]:
    """`<window>.json` and `<window>.html`; files whose figures did not change are left as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    _plotly_js(folder)
    text = json.dumps(summary, indent=1, allow_nan=False, default=str)
    json_path, html_path = folder / f"{summary['window']}.json", folder / f"{summary['window']}.html"
    if json_path.exists() and json_path.read_text() == text and html_path.exists():
        return json_path, html_path
    figures = [_histogram(column, reference, rows) for column in _shown(summary)] \
        if summary["judged"] else []
    html = environment().get_template("drift_report.html.j2").render(
        s=summary, figures=figures, plotly_file=PLOTLY_FILE,
        columns=sorted(summary["columns"], key=lambda c: (not c["drifted"], -(c["distance"] or 0))))
    html_path.write_text(html)
    json_path.write_text(text)
    return json_path, html_path


def write_index(folder: Path, settings) -> Path:
    """index.html: every window's verdict, newest last, with a chart of the largest distances."""
    folder.mkdir(parents=True, exist_ok=True)
    _plotly_js(folder)
    summaries = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    chart = _distance_chart(summaries) if summaries else ""
    html = environment().get_template("drift_index.html.j2").render(
        summaries=summaries, chart=chart, plotly_file=PLOTLY_FILE,
        method=settings.drift.describe(), window_rows=settings.window_rows,
        window=settings.window)
    path = folder / INDEX_FILE
    path.write_text(html)
    return path


def _shown(summary: dict) -> list[dict]:
    columns = summary["columns"]
    chosen = [c for c in columns if c["drifted"]]
    chosen += [c for c in columns if c["column"] == PREDICTION and c not in chosen]
    chosen += sorted((c for c in columns if c not in chosen and c["distance"] is not None),
                     key=lambda c: -c["distance"])
    return chosen[:FIGURES_PER_REPORT]


def _histogram(column: dict, reference, rows: pd.DataFrame) -> str:
    name = column["column"]
    base = reference.frame()[name]
    figure = go.Figure()
    if column["kind"] == NUMERIC:
        for values, label, colour in ((base, "reference", REFERENCE_COLOUR),
                                      (rows[name], "this window", CURRENT_COLOUR)):
            figure.add_histogram(x=pd.to_numeric(values, errors="coerce").dropna(), name=label,
                                 histnorm="probability", opacity=0.6, marker_color=colour,
                                 nbinsx=30)
        figure.update_layout(barmode="overlay")
    else:
        shares = pd.DataFrame({"reference": base.astype(str).value_counts(normalize=True),
                               "this window": rows[name].astype(str).value_counts(normalize=True)}
                              ).fillna(0).head(20)
        for label, colour in (("reference", REFERENCE_COLOUR), ("this window", CURRENT_COLOUR)):
            figure.add_bar(x=shares.index.astype(str), y=shares[label], name=label,
                           marker_color=colour)
    verdict = "drifted" if column["drifted"] else "no drift"
    distance = "n/a" if column["distance"] is None else f"{column['distance']:.3f}"
    figure.update_layout(title=f"{name}: {verdict} ({column['measure']} {distance})", height=300,
                         margin={"l": 40, "r": 10, "t": 40, "b": 30}, yaxis_title="share of rows")
    return figure.to_html(full_html=False, include_plotlyjs=False)


def _distance_chart(summaries: list[dict]) -> str:
    judged = [s for s in summaries if s["judged"]]
    if not judged:
        return ""
    figure = go.Figure()
    columns = sorted({c["column"] for s in judged for c in s["columns"]})
    for name in columns:
        points = [(s["window"], c["distance"]) for s in judged for c in s["columns"]
                  if c["column"] == name and c["distance"] is not None]
        if any(d >= 0.05 for _, d in points) or name == PREDICTION:  # keep the chart readable
            figure.add_scatter(x=[w for w, _ in points], y=[d for _, d in points], name=name,
                               mode="lines+markers")
    figure.update_layout(title="Drift distance per window (columns that moved at all)", height=360,
                         yaxis_title="distance", margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return figure.to_html(full_html=False, include_plotlyjs=False)


def _plotly_js(folder: Path) -> None:
    path = folder / PLOTLY_FILE
    if not path.exists():
        from plotly.offline import get_plotlyjs

        path.write_text(get_plotlyjs(), encoding="utf-8")
