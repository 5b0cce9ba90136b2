"""One k-means benchmark case in a fresh process: python -m bench.kmeans_case KIND CUSTOMERS.

KIND: `rfmkit` (the kit's KMeansSegmenter: scikit-learn KMeans, k-means++, n_init=4, then every
customer's closest cluster and distance) or `minibatch` (scikit-learn MiniBatchKMeans with
SageMaker's mini_batch_size, the local analogue of SageMaker's built-in algorithm).
Features are RFM-shaped synthetic customers (97 % one-time buyers, log-normal spend), standardised
before the clock starts. Prints one JSON line: seconds, peak_mb, inertia.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from bench.cases import report
from rfmkit.segmentation.features import FeatureTransform
from rfmkit.segmentation.model import KMeansSegmenter, nearest

K, SEED = 5, 42


def customers(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    repeat = rng.random(n) < 0.03
    return pd.DataFrame({
        "recency_days": rng.integers(1, 730, n),
        "frequency": np.where(repeat, rng.integers(2, 8, n), 1),
        "monetary": np.round(rng.lognormal(4.7, 0.9, n) * np.where(repeat, 1.8, 1.0), 2),
    })


def main() -> None:
    kind, n = sys.argv[1], int(sys.argv[2])
    z = FeatureTransform(["recency_days", "frequency", "monetary"]).fit_transform(customers(n))
    t0 = time.perf_counter()
    if kind == "rfmkit":
        model = KMeansSegmenter(k=K, seed=SEED).fit(z)
        out = model.predict(z)
        inertia = float((out["distance_to_cluster"] ** 2).sum())
    elif kind == "minibatch":
        from sklearn.cluster import MiniBatchKMeans

        fitted = MiniBatchKMeans(n_clusters=K, batch_size=5000, random_state=SEED).fit(z)
        _, distance = nearest(z, fitted.cluster_centers_)
        inertia = float((distance ** 2).sum())
    else:
        raise SystemExit(f"unknown case {kind!r}")
    seconds = time.perf_counter() - t0
    report(kind=kind, customers=n, seconds=seconds, inertia=inertia)


if __name__ == "__main__":
    main()
