"""``tapjax export``: a trained run written as an exported model, the form in which tapjax ships one.

    tapjax export --checkpoint DIR --command "..." --machine "..." [--beam 10] [--out DIR] [--data_dir D] [--json]

writes the model of ``DIR`` (a training run's best checkpoint, or an exported model) to ``--out``
(default: the package's ``tapjax/tap/read/weights``, the shipped model;
:mod:`tapjax.tap.read.exported`), then scores the written (float16) weights on CROHME 2014 and
2016 test and on the fixed subset of 2014 test (:func:`tapjax.tap.read.evaluation.card_scores`)
and records those scores in the model card, beside the training run's figures (or the exported
model's card), the command that trained it and the machine it ran on. Prints the scores
(``--json``: the card).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tapjax.cli import contract
from tapjax.tap.read import exported
from tapjax.tap.read.evaluation import card_scores
from tapjax.tap.read.runs import load_exported, load_runs

TRAINING = ("train_seconds", "epochs", "steps", "best_valid_wer")  # what the card keeps of a run's results.json


def parser() -> argparse.ArgumentParser:
    flags = contract.parser("tapjax export", __doc__)
    flags.add_argument("--checkpoint", required=True, metavar="DIR", help="the training run (or exported model)")
    flags.add_argument("--out", default=None, metavar="DIR",
                       help="where to write the model (default: the package's tapjax/tap/read/weights)")
    flags.add_argument("--command", required=True, help="the command that trained the run (for the card)")
    flags.add_argument("--machine", required=True, help="the machine it was trained on (for the card)")
    flags.add_argument("--beam", type=int, default=10, help="beam width of the card's scores")
    return flags


def ship(args: argparse.Namespace) -> contract.Result:
    """Writes the model, scores the written weights and records the scores in its card."""
    out = Path(args.out) if args.out else exported.shipped()
    card = {**source_card(args.checkpoint), "command": args.command, "machine": args.machine}
    exported.export(load_runs([args.checkpoint], args.data_dir), out, card)
    card["scores"] = card_scores(load_exported(out), args.beam, args.data_dir)
    exported.write_card(out, card)
    lines = [f"{name}: ExpRate {100 * s['exprate']:.2f} %, WER {100 * s['wer']:.2f} % (n={s['n']}, beam {s['beam']})"
             for name, s in card["scores"].items()]
    return contract.Result(card, "\n".join([f"wrote {out}", *lines]))


def source_card(workdir: str) -> dict:
    """What the card keeps of the source: an exported model's card, or a training run's figures."""
    if exported.exported(workdir):
        return exported.read_meta(workdir).get("card", {})
    results = Path(workdir) / "results.json"
    training = json.loads(results.read_text()) if results.is_file() else {}
    return {"training": {k: training[k] for k in TRAINING if k in training}}


def main(argv: list[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    return contract.run(parser(), ship, argv)


if __name__ == "__main__":
    sys.exit(main())
