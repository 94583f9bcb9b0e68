"""Trained runs scored on a CROHME split: one run, an ensemble (TAP Eq. 32) or a mixture of
families with a language model (TAP Eq. 33), as :func:`tapjax.tap.read.runs.load_runs` and
:func:`~tapjax.tap.read.runs.load_mixture` load them (``tapjax evaluate``, :mod:`tapjax.cli.evaluate`).

:func:`evaluate` decodes the split (batches split over every local device,
:mod:`tapjax.tap.read.decoding`) and gives ``{"split", "n", "wer", "exprate", "le1", "le2", "le3",
"beam", "devices", "seconds", "per_stroke_count", "oov_references"}`` (``seconds``: the decoding
wall time, compilation included) and one prediction per expression (``key``, ``reference``,
``hypothesis``, ``errors``). A reference holding a symbol outside the vocabulary (real test sets
have a few, e.g. ``\\vtop``) is decoded and scored like the others: the model cannot write that
symbol, so each one is an error; ``oov_references`` counts those expressions and their symbols.

:func:`card_scores` gives the figures of an exported model's card (:mod:`tapjax.tap.read.exported`):
CROHME 2014 and 2016 test, and the first :data:`FIXED` expressions of 2014 test by key, which
``tests/test_pretrained.py`` reads again.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from tapjax.tap.ink import crohme
from tapjax.tap.ink.symbols import Vocab
from tapjax.tap.read import decoding, exprate
from tapjax.tap.read.runs import Runs

FIXED = 50  # expressions of the card's fixed subset: the first of CROHME 2014 test, by key
CARD_FIGURES = ("n", "exprate", "wer", "le1", "le2", "le3", "beam")


def evaluate(runs: Runs, split: crohme.Split, beam: int) -> tuple[dict, list[dict]]:
    """Scores ``split`` (the summary of the module docstring) and lists the per-expression predictions."""
    start = time.time()
    hyps = decoding.decode(runs.family, runs.params, split, runs.vocab, runs.config, kinds=runs.kinds, beam=beam)
    seconds = time.time() - start
    scores = exprate.score(list(split.tokens), hyps, split.stroke_count)
    summary = {"split": split.name, **scores, "beam": beam, "devices": jax.local_device_count(), "seconds": seconds,
               "oov_references": out_of_vocabulary(split.tokens, runs.vocab)}
    predictions = [{"key": k, "reference": " ".join(r), "hypothesis": " ".join(h),
                    "errors": exprate.edit_distance(r, h)} for k, r, h in zip(split.keys, split.tokens, hyps)]
    return summary, predictions


def out_of_vocabulary(references: list[list[str]], vocab: Vocab) -> dict:
    """``{"expressions": how many references hold a symbol outside ``vocab``, "symbols": {symbol: count}}``."""
    return {"expressions": sum(bool(vocab.unknown(r)) for r in references),
            "symbols": vocab.unknown_counts(references)}


def card_scores(runs: Runs, beam: int, data_dir: str | None = None) -> dict:
    """The :data:`CARD_FIGURES` of ``runs`` (beam ``beam``) on CROHME 2014 and 2016 test and on the
    fixed subset of 2014 test (with its keys)."""
    scores = {}
    for name in ("test2014", "test2016"):
        split = crohme.load_split(name, data_dir)
        scores[name] = _figures(evaluate(runs, split, beam)[0])
        if name == "test2014":
            fixed = split.take(np.argsort(split.keys)[:FIXED])
            scores["fixed50"] = {**_figures(evaluate(runs, fixed, beam)[0]), "keys": list(fixed.keys)}
    return scores


def _figures(summary: dict) -> dict:
    return {k: summary[k] for k in CARD_FIGURES}
