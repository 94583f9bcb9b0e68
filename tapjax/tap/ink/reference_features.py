"""Our point features against the TAP authors' released ones (CROHME 2014 test set).

The authors released the point features of the 986 CROHME 2014 test expressions
(``crohme/tap/on-ascii-test.tar.gz``): one ``KEY.ascii`` per expression, a line per point,
9 columns: the 8 features of Eq. 2 (:mod:`tapjax.tap.ink.strokes`) with, as the 7th column, a
value the first author calls meaningless (``|Δ'y| / (1 + Δy²)^1.5``), which we ignore.
:func:`agreement` preprocesses each expression's InkML file and compares: an expression
agrees when it has the reference's point count and every feature is within
:data:`TOLERANCE` of the reference's.
"""

from __future__ import annotations

import dataclasses
import tarfile

import numpy as np

from tapjax.common.paths import dataset_dir
from tapjax.tap.ink import inkml, strokes

REFERENCE_TAR = "tap/on-ascii-test.tar.gz"
FOLDER = "TestEM2014GT"
TOLERANCE = 1e-3
# The reference columns of our 8 features, in our order (all but the 7th).
REFERENCE_COLUMNS = [0, 1, 2, 3, 4, 5, 7, 8]
COLUMN_NAMES = ("x", "y", "dx", "dy", "d2x", "d2y", "pen_down", "pen_up")


def read_reference(path) -> dict[str, np.ndarray]:
    """The released features of each expression: key -> ``float64 [N, 8]`` (our columns)."""
    out = {}
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".ascii"):
                key = member.name.rsplit("/", 1)[-1].removesuffix(".ascii")
                out[key] = np.loadtxt(tar.extractfile(member), ndmin=2)[:, REFERENCE_COLUMNS]
    return out


def differences(ours: np.ndarray, reference: np.ndarray) -> np.ndarray | None:
    """The largest absolute difference of each feature ``[8]``; None if the point counts differ."""
    if ours.shape != reference.shape:
        return None
    return np.abs(ours - reference).max(axis=0, initial=0.0)


def _column_summary(maxima: np.ndarray) -> dict:
    """p50 / p99 / max of the per-expression largest differences of each feature."""
    if not len(maxima):
        return {}
    return {name: {f"p{q}": float(np.percentile(maxima[:, c], q)) for q in (50, 99)}
            | {"max": float(maxima[:, c].max())} for c, name in enumerate(COLUMN_NAMES)}


def _features(path, settings: strokes.Settings) -> np.ndarray:
    """Our features ``[N, 8]`` of one InkML file."""
    return strokes.preprocess(inkml.read_inkml(path).traces, settings)[0]


def agreement(data_dir=None, settings: strokes.Settings = strokes.Settings(),
              step: int = 1) -> dict:
    """How our features (``settings``) agree with the reference on every ``step``-th expression
    (in key order): ``reference_feature_agreement`` (the share that agrees), ``n``,
    ``same_point_count``, ``tolerance``, ``settings``, ``columns`` (:func:`_column_summary`
    over the expressions with the reference's point count) and the ``differing`` keys."""
    crohme_dir = dataset_dir("crohme", data_dir)
    reference = read_reference(crohme_dir / REFERENCE_TAR)
    keys = sorted(reference)[::step]
    found = {k: differences(_features(crohme_dir / FOLDER / f"{k}.inkml", settings), reference[k])
             for k in keys}
    maxima = np.array([d for d in found.values() if d is not None]).reshape(-1, len(COLUMN_NAMES))
    differing = [k for k, d in found.items() if d is None or d.max() > TOLERANCE]
    return {"reference_feature_agreement": 1 - len(differing) / max(len(keys), 1), "n": len(keys),
            "same_point_count": len(maxima), "tolerance": TOLERANCE,
            "settings": dataclasses.asdict(settings),
            "columns": _column_summary(maxima), "differing": differing}
