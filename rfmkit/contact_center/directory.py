"""The phone directory: every contact-center customer gets a generated name and phone number, and a
profile with the figures the lookup routes on.

Names are drawn (seeded) from lists of common given names and surnames, and numbers from the
555-0100…555-0199 lines that North American numbering reserves for fiction, one block of 100 per
area code: no real person is named or dialled.

The VIP and routing rule is in `routing`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rfmkit.contact_center.routing import VIP_CLV_SHARE, is_vip, routing_priority

GIVEN_NAMES = ("Ana", "Ben", "Carla", "Dev", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jon", "Kai",
               "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Umar",
               "Vera", "Wen", "Xavi", "Yara", "Zoe")
SURNAMES = ("Silva", "Okafor", "Novak", "Haddad", "Kim", "Larsen", "Moreau", "Nakamura", "Oliveira",
            "Patel", "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Walsh", "Yilmaz", "Zhang",
            "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Horvat")


class DirectoryError(ValueError):
    """A parameter or input the directory cannot use; the message names it."""


def fictional_numbers(count: int) -> list[str]:
    """`count` distinct E.164 numbers of the form +1 NPA 555 01XX (fictional lines)."""
    area_codes = [npa for npa in range(201, 1000)
                  if str(npa)[1] != "9" and not str(npa).endswith("11")]
    if count > 100 * len(area_codes):
        raise DirectoryError(f"{count:,} customers is more than the {100 * len(area_codes):,} "
                             f"fictional numbers available")
    return [f"+1{area_codes[i // 100]}55501{i % 100:02d}" for i in range(count)]


def people(customer_ids: pd.Series, seed: int) -> pd.DataFrame:
    """A generated name and a fictional phone number per customer id (seeded, stable order)."""
    rng = np.random.default_rng(seed)
    ids = customer_ids.astype(str).to_numpy()
    order = rng.permutation(len(ids))  # numbers are not handed out in file order
    numbers = np.array(fictional_numbers(len(ids)), dtype=object)[np.argsort(order)]
    return pd.DataFrame({
        "customer_id": ids,
        "first_name": rng.choice(GIVEN_NAMES, len(ids)),
        "last_name": rng.choice(SURNAMES, len(ids)),
        "phone": numbers,
    })


def linked_accounts(count: int, scores: pd.DataFrame | None, seed: int) -> pd.DataFrame:
    """Segment and CLV for each contact-center customer from the warehouse's customer_scores.

    The shipped contact-center file and the retail transactions are different populations, so the
    kit links them at random (seeded) to show how warehouse figures feed routing; with your own
    data the link is your customer id. Without customer_scores the columns are empty."""
    empty = pd.DataFrame({"account_id": [None] * count, "segment": [None] * count,
                          "clv": [np.nan] * count})
    if scores is None or scores.empty:
        return empty
    rng = np.random.default_rng(seed + 1)
    picked = scores.iloc[rng.choice(len(scores), size=count, replace=len(scores) < count)]
    return pd.DataFrame({"account_id": picked["customer_id"].astype(str).to_numpy(),
                         "segment": picked["segment"].to_numpy(),
                         "clv": pd.to_numeric(picked.get("clv"), errors="coerce").to_numpy()
                         if "clv" in picked else np.nan})


def build_profiles(features: pd.DataFrame, predictions: pd.DataFrame, scores: pd.DataFrame | None,
                   *, seed: int) -> pd.DataFrame:
    """One profile per customer: who they are, their contract, segment, CLV, latest churn score
    (a prediction of the served model, never the stored label) and the routing it implies.

    features: the contact-center features with `customer_id` and `mth_remain`;
    predictions: `churn_probability` and `churn_label` per row of `features`, in order."""
    if len(predictions) != len(features):
        raise DirectoryError(f"{len(predictions):,} predictions for {len(features):,} customers")
    if features["customer_id"].duplicated().any():
        dup = features.loc[features["customer_id"].duplicated(), "customer_id"].iloc[0]
        raise DirectoryError(f"customer_id {dup!r} appears more than once")
    profiles = people(features["customer_id"], seed)
    linked = linked_accounts(len(features), scores, seed)
    profiles = pd.concat([profiles, linked], axis=1)
    profiles["contract_months"] = pd.to_numeric(features["mth_remain"], errors="coerce").to_numpy()
    profiles["churn_risk"] = predictions["churn_probability"].to_numpy(dtype=float)
    profiles["at_risk"] = predictions["churn_label"].to_numpy(dtype=int) == 1
    clv = profiles["clv"].dropna()
    clv_vip_from = float(clv.quantile(1 - VIP_CLV_SHARE)) if len(clv) else None
    profiles["vip"] = [is_vip(s if isinstance(s, str) else None, None if pd.isna(c) else float(c),
                              clv_vip_from)
                       for s, c in zip(profiles["segment"], profiles["clv"], strict=True)]
    profiles["routing_priority"] = [routing_priority(v, r) for v, r in
                                    zip(profiles["vip"], profiles["at_risk"], strict=True)]
    profiles.attrs["clv_vip_from"] = clv_vip_from
    return profiles
