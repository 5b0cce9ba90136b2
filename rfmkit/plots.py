"""Figures shared by the notebooks and the dashboard (matplotlib, no display assumptions)."""

from __future__ import annotations

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
