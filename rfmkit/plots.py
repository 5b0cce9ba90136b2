"""Figures shared by the notebooks and the dashboard (matplotlib, no display assumptions)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def loaded_data_overview(monthly: pd.DataFrame, payment_mix: pd.DataFrame,
                         status_mix: pd.DataFrame):
    """Orders per month, payment types and order statuses of the loaded data, side by side.

    monthly: month, orders, revenue; payment_mix: payment_type, rows; status_mix: status, orders.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), gridspec_kw={"width_ratios": [2.2, 1, 1]})
    ax = axes[0]
    months = pd.to_datetime(monthly["month"])
    ax.bar(months, monthly["orders"], width=20, color="#4C72B0")
    ax.set_title("Orders per purchase month")
    ax.set_ylabel("orders")
    twin = ax.twinx()
    twin.plot(months, monthly["revenue"] / 1e3, color="#DD8452", marker=".")
    twin.set_ylabel("payments (thousand BRL)", color="#DD8452")
    mix = payment_mix.sort_values("rows")
    axes[1].barh(mix["payment_type"], mix["rows"] / mix["rows"].sum() * 100, color="#55A868")
    axes[1].set_title("Payment rows by type (%)")
    status = status_mix.sort_values("orders")
    axes[2].barh(status["order_status"], status["orders"], color="#8172B2")
    axes[2].set_xscale("log")
    axes[2].set_title("Orders by status (log scale)")
    fig.tight_layout()
    return fig


def rfm_distributions(values: pd.DataFrame):
    """Histograms of recency (days), frequency (orders) and monetary (total spend, log scale).

    values: recency_days, frequency, monetary per customer.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    axes[0].hist(values["recency_days"], bins=50, color="#4C72B0")
    axes[0].set_title("Recency: days since last purchase")
    axes[0].set_xlabel("days")
    axes[0].set_ylabel("customers")
    counts = values["frequency"].value_counts().sort_index()
    axes[1].bar(counts.index.astype(str), counts.to_numpy(), color="#55A868")
    axes[1].set_yscale("log")
    axes[1].set_title("Frequency: orders per customer (log scale)")
    axes[1].set_xlabel("orders")
    spend = values["monetary"].astype(float)
    spend = spend[spend > 0]
    if len(spend):
        bins = np.logspace(np.log10(spend.min()), np.log10(spend.max()), 50)
        axes[2].hist(spend, bins=bins, color="#DD8452")
    axes[2].set_xscale("log")
    axes[2].set_title("Monetary: total spend (log scale)")
    axes[2].set_xlabel("spend")
    fig.tight_layout()
    return fig


def rf_heatmap(grid: pd.DataFrame):
    """R × F heatmaps of customer counts and of revenue share, one cell per score pair.

    grid: r_score, f_score, customers, revenue.
    """
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    index = pd.MultiIndex.from_product([range(5, 0, -1), range(1, 6)], names=["r_score", "f_score"])
    full = grid.set_index(["r_score", "f_score"]).reindex(index, fill_value=0)
    revenue_share = 100 * full["revenue"] / max(full["revenue"].sum(), 1e-9)
    for ax, series, title, fmt, cmap in (
            (axes[0], full["customers"], "Customers", "{:,.0f}", "Blues"),
            (axes[1], revenue_share, "Share of revenue (%)", "{:.1f}", "Oranges")):
        matrix = series.unstack("f_score").to_numpy(dtype=float)
        image = ax.imshow(matrix, cmap=cmap, aspect="auto")
        ax.set_xticks(range(5), [str(f) for f in range(1, 6)])
        ax.set_yticks(range(5), [str(r) for r in range(5, 0, -1)])
        ax.set_xlabel("F score (5 = most orders)")
        ax.set_ylabel("R score (5 = most recent)")
        ax.set_title(title)
        threshold = matrix.max() / 2 if matrix.max() > 0 else 1
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=9,
                    color="white" if value > threshold else "black")
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def segment_overview(summary: pd.DataFrame):
    """Customers and revenue share per named segment, side by side (empty segments shown).

    summary: segment, customer_share_%, revenue_share_% (rfm.segment_summary).
    """
    table = summary.iloc[::-1]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(table) + 1.2))
    y = np.arange(len(table))
    ax.barh(y + 0.2, table["customer_share_%"], height=0.4, color="#4C72B0", label="customers %")
    ax.barh(y - 0.2, table["revenue_share_%"], height=0.4, color="#DD8452", label="revenue %")
    ax.set_yticks(y, table["segment"])
    ax.set_xlabel("share (%)")
    ax.set_title("Segment sizes and revenue share")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def k_selection(metrics: pd.DataFrame, chosen_k: int | None = None, recommended_k: int | None = None):
    """Inertia (elbow), silhouette, Calinski-Harabasz and Davies-Bouldin against k.

    metrics: k, inertia, silhouette, calinski_harabasz, davies_bouldin (segmentation.selection).
    """
    panels = (("inertia", "Inertia (lower; look for the elbow)"),
              ("silhouette", "Silhouette (higher is better)"),
              ("calinski_harabasz", "Calinski-Harabasz (higher is better)"),
              ("davies_bouldin", "Davies-Bouldin (lower is better)"))
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    for ax, (column, title) in zip(axes, panels, strict=True):
        ax.plot(metrics["k"], metrics[column], marker="o", color="#4C72B0")
        if recommended_k is not None:
            ax.axvline(recommended_k, color="#55A868", linestyle="--", label=f"recommended k={recommended_k}")
        if chosen_k is not None:
            ax.axvline(chosen_k, color="#C44E52", linestyle=":", label=f"chosen k={chosen_k}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("k")
        ax.set_xticks(metrics["k"])
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def cluster_projection(points: np.ndarray, clusters: np.ndarray, centroids: np.ndarray,
                       labels: list[str], *, sample: int = 20_000, seed: int = 42):
    """Customers on the first two principal components of the standardised features.

    A seeded sample keeps the scatter readable and fast; centres are marked with their number.
    """
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    index = rng.choice(len(points), min(sample, len(points)), replace=False)
    pca = PCA(n_components=2, random_state=seed).fit(points)
    xy, centres = pca.transform(points[index]), pca.transform(centroids)
    fig, ax = plt.subplots(figsize=(8.5, 6))
    colours = plt.get_cmap("tab10")
    for c, label in enumerate(labels):
        mask = clusters[index] == c
        ax.scatter(xy[mask, 0], xy[mask, 1], s=4, alpha=0.35, color=colours(c % 10),
                   label=f"{c}: {label}")
        ax.scatter(*centres[c], s=180, marker="X", color=colours(c % 10), edgecolor="black")
        ax.annotate(str(c), centres[c], xytext=(6, 6), textcoords="offset points", weight="bold")
    share = pca.explained_variance_ratio_ * 100
    ax.set_xlabel(f"PC1 ({share[0]:.0f} % of variance)")
    ax.set_ylabel(f"PC2 ({share[1]:.0f} % of variance)")
    ax.set_title(f"Clusters on two principal components ({len(index):,} sampled customers)")
    ax.legend(markerscale=4, fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def snake_plot(z_centroids: np.ndarray, columns: list[str], labels: list[str]):
    """Each cluster's mean on every standardised feature (0 = the average customer)."""
    fig, ax = plt.subplots(figsize=(8.5, 4))
    colours = plt.get_cmap("tab10")
    for c, label in enumerate(labels):
        ax.plot(columns, z_centroids[c], marker="o", color=colours(c % 10), label=f"{c}: {label}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("mean, in standard deviations")
    ax.set_title("Snake plot: how each cluster differs from the average customer")
    ax.legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def cluster_sizes(profiles: pd.DataFrame):
    """Customer share and revenue share per cluster (segmentation.profiles.profile)."""
    table = profiles.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(table) + 1.3))
    y = np.arange(len(table))
    names = [f"{c}: {x}" for c, x in zip(table["cluster"], table["label"], strict=True)]
    ax.barh(y + 0.2, table["customer_share_%"], height=0.4, color="#4C72B0", label="customers %")
    ax.barh(y - 0.2, table["revenue_share_%"], height=0.4, color="#DD8452", label="revenue %")
    ax.set_yticks(y, names)
    ax.set_xlabel("share (%)")
    ax.set_title("Cluster sizes and revenue share")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def feature_distributions(standardised: np.ndarray, columns: list[str], log_columns: list[str]):
    """Histograms of the clustering features after log1p and standardisation."""
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 3.2), squeeze=False)
    for j, (ax, name) in enumerate(zip(axes[0], columns, strict=True)):
        ax.hist(standardised[:, j], bins=50, color="#4C72B0")
        ax.set_title(f"{'log1p, ' if name in log_columns else ''}standardised {name}", fontsize=10)
        ax.set_xlabel("standard deviations from the mean")
    axes[0][0].set_ylabel("customers")
    fig.tight_layout()
    return fig


def save_figure(fig, folder: str | Path, name: str) -> Path:
    """Save a figure as PNG into the run folder (figures/) for reports and the dashboard."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def churn_evaluation(evaluation, importance: pd.DataFrame, top: int = 12):
    """Held-out evaluation at a glance: ROC, precision-recall, calibration, cumulative gain,
    the confusion matrix at the cost-optimal threshold, and permutation importance.

    evaluation: churn.evaluation.Evaluation; importance: column, auc_drop_mean, auc_drop_std.
    """
    c = evaluation.curves
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    ax = axes[0, 0]
    ax.plot(c["fpr"], c["tpr"], color="#4C72B0", label=f"model (AUC {evaluation.roc_auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    ax.set(title="ROC curve (from probabilities)", xlabel="false positive rate", ylabel="true positive rate")
    ax.legend(loc="lower right")
    ax = axes[0, 1]
    ax.plot(c["recall"], c["precision"], color="#55A868", label=f"model (PR-AUC {evaluation.pr_auc:.3f})")
    ax.axhline(evaluation.base_rate, color="grey", linestyle="--", label=f"base rate {evaluation.base_rate:.2f}")
    ax.set(title="Precision-recall curve", xlabel="recall (churners caught)", ylabel="precision")
    ax.legend(loc="lower left")
    ax = axes[0, 2]
    if "uncalibrated_predicted" in c:
        before = f" (Brier {evaluation.brier_uncalibrated:.3f})" if evaluation.brier_uncalibrated is not None else ""
        ax.plot(c["uncalibrated_predicted"], c["uncalibrated_true"], marker="s", color="#999999",
                alpha=0.8, label=f"before calibration{before}")
    after = f" (Brier {evaluation.brier:.3f})" if evaluation.brier is not None else ""
    ax.plot(c["calibration_predicted"], c["calibration_true"], marker="o", color="#C44E52",
            label=f"model, calibrated{after}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    ax.set(title="Calibration on the hold-out (deciles of predicted risk)", xlabel="predicted churn probability",
           ylabel="observed churn rate")
    ax.legend(loc="upper left")
    ax = axes[1, 0]
    gain = c["gain"]
    ax.plot([0, *gain["customers_contacted_%"]], [0, *gain["churners_captured_%"]], marker="o",
            color="#8172B2", label="model")
    ax.plot([0, 100], [0, 100], color="grey", linestyle="--", label="random order")
    ax.set(title="Cumulative gain: contact the riskiest first", xlabel="customers contacted (%)",
           ylabel="churners reached (%)")
    for _, row in gain.iloc[[0, 1, 2]].iterrows():
        ax.annotate(f"lift {row['lift']:.1f}", (row["customers_contacted_%"], row["churners_captured_%"]),
                    xytext=(6, -12), textcoords="offset points", fontsize=8)
    ax.legend(loc="lower right")
    ax = axes[1, 1]
    matrix = evaluation.confusion.to_numpy()
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:,}", ha="center", va="center",
                color="white" if value > matrix.max() / 2 else "black", fontsize=12)
    ax.set_xticks([0, 1], evaluation.confusion.columns)
    ax.set_yticks([0, 1], evaluation.confusion.index)
    ax.set_title(f"Hold-out at the threshold {evaluation.threshold:.3f} (chosen {evaluation.threshold_source})",
                 fontsize=10)
    ax = axes[1, 2]
    shown = importance.head(top).iloc[::-1]
    ax.barh(shown["column"], shown["auc_drop_mean"], xerr=shown["auc_drop_std"], color="#DD8452")
    ax.set(title="Permutation importance (ROC-AUC lost when shuffled)", xlabel="AUC drop")
    fig.tight_layout()
    return fig


def churn_by_segment(table: pd.DataFrame):
    """Mean churn probability and revenue at risk per named segment.

    table: segment, customers, mean_churn_probability, revenue_at_risk (sorted as wanted).
    """
    shown = table.iloc[::-1]
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.45 * len(shown) + 1.5), sharey=True)
    axes[0].barh(shown["segment"], shown["mean_churn_probability"], color="#C44E52")
    axes[0].set(title="Mean predicted churn probability", xlabel="probability", xlim=(0, 1))
    axes[1].barh(shown["segment"], shown["revenue_at_risk"], color="#DD8452")
    axes[1].set(title="Revenue at risk (spend × churn probability)", xlabel="revenue")
    fig.tight_layout()
    return fig


def score_distribution(rows: pd.DataFrame, threshold: float | None = None):
    """Churn probability per named segment (box plots, riskiest median on top) and each
    segment's share of customers flagged for retention.

    rows: one per customer with segment, churn_probability and churn_label (customer_scores).
    """
    order = rows.groupby("segment")["churn_probability"].median().sort_values().index.tolist()
    groups = [rows.loc[rows["segment"] == s, "churn_probability"].to_numpy() for s in order]
    flagged = rows.groupby("segment")["churn_label"].mean().reindex(order)
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.45 * len(order) + 1.8), sharey=True,
                             gridspec_kw={"width_ratios": [3, 1]})
    axes[0].boxplot(groups, vert=False, showfliers=False, widths=0.6)
    axes[0].set_yticks(range(1, len(order) + 1), order)
    if threshold is not None:
        axes[0].axvline(threshold, color="#C44E52", linestyle="--", label=f"threshold {threshold:.2f}")
        axes[0].legend(loc="lower right")
    axes[0].set(title="Predicted churn probability by segment", xlabel="probability", xlim=(0, 1))
    axes[1].barh(range(1, len(order) + 1), flagged.to_numpy(), color="#DD8452")
    axes[1].set(title="Share flagged for retention", xlabel="share", xlim=(0, 1))
    fig.tight_layout()
    return fig


def latency(milliseconds: np.ndarray, title: str):
    """Histogram of request latencies with p50 and p99 marked."""
    p50, p99 = np.percentile(milliseconds, [50, 99])
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.hist(milliseconds, bins=40, color="#4C72B0")
    for value, name in ((p50, "p50"), (p99, "p99")):
        ax.axvline(value, color="#C44E52", linestyle="--")
        ax.annotate(f"{name} {value:.1f} ms", (value, ax.get_ylim()[1] * 0.9), rotation=90,
                    ha="right", va="top")
    ax.set(title=title, xlabel="milliseconds", ylabel="requests")
    fig.tight_layout()
    return fig


def customer_value(values: pd.DataFrame, segments: pd.DataFrame):
    """P(alive) across customers, and CLV against value at risk per RFM segment.

    values: customer_value rows (p_alive, clv, value_at_risk); segments: segment_summary rows
    in display order (segment, clv, value_at_risk)."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1, 1.4]})
    axes[0].hist(values["p_alive"], bins=np.linspace(0, 1, 41), color="#4C72B0")
    axes[0].set_yscale("log")
    axes[0].set(title="P(alive) across customers", xlabel="P(alive)", ylabel="customers (log)")
    y = np.arange(len(segments))
    axes[1].barh(y + 0.2, segments["clv"], 0.4, label="CLV", color="#55A868")
    axes[1].barh(y - 0.2, segments["value_at_risk"], 0.4, label="value at risk", color="#C44E52")
    axes[1].set_yticks(y, segments["segment"])
    axes[1].invert_yaxis()
    axes[1].set(title="Customer value by RFM segment", xlabel="total over the horizon")
    axes[1].legend()
    fig.tight_layout()
    return fig


def churn_alerts(table: pd.DataFrame, ratios: tuple[float, float, float] = (0.8, 1.0, 1.2)):
    """Distance to churn: customers and value at risk by status, and the overdue ratio (days
    since the last purchase over the critical gap) with the alert, critical and churned lines.

    table: churn_alerts rows (status, overdue_ratio, value_at_risk)."""
    order = ["active", "alert", "critical", "churned"]
    colour = {"active": "#55A868", "alert": "#DD8452", "critical": "#C44E52", "churned": "#8C8C8C"}
    by_status = table.groupby("status").agg(customers=("customer_id", "size"),
                                            value_at_risk=("value_at_risk", "sum"))
    by_status = by_status.reindex(order, fill_value=0)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    axes[0].bar(order, by_status["customers"], color=[colour[s] for s in order])
    axes[0].set(title="Customers by status", ylabel="customers")
    axes[1].bar(order, by_status["value_at_risk"], color=[colour[s] for s in order])
    axes[1].set(title="Value at risk by status", ylabel="CLV × (1 − P(alive))")
    axes[2].hist(table["overdue_ratio"].clip(upper=3), bins=60, color="#4C72B0")
    for ratio, name in zip(ratios, ("alert", "critical", "churned"), strict=True):
        axes[2].axvline(ratio, color=colour[name], ls="--", label=f"{name} at {ratio}×")
    axes[2].set(title="Days since last purchase ÷ critical gap (capped at 3)",
                xlabel="overdue ratio", ylabel="customers")
    axes[2].legend()
    fig.tight_layout()
    return fig


def call_trajectories(trajectories: pd.DataFrame, threshold: float | None = None):
    """Each simulated call's churn probability, score by score (call start, sentiment events, a
    contract offer marked), coloured by the call's mood.

    trajectories: simulator.Simulation.trajectories() rows (contact_id, mood, step, event,
    churn_probability)."""
    colour = {"calm": "#55A868", "annoyed": "#DD8452", "angry": "#C44E52"}
    fig, ax = plt.subplots(figsize=(9, 4))
    for (_, mood), call in trajectories.groupby(["contact_id", "mood"], sort=False):
        ax.plot(call["step"], call["churn_probability"], marker="o", markersize=3, alpha=0.8,
                color=colour.get(mood, "#4C72B0"))
        offers = call[call["event"] == "contract offer"]
        ax.scatter(offers["step"], offers["churn_probability"], marker="*", s=140, color="black", zorder=3)
    if threshold is not None:
        ax.axhline(threshold, color="#8C8C8C", linestyle="--", label=f"threshold {threshold:.2f}")
    for mood, hue in colour.items():
        ax.plot([], [], color=hue, label=f"{mood} call")
    ax.scatter([], [], marker="*", s=140, color="black", label="contract offer")
    ax.set(xlabel="score during the call (0 = call start)", ylabel="churn probability", ylim=(0, 1),
           title="Churn risk during each simulated call")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=8, ncol=5, frameon=False)
    fig.tight_layout()
    return fig


def drift_timeline(summaries: list[dict], drift_from: int | None = None, shown: int = 4):
    """Drift distance per window for the columns that moved most (and the prediction), their
    thresholds, the windows that raised an alarm, and where a planted drift began."""
    judged = [s for s in summaries if s["judged"]]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    if not judged:
        ax.set(title="No window judged yet")
        return fig
    distances = pd.DataFrame([{c["column"]: c["distance"] for c in s["columns"]} for s in judged],
                             index=[s["index"] for s in judged])
    top = distances.max().sort_values(ascending=False).index[:shown].tolist()
    if "churn_probability" in distances and "churn_probability" not in top:
        top.append("churn_probability")
    for column in top:
        ax.plot(distances.index, distances[column], marker="o", label=column)
    threshold = judged[0]["settings"]["numeric_distance"]
    ax.axhline(threshold, color="#C44E52", linestyle="--", label=f"threshold {threshold:g}")
    for s in judged:
        if s["alarm"]:
            ax.axvspan(s["index"] - 0.4, s["index"] + 0.4, color="#C44E52", alpha=0.12)
    if drift_from is not None:
        ax.axvline(drift_from - 0.5, color="black", linestyle=":", label="drift planted")
    ax.set(title="Drift distance per window (shaded: alarm)", xlabel="window",
           ylabel="distance (normed Wasserstein / Jensen-Shannon)")
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def detection_power(table: pd.DataFrame, rows: int):
    """Share of windows flagged per planted shift size (0 = no drift: the false-alarm rate)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    labels = [f"{s:g} sd" if s else "none" for s in table["shift_sd"]]
    colours = ["#8C8C8C" if s == 0 else "#4C72B0" for s in table["shift_sd"]]
    ax.bar(labels, table["rate"], color=colours)
    for x, (rate, upper) in enumerate(zip(table["rate"], table["upper_95"], strict=True)):
        ax.annotate(f"{rate:.0%}", (x, rate), ha="center", va="bottom")
        ax.plot([x, x], [rate, upper], color="black", linewidth=1)
    ax.set(title=f"Windows of {rows} rows flagged, by planted shift (line: 95 % upper bound)",
           xlabel="shift of one column", ylabel="share flagged", ylim=(0, 1.1))
    fig.tight_layout()
    return fig
