"""The TAP model shipped inside tapjax, and the command that ships one.

The package holds one trained model in ``tapjax/tap/read/weights/``, exported as
:mod:`tapjax.tap.read.runs` describes: ``tap.json`` (the config, the vocabulary's symbols and the
model card's figures, ``card``: the training run and the shipped weights' scores) beside
``tap.npz`` (the parameters in float16, restored to float32 when loaded). :func:`load` returns it
as :class:`~tapjax.tap.read.runs.Runs`, so :func:`tapjax.load_pretrained`,
``python -m tapjax.recognize FILE.inkml`` and ``python -m tapjax.evaluate --split test2014``
need no training run and no data root for the vocabulary. ``docs/model_card.md`` describes the
shipped model.

    python -m tapjax.tap.read.pretrained --checkpoint DIR --command "..." --machine "..." [--beam 10] [--out DIR]

writes the model of ``DIR`` (a training run's best checkpoint, or an exported model), then scores
the written (float16)
weights on CROHME 2014 and 2016 test and on :data:`FIXED` (the first 50 expressions of 2014
test, which ``tests/test_pretrained.py`` reads again), and records those scores in the card.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import sys
from pathlib import Path
from typing import Sequence

import jax
import ml_collections
import numpy as np
from flax import traverse_util

from tapjax.common.cli import run_cli
from tapjax.tap.ink import crohme
from tapjax.tap.read import runs
from tapjax.tap.read.runs import META, PARAMS, SEP, Runs, read_meta

FIXED = 50  # expressions of the card's fixed subset: the first of CROHME 2014 test, by key


def folder() -> Path:
    """Where the shipped model lives (``tapjax/tap/read/weights``, found with :mod:`importlib.resources`)."""
    return Path(str(importlib.resources.files("tapjax.tap.read") / "weights"))


def load(where: str | Path | None = None) -> Runs:
    """The shipped model (or the exported model in folder ``where``), ready to decode."""
    return runs.load_exported(where or folder())


def load_config(workdirs: Sequence[str]) -> ml_collections.ConfigDict:
    """The config of the first run of ``workdirs``, or the shipped model's when there is none."""
    return runs.load_config(workdirs[0] if workdirs else folder())


def load_runs(workdirs: Sequence[str], data_dir: str | None = None) -> Runs:
    """The runs ``workdirs`` (:func:`tapjax.tap.read.runs.load_runs`), or the shipped model when none is given."""
    return runs.load_runs(workdirs, data_dir) if workdirs else load()


def export(workdir: str, out: Path, card: dict) -> None:
    """Writes the model of run ``workdir`` (its best checkpoint; or an exported model) to ``out``:
    :data:`PARAMS` in float16 and :data:`META` with ``card``."""
    run = runs.load_runs([workdir])
    config = run.config.to_dict()
    config["data"].update(root="", cache_dir="")  # this machine's paths mean nothing elsewhere
    out.mkdir(parents=True, exist_ok=True)
    flat = traverse_util.flatten_dict(jax.device_get(run.params), sep=SEP)
    np.savez_compressed(out / PARAMS, **{k: np.asarray(v, np.float16) for k, v in flat.items()})
    (out / META).write_text(json.dumps({"config": config, "vocab": run.vocab.symbols, "card": card}, indent=1))


def _source_card(workdir: str) -> dict:
    """What the card keeps of the source: an exported model's card, or a training run's figures."""
    if runs.exported(workdir):
        return read_meta(workdir).get("card", {})
    results = Path(workdir) / "results.json"
    training = json.loads(results.read_text()) if results.is_file() else {}
    return {"training": {k: training[k] for k in ("train_seconds", "epochs", "steps", "best_valid_wer") if k in training}}


def score_card(out: Path, beam: int, data_dir: str | None) -> dict:
    """Scores the written weights on CROHME 2014 and 2016 test and on the fixed subset (beam ``beam``)."""
    from tapjax.tap.read.evaluate import evaluate  # evaluate imports this module for its default model

    shipped = load(out)
    settings = crohme.preprocessing(shipped.config.data)
    scores = {}
    for name in ("test2014", "test2016"):
        split = crohme.load_split(name, data_dir, None, settings)
        scores[name] = _figures(evaluate(shipped, split, beam)[0])
        if name == "test2014":
            fixed = split.take(np.argsort(split.keys)[:FIXED])
            scores["fixed50"] = {**_figures(evaluate(shipped, fixed, beam)[0]), "keys": list(fixed.keys)}
    return scores


def _figures(summary: dict) -> dict:
    return {k: summary[k] for k in ("n", "exprate", "wer", "le1", "le2", "le3", "beam")}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tapjax.tap.read.pretrained", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, metavar="DIR", help="the training run (or exported model) to ship")
    parser.add_argument("--out", default=None, help="where to write the model (default: the package's tapjax/tap/read/weights)")
    parser.add_argument("--command", required=True, help="the command that trained the run (for the card)")
    parser.add_argument("--machine", required=True, help="the machine it was trained on (for the card)")
    parser.add_argument("--beam", type=int, default=10, help="beam width of the card's scores")
    parser.add_argument("--data_dir", default=None, help="the data root (default: $TAPJAX_DATA or ./data)")
    return parser


def _main(argv: list[str] | None) -> None:
    args = _parser().parse_args(argv)
    out = Path(args.out) if args.out else folder()
    card = {**_source_card(args.checkpoint), "command": args.command, "machine": args.machine}
    export(args.checkpoint, out, card)
    card["scores"] = score_card(out, args.beam, args.data_dir)
    meta = read_meta(out)
    (out / META).write_text(json.dumps({**meta, "card": card}, indent=1))
    print(json.dumps(card))


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
