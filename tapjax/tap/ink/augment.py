"""On-the-fly augmentation of the training expressions' ink, redrawn every epoch.

Not in the TAP paper. Each epoch, each training expression is augmented with probability
``probability`` (:func:`for_epoch`, :func:`augment_split`): the pen positions of its kept points
go through one random affine map about the centre of their bounding box, then point jitter
(:func:`transform`), are normalised again (:func:`tapjax.tap.ink.strokes.renormalize`) and their
features recomputed (:func:`tapjax.tap.ink.strokes.point_features`). The linear part of the map
is ``R K D`` (:func:`linear_map`), each factor drawn uniformly:

- ``D``: size ``s`` in ``[1 - scale, 1 + scale]``, aspect ``r`` in ``[1 - aspect, 1 + aspect]``:
  x scaled by ``s √r``, y by ``s / √r``;
- ``K``: horizontal shear ``x += k y``, ``k`` in ``[-shear, shear]``;
- ``R``: rotation by ``θ`` in ``[-rotation, rotation]`` degrees (InkML's y grows downwards: a
  positive ``θ`` turns the ink clockwise).

The jitter is normal noise of standard deviation ``jitter`` times the height of the mapped ink
(its width if flat, 1 for a dot), so it follows the size of the writing, not the sampling rate.
The normalisation undoes translation and size; aspect, shear, rotation and jitter change the
features. The expression keeps exactly its points (no new thinning), so the stroke alignment and
the batch shapes (hence the compiled train step) stay those of the unaugmented split.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import ml_collections
import numpy as np

from tapjax.tap.ink import crohme, strokes

# Each setting's upper limit (all start at 0) and whether it may reach it: a size or aspect
# change of 1 would allow a factor of 0; a shear of 1 slants by 45 degrees.
_LIMITS = {"probability": (1.0, True), "scale": (1.0, False), "aspect": (1.0, False),
           "shear": (1.0, True), "rotation": (180.0, True), "jitter": (1.0, True)}
# The epoch's generator is default_rng([seed, epoch, _STREAM]): apart from the batch order's
# default_rng([seed, epoch]) (tapjax.tap.ink.batching), which a 0 here would repeat (the seed is
# padded with zeros).
_STREAM = 1


@dataclasses.dataclass(frozen=True)
class Settings:
    """Augmentation settings, from the config's ``augment`` block (:meth:`from_config`; see the
    module docstring). All default to 0: no augmentation.

    ``probability``: the chance that an expression is augmented in an epoch; ``scale``,
    ``aspect``: the largest relative change of the size and of the x/y aspect ratio; ``shear``:
    the largest horizontal shear factor; ``rotation``: the largest angle in degrees; ``jitter``:
    the standard deviation of the point noise, a fraction of the ink's height.
    """

    probability: float = 0.0
    scale: float = 0.0
    aspect: float = 0.0
    shear: float = 0.0
    rotation: float = 0.0
    jitter: float = 0.0

    def __post_init__(self):
        for name, (high, reachable) in _LIMITS.items():
            value = getattr(self, name)
            if not (0 <= value <= high if reachable else 0 <= value < high):
                interval = f"[0, {high:g}{']' if reachable else ')'}"
                raise ValueError(f"augment.{name} must be in {interval}, not {value!r}")

    @classmethod
    def from_config(cls, augment: Mapping[str, Any]) -> "Settings":
        """From a config's ``augment`` block (a ConfigDict or dict), by keyword; a field it
        lacks keeps its default, an unknown field is a ``ValueError`` naming it."""
        values, names = dict(augment), [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(values.keys() - set(names))
        if unknown:
            raise ValueError(f"augment config: unknown fields {unknown}; known: {names}")
        return cls(**values)


def linear_map(size: float, ratio: float, slant: float, degrees: float) -> np.ndarray:
    """The ``[2, 2]`` matrix ``R K D`` of the module docstring for size ``s = size``, aspect
    ratio ``r = ratio``, shear ``k = slant`` and angle ``θ = degrees``."""
    theta = np.deg2rad(degrees)
    rotate = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    shear = np.array([[1.0, slant], [0.0, 1.0]])
    stretch = np.diag([size * np.sqrt(ratio), size / np.sqrt(ratio)])
    return rotate @ shear @ stretch


def transform(points: np.ndarray, rng: np.random.Generator, settings: Settings) -> np.ndarray:
    """One expression's raw ``points`` float64 ``[M, 2]`` under one random :func:`linear_map`
    about the centre of their bounding box, then jittered (module docstring). Settings of 0
    leave every point exactly where it is."""
    matrix = linear_map(rng.uniform(1 - settings.scale, 1 + settings.scale),
                        rng.uniform(1 - settings.aspect, 1 + settings.aspect),
                        rng.uniform(-settings.shear, settings.shear),
                        rng.uniform(-settings.rotation, settings.rotation))
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    moved = points + (points - centre) @ (matrix - np.eye(2)).T  # exact when matrix is I
    height = np.ptp(moved[:, 1]) or np.ptp(moved[:, 0]) or 1.0
    return moved + rng.normal(0.0, settings.jitter * height, size=points.shape)


def augment_features(features: np.ndarray, point_strokes: np.ndarray, rng: np.random.Generator,
                     settings: Settings) -> np.ndarray:
    """One expression's ``features [N, 8]`` with its pen positions under :func:`transform`,
    normalised again (:func:`tapjax.tap.ink.strokes.renormalize`) and the features computed again."""
    moved = transform(features[:, :2].astype(np.float64), rng, settings)
    return strokes.point_features(strokes.renormalize(moved, point_strokes), point_strokes)


def augment_split(split: crohme.Split, rng: np.random.Generator, settings: Settings) -> crohme.Split:
    """``split`` with each expression, with probability ``settings.probability``, augmented
    (:func:`augment_features`); the rest unchanged. Draws the expressions to augment, then each
    one's transform in split order."""
    features = list(split.features)
    for i in np.flatnonzero(rng.random(len(split)) < settings.probability):
        features[i] = augment_features(split.features[i], split.point_strokes[i], rng, settings)
    return dataclasses.replace(split, features=features)


def for_epoch(split: crohme.Split, config: ml_collections.ConfigDict, epoch: int) -> crohme.Split:
    """The training ``split`` of epoch ``epoch`` under the config's ``augment`` block:
    ``split`` itself when ``augment.probability`` is 0, else :func:`augment_split` with a generator
    seeded by ``(train.seed, epoch)``, so a resumed run draws its epoch again."""
    settings = Settings.from_config(config.augment)
    if not settings.probability:
        return split
    rng = np.random.default_rng([config.train.seed, epoch, _STREAM])
    return augment_split(split, rng, settings)
