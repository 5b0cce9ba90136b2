
"""A small run folder as notebooks 02–06 leave it, built with the kit's own write-back code: the
rfm_scores, customer_segments and customer_scores tables in a DuckDB warehouse, their CSV exports,
and a k-means model, for the manifest, dashboard and QuickSight tests; and a small churn model."""

import functools
from datetime import date

import numpy as np
import pandas as pd

from rfmkit import backends, marts
from rfmkit.churn import artifact, training
from rfmkit.churn.datasets import contact_center
from rfmkit.config import RunConfig
from rfmkit.rfm_segments import segment_for
from rfmkit.segmentation import model as km
from rfmkit.segmentation.features import FeatureTransform
from rfmkit.segmentation.writeback import customer_segments, write_customer_segments
from rfmkit.serving import scores
from rfmkit.warehouse.duckdb import DuckDBWarehouse

RFM_DDL = """CREATE TABLE rfm_scores (customer_id VARCHAR(256) NOT NULL, snapshot_date DATE NOT NULL,
    recency_days INTEGER NOT NULL, frequency INTEGER NOT NULL, monetary DECIMAL(18, 2) NOT NULL,
    r_score SMALLINT, f_score SMALLINT, m_score SMALLINT, segment VARCHAR(32) NOT NULL)"""


def rfm_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame({
        "customer_id": [f"c{i:05d}" for i in range(n)],
        "snapshot_date": date(2018, 10, 18),
        "recency_days": rng.integers(1, 700, n),
        "frequency": rng.choice([1, 1, 1, 2, 3, 6], n),
        "monetary": np.round(rng.lognormal(4.5, 1.0, n), 2),
    })
    rows["r_score"] = 5 - np.minimum(rows["recency_days"] // 140, 4)
    rows["f_score"] = np.minimum(rows["frequency"], 5)
    rows["m_score"] = pd.qcut(rows["monetary"], 5, labels=False) + 1
    rows["segment"] = [segment_for(r, f, m) for r, f, m in rows[["r_score", "f_score", "m_score"]].to_numpy()]
    return rows


def build(folder, *, n: int = 600, seed: int = 3, with_scores: bool = True) -> tuple[RunConfig, DuckDBWarehouse]:
    cfg = RunConfig(run_dir=folder, seed=seed)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    warehouse = DuckDBWarehouse(cfg.warehouse_path)
    warehouse.run_file("000_load_audit.sql")
    rfm = rfm_rows(n, seed)
    warehouse.execute(RFM_DDL)
    warehouse.con.register("rfm_frame", rfm)
    warehouse.execute_native("INSERT INTO rfm_scores SELECT * FROM rfm_frame")
    warehouse.con.unregister("rfm_frame")
    kit = backends.get(cfg)
    kit.exporter().export(warehouse, "rfm_scores", order_by="customer_id")
    marts.segment_summary(warehouse, kit)

    features = FeatureTransform(["recency_days", "frequency", "monetary"])
    model = km.KMeansSegmenter(k=3, seed=seed, features=features).fit(features.fit_transform(rfm))
    model.save(cfg.run_dir / "models" / "kmeans")
    assignments = model.predict_frame(rfm)
    labels = ["recent customers", "lapsed customers", "big spenders"]
    write_customer_segments(warehouse, kit, customer_segments(rfm["customer_id"], assignments, labels))

    if with_scores:
        probability = np.clip(rfm["recency_days"] / 700 + np.random.default_rng(seed).normal(0, 0.1, n), 0, 1)
        churn = pd.DataFrame({"customer_id": rfm["customer_id"], "churn_probability": probability,
                              "churn_label": (probability >= 0.5).astype(int)})
        chosen = scores.ScoringVersion("rfmkit-churn-transactions", "2", False, "newest, not approved")
        scores.customer_scores(warehouse, kit, churn, chosen, date(2018, 10, 18))
    return cfg, warehouse


@functools.cache
def _tuned_contact_center():
    """Tuned once per test session, however many tests need it."""
    data = contact_center()
    parts = training.split(data, seed=5)
    return data, parts, training.tune("logistic_regression", data, parts, budget=1, folds=3, seed=5).pipeline


def contact_center_model(folder, threshold: float):
    """A quickly tuned churn pipeline on the shipped contact-center data (tuned once per session),
    saved as model.tar.gz with the given threshold: (data, split parts, path)."""
    data, parts, pipeline = _tuned_contact_center()
    path = artifact.save(pipeline, {"columns": list(parts.x_train.columns), "kinds": data.kinds,
                                    "threshold": threshold}, folder)
    return data, parts, path
