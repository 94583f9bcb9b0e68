"""Scores trained TAP runs on a CROHME split: one run, or several as an ensemble (TAP Eq. 32).

    python -m tapjax.evaluate --checkpoint DIR [--checkpoint DIR2 ...] --split test2014 \\
        [--beam 10] [--max_len N] [--data_dir D] [--limit N] [--json] [--predictions FILE]

``DIR`` is a run's workdir (``config.json`` + ``checkpoints/``, as written by
:func:`tapjax.tap.train.train_and_evaluate`); its best checkpoint is used, else its latest.
Several ``--checkpoint`` runs must share the model config and vocabulary and are decoded
as one :class:`~tapjax.decode.family.Ensemble`. Prints
``{"split", "n", "wer", "exprate", "le1", "le2", "le3", "seconds", "per_stroke_count"}``
(a table, or one JSON line with ``--json``; ``seconds`` is the decoding wall time,
compilation included) and writes one JSON line per expression
(``key``, ``reference``, ``hypothesis``, ``errors``) to ``--predictions`` (default
``DIR/predictions_<split>.jsonl``).

Unusable inputs (a missing run, a config that does not match the checkpoint or the
vocabulary, runs that cannot be ensembled) raise :class:`InputError`; the command line
prints its message and exits with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import ml_collections

from tapjax.data import crohme
from tapjax.data.root import data_root
from tapjax.data.vocab import Vocab
from tapjax.decode.family import Ensemble, Family, stack_params
from tapjax.metrics import exprate
from tapjax.tap import train
from tapjax.train.checkpoint import Checkpoints

SPLITS = ("test2014", "test2016", "valid")


class InputError(Exception):
    """An unusable input of the command-line tools: ``path`` names it, ``problem`` says why."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class Runs:
    """Trained runs ready to decode: ``family`` (a TAP model or an ensemble of them) and its ``params``."""

    family: Family
    params: Any
    config: ml_collections.ConfigDict
    vocab: Vocab
    stride: int  # input points per annotation step


def load_config(workdir: str | os.PathLike) -> ml_collections.ConfigDict:
    """The config a run was trained with (``workdir/config.json``)."""
    path = Path(workdir) / "config.json"
    if not Path(workdir).is_dir():
        raise InputError(workdir, "no such run directory")
    if not path.is_file():
        raise InputError(workdir, "not a training run: it has no config.json")
    try:
        return ml_collections.ConfigDict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as error:
        raise InputError(path, f"unreadable config ({error})") from None


def _check_same_model(workdirs: Sequence[str], configs: Sequence[ml_collections.ConfigDict]) -> None:
    """Ensemble members must share the model (Eq. 32 averages models of one family)."""
    first = configs[0].model.to_dict()
    for workdir, config in zip(workdirs[1:], configs[1:]):
        other = config.model.to_dict()
        differ = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
        if differ:
            raise InputError(workdir, f"cannot ensemble with {workdirs[0]}: model config differs in "
                                      + ", ".join(f"{k} ({first.get(k)} vs {other.get(k)})" for k in differ))


def _restore(workdir: str, model, config) -> Any:
    """The best checkpoint's parameters (the latest's if there is no best)."""
    if not (Path(workdir) / "checkpoints").is_dir():
        raise InputError(workdir, "no checkpoints/ folder (the run saved no checkpoint)")
    checkpoints = Checkpoints(workdir)
    try:
        for kind in ("best", "latest"):
            params = train.restore_params(checkpoints, model, config, kind)
            if params is not None:
                return params
    except (ValueError, KeyError, TypeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(workdir, f"the checkpoint does not match config.json ({first_line})") from None
    finally:
        checkpoints.close()
    raise InputError(workdir, "no checkpoint saved yet (checkpoints/best and checkpoints/latest are empty)")


def load_runs(workdirs: Sequence[str | os.PathLike], data_dir: str | None = None) -> Runs:
    """One run (a TAP model) or several (an :class:`Ensemble`, TAP Eq. 32), checked against the vocabulary."""
    workdirs = [str(w) for w in workdirs]
    configs = [load_config(w) for w in workdirs]
    _check_same_model(workdirs, configs)
    config = configs[0]
    data_dir = data_dir or config.get("data_dir") or None
    try:
        vocab = Vocab.from_data_root(data_dir)
    except FileNotFoundError as error:
        raise InputError(data_root(data_dir), f"no CROHME vocabulary there ({error})") from None
    if config.model.vocab_size != len(vocab):
        raise InputError(Path(workdirs[0]) / "config.json",
                         f"model.vocab_size is {config.model.vocab_size} but the vocabulary has {len(vocab)} symbols")
    model = train.build_model(config)
    params = [_restore(w, model, c) for w, c in zip(workdirs, configs)]
    if len(params) == 1:
        return Runs(model, params[0], config, vocab, model.stride)
    return Runs(Ensemble(model), stack_params(params), config, vocab, model.stride)


def evaluate(runs: Runs, split: crohme.Split, beam: int) -> tuple[dict, list[dict]]:
    """Scores ``split`` (summary as in the module docstring) and lists the per-expression predictions."""
    start = time.time()
    hyps = train.decode(runs.family, runs.params, split, runs.vocab, runs.config, beam=beam)
    seconds = time.time() - start
    scores = exprate.score(list(split.tokens), hyps, split.stroke_count)
    summary = {"split": split.name, **scores, "seconds": seconds}
    predictions = [{"key": k, "reference": " ".join(r), "hypothesis": " ".join(h), "errors": exprate.edit_distance(r, h)}
                   for k, r, h in zip(split.keys, split.tokens, hyps)]
    return summary, predictions


def format_table(summary: dict) -> str:
    """A readable table of the summary (rates as percentages, as in the TAP paper's tables)."""
    lines = [f"{'split':<10}{summary['split']}", f"{'n':<10}{summary['n']}"]
    lines += [f"{k:<10}{100 * summary[k]:.2f} %" for k in ("wer", "exprate", "le1", "le2", "le3")]
    lines.append(f"{'seconds':<10}{summary['seconds']:.1f}")
    if summary["per_stroke_count"]:
        lines.append("ExpRate by stroke count:")
        lines += [f"  {label:<8}n={b['n']:<6}{100 * b['exprate']:.2f} %" for label, b in summary["per_stroke_count"].items()]
    return "\n".join(lines)


def run_cli(main: Callable[[list[str] | None], None], argv: list[str] | None) -> int:
    """Runs ``main(argv)``: 0 on success; an :class:`InputError` prints its message and gives 2."""
    try:
        main(argv)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tapjax.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", required=True, metavar="DIR",
                        help="a run's workdir; repeat for an ensemble (Eq. 32)")
    parser.add_argument("--split", required=True, choices=SPLITS)
    parser.add_argument("--beam", type=int, default=10, help="beam width (1 = greedy)")
    parser.add_argument("--max_len", type=int, default=0, help="longest caption decoded (default: the run's eval.max_len)")
    parser.add_argument("--data_dir", default=None, help="the data root (default: the run's, $TAPJAX_DATA or ./data)")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N expressions of the split")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.add_argument("--predictions", default=None, metavar="FILE",
                        help="per-expression predictions (default: DIR/predictions_<split>.jsonl)")
    return parser


def _main(argv: list[str] | None) -> None:
    args = _parser().parse_args(argv)
    runs = load_runs(args.checkpoint, args.data_dir)
    if args.max_len:
        runs.config.eval.max_len = args.max_len
    data_dir = args.data_dir or runs.config.get("data_dir") or None
    split = crohme.load_split(args.split, data_dir, runs.config.data.get("cache_dir") or None)
    if args.limit:
        split = split.take(range(min(args.limit, len(split))))
    summary, predictions = evaluate(runs, split, args.beam)
    path = Path(args.predictions or Path(args.checkpoint[0]) / f"predictions_{args.split}.jsonl")
    path.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    print(json.dumps(summary) if args.json else format_table(summary))


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
