"""Scores trained runs on a CROHME split: one run, several as an ensemble (TAP Eq. 32), or a
mixture of families with a language model (TAP Eq. 33).

    python -m tapjax.evaluate [--checkpoint DIR [--checkpoint DIR2 ...]] --split test2014 \\
        [--beam K] [--max_len N] [--[no-]length_norm] [--batch_size B] [--data_dir D] [--limit N] [--json] \\
        [--predictions FILE] [--lm LM_DIR] [--weights W1,W2,... | --weights_file FILE]

``DIR`` is a run's workdir (``config.json`` + ``checkpoints/``, as written by
:func:`tapjax.tap.fit.trainer.train_and_evaluate`); its best checkpoint is used, else its latest.
Without ``--checkpoint`` the model shipped with tapjax is scored (:mod:`tapjax.tap.read.pretrained`).
Several ``--checkpoint`` runs must share the model config and vocabulary and are decoded
as one :class:`~tapjax.common.family.Ensemble`. A run is TAP or WAP, as its config's
``model.family`` says (:mod:`tapjax.tap.nets.families`).

With ``--weights`` (or ``--weights_file``, a file written by ``python -m
tapjax.tap.read.mixture_weights``, which chooses them on the validation set) each ``--checkpoint``
run is instead one member of a :class:`~tapjax.common.family.Mixture`, of any family (e.g. a TAP
run and a WAP run), followed by the GRU language model saved in ``--lm`` (``python -m
tapjax.tap.nets.language_model``), if given: at every step the members' probabilities are summed with
the weights, one per member in that order, ``>= 0`` and summing to 1 (Eq. 33); each member reads
its own input (TAP the points, WAP the rendered image). E.g. the paper's best system::

    python -m tapjax.evaluate --split test2014 --checkpoint TAP_RUN --checkpoint WAP_RUN --lm LM_DIR \\
        --weights 0.5,0.3,0.2 --beam 10 --json
 Every decoding setting not given falls back
to the (first) run's own config: ``--beam`` to ``eval.test_beam``, ``--max_len`` to
``eval.max_len``, ``--batch_size`` to ``eval.batch_size``, ``--[no-]length_norm`` to
``eval.length_norm`` (rank hypotheses by log-probability per symbol, as the TAP authors'
decoder, or by the sum), ``--data_dir`` to ``data.root``.
Batches are split over every local device (:mod:`tapjax.tap.read.decoding`). Prints
``{"split", "n", "wer", "exprate", "le1", "le2", "le3", "beam", "devices", "seconds",
"per_stroke_count", "oov_references"}`` (a table, or one JSON line with ``--json``; ``seconds``
is the decoding wall time, compilation included). A reference holding a symbol outside the
vocabulary (real test sets have a few, e.g. ``\vtop``) is decoded and scored like the others:
the model cannot write that symbol, so each one is an error; ``oov_references`` counts those
expressions and their symbols. and writes one JSON line per expression
(``key``, ``reference``, ``hypothesis``, ``errors``) to ``--predictions`` (default
``DIR/predictions_<split>.jsonl``; the shipped model writes them only when asked).

Unusable inputs (a missing run, a config that does not match the checkpoint or the
vocabulary, runs that cannot be ensembled) print one error line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax

from tapjax.common.cli import run_cli
from tapjax.common.cli import InputError
from tapjax.tap.ink import crohme
from tapjax.tap.read import decoding, exprate, pretrained
from tapjax.tap.read.mixture_weights import parse_weights, read_weights
from tapjax.tap.read.runs import Runs, add_length_norm_flag, load_mixture, load_split, override, with_weights
from tapjax.tap.ink.symbols import Vocab

SPLITS = ("test2014", "test2016", "test2013", "valid")
# Command-line flags that override the run's eval block when given.
EVAL_FLAGS = ("max_len", "batch_size", "length_norm")


def evaluate(runs: Runs, split: crohme.Split, beam: int) -> tuple[dict, list[dict]]:
    """Scores ``split`` (summary as in the module docstring) and lists the per-expression predictions."""
    start = time.time()
    hyps = decoding.decode(runs.family, runs.params, split, runs.vocab, runs.config, kinds=runs.kinds, beam=beam)
    seconds = time.time() - start
    scores = exprate.score(list(split.tokens), hyps, split.stroke_count)
    summary = {"split": split.name, **scores, "beam": beam, "devices": jax.local_device_count(), "seconds": seconds,
               "oov_references": out_of_vocabulary(split.tokens, runs.vocab)}
    predictions = [{"key": k, "reference": " ".join(r), "hypothesis": " ".join(h), "errors": exprate.edit_distance(r, h)}
                   for k, r, h in zip(split.keys, split.tokens, hyps)]
    return summary, predictions


def out_of_vocabulary(references: list[list[str]], vocab: Vocab) -> dict:
    """``{"expressions": how many references hold a symbol outside ``vocab``, "symbols": {symbol: count}}``."""
    return {"expressions": sum(bool(vocab.unknown(r)) for r in references),
            "symbols": vocab.unknown_counts(references)}


def format_table(summary: dict) -> str:
    """A readable table of the summary (rates as percentages, as in the TAP paper's tables)."""
    lines = [f"{'split':<10}{summary['split']}", f"{'n':<10}{summary['n']}"]
    lines += [f"{k:<10}{100 * summary[k]:.2f} %" for k in ("wer", "exprate", "le1", "le2", "le3")]
    lines += [f"{'beam':<10}{summary['beam']}", f"{'devices':<10}{summary['devices']}",
              f"{'seconds':<10}{summary['seconds']:.1f}"]
    oov = summary["oov_references"]
    if oov["expressions"]:
        symbols = ", ".join(f"{s} x{c}" for s, c in oov["symbols"].items())
        lines.append(f"{oov['expressions']} references hold symbols outside the vocabulary ({symbols}): scored as errors")
    if summary["per_stroke_count"]:
        lines.append("ExpRate by stroke count:")
        lines += [f"  {label:<8}n={b['n']:<6}{100 * b['exprate']:.2f} %" for label, b in summary["per_stroke_count"].items()]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tapjax.tap.read.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", default=[], metavar="DIR",
                        help="a run's workdir; repeat for an ensemble (Eq. 32); default: the model shipped with tapjax")
    parser.add_argument("--split", required=True, choices=SPLITS)
    parser.add_argument("--beam", type=int, default=None, help="beam width, 1 = greedy (default: the run's eval.test_beam)")
    parser.add_argument("--max_len", type=int, default=None, help="longest caption decoded (default: the run's eval.max_len)")
    add_length_norm_flag(parser)
    parser.add_argument("--batch_size", type=int, default=None,
                        help="expressions per decoding batch, split over the devices (default: the run's eval.batch_size)")
    parser.add_argument("--data_dir", default=None, help="the data root (default: the run's data.root, $TAPJAX_DATA or ./data)")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N expressions of the split")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.add_argument("--predictions", default=None, metavar="FILE",
                        help="per-expression predictions (default: DIR/predictions_<split>.jsonl; none for the "
                             "shipped model)")
    parser.add_argument("--lm", default=None, metavar="DIR",
                        help="with --weights: a GRU language model (python -m tapjax.tap.nets.language_model), the "
                             "mixture's last member")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--weights", default=None, metavar="W1,W2,...",
                         help="mix the --checkpoint runs, then --lm, with these weights (Eq. 33)")
    weights.add_argument("--weights_file", default=None, metavar="FILE",
                         help="the weights chosen by python -m tapjax.tap.read.mixture_weights")
    return parser


def load(args: argparse.Namespace) -> Runs:
    """What the flags ask to decode: a mixture (with ``--weights`` or ``--weights_file``), the runs
    (one, or an ensemble), or the shipped model."""
    if args.weights is None and args.weights_file is None:
        if args.lm:
            raise InputError("--lm", "a language model decodes only in a mixture: give --weights or --weights_file")
        return pretrained.load_runs(args.checkpoint, args.data_dir)
    weights = parse_weights(args.weights) if args.weights is not None else read_weights(args.weights_file)
    return with_weights(load_mixture(args.checkpoint, args.lm, args.data_dir), weights,
                        "--weights" if args.weights is not None else args.weights_file)


def _main(argv: list[str] | None) -> None:
    args = _parser().parse_args(argv)
    runs = load(args)
    override(runs, {name: getattr(args, name) for name in EVAL_FLAGS})
    split = load_split(runs, args.split, args.data_dir, args.limit)
    summary, predictions = evaluate(runs, split, runs.config.eval.test_beam if args.beam is None else args.beam)
    if args.predictions or args.checkpoint:
        path = Path(args.predictions or Path(args.checkpoint[0]) / f"predictions_{args.split}.jsonl")
        path.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    print(json.dumps(summary) if args.json else format_table(summary))


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
