"""Checkpoints with orbax: numbered series of pytrees, saved atomically, restored exactly.

:class:`Series` is one folder of numbered checkpoints of one pytree (an AL run keeps one
per strategy, numbered by round). :class:`Checkpoints` is what a training run keeps:
``workdir/checkpoints/{latest,best}``, one checkpoint in each, holding the train state,
the position in the data (``epoch``, ``step_in_epoch``), the base random key and the
early-stopping record (``best_wer``, ``bad_epochs``). Orbax writes each checkpoint to a
temporary folder and renames it when complete, so a run killed mid-save resumes from the
previous checkpoint. Since the data order is a function of ``(seed, epoch)`` and every
step's randomness of ``(rng, step)``, restoring the latest checkpoint reproduces the next
step exactly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
import orbax.checkpoint as ocp

KINDS = ("latest", "best")


def abstract(make: Callable[[], Any], sharding: jax.sharding.Sharding) -> Any:
    """The tree ``make()`` returns, as ``jax.ShapeDtypeStruct`` leaves placed with ``sharding``: what
    to restore a checkpoint into, computed with ``jax.eval_shape`` (initialising a model for real
    only to learn its shapes takes long on a CPU)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), jax.eval_shape(make))


class Series:
    """Numbered checkpoints of one pytree in ``directory`` (``max_to_keep``: None keeps all)."""

    def __init__(self, directory: str | os.PathLike, max_to_keep: int | None = None):
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=False)
        self.manager = ocp.CheckpointManager(Path(directory).absolute(), options=options)

    def save(self, step: int, tree: Any) -> None:
        """Saves ``tree`` as checkpoint ``step`` (replacing one of that number) and waits for it."""
        self.manager.save(int(step), args=ocp.args.StandardSave(tree), force=True)
        self.manager.wait_until_finished()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def restore(self, like: Any, step: int | None = None) -> Any | None:
        """Checkpoint ``step`` (default: the newest) shaped like ``like`` (arrays or
        ``jax.ShapeDtypeStruct`` leaves: the same tree, dtypes and shardings), or None if there is none."""
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def close(self) -> None:
        self.manager.close()


class Checkpoints:
    """``workdir/checkpoints/{latest,best}``, one checkpoint kept in each."""

    def __init__(self, workdir: str | os.PathLike):
        root = Path(workdir) / "checkpoints"
        self.series = {k: Series(root / k, max_to_keep=1) for k in KINDS}

    def save(self, kind: str, step: int, record: dict[str, Any]) -> None:
        """Saves ``record`` (a pytree: state, counters, ``rng`` as a key array) as ``kind``."""
        self.series[kind].save(step, dict(record, rng=jax.random.key_data(record["rng"])))

    def latest_step(self, kind: str = "latest") -> int | None:
        return self.series[kind].latest_step()

    def restore(self, kind: str, like: dict[str, Any]) -> dict[str, Any] | None:
        """The newest ``kind`` checkpoint shaped like ``like`` (same tree, shardings), or None."""
        record = self.series[kind].restore(dict(like, rng=jax.random.key_data(like["rng"])))
        if record is None:
            return None
        return dict(record, rng=jax.random.wrap_key_data(np.asarray(record["rng"])))

    def close(self) -> None:
        for s in self.series.values():
            s.close()
