"""The GRU language model's run (:mod:`tapjax.tap.nets.language_model`): ``train_and_score(config, workdir)``.

The config (``experiments/configs/language_model.py``) gives the model's sizes (``model``), the
training settings (``train``: :class:`~tapjax.tap.nets.language_model.TrainSettings`) and the data
(``data.root``; ``data.valid``: ``"test2013"`` or ``"none"``). The model trains on
``crohme/tap/train_caption.txt``, keeping the epoch of lowest perplexity on the tokenized CROHME
2013 test truths (the project's validation set; the last epoch with ``data.valid = "none"``), is
saved in the workdir (:func:`~tapjax.tap.nets.language_model.save`, read back by
:func:`~tapjax.tap.nets.language_model.load`) and scored: the per-symbol perplexity (``<eol>``
included) on the training captions, the validation truths, the CROHME 2014 test captions and the
CROHME 2016 test truths (a truth that does not tokenize into the vocabulary is left out and counted).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import jax
import ml_collections
import numpy as np

from tapjax.common.errors import InputError
from tapjax.common.paths import data_root, dataset_dir
from tapjax.tap.ink import crohme
from tapjax.tap.ink.symbols import Vocab
from tapjax.tap.nets import language_model as lm

VALID = "test2013"  # the validation split (data.valid), or "none"


def train_and_score(config: ml_collections.ConfigDict, workdir: str | Path,
                    log: Callable[[dict], None] | None = None) -> dict:
    """Trains the language model of ``config`` (each epoch's record passed to ``log``), saves it in
    ``workdir`` and returns the results: the training time, the settings and model, the parameter
    count, the epoch kept, the captions scored and left out per set, and the perplexities."""
    validate(config)
    root, vocab = _crohme(config.data.root or None)
    family, settings = _model(config, len(vocab))
    scored, left_out = _captions(root, vocab, config.data.valid)
    start = time.perf_counter()
    params, history = lm.train(family, scored["train"], settings, scored[VALID], log=log)
    result = {
        "train_s": round(time.perf_counter() - start, 1), "settings": dataclasses.asdict(settings),
        "model": dataclasses.asdict(family.config),
        "parameters": sum(int(np.size(p)) for p in jax.tree.leaves(params)),
        "epoch": min(history, key=lambda r: r["valid_perplexity"])["epoch"] if scored[VALID] else settings.epochs,
        "captions": {name: len(s) for name, s in scored.items()},
        "left_out": left_out,
        "perplexity": {name: round(lm.perplexity(family, params, s), 4) if s else None for name, s in scored.items()},
    }
    lm.save(workdir, family.config, params, extra={"result": result, "history": history})
    return result


def validate(config: ml_collections.ConfigDict) -> None:
    """Checks ``config`` before any data is read: ``data.valid``, the model's sizes (the vocabulary
    aside) and the training settings; an unusable value is an :class:`InputError` naming it."""
    if config.data.valid not in (VALID, "none"):
        raise InputError("data.valid", f"{config.data.valid!r}: expected {VALID!r} or 'none'")
    _model(config, vocab_size=1)


def _crohme(data_dir: str | None) -> tuple[Path, Vocab]:
    """The CROHME folder of the data root and its vocabulary."""
    try:
        return dataset_dir("crohme", data_dir), Vocab.from_data_root(data_dir)
    except FileNotFoundError as error:
        raise InputError(data_root(data_dir), f"no CROHME vocabulary there ({error})") from None


def _model(config: ml_collections.ConfigDict, vocab_size: int) -> tuple[lm.LanguageModel, lm.TrainSettings]:
    """The family and training settings of ``config``; unusable values are an :class:`InputError`."""
    try:
        return lm.LanguageModel(lm.LMConfig(vocab_size, **config.model)), lm.TrainSettings(**config.train)
    except (TypeError, ValueError) as error:
        raise InputError("config", str(error)) from None


def _captions(root: Path, vocab: Vocab, valid: str) -> tuple[dict[str, list[np.ndarray]], dict[str, int | None]]:
    """The encoded captions of the training set, the validation truths (none when ``valid`` is
    ``"none"``) and the two test sets; and how many truths of each truth set were left out."""
    train, test2014 = (root / crohme.CAPTIONS[folder] for folder in ("TrainINKML", "TestEM2014GT"))
    scored = {"train": _caption_file(train, vocab), VALID: [], "test2014": _caption_file(test2014, vocab)}
    left_out = {VALID: None}
    if valid != "none":
        scored[VALID], left_out[VALID] = _truths(root, VALID, vocab)
        if not scored[VALID]:
            raise InputError(root / crohme.FOLDERS[VALID], "no validation captions (or data.valid = 'none')")
    scored["test2016"], left_out["test2016"] = _truths(root, "test2016", vocab)
    return scored, left_out


def _caption_file(path: Path, vocab: Vocab) -> list[np.ndarray]:
    """The encoded captions of a standard caption file; a token outside ``vocab`` is an :class:`InputError`."""
    try:
        return lm.encode_captions(lm.caption_file(path), vocab)
    except KeyError as error:
        raise InputError(path, error.args[0]) from None


def _truths(root: Path, split: str, vocab: Vocab) -> tuple[list[np.ndarray], int]:
    """:func:`~tapjax.tap.nets.language_model.truth_captions` of a split's folder, encoded, and the count left out."""
    captions, left_out = lm.truth_captions(root / crohme.FOLDERS[split], vocab)
    return lm.encode_captions(captions, vocab), left_out
