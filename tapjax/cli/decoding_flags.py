"""The flags of the commands that decode with trained runs (``recognize``, ``evaluate``, ``tune``):
the runs themselves, and the decoding settings that override a run's ``eval`` block when given."""

from __future__ import annotations

import argparse

from tapjax.tap.read.runs import Runs, override

RUN_DATA_ROOT = "the run's data.root, else $TAPJAX_DATA, else ./data"  # --data_dir of a command reading runs
CHECKPOINT = ("a run's workdir or an exported model; repeat for an ensemble (Eq. 32); "
              "default: the model shipped with tapjax")
SETTINGS = ("max_len", "batch_size", "length_norm")  # the eval fields the flags may override


def add(parser: argparse.ArgumentParser, beam_field: str, batch_size: bool = True, length_norm: bool = True) -> None:
    """``--beam`` (default: the run's ``eval.<beam_field>``), ``--max_len`` and, if asked for,
    ``--batch_size`` and ``--[no-]length_norm``, each defaulting to the run's ``eval`` value."""
    parser.add_argument("--beam", type=int, default=None,
                        help=f"beam width, 1 = greedy (default: the run's eval.{beam_field})")
    parser.add_argument("--max_len", type=int, default=None,
                        help="longest caption decoded (default: the run's eval.max_len)")
    if batch_size:
        parser.add_argument("--batch_size", type=int, default=None,
                            help="expressions per decoding batch, split over the devices "
                                 "(default: the run's eval.batch_size)")
    if length_norm:
        parser.add_argument("--length_norm", action=argparse.BooleanOptionalAction, default=None,
                            help="rank hypotheses by log-probability per symbol, as the TAP authors' decoder "
                                 "(--no-length_norm: by the sum); default: the run's eval.length_norm")


def apply(args: argparse.Namespace, runs: Runs, beam_field: str) -> int:
    """Sets the decoding settings given in ``args`` in the runs' ``eval`` block; returns the beam width."""
    override(runs, {name: getattr(args, name, None) for name in SETTINGS})
    return runs.config.eval[beam_field] if args.beam is None else args.beam
