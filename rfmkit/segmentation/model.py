"""The k-means segmentation model: feature transform + centroids, trained locally, saved as a
SageMaker-style model.tar.gz.

Predictions follow the contract of SageMaker's built-in KMeans: `closest_cluster` and
`distance_to_cluster` (Euclidean, in the standardised feature space). Clusters are renumbered by
size (0 = largest) so that numbers mean the same thing across seeds and re-runs.

The archive holds `model.json` (columns, log columns, scaler, centroids), plain data rather than
a pickle, so the inference code loads it without trusting or matching library versions.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin

from rfmkit.segmentation.features import FeatureTransform
from rfmkit.segmentation.threads import kmeans_threads

MODEL_FILE = "model.json"
ARTIFACT_NAME = "model.tar.gz"
FORMAT = "rfmkit-kmeans/1"


class KMeansSegmenter(ClusterMixin, BaseEstimator):
    """k-means on standardised features, numbered by cluster size.

    A scikit-learn estimator: configuration in __init__ (k, seed, n_init, and the fitted
    `features` transform that serving applies to raw columns), learned state with a trailing
    underscore set by `fit` (centroids_, inertia_, n_iter_, trained_with_, info_); clone-able and
    usable in a Pipeline after a FeatureTransform. `from_centroids` builds one from centroids
    trained elsewhere (SageMaker's KMeans)."""

    def __init__(self, k: int = 5, seed: int = 42, n_init: int = 4,
                 features: FeatureTransform | None = None):
        self.k, self.seed, self.n_init, self.features = k, seed, n_init, features

    def fit(self, standardised: np.ndarray, y=None) -> KMeansSegmenter:
        """Fit on already standardised features (the notebook keeps them for the metrics)."""
        from sklearn.cluster import KMeans

        check_k(self.k, len(standardised))
        with kmeans_threads(len(standardised)):
            model = KMeans(n_clusters=self.k, init="k-means++", n_init=self.n_init,
                           random_state=self.seed).fit(standardised)
        self.set_centroids(model.cluster_centers_, standardised)
        self.inertia_, self.n_iter_ = float(model.inertia_), int(model.n_iter_)
        self.trained_with_, self.info_ = "scikit-learn", {}
        return self

    @classmethod
    def from_centroids(cls, centroids: np.ndarray, *, features: FeatureTransform | None = None,
                       seed: int = 42, n_init: int = 1, inertia: float | None = None,
                       trained_with: str = "sagemaker", info: dict | None = None
                       ) -> KMeansSegmenter:
        """A fitted model from centroids found elsewhere (already numbered by size)."""
        centroids = np.asarray(centroids, dtype=float)
        model = cls(k=len(centroids), seed=seed, n_init=n_init, features=features)
        model.centroids_, model.inertia_, model.n_iter_ = centroids, inertia, None
        model.trained_with_, model.info_ = trained_with, dict(info or {})
        return model

    def fit_predict(self, standardised: np.ndarray, y=None) -> pd.DataFrame:
        return self.fit(standardised).predict(standardised)

    def set_centroids(self, centroids: np.ndarray, standardised: np.ndarray) -> KMeansSegmenter:
        """Adopt centroids (from scikit-learn or SageMaker), numbered by cluster size."""
        centroids = np.asarray(centroids, dtype=float)
        sizes = np.bincount(nearest(standardised, centroids)[0], minlength=len(centroids))
        # Largest first; ties broken by the centroid coordinates so the order is total.
        order = sorted(range(len(centroids)), key=lambda c: (-sizes[c], tuple(centroids[c])))
        self.centroids_ = centroids[order]
        return self

    def predict(self, standardised: np.ndarray) -> pd.DataFrame:
        cluster, distance = nearest(standardised, self._centroids())
        return pd.DataFrame({"closest_cluster": cluster, "distance_to_cluster": distance})

    def predict_values(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """The SageMaker KMeans contract from raw values already checked to be finite numbers in
        the model's column order (the endpoint's path: no DataFrame in or out)."""
        cluster, distance = nearest(self.features.transform_values(values), self._centroids())
        return {"closest_cluster": cluster, "distance_to_cluster": distance}

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Raw rfm columns in, SageMaker KMeans contract out (what the endpoint serves)."""
        if self.features is None:
            raise ValueError("this model has no feature transform; use predict() on "
                             "standardised values")
        return self.predict(self.features.transform(frame))

    def centroids_in_units(self) -> pd.DataFrame:
        """Centroids back in the original units (days, orders, money)."""
        return pd.DataFrame(self.features.inverse_transform(self._centroids()),
                            columns=self.features.columns)

    def _centroids(self) -> np.ndarray:
        if getattr(self, "centroids_", None) is None:
            raise ValueError("KMeansSegmenter is not fitted: call fit() first")
        return self.centroids_

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "k": self.k, "seed": self.seed, "n_init": self.n_init,
                "trained_with": self.trained_with_, "features": self.features.to_dict(),
                "centroids": self._centroids().tolist(), "inertia": self.inertia_,
                "info": self.info_}

    @classmethod
    def from_dict(cls, values: dict) -> KMeansSegmenter:
        if values.get("format") != FORMAT:
            raise ValueError(f"not an rfmkit k-means model (format {values.get('format')!r}, "
                             f"expected {FORMAT!r})")
        model = cls.from_centroids(values["centroids"],
                                   features=FeatureTransform.from_dict(values["features"]),
                                   seed=int(values["seed"]), n_init=int(values["n_init"]),
                                   inertia=values.get("inertia"),
                                   trained_with=values.get("trained_with", "scikit-learn"),
                                   info=values.get("info", {}))
        model.k = int(values["k"])
        return model

    def save(self, folder: str | Path) -> Path:
        """Write `model.tar.gz` (model.json inside, as SageMaker unpacks into /opt/ml/model)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(self.to_dict(), indent=2, sort_keys=True).encode()
        path = folder / ARTIFACT_NAME
        with tarfile.open(path, "w:gz") as archive:
            info = tarfile.TarInfo(MODEL_FILE)
            info.size, info.mtime, info.mode = len(payload), 0, 0o644  # byte-identical re-runs
            archive.addfile(info, io.BytesIO(payload))
        return path


def run_artifact(run_dir: str | Path) -> Path:
    """Where a run keeps its k-means model (notebook 03 saves it; 06 and 07 serve and describe it)."""
    return Path(run_dir) / "models" / "kmeans" / ARTIFACT_NAME


def load(path: str | Path) -> KMeansSegmenter:
    """Load from model.tar.gz, or from the folder SageMaker extracted it into (model_fn's view)."""
    path = Path(path)
    if path.is_dir():
        return KMeansSegmenter.from_dict(json.loads((path / MODEL_FILE).read_text()))
    with tarfile.open(path, "r:gz") as archive:
        member = archive.extractfile(MODEL_FILE)
        if member is None:
            raise ValueError(f"{path}: no {MODEL_FILE} inside")
        return KMeansSegmenter.from_dict(json.loads(member.read()))


def nearest(points: np.ndarray, centroids: np.ndarray, chunk: int = 200_000
            ) -> tuple[np.ndarray, np.ndarray]:
    """Closest centroid and Euclidean distance to it, in chunks to bound memory."""
    points = np.asarray(points, dtype=float)
    cluster = np.empty(len(points), dtype=np.int64)
    distance = np.empty(len(points), dtype=float)
    for start in range(0, len(points), chunk):
        block = points[start:start + chunk]
        squared = ((block[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
        best = squared.argmin(axis=1)
        cluster[start:start + chunk] = best
        distance[start:start + chunk] = np.sqrt(squared[np.arange(len(block)), best])
    return cluster, distance


def check_k(k: int, customers: int) -> None:
    if not isinstance(k, int | np.integer) or k < 2:
        raise ValueError(f"parameter k={k!r}: use an integer of at least 2")
    if k > customers:
        raise ValueError(f"parameter k={k}: more clusters than the {customers} customers")
