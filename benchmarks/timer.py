"""A small timer: interleaved A/B runs and medians.

A and B alternate in ABBA order (A B, then B A, ...), so a slow spell on a shared
machine or a warming cache hits both sides alike; medians ignore the odd outlier.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Paired:
    """Seconds per operation of A and B, one sample per round each."""

    a: list[float]
    b: list[float]

    @property
    def a_median(self) -> float:
        return statistics.median(self.a)

    @property
    def b_median(self) -> float:
        return statistics.median(self.b)


def seconds_per_op(operation: Callable[[], object], repeat: int = 1) -> float:
    """Wall time of `repeat` calls of `operation`, divided by `repeat`."""
    start = time.perf_counter()
    for _ in range(repeat):
        operation()
    return (time.perf_counter() - start) / repeat


def interleaved(
    a: Callable[[], object],
    b: Callable[[], object],
    *,
    rounds: int,
    repeat_a: int = 1,
    repeat_b: int = 1,
    warmup: int = 1,
) -> Paired:
    """Time A and B alternately for `rounds` rounds, after `warmup` untimed calls of each.

    Each round times `repeat_a` calls of A and `repeat_b` calls of B (for fast
    operations a batch is one sample, so the clock's own cost stays negligible).
    """
    for _ in range(warmup):
        a()
        b()
    times_a: list[float] = []
    times_b: list[float] = []
    for n in range(rounds):
        if n % 2 == 0:
            times_a.append(seconds_per_op(a, repeat_a))
            times_b.append(seconds_per_op(b, repeat_b))
        else:
            times_b.append(seconds_per_op(b, repeat_b))
            times_a.append(seconds_per_op(a, repeat_a))
    return Paired(times_a, times_b)


@dataclass(frozen=True, slots=True)
class Samples:
    """One operation's samples: wall seconds and this process's CPU seconds per round.
    On a shared machine the CPU time shows the work itself, whatever the scheduler
    did (on PostgreSQL it leaves out the server's share)."""

    wall: list[float]
    cpu: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


def interleaved_many(operations: list[Callable[[], object]], *, rounds: int) -> list[Samples]:
    """As `interleaved` for several operations: each round times each once, in order
    on even rounds and in reverse on odd ones (ABC, CBA, ...), after one untimed call
    of each."""
    for operation in operations:
        operation()
    samples = [Samples([], []) for _ in operations]
    for n in range(rounds):
        order = range(len(operations)) if n % 2 == 0 else reversed(range(len(operations)))
        for i in order:
            wall, cpu = time.perf_counter(), time.process_time()
            operations[i]()
            samples[i].cpu.append(time.process_time() - cpu)
            samples[i].wall.append(time.perf_counter() - wall)
    return samples
