"""The local dashboard: one self-contained HTML file with the visuals of the QuickSight analysis.

It reads the exports in the run folder (what QuickSight reads from S3), so it shows the same numbers
on both backends. Plotly draws the charts; its JavaScript is inlined, nothing is fetched, so the file
works offline and can be mailed around. A segment filter at the top hides and shows segments in
every chart, the headline figures and the table at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from rfmkit import rfm_segments
from rfmkit.config import RunConfig
from rfmkit.rfm_segments import SEGMENTS

TEMPLATE = "dashboard.html.j2"
FILE_NAME = "dashboard.html"
SCATTER_PER_SEGMENT = 800  # points drawn per segment in the RFM scatter (a seeded sample, SVG)
# One colour per named segment, the same in every chart (colour-blind-safe Tableau 10 + grey).
PALETTE = ("#4E79A7", "#59A14F", "#76B7B2", "#EDC948", "#B07AA1", "#FF9DA7", "#F28E2B",
           "#E15759", "#9C755F", "#BAB0AC", "#79706E")


# What each panel answers, shown under it (the same visuals as the QuickSight analysis).
CAPTIONS = {
    "segment-sizes": "How many customers each RFM segment holds (notebook 02).",
    "segment-revenue": "What each segment has spent in total: where today's revenue comes from.",
    "rfm-scatter": "Each dot is a customer: left = bought recently, up = spent more. Segments are bands "
                   "of these scores.",
    "churn-risk": "How likely each segment's customers are to have left: 1 − P(alive) where "
                  "notebook 05 valued them, else the churn classifier's probability.",
    "p-alive": "Mean P(alive): the chance a segment's customers are still customers (notebook 05).",
    "value-at-risk": "CLV × (1 − P(alive)): the expected value each segment stands to lose. Where "
                     "retention effort pays most.",
    "churn-alerts": "Distance to churn (days since the last purchase against the customer's own "
                    "rhythm): who needs contacting now (alert, critical) and who has churned.",
    "revenue-at-risk": "Spend weighted by churn probability: where a retention offer protects the most "
                       "revenue.",
    "cluster-profiles": "What k-means (notebook 03) found without being told the segments: each "
                        "cluster's typical customer.",
    "cluster-segments": "How the clusters line up with the RFM segments.",
}


class DashboardError(FileNotFoundError):
    """The run folder lacks what the dashboard needs; the message says which notebook writes it."""


@dataclass
class DashboardData:
    customers: pd.DataFrame        # one row per customer
    summary: pd.DataFrame          # one row per segment (the segment_summary mart)
    has_clusters: bool
    has_churn: bool
    model_note: str                # which churn model scored, and whether it was approved
    sources: list[str]             # the export files read
    has_value: bool = False        # P(alive), CLV and value at risk (notebook 05)


def load(cfg: RunConfig) -> DashboardData:
    """The customers table the dashboard draws, from the run's exports."""
    exports = cfg.exports_dir
    scores = sorted(exports.glob("customer_scores_*.csv"))
    if scores:
        frame = pd.concat([pd.read_csv(p) for p in scores], ignore_index=True)
        sources = [p.name for p in scores]
    else:
        rfm = sorted(exports.glob("rfm_scores_*.csv"))
        if not rfm:
            raise DashboardError(f"no rfm_scores export in {exports}: run notebook 02 first")
        frame = pd.concat([pd.read_csv(p) for p in rfm], ignore_index=True)
        sources = [p.name for p in rfm]
        segments = sorted(exports.glob("customer_segments_*.csv"))
        if segments:
            clusters = pd.concat([pd.read_csv(p) for p in segments], ignore_index=True)
            frame = frame.merge(clusters[["customer_id", "cluster", "cluster_label"]],
                                on="customer_id", how="left")
            sources += [p.name for p in segments]
    has_clusters = "cluster_label" in frame and frame["cluster_label"].notna().any()
    has_churn = "churn_probability" in frame
    has_value = "p_alive" in frame and frame["p_alive"].notna().any()
    note = ""
    if has_churn:
        model = frame["churn_model"].iloc[0]
        version = frame["churn_model_version"].iloc[0]
        # DuckDB writes booleans as true/false, Redshift's UNLOAD as t/f.
        approved = bool(frame["churn_model_approved"].astype(str).str.lower().isin(["true", "t", "1"]).all())
        note = (f"Churn scores from {model} version {version}"
                + ("" if approved else ": not approved for production (a teaching score, not a "
                                       "decision)"))
    summary_files = sorted(exports.glob("segment_summary_*.csv"))
    if not summary_files:
        raise DashboardError(f"no segment_summary export in {exports}: run notebook 02 (or 06) first")
    summary = pd.concat([pd.read_csv(p) for p in summary_files], ignore_index=True)
    return DashboardData(frame, summary, bool(has_clusters), has_churn, note,
                         sources + [p.name for p in summary_files], bool(has_value))


def segment_order(customers: pd.DataFrame) -> list[str]:
    """The kit's segments best to worst, then any others (a custom map) alphabetically."""
    return rfm_segments.segment_order(customers["segment"])


def segment_colours(order: list[str]) -> dict[str, str]:
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(order)}


# -- figures --------------------------------------------------------------------------------------
def figures(data: DashboardData, seed: int = 42) -> dict[str, dict]:
    """Plotly figures as JSON-ready dicts, keyed by panel id. Traces carry their segment in
    `legendgroup`, which the page's filter uses."""
    import plotly.graph_objects as go

    customers = data.customers
    order = segment_order(customers)
    colour = segment_colours(order)
    by_segment = customers.groupby("segment")
    panels: dict[str, go.Figure] = {}

    def bars(value: pd.Series, title: str, axis: str, fmt: str) -> go.Figure:
        fig = go.Figure([go.Bar(x=[s], y=[value.get(s, 0)], name=s, legendgroup=s,
                                marker_color=colour[s], hovertemplate=f"%{{x}}: %{{y:{fmt}}}<extra></extra>")
                         for s in order])
        fig.update_layout(title=title, yaxis_title=axis, showlegend=False)
        return fig

    summary = data.summary.set_index("segment")
    panels["segment-sizes"] = bars(summary["customers"], "Customers per segment", "customers", ",")
    panels["segment-revenue"] = bars(summary["revenue"], "Revenue by segment", "revenue (BRL)", ",.0f")

    sample = customers.sample(frac=1.0, random_state=seed).groupby("segment").head(SCATTER_PER_SEGMENT)
    scatter = go.Figure()
    for s in order:
        rows = sample[sample["segment"] == s]
        scatter.add_trace(go.Scatter(
            x=rows["recency_days"], y=rows["monetary"], mode="markers", name=s, legendgroup=s,
            marker={"color": colour[s], "size": np.clip(3 + 2 * rows["frequency"], 4, 14),
                    "opacity": 0.6},
            customdata=rows[["frequency"]].to_numpy(),
            hovertemplate="recency %{x} days<br>spend %{y:,.2f}<br>%{customdata[0]} order(s)"
                          f"<extra>{s}</extra>"))
    scatter.update_layout(
        title="Recency against spend",
        xaxis_title="days since last purchase", yaxis_title="spend (BRL, log scale)",
        # one labelled tick per power of ten: plotly's default log axis adds unlabelled minor ticks
        yaxis={"type": "log", "dtick": 1, "tickformat": ",.0f", "minor": {"showgrid": False}},
        showlegend=False)
    panels["rfm-scatter"] = scatter

    if data.has_churn:
        risk = go.Figure()
        for s in order:
            p = by_segment.get_group(s)["churn_probability"].to_numpy()  # for the whiskers' ends
            row = summary.loc[s]
            q1, median, q3 = (float(row[f"churn_probability_p{q}"]) for q in (25, 50, 75))
            iqr = q3 - q1
            risk.add_trace(go.Box(
                name=s, legendgroup=s, x=[s], q1=[q1], median=[median], q3=[q3],
                lowerfence=[max(p.min(), q1 - 1.5 * iqr)], upperfence=[min(p.max(), q3 + 1.5 * iqr)],
                mean=[float(row["mean_churn_probability"])], marker_color=colour[s], boxpoints=False))
        risk.update_layout(title="Churn probability by segment (box: middle half; line: median)",
                           yaxis_title="churn probability", yaxis_range=[0, 1], showlegend=False)
        panels["churn-risk"] = risk
        panels["revenue-at-risk"] = bars(summary["revenue_at_risk"],
                                         "Revenue at risk by segment (spend × churn probability)",
                                         "revenue at risk (BRL)", ",.0f")

    if data.has_value:
        panels["p-alive"] = bars(summary["mean_p_alive"], "Mean P(alive) by segment",
                                 "P(alive)", ".2f")
        panels["value-at-risk"] = bars(summary["value_at_risk"],
                                       "Value at risk by segment (CLV × (1 − P(alive)))",
                                       "value at risk (BRL)", ",.0f")
    if "alert_status" in customers and customers["alert_status"].notna().any():
        status = customers.groupby(["alert_status", "segment"]).size().unstack(fill_value=0)
        alerts = go.Figure()
        for s in order:
            counts = status[s] if s in status else pd.Series(dtype=int)
            alerts.add_trace(go.Bar(
                x=ALERT_STATUSES, y=[int(counts.get(a, 0)) for a in ALERT_STATUSES], name=s,
                legendgroup=s, marker_color=colour[s],
                hovertemplate=f"{s}: %{{y:,}}<extra>%{{x}}</extra>"))
        alerts.update_layout(barmode="stack", title="Churn alerts: customers by status",
                             yaxis_title="customers", showlegend=False)
        panels["churn-alerts"] = alerts

    if data.has_clusters:
        labelled = customers.dropna(subset=["cluster_label"])
        cells = cluster_cells(labelled)
        profile = cells.groupby("cluster_label", sort=False)["customers"].sum().sort_values(ascending=False)
        z, text, rows = cluster_profile(cells, list(profile.index), set(order))
        heat = go.Figure(go.Heatmap(
            z=z, x=["mean recency (days)", "mean orders", "mean spend (BRL)"], y=rows, text=text,
            texttemplate="%{text}", colorscale="RdBu", zmid=0, showscale=False,
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>"))
        # The page recomputes z, text and row names from `cells` for the segments ticked at the top.
        heat.update_layout(title="Cluster profiles (colour: above or below the average cluster)",
                           yaxis_autorange="reversed",
                           meta={"cells": cells.to_dict("records"), "clusters": list(profile.index)})
        panels["cluster-profiles"] = heat

        mix = go.Figure()
        counts = labelled.groupby(["cluster_label", "segment"]).size().unstack(fill_value=0)
        counts = counts.reindex(list(profile.index))
        for s in order:
            if s in counts:
                mix.add_trace(go.Bar(x=counts.index, y=counts[s], name=s, legendgroup=s,
                                     marker_color=colour[s],
                                     hovertemplate=f"{s}: %{{y:,}}<extra>%{{x}}</extra>"))
        mix.update_layout(barmode="stack", title="RFM segments within each k-means cluster",
                          yaxis_title="customers", showlegend=False)
        panels["cluster-segments"] = mix

    for fig in panels.values():
        fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 60},
                          font={"size": 12}, title_font_size=15, height=380)
    captions = {"rfm-scatter": f"{CAPTIONS['rfm-scatter']} Marker size = orders; a sample of "
                               f"{len(sample):,} of {len(customers):,} customers."}
    return {key: {**fig.to_plotly_json(), "caption": captions.get(key, CAPTIONS.get(key, ""))}
            for key, fig in panels.items()}


PROFILE_COLUMNS = ("recency_days", "frequency", "monetary")
ALERT_STATUSES = ["active", "alert", "critical", "churned"]


def cluster_cells(labelled: pd.DataFrame) -> pd.DataFrame:
    """Customers and R/F/M sums per (cluster, segment): enough to rebuild the cluster profiles for
    any choice of segments, in the page, without shipping every customer."""
    grouped = labelled.groupby(["cluster_label", "segment"], sort=False)
    cells = grouped.agg(customers=("customer_id", "size"),
                        **{c: (c, "sum") for c in PROFILE_COLUMNS}).reset_index()
    return cells.astype({c: float for c in PROFILE_COLUMNS})


def cluster_profile(cells: pd.DataFrame, clusters: list[str], segments: set[str]
                    ) -> tuple[list[list[float | None]], list[list[str]], list[str]]:
    """(z, text, row names) of the heatmap for the chosen segments: each cluster's mean R/F/M,
    coloured by how far it is from the average cluster (the page's JavaScript mirrors this)."""
    chosen = cells[cells["segment"].isin(segments)].groupby("cluster_label")[
        ["customers", *PROFILE_COLUMNS]].sum().reindex(clusters)
    counts = chosen["customers"].fillna(0)
    means = chosen[list(PROFILE_COLUMNS)].div(counts.where(counts > 0), axis=0)
    z = (means - means.mean()) / means.std(ddof=0).replace(0, 1).fillna(1)
    text = [[f"{v:,.1f}" if pd.notna(v) else "–" for v in row] for row in means.to_numpy()]
    return ([[None if pd.isna(v) else float(v) for v in row] for row in z.to_numpy()], text,
            [f"{label} ({int(n):,})" for label, n in counts.items()])


def segment_table(data: DashboardData) -> pd.DataFrame:
    """Per segment, from the segment_summary mart: size, revenue, recency, orders (and churn risk
    once a model has scored), with each segment's rule and suggested action."""
    summary = data.summary.set_index("segment")
    order = rfm_segments.segment_order(summary.index)
    columns = ["customers", "revenue", "mean_recency_days", "mean_orders"]
    if data.has_churn:
        columns += ["churn_probability_sum", "flagged", "revenue_at_risk"]
    if data.has_value:
        columns += ["clv", "value_at_risk", "need_contact"]
    table = summary[columns].copy()
    if data.has_churn:
        table["flagged"] = table["flagged"].astype(int)
    known = {s.name: s for s in SEGMENTS}
    table["rule"] = [known[s].rule if s in known else "" for s in table.index]
    table["action"] = [known[s].action if s in known else "" for s in table.index]
    return table.reindex(order)


# -- the page -------------------------------------------------------------------------------------
def render(data: DashboardData, *, title: str = "rfmkit · customer dashboard", seed: int = 42,
           generated: datetime | None = None) -> str:
    import jinja2
    import plotly.offline

    env = jinja2.Environment(loader=jinja2.PackageLoader("rfmkit", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    panels = figures(data, seed=seed)
    table = segment_table(data)
    rows = table.reset_index(names="segment").to_dict("records")
    colour = segment_colours(list(table.index))
    return env.get_template(TEMPLATE).render(
        title=title, generated=(generated or datetime.now()).strftime("%Y-%m-%d %H:%M"),
        sources=data.sources, note=data.model_note, has_churn=data.has_churn,
        has_value=data.has_value,
        has_clusters=data.has_clusters, segments=list(colour.items()),
        panels=[(key, figure.pop("caption")) for key, figure in panels.items()], rows=rows,
        payload=_script_json({"figures": panels, "segments": rows}),
        plotly_js=plotly.offline.get_plotlyjs())


def _script_json(value) -> str:
    """JSON safe inside a <script> element (no '</' that could close it)."""
    import plotly.utils

    return json.dumps(value, cls=plotly.utils.PlotlyJSONEncoder).replace("</", "<\\/")


def write(cfg: RunConfig, path: Path | None = None, **options) -> Path:
    """Write the dashboard for the run's exports (default `<run>/dashboard.html`)."""
    path = Path(path or cfg.run_dir / FILE_NAME)
    html = render(load(cfg), seed=cfg.seed, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
