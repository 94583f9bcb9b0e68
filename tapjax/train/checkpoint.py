"""Checkpoints with orbax: the latest and the best, saved atomically, resumable exactly.

A checkpoint holds the train state, the position in the data (``epoch``, ``step_in_epoch``),
the base random key and the early-stopping record (``best_wer``, ``bad_epochs``). Orbax
writes each checkpoint to a temporary folder and renames it when complete, so a run killed
mid-save resumes from the previous checkpoint. Since the data order is a function of
``(seed, epoch)`` and every step's randomness of ``(rng, step)``, restoring the latest
checkpoint reproduces the next step exactly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

KINDS = ("latest", "best")


class Checkpoints:
    """``workdir/checkpoints/{latest,best}``, one checkpoint kept in each."""

    def __init__(self, workdir: str | os.PathLike):
        root = Path(workdir).absolute() / "checkpoints"
        options = ocp.CheckpointManagerOptions(max_to_keep=1, enable_async_checkpointing=False)
        self.managers = {k: ocp.CheckpointManager(root / k, options=options) for k in KINDS}

    def save(self, kind: str, step: int, record: dict[str, Any]) -> None:
        """Saves ``record`` (a pytree: state, counters, ``rng`` as a key array) as ``kind``."""
        record = dict(record, rng=jax.random.key_data(record["rng"]))
        self.managers[kind].save(int(step), args=ocp.args.StandardSave(record), force=True)
        self.managers[kind].wait_until_finished()

    def latest_step(self, kind: str = "latest") -> int | None:
        return self.managers[kind].latest_step()

    def restore(self, kind: str, like: dict[str, Any]) -> dict[str, Any] | None:
        """The newest ``kind`` checkpoint shaped like ``like`` (same tree, shardings), or None."""
        step = self.latest_step(kind)
        if step is None:
            return None
        target = dict(like, rng=jax.random.key_data(like["rng"]))
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        record = self.managers[kind].restore(step, args=ocp.args.StandardRestore(abstract))
        return dict(record, rng=jax.random.wrap_key_data(np.asarray(record["rng"])))

    def close(self) -> None:
        for m in self.managers.values():
            m.close()
