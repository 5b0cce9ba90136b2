"""Leakage guard: a single column that alone separates churners almost perfectly is suspect.

Real churn files carry such columns (BankChurners ships two `Naive_Bayes_Classifier_...` columns,
each computed from the label, with AUC 0 or 1 on their own). A model trained with one reports a
perfect score and is useless in production, so every column is scored alone first: numeric and
boolean columns by their own values, categorical ones by their categories' churn rates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from rfmkit.churn.datasets import ChurnData

LEAK_AUC = 0.99  # flagged when AUC > 0.99 or < 0.01


def single_column_auc(data: ChurnData) -> pd.DataFrame:
    """ROC-AUC of every feature used alone as a score, with whether it is flagged."""
    rows = []
    for column, kind in data.kinds.items():
        values = data.features[column]
        if kind == "categorical":
            rates = data.label.groupby(values.fillna("(missing)")).mean()
            score = values.fillna("(missing)").map(rates).astype(float)
        else:
            score = values.astype(float).fillna(values.astype(float).median())
        auc = float(roc_auc_score(data.label, score)) if score.nunique() > 1 else 0.5
        rows.append({"column": column, "kind": kind, "auc_alone": auc,
                     "flagged": auc > LEAK_AUC or auc < 1 - LEAK_AUC})
    table = pd.DataFrame(rows)
    order = np.argsort(-np.abs(table["auc_alone"].to_numpy() - 0.5), kind="stable")
    return table.iloc[order].reset_index(drop=True)


def guard(data: ChurnData, *, drop: bool = True) -> pd.DataFrame:
    """Score every column alone; drop the flagged ones (unless drop=False) and say so."""
    table = single_column_auc(data)
    flagged = table.loc[table["flagged"], "column"].tolist()
    if flagged and drop:
        data.drop(flagged, "leakage guard: alone it separates the label almost perfectly "
                           f"(ROC-AUC > {LEAK_AUC} or < {1 - LEAK_AUC:.2f})")
    elif flagged:
        data.notes.append(f"leakage guard flagged {flagged} but drop_leaks=False kept them")
    return table
