"""Ink preprocessing and the 8-dim point features of TAP (Zhang et al. 2018, §III-A).

The paper takes the ink as points ``[x_i, y_i, s_i]``, ``s_i`` the stroke of point ``i``
(Eq. 1), and gives each point, after normalisation, the 8 features of Eq. 2::

    [x_i, y_i, Δx_i, Δy_i, Δ'x_i, Δ'y_i, δ(s_i = s_{i+1}), δ(s_i ≠ s_{i+1})]

with ``Δx_i = x_{i+1} - x_i`` and ``Δ'x_i = x_{i+2} - x_i``: the pen-down flag is 1 when
the next point is in the same stroke, the pen-up flag 1 at the last point of each stroke
(:func:`point_features`). The paper does not say how the points are normalised or
thinned: :func:`preprocess` computes the TAP authors' own features, as released for the
CROHME 2014 test set (``crohme/tap/on-ascii-test.tar.gz``; the recipe was recovered from
those files, and ``tapjax stats --reference_features`` checks it against all 986):

1. :func:`authors_thinning` -- coordinates rounded to 3 decimals; per stroke, consecutive
   exact duplicates dropped, then :func:`keep_mask` against the last kept point with the
   threshold ``min_distance`` (0.005) times the larger side of the whole expression's
   bounding box, ties kept and every stroke's last point kept; a stroke left with one
   point keeps it twice (as its first and as its last point).
2. :func:`renormalize` by :func:`segment_moments` -- the mean and standard deviation of the
   kept ink as a curve (each within-stroke segment weighted by its length); both axes are
   shifted by their mean and divided by the x standard deviation (by the y one for ink
   without width, else by 1: our choice, no released expression has zero width).
3. :func:`point_features` -- Δ and Δ' run on across pen-ups (to the next stroke's first
   point), and at the end of the expression they stop at its last point.

An earlier, simpler preprocessing of tapjax was dropped after an A/B showed it much worse
(``benchmarks/RESULTS.md``, "TAP features and temporal attention: A/B").
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

NUM_FEATURES = 8
# Raw points per expression above which preprocessing refuses: CROHME's longest has a few
# thousand, and nothing near a million is a written expression (which still preprocesses quickly).
# (A one-point stroke is kept twice, so preprocessing gives at most raw points + strokes.)
MAX_POINTS = 1_000_000
# Settings.min_distance when not given: a fraction of the ink's larger bounding-box side.
DEFAULT_MIN_DISTANCE = 0.005
# The authors' copy of the CROHME ink had coordinates with 3 decimals (only 34 of the 986
# 2014 test files have finer ones; without the rounding one of them differs).
AUTHORS_DECIMALS = 3


@dataclasses.dataclass(frozen=True)
class Settings:
    """Preprocessing settings; part of the cache key of :mod:`tapjax.common.array_cache`.

    ``min_distance``: the thinning threshold, a fraction of the larger side of the
    expression's bounding box (step 1 of the module docstring).
    """

    min_distance: float = DEFAULT_MIN_DISTANCE

    def __post_init__(self):
        if self.min_distance < 0:
            raise ValueError("min_distance must be >= 0")


def concatenate(traces: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All points ``[N, 2]`` (the X, Y channels) and the stroke index of each point ``[N]``."""
    points = np.concatenate([t[:, :2] for t in traces]).astype(np.float64)
    strokes = np.repeat(np.arange(len(traces), dtype=np.int32), [len(t) for t in traces])
    return points, strokes


def _stroke_ends(strokes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each point starts its stroke, and whether it ends it."""
    first, last = np.ones((2, len(strokes)), dtype=bool)
    first[1:] = last[:-1] = strokes[1:] != strokes[:-1]
    return first, last


def _first_positive(values) -> float:
    """The first positive of ``values``, else 1 (the scale of ink without extent)."""
    return next((float(v) for v in values if v > 0), 1.0)


def keep_mask(points: np.ndarray, strokes: np.ndarray, min_distance: float) -> np.ndarray:
    """Which points survive thinning.

    A point is kept if it starts or ends a stroke, or if it lies at least ``min_distance``
    from the previous kept point of its stroke (ties kept). Each decision depends on the one
    before it, so this is one sequential pass, over Python floats: linear in points
    (``benchmarks/preprocess.py``).
    """
    first, last = _stroke_ends(strokes)
    limit = min_distance ** 2
    keep, last_x, last_y = [], 0.0, 0.0
    for x, y, forced in zip(points[:, 0].tolist(), points[:, 1].tolist(), (first | last).tolist()):
        kept = forced or (x - last_x) ** 2 + (y - last_y) ** 2 >= limit
        if kept:
            last_x, last_y = x, y
        keep.append(kept)
    return np.array(keep, dtype=bool)


def authors_thinning(points: np.ndarray, strokes: np.ndarray, min_distance: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The points (rounded) and strokes left by the authors' thinning (step 1 of the module
    docstring); follows their released features, the paper gives no rule."""
    points = np.round(points, AUTHORS_DECIMALS)
    threshold = min_distance * (np.ptp(points, axis=0).max() if len(points) else 0.0)
    first, _ = _stroke_ends(strokes)
    distinct = first | np.any(points != np.roll(points, 1, axis=0), axis=1)
    points, strokes = points[distinct], strokes[distinct]
    keep = keep_mask(points, strokes, threshold)
    points, strokes = points[keep], strokes[keep]
    first, last = _stroke_ends(strokes)
    copies = 1 + (first & last)
    return np.repeat(points, copies, axis=0), np.repeat(strokes, copies)


def _ordered_sum(values: np.ndarray) -> np.ndarray:
    """The float32 sum over axis 0 taken in order, as the authors' code summed."""
    return np.cumsum(values, axis=0, dtype=np.float32)[-1]


def segment_moments(points: np.ndarray, strokes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation ``[2]`` of the ink as a curve (step 2 of the module docstring).

    Each segment between consecutive points of a stroke counts with its length, a point
    on it uniformly distributed: the mean is ``Σ l (a + b) / 2 / Σ l`` and the variance
    ``Σ l (a'² + a'b' + b'²) / 3 / Σ l`` (``a, b`` its ends, ``a', b'`` them less the
    mean). In float32, sums in order, as the authors' released features were computed
    (float64 moves the features by about 1e-5). Ink with no segment of non-zero length
    (only dots) falls back to the plain mean and standard deviation of its points: our
    choice, the authors' features have no such expression.
    """
    within = strokes[1:] == strokes[:-1]
    start = points[:-1][within].astype(np.float32)
    end = points[1:][within].astype(np.float32)
    length = np.sqrt(((end - start) ** 2).sum(axis=1))
    total = _ordered_sum(length) if len(length) else 0.0
    if not total > 0:
        return points.mean(axis=0), points.std(axis=0)
    mean = _ordered_sum(length[:, None] * (start + end) / np.float32(2)) / total
    a, b = start - mean, end - mean
    variance = _ordered_sum(length[:, None] * (a * a + b * b + a * b) / np.float32(3)) / total
    return mean.astype(np.float64), np.sqrt(variance).astype(np.float64)


def _shifted_difference(values: np.ndarray, step: int) -> np.ndarray:
    """``values[i + step] - values[i]``; where ``i + step`` is past the end, the difference to
    the last value."""
    return values[np.minimum(np.arange(len(values)) + step, len(values) - 1)] - values


def point_features(points: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """The 8-dim TAP point features ``[N, 8]`` float32 of Eq. 2 (step 3 of the module
    docstring): ``x, y, Δx, Δy, Δ'x, Δ'y, pen-down, pen-up``."""
    _, last = _stroke_ends(strokes)
    return np.concatenate([
        points,
        _shifted_difference(points, 1),
        _shifted_difference(points, 2),
        ~last[:, None],
        last[:, None],
    ], axis=1).astype(np.float32)


def renormalize(points: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """Kept points ``[N, 2]`` normalised in position and size by their curve moments (step 2 of
    the module docstring): both axes divided by the x spread, else the y spread, else 1. Also
    for ink moved after preprocessing (:mod:`tapjax.tap.ink.augment`)."""
    mean, std = segment_moments(points, strokes)
    return (points - mean) / _first_positive(std)


def preprocess(traces: Sequence[np.ndarray], settings: Settings = Settings()
               ) -> tuple[np.ndarray, np.ndarray]:
    """Features ``float32 [N, 8]`` and stroke index ``int32 [N]`` of each kept point (the
    module docstring's steps).

    Raises ValueError for an expression of more than :data:`MAX_POINTS` points.
    """
    count = sum(len(t) for t in traces)
    if count > MAX_POINTS:
        raise ValueError(f"{count:,} points: more than the {MAX_POINTS:,} points per expression "
                         "tapjax preprocesses (tapjax.tap.ink.strokes.MAX_POINTS)")
    points, strokes = authors_thinning(*concatenate(traces), settings.min_distance)
    return point_features(renormalize(points, strokes), strokes), strokes
