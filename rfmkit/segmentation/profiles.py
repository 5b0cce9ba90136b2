"""What each cluster is: size, mean R/F/M, revenue share, a readable label, stability.

Labels are derived from the centroid in standardised units, i.e. relative to the whole customer
base: a feature at least LABEL_THRESHOLD standard deviations from the mean earns a word ("recent",
"high-spending"), for at most the three strongest. So a label says how a cluster differs, in the analyst's
words, and changes when the data does, instead of being typed in per run.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from rfmkit.segmentation.threads import side_by_side

LABEL_THRESHOLD = 0.5
MAX_WORDS = 3
# (word when low, word when high) per known rfm_scores column.
WORDS = {
    "recency_days": ("recent", "lapsed"),
    "frequency": ("one-time", "repeat"),
    "monetary": ("low-spending", "high-spending"),
    "avg_order_value": ("small-basket", "big-basket"),
    "tenure_days": ("new", "long-standing"),
}


def cluster_label(z_centroid: Iterable[float], columns: list[str]) -> str:
    """Words for the (up to three) features where the centroid stands out most."""
    z = np.asarray(list(z_centroid), dtype=float)
    strongest = [j for j in np.argsort(-np.abs(z), kind="stable") if abs(z[j]) >= LABEL_THRESHOLD]
    words = []
    for j in sorted(strongest[:MAX_WORDS]):  # in column order: "recent repeat high-spending"
        low, high = WORDS.get(columns[j], (f"low-{columns[j]}", f"high-{columns[j]}"))
        words.append(high if z[j] > 0 else low)
    return " ".join(words) + " customers" if words else "typical customers"


# (word for the lower, word for the higher, noun) when clusters that share a label are told apart.
RELATIVE = {
    "recency_days": ("more recent", "less recent", "recency"),
    "frequency": ("fewer orders", "more orders", "orders"),
    "monetary": ("lower spend", "higher spend", "spend"),
    "avg_order_value": ("smaller baskets", "bigger baskets", "basket"),
    "tenure_days": ("newer", "longer-standing", "tenure"),
}


def cluster_labels(z_centroids: np.ndarray, columns: list[str]) -> list[str]:
    """One label per cluster, each telling its cluster apart: clusters that would share a label
    are told apart by the feature on which they differ most ("..., higher spend" / "..., lower
    spend"), ranked when more than two share it; the cluster number only as a last resort."""
    z = np.asarray(z_centroids, dtype=float)
    labels = [cluster_label(row, columns) for row in z]
    for label in {x for x in labels if labels.count(x) > 1}:
        members = [i for i, x in enumerate(labels) if x == label]
        spread = z[members].max(axis=0) - z[members].min(axis=0)
        j = int(np.argmax(spread))
        low, high, noun = RELATIVE.get(columns[j], (f"lower {columns[j]}", f"higher {columns[j]}", columns[j]))
        ranked = sorted(members, key=lambda i: z[i, j])
        for rank, i in enumerate(ranked):
            word = low if rank == 0 else high if rank == len(ranked) - 1 else \
                f"middle {noun} ({rank + 1} of {len(ranked)})"
            labels[i] = f"{label}, {word}"
    repeated = {x for x in labels if labels.count(x) > 1}
    return [f"{x} (cluster {i})" if x in repeated else x for i, x in enumerate(labels)]


def profile(customers: pd.DataFrame, assignments: pd.DataFrame, labels: list[str],
            value_columns: Iterable[str] = ("recency_days", "frequency", "monetary")
            ) -> pd.DataFrame:
    """Per cluster: customers and share, mean of each value column, revenue and its share.

    customers: rfm_scores rows (with monetary); assignments: closest_cluster, distance_to_cluster
    in the same row order.
    """
    frame = customers.reset_index(drop=True).copy()
    frame["cluster"] = assignments["closest_cluster"].to_numpy()
    frame["distance"] = assignments["distance_to_cluster"].to_numpy()
    value_columns = [c for c in value_columns if c in frame.columns]
    for c in [*value_columns, "monetary"]:
        frame[c] = frame[c].astype(float)
    grouped = frame.groupby("cluster")
    table = pd.DataFrame({"customers": grouped.size()})
    for c in value_columns:
        table[f"mean_{c}"] = grouped[c].mean()
    table["revenue"] = grouped["monetary"].sum()
    table["mean_distance"] = grouped["distance"].mean()
    table = table.reindex(range(len(labels)), fill_value=0)
    table.insert(0, "label", labels)
    table.insert(2, "customer_share_%", 100 * table["customers"] / max(len(frame), 1))
    total = table["revenue"].sum()
    table["revenue_share_%"] = 100 * table["revenue"] / total if total else 0.0
    table.index.name = "cluster"
    return table.reset_index()


def crosstab_segments(segments: pd.Series, clusters: pd.Series, labels: list[str]) -> pd.DataFrame:
    """Share of each cluster's customers in each named RFM segment (rows sum to 100 %)."""
    names = pd.Series(clusters.to_numpy()).map(dict(enumerate(labels)))
    table = pd.crosstab(names.rename("cluster"), segments.reset_index(drop=True).rename("segment"),
                        normalize="index") * 100
    return table.reindex([x for x in labels if x in table.index])


def stability(standardised: np.ndarray, k: int, seeds: Iterable[int], *, n_init: int = 4,
              sample: int = 200_000, reference_seed: int | None = None) -> pd.DataFrame:
    """Adjusted Rand index of each seed's clustering against the first seed's (1 = identical).

    Clusterings are compared on one seeded sample of customers (the same rows for every seed).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    seeds = list(seeds)
    rng = np.random.default_rng(seeds[0] if reference_seed is None else reference_seed)
    data = np.asarray(standardised, dtype=float)
    if len(data) > sample:
        data = data[rng.choice(len(data), sample, replace=False)]
    labelings = list(side_by_side(
        lambda s: KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=s).fit_predict(data),
        seeds, len(data)))
    return pd.DataFrame({"seed": seeds,
                         "adjusted_rand_vs_first": [adjusted_rand_score(labelings[0], x)
                                                    for x in labelings]})
