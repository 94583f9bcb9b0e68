"""``tapjax tune``: the weights of TAP's Eq. 33 chosen on the validation set.

    tapjax tune --checkpoint TAP_RUN --checkpoint WAP_RUN [--lm LM_DIR] [--split test2013] \\
        [--grid "0.5,0.3,0.2;0.6,0.2,0.2" | --step 0.25] [--beam K] [--max_len N] [--batch_size B] \\
        [--limit N] [--data_dir D] --out weights.json [--json]

loads the members (each ``--checkpoint`` a run of any family or an exported model, then the
language model saved by ``tapjax lm``), decodes ``--split`` (default ``test2013``, CROHME 2013
test: the project's validation set, never a test set) with each setting of ``--grid`` (settings
separated by ``;``, one weight per member, in the members' order) or, without it, of every
setting on the simplex in steps of ``--step``, keeps the one of highest ExpRate (then lowest
WER, then the earlier setting; :func:`tapjax.tap.read.mixture_weights.tune`) and writes ``--out``:
``{"weights": the chosen setting, "members", "split", "n", "beam", "scores": [{"weights",
"exprate", "wer"}, ...]}``, which ``tapjax evaluate --weights_file`` reads back. Prints the choice
(``--json``: ``{"weights", "split", "n", "beam"}``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tapjax.cli import contract, decoding_flags
from tapjax.tap.read.mixture_weights import SPLITS, parse_grid, simplex_grid, tune
from tapjax.tap.read.runs import load_mixture, load_split


def parser() -> argparse.ArgumentParser:
    flags = contract.parser("tapjax tune", __doc__, data_dir=decoding_flags.RUN_DATA_ROOT)
    flags.add_argument("--checkpoint", action="append", default=[], metavar="DIR", required=True,
                       help="a trained run (TAP or WAP) or an exported model, one member each; repeat")
    flags.add_argument("--lm", default=None, metavar="DIR", help="a language model (tapjax lm), the last member")
    flags.add_argument("--split", default="test2013", choices=SPLITS)
    flags.add_argument("--grid", default=None, help="weight settings, e.g. '0.5,0.3,0.2;0.6,0.2,0.2'")
    flags.add_argument("--step", type=float, default=0.25, help="without --grid: every setting in these steps")
    decoding_flags.add(flags, "valid_beam", length_norm=False)
    flags.add_argument("--limit", type=int, default=0, help="tune on the first N expressions only")
    flags.add_argument("--out", required=True, metavar="FILE", help="where the chosen weights go (JSON)")
    return flags


def choose(args: argparse.Namespace) -> contract.Result:
    """Decodes the grid on the split and writes the choice to ``--out`` (module docstring)."""
    members = len(args.checkpoint) + (args.lm is not None)
    grid = parse_grid(args.grid) if args.grid else simplex_grid(members, args.step)
    runs = load_mixture(args.checkpoint, args.lm, args.data_dir)
    beam = decoding_flags.apply(args, runs, "valid_beam")
    split = load_split(runs, args.split, args.data_dir, args.limit)
    best, scores = tune(runs, split, grid, beam)
    record = {"weights": list(best), "members": [*args.checkpoint, *([args.lm] if args.lm else [])],
              "split": args.split, "n": len(split), "beam": beam, "scores": scores}
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    choice = {k: record[k] for k in ("weights", "split", "n", "beam")}
    return contract.Result(choice, f"weights {','.join(map(str, best))} chosen on {args.split} "
                                   f"({len(split)} expressions, beam {beam}); written to {args.out}")


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    return contract.run(parser(), choose, argv)


if __name__ == "__main__":
    sys.exit(main())
