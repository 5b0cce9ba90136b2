"""Figures shared by the notebooks and the dashboard (matplotlib, no display assumptions)."""

from __future__ import annotations

import matplotlib.pyplot as plt
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
