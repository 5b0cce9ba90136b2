"""Churn data through one interface: any labelled CSV (the shipped contact-center sample is one).

Every source ends as a `ChurnData`: features, a 0/1 label (1 = churned), identifiers kept aside,
and the kind of every feature column (numeric, boolean, categorical) so that the training pipeline
can prepare each column the right way. What was dropped and why is kept in `notes`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rfmkit.paths import DATA_DIR

CONTACT_CENTER_CSV = DATA_DIR / "contact_center" / "churn_processed.csv"
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0"}
# Label values that mean "left" in public churn datasets, when positive_label is not given.
CHURN_WORDS = {"churn", "churned", "exited", "left", "attrited customer", "attrited", "cancelled",
               "canceled"}
# A text column with more distinct values than this share of rows is an identifier, not a feature.
IDENTIFIER_SHARE = 0.5
# A numeric column named like this with a distinct whole number per row is a row or customer id
# (CLIENTNUM, CustomerId, RowNumber in public churn files), not a quantity.
ID_NAME = re.compile(r"(id|num|number|no|key|index)$", re.IGNORECASE)


class ChurnDataError(ValueError):
    """The data or a parameter is unusable; the message names the file, column or parameter."""


@dataclass
class ChurnData:
    name: str
    features: pd.DataFrame
    label: pd.Series               # 1 = churned, 0 = stayed
    ids: pd.DataFrame
    kinds: dict[str, str]          # column -> numeric | boolean | categorical
    positive_label: str
    notes: list[str] = field(default_factory=list)

    @property
    def base_rate(self) -> float:
        return float(self.label.mean())

    def drop(self, columns: Iterable[str], reason: str) -> None:
        for column in columns:
            if column in self.features:
                self.features = self.features.drop(columns=column)
                self.kinds.pop(column, None)
                self.notes.append(f"dropped {column}: {reason}")

    def describe(self) -> pd.DataFrame:
        return pd.DataFrame({"column": list(self.kinds), "kind": list(self.kinds.values()),
                             "missing": [int(self.features[c].isna().sum()) for c in self.kinds]})


def read_labelled_csv(path: str | Path, label_column: str, *, positive_label: str | None = None,
                      id_columns: Iterable[str] = (), drop_columns: Iterable[str] = (),
                      name: str | None = None) -> ChurnData:
    """Load any labelled CSV: types inferred per column, blank strings treated as missing."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ChurnDataError(f"parameter churn_csv: {path} does not exist")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise ChurnDataError(f"{path}: not a readable CSV ({exc})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    _require(path, raw.columns, [label_column], "label_column")
    id_columns, drop_columns = list(id_columns), list(drop_columns)
    _require(path, raw.columns, id_columns, "id_columns")
    _require(path, raw.columns, drop_columns, "drop_columns")
    values = raw.apply(lambda s: s.str.strip()).replace("", pd.NA)
    notes = []
    unlabelled = values[label_column].isna()
    if unlabelled.any():
        notes.append(f"dropped {int(unlabelled.sum())} row(s) without a {label_column} value "
                     f"(first at line {int(unlabelled.idxmax()) + 2} of {path.name})")
        values = values[~unlabelled].reset_index(drop=True)
    label, positive = _binary_label(values[label_column], positive_label, path, label_column)
    features = values.drop(columns=[label_column, *id_columns, *drop_columns])
    if drop_columns:
        notes.append(f"dropped {drop_columns}: parameter drop_columns")
    data = ChurnData(name or path.stem, pd.DataFrame(index=values.index), label,
                     values[id_columns].copy(), {}, positive, notes)
    for column in features.columns:
        kind, converted, reason = _infer(features[column])
        if reason:
            data.notes.append(f"dropped {column}: {reason}")
            continue
        data.features[column] = converted
        data.kinds[column] = kind
    if not data.kinds:
        raise ChurnDataError(f"{path}: no usable feature columns left (see notes: {data.notes})")
    return data


def contact_center() -> ChurnData:
    """The shipped contact-center sample (MIT-0): label Churn, identifier customerID."""
    return read_labelled_csv(CONTACT_CENTER_CSV, "Churn", positive_label="True",
                             id_columns=["customerID"], name="contact_center")


def _require(path: Path, available: Iterable[str], wanted: list[str], parameter: str) -> None:
    available = list(available)
    for column in wanted:
        if column not in available:
            close = difflib.get_close_matches(column, available, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ChurnDataError(f"parameter {parameter}: {path} has no column {column!r}.{hint} "
                                 f"Columns: {available}")


def _binary_label(values: pd.Series, positive: str | None, path: Path, column: str
                  ) -> tuple[pd.Series, str]:
    seen = sorted(values.unique(), key=str)
    if len(seen) != 2:
        raise ChurnDataError(f"{path}: label column {column!r} must have exactly two values, "
                             f"found {len(seen)}: {seen[:10]}")
    if positive is None:
        lowered = {str(v).lower(): v for v in seen}
        hits = [lowered[w] for w in lowered if w in TRUE_WORDS | CHURN_WORDS]
        if len(hits) != 1:
            raise ChurnDataError(f"{path}: cannot tell which {column!r} value means churned "
                                 f"among {seen}; set parameter positive_label")
        positive = hits[0]
    if str(positive) not in [str(v) for v in seen]:
        raise ChurnDataError(f"parameter positive_label={positive!r}: {column!r} in {path} has "
                             f"only {seen}")
    return (values.astype(str) == str(positive)).astype(int).rename("churned"), str(positive)


def _infer(series: pd.Series) -> tuple[str, pd.Series | None, str | None]:
    """(kind, converted values, reason to drop or None)."""
    present = series.dropna()
    if present.empty:
        return "", None, "no values"
    if present.nunique() == 1 and len(present) == len(series):  # with blanks it still says something
        return "", None, f"one value for every row ({present.iloc[0]!r})"
    lowered = present.str.lower()
    if lowered.isin(TRUE_WORDS | FALSE_WORDS).all() and lowered.nunique() <= 2:
        return "boolean", series.str.lower().map(lambda v: 1.0 if v in TRUE_WORDS else
                                                 (0.0 if v in FALSE_WORDS else None)).astype(float), None
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all():
        if (ID_NAME.search(str(series.name)) and numbers.is_unique
                and (numbers == numbers.round()).all()):
            return "", None, "looks like an identifier (a distinct whole number per row, named like an id)"
        return "numeric", pd.to_numeric(series, errors="coerce").astype(float), None
    if present.nunique() > IDENTIFIER_SHARE * len(present) and present.nunique() > 50:
        return "", None, (f"looks like an identifier ({present.nunique():,} distinct text values "
                          f"in {len(present):,} rows)")
    return "categorical", as_categorical(series), None


def as_categorical(series: pd.Series) -> pd.Series:
    """Text with NaN for missing: scikit-learn's imputers cannot compare pandas' NA."""
    return series.astype(object).where(series.notna(), np.nan)
