"""write_mart: rows a model computed in Python, staged as CSV and loaded with the audited COPY."""

from datetime import date

import numpy as np
import pandas as pd

from rfmkit import backends, marts


def test_a_mart_loads_back_exactly_what_was_written(tmp_path):
    kit = backends.for_run("local", run_dir=tmp_path / "run")
    rows = pd.DataFrame({
        "customer_id": ["c3", "c1", 'c,2 "quoted"'],
        "churn_probability": [0.1, 1e-20, 0.30000000000000004],
        "churn_label": np.array([0, 0, 1], dtype="int16"),
        "churn_model": ["gradient_boosting"] * 3,
        "churn_model_version": ["7", "7", "7"],
        "churn_model_approved": [True, False, True],
        "scored_at": [date(2018, 10, 17)] * 3,
    })
    with kit.warehouse() as warehouse:
        report, exported = marts.write_mart(warehouse, kit, "churn_predictions", "085_churn_predictions.sql",
                                            rows, area="scoring", export=False)
        loaded = warehouse.query("SELECT * FROM churn_predictions ORDER BY customer_id")
    assert report.rows_loaded == 3 and exported == []
    expected = rows.sort_values("customer_id").reset_index(drop=True)
    assert list(loaded["customer_id"]) == list(expected["customer_id"])
    assert list(loaded["churn_probability"]) == list(expected["churn_probability"])  # bit for bit
    assert list(loaded["churn_label"]) == list(expected["churn_label"])
    assert list(loaded["churn_model_approved"]) == list(expected["churn_model_approved"])
    assert [pd.Timestamp(d).date() for d in loaded["scored_at"]] == list(expected["scored_at"])


def test_staged_timestamps_are_written_to_the_second_and_nulls_as_empty_fields(tmp_path):
    rows = pd.DataFrame({"at": pd.to_datetime(["2020-01-02 03:04:05", None]), "x": [1.5, np.nan],
                         "name": ["a", None]})
    text = marts.stage_csv(rows, tmp_path / "rows.csv").read_text()
    assert text.splitlines()[1:] == ['"2020-01-02 03:04:05",1.5,"a"', ",,"]
