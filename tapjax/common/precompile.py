"""Compiling a jitted function for every batch shape it will meet, all at once, before it runs.

A length-bucketed pass over a split (:mod:`tapjax.tap.ink.batching`) meets about ten batch shapes,
and a jitted step compiles once per shape at its first call. Compiled there, one after another,
the compilations sit inside the first epoch: on an accelerator they can take longer than the
epoch's steps, and a trainer's time budget would count them as training. XLA compiles in
native code, outside Python's lock, so threads compile the shapes at once (on as many cores
as there are shapes); :func:`compile_all` does that ahead of the first step. A call of the jitted
function with a shape compiled so finds the executable in JAX's compilation cache and runs at
once.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Iterable

import numpy as np


def shape_of(batch: dict) -> tuple:
    """The signature a jitted function compiles for: each array's name, shape and dtype."""
    return tuple((name, np.shape(value), np.asarray(value).dtype.str) for name, value in sorted(batch.items()))


def distinct(batches: Iterable[dict]) -> list[dict]:
    """The first batch of each distinct :func:`shape_of` in ``batches``, in order of appearance."""
    first: dict[tuple, dict] = {}
    for batch in batches:
        first.setdefault(shape_of(batch), batch)
    return list(first.values())


def compile_all(fn, calls: Iterable[tuple], threads: int | None = None) -> float:
    """Compiles the jitted ``fn`` for each argument tuple of ``calls`` (``fn.lower(*args).compile()``),
    in ``threads`` threads (default: one per call); returns the seconds it took. Nothing runs and no
    argument is consumed (a donated one included)."""
    calls = list(calls)
    start = time.perf_counter()
    if calls:
        with concurrent.futures.ThreadPoolExecutor(threads or len(calls)) as pool:
            list(pool.map(lambda args: fn.lower(*args).compile(), calls))
    return time.perf_counter() - start
