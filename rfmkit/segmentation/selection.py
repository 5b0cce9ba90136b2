"""Choosing k: four standard criteria over a range of k, and a recommendation from them.

- inertia (within-cluster sum of squares) always falls as k grows; look for the elbow;
- silhouette (-1..1, higher is better) is O(n^2), so it is computed on a seeded sample;
- Calinski-Harabasz (higher is better) and Davies-Bouldin (lower is better) are O(n).
Large data is fitted on a seeded sample too: the shape of these curves settles long before a
million rows, and the final model is still trained on everyone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from rfmkit.segmentation.threads import side_by_side

SILHOUETTE_SAMPLE = 5_000
FIT_SAMPLE = 100_000
# scikit-learn computes the silhouette's distances in blocks of its `working_memory` (1 GB by
# default: the whole 5,000 x 5,000 matrix at once, 200 MB of fresh pages every k). Blocks of 64 MB
# give the same values (tested) and halved the time of the silhouettes in notebook 03 (4-5 s to 2-3 s).
SILHOUETTE_WORKING_MB = 64


def evaluate_k(standardised: np.ndarray, ks: Iterable[int] = range(2, 11), *, seed: int = 42,
               n_init: int = 4, fit_sample: int = FIT_SAMPLE,
               silhouette_sample: int = SILHOUETTE_SAMPLE,
               progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """One row per k: inertia, silhouette, calinski_harabasz, davies_bouldin. The k are evaluated
    side by side in threads (threads.side_by_side; FIT_SAMPLE keeps the data below its limit);
    each k's figures do not depend on the others (tested)."""
    rng = np.random.default_rng(seed)
    data = np.asarray(standardised, dtype=float)
    if len(data) > fit_sample:
        data = data[rng.choice(len(data), fit_sample, replace=False)]
    ks = [int(k) for k in ks if 2 <= int(k) < len(data)]
    if not ks:
        raise ValueError("no usable k: k must be at least 2 and below the number of customers")

    def one(k: int) -> dict:
        return _criteria(data, k, seed=seed, n_init=n_init, silhouette_sample=silhouette_sample)

    rows = []
    for row in side_by_side(one, ks, len(data)):  # in order of k
        rows.append(row)
        if progress:
            progress(f"k={row['k']}: silhouette {row['silhouette']:.3f}")
    return pd.DataFrame(rows)


def _criteria(data: np.ndarray, k: int, *, seed: int, n_init: int, silhouette_sample: int) -> dict:
    import sklearn
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    model = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed).fit(data)
    labels = model.labels_
    with sklearn.config_context(working_memory=SILHOUETTE_WORKING_MB):
        silhouette = silhouette_score(data, labels, sample_size=min(silhouette_sample, len(data)),
                                      random_state=seed)
    return {"k": k, "inertia": float(model.inertia_), "silhouette": float(silhouette),
            "calinski_harabasz": float(calinski_harabasz_score(data, labels)),
            "davies_bouldin": float(davies_bouldin_score(data, labels))}


def elbow_k(metrics: pd.DataFrame) -> int:
    """The k farthest below the straight line from the first to the last inertia (kneedle)."""
    k = metrics["k"].to_numpy(dtype=float)
    inertia = metrics["inertia"].to_numpy(dtype=float)
    if len(k) < 3:
        return int(k[0])
    x = (k - k[0]) / (k[-1] - k[0])
    span = inertia[0] - inertia[-1]
    y = (inertia - inertia[-1]) / span if span > 0 else np.zeros_like(inertia)
    return int(k[np.argmax((1 - x) - y)])


def recommend_k(metrics: pd.DataFrame) -> tuple[int, pd.DataFrame]:
    """The k with the best average rank over silhouette, Calinski-Harabasz and Davies-Bouldin.

    Returns the recommendation and the per-criterion choices (shown in the notebook, so the
    reader sees where the criteria agree and where they do not).
    """
    ranks = pd.DataFrame({
        "silhouette": metrics["silhouette"].rank(ascending=False),
        "calinski_harabasz": metrics["calinski_harabasz"].rank(ascending=False),
        "davies_bouldin": metrics["davies_bouldin"].rank(ascending=True),
    })
    mean_rank = ranks.mean(axis=1)
    best = int(metrics["k"].iloc[int(np.argmin(mean_rank.to_numpy()))])  # ties: smaller k
    choices = pd.DataFrame([
        {"criterion": "silhouette (max)", "best k": int(metrics.loc[metrics["silhouette"].idxmax(), "k"])},
        {"criterion": "Calinski-Harabasz (max)",
         "best k": int(metrics.loc[metrics["calinski_harabasz"].idxmax(), "k"])},
        {"criterion": "Davies-Bouldin (min)",
         "best k": int(metrics.loc[metrics["davies_bouldin"].idxmin(), "k"])},
        {"criterion": "inertia elbow", "best k": elbow_k(metrics)},
        {"criterion": "recommended (mean rank of the first three)", "best k": best},
    ])
    return best, choices
