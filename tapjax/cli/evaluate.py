"""``tapjax evaluate``: trained runs scored on a CROHME split: one run, several as an ensemble
(TAP Eq. 32), or a mixture of families with a language model (TAP Eq. 33).

    tapjax evaluate [--checkpoint DIR [--checkpoint DIR2 ...]] --split test2014 \\
        [--beam K] [--max_len N] [--[no-]length_norm] [--batch_size B] [--data_dir D] [--limit N] [--json] \\
        [--predictions FILE] [--lm LM_DIR] [--weights W1,W2,... | --weights_file FILE]

``DIR`` is a run's workdir (``config.json`` + ``checkpoints/``, as written by ``tapjax train``;
its best checkpoint is used, else its latest) or an exported model (``tapjax export``). Without
``--checkpoint`` the model shipped with tapjax is scored. Several ``--checkpoint`` runs must share
the model config and vocabulary and are decoded as one ensemble. A run is TAP or WAP, as its
config's ``model.family`` says.

With ``--weights`` (or ``--weights_file``, a file written by ``tapjax tune``, which chooses them
on the validation set) each ``--checkpoint`` run is instead one member of a mixture, of any
family (e.g. a TAP run and a WAP run), followed by the GRU language model saved in ``--lm``
(``tapjax lm``), if given: at every step the members' probabilities are summed with the weights,
one per member in that order, ``>= 0`` and summing to 1 (Eq. 33); each member reads its own input
(TAP the points, WAP the rendered image). E.g. the paper's best system::

    tapjax evaluate --split test2014 --checkpoint TAP_RUN --checkpoint WAP_RUN --lm LM_DIR \\
        --weights 0.5,0.3,0.2 --beam 10 --json

Every decoding setting not given falls back to the (first) run's own config: ``--beam`` to
``eval.test_beam``, ``--max_len`` to ``eval.max_len``, ``--batch_size`` to ``eval.batch_size``,
``--[no-]length_norm`` to ``eval.length_norm`` (rank hypotheses by log-probability per symbol, as
the TAP authors' decoder, or by the sum), ``--data_dir`` to ``data.root``. Prints the summary of
:func:`tapjax.tap.read.evaluation.evaluate` (a table, or one JSON object with ``--json``) and
writes one JSON line per expression (``key``, ``reference``, ``hypothesis``, ``errors``) to
``--predictions`` (default ``DIR/predictions_<split>.jsonl``; the shipped model writes them only
when asked). Unusable inputs (a missing run, a config that does not match the checkpoint or the
vocabulary, runs that cannot be ensembled) are one error line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tapjax.cli import contract, decoding_flags
from tapjax.common.errors import InputError
from tapjax.tap.read.evaluation import evaluate
from tapjax.tap.read.mixture_weights import parse_weights, read_weights
from tapjax.tap.read.runs import Runs, load_mixture, load_runs, load_split, with_weights

SPLITS = ("test2014", "test2016", "test2013", "valid")


def parser() -> argparse.ArgumentParser:
    flags = contract.parser("tapjax evaluate", __doc__, data_dir=decoding_flags.RUN_DATA_ROOT)
    flags.add_argument("--checkpoint", action="append", default=[], metavar="DIR", help=decoding_flags.CHECKPOINT)
    flags.add_argument("--split", required=True, choices=SPLITS)
    decoding_flags.add(flags, "test_beam")
    flags.add_argument("--limit", type=int, default=0, help="score only the first N expressions of the split")
    flags.add_argument("--predictions", default=None, metavar="FILE",
                       help="per-expression predictions (default: DIR/predictions_<split>.jsonl; none for the "
                            "shipped model)")
    flags.add_argument("--lm", default=None, metavar="DIR",
                       help="with --weights: a GRU language model (tapjax lm), the mixture's last member")
    weights = flags.add_mutually_exclusive_group()
    weights.add_argument("--weights", default=None, metavar="W1,W2,...",
                         help="mix the --checkpoint runs, then --lm, with these weights (Eq. 33)")
    weights.add_argument("--weights_file", default=None, metavar="FILE", help="the weights chosen by tapjax tune")
    return flags


def load(args: argparse.Namespace) -> Runs:
    """What the flags ask to decode: a mixture (with ``--weights`` or ``--weights_file``), the runs
    (one, or an ensemble), or the shipped model."""
    if args.weights is None and args.weights_file is None:
        if args.lm:
            raise InputError("--lm", "a language model decodes only in a mixture: give --weights or --weights_file")
        return load_runs(args.checkpoint, args.data_dir)
    weights = parse_weights(args.weights) if args.weights is not None else read_weights(args.weights_file)
    return with_weights(load_mixture(args.checkpoint, args.lm, args.data_dir), weights,
                        "--weights" if args.weights is not None else args.weights_file)


def score(args: argparse.Namespace) -> contract.Result:
    """Scores the split and writes the predictions (module docstring)."""
    runs = load(args)
    beam = decoding_flags.apply(args, runs, "test_beam")
    summary, predictions = evaluate(runs, load_split(runs, args.split, args.data_dir, args.limit), beam)
    if args.predictions or args.checkpoint:
        path = Path(args.predictions or Path(args.checkpoint[0]) / f"predictions_{args.split}.jsonl")
        path.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    return contract.Result(summary, format_table(summary))


def format_table(summary: dict) -> str:
    """A readable table of the summary (rates as percentages, as in the TAP paper's tables)."""
    lines = [f"{'split':<10}{summary['split']}", f"{'n':<10}{summary['n']}"]
    lines += [f"{k:<10}{100 * summary[k]:.2f} %" for k in ("wer", "exprate", "le1", "le2", "le3")]
    lines += [f"{'beam':<10}{summary['beam']}", f"{'devices':<10}{summary['devices']}",
              f"{'seconds':<10}{summary['seconds']:.1f}"]
    oov = summary["oov_references"]
    if oov["expressions"]:
        symbols = ", ".join(f"{s} x{c}" for s, c in oov["symbols"].items())
        lines.append(f"{oov['expressions']} references hold symbols outside the vocabulary ({symbols}): "
                     "scored as errors")
    if summary["per_stroke_count"]:
        lines.append("ExpRate by stroke count:")
        lines += [f"  {label:<8}n={b['n']:<6}{100 * b['exprate']:.2f} %"
                  for label, b in summary["per_stroke_count"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    return contract.run(parser(), score, argv)


if __name__ == "__main__":
    sys.exit(main())
