"""The weights of TAP's Eq. 33, chosen on the validation set.

The paper mixes TAP, WAP and a GRU language model at every decoding step with weights
``w_i`` (Eq. 33; :class:`tapjax.common.family.Mixture`) drawn on the validation set (Fig. 11
plots ExpRate over them). :func:`tune` decodes a split with each setting of a grid and keeps the
one of highest ExpRate, a tie going to the lower WER, then to the earlier setting; the split is
one of :data:`SPLITS` (validation splits: weights are never chosen on a test set). A grid is a list of
settings, one weight per member of the mixture (:func:`tapjax.tap.read.runs.load_mixture`), written
as ``"0.5,0.3,0.2;0.6,0.2,0.2"`` (:func:`parse_grid`) or every setting on the simplex in steps of
a size (:func:`simplex_grid`). The weights are an input of the compiled search, so the grid costs
one compilation per batch shape, not one per setting. ``tapjax tune`` (:mod:`tapjax.cli.tune`)
writes the choice to a file that :func:`read_weights` reads back.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Sequence

from tapjax.common.errors import InputError
from tapjax.tap.ink import crohme
from tapjax.tap.read import decoding
from tapjax.tap.read.runs import Runs, with_weights

SPLITS = ("test2013", "valid")  # validation splits only: weights are never chosen on a test set


def parse_weights(text: str, where: str = "--weights") -> tuple[float, ...]:
    """``"0.5,0.3,0.2"`` as ``(0.5, 0.3, 0.2)``; anything else is an :class:`InputError` of ``where``."""
    try:
        return tuple(float(w) for w in text.split(","))
    except ValueError:
        raise InputError(where, f"{text!r}: expected weights separated by commas, e.g. 0.5,0.3,0.2") from None


def parse_grid(text: str) -> list[tuple[float, ...]]:
    """``"0.5,0.5;1,0"`` as ``[(0.5, 0.5), (1.0, 0.0)]``."""
    return [parse_weights(part, "--grid") for part in text.split(";") if part.strip()]


def simplex_grid(members: int, step: float) -> list[tuple[float, ...]]:
    """Every setting of ``members`` weights that are multiples of ``step`` and sum to 1 (``1 / step``
    must be a whole number), first weights largest first."""
    parts = round(1 / step)
    if members < 1 or step <= 0 or abs(parts * step - 1) > 1e-9:
        raise InputError("--step", f"{step}: 1 / step must be a whole number (and at least one member)")
    cuts = itertools.combinations_with_replacement(range(parts + 1), members - 1)
    grid = [tuple((b - a) / parts for a, b in zip((0, *cut), (*cut, parts))) for cut in cuts]
    return sorted(grid, reverse=True)


def read_weights(path: str | Path) -> tuple[float, ...]:
    """The ``"weights"`` of a file written by ``tapjax tune``."""
    try:
        return tuple(float(w) for w in json.loads(Path(path).read_text())["weights"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(path, f"not a weights file of tapjax tune ({error})") from None


def tune(runs: Runs, split: crohme.Split, grid: Sequence[Sequence[float]], beam: int) -> tuple[tuple, list[dict]]:
    """``(best weights, scores)``: each setting of ``grid`` decoded on ``split`` (beam ``beam``) and
    scored, the best by ExpRate, then WER, then grid order (module docstring)."""
    scores = []
    for weights in grid:
        mixed = with_weights(runs, weights, "--grid")
        result = decoding.score(mixed.family, mixed.params, split, runs.vocab, runs.config, kinds=runs.kinds, beam=beam)
        scores.append({"weights": list(weights), "exprate": result["exprate"], "wer": result["wer"]})
    best = max(range(len(scores)), key=lambda i: (scores[i]["exprate"], -scores[i]["wer"], -i))
    return tuple(grid[best]), scores
