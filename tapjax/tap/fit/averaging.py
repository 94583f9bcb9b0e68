"""Checkpoint averaging: the mean of the weights a run had at its last few validations.

Not in the TAP paper (the authors anneal with weight noise instead).
With ``train.average_last = K > 0`` the trainer keeps the parameters of its last ``K``
validations as a series of their own (``checkpoints/epochs``, only the parameters), and after
training scores their element-wise mean on the validation set; the mean becomes the run's best
checkpoint if it validates no worse than the best single one, so testing, ``evaluate`` and the
shipped model use it like any best checkpoint (selection stays on the validation set).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import ml_collections

from tapjax.common.checkpoint import Series

FOLDER = "epochs"


def average_last(config: ml_collections.ConfigDict) -> int:
    """``train.average_last`` (0: off)."""
    return int(config.train.average_last)


def series(workdir: str | Path, config: ml_collections.ConfigDict) -> Series | None:
    """The run's series of validated parameters (the last ``average_last`` kept), or None when off."""
    keep = average_last(config)
    return Series(Path(workdir) / "checkpoints" / FOLDER, max_to_keep=keep) if keep else None


def remember(kept: Series | None, step: int, params: Any) -> None:
    """Adds the parameters validated at ``step`` to the series (nothing when averaging is off)."""
    if kept is not None:
        kept.save(step, {"params": params})


def average(kept: Series, like: Any) -> tuple[Any, int]:
    """The mean of the kept parameters (restored shaped like ``like``) and how many were averaged."""
    steps = kept.steps()
    trees = [kept.restore({"params": like}, step)["params"] for step in steps]
    return jax.tree.map(lambda *leaves: sum(leaves) / len(leaves), *trees), len(trees)
