"""The TAP model shipped inside tapjax, and the command that ships one.

The package holds one trained model in ``tapjax/tap/weights/``: ``tap.npz``, its parameters in
float16 (one array per parameter path, restored to float32 when loaded), and ``tap.json``, the
run's config, the vocabulary's symbols and the model card's figures (``card``: the training run
and the shipped weights' scores). :func:`load` returns it as :class:`~tapjax.tap.runs.Runs`, so
:func:`tapjax.load_pretrained`, ``python -m tapjax.recognize FILE.inkml`` and
``python -m tapjax.evaluate --split test2014`` need no training run and no data root for the
vocabulary. ``docs/model_card.md`` describes the shipped model.

    python -m tapjax.tap.pretrained --checkpoint DIR --command "..." --machine "..." [--beam 10]

writes the pair from a training run's best checkpoint, then scores the written (float16)
weights on CROHME 2014 and 2016 test and on :data:`FIXED` (the first 50 expressions of 2014
test, which ``tests/test_pretrained.py`` reads again), and records those scores in the card.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import jax
import ml_collections
import numpy as np
from flax import traverse_util

from tapjax.common.cli import InputError, run_cli
from tapjax.tap import crohme
from tapjax.tap.model import TAP
from tapjax.tap import runs
from tapjax.tap.inputs import Points
from tapjax.tap.runs import Runs
from tapjax.tap.symbols import Vocab

PARAMS, META = "tap.npz", "tap.json"
FIXED = 50  # expressions of the card's fixed subset: the first of CROHME 2014 test, by key
SEP = "/"


def folder() -> Path:
    """Where the shipped model lives (``tapjax/tap/weights``, found with :mod:`importlib.resources`)."""
    return Path(str(importlib.resources.files("tapjax.tap") / "weights"))


def load(where: str | Path | None = None) -> Runs:
    """The shipped model (or the pair in folder ``where``), ready to decode."""
    where = Path(where) if where else folder()
    meta = read_meta(where)
    config = ml_collections.ConfigDict(meta["config"])
    model = TAP.from_config(config.model)
    params = _unflatten(where / PARAMS, jax.eval_shape(model.init, jax.random.key(0)))
    return Runs(model, params, config, Vocab(meta["vocab"]), Points(model.stride))


def load_config(workdirs: Sequence[str]) -> ml_collections.ConfigDict:
    """The config of the first run of ``workdirs``, or the shipped model's when there is none."""
    return runs.load_config(workdirs[0]) if workdirs else ml_collections.ConfigDict(read_meta(folder())["config"])


def load_runs(workdirs: Sequence[str], data_dir: str | None = None) -> Runs:
    """The runs ``workdirs`` (:func:`tapjax.tap.runs.load_runs`), or the shipped model when none is given."""
    return runs.load_runs(workdirs, data_dir) if workdirs else load()


def read_meta(where: Path) -> dict:
    """``tap.json`` of folder ``where``."""
    path = where / META
    if not path.is_file():
        raise InputError(where, f"no shipped model there ({META} is missing)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(path, f"unreadable ({error})") from None


def _unflatten(path: Path, like) -> Any:
    """The parameters saved at ``path``, as float32 in the tree and shapes of ``like``."""
    with np.load(path) as saved:
        arrays = dict(saved)
    wanted = traverse_util.flatten_dict(like, sep=SEP)
    if arrays.keys() != wanted.keys():
        differ = sorted(arrays.keys() ^ wanted.keys())
        raise InputError(path, f"parameters do not match the model of {META}: {', '.join(differ[:5])}")
    for name, leaf in wanted.items():
        if arrays[name].shape != leaf.shape:
            raise InputError(path, f"{name} has shape {arrays[name].shape}, the model needs {leaf.shape}")
    return traverse_util.unflatten_dict({k: jax.numpy.asarray(v, np.float32) for k, v in arrays.items()}, sep=SEP)


def export(workdir: str, out: Path, card: dict) -> None:
    """Writes the best checkpoint of run ``workdir`` to ``out/tap.npz`` (float16) and ``out/tap.json``."""
    run = runs.load_runs([workdir])
    config = run.config.to_dict()
    config["data"].update(root="", cache_dir="")  # this machine's paths mean nothing elsewhere
    out.mkdir(parents=True, exist_ok=True)
    flat = traverse_util.flatten_dict(jax.device_get(run.params), sep=SEP)
    np.savez_compressed(out / PARAMS, **{k: np.asarray(v, np.float16) for k, v in flat.items()})
    (out / META).write_text(json.dumps({"config": config, "vocab": run.vocab.symbols, "card": card}, indent=1))


def score_card(out: Path, beam: int, data_dir: str | None) -> dict:
    """Scores the written weights on CROHME 2014 and 2016 test and on the fixed subset (beam ``beam``)."""
    from tapjax.tap.evaluate import evaluate  # evaluate imports this module for its default model

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
    parser = argparse.ArgumentParser(prog="python -m tapjax.tap.pretrained", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, metavar="DIR", help="the training run to ship")
    parser.add_argument("--out", default=None, help="where to write the pair (default: the package's tapjax/tap/weights)")
    parser.add_argument("--command", required=True, help="the command that trained the run (for the card)")
    parser.add_argument("--machine", required=True, help="the machine it was trained on (for the card)")
    parser.add_argument("--beam", type=int, default=10, help="beam width of the card's scores")
    parser.add_argument("--data_dir", default=None, help="the data root (default: $TAPJAX_DATA or ./data)")
    return parser


def _main(argv: list[str] | None) -> None:
    args = _parser().parse_args(argv)
    out = Path(args.out) if args.out else folder()
    results = Path(args.checkpoint) / "results.json"
    training = json.loads(results.read_text()) if results.is_file() else {}
    card = {"command": args.command, "machine": args.machine,
            "training": {k: training[k] for k in ("train_seconds", "epochs", "steps", "best_valid_wer") if k in training}}
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
