"""Customer segmentation with k-means on RFM features (notebook 03).

features (transform) → selection (choice of k) → model (local scikit-learn, or
sagemaker_kmeans on AWS) → profiles (labels, crosstab, stability) → writeback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rfmkit.segmentation.features import FeatureTransform, check_columns
from rfmkit.segmentation.model import KMeansSegmenter, check_k

if TYPE_CHECKING:  # the serving container imports rfmkit.segmentation.model without the warehouse
    from rfmkit.warehouse.base import Warehouse

SOURCE_TABLE = "rfm_scores"


def load_customers(warehouse: Warehouse, feature_columns: list[str]) -> pd.DataFrame:
    """customer_id, segment, monetary and the feature columns of every scored customer."""
    from rfmkit.warehouse.dialect import quote_ident

    if not warehouse.table_exists(SOURCE_TABLE):
        raise RuntimeError(f"table {SOURCE_TABLE} not found: run notebook 02_rfm_scoring first")
    available = list(warehouse.table_columns(SOURCE_TABLE)["name"])
    columns = list(dict.fromkeys(["customer_id", "segment", "monetary",
                                  *check_columns(feature_columns, available)]))
    frame = warehouse.query(f"SELECT {', '.join(quote_ident(c) for c in columns)} "
                            f"FROM {SOURCE_TABLE} ORDER BY customer_id")
    if frame.empty:
        raise RuntimeError(f"{SOURCE_TABLE} has no rows: nothing to segment")
    return frame


def train(standardised: np.ndarray, features: FeatureTransform, backend, *, k: int, seed: int,
          n_init: int = 4, instance_type: str = "ml.m5.large", progress=print
          ) -> tuple[KMeansSegmenter, pd.DataFrame]:
    """Train with the backend's k-means trainer; returns the model and every customer's
    assignment."""
    check_k(k, len(standardised))
    model = KMeansSegmenter(k=k, seed=seed, n_init=n_init, features=features)
    return backend.segment_trainer(instance_type=instance_type).fit_predict(
        model, standardised, progress=progress)


class LocalKMeansTrainer:
    """scikit-learn in this process (the local backend's segment trainer)."""

    def fit_predict(self, model: KMeansSegmenter, standardised: np.ndarray, progress=print
                    ) -> tuple[KMeansSegmenter, pd.DataFrame]:
        model.fit(standardised)
        return model, model.predict(standardised)

    def reproduce(self, model: KMeansSegmenter, standardised: np.ndarray,
                  assignments: pd.DataFrame) -> str:
        """Refit with the same seed: the assignments must be identical (raises if not)."""
        from sklearn.base import clone

        again = clone(model).fit(standardised)
        if not again.predict(standardised).equals(assignments):
            raise AssertionError("same seed, different clusters: k-means is not reproducible here")
        return "refit with the same seed: identical assignments"
