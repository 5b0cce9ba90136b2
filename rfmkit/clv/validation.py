"""Does the purchase model describe the data? Calibration fit and hold-out checks, as tables
and the four figures of the literature (Fader, Hardie and Lee 2005; lifetimes' plots):
customers by repeat purchases (actual vs model), repeat purchases over time (weekly and
cumulative, actual vs model), hold-out purchases by calibration frequency, and P(alive) against
recency for a few frequencies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rfmkit.clv import models
from rfmkit.clv.summary import ClvDataError, Period
from rfmkit.warehouse.base import Warehouse

MAX_BUCKET = 7  # repeat purchases shown one by one, then "7+"

# Repeat purchase days per calendar day (a customer's first purchase day is not a repeat).
REPEATS_BY_DAY_SQL = """
WITH purchase_days AS (
    SELECT DISTINCT customer_id, order_date FROM fct_orders WHERE is_purchase
),
numbered AS (
    SELECT order_date,
           ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY order_date) AS purchase_number
    FROM purchase_days
)
SELECT order_date, COUNT(*) AS repeats
FROM numbered
WHERE purchase_number > 1 AND order_date <= CAST(:last_day AS DATE)
GROUP BY order_date
ORDER BY order_date
"""


@dataclass
class HoldoutCheck:
    """The model fitted on calibration, against what happened in the hold-out."""

    period: Period
    fitted: models.Fitted
    by_frequency: pd.DataFrame     # calibration frequency → customers, actual, expected
    over_time: pd.DataFrame        # week → actual and expected repeat purchases, cumulative
    repeat_counts: pd.DataFrame    # repeat purchases → customers, actual and model
    errors: dict[str, float]

    def __str__(self) -> str:
        e = self.errors
        return (f"hold-out {self.period.calibration_end} → {self.period.holdout_end}: "
                f"{e['actual_purchases']:,.0f} repeat purchases, the {self.fitted.label} expected "
                f"{e['expected_purchases']:,.0f} ({e['total_error_pct']:+.1f} %); per customer "
                f"mean absolute error {e['mae']:.3f}, RMSE {e['rmse']:.3f}")


def _bucket(frequency: pd.Series) -> pd.Series:
    return frequency.clip(upper=MAX_BUCKET)


def check_holdout(warehouse: Warehouse, summary: pd.DataFrame, fitted: models.Fitted,
                  period: Period, *, seed: int = 0, samples: int = 20) -> HoldoutCheck:
    """Compare the model fitted on the calibration summary with the hold-out's purchases."""
    if period.holdout_end is None:
        raise ClvDataError("the period has no hold-out: set holdout_end (or holdout_days)")
    actual = summary["holdout_purchases"].to_numpy(dtype=float)
    if actual.sum() == 0:
        raise ClvDataError(f"no customer bought in the hold-out {period.calibration_end} → "
                           f"{period.holdout_end}: nothing to check the model against; use an "
                           f"earlier calibration end or a longer hold-out")
    expected = models.expected_purchases(fitted, summary, period.holdout_units)
    frame = pd.DataFrame({"frequency": _bucket(summary["frequency"]), "actual": actual,
                          "expected": expected})
    by_frequency = frame.groupby("frequency").agg(customers=("actual", "size"),
                                                  actual=("actual", "mean"),
                                                  expected=("expected", "mean")).reset_index()
    errors = {"actual_purchases": float(actual.sum()), "expected_purchases": float(expected.sum()),
              "total_error_pct": float(100 * (expected.sum() - actual.sum()) / actual.sum()),
              "mae": float(np.mean(np.abs(expected - actual))),
              "rmse": float(np.sqrt(np.mean((expected - actual) ** 2)))}
    return HoldoutCheck(period, fitted, by_frequency,
                        _over_time(warehouse, summary, fitted, period),
                        _repeat_counts(summary, fitted, seed=seed, samples=samples), errors)


def _over_time(warehouse: Warehouse, summary: pd.DataFrame, fitted: models.Fitted,
               period: Period) -> pd.DataFrame:
    """Weekly repeat purchases from the first purchase to the hold-out's end: actual, and the
    model's expectation for the customers (grouped by first purchase day)."""
    actual = warehouse.query(REPEATS_BY_DAY_SQL, {"last_day": period.holdout_end.isoformat()})
    first_day = pd.to_datetime(summary["first_purchase_date"]).min()
    weeks = pd.date_range(first_day, pd.Timestamp(period.holdout_end) + pd.Timedelta(days=7),
                          freq="7D")
    cohorts = pd.to_datetime(summary["first_purchase_date"]).value_counts()
    births, sizes = cohorts.index.to_numpy(), cohorts.to_numpy(dtype=float)
    ages = (weeks.to_numpy()[:, None] - births[None, :]) / np.timedelta64(1, "D")
    ages = np.clip(ages, 0, None) / period.days_per_unit
    grid = pd.DataFrame({"customer_id": np.arange(ages.size), "t": ages.ravel()})
    per_customer = models.expected_new_customer(fitted, grid).reshape(ages.shape)
    cumulative_expected = per_customer @ sizes
    days = pd.to_datetime(actual["order_date"])
    cumulative_actual = np.array([actual.loc[days < w, "repeats"].sum() for w in weeks])
    table = pd.DataFrame({"week": weeks, "actual_cumulative": cumulative_actual,
                          "expected_cumulative": cumulative_expected})
    table["actual"] = table["actual_cumulative"].diff().fillna(0)
    table["expected"] = table["expected_cumulative"].diff().fillna(0)
    table["holdout"] = table["week"] > pd.Timestamp(period.calibration_end)
    return table.iloc[1:].reset_index(drop=True)


def _repeat_counts(summary: pd.DataFrame, fitted: models.Fitted, *, seed: int, samples: int
                   ) -> pd.DataFrame:
    """Customers by repeat purchases in calibration: actual, and the model's (simulated for
    each customer's own age T, `samples` times, averaged)."""
    simulated = models.simulate_frequency(fitted, summary, seed=seed, samples=samples)
    buckets = np.arange(MAX_BUCKET + 1)
    model = np.array([(np.minimum(simulated, MAX_BUCKET) == b).sum() / samples for b in buckets])
    actual = _bucket(summary["frequency"]).value_counts().reindex(buckets, fill_value=0)
    return pd.DataFrame({"repeat_purchases": [*map(str, buckets[:-1]), f"{MAX_BUCKET}+"],
                         "actual": actual.to_numpy(), "model": model})


def p_alive_curves(fitted: models.Fitted, T: float, frequencies=(1, 2, 3, 5)) -> pd.DataFrame:
    """P(alive) for customers of age T by recency, one curve per repeat frequency."""
    recency = np.linspace(0, T, 40)
    grid = pd.DataFrame([(f, r) for f in frequencies for r in recency],
                        columns=["frequency", "recency"])
    grid["T"], grid["customer_id"] = T, np.arange(len(grid))
    grid["p_alive"] = models.p_alive(fitted, grid)
    return grid


def figures(check: HoldoutCheck, curves: pd.DataFrame):
    """The four validation figures in one 2×2 figure."""
    unit = check.period.time_unit
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    counts = check.repeat_counts
    x = np.arange(len(counts))
    axes[0, 0].bar(x - 0.2, counts["actual"], 0.4, label="actual", color="#4C72B0")
    axes[0, 0].bar(x + 0.2, counts["model"], 0.4, label=check.fitted.label, color="#DD8452")
    axes[0, 0].set_xticks(x, counts["repeat_purchases"])
    axes[0, 0].set_yscale("log")
    axes[0, 0].set(title="Customers by repeat purchases in calibration",
                   xlabel="repeat purchases", ylabel="customers (log scale)")
    time = check.over_time
    axes[0, 1].plot(time["week"], time["actual_cumulative"], label="actual", color="#4C72B0")
    axes[0, 1].plot(time["week"], time["expected_cumulative"], "--", label=check.fitted.label,
                    color="#DD8452")
    twin = axes[0, 1].twinx()
    twin.plot(time["week"], time["actual"], color="#4C72B0", alpha=0.35, lw=0.8)
    twin.plot(time["week"], time["expected"], color="#DD8452", alpha=0.5, lw=0.8)
    twin.set_ylabel("weekly (thin lines)")
    axes[0, 1].axvline(pd.Timestamp(check.period.calibration_end), color="grey", ls=":")
    axes[0, 1].set(title="Repeat purchases over time (hold-out right of the dotted line)",
                   ylabel="cumulative")
    axes[0, 1].tick_params(axis="x", labelrotation=30)
    freq = check.by_frequency
    labels = [*map(str, freq["frequency"].iloc[:-1]), f"{freq['frequency'].iloc[-1]}"
              + ("+" if freq["frequency"].iloc[-1] == MAX_BUCKET else "")]
    axes[1, 0].plot(labels, freq["actual"], "o-", label="actual", color="#4C72B0")
    axes[1, 0].plot(labels, freq["expected"], "s--", label=check.fitted.label, color="#DD8452")
    axes[1, 0].set(title="Hold-out purchases by calibration frequency (mean per customer)",
                   xlabel="repeat purchases in calibration", ylabel="hold-out purchases")
    for frequency, curve in curves.groupby("frequency"):
        axes[1, 1].plot(curve["recency"], curve["p_alive"], label=f"{frequency} repeat(s)")
    axes[1, 1].set(title=f"P(alive) by recency at age T = {curves['T'].iloc[0]:.0f} {unit}",
                   xlabel=f"recency ({unit} from first to last purchase)", ylabel="P(alive)",
                   ylim=(0, 1.02))
    for ax in axes.ravel():
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def save(check: HoldoutCheck, truth: pd.DataFrame | None, run_dir) -> Path:
    """Keep the hold-out check (and the truth comparison) in <run>/customer_value/ for reports."""
    import json

    folder = Path(run_dir) / "customer_value"
    folder.mkdir(parents=True, exist_ok=True)
    check.by_frequency.to_csv(folder / "holdout_by_frequency.csv", index=False)
    record = {"model": check.fitted.label, "calibration_end": str(check.period.calibration_end),
              "holdout_end": str(check.period.holdout_end), "errors": check.errors,
              "params": check.fitted.params,
              "truth": None if truth is None else truth.reset_index(names="parameter")
              .to_dict(orient="records")}
    path = folder / "validation.json"
    path.write_text(json.dumps(record, indent=2))
    return path


def against_truth(fitted: models.Fitted, data_dir) -> pd.DataFrame | None:
    """For generated data (generation.json beside the files): the generator's true purchase
    parameters against the fitted ones, with standard errors, and the likelihood-ratio statistic
    2·(LL(fitted) − LL(truth)), which is below 13.3 (χ², 4 d.f., 99 %) when the truth is
    inside the fit's 99 % confidence region. None for data that was not generated."""
    import json

    record = Path(data_dir) / "generation.json"
    if not record.exists():
        return None
    process = json.loads(record.read_text()).get("latent_process", {}).get("purchases")
    if not process or process["model"] != fitted.label:
        return None
    truth = {name: float(process[name]) for name in fitted.params}
    table = pd.DataFrame({"truth": truth, "fitted": fitted.params,
                          "standard_error": fitted.standard_errors})
    table["ratio_test"] = 2 * (fitted.log_likelihood - models.log_likelihood_at(fitted, truth))
    return table
