"""Handwritten expressions in InkML files recognised by trained runs, with their attention.

The files need ink only: a truth annotation, if any, is ignored. The recognised caption is the
standard CROHME tokens separated by spaces. Several runs decode as an ensemble (Eq. 32); without
any, the model shipped with tapjax reads them (:mod:`tapjax.tap.read.exported`). From the
command line: ``tapjax recognize`` (:mod:`tapjax.cli.recognize`); from a notebook::

    results = recognize_files(["a.inkml"])                 # the shipped model, its eval.test_beam
    results = recognize_files(["a.inkml"], ["runs/tap"])   # a run of your own
    results[0].latex
    tapjax.tap.read.attention_plot.plot_attention(results[0])   # a matplotlib Figure

``recognize_files`` gives one entry per file: its :class:`Recognition`, or the
:class:`~tapjax.common.errors.InputError` saying why it could not be read (not InkML, no ink,
malformed traces, too many points). Unusable runs raise :class:`~tapjax.common.errors.InputError`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import jax.numpy as jnp
import numpy as np

from tapjax.common.beam import beam_search
from tapjax.common.errors import InputError
from tapjax.tap.ink import inkml, strokes
from tapjax.tap.read.runs import Runs, load_runs, override


@dataclasses.dataclass
class Recognition:
    """One recognised expression and its attention.

    ``points float32 [N, 2]`` the preprocessed (normalised, thinned) pen positions and
    ``point_strokes int32 [N]`` their stroke; ``alpha float32 [T, N]`` the spatial
    attention of output symbol ``t`` (Eqs. 17-21) on each point: annotation ``l`` covers
    the ``stride`` points ``l * stride ...`` of the tracker's time pooling; ``beta
    float32 [T]`` the temporal gate (Eqs. 24-26: the share of the context taken from the
    language-model side), or None for a model without temporal attention.
    """

    path: str
    tokens: list[str]
    points: np.ndarray
    point_strokes: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray | None

    @property
    def latex(self) -> str:
        return " ".join(self.tokens)


def read_features(path: str | os.PathLike, settings: strokes.Settings) -> tuple[np.ndarray, np.ndarray]:
    """The TAP point features ``[N, 8]`` and stroke index ``[N]`` of one InkML file, preprocessed with
    ``settings`` (the TAP authors' features: :class:`tapjax.tap.ink.strokes.Settings`).

    Raises :class:`InputError` naming the file for unreadable ink or too many points."""
    try:
        ink = inkml.read_inkml(path)
    except inkml.InkMLError as error:
        raise InputError(error.path, error.problem) from None
    try:
        return strokes.preprocess(ink.traces, settings)
    except ValueError as error:
        raise InputError(path, str(error)) from None


def _read_each(paths, settings: strokes.Settings) -> list[tuple[np.ndarray, np.ndarray] | InputError]:
    """The features of each file, or the :class:`InputError` saying why it has none."""
    out = []
    for path in paths:
        try:
            out.append(read_features(path, settings))
        except InputError as error:
            out.append(error)
    return out


def _pad(features: Sequence[np.ndarray], stride: int) -> tuple[np.ndarray, np.ndarray]:
    """One batch ``[B, N, 8]`` and mask, ``N`` the longest rounded up to a multiple of ``stride``."""
    n = -(-max(len(f) for f in features) // stride) * stride
    batch = np.zeros((len(features), n, features[0].shape[1]), np.float32)
    mask = np.zeros((len(features), n), np.float32)
    for b, f in enumerate(features):
        batch[b, : len(f)], mask[b, : len(f)] = f, 1
    return batch, mask


def recognize(runs: Runs, paths: Sequence[str | os.PathLike], beam: int | None = None) -> list[Recognition]:
    """Decodes the files in one batch (beam ``beam``, default the run's ``eval.test_beam``; Eqs. 30-31)
    with their attention."""
    return _decode(runs, paths, [read_features(p, strokes.Settings()) for p in paths], beam)


def recognize_files(paths: Sequence[str | os.PathLike],
                    checkpoint: str | os.PathLike | Sequence[str | os.PathLike] = (),
                    beam: int | None = None, max_len: int | None = None, data_dir: str | None = None,
                    length_norm: bool | None = None) -> list[Recognition | InputError]:
    """Loads the run(s) ``checkpoint`` (a workdir, or several for an ensemble; none: the shipped model)
    and recognises ``paths``: one entry per path, its :class:`Recognition` or the :class:`InputError`
    of an unreadable file.

    Settings left None come from the run's config (``eval.test_beam``, ``eval.max_len``,
    ``eval.length_norm``, ``data.root``)."""
    workdirs = [checkpoint] if isinstance(checkpoint, (str, os.PathLike)) else list(checkpoint)
    inputs = _read_each(paths, strokes.Settings())  # before the model: a bad file costs no load
    readable = [i for i, x in enumerate(inputs) if not isinstance(x, InputError)]
    if not readable:
        return inputs
    loaded = load_runs(workdirs, data_dir)
    override(loaded, {"max_len": max_len, "length_norm": length_norm})
    decoded = _decode(loaded, [paths[i] for i in readable], [inputs[i] for i in readable], beam)
    for i, recognition in zip(readable, decoded):
        inputs[i] = recognition
    return inputs


def _decode(runs: Runs, paths, inputs: list[tuple[np.ndarray, np.ndarray]], beam: int | None) -> list[Recognition]:
    features, mask = _pad([f for f, _ in inputs], runs.stride)
    beam = runs.config.eval.test_beam if beam is None else beam
    settings = runs.config.eval
    result = beam_search(runs.family, runs.params, jnp.asarray(features), jnp.asarray(mask), beam=beam,
                         max_len=settings.max_len, length_norm=settings.length_norm, with_attention=True)
    tokens, lengths = np.asarray(result.tokens[:, 0]), np.asarray(result.lengths[:, 0])
    alpha = np.asarray(result.alpha)
    beta = None if result.beta is None else np.asarray(result.beta)
    out = []
    for b, (path, (f, point_strokes)) in enumerate(zip(paths, inputs)):
        t = int(lengths[b])
        on_point = np.arange(len(f)) // runs.stride
        out.append(Recognition(str(path), runs.vocab.decode(tokens[b, :t].tolist()), f[:, :2], point_strokes,
                               alpha[b, :t][:, on_point], None if beta is None else beta[b, :t]))
    return out
