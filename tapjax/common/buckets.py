"""Length buckets: pad every sequence to the smallest bucket that holds it, so XLA compiles
one program per bucket rather than one per length."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def fit_bucket(length: int, buckets: Sequence[int], what: str = "sequence", grow: bool = False) -> int:
    """The smallest of the sorted ``buckets`` that is ``>= length``.

    Past the largest bucket: with ``grow``, the next power of two ``>= length``; otherwise
    a ``ValueError`` naming ``what``.
    """
    position = int(np.searchsorted(buckets, length))
    if position < len(buckets):
        return int(buckets[position])
    if grow:
        return 1 << (int(length) - 1).bit_length()
    raise ValueError(f"{what} length {length} exceeds the largest bucket {buckets[-1]}")


def round_up(values, multiple: int):
    """``values`` rounded up to a multiple of ``multiple`` (at least ``multiple``)."""
    return np.maximum(-(-np.asarray(values) // multiple) * multiple, multiple)
