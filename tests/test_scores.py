"""customer_scores: the version that scores, row accounting, idempotent write-back, and the batch
routes (in process, through the local endpoint with boto3) giving the same scores."""

import os
from datetime import date

import exported_run
import numpy as np
import pandas as pd
import pytest

from rfmkit import backends
from rfmkit.config import ConfigError, RunConfig
from rfmkit.serving import operations, scores
from rfmkit.serving.inference import model_fn
from rfmkit.warehouse.duckdb import DuckDBWarehouse


class Registry:
    """The two calls choose_version makes, with a chosen state (MLflow's are tested elsewhere)."""

    def __init__(self, production, versions):
        self.name, self._production, self._versions = "rfmkit-churn-transactions", production, versions

    def alias(self, alias):
        return self._production if alias == "production" else None

    def versions(self):
        return pd.DataFrame(self._versions)


def test_production_scores_else_the_newest_marked_unapproved_or_refused():
    newest = [{"version": 3, "quality_gate": "failed"}, {"version": 2, "quality_gate": "failed"}]
    chosen = scores.choose_version(Registry("2", newest), require_approved=True)
    assert (chosen.version, chosen.approved) == ("2", True)
    chosen = scores.choose_version(Registry(None, newest), require_approved=False)
    assert (chosen.version, chosen.approved) == ("3", False) and "NOT approved" in chosen.note
    with pytest.raises(scores.ScoringError, match="no approved .* require_approved=False"):
        scores.choose_version(Registry(None, newest), require_approved=True)
    with pytest.raises(scores.ScoringError, match="no registered version: run notebook 04"):
        scores.choose_version(Registry(None, []), require_approved=False)


@pytest.fixture
def scored_warehouse():
    wh = DuckDBWarehouse(":memory:")
    wh.run_file("000_load_audit.sql")
    wh.execute("CREATE TABLE rfm_scores (customer_id VARCHAR(256), segment VARCHAR(64), "
               "recency_days INTEGER, frequency INTEGER, monetary DECIMAL(18,2))")
    wh.execute_native("INSERT INTO rfm_scores VALUES ('c1', 'Champions', 5, 4, 400.00), "
                      "('c2', 'Lost', 500, 1, 20.00), ('c3', 'Lost', 450, 1, 35.50)")
    yield wh
    wh.close()


def churn_frame(ids, probabilities):
    return pd.DataFrame({"customer_id": ids, "churn_probability": probabilities,
                         "churn_label": [int(p >= 0.5) for p in probabilities]})


def test_customer_scores_and_segment_summary_are_sql_marts_rebuilt_idempotently(scored_warehouse, tmp_path):
    """Given rfm_scores (3 customers, no clusters yet) and predictions in any order, expect one
    customer_scores row per customer with revenue at risk, and the per-segment summary."""
    chosen = scores.ScoringVersion("rfmkit-churn-transactions", "4", False, "note")
    kit = backends.get(RunConfig(run_dir=tmp_path / "run"))
    churn = churn_frame(["c3", "c1", "c2"], [0.9, 0.1, 0.8])
    for _ in range(2):  # a re-run replaces the tables, it does not append
        rows, exported = scores.customer_scores(scored_warehouse, kit, churn, chosen, date(2018, 10, 18))
    assert list(rows["customer_id"]) == ["c1", "c2", "c3"] and rows["cluster"].isna().all()  # no notebook 03
    assert float(rows.set_index("customer_id").loc["c3", "revenue_at_risk"]) == pytest.approx(31.95)
    assert scored_warehouse.row_count("customer_scores") == 3 == scored_warehouse.row_count("churn_predictions")
    assert list(rows["segment"]) == ["Champions", "Lost", "Lost"] and not rows["churn_model_approved"].any()
    assert list(rows["churn_model_version"]) == ["4"] * 3
    assert [p.name for p in exported] == ["customer_scores_000.csv", "segment_summary_000.csv"]
    assert len(pd.read_csv(exported[0])) == 3
    summary = scores.distribution_by_segment(scored_warehouse)
    lost = summary.iloc[0]
    assert lost["segment"] == "Lost" and lost["flagged"] == 2 and lost["customers"] == 2
    assert lost["revenue_at_risk"] == pytest.approx(20 * 0.8 + 35.5 * 0.9)
    assert lost["50%"] == pytest.approx(0.85) and lost["25%"] == pytest.approx(0.825)


def test_a_customer_without_a_score_is_an_error_not_a_gap(scored_warehouse, tmp_path):
    chosen = scores.ScoringVersion("m", "1", True, "note")
    kit = backends.get(RunConfig(run_dir=tmp_path / "run"))
    with pytest.raises(scores.ScoringError, match="1 of 3 customers have no churn risk .*c2"):
        scores.customer_scores(scored_warehouse, kit, churn_frame(["c1", "c3"], [0.1, 0.2]), chosen,
                               date(2018, 1, 1))
    assert not scored_warehouse.table_exists("customer_scores")


def test_batch_routes_agree_and_a_wrong_route_is_named(tmp_path, monkeypatch):
    data, parts, path = exported_run.contact_center_model(tmp_path / "m", threshold=0.3)
    model = model_fn(path)
    frame = parts.x_test.head(400)
    kit = backends.get(RunConfig(run_dir=tmp_path / "run"))
    server = kit.serving()
    before = dict(os.environ)
    try:
        runtime = kit.runtime_client(server)
        assert dict(os.environ) == before  # the client is pointed at the server, the process is not
        scorer = kit.batch_scorer(server, runtime)
        local = scorer.score(frame, model, str(path), via="auto", progress=False)
        remote = scorer.score(frame, model, str(path), via="endpoint", progress=False)
        assert "rfmkit-batch-scoring" not in [e["name"] for e in server.endpoints.describe()]  # removed after
        with pytest.raises(ConfigError, match="batch_via='transform' is not available on this backend; "
                                              "use one of auto, in-process, endpoint"):
            scorer.score(frame, model, str(path), via="transform")
    finally:
        operations.shutdown(server, [])
    assert server.record is not None and not server.record.exists()
    np.testing.assert_allclose(local["churn_probability"], remote["churn_probability"])
    assert list(local["churn_label"]) == list((model.model.predict_proba(frame)[:, 1] >= 0.3).astype(int))
