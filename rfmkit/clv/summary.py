"""Each customer summarised for the customer-value models, in SQL (sql/100, sql/105).

`Period` holds the parameters (calibration end, hold-out end, time unit) and checks them against
the data; `summarise` runs the model and returns one row per customer: frequency, recency, T,
monetary_value and the hold-out's actual purchases and spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from rfmkit.warehouse.base import Warehouse

PARAMETERS_SQL, SUMMARY_SQL = "100_clv_parameters.sql", "105_clv_summary.sql"
DAYS_PER_UNIT = {"days": 1, "weeks": 7}


class ClvDataError(ValueError):
    """A parameter does not fit the data (the message names it and says why)."""


def _as_date(value: date | str, parameter: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ClvDataError(f"parameter {parameter}={value!r}: use YYYY-MM-DD") from None


@dataclass(frozen=True)
class Period:
    """calibration_end: the last day the models learn from (inclusive); holdout_end: the last day
    of the hold-out that checks them (None: no hold-out); time_unit: 'days' or 'weeks'."""

    calibration_end: date
    holdout_end: date | None = None
    time_unit: str = "days"

    @classmethod
    def of(cls, calibration_end: date | str, holdout_end: date | str | None = None,
           time_unit: str = "days") -> Period:
        if time_unit not in DAYS_PER_UNIT:
            raise ClvDataError(f"parameter time_unit={time_unit!r}: use one of "
                               f"{sorted(DAYS_PER_UNIT)}")
        end = _as_date(calibration_end, "calibration_end")
        holdout = None if holdout_end in (None, "") else _as_date(holdout_end, "holdout_end")
        if holdout is not None and holdout <= end:
            raise ClvDataError(f"parameter holdout_end={holdout} must be after calibration_end="
                               f"{end}: the hold-out is the time after calibration")
        return cls(end, holdout, time_unit)

    @property
    def days_per_unit(self) -> int:
        return DAYS_PER_UNIT[self.time_unit]

    def units(self, days: float) -> float:
        """A number of days in this period's time unit."""
        return days / self.days_per_unit

    @property
    def holdout_units(self) -> float:
        return 0.0 if self.holdout_end is None else \
            self.units((self.holdout_end - self.calibration_end).days)


def purchase_range(warehouse: Warehouse) -> tuple[date, date]:
    """First and last purchase day in fct_orders."""
    frame = warehouse.query("SELECT MIN(order_date) AS first_day, MAX(order_date) AS last_day "
                            "FROM fct_orders WHERE is_purchase")
    first, last = frame["first_day"].iloc[0], frame["last_day"].iloc[0]
    if pd.isna(first):
        raise ClvDataError("fct_orders has no purchases: run the RFM models (notebook 02) on "
                           "data with purchases first")
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def check_against_data(period: Period, warehouse: Warehouse) -> None:
    """A calibration end before the first purchase has no customers; one after the last purchase
    would age every customer by days with no data (P(alive) too low); a hold-out that runs past
    the data would count purchases nobody could have made yet."""
    first, last = purchase_range(warehouse)
    if period.calibration_end < first:
        raise ClvDataError(f"parameter calibration_end={period.calibration_end} is before the "
                           f"first purchase ({first}): no customer to learn from")
    if period.calibration_end > last:
        raise ClvDataError(f"parameter calibration_end={period.calibration_end} is after the "
                           f"last purchase ({last}): customers would age by days without data; "
                           f"use a date on or before {last}")
    if period.holdout_end is not None and period.holdout_end > last:
        raise ClvDataError(f"parameter holdout_end={period.holdout_end} is after the last "
                           f"purchase ({last}): the hold-out would miss purchases; use a date "
                           f"on or before {last}")


def default_periods(warehouse: Warehouse, holdout_days: int, time_unit: str = "days"
                    ) -> tuple[Period, Period]:
    """(validation, scoring): validation learns from all but the last `holdout_days` and is
    checked on them; scoring learns from everything up to the last purchase day."""
    if int(holdout_days) < 1:
        raise ClvDataError(f"parameter holdout_days={holdout_days!r}: must be at least 1")
    first, last = purchase_range(warehouse)
    calibration_end = last - timedelta(days=int(holdout_days))
    if calibration_end <= first:
        raise ClvDataError(f"parameter holdout_days={holdout_days}: the data span only "
                           f"{(last - first).days} days ({first} to {last}); nothing would be "
                           f"left to learn from")
    return (Period.of(calibration_end, last, time_unit), Period.of(last, None, time_unit))


def summarise(warehouse: Warehouse, period: Period) -> pd.DataFrame:
    """Run sql/105 for `period` and return its rows (one per customer, by customer_id)."""
    check_against_data(period, warehouse)
    warehouse.run_file(PARAMETERS_SQL)
    warehouse.execute(
        "INSERT INTO clv_parameters (calibration_end, holdout_end, days_per_unit) "
        "VALUES (CAST(:calibration_end AS DATE), CAST(:holdout_end AS DATE), :days_per_unit)",
        {"calibration_end": period.calibration_end.isoformat(),
         "holdout_end": (period.holdout_end or period.calibration_end).isoformat(),
         "days_per_unit": period.days_per_unit})
    warehouse.run_file(SUMMARY_SQL)
    frame = warehouse.query('SELECT customer_id, first_purchase_date, last_purchase_date, '
                            'frequency, recency, "T", monetary_value, holdout_purchases, '
                            'holdout_spend, holdout_length FROM clv_summary ORDER BY customer_id')
    return frame.astype({"frequency": int, "holdout_purchases": int, "recency": float,
                         "T": float, "monetary_value": float, "holdout_spend": float})

