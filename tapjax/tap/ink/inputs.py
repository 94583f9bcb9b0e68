"""What a decoding family reads from a batch: the ink as points (TAP), as an image (WAP), or
nothing but the batch's rows (the GRU language model of Eq. 33).

An input kind is a small frozen (hashable) dataclass naming the two batch arrays it reads,
``(x [B, N, ...], mask [B, N])``, and, for ink, how they are made from a split's expressions
(padded by :mod:`tapjax.tap.ink.batching` to buckets, multiples of ``multiple``):

- :class:`Points`: ``features float32 [B, N, 8]``, ``feature_mask [B, N]``;
- :class:`Images`: ``images float32 [B, W, H]``, ``image_mask [B, W]``: the kept points drawn by
  :func:`tapjax.tap.ink.render.render_points`, laid out column by column (width is the sequence
  axis), padding 0 in both;
- :class:`Rows`: the batch's ``index`` as ``[B, 1, 1]`` with a ``[B, 1]`` mask.

A mixture (Eq. 33) reads a tuple of kinds, one per member: :func:`read` gives a tuple of arrays
per side, :func:`sized` the distinct kinds a batch must hold.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Sequence

import numpy as np

from tapjax.tap.ink import render
from tapjax.tap.ink.crohme import Split
from tapjax.tap.ink.strokes import NUM_FEATURES


@dataclasses.dataclass(frozen=True)
class Points:
    """The ink as TAP reads it: its point features, ``multiple`` the tracker's stride."""

    multiple: int
    keys: ClassVar[tuple[str, str]] = ("features", "feature_mask")
    unit: ClassVar[str] = "point"

    def lengths(self, split: Split) -> np.ndarray:
        """Points per expression."""
        return np.array([len(f) for f in split.features], dtype=int)

    def arrays(self, split: Split, rows: Sequence[int], batch_size: int, length: int) -> dict[str, np.ndarray]:
        """The features of ``rows``, padded to ``length`` points and ``batch_size`` rows, and their mask."""
        features = np.zeros((batch_size, length, NUM_FEATURES), np.float32)
        mask = np.zeros((batch_size, length), np.float32)
        for b, i in enumerate(rows):
            features[b, :len(split.features[i])] = split.features[i]
            mask[b, :len(split.features[i])] = 1
        return dict(zip(self.keys, (features, mask)))


@dataclasses.dataclass(frozen=True)
class Images:
    """The ink as WAP reads it: drawn by ``settings``, ``multiple`` the watcher's stride."""

    settings: render.Settings
    multiple: int
    keys: ClassVar[tuple[str, str]] = ("images", "image_mask")
    unit: ClassVar[str] = "image column"

    def lengths(self, split: Split) -> np.ndarray:
        """Image columns per expression (:func:`tapjax.tap.ink.render.layout`, nothing drawn)."""
        return np.array([render.layout(f[:, :2], self.settings)[2] for f in split.features], dtype=int)

    def arrays(self, split: Split, rows: Sequence[int], batch_size: int, length: int) -> dict[str, np.ndarray]:
        """The images of ``rows``, column by column, padded to ``length`` columns and ``batch_size``
        rows, and their column mask."""
        images = np.zeros((batch_size, length, self.settings.height), np.float32)
        mask = np.zeros((batch_size, length), np.float32)
        for b, i in enumerate(rows):
            image = render.render_points(split.features[i][:, :2], split.point_strokes[i], self.settings)
            images[b, :image.shape[1]] = image.T
            mask[b, :image.shape[1]] = 1
        return dict(zip(self.keys, (images, mask)))


@dataclasses.dataclass(frozen=True)
class Rows:
    """No ink: the batch's rows only (the language model)."""


Kind = Points | Images | Rows


def read(kinds, batch: dict[str, np.ndarray]):
    """``(x, mask)`` of ``batch`` for ``kinds`` (one kind, or a tuple of them: tuples of arrays)."""
    if isinstance(kinds, tuple):
        return tuple(zip(*(read(kind, batch) for kind in kinds)))
    if isinstance(kinds, Rows):
        index = batch["index"].astype(np.float32)
        return index[:, None, None], index[:, None] * 0 + 1  # traced inside the search: no np.ones
    return batch[kinds.keys[0]], batch[kinds.keys[1]]


def sized(kinds) -> tuple[Points | Images, ...]:
    """The distinct ink kinds of ``kinds`` (one kind or a tuple), in order: what a batch holds."""
    flat = kinds if isinstance(kinds, tuple) else (kinds,)
    return tuple(dict.fromkeys(k for k in flat if not isinstance(k, Rows)))
