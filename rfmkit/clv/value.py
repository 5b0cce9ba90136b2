"""The customer_value table: every customer's P(alive), expected purchases, expected order value,
CLV and value at risk, from models fitted on everything up to the snapshot (notebook 05)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rfmkit import marts
from rfmkit.clv import models
from rfmkit.clv.summary import Period, summarise
from rfmkit.warehouse.base import Warehouse

TABLE, DDL = "customer_value", "110_customer_value.sql"
HORIZONS_DAYS = (30, 90, 365)


@dataclass
class ValueSettings:
    """The parameters of notebook 05 that shape customer_value."""

    purchase_model: str = "mbgnbd"
    clv_months: int = 12
    monthly_discount_rate: float = 0.01
    p_alive_threshold: float = 0.5

    def check(self) -> ValueSettings:
        if not 1 <= int(self.clv_months) <= 120:
            raise ValueError(f"parameter clv_months={self.clv_months!r}: use 1 to 120 months")
        if not 0 <= float(self.monthly_discount_rate) < 1:
            raise ValueError(f"parameter monthly_discount_rate={self.monthly_discount_rate!r}: "
                             f"use a rate in [0, 1), e.g. 0.01 for 1 % a month")
        if not 0 < float(self.p_alive_threshold) < 1:
            raise ValueError(f"parameter p_alive_threshold={self.p_alive_threshold!r}: use a "
                             f"probability strictly between 0 and 1")
        return self


@dataclass
class ValueRun:
    period: Period
    purchases: models.Fitted
    spend: models.Fitted
    rows: pd.DataFrame
    exported: list[Path]
    seconds: float

    def __str__(self) -> str:
        flagged = int(self.rows["churn_label"].sum())
        return (f"{len(self.rows):,} customers valued in {self.seconds:.1f} s "
                f"({self.purchases.label} + Gamma-Gamma, as of {self.period.calibration_end}); "
                f"P(alive) median {self.rows['p_alive'].median():.2f}; {flagged:,} "
                f"({flagged / len(self.rows):.1%}) below the threshold; total CLV "
                f"{self.rows['clv'].sum():,.0f}, value at risk {self.rows['value_at_risk'].sum():,.0f}")


def value_frame(summary: pd.DataFrame, purchases: models.Fitted, spend: models.Fitted,
                period: Period, settings: ValueSettings) -> pd.DataFrame:
    """One row per customer of `summary`, in customer_value's columns."""
    alive = np.clip(models.p_alive(purchases, summary), 0.0, 1.0)
    frame = summary[["customer_id", "frequency", "recency", "T"]].copy()
    frame["p_alive"] = alive
    months = int(settings.clv_months)
    month = models.UNITS_PER_MONTH[period.time_unit]
    horizons = np.r_[[period.units(d) for d in HORIZONS_DAYS], month * np.arange(1, months + 1)]
    cumulative = models.cumulative_purchases(purchases, summary, horizons)
    for i, days in enumerate(HORIZONS_DAYS):
        frame[f"expected_purchases_{days}d"] = cumulative[:, i]
    order_value = models.expected_order_value(spend, summary)
    frame["expected_order_value"] = order_value
    frame["clv"] = models.lifetime_value(cumulative[:, len(HORIZONS_DAYS):], order_value,
                                         settings.monthly_discount_rate)
    frame["value_at_risk"] = frame["clv"] * (1 - alive)
    frame["churn_risk"] = 1 - alive
    frame["churn_label"] = (alive < settings.p_alive_threshold).astype(int)
    frame["value_model"] = f"{purchases.label} + {spend.label}"
    frame["time_unit"] = period.time_unit
    frame["clv_months"] = int(settings.clv_months)
    frame["calibration_end"] = period.calibration_end
    numbers = frame.select_dtypes("number")
    if not np.isfinite(numbers.to_numpy(dtype=float)).all():
        bad = numbers.columns[~np.isfinite(numbers.to_numpy(dtype=float)).all(axis=0)]
        raise models.ClvModelError(f"the fitted models gave non-finite values in {list(bad)}")
    return frame


def value_customers(warehouse: Warehouse, backend, period: Period,
                    settings: ValueSettings | None = None) -> ValueRun:
    """Summarise every customer as of `period`, fit both models on them, write customer_value
    (audited COPY) and export it with the backend's exporter."""
    settings = (settings or ValueSettings()).check()
    started = time.perf_counter()
    summary = summarise(warehouse, period)
    purchases = models.fit_purchases(summary, settings.purchase_model)
    spend = models.fit_spend(summary)
    rows = value_frame(summary, purchases, spend, period, settings)
    _, exported = marts.write_mart(warehouse, backend, TABLE, DDL, rows, area="customer_value")
    return ValueRun(period, purchases, spend, rows, exported, time.perf_counter() - started)
