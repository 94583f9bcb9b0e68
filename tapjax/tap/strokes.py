"""Ink preprocessing and the 8-dim point features of TAP (Zhang et al. 2018, §III-A).

Pipeline (vectorised numpy over the whole expression, except the thinning pass of step 2):

1. :func:`normalize` -- size and position: ``"std"`` shifts to zero mean and
   divides by the standard deviation of y (as the reference TAP code does);
   ``"height"`` shifts the bounding box to the origin and divides by its height.
2. :func:`keep_mask` -- removes duplicate points and points closer than
   ``min_distance`` to the previous *kept* point of their stroke (one linear pass).
3. :func:`point_features` -- the 8-dim features of §III-A (Eq. 2 of the TAP
   paper): ``[x_i, y_i, Δx_i, Δy_i, Δ'x_i, Δ'y_i, δ(s_i = s_{i+1}), δ(s_i ≠ s_{i+1})]``
   with ``Δx_i = x_{i+1} - x_i`` and ``Δ'x_i = x_{i+2} - x_i`` (zero past the last
   point); the pen-down flag is 1 when the next point is in the same stroke,
   the pen-up flag is 1 at the last point of each stroke.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

NUM_FEATURES = 8
# Raw points per expression above which preprocessing refuses: CROHME's longest has a few
# thousand; a million takes about 1 s here, and nothing that long is a written expression.
MAX_POINTS = 1_000_000


@dataclasses.dataclass(frozen=True)
class Settings:
    """Preprocessing settings; part of the cache key of :mod:`tapjax.common.array_cache`."""

    normalization: str = "std"      # "std" or "height"
    min_distance: float = 0.05      # in normalised units; 0 removes exact duplicates only

    def __post_init__(self):
        if self.normalization not in ("std", "height"):
            raise ValueError(f"normalization must be 'std' or 'height', not {self.normalization!r}")
        if self.min_distance < 0:
            raise ValueError("min_distance must be >= 0")


def concatenate(traces: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All points ``[N, 2]`` (the X, Y channels) and the stroke index of each point ``[N]``."""
    points = np.concatenate([t[:, :2] for t in traces]).astype(np.float64)
    strokes = np.repeat(np.arange(len(traces), dtype=np.int32), [len(t) for t in traces])
    return points, strokes


def _scale(extent: np.ndarray) -> float:
    """The y extent, else the x extent, else 1 (a dot or a horizontal line has no height)."""
    return next((float(e) for e in extent[::-1] if e > 0), 1.0)


def normalize(points: np.ndarray, method: str = "std") -> np.ndarray:
    """Position- and size-normalised copy of ``points [N, 2]`` (see the module docstring)."""
    if method == "std":
        return (points - points.mean(axis=0)) / _scale(points.std(axis=0))
    low = points.min(axis=0)
    return (points - low) / _scale(points.max(axis=0) - low)


def keep_mask(points: np.ndarray, strokes: np.ndarray, min_distance: float) -> np.ndarray:
    """Which points survive duplicate / too-close removal.

    A point is kept if it starts a stroke or lies farther than ``min_distance``
    from the previous kept point (exact duplicates always go). Each decision
    depends on the one before it, so this is one sequential pass, over Python
    floats: linear in points (about 0.4 s per million points on a 2-core CPU,
    ``benchmarks/preprocess.py``).
    """
    first = np.concatenate([[True], strokes[1:] != strokes[:-1]]).tolist()
    limit = min_distance ** 2
    keep, last_x, last_y = [], 0.0, 0.0
    for x, y, starts in zip(points[:, 0].tolist(), points[:, 1].tolist(), first):
        kept = starts or (x - last_x) ** 2 + (y - last_y) ** 2 > limit
        if kept:
            last_x, last_y = x, y
        keep.append(kept)
    return np.array(keep, dtype=bool)


def _shifted_difference(values: np.ndarray, step: int) -> np.ndarray:
    """``values[i + step] - values[i]``, zero where ``i + step`` is past the end."""
    out = np.zeros_like(values)
    if len(values) > step:
        out[:-step] = values[step:] - values[:-step]
    return out


def point_features(points: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """The 8-dim TAP point features ``[N, 8]`` float32 (Eq. 2, see the module docstring)."""
    same_next = np.concatenate([strokes[1:] == strokes[:-1], [False]])
    return np.concatenate([
        points,
        _shifted_difference(points, 1),
        _shifted_difference(points, 2),
        same_next[:, None],
        ~same_next[:, None],
    ], axis=1).astype(np.float32)


def preprocess(traces: Sequence[np.ndarray], settings: Settings = Settings()
               ) -> tuple[np.ndarray, np.ndarray]:
    """Features ``float32 [N, 8]`` and stroke index ``int32 [N]`` of each kept point.

    Raises ValueError for an expression of more than :data:`MAX_POINTS` points.
    """
    count = sum(len(t) for t in traces)
    if count > MAX_POINTS:
        raise ValueError(f"{count:,} points: more than the {MAX_POINTS:,} points per expression "
                         "tapjax preprocesses (tapjax.tap.strokes.MAX_POINTS)")
    points, strokes = concatenate(traces)
    points = normalize(points, settings.normalization)
    keep = keep_mask(points, strokes, settings.min_distance)
    points, strokes = points[keep], strokes[keep]
    return point_features(points, strokes), strokes
