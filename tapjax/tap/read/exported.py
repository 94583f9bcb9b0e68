"""Exported models: one trained model in a folder of its own, the form in which tapjax ships one.

An exported model is a folder holding :data:`META` (``tap.json``: the run's config, the
vocabulary's symbols and the model card, ``card``) and :data:`PARAMS` (``tap.npz``: the
parameters in float16, one array per parameter path, its parts joined by :data:`SEP`).
:func:`export` writes one; :func:`read_meta` and :func:`read_params` read it back, the parameters
restored to float32. Wherever a run's workdir is asked for, an exported folder serves too
(:func:`tapjax.tap.read.runs.load_runs`). The package ships one in ``tapjax/tap/read/weights``
(:func:`shipped`, described by ``docs/model_card.md``): the model the commands read without
``--checkpoint`` and :func:`tapjax.load_pretrained` returns.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from tapjax.common.errors import InputError

PARAMS, META = "tap.npz", "tap.json"  # an exported model's parameters and its meta
SEP = "/"  # joins the parameter paths of PARAMS


def shipped() -> Path:
    """Where the shipped model lives (``tapjax/tap/read/weights``, found with :mod:`importlib.resources`)."""
    return Path(str(importlib.resources.files("tapjax.tap.read") / "weights"))


def exported(where: str | os.PathLike) -> bool:
    """Whether ``where`` is an exported model (a folder holding :data:`META`)."""
    return (Path(where) / META).is_file()


def export(run, out: Path, card: dict) -> None:
    """Writes the model of ``run`` (loaded :class:`~tapjax.tap.read.runs.Runs` of one model) to the
    folder ``out``: :data:`PARAMS` in float16 and :data:`META` with ``card``. The config's data
    paths are blanked: this machine's mean nothing elsewhere."""
    config = run.config.to_dict()
    config["data"].update(root="", cache_dir="")
    out.mkdir(parents=True, exist_ok=True)
    flat = traverse_util.flatten_dict(jax.device_get(run.params), sep=SEP)
    np.savez_compressed(out / PARAMS, **{k: np.asarray(v, np.float16) for k, v in flat.items()})
    (out / META).write_text(json.dumps({"config": config, "vocab": run.vocab.symbols, "card": card}, indent=1))


def write_card(where: str | os.PathLike, card: dict) -> None:
    """Replaces the model card of the exported model in folder ``where``."""
    (Path(where) / META).write_text(json.dumps({**read_meta(where), "card": card}, indent=1))


def read_meta(where: str | os.PathLike) -> dict:
    """:data:`META` of the exported model in folder ``where``."""
    path = Path(where) / META
    if not path.is_file():
        raise InputError(where, f"no exported model there ({META} is missing)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(path, f"unreadable ({error})") from None


def read_params(where: str | os.PathLike, like) -> Any:
    """The parameters of the exported model in folder ``where``, as float32 in the tree and shapes
    of ``like`` (e.g. ``jax.eval_shape`` of the model's init); any other tree is an :class:`InputError`."""
    path = Path(where) / PARAMS
    if not path.is_file():
        raise InputError(path, f"missing: {META} beside it has no parameters")
    with np.load(path) as saved:
        arrays = dict(saved)
    wanted = traverse_util.flatten_dict(like, sep=SEP)
    if arrays.keys() != wanted.keys():
        differ = sorted(arrays.keys() ^ wanted.keys())
        raise InputError(path, f"parameters do not match the model of {META}: {', '.join(differ[:5])}")
    for name, leaf in wanted.items():
        if arrays[name].shape != leaf.shape:
            raise InputError(path, f"{name} has shape {arrays[name].shape}, the model needs {leaf.shape}")
    return traverse_util.unflatten_dict({k: jnp.asarray(v, np.float32) for k, v in arrays.items()}, sep=SEP)
