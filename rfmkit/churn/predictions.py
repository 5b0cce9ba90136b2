"""churn_predictions: a churn model's scores in the warehouse, with the model that made them.

Both notebooks that score customers write them here (04 with the model it just trained, 06 with
the registry's chosen version); the customer_scores and segment_summary marts join this table.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from rfmkit import marts
from rfmkit.warehouse.base import Warehouse

TABLE, DDL = "churn_predictions", "085_churn_predictions.sql"


def write_predictions(warehouse: Warehouse, backend, churn: pd.DataFrame, *, model: str,
                      version: str, approved: bool, scored_at: date):
    """Load `churn` (customer_id, churn_probability, churn_label) with the audited COPY."""
    rows = churn[["customer_id", "churn_probability", "churn_label"]].copy()
    rows["churn_label"] = rows["churn_label"].astype(int)
    rows["churn_model"], rows["churn_model_version"] = model, str(version)
    rows["churn_model_approved"], rows["scored_at"] = bool(approved), scored_at
    return marts.write_mart(warehouse, backend, TABLE, DDL, rows, area="scoring", export=False)
