"""The purchase models (BG/NBD, modified BG/NBD, Pareto/NBD) and Gamma-Gamma spend, by maximum
likelihood with pymc-marketing.

pymc-marketing's CLV models are Bayesian; with flat priors (HalfFlat) its MAP fit is the maximum
likelihood estimate the literature publishes, so fitted parameters can be checked against the
papers. The log-likelihood and standard errors (from the Hessian at the optimum) come from the
same PyMC model. pymc-marketing is imported only when a model is fitted (it takes seconds).
"""

from __future__ import annotations

import time
import warnings
from functools import cached_property

import numpy as np
import pandas as pd

# name → (label, pymc-marketing class, parameters in the papers' order)
PURCHASE_MODELS = {
    "bgnbd": ("BG/NBD", "BetaGeoModel", ("r", "alpha", "a", "b")),
    "mbgnbd": ("MBG/NBD", "ModifiedBetaGeoModel", ("r", "alpha", "a", "b")),
    "pnbd": ("Pareto/NBD", "ParetoNBDModel", ("r", "alpha", "s", "beta")),
}
SPEND_PARAMETERS = ("p", "q", "v")  # pymc-marketing's v is the papers' γ


class ClvModelError(ValueError):
    """A model cannot be fitted to the data given (the message says why)."""


def _clv():
    """pymc-marketing's clv module, quietly (ArviZ announces its refactor on import)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymc_marketing import clv
    return clv


def _flat(names) -> dict:
    from pymc_extras.prior import Prior

    return {name: Prior("HalfFlat") for name in names}


class Fitted:
    """A fitted model: the pymc-marketing object and its maximum-likelihood parameters; the
    log-likelihood there and the standard errors are computed when first asked for (each needs a
    compiled function of its own, seconds that scoring does not need to spend)."""

    def __init__(self, label: str, model, params: dict[str, float], customers: int,
                 seconds: float, kind: str = ""):
        self.label, self.model, self.params = label, model, params
        self.customers, self.seconds = customers, seconds
        self.kind = kind  # a PURCHASE_MODELS key for the purchase models

    def __repr__(self) -> str:
        return f"Fitted({self.label}, {self.params}, customers={self.customers:,})"

    @cached_property
    def _point(self) -> dict[str, np.ndarray]:
        return _point(self.model.model, self.params)

    @cached_property
    def log_likelihood(self) -> float:
        return log_likelihood_at(self, self.params)

    @cached_property
    def standard_errors(self) -> dict[str, float]:
        """From the observed information: central differences of the exact gradient on the log
        scale the optimiser used, carried back with the delta method (se(θ) = θ · se(log θ)).
        NaN where the data do not determine a parameter (the likelihood is flat along a ridge,
        e.g. a and b of the modified BG/NBD when few customers buy twice): no false precision."""
        pm_model = self.model.model
        information = -_hessian(pm_model, self._point)
        try:
            variances = np.diag(np.linalg.inv(information))
        except np.linalg.LinAlgError:
            variances = np.full(len(self._point), np.nan)
        with np.errstate(invalid="ignore"):
            log_errors = np.where(variances > 0, np.sqrt(np.abs(variances)), np.nan)
        names = [rv.name for rv in pm_model.free_RVs]
        return {n: self.params[n] * float(e) for n, e in zip(names, log_errors, strict=True)}

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"estimate": self.params, "standard_error": self.standard_errors})


def _fit(model, data: pd.DataFrame, names: tuple[str, ...], label: str, kind: str = "") -> Fitted:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyMC warns that MAP on flat priors is plain MLE
        model.fit(data=data, method="map", progressbar=False)
    seconds = time.perf_counter() - started
    posterior = model.idata.posterior
    params = {n: float(posterior[n].values.ravel()[0]) for n in names}
    return Fitted(label, model, params, len(data), seconds, kind)


def _point(pm_model, params: dict[str, float]) -> dict[str, np.ndarray]:
    """`params` as a point of the model's value variables (log-transformed for HalfFlat)."""
    point = {}
    for rv in pm_model.free_RVs:
        value_var = pm_model.rvs_to_values[rv]
        transform = pm_model.rvs_to_transforms.get(rv)
        raw = np.asarray(params[rv.name], dtype=float)
        point[value_var.name] = transform.forward(raw).eval() if transform is not None else raw
    return point


def _hessian(pm_model, point: dict) -> np.ndarray:
    """Second derivatives of the log-likelihood at `point`: central differences of PyTensor's
    exact gradient (one compiled function; Pareto/NBD's hypergeometric function has no second
    derivative in PyTensor anyway)."""
    gradient = pm_model.compile_dlogp(jacobian=False)
    names = list(point)
    sizes = [np.size(point[n]) for n in names]
    flat = np.concatenate([np.ravel(point[n]) for n in names]).astype(float)

    def at(vector: np.ndarray) -> np.ndarray:
        parts = np.split(vector, np.cumsum(sizes)[:-1])
        return np.asarray(gradient({n: p.reshape(np.shape(point[n]))
                                    for n, p in zip(names, parts, strict=True)}), dtype=float)

    step = 1e-5
    columns = [(at(flat + step * e) - at(flat - step * e)) / (2 * step) for e in np.eye(len(flat))]
    hessian = np.column_stack(columns)
    return (hessian + hessian.T) / 2


def fit_purchases(summary: pd.DataFrame, model: str = "mbgnbd") -> Fitted:
    """Fit the purchase process to (customer_id, frequency, recency, T)."""
    if model not in PURCHASE_MODELS:
        raise ClvModelError(f"parameter purchase_model={model!r}: use one of "
                            f"{sorted(PURCHASE_MODELS)} (bgnbd = BG/NBD, mbgnbd = modified "
                            f"BG/NBD, pnbd = Pareto/NBD)")
    data = summary[["customer_id", "frequency", "recency", "T"]]
    if len(data) < 10:
        raise ClvModelError(f"{len(data)} customer(s) to fit: the purchase models need many "
                            f"customers (hundreds at least)")
    if int(data["frequency"].sum()) == 0:
        raise ClvModelError("no customer bought twice in the calibration period: the purchase "
                            "rate and dropout cannot be told apart; use a later calibration end")
    label, class_name, names = PURCHASE_MODELS[model]
    estimator = getattr(_clv(), class_name)(model_config=_flat(names))
    return _fit(estimator, data, names, label, model)


def spend_data(summary: pd.DataFrame) -> pd.DataFrame:
    """Customers the Gamma-Gamma model learns from: repeat buyers with a positive mean spend
    (a repeat purchase worth 0, e.g. a voucher-only order, carries no spend information)."""
    return summary.loc[(summary["frequency"] > 0) & (summary["monetary_value"] > 0),
                       ["customer_id", "frequency", "monetary_value"]]


def fit_spend(summary: pd.DataFrame) -> Fitted:
    """Fit Gamma-Gamma to the repeat buyers' mean repeat-purchase value."""
    data = spend_data(summary)
    if len(data) < 10:
        raise ClvModelError(f"{len(data)} repeat buyer(s) with spend: the Gamma-Gamma model "
                            f"needs many (hundreds at least)")
    estimator = _clv().GammaGammaModel(model_config=_flat(SPEND_PARAMETERS))
    return _fit(estimator, data, SPEND_PARAMETERS, "Gamma-Gamma")


def _values(array) -> np.ndarray:
    """A MAP prediction (chain 1, draw 1, customer) as a plain vector."""
    return np.asarray(array.values, dtype=float).reshape(-1)


def p_alive(fitted: Fitted, summary: pd.DataFrame) -> np.ndarray:
    return _values(fitted.model.expected_probability_alive(
        data=summary[["customer_id", "frequency", "recency", "T"]]))


def expected_purchases(fitted: Fitted, summary: pd.DataFrame, units: float) -> np.ndarray:
    """Expected purchase days in the next `units` time units, per customer."""
    return cumulative_purchases(fitted, summary, np.array([float(units)]))[:, 0]


def cumulative_purchases(fitted: Fitted, summary: pd.DataFrame, horizons: np.ndarray,
                         chunk: int = 200_000) -> np.ndarray:
    """Expected purchase days within each of `horizons` (time units), customers × horizons.

    One call of the model's expected_purchases per chunk of customers, every horizon stacked in
    it: pymc-marketing's own CLV loop calls it once per month, and at 1M customers twelve calls
    took 25 s where one stacked call takes 6 s. Chunks bound the memory of the stacked frame."""
    data = summary[["customer_id", "frequency", "recency", "T"]].reset_index(drop=True)
    horizons = np.asarray(horizons, dtype=float)
    out = np.empty((len(data), len(horizons)))
    for start in range(0, len(data), chunk):
        part = data.iloc[start:start + chunk]
        stacked = pd.concat([part] * len(horizons), ignore_index=True)
        stacked["customer_id"] = np.arange(len(stacked))
        values = _values(fitted.model.expected_purchases(
            data=stacked, future_t=np.repeat(horizons, len(part))))
        out[start:start + len(part)] = values.reshape(len(horizons), len(part)).T
    return out


def expected_order_value(spend: Fitted, summary: pd.DataFrame) -> np.ndarray:
    """Expected value of a future purchase (customers without repeats get the population mean)."""
    data = summary[["customer_id", "frequency", "monetary_value"]]
    return _values(spend.model.expected_customer_spend(data=data))


# Time units in a month, as pymc-marketing's customer_lifetime_value counts them.
UNITS_PER_MONTH = {"days": 30.0, "weeks": 4.345}


def lifetime_value(monthly_cumulative: np.ndarray, order_value: np.ndarray,
                   monthly_discount_rate: float) -> np.ndarray:
    """Discounted expected spend: Σ over months k of order value × (purchases expected in month k)
    / (1 + rate)^k, from the cumulative purchases at the end of each month (customers × months).
    The same sum as pymc-marketing's customer_lifetime_value (adapted from lifetimes)."""
    increments = np.diff(monthly_cumulative, axis=1, prepend=0.0)
    discount = (1 + float(monthly_discount_rate)) ** -np.arange(1, monthly_cumulative.shape[1] + 1)
    return order_value * (increments @ discount)


def expected_new_customer(fitted: Fitted, grid: pd.DataFrame) -> np.ndarray:
    """Expected repeat purchases of a just-acquired customer within `grid["t"]` time units."""
    return _values(fitted.model.expected_purchases_new_customer(
        data=grid[["customer_id"]], t=grid["t"].to_numpy(dtype=float)))


def simulate_frequency(fitted: Fitted, summary: pd.DataFrame, *, seed: int, samples: int
                       ) -> np.ndarray:
    """Repeat purchases the fitted model simulates for new customers of each summary row's age T,
    `samples` draws each (draw × customer).

    The processes pymc-marketing's samplers simulate, drawn whole instead of one purchase at a time
    in Python (20 draws of 96k customers took 9 s there, about 0.1 s here). Each customer draws a
    purchase rate λ ~ Gamma(r, α); N ~ Poisson(λT) purchases would happen if they stayed.
    * BG/NBD: after each purchase they leave with probability p ~ Beta(a, b), so the purchase on
      which they leave still counts: min(N, D) with D ~ Geometric(p) on 1, 2, ...
    * MBG/NBD: they may also leave at the start: min(N, D - 1).
    * Pareto/NBD: they leave after an exponential lifetime τ with rate μ ~ Gamma(s, β):
      Poisson(λ · min(τ, T))."""
    rng = np.random.default_rng(seed)
    age = summary["T"].to_numpy(dtype=float)
    shape = (int(samples), len(age))
    params = fitted.params
    rate = rng.gamma(params["r"], 1.0 / params["alpha"], size=shape)
    if fitted.kind == "pnbd":
        lifetime = rng.exponential(1.0 / rng.gamma(params["s"], 1.0 / params["beta"], size=shape))
        return rng.poisson(rate * np.minimum(lifetime, age)).astype(float)
    if fitted.kind not in ("bgnbd", "mbgnbd"):
        raise ClvModelError(f"{fitted.label}: no simulation for this model")
    would_buy = rng.poisson(rate * age)
    dropout = np.clip(rng.beta(params["a"], params["b"], size=shape), np.finfo(float).tiny, 1.0)
    with np.errstate(divide="ignore"):  # dropout 1: log1p(-1) = -inf, no purchase survives it
        stays = np.floor(np.log1p(-rng.random(shape)) / np.log1p(-dropout))  # failures before leaving
    purchases_until_leaving = stays + (1 if fitted.kind == "bgnbd" else 0)
    return np.minimum(would_buy, purchases_until_leaving)


def log_likelihood_at(fitted: Fitted, params: dict[str, float]) -> float:
    """The fitted model's log-likelihood at `params` (its own, or e.g. a generator's truth);
    flat priors add nothing to it."""
    pm_model = fitted.model.model
    return float(pm_model.compile_logp(jacobian=False)(_point(pm_model, params)))
