"""One BLAS and one OpenMP thread per classifier cell, however many cells run side by side,
and subnormal floats flushed to zero while it runs; and how many CPUs this process may use."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import sys
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


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity set where the system keeps one (Linux;
    ``taskset``, a container's ``--cpuset-cpus``), else the machine's count. ``os.cpu_count()``
    counts the machine's: 64 in a container given 2 of them, whose TensorFlow sizes its own
    pools by the 2. Python 3.13's ``os.process_cpu_count()`` is the same."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows: no affinity call
        return os.cpu_count() or 1


@contextmanager
def one_thread_each() -> Iterator[None]:
    """One BLAS and one OpenMP thread for the calling thread's work, however many cells run,
    with subnormal floats flushed to zero (:func:`subnormals_flushed`)."""
    from threadpoolctl import threadpool_limits

    with one_blas_thread(), threadpool_limits(limits=1, user_api="openmp"), subnormals_flushed():
        yield


class _FloatMode(ctypes.Structure):
    """glibc's ``femode_t`` on x86-64: the x87 control word and the SSE control register."""

    _fields_ = [
        ("control_word", ctypes.c_ushort),
        ("reserved", ctypes.c_ushort),
        ("mxcsr", ctypes.c_uint),
    ]


_FLUSH_TO_ZERO, _DENORMALS_ARE_ZERO = 1 << 15, 1 << 6  # MXCSR's FTZ and DAZ bits


@functools.cache
def _libm() -> Any:
    """The C maths library where it sets the float mode as :class:`_FloatMode` holds it
    (glibc 2.25 and newer on x86-64 Linux); else None."""
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return None
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    except OSError:
        return None
    return libm if hasattr(libm, "fegetmode") and hasattr(libm, "fesetmode") else None


@contextmanager
def subnormals_flushed() -> Iterator[None]:
    """Floats below the smallest normal number (2.2e-308) read, and come out of arithmetic, as
    zero in the calling thread while the block runs (the SSE unit's FTZ and DAZ modes); the
    thread's own mode again after. Where the mode cannot be set so (not Linux on x86-64 with
    glibc 2.25 or newer), nothing changes.

    scikit-learn's MLP drives the weights of hidden units that stop learning towards zero under
    its L2 penalty; once they are subnormal, every operation on them takes the CPU's slow path.
    On a 60,000-row table its epochs took 7x as long from about the 70th on, and its fits on
    raw features 94.6 s instead of 17.6 s (medians of three seeds). Added to normal numbers
    such values change nothing: the comparisons of the reference task and of that table came
    out the same bit for bit (benchmarks/mlp_cells.py, BENCHMARKS.md)."""
    libm = _libm()
    saved = _FloatMode()
    if libm is None or libm.fegetmode(ctypes.byref(saved)) != 0:
        yield
        return
    flushed = _FloatMode(
        saved.control_word, saved.reserved, saved.mxcsr | _FLUSH_TO_ZERO | _DENORMALS_ARE_ZERO
    )
    libm.fesetmode(ctypes.byref(flushed))
    try:
        yield
    finally:
        libm.fesetmode(ctypes.byref(saved))
