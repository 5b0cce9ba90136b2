"""Customer value: the SQL summary (given/expect), the models against the literature and against
the generator's truth, the customer_value table, and bad input."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from test_churn import orders_warehouse

from rfmkit.clv import literature, models, summary, validation, value
from rfmkit.clv.summary import ClvDataError, Period
from rfmkit.warehouse.duckdb import DuckDBWarehouse

# a: three purchase days (two orders on the first day), one in the hold-out; b: one purchase only;
# c: a repeat purchase worth 0; d: first purchase after the calibration end (not summarised);
# e: a return (not a purchase) does not count
ROWS = [("a", "a1", "2020-01-01", 10, True), ("a", "a2", "2020-01-01", 5, True),
        ("a", "a3", "2020-01-15", 30, True), ("a", "a4", "2020-01-29", 20, True),
        ("a", "a5", "2020-02-26", 7, True),
        ("b", "b1", "2020-01-08", 50, True),
        ("c", "c1", "2020-01-01", 40, True), ("c", "c2", "2020-01-22", 0, True),
        ("d", "d1", "2020-02-05", 9, True),
        ("e", "e1", "2020-01-01", 12, True), ("e", "e2", "2020-01-10", -12, False)]


def test_105_clv_summary_given_expect():
    warehouse = orders_warehouse(ROWS)
    period = Period.of("2020-01-29", "2020-02-26", "weeks")
    got = summary.summarise(warehouse, period)
    got = got.set_index("customer_id")
    assert list(got.index) == ["a", "b", "c", "e"]  # d's first purchase is after calibration
    assert got.loc["a", ["frequency", "recency", "T"]].tolist() == [2, 4.0, 4.0]
    assert got.loc["a", "monetary_value"] == 25.0  # the first day (15) is left out
    assert got.loc["a", ["holdout_purchases", "holdout_spend", "holdout_length"]].tolist() == [1, 7.0, 4.0]
    assert got.loc["b", ["frequency", "recency", "T", "monetary_value"]].tolist() == [0, 0.0, 3.0, 0.0]
    assert got.loc["c", ["frequency", "monetary_value"]].tolist() == [1, 0.0]  # a repeat worth 0
    assert got.loc["e", ["frequency", "recency"]].tolist() == [0, 0.0]  # the return is no purchase
    days = summary.summarise(warehouse, Period.of("2020-01-29", None, "days"))
    assert days.set_index("customer_id").loc["a", ["recency", "T", "holdout_purchases"]].tolist() == [28.0, 28.0, 0]


def test_the_sql_parses_as_redshift():
    import sqlglot

    from rfmkit.paths import SQL_DIR
    for name in ("100_clv_parameters.sql", "105_clv_summary.sql", "110_customer_value.sql",
                 "115_alert_parameters.sql", "116_churn_alerts.sql", "117_churn_alerts_model.sql",
                 "120_notification_audit.sql"):
        assert sqlglot.parse((SQL_DIR / name).read_text(), read="redshift"), name


@pytest.mark.parametrize("kwargs, message", [
    ({"calibration_end": "2020-03-01"}, "is after the last purchase"),
    ({"calibration_end": "2019-12-01"}, "is before the first purchase"),
    ({"calibration_end": "2020-01-29", "holdout_end": "2020-01-20"}, "must be after calibration_end"),
    ({"calibration_end": "2020-01-29", "holdout_end": "2020-04-01"}, "holdout_end=2020-04-01 is after"),
    ({"calibration_end": "2020/01/29"}, "calibration_end='2020/01/29': use YYYY-MM-DD"),
    ({"calibration_end": "2020-01-29", "time_unit": "months"}, "time_unit='months'"),
])
def test_bad_periods_name_the_parameter(kwargs, message):
    warehouse = orders_warehouse(ROWS)
    with pytest.raises(ClvDataError, match=message):
        summary.summarise(warehouse, Period.of(**kwargs))


def test_holdout_days_longer_than_the_data_is_refused():
    with pytest.raises(ClvDataError, match="holdout_days=90: the data span only 56 days"):
        summary.default_periods(orders_warehouse(ROWS), 90)


def test_models_refuse_data_they_cannot_learn_from():
    one_purchase = pd.DataFrame({"customer_id": range(50), "frequency": 0, "recency": 0.0,
                                 "T": 10.0, "monetary_value": 0.0})
    with pytest.raises(models.ClvModelError, match="no customer bought twice"):
        models.fit_purchases(one_purchase)
    with pytest.raises(models.ClvModelError, match="purchase_model='nbd'"):
        models.fit_purchases(one_purchase, "nbd")
    with pytest.raises(models.ClvModelError, match="0 repeat buyer"):
        models.fit_spend(one_purchase)
    with pytest.raises(models.ClvModelError, match="2 customer"):
        models.fit_purchases(one_purchase.head(2))


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    """CDNOW through the generic log path, with the BG/NBD and Gamma-Gamma fitted (the full
    reproduction, Pareto/NBD included, runs in notebook 05 and is checked in test_notebooks)."""
    path = literature.cdnow_sample()
    if path is None:
        pytest.skip("the CDNOW sample could not be fetched from PyPI (lifetimes wheel): offline")
    with DuckDBWarehouse(":memory:") as warehouse:
        literature.load_cdnow(warehouse, path, tmp_path_factory.mktemp("cdnow"))
        frame = summary.summarise(warehouse, literature.CDNOW_PERIOD)
        yield warehouse, frame, models.fit_purchases(frame, "bgnbd"), models.fit_spend(frame)


def test_cdnow_bgnbd_and_gamma_gamma_match_the_papers(cdnow):
    _, frame, bgnbd, spend = cdnow
    assert len(frame) == 2357 and int(frame["frequency"].sum()) == 2457
    published, log_likelihood = literature.PUBLISHED["BG/NBD"]
    for name, expected in published.items():
        assert bgnbd.params[name] == pytest.approx(expected, rel=0.01), name
    assert bgnbd.log_likelihood == pytest.approx(log_likelihood, abs=0.1)
    assert spend.customers == 946 and spend.log_likelihood == pytest.approx(-4055.92, abs=0.01)
    assert spend.params["v"] == pytest.approx(15.44, rel=0.01)
    # standard errors from the observed information, as the paper's order of magnitude
    assert 0.005 < bgnbd.standard_errors["r"] < 0.03
    assert bgnbd.table().shape == (4, 2)


def test_cdnow_holdout_check_and_figures(cdnow, tmp_path):
    warehouse, frame, fitted, _ = cdnow
    check = validation.check_holdout(warehouse, frame, fitted, literature.CDNOW_PERIOD, samples=10)
    # 1,882 repeat purchase days in weeks 40-78; the BG/NBD under-predicts them by about 12 %
    assert check.errors["actual_purchases"] == 1882
    assert -20 < check.errors["total_error_pct"] < 0
    # the conditional expectation rises with calibration frequency, as in the paper's figure
    assert check.by_frequency["expected"].is_monotonic_increasing
    assert check.repeat_counts["actual"].sum() == 2357
    assert check.repeat_counts["model"].iloc[0] == pytest.approx(1411, rel=0.05)
    assert check.over_time["expected_cumulative"].is_monotonic_increasing
    assert check.over_time["holdout"].any() and not check.over_time["holdout"].all()
    curves = validation.p_alive_curves(fitted, T=39)
    for _, curve in curves.groupby("frequency"):  # the later the last purchase, the likelier alive
        assert curve["p_alive"].is_monotonic_increasing
    at_zero = curves[curves["recency"] == 0].set_index("frequency")["p_alive"]
    assert at_zero[5] < at_zero[1]  # a frequent buyer gone quiet is the likelier loss
    assert len(validation.figures(check, curves).axes) >= 4
    saved = validation.save(check, None, tmp_path)
    assert '"model": "BG/NBD"' in saved.read_text()
    assert validation.against_truth(fitted, tmp_path) is None  # real data: no truth


def _at(kind: str, params: dict, frame: pd.DataFrame) -> models.Fitted:
    """A purchase model set to `params` without fitting (pymc-marketing's object, its posterior
    one point), so the library's own expectations and sampler can be asked."""
    import arviz
    import xarray

    label, class_name, names = models.PURCHASE_MODELS[kind]
    model = getattr(models._clv(), class_name)(
        data=frame[["customer_id", "frequency", "recency", "T"]], model_config=models._flat(names))
    model.build_model()
    model.idata = arviz.InferenceData(posterior=xarray.Dataset(
        {name: (("chain", "draw"), [[value]]) for name, value in params.items()}))
    return models.Fitted(label, model, params, len(frame), 0.0, kind)


@pytest.mark.parametrize("kind, params", [
    ("bgnbd", literature.PUBLISHED["BG/NBD"][0]),
    ("mbgnbd", {"r": 0.54, "alpha": 6.63, "a": 0.70, "b": 1.31}),
    ("pnbd", literature.PUBLISHED["Pareto/NBD"][0])])
def test_simulated_repeat_purchases_follow_the_model(cdnow, kind, params):
    """The vectorised simulation against pymc-marketing: its mean is the library's closed-form
    expectation for new customers of the same ages, and its distribution is that of the library's
    own (one purchase at a time) sampler. Swapping the BG/NBD and MBG/NBD dropout rules fails."""
    _, frame, _, _ = cdnow
    fitted = _at(kind, params, frame)
    ours = models.simulate_frequency(fitted, frame, seed=1, samples=200)
    assert ours.shape == (200, len(frame))
    grid = frame[["customer_id"]].assign(t=frame["T"].to_numpy(dtype=float))
    expected = models.expected_new_customer(fitted, grid).mean()
    assert abs(ours.mean() - expected) < 4 * ours.std() / np.sqrt(ours.size)
    theirs = fitted.model.distribution_new_customer(
        data=frame[["customer_id", "T"]], T=frame["T"], random_seed=2,
        var_names=["recency_frequency"], n_samples=5)["recency_frequency"]
    theirs = np.asarray(theirs.sel(obs_var="frequency") if "obs_var" in theirs.dims
                        else theirs[..., 1]).ravel()
    for purchases in range(4):
        ours_share, theirs_share = (ours == purchases).mean(), (theirs == purchases).mean()
        spread = np.sqrt(theirs_share * (1 - theirs_share) * (1 / ours.size + 1 / theirs.size))
        assert abs(ours_share - theirs_share) < 4 * spread, purchases


def test_an_empty_holdout_is_refused(cdnow):
    warehouse, frame, fitted, _ = cdnow
    with pytest.raises(ClvDataError, match="no customer bought in the hold-out"):
        validation.check_holdout(warehouse, frame.assign(holdout_purchases=0), fitted,
                                 literature.CDNOW_PERIOD)
    with pytest.raises(ClvDataError, match="no hold-out"):
        validation.check_holdout(warehouse, frame, fitted, Period.of("1997-09-30"))


def test_value_frame_on_cdnow(cdnow):
    """Per-customer outputs: monotone in the horizon, discounting and the future window."""
    _, frame, purchases, spend = cdnow
    period = Period.of("1997-09-30", None, "weeks")
    base = value.value_frame(frame, purchases, spend, period, value.ValueSettings())
    assert base["p_alive"].between(0, 1).all() and base["p_alive"].std() > 0.1
    assert (base["expected_purchases_30d"] < base["expected_purchases_90d"]).all()
    assert (base["expected_purchases_90d"] < base["expected_purchases_365d"]).all()
    np.testing.assert_allclose(base["value_at_risk"], base["clv"] * (1 - base["p_alive"]))
    np.testing.assert_allclose(base["churn_risk"], 1 - base["p_alive"])
    longer = value.value_frame(frame, purchases, spend, period, value.ValueSettings(clv_months=24))
    discounted = value.value_frame(frame, purchases, spend, period,
                                   value.ValueSettings(monthly_discount_rate=0.05))
    assert (longer["clv"] > base["clv"]).all() and (discounted["clv"] < base["clv"]).all()
    # a one-time buyer's expected order value is the population mean; repeaters are shrunk to it
    one_timers = base.loc[frame["frequency"].to_numpy() == 0, "expected_order_value"]
    assert one_timers.nunique() == 1
    assert one_timers.iloc[0] == pytest.approx(
        spend.params["p"] * spend.params["v"] / (spend.params["q"] - 1), rel=1e-6)


@pytest.mark.parametrize("settings, message", [
    (value.ValueSettings(clv_months=0), "clv_months=0"),
    (value.ValueSettings(monthly_discount_rate=1.5), "monthly_discount_rate=1.5"),
    (value.ValueSettings(p_alive_threshold=1), "p_alive_threshold=1"),
])
def test_value_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        settings.check()


def test_period_units():
    period = Period.of(date(2020, 1, 1), date(2020, 1, 15), "weeks")
    assert period.units(14) == 2 and period.holdout_units == 2


@pytest.mark.parametrize("rate", [0.0, 0.01])
def test_clv_equals_pymc_marketing_s_own_month_by_month_sum(cdnow, rate):
    """The kit stacks every month into one prediction call (4x faster at 1M customers); the
    result must be pymc-marketing's customer_lifetime_value to rounding."""
    _, frame, purchases, spend = cdnow
    order_value = models.expected_order_value(spend, frame)
    data = frame[["customer_id", "frequency", "recency", "T"]].copy()
    data["future_spend"] = order_value
    theirs = models._values(models._clv().customer_lifetime_value(
        purchases.model, data, future_t=12, discount_rate=rate, time_unit="W"))
    ours = value.value_frame(frame, purchases, spend, Period.of("1997-09-30", None, "weeks"),
                             value.ValueSettings(monthly_discount_rate=rate))["clv"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)
    small_chunks = models.cumulative_purchases(purchases, frame, np.array([4.0, 52.0]), chunk=500)
    np.testing.assert_allclose(small_chunks[:, 1], models.expected_purchases(purchases, frame, 52.0))


@pytest.mark.parametrize("methods", [["fork", "spawn", "forkserver"], ["spawn"]])
def test_a_background_reproduction_reports_its_error(tmp_path, monkeypatch, methods):
    """Notebook 05 starts the CDNOW reproduction in a worker process (forked, or spawned where the
    platform cannot fork); whatever goes wrong there is raised where the notebook asks for the table
    (the whole reproduction runs in the batch test)."""
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: methods)
    used, get_context = [], multiprocessing.get_context
    monkeypatch.setattr(multiprocessing, "get_context", lambda method: used.append(method) or get_context(method))
    missing = tmp_path / "CDNOW_sample.txt"
    with pytest.raises(Exception, match="CDNOW_sample.txt"):
        literature.reproduce_in_background(missing, tmp_path).result(timeout=120)
    assert used == [methods[0]]
