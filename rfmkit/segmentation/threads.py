"""How many OpenMP threads scikit-learn's k-means gets in the kit.

Each Lloyd iteration is an OpenMP loop over chunks of 256 rows; with three features a chunk is a
few microseconds of work, so on data of a notebook's size starting and waiting for the other
threads costs more than they save. Measured on 2 cores, k=5 with 4 initialisations: 95k customers
0.24 s a fit on one thread against 0.48 s on two (idle), 0.43-0.52 s against 0.80-0.92 s beside a
busy core; 400k rows 1.24 against 1.47 s; 1M rows 3.11 against 2.67 s. Below ONE_THREAD_BELOW rows
the kit's k-means fits therefore run on one thread, with the same results.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

ONE_THREAD_BELOW = 500_000


def kmeans_threads(rows: int) -> AbstractContextManager:
    """A context for fitting k-means on `rows` rows: one OpenMP thread below ONE_THREAD_BELOW,
    scikit-learn's default (every core) from there on."""
    if rows >= ONE_THREAD_BELOW:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")
