"""How many OpenMP threads scikit-learn's k-means gets in the kit.

Each Lloyd iteration is an OpenMP loop over chunks of 256 rows; with three features a chunk is a
few microseconds of work, so on data of a notebook's size starting and waiting for the other
threads costs more than they save. Measured on 2 cores, k=5 with 4 initialisations: 95k customers
0.24 s a fit on one thread against 0.48 s on two (idle), 0.43-0.52 s against 0.80-0.92 s beside a
busy core; 400k rows 1.24 against 1.47 s; 1M rows 3.11 against 2.67 s. Below ONE_THREAD_BELOW rows
the kit's k-means fits therefore run on one thread, with the same results, and where a notebook
fits several (the k-sweep, the stability seeds) they run side by side, one per core: the k-sweep
of notebook 03 on 95k customers took 4.3-5.2 s one k at a time and 2.6-3.2 s two at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext

ONE_THREAD_BELOW = 500_000


def kmeans_threads(rows: int) -> AbstractContextManager:
    """A context for fitting k-means on `rows` rows: one OpenMP thread below ONE_THREAD_BELOW,
    scikit-learn's default (every core) from there on."""
    if rows >= ONE_THREAD_BELOW:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def side_by_side(fit: Callable, items: Iterable, rows: int) -> Iterator:
    """`fit(item)` for each item, in order. Below ONE_THREAD_BELOW rows the fits run side by side
    in threads, one per core, each on one OpenMP thread (k-means' loops release the GIL): the
    cores a single one-thread fit leaves idle. From there on, one after the other on every core."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    items = list(items)

    def on_one_thread(item):
        with kmeans_threads(rows):  # OpenMP's limit is per thread: set in the thread that fits
            return fit(item)

    if rows >= ONE_THREAD_BELOW or len(items) < 2:
        yield from map(on_one_thread, items)
        return
    from threadpoolctl import threadpool_limits

    # BLAS's limit is the process's (OpenBLAS): set once around the pool, so that the distance
    # products of two threads do not each start a thread per core
    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(max_workers=min(len(items), os.cpu_count() or 1)) as pool:
        yield from pool.map(on_one_thread, items)
