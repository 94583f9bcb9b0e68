"""Recognises handwritten expressions in InkML files with trained TAP runs.

    python -m tapjax.recognize FILE.inkml [FILE2 ...] [--checkpoint DIR [--checkpoint DIR2 ...]] \\
        [--beam K] [--max_len N] [--[no-]length_norm] [--data_dir D] [--attention OUT.png]

prints ``FILE<TAB>LaTeX`` per file (tokens separated by spaces, as in the standard
captions). The files need ink only: a truth annotation, if any, is ignored. A file that
cannot be recognised (not InkML, no ink, malformed traces, too many points) gets its own
``error: FILE: problem`` line on stderr and the others are still recognised; the exit
status is 0 when every file was recognised, 2 otherwise. ``--attention OUT.png`` draws, per output symbol, the ink coloured by the
symbol's spatial attention and titled with its temporal gate (TAP Figs. 9-10; one image
per file, suffixed with the file's name when there are several). Several
``--checkpoint`` runs decode as an ensemble (Eq. 32); without ``--checkpoint`` the model
shipped with tapjax reads them (:mod:`tapjax.tap.read.pretrained`).

From a notebook::

    results = recognize_files(["a.inkml"])                 # the shipped model, its eval.test_beam
    results = recognize_files(["a.inkml"], ["runs/tap"])   # a run of your own
    results[0].latex
    tapjax.tap.read.attention_plot.plot_attention(results[0])   # a matplotlib Figure

``recognize_files`` gives one entry per file: its :class:`Recognition`, or the
:class:`tapjax.common.cli.InputError` saying why it could not be read. Unusable runs raise
:class:`~tapjax.common.cli.InputError` (exit status 2 from the command line).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Sequence

import jax.numpy as jnp
import numpy as np

from tapjax.tap.ink import crohme, inkml, strokes
from tapjax.tap.read import pretrained
from tapjax.common.beam import beam_search
from tapjax.common.cli import InputError, run_cli
from tapjax.tap.read.runs import Runs, add_length_norm_flag, override


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
    ``settings`` (a run's :func:`tapjax.tap.ink.crohme.preprocessing`).

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
    settings = crohme.preprocessing(runs.config.data)
    return _decode(runs, paths, [read_features(p, settings) for p in paths], beam)


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
    inputs = _read_each(paths, crohme.preprocessing(pretrained.load_config(workdirs).data))  # before the model
    readable = [i for i, x in enumerate(inputs) if not isinstance(x, InputError)]
    if not readable:
        return inputs
    runs = pretrained.load_runs(workdirs, data_dir)
    override(runs, {"max_len": max_len, "length_norm": length_norm})
    decoded = _decode(runs, [paths[i] for i in readable], [inputs[i] for i in readable], beam)
    for i, recognition in zip(readable, decoded):
        inputs[i] = recognition
    return inputs


def _decode(runs: Runs, paths, inputs: list[tuple[np.ndarray, np.ndarray]], beam: int | None) -> list[Recognition]:
    features, mask = _pad([f for f, _ in inputs], runs.stride)
    beam = runs.config.eval.test_beam if beam is None else beam
    result = beam_search(runs.family, runs.params, jnp.asarray(features), jnp.asarray(mask), beam=beam,
                         max_len=runs.config.eval.max_len, length_norm=runs.config.eval.length_norm, with_attention=True)
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


def _attention_path(out: Path, path: str, several: bool) -> Path:
    return out.with_name(f"{out.stem}_{Path(path).stem}{out.suffix}") if several else out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tapjax.tap.read.recognize", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", metavar="FILE.inkml")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="DIR",
                        help="a run's workdir; repeat for an ensemble (Eq. 32); default: the model shipped with tapjax")
    parser.add_argument("--beam", type=int, default=None, help="beam width, 1 = greedy (default: the run's eval.test_beam)")
    parser.add_argument("--max_len", type=int, default=None, help="longest caption decoded (default: the run's eval.max_len)")
    add_length_norm_flag(parser)
    parser.add_argument("--data_dir", default=None, help="the data root holding the vocabulary (default: the run's data.root)")
    parser.add_argument("--attention", default=None, metavar="OUT.png", help="draw the attention of each symbol")
    return parser


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    results = recognize_files(args.files, args.checkpoint, args.beam, args.max_len, args.data_dir, args.length_norm)
    recognised = [r for r in results if isinstance(r, Recognition)]
    for r in results:
        if isinstance(r, Recognition):
            print(f"{r.path}\t{r.latex}", flush=True)
        else:
            print(f"error: {r}", file=sys.stderr)
    if args.attention:
        from tapjax.tap.read.attention_plot import save_attention  # matplotlib only when drawing

        for r in recognised:
            save_attention(r, _attention_path(Path(args.attention), r.path, len(results) > 1))
    return 0 if len(recognised) == len(results) else 2


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
