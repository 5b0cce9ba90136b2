"""k-means segmentation: features, choice of k, the model artifact, profiles, write-back."""

import tarfile

import numpy as np
import pandas as pd
import pytest

from rfmkit import backends
from rfmkit.config import RunConfig
from rfmkit.segmentation import load_customers, profiles, selection, train
from rfmkit.segmentation import model as km
from rfmkit.segmentation.features import FeatureError, FeatureTransform, check_columns
from rfmkit.segmentation.writeback import customer_segments, write_customer_segments

CENTRES = np.array([[0, 0, 0], [8, 0, 0], [0, 8, 0], [0, 0, 8]], dtype=float)


def blobs(n_per: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four well-separated spherical clusters with known membership."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(CENTRES)), n_per)
    return CENTRES[truth] + rng.normal(0, 0.7, (len(truth), 3)), truth


def rfm_like(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"c{i:05d}" for i in range(n)],
        "segment": rng.choice(["Champions", "Lost", "New"], n),
        "recency_days": rng.integers(1, 700, n),
        "frequency": np.where(rng.random(n) < 0.9, 1, rng.integers(2, 9, n)),
        "monetary": np.round(rng.lognormal(4.5, 1.0, n), 2),
    })


def test_k_selection_recovers_known_clusters():
    points, _ = blobs()
    metrics = selection.evaluate_k(points, range(2, 9), seed=3)
    assert list(metrics["k"]) == list(range(2, 9))
    assert metrics["inertia"].is_monotonic_decreasing
    best, choices = selection.recommend_k(metrics)
    assert best == 4
    assert set(choices["best k"]) == {4}  # every criterion, the elbow included, finds the four


def test_silhouettes_in_small_blocks_equal_scikit_learns_defaults():
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    points, _ = blobs(n_per=1500)  # 6,000 points: the 5,000-point sample spans many blocks
    metrics = selection.evaluate_k(points, range(2, 6), seed=3)
    for k, silhouette in zip(metrics["k"], metrics["silhouette"], strict=True):
        labels = KMeans(n_clusters=k, init="k-means++", n_init=4, random_state=3).fit(points).labels_
        assert silhouette == float(silhouette_score(points, labels, sample_size=5000, random_state=3))


def test_kmeans_on_one_thread_finds_what_every_core_finds(monkeypatch):
    """Below threads.ONE_THREAD_BELOW rows the kit's k-means runs on one OpenMP thread: the same
    clusters, metrics and stability as on every core (the sums differ only in rounding)."""
    from threadpoolctl import threadpool_info

    from rfmkit.segmentation import threads

    with threads.kmeans_threads(1000):
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"} == {1}
    points = np.vstack([blobs(n_per=3000, seed=5)[0], np.random.default_rng(6).normal(4, 3, (4000, 3))])
    one = (selection.evaluate_k(points, range(2, 7), seed=3), km.KMeansSegmenter(k=5, seed=3).fit(points),
           profiles.stability(points, 5, [3, 4]))
    monkeypatch.setattr(threads, "ONE_THREAD_BELOW", 0)
    every = (selection.evaluate_k(points, range(2, 7), seed=3), km.KMeansSegmenter(k=5, seed=3).fit(points),
             profiles.stability(points, 5, [3, 4]))
    pd.testing.assert_frame_equal(one[0], every[0], rtol=1e-9)
    np.testing.assert_allclose(one[1].centroids_, every[1].centroids_, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(one[1].predict(points), every[1].predict(points), rtol=1e-9)
    pd.testing.assert_frame_equal(one[2], every[2])


def test_k_sweep_side_by_side_in_threads_equals_one_k_at_a_time(monkeypatch):
    """evaluate_k fits the k in threads, one per core: each fit on one OpenMP thread (the limit is
    per thread, so it must be set in the thread that fits), and the same figures as each k alone."""
    import os
    import threading

    from sklearn.cluster import KMeans
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    points = np.vstack([blobs(n_per=2000, seed=8)[0], np.random.default_rng(9).normal(4, 3, (3000, 3))])
    alone = pd.concat([selection.evaluate_k(points, [k], seed=4) for k in range(2, 8)], ignore_index=True)
    seen, fit = [], KMeans.fit

    def recording_fit(self, *args, **kwargs):
        seen.append((threading.get_ident(), _openmp_effective_n_threads()))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(KMeans, "fit", recording_fit)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    together = selection.evaluate_k(points, range(2, 8), seed=4)
    pd.testing.assert_frame_equal(together, alone)
    assert len(seen) == 6 and {n for _, n in seen} == {1}
    assert threading.get_ident() not in {t for t, _ in seen}  # fitted in the pool's threads


def test_fit_is_deterministic_and_recovers_membership():
    from sklearn.metrics import adjusted_rand_score

    points, truth = blobs()
    first = km.KMeansSegmenter(k=4, seed=7).fit(points)
    second = km.KMeansSegmenter(k=4, seed=7).fit(points)
    np.testing.assert_array_equal(first.centroids_, second.centroids_)
    a, b = first.predict(points), second.predict(points)
    pd.testing.assert_frame_equal(a, b)
    assert adjusted_rand_score(truth, a["closest_cluster"]) == 1.0
    sizes = np.bincount(a["closest_cluster"])
    assert list(sizes) == sorted(sizes, reverse=True)  # 0 = largest
    # distance is the Euclidean distance to the assigned centre
    centre = first.centroids_[a["closest_cluster"]]
    np.testing.assert_allclose(a["distance_to_cluster"], np.linalg.norm(points - centre, axis=1))


def test_transform_and_model_follow_scikit_learn_conventions(tmp_path):
    """clone-able, parameters via get_params, learned state only after fit, usable in a Pipeline
    (the pipeline's clusters are the two-step notebook path's), and from_centroids for SageMaker."""
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    data = rfm_like()
    features = FeatureTransform(["recency_days", "frequency", "monetary"], log_transform="auto")
    assert features.get_params() == {"columns": ["recency_days", "frequency", "monetary"],
                                     "log_transform": "auto"}
    assert not hasattr(features, "mean_")
    with pytest.raises(FeatureError, match="not fitted"):
        features.transform(data)
    model = km.KMeansSegmenter(k=4, seed=3, features=features.fit(data))
    assert clone(model).get_params()["k"] == 4 and not hasattr(clone(model), "centroids_")
    pipeline = make_pipeline(FeatureTransform(["recency_days", "frequency", "monetary"]),
                             km.KMeansSegmenter(k=4, seed=3)).fit(data)
    two_step = model.fit(features.transform(data)).predict(features.transform(data))
    pd.testing.assert_frame_equal(pipeline.predict(data), two_step)
    rebuilt = km.KMeansSegmenter.from_centroids(model.centroids_, features=features, seed=3,
                                                inertia=model.inertia_, trained_with="sagemaker")
    pd.testing.assert_frame_equal(rebuilt.predict_frame(data), two_step)
    assert rebuilt.k == 4 and rebuilt.trained_with_ == "sagemaker"


def test_artifact_reloads_and_predicts_the_same_clusters(tmp_path):
    data = rfm_like()
    features = FeatureTransform(["recency_days", "frequency", "monetary"])
    z = features.fit_transform(data)
    model = km.KMeansSegmenter(k=5, seed=42, features=features).fit(z)
    path = model.save(tmp_path / "a")
    with tarfile.open(path) as archive:
        assert archive.getnames() == ["model.json"]
    for source in (path, _extracted(path, tmp_path / "extracted")):  # tarball or model_fn's folder
        loaded = km.load(source)
        pd.testing.assert_frame_equal(loaded.predict_frame(data), model.predict(z))
    assert model.save(tmp_path / "b").read_bytes() == path.read_bytes()  # byte-identical re-save


def _extracted(path, folder):
    folder.mkdir()
    with tarfile.open(path) as archive:
        archive.extractall(folder, filter="data")
    return folder


def test_load_rejects_a_foreign_model_file(tmp_path):
    (tmp_path / "model.json").write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="not an rfmkit k-means model"):
        km.load(tmp_path)


def test_auto_log_transform_picks_skewed_columns_and_inverts():
    data = rfm_like()
    features = FeatureTransform(["recency_days", "frequency", "monetary"]).fit(data)
    assert features.log_columns_ == ["frequency", "monetary"]
    z = features.transform(data)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-9)
    back = features.inverse_transform(z)
    np.testing.assert_allclose(back, data[features.columns].to_numpy(dtype=float), rtol=1e-9)
    explicit = FeatureTransform(["recency_days", "monetary"], log_transform="monetary").fit(data)
    assert explicit.log_columns_ == ["monetary"]
    assert FeatureTransform(["monetary"], log_transform="none").fit(data).log_columns_ == []


def test_feature_errors_name_the_column_and_parameter():
    data = rfm_like(50)
    with pytest.raises(FeatureError, match=r"feature_columns: column\(s\) \['spend'\] not in rfm_scores"):
        check_columns(["recency_days", "spend"], data.columns)
    with pytest.raises(FeatureError, match="feature_columns is empty"):
        check_columns("", data.columns)
    broken = data.assign(monetary=data["monetary"].astype(object))
    broken.loc[7, "monetary"] = "n/a"
    with pytest.raises(FeatureError, match="'monetary' has 1 missing or non-numeric value.*row 7"):
        FeatureTransform(["monetary"]).fit(broken)
    with pytest.raises(FeatureError, match=r"log_transform: \['recency_days'\] have negative values"):
        FeatureTransform(["recency_days"], log_transform=["recency_days"]).fit(
            data.assign(recency_days=data["recency_days"] - 100))
    with pytest.raises(FeatureError, match="log_transform"):
        FeatureTransform(["recency_days"], log_transform=["monetary"]).fit(data)
    constant = FeatureTransform(["frequency"]).fit(data.assign(frequency=1))
    assert "one value for every customer" in constant.notes_[0]


def test_bad_k_is_a_clear_error():
    with pytest.raises(ValueError, match="parameter k=1"):
        km.check_k(1, 100)
    with pytest.raises(ValueError, match="more clusters than the 3 customers"):
        km.check_k(5, 3)


def test_labels_describe_the_centroid_and_stay_unique():
    columns = ["recency_days", "frequency", "monetary"]
    assert profiles.cluster_label([-1.2, 0.1, 0.9], columns) == "recent high-spending customers"
    assert profiles.cluster_label([0.8, 3.0, 1.5], columns) == "lapsed repeat high-spending customers"
    assert profiles.cluster_label([0.1, -0.2, 0.3], columns) == "typical customers"
    assert profiles.cluster_label([0.0, 0.0, 2.0], ["a", "b", "c"]) == "high-c customers"
    labels = profiles.cluster_labels(np.array([[0.1, 0, 0], [0, 0.2, 0], [-1, 0, 0]]), columns)
    assert labels == ["typical customers, fewer orders", "typical customers, more orders", "recent customers"]
    # Two clusters that would both be "recent repeat high-spending" are told apart by where they
    # differ most (a real log gave "... (2)" and "... (4)" before); three are ranked.
    labels = profiles.cluster_labels(np.array([[-1, 1, 1], [-1.2, 1.5, 3], [0, 0, 0]]), columns)
    assert labels[:2] == ["recent repeat high-spending customers, lower spend",
                          "recent repeat high-spending customers, higher spend"]
    labels = profiles.cluster_labels(np.array([[-1, 1, 1], [-1.2, 1.5, 3], [-1.1, 1.6, 2]]), columns)
    assert labels[2] == "recent repeat high-spending customers, middle spend (2 of 3)"
    assert len(set(labels)) == 3


def test_profile_accounts_for_every_customer_and_all_revenue():
    data = rfm_like()
    features = FeatureTransform(["recency_days", "frequency", "monetary"])
    z = features.fit_transform(data)
    model = km.KMeansSegmenter(k=4, seed=1, features=features).fit(z)
    assignments = model.predict(z)
    labels = profiles.cluster_labels(model.centroids_, features.columns)
    table = profiles.profile(data, assignments, labels)
    assert table["customers"].sum() == len(data)
    assert table["revenue"].sum() == pytest.approx(data["monetary"].sum())
    assert table["revenue_share_%"].sum() == pytest.approx(100)
    assert list(table["label"]) == labels
    cross = profiles.crosstab_segments(data["segment"], assignments["closest_cluster"], labels)
    np.testing.assert_allclose(cross.sum(axis=1), 100)


def test_stability_is_one_for_clear_clusters():
    points, _ = blobs()
    result = profiles.stability(points, 4, [1, 2, 3])
    assert list(result["seed"]) == [1, 2, 3]
    assert result["adjusted_rand_vs_first"].min() == pytest.approx(1.0)


def test_train_locally_and_write_back(tmp_path):
    """rfm_scores in a warehouse → customer_segments table and export; re-running is idempotent."""
    from rfmkit.warehouse.duckdb import DuckDBWarehouse

    data = rfm_like(500)
    wh = DuckDBWarehouse(":memory:")
    wh.run_file("000_load_audit.sql")
    wh.execute("CREATE TABLE rfm_scores (customer_id VARCHAR(256), segment VARCHAR(64), "
               "recency_days INTEGER, frequency INTEGER, monetary DECIMAL(18,2))")
    wh.con.register("data_frame", data)
    wh.execute_native("INSERT INTO rfm_scores SELECT customer_id, segment, recency_days, frequency, "
                      "monetary FROM data_frame")
    kit = backends.get(RunConfig(run_dir=tmp_path / "run"))
    customers = load_customers(wh, ["recency_days", "frequency", "monetary"])
    assert list(customers["customer_id"]) == sorted(data["customer_id"])
    features = FeatureTransform(["recency_days", "frequency", "monetary"])
    z = features.fit_transform(customers)
    model, assignments = train(z, features, kit, k=3, seed=5)
    labels = profiles.cluster_labels(model.centroids_, features.columns)
    rows = customer_segments(customers["customer_id"], assignments, labels)
    for _ in range(2):
        report, exported = write_customer_segments(wh, kit, rows)
        assert report.rows_loaded == len(data) and report.rows_rejected == 0
    assert wh.row_count("customer_segments") == len(data)
    table = wh.query("SELECT * FROM customer_segments ORDER BY customer_id")
    assert list(table.columns) == ["customer_id", "cluster", "distance_to_cluster", "cluster_label"]
    assert set(table["cluster"]) == {0, 1, 2}
    assert table.groupby("cluster")["cluster_label"].nunique().eq(1).all()
    exported_rows = pd.read_csv(exported[0])
    assert len(exported_rows) == len(data) and exported[0].name == "customer_segments_000.csv"
    with pytest.raises(RuntimeError, match="run notebook 02_rfm_scoring first"):
        load_customers(DuckDBWarehouse(":memory:"), ["monetary"])
    wh.close()


def test_mlflow_runs_accumulate_in_the_workspace_store(tmp_path):
    import mlflow

    from rfmkit import tracking

    for n in range(2):
        cfg = RunConfig(run_dir=tmp_path / "runs" / f"run{n}")
        uri = tracking.use_experiment(cfg, "rfmkit-test")
        with mlflow.start_run():
            mlflow.log_param("k", 5)
            mlflow.log_metric("silhouette", 0.3 + n)
    assert uri == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    runs = mlflow.search_runs(experiment_names=["rfmkit-test"])
    assert len(runs) == 2 and sorted(runs["metrics.silhouette"]) == [0.3, 1.3]
    experiment = mlflow.get_experiment_by_name("rfmkit-test")
    assert experiment.artifact_location.startswith((tmp_path / "runs" / "mlartifacts").as_uri())
