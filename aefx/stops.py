"""Stops by signal: the handler that turns SIGTERM and Ctrl-C into an exception, the record of the
signals taken, and the one rule for whether an error that ended a block was such a stop.

The CLI's ``interruptible`` installs the handler and says the stop in one line; the code that
ends MLflow runs (the pipeline, a sweep's members, train-stream) records the signals that come
while it runs (:func:`recording`) and asks :func:`run_status` how to end them, so both say the
same thing about the same error.

A stop whose exception Python drops (a handler that raised inside a garbage-collection or
weakref callback: "Exception ignored in ...") is sent again while a :func:`recording` block or
the CLI's ``interruptible`` runs, so it lands in the block's own code and stops it."""

from __future__ import annotations

import _thread
import contextlib
import queue
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

# The signals taken in this block: by `interrupt`, or by a handler that `recording` wraps.
_taken: list[int] = []
# The exception the latest signal's handler raised, and its signal: what the hook of
# `dropped_stops_resent` knows a dropped stop by. Cleared when that block ends, so it keeps no
# frames alive after it.
_raised: list[tuple[BaseException, int]] = []
# How many `dropped_stops_resent` blocks are open on the main thread; a dropped stop is sent
# again only while one is, never into the code that ends a block's runs or says the stop.
_open = [0]
# Signals to send again, and the thread that sends them (started by the first block). A thread,
# because a handler run from the hook itself would raise inside the hook, dropped once more.
_resend: queue.SimpleQueue[int] = queue.SimpleQueue()
_resender: list[threading.Thread] = []


class Stopped(KeyboardInterrupt):
    """A KeyboardInterrupt made by :func:`interrupt` from a signal. A subclass because CPython
    marks a plain KeyboardInterrupt that ends code made from a string (``exec`` of a string:
    dataclasses and namedtuple make their methods so) as unhandled even when it is caught later,
    and ``python -m aefx`` then dies of SIGINT at exit, code -2 instead of 130; only the exact
    class is marked."""


def interrupt(signum: int, frame: Any) -> None:
    """A signal handler: record the signal and raise :class:`Stopped` where Python code runs."""
    _taken.append(signum)
    stop = Stopped(f"signal {signum}")
    _raised[:] = [(stop, signum)]
    raise stop


def forget() -> None:
    """Start a block with no signal taken, so one taken by an earlier block in this process (an
    earlier command run in-process, as the tests do) does not make this block's errors stops."""
    _taken.clear()
    _raised.clear()


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """Record SIGTERM and SIGINT while the block runs, whoever handles them: a Prefect flow
    swaps SIGTERM's handler for its own, which raises TerminationSignal, and native code may
    swallow that as it may a KeyboardInterrupt. Each handler set in Python is wrapped to record
    the signal first, and put back after the block; the record is kept for the code that ends
    the block's runs and says the stop. Outside the main thread signals are not Python's to
    handle, and nothing is wrapped.

    A handler may raise where Python drops what it raised: in a callback of the garbage
    collector (a cancelled Prefect run went on training until its runner's SIGKILL, its MLflow
    run left RUNNING, when SQLAlchemy's ``_collection_gced`` took the TerminationSignal). While
    the block runs, such a stop is sent again, from a helper thread, and so raised in the block's
    own code once the collector's callbacks are done (:func:`dropped_stops_resent`)."""
    forget()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    found: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(signum)
        if callable(handler) and handler is not interrupt:
            signal.signal(signum, _recorded(handler))
            found[signum] = handler
    try:
        with dropped_stops_resent():
            yield
    finally:
        for signum, handler in found.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def dropped_stops_resent() -> Iterator[None]:
    """While the block runs, a stop whose exception Python drops (its handler, :func:`interrupt`
    or one that :func:`recording` wraps, raised inside a garbage-collection or weakref callback)
    is sent again from a helper thread, so the handler runs again in the block's own code. The
    code after the block (what ends its runs, what says the stop) is never interrupted so."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if not (_resender and _resender[0].is_alive()):  # a forked child has none running
        _resender[:] = [threading.Thread(target=_send_again, name="aefx-stops", daemon=True)]
        _resender[0].start()
    unraisable = sys.unraisablehook
    sys.unraisablehook = _resent_if_a_stop(unraisable)
    _open[0] += 1
    try:
        yield
    finally:
        _open[0] -= 1
        sys.unraisablehook = unraisable
        _raised.clear()


def _recorded(handler: Any) -> Any:
    def record_then_handle(signum: int, frame: Any) -> Any:
        _taken.append(signum)
        try:
            return handler(signum, frame)
        except BaseException as exc:
            _raised[:] = [(exc, signum)]
            raise

    return record_then_handle


def _resent_if_a_stop(previous: Any) -> Any:
    """An unraisable-exception hook that sends a dropped stop's signal again, quietly (the stop
    is said where it lands), and hands anything else to ``previous``."""

    def hook(unraisable: Any) -> None:
        signum = _dropped_signal(unraisable.exc_value)
        if signum is None:
            previous(unraisable)
        else:
            _resend.put(signum)

    return hook


def _dropped_signal(exc: BaseException | None) -> int | None:
    """The signal whose handler raised ``exc``, or an error that led to ``exc``; else None."""
    if not _raised:
        return None
    stop, signum = _raised[0]
    return signum if any(cause is stop for cause in _chain(exc)) else None


def _send_again() -> None:
    while True:
        signum = _resend.get()
        if _open[0]:
            _thread.interrupt_main(signum)  # as if it came again: the handler in place runs


def is_stop(exc: BaseException) -> bool:
    """Whether ``exc`` ended a block because it was stopped. The interrupt is raised wherever
    Python code runs, which may be a callback of native code that does not expect it: SIGTERM in
    a Keras training step came out as `SystemError: Objects/listobject.c:338: bad argument to
    internal function`. So any error once a signal was taken is the stop, as is one that a
    KeyboardInterrupt led to, and anything that is not an Exception (Ctrl-C, Prefect's
    TerminationSignal)."""
    return not isinstance(exc, Exception) or bool(_taken) or _after_interrupt(exc)


def run_status(exc: BaseException) -> str:
    """How to end the MLflow run that ``exc`` ended: KILLED if it was stopped, else FAILED."""
    return "KILLED" if is_stop(exc) else "FAILED"


def _after_interrupt(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the errors that led to ``exc``."""
    return any(isinstance(cause, KeyboardInterrupt) for cause in _chain(exc))


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and the errors that led to it, each once."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        yield exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
