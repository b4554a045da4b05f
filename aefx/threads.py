"""One BLAS and one OpenMP thread per classifier cell, however many cells run side by side."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _SharedBlasCap:
    """One BLAS thread while any cell runs, the process's own count again when none does.

    OpenMP's thread count is per thread, but OpenBLAS's is one per process. Each cell taking
    ``threadpool_limits(1)`` for itself raced: the first of two cells to end restored the
    machine's count while the other was still fitting, so its float sums depended on which cell
    ran beside it (measured: an MLP's ROC AUC moved by 2e-5). Here the first holder takes the
    cap and the last one out gives it back. The mappers take it in the thread that hands out
    the cells, before any cell starts: with the OpenBLAS builds pinned here (0.3.30, 0.3.31), a
    count set from another thread is ignored once the main thread has set one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._limiter: Any = None

    @contextmanager
    def held(self) -> Iterator[None]:
        # scikit-learn loads SciPy's OpenBLAS and OpenMP on import; a library loaded after
        # the cap is taken would keep its own count, so load them first.
        import sklearn.neural_network  # noqa: F401
        from threadpoolctl import threadpool_limits

        with self._lock:
            if self._holders == 0:
                self._limiter = threadpool_limits(limits=1, user_api="blas")
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._limiter.restore_original_limits()
                    self._limiter = None


one_blas_thread = _SharedBlasCap().held


@contextmanager
def one_thread_each() -> Iterator[None]:
    """One BLAS and one OpenMP thread for the calling thread's work, however many cells run."""
    from threadpoolctl import threadpool_limits

    with one_blas_thread(), threadpool_limits(limits=1, user_api="openmp"):
        yield
