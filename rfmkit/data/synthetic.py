"""A seeded generator of the three Olist CSVs, in the exact Kaggle format, at any scale.

Calibrated to the facts measured on the real data (../shared/data/README.md, see FACTS): orders
per month, repeat buyers, order-status mix, payment types, split payments, installments, value
distribution, date range, state shares.

Who buys again, when, and for how much comes from a stated latent process (LATENT_PROCESS,
written to generation.json beside the files), so customer-value models can be checked against
the truth: each person's first purchase day follows Olist's monthly orders; then, per person, a
purchase rate λ ~ Gamma(r, α) per day and a dropout probability p ~ Beta(a, b), tried after every
purchase including the first (the modified BG/NBD of Batislam et al. 2007), until the data's last
day; each purchase occasion's value is Gamma(p_spend, ν) with the person's ν ~ Gamma(q, γ)
(Gamma-Gamma, Fader, Hardie and Lee 2005). A few occasions add a second order the same day, as
Olist's split baskets do; they add orders, not purchase days. It works on chunks of people so memory stays bounded up
to 100M payment rows: each chunk is generated from its own seeded stream, formatted with Arrow
and appended to the files. The same seed and scale give byte-identical files.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rfmkit.data.schemas import CUSTOMERS, ORDERS, PAYMENTS

# ---------------------------------------------------------------- calibration facts
ORDERS_AT_SCALE_1 = 99_441
PEOPLE_AT_SCALE_1 = 96_096
REPEAT_PEOPLE_AT_SCALE_1 = 2_997  # people with more than one order (about 3 %)

# The latent process (time unit: days). Chosen by simulation so that about 2.7 % of people buy on
# a second day and 3.1 % place a second order over Olist's date range, and so that order totals
# keep Olist's median (105.29) and mean (160.99): z / γ follows a beta-prime(p, q) distribution.
LATENT_PROCESS = {
    "purchases": {"model": "MBG/NBD", "time_unit": "days", "r": 0.4, "alpha": 1500.0,
                  "a": 1.5, "b": 1.0},
    "spend": {"model": "Gamma-Gamma", "p": 3.0, "q": 2.859, "gamma": 99.75},
    "same_day_extra_order": 0.0045,
}

# Orders per purchase month in the real data (sums to 99,441).
MONTHLY_ORDERS = {
    "2016-09": 4, "2016-10": 324, "2016-11": 0, "2016-12": 1,
    "2017-01": 800, "2017-02": 1780, "2017-03": 2682, "2017-04": 2404, "2017-05": 3700,
    "2017-06": 3245, "2017-07": 4026, "2017-08": 4331, "2017-09": 4285, "2017-10": 4631,
    "2017-11": 7544, "2017-12": 5673, "2018-01": 7269, "2018-02": 6728, "2018-03": 7211,
    "2018-04": 6939, "2018-05": 6873, "2018-06": 6167, "2018-07": 6292, "2018-08": 6512,
    "2018-09": 16, "2018-10": 4,
}
FIRST_PURCHASE, LAST_PURCHASE = "2016-09-04", "2018-10-17"

STATUS_COUNTS = {"delivered": 96_478, "shipped": 1_107, "canceled": 625, "unavailable": 609,
                 "invoiced": 314, "processing": 301, "created": 5, "approved": 2}

# Payment rows by type in the real file: credit_card 73.92 %, boleto 19.04 %, voucher 5.56 %,
# debit_card 1.47 %, not_defined 3 rows. Split orders (2.98 %) are vouchers plus a last payment,
# so single-payment orders use shares solved to give those row shares overall.
SPLIT_ORDER_SHARE = 0.0298
SPLIT_EXTRA_ROWS_MEAN = 0.5  # 103,886 rows over 99,440 orders: 2.5 rows per split order
SINGLE_PAYMENT_TYPES = {"credit_card": 0.77142, "boleto": 0.20502, "voucher": 0.00765,
                        "debit_card": 0.01588, "not_defined": 0.00003}
SPLIT_LAST_PAYMENT = {"credit_card": 0.8, "voucher": 0.2}
ZERO_VOUCHER_SHARE = 0.002  # 9 payment rows of value 0, all vouchers of split orders
# Credit-card installments (real counts; other payment types always have 1).
CARD_INSTALLMENTS = {0: 2, 1: 25_452, 2: 12_413, 3: 10_461, 4: 7_098, 5: 5_239, 6: 3_920,
                     7: 1_626, 8: 4_268, 9: 644, 10: 5_328, 11: 23, 12: 133, 13: 16, 14: 15,
                     15: 74, 16: 5, 17: 8, 18: 27, 20: 17, 21: 3, 22: 1, 23: 1, 24: 18}
# Order totals stay within the real minimum and maximum.
ORDER_VALUE_MIN, ORDER_VALUE_MAX = 9.59, 13_664.08
NO_PAYMENT_SHARE = 1 / ORDERS_AT_SCALE_1  # one real order has no payment row

STATE_SHARES = {
    "SP": 42.0, "RJ": 12.9, "MG": 11.7, "RS": 5.5, "PR": 5.1, "SC": 3.7, "BA": 3.4, "DF": 2.2,
    "ES": 2.0, "GO": 2.0, "PE": 1.7, "CE": 1.3, "PA": 1.0, "MT": 0.9, "MA": 0.75, "MS": 0.72,
    "PB": 0.54, "PI": 0.5, "RN": 0.49, "AL": 0.42, "SE": 0.35, "TO": 0.28, "RO": 0.25,
    "AM": 0.15, "AC": 0.08, "AP": 0.07, "RR": 0.05,
}
# (first zip prefix, last zip prefix, cities with the capital first) per state.
STATE_GEOGRAPHY = {
    "SP": (1000, 19999, ["sao paulo", "campinas", "guarulhos", "santo andre", "osasco",
                         "sao bernardo do campo", "santos", "sorocaba", "ribeirao preto"]),
    "RJ": (20000, 28999, ["rio de janeiro", "niteroi", "nova iguacu", "sao goncalo",
                          "duque de caxias", "petropolis"]),
    "ES": (29000, 29999, ["vitoria", "vila velha", "serra", "cariacica"]),
    "MG": (30000, 39999, ["belo horizonte", "contagem", "juiz de fora", "uberlandia", "betim"]),
    "BA": (40000, 48999, ["salvador", "feira de santana", "lauro de freitas", "vitoria da conquista"]),
    "SE": (49000, 49999, ["aracaju", "nossa senhora do socorro"]),
    "PE": (50000, 56999, ["recife", "jaboatao dos guararapes", "olinda", "petrolina"]),
    "AL": (57000, 57999, ["maceio", "arapiraca"]),
    "PB": (58000, 58999, ["joao pessoa", "campina grande"]),
    "RN": (59000, 59999, ["natal", "mossoro", "parnamirim"]),
    "CE": (60000, 63999, ["fortaleza", "caucaia", "juazeiro do norte"]),
    "PI": (64000, 64999, ["teresina", "parnaiba"]),
    "MA": (65000, 65999, ["sao luis", "imperatriz"]),
    "PA": (66000, 68899, ["belem", "ananindeua", "santarem"]),
    "AP": (68900, 68999, ["macapa", "santana"]),
    "AM": (69000, 69299, ["manaus", "parintins"]),
    "RR": (69300, 69399, ["boa vista"]),
    "AC": (69900, 69999, ["rio branco", "cruzeiro do sul"]),
    "DF": (70000, 73699, ["brasilia", "taguatinga", "ceilandia", "aguas claras"]),
    "GO": (72800, 76799, ["goiania", "aparecida de goiania", "anapolis"]),
    "RO": (76800, 76999, ["porto velho", "ji-parana"]),
    "TO": (77000, 77999, ["palmas", "araguaina"]),
    "MT": (78000, 78899, ["cuiaba", "varzea grande", "rondonopolis"]),
    "MS": (79000, 79999, ["campo grande", "dourados"]),
    "PR": (80000, 87999, ["curitiba", "londrina", "maringa", "ponta grossa", "cascavel"]),
    "SC": (88000, 89999, ["florianopolis", "joinville", "blumenau", "sao jose", "itajai"]),
    "RS": (90000, 99999, ["porto alegre", "caxias do sul", "pelotas", "canoas", "santa maria"]),
}
# Purchases by hour of day (Olist peaks mid-morning to late evening).
HOUR_WEIGHTS = [2.5, 1.2, 0.5, 0.3, 0.2, 0.2, 0.5, 1.2, 3.0, 4.8, 6.2, 6.6, 6.0, 6.6, 6.7,
                6.5, 6.4, 6.1, 5.9, 5.9, 6.3, 6.3, 5.9, 4.3]

PEOPLE_PER_CHUNK = 400_000
SECONDS_PER_DAY = 86_400

# Kaggle quotes the header and ids that start with a digit; other fields are bare.
_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")
_EPOCH = np.datetime64("1970-01-01T00:00:00", "s")


@dataclass
class GenerationResult:
    files: dict[str, Path]
    rows: dict[str, int]
    seconds: float
    params: dict[str, object] = field(default_factory=dict)


def rows_at_scale(scale: float) -> dict[str, int]:
    """Expected row counts for a scale (payments ≈ 1.0447 rows per order)."""
    orders = round(ORDERS_AT_SCALE_1 * scale)
    return {"people": round(PEOPLE_AT_SCALE_1 * scale), "orders": orders,
            "payments": round(orders * 103_886 / 99_440)}


def scale_for_payment_rows(rows: int) -> float:
    return rows / rows_at_scale(1.0)["payments"]


def generate(dest: str | Path, *, scale: float = 1.0, seed: int = 42, progress: bool = True,
             people_per_chunk: int = PEOPLE_PER_CHUNK) -> GenerationResult:
    """Write olist_customers/orders/order_payments CSVs to `dest`; returns paths and row counts."""
    if not scale > 0:
        raise ValueError(f"parameter scale={scale!r}: must be > 0 (1.0 = 99,441 orders)")
    t0 = time.perf_counter()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    people = max(2, round(PEOPLE_AT_SCALE_1 * scale))
    specs = (CUSTOMERS, ORDERS, PAYMENTS)
    paths = {s.table: dest / s.file_name for s in specs}
    handles = {s.table: paths[s.table].open("wb") for s in specs}
    rows = dict.fromkeys(paths, 0)
    try:
        for spec in specs:
            handles[spec.table].write((",".join(f'"{c}"' for c in spec.columns) + "\n").encode())
        starts = range(0, people, people_per_chunk)
        bar = _progress(len(starts), progress)
        order_offset = 0
        for index, start in enumerate(starts):
            n = min(people_per_chunk, people - start)
            chunk = _chunk(np.random.default_rng([seed, index]), seed, start, n, order_offset,
                           pin_date_range=index == 0)
            order_offset += chunk["orders"]
            for table, data in chunk["lines"].items():
                _write_lines(handles[table], data)
                rows[table] += len(data)
            if bar:
                bar.update(1)
        if bar:
            bar.close()
    finally:
        for handle in handles.values():
            handle.close()
    result = GenerationResult(files=paths, rows=rows, seconds=time.perf_counter() - t0,
                              params={"scale": scale, "seed": seed, "people": people})
    (dest / "generation.json").write_text(json.dumps(
        {"params": result.params, "rows": rows, "seconds": round(result.seconds, 2),
         "latent_process": LATENT_PROCESS}, indent=2))
    return result


def _progress(total: int, enabled: bool):
    if not enabled or total < 2:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="generating", unit="chunk")


# ---------------------------------------------------------------- one chunk of people

def _chunk(rng: np.random.Generator, seed: int, person_start: int, people: int,
           order_start: int, pin_date_range: bool) -> dict:
    # People, and when each places an order (the latent process).
    person_of_order, purchase, spend_rate = _purchase_times(rng, people, pin_date_range)
    n = len(person_of_order)
    person_ids = _hex_ids(np.arange(person_start, person_start + people), seed, kind=1)
    order_index = np.arange(order_start, order_start + n)
    order_ids = _hex_ids(order_index, seed, kind=2)
    customer_ids = _hex_ids(order_index, seed, kind=3)

    status = rng.choice(np.array(list(STATUS_COUNTS)), n,
                        p=_shares(STATUS_COUNTS))
    times = _lifecycle(rng, purchase, status)

    geo = _geography(rng, people)
    customers = [customer_ids, _take(person_ids, person_of_order),
                 _take(geo["zip"], person_of_order), _take(geo["city"], person_of_order),
                 _take(geo["state"], person_of_order)]
    orders = [order_ids, customer_ids, pa.array(status), _format_times(purchase),
              *[_format_times(t) for t in times]]
    totals = rng.gamma(LATENT_PROCESS["spend"]["p"], 1 / spend_rate[person_of_order])
    payments = _payments(rng, n, order_ids, totals)
    return {
        "orders": n,
        "lines": {
            CUSTOMERS.table: _lines(customers, rng.permutation(n)),
            ORDERS.table: _lines(orders, rng.permutation(n)),
            PAYMENTS.table: _lines(payments, rng.permutation(len(payments[0]))),
        },
    }


def _shares(weights: dict) -> np.ndarray:
    values = np.array(list(weights.values()), dtype=float)
    return values / values.sum()


def _purchase_times(rng, people: int, pin_date_range: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person of each order, its time in seconds since epoch, each person's spend rate ν).

    Orders come sorted by person and, within a person, by time."""
    first = _first_purchases(rng, people)
    if pin_date_range and people >= 2:  # the real data's first and last purchase days
        first[0] = _day_seconds(FIRST_PURCHASE) + 21 * 3600 + 15 * 60 + 19
        first[1] = _day_seconds(LAST_PURCHASE) + 17 * 3600 + 30 * 60 + 18
    end = _day_seconds(LAST_PURCHASE) + SECONDS_PER_DAY  # nothing is observed after this
    process = LATENT_PROCESS["purchases"]
    rate = rng.gamma(process["r"], 1 / process["alpha"], people) / SECONDS_PER_DAY
    dropout = rng.beta(process["a"], process["b"], people)
    spend = LATENT_PROCESS["spend"]
    spend_rate = rng.gamma(spend["q"], 1 / spend["gamma"], people)

    persons, times = [np.arange(people)], [first]
    alive = np.flatnonzero(rng.random(people) >= dropout)  # MBG/NBD: may leave after the first
    clock = first.astype(np.float64)
    while len(alive):
        clock[alive] += rng.exponential(1 / rate[alive])
        alive = alive[clock[alive] < end]
        persons.append(alive)
        times.append(clock[alive].astype(np.int64))
        alive = alive[rng.random(len(alive)) >= dropout[alive]]
    person, seconds = np.concatenate(persons), np.concatenate(times)
    # Split baskets: a second order the same day, minutes to hours later (a day, not a purchase).
    extra = rng.random(len(person)) < LATENT_PROCESS["same_day_extra_order"]
    day_end = (seconds[extra] // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY - 1
    later = np.minimum(seconds[extra] + rng.integers(60, 4 * 3600, int(extra.sum())), day_end)
    person, seconds = np.r_[person, person[extra]], np.r_[seconds, later]
    order = np.lexsort((seconds, person))
    return person[order], seconds[order], spend_rate


def _first_purchases(rng, people: int) -> np.ndarray:
    """Seconds since epoch of each person's first order: Olist's month and hour-of-day mix."""
    months = [m for m, c in MONTHLY_ORDERS.items() if c]
    month_start = np.array([np.datetime64(f"{m}-01", "D") for m in months])
    month_end = np.array([np.datetime64(f"{m}-01", "M") + 1 for m in months]).astype("M8[D]")
    month_start[0] = np.datetime64(FIRST_PURCHASE)
    month_end[-1] = np.datetime64(LAST_PURCHASE) + 1
    pick = rng.choice(len(months), people, p=_shares({m: MONTHLY_ORDERS[m] for m in months}))
    span = (month_end - month_start).astype(int)[pick]
    day = month_start[pick] + (rng.random(people) * span).astype(int)
    hour = rng.choice(24, people, p=np.array(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS))
    return (day - _EPOCH.astype("M8[D]")).astype(np.int64) * SECONDS_PER_DAY \
        + hour * 3600 + rng.integers(0, 3600, people)


def _day_seconds(day: str) -> int:
    return int((np.datetime64(day, "D") - _EPOCH.astype("M8[D]")).astype(np.int64)) \
        * SECONDS_PER_DAY


def _lifecycle(rng, purchase: np.ndarray, status: np.ndarray) -> list[np.ndarray]:
    """approved, carrier, delivered, estimated timestamps; NaN-free int64 with -1 for empty."""
    n = len(purchase)
    fast = rng.random(n) < 0.6
    approval_delay = np.where(fast, rng.exponential(1200, n),
                              rng.lognormal(np.log(14 * 3600), 0.9, n)).astype(np.int64)
    approved = purchase + 60 + approval_delay
    carrier = approved + rng.lognormal(np.log(2.2 * SECONDS_PER_DAY), 0.7, n).astype(np.int64)
    delivered = carrier + rng.lognormal(np.log(7 * SECONDS_PER_DAY), 0.6, n).astype(np.int64)
    days_to_estimate = np.clip(rng.normal(23, 8, n), 3, 60).astype(np.int64)
    estimated = (purchase // SECONDS_PER_DAY + days_to_estimate) * SECONDS_PER_DAY

    u = rng.random((3, n))
    has_approved = ~np.isin(status, ["created"]) & ~((status == "canceled") & (u[0] < 0.226)) \
        & ~((status == "delivered") & (u[0] < 0.000145))
    has_carrier = np.isin(status, ["shipped", "delivered"]) | ((status == "canceled") & (u[1] < 0.12))
    has_delivered = ((status == "delivered") & (u[2] >= 0.00008)) | \
        ((status == "canceled") & (u[2] < 0.01))
    return [np.where(has_approved, approved, -1), np.where(has_carrier, carrier, -1),
            np.where(has_delivered, delivered, -1), estimated]


def _geography(rng, people: int) -> dict[str, pa.Array]:
    states = list(STATE_SHARES)
    state_idx = rng.choice(len(states), people, p=_shares(STATE_SHARES))
    lo = np.array([STATE_GEOGRAPHY[s][0] for s in states])[state_idx]
    hi = np.array([STATE_GEOGRAPHY[s][1] for s in states])[state_idx]
    zips = lo + (rng.random(people) * (hi - lo + 1)).astype(np.int64)
    # Half of a state's buyers live in its capital, the rest spread over its other cities.
    city_lists = [STATE_GEOGRAPHY[s][2] for s in states]
    counts = np.array([len(c) for c in city_lists])[state_idx]
    capital = rng.random(people) < 0.5
    city_pos = np.where(capital, 0, (rng.random(people) * counts).astype(np.int64))
    flat = np.array([c for cities in city_lists for c in cities])
    first = np.cumsum([0] + [len(c) for c in city_lists[:-1]])
    return {
        "zip": pc.utf8_lpad(pa.array(zips).cast(pa.string()), 5, "0"),
        "city": pa.array(flat[first[state_idx] + city_pos]),
        "state": pa.array(np.array(states)[state_idx]),
    }


def _payments(rng, n_orders: int, order_ids: pa.Array, totals: np.ndarray) -> list[pa.Array]:
    """Payment rows: one per order, or vouchers plus a last payment for split orders."""
    has_payment = rng.random(n_orders) >= NO_PAYMENT_SHARE
    split = rng.random(n_orders) < SPLIT_ORDER_SHARE
    rows_per_order = np.where(split, 1 + rng.geometric(1 / (1 + SPLIT_EXTRA_ROWS_MEAN), n_orders),
                              1) * has_payment
    order_of_row = np.repeat(np.arange(n_orders), rows_per_order)
    first_row = np.r_[0, np.cumsum(rows_per_order)[:-1]][order_of_row]
    sequential = np.arange(len(order_of_row)) - first_row + 1
    m = len(order_of_row)

    # Types: sequential 1 of a split order is its last payment, later sequentials are vouchers.
    types = np.array(list(SINGLE_PAYMENT_TYPES))[
        rng.choice(len(SINGLE_PAYMENT_TYPES), m, p=_shares(SINGLE_PAYMENT_TYPES))]
    row_split = split[order_of_row]
    last = np.array(list(SPLIT_LAST_PAYMENT))[
        rng.choice(len(SPLIT_LAST_PAYMENT), m, p=_shares(SPLIT_LAST_PAYMENT))]
    types = np.where(row_split & (sequential == 1), last, types)
    types = np.where(row_split & (sequential > 1), "voucher", types)

    # Values: an order total split over its rows in random shares; cents add up exactly.
    totals = np.clip(totals, ORDER_VALUE_MIN, ORDER_VALUE_MAX)
    total_cents = np.round(totals * 100).astype(np.int64)
    weights = rng.exponential(1.0, m)
    zero = row_split & (sequential > 1) & (rng.random(m) < ZERO_VOUCHER_SHARE)
    weights[zero] = 0.0
    weight_sum = np.bincount(order_of_row, weights, minlength=n_orders)[order_of_row]
    cents = np.floor(total_cents[order_of_row] * weights / weight_sum).astype(np.int64)
    remainder = total_cents - np.bincount(order_of_row, cents, minlength=n_orders).astype(np.int64)
    cents[sequential == 1] += remainder[order_of_row[sequential == 1]]

    card_values = np.array(list(CARD_INSTALLMENTS))
    installments = np.where(
        types == "credit_card",
        card_values[rng.choice(len(card_values), m, p=_shares(CARD_INSTALLMENTS))], 1)
    return [_take(order_ids, order_of_row), pa.array(sequential).cast(pa.string()),
            pa.array(types), pa.array(installments).cast(pa.string()), _format_cents(cents)]


# ---------------------------------------------------------------- formatting

def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijection on uint64: distinct counters give distinct, random-looking ids."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _hex_ids(counter: np.ndarray, seed: int, kind: int) -> pa.Array:
    """32-hex-digit ids like Olist's, unique per kind, quoted when they start with a digit."""
    base = np.uint64((seed * 8 + kind) % (1 << 20)) << np.uint64(40)
    hi = _splitmix64(counter.astype(np.uint64) + base)
    lo = _splitmix64(hi ^ np.uint64(0x5DEECE66D))
    raw = np.empty((len(counter), 16), dtype=np.uint8)
    raw[:, :8] = hi.astype(">u8").view(np.uint8).reshape(-1, 8)
    raw[:, 8:] = lo.astype(">u8").view(np.uint8).reshape(-1, 8)
    text = _HEX[raw].view("S32").ravel()
    ids = pa.array(text, type=pa.binary()).cast(pa.string())
    starts_with_digit = pa.array((raw[:, 0] >> 4) < 10)
    quoted = pc.binary_join_element_wise('"', ids, '"', "")
    return pc.if_else(starts_with_digit, quoted, ids)


def _take(values: pa.Array, index: np.ndarray) -> pa.Array:
    return values.take(pa.array(index))


def _format_times(seconds: np.ndarray) -> pa.Array:
    valid = seconds >= 0
    stamps = pa.array(np.where(valid, seconds, 0).astype("M8[s]"), mask=~valid)
    return pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S")


def _format_cents(cents: np.ndarray) -> pa.Array:
    whole = pa.array(cents // 100).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(cents % 100).cast(pa.string()), 2, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def _lines(columns: list[pa.Array], order: np.ndarray) -> pa.Array:
    """CSV lines (with newline) in the given row order; empty fields for nulls."""
    joined = pc.binary_join_element_wise(*columns, ",", null_handling="replace",
                                         null_replacement="")
    return pc.binary_join_element_wise(joined, "", "\n").take(pa.array(order))


def _write_lines(handle, lines: pa.Array) -> None:
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    if len(lines) == 0:
        return
    offsets = lines.buffers()[1]
    first, last = (np.frombuffer(offsets, dtype=np.int32)[[lines.offset, lines.offset + len(lines)]])
    handle.write(memoryview(lines.buffers()[2])[first:last])

