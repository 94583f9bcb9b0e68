"""The weights of TAP's Eq. 33, chosen on the validation set.

The paper mixes TAP, WAP and a GRU language model at every decoding step with weights
``w_i`` (Eq. 33; :class:`tapjax.common.family.Mixture`) drawn on the validation set (Fig. 11
plots ExpRate over them). :func:`tune` decodes a split with each setting of a grid and keeps the
one of highest ExpRate, a tie going to the lower WER, then to the earlier setting. From the
command line::

    python -m tapjax.tap.read.mixture_weights --checkpoint TAP_RUN --checkpoint WAP_RUN [--lm LM_DIR] \\
        [--split test2013] [--grid "0.5,0.3,0.2;0.6,0.2,0.2" | --step 0.25] [--beam K] [--max_len N] \\
        [--batch_size B] [--limit N] [--data_dir D] --out weights.json

loads the members (:func:`tapjax.tap.read.runs.load_mixture`: each ``--checkpoint`` a run of any
family, then the language model saved by ``python -m tapjax.tap.nets.language_model``), decodes
``--split`` (default ``test2013``, CROHME 2013 test: the project's validation set, never a test
set) with each setting of ``--grid`` (settings separated by ``;``, one weight per member, in the
members' order) or, without it, of every setting on the simplex in steps of ``--step``
(:func:`simplex_grid`), and writes ``--out``: ``{"weights": the chosen setting, "members",
"split", "beam", "scores": [{"weights", "exprate", "wer"}, ...]}``, which
``python -m tapjax.evaluate --weights_file`` reads back (:func:`read_weights`). One JSON line of
the choice is printed. The weights are an input of the compiled search, so the grid costs one
compilation per batch shape, not one per setting.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Sequence

from tapjax.common.cli import InputError, run_cli
from tapjax.tap.ink import crohme
from tapjax.tap.read import decoding
from tapjax.tap.read.runs import Runs, load_mixture, load_split, override, with_weights

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
    """The ``"weights"`` of a file written by this command."""
    try:
        return tuple(float(w) for w in json.loads(Path(path).read_text())["weights"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(path, f"not a weights file of python -m tapjax.tap.read.mixture_weights ({error})") from None


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tapjax.tap.read.mixture_weights", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", default=[], metavar="DIR", required=True,
                        help="a trained run (TAP or WAP), one member each; repeat")
    parser.add_argument("--lm", default=None, metavar="DIR", help="a language model (python -m tapjax.tap.nets.language_model)")
    parser.add_argument("--split", default="test2013", choices=SPLITS)
    parser.add_argument("--grid", default=None, help="weight settings, e.g. '0.5,0.3,0.2;0.6,0.2,0.2'")
    parser.add_argument("--step", type=float, default=0.25, help="without --grid: every setting in these steps")
    parser.add_argument("--beam", type=int, default=None, help="beam width (default: the first run's eval.valid_beam)")
    parser.add_argument("--max_len", type=int, default=None, help="longest caption (default: the first run's eval.max_len)")
    parser.add_argument("--batch_size", type=int, default=None, help="expressions per batch (default: the run's)")
    parser.add_argument("--limit", type=int, default=0, help="tune on the first N expressions only")
    parser.add_argument("--data_dir", default=None, help="the data root (default: the run's data.root, $TAPJAX_DATA or ./data)")
    parser.add_argument("--out", required=True, metavar="FILE", help="where the chosen weights go (JSON)")
    return parser


def _main(argv: list[str] | None) -> None:
    args = _parser().parse_args(argv)
    members = len(args.checkpoint) + (args.lm is not None)
    grid = parse_grid(args.grid) if args.grid else simplex_grid(members, args.step)
    runs = load_mixture(args.checkpoint, args.lm, args.data_dir)
    override(runs, {name: getattr(args, name) for name in ("max_len", "batch_size")})
    beam = runs.config.eval.valid_beam if args.beam is None else args.beam
    split = load_split(runs, args.split, args.data_dir, args.limit)
    best, scores = tune(runs, split, grid, beam)
    record = {"weights": list(best), "members": [*args.checkpoint, *([args.lm] if args.lm else [])],
              "split": args.split, "n": len(split), "beam": beam, "scores": scores}
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: record[k] for k in ("weights", "split", "n", "beam")}))


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
