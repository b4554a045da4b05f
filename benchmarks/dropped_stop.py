"""How soon a stop that Python drops lands again (aefx.stops.dropped_stops_resent).

    python benchmarks/dropped_stop.py [--tries 20] [--callbacks 20000]

A SIGTERM handler that raises, as Prefect's does, runs inside a weakref callback, where Python
drops what it raised ("Exception ignored in ..."). Inside a `recording` block aefx sends the
signal again from a helper thread; this measures, per try, the seconds from the drop to the
stop raised in the block's own code:
- "one callback": the drop is the collector's only callback;
- "then N callbacks": N more callbacks with a little Python work each follow the drop, as a
  large collection does, and the same N callbacks without any signal are timed beside it as
  the baseline, in this process, try by try.
Printed: the median, min and max of each, and the ratio of the medians to the baseline's. Nothing
here is asserted; tests/test_reliability.py checks that the stop lands at all.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
import weakref
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class Termination(BaseException):
    """Stands for Prefect's TerminationSignal: not an Exception."""


class Collected:
    pass


def busy(ref: weakref.ref) -> None:
    sum(range(2000))  # some Python work in each callback


def drop(ref: weakref.ref) -> None:
    signal.raise_signal(signal.SIGTERM)  # the handler runs, and raises, inside this callback


def collect(callbacks: list) -> float:
    """Seconds to collect one object per callback, each object's weakref with its callback."""
    things = [Collected() for _ in callbacks]
    refs = [weakref.ref(t, c) for t, c in zip(things, callbacks, strict=True)]
    start = time.perf_counter()
    del things
    seconds = time.perf_counter() - start
    del refs
    return seconds


def stop_after_drop(callbacks: list) -> float:
    """Seconds from the drop (the first callback) to the stop landing in the block."""
    from aefx import stops

    things = [Collected() for _ in callbacks]
    refs = [weakref.ref(t, c) for t, c in zip(things, callbacks, strict=True)]
    start = time.perf_counter()
    try:
        with stops.recording():
            del things
            deadline = start + 10
            while time.perf_counter() < deadline:
                time.sleep(0.001)
    except Termination:
        return time.perf_counter() - start
    finally:
        del refs
    raise SystemExit("the dropped stop never landed in 10 s")


def handler(signum: int, frame: object) -> None:
    raise Termination(signum)


def summary(name: str, values: list[float], baseline: float | None) -> str:
    median = statistics.median(values)
    ratio = f"  (x{median / baseline:.2f} the baseline)" if baseline else ""
    return f"{name:<32} median {median:.3f} s, min {min(values):.3f}, max {max(values):.3f}{ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--callbacks", type=int, default=20_000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, handler)
    more = [busy] * args.callbacks
    single, after, alone = [], [], []
    for _ in range(args.tries):  # interleaved, so the machine's noise falls on all three
        single.append(stop_after_drop([drop]))
        after.append(stop_after_drop([drop, *more]))
        alone.append(collect(more))
    base = statistics.median(alone)
    print(f"{args.tries} tries, Python {sys.version.split()[0]}")
    print(summary("one callback", single, None))
    print(summary(f"{args.callbacks} callbacks alone (baseline)", alone, None))
    print(summary(f"drop, then {args.callbacks} callbacks", after, base))


if __name__ == "__main__":
    main()
