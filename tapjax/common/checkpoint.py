"""Checkpoints with orbax: numbered series of pytrees, saved atomically, restored exactly and verified.

:class:`Series` is one folder of numbered checkpoints of one pytree (an AL run keeps one per
strategy, numbered by round). :class:`Checkpoints` is a training run's
``workdir/checkpoints/{latest,best}``: the train state, the position in the data (``epoch``,
``step_in_epoch``), the base random key and the early-stopping record. Orbax writes to a
temporary folder and renames it when complete, so a run killed mid-save resumes from the previous
checkpoint; since the data order depends on ``(seed, epoch)`` and each step's randomness on
``(rng, step)``, the latest checkpoint reproduces the next step exactly.

Each checkpoint ``<folder>/<step>`` holds the tree (``default``) and its ``digest`` (the SHA-256
of every leaf, by path), written in the same atomic step, because orbax does not notice changed
array bytes. A restore checks the digest (a checkpoint without one restores unverified); one
that cannot be read or does not match raises :class:`CorruptCheckpointError`, one holding
another tree :class:`CheckpointMismatchError`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import numpy as np
import orbax.checkpoint as ocp

from tapjax.common.errors import InputError, warn

KINDS = ("latest", "best")
TREE, DIGEST = "default", "digest"  # the items of a checkpoint (TREE: orbax's name for a lone item)


class CorruptCheckpointError(InputError):
    """A checkpoint that cannot be read, or whose arrays do not match its digest."""


class CheckpointMismatchError(ValueError):
    """A checkpoint of another tree than the one asked for (e.g. a run of another model)."""


def abstract(make: Callable[[], Any], sharding: jax.sharding.Sharding) -> Any:
    """The tree ``make()`` returns, as ``jax.ShapeDtypeStruct`` leaves placed with ``sharding``: what
    to restore a checkpoint into, computed with ``jax.eval_shape`` (initialising a model for real
    only to learn its shapes takes long on a CPU)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), jax.eval_shape(make))


def _path_name(path) -> str:
    """A leaf's key path as ``a/b/0/c``, the same for a tree and for orbax's metadata of it."""
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def _shapes(tree: Any) -> dict[str, tuple[int, ...]]:
    return {_path_name(p): tuple(np.shape(x) if not hasattr(x, "shape") else x.shape)
            for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _leaf_digest(x: Any) -> str:
    """SHA-256 of an array's dtype, shape and bytes; of a scalar's value (orbax may give back a
    Python number for a NumPy one)."""
    a = np.asarray(x)
    if a.ndim == 0:
        return hashlib.sha256(repr(a.item()).encode()).hexdigest()
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def digest(tree: Any) -> dict[str, str]:
    """The digest of every leaf of ``tree``, keyed by its path."""
    return {_path_name(p): _leaf_digest(x) for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _problem(error: BaseException) -> str:
    """The first line of the innermost cause of an orbax error (TensorStore specs left out)."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip()
    line = text.splitlines()[0].split(" [tensorstore_spec")[0] if text else ""
    return f"{type(error).__name__}: {line}" if line else type(error).__name__


_previous_unraisablehook = sys.unraisablehook


def _drop_abandoned_read_reports(args) -> None:
    """``sys.unraisablehook`` from the first restore on: see :func:`_quiet_abandoned_reads`."""
    closed_loop = isinstance(args.exc_value, RuntimeError) and "Event loop is closed" in str(args.exc_value)
    in_orbax = any("orbax" in frame.filename for frame in traceback.extract_tb(args.exc_traceback))
    if not (closed_loop or in_orbax):
        _previous_unraisablehook(args)


class _AbandonedReads(logging.Filter):
    """Drops asyncio's "... exception was never retrieved" reports (of orbax's abandoned reads)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "exception was never retrieved" not in record.getMessage()


def _quiet_abandoned_reads() -> None:
    """Silences the aftermath of a failed orbax restore (installed once, before the first read):
    its other array reads are abandoned, and as they finish, or are collected, each reports its
    own failure (asyncio's log, or an unraisable exception raised in orbax) or that its event loop
    is closed (an unraisable exception), a traceback apiece, whereas the failure itself is reported
    once, as a :class:`CorruptCheckpointError`."""
    global _previous_unraisablehook
    if sys.unraisablehook is not _drop_abandoned_read_reports:
        _previous_unraisablehook = sys.unraisablehook
        sys.unraisablehook = _drop_abandoned_read_reports
        logging.getLogger("asyncio").addFilter(_AbandonedReads())


class Series:
    """Numbered checkpoints of one pytree in ``directory`` (``max_to_keep``: None keeps all)."""

    def __init__(self, directory: str | os.PathLike, max_to_keep: int | None = None):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=False)
        handlers = {TREE: ocp.StandardCheckpointHandler(), DIGEST: ocp.JsonCheckpointHandler()}
        self.manager = ocp.CheckpointManager(self.directory, options=options, item_handlers=handlers)

    def save(self, step: int, tree: Any) -> None:
        """Saves ``tree`` and its digest as checkpoint ``step`` (replacing one of that number) and waits for it."""
        args = ocp.args.Composite(**{TREE: ocp.args.StandardSave(tree), DIGEST: ocp.args.JsonSave(digest(tree))})
        if int(step) in self.manager.all_steps():  # e.g. a corrupt one, trained again
            self.manager.delete(int(step))
        self.manager.save(int(step), args=args, force=True)
        self.manager.wait_until_finished()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def restore(self, like: Any, step: int | None = None) -> Any | None:
        """Checkpoint ``step`` (default: the newest) shaped like ``like`` (arrays or
        ``jax.ShapeDtypeStruct`` leaves: the same tree, dtypes and shardings), verified against its
        digest; None if there is none. Raises :class:`CorruptCheckpointError` or
        :class:`CheckpointMismatchError` (module docstring)."""
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        folder = self.directory / str(step)
        items = self._read(folder, lambda: self.manager.item_metadata(step))
        self._check_shapes(folder, like, items[TREE])
        args = {TREE: ocp.args.StandardRestore(jax.tree.map(ocp.utils.to_shape_dtype_struct, like))}
        if DIGEST in items:
            args[DIGEST] = ocp.args.JsonRestore()
        restored = self._read(folder, lambda: self.manager.restore(step, args=ocp.args.Composite(**args)))
        if DIGEST in restored:
            self._verify(folder, restored[TREE], restored[DIGEST])
        return restored[TREE]

    @staticmethod
    def _read(folder: Path, read: Callable[[], Any]) -> Any:
        """``read()``; any error of it is a :class:`CorruptCheckpointError` of ``folder``."""
        _quiet_abandoned_reads()  # before: the abandoned reads may finish before the error reaches us
        try:
            return read()
        except Exception as error:  # orbax and TensorStore raise many types, plain Exception among them
            raise CorruptCheckpointError(folder, f"unreadable ({_problem(error)})") from None

    @staticmethod
    def _check_shapes(folder: Path, like: Any, metadata: Any) -> None:
        if metadata is None:
            raise CorruptCheckpointError(folder, "unreadable (no metadata of its tree)")
        want, stored = _shapes(like), _shapes(metadata)
        differ = sorted(k for k in want.keys() | stored.keys() if want.get(k) != stored.get(k))
        if differ:
            shown = ", ".join(f"{k} ({stored.get(k, 'absent')} stored, {want.get(k, 'absent')} expected)"
                              for k in differ[:3])
            raise CheckpointMismatchError(f"{folder}: holds another tree: {len(differ)} leaves differ: {shown}")

    @staticmethod
    def _verify(folder: Path, tree: Any, expected: dict[str, str]) -> None:
        found = digest(tree)
        differ = sorted(k for k in found if found[k] != expected.get(k))
        if differ:
            raise CorruptCheckpointError(folder, f"{len(differ)} of {len(found)} arrays do not match the "
                                                 f"checkpoint's digest (changed bytes): {', '.join(differ[:3])}")

    def close(self) -> None:
        self.manager.close()


class Checkpoints:
    """``workdir/checkpoints/{latest,best}``, one checkpoint kept in each."""

    def __init__(self, workdir: str | os.PathLike):
        self.root = Path(workdir) / "checkpoints"
        self.series = {k: Series(self.root / k, max_to_keep=1) for k in KINDS}

    def save(self, kind: str, step: int, record: dict[str, Any]) -> None:
        """Saves ``record`` (a pytree: state, counters, ``rng`` as a key array) as ``kind``."""
        self.series[kind].save(step, dict(record, rng=jax.random.key_data(record["rng"])))

    def latest_step(self, kind: str = "latest") -> int | None:
        return self.series[kind].latest_step()

    def restore(self, kind: str, like: dict[str, Any]) -> dict[str, Any] | None:
        """The newest ``kind`` checkpoint shaped like ``like`` (same tree, shardings), or None;
        raises as :meth:`Series.restore`."""
        record = self.series[kind].restore(dict(like, rng=jax.random.key_data(like["rng"])))
        if record is None:
            return None
        return dict(record, rng=jax.random.wrap_key_data(np.asarray(record["rng"])))

    def restore_first(self, kinds: Sequence[str], like: dict[str, Any]) -> dict[str, Any] | None:
        """The first sound checkpoint of ``kinds`` (in that order), restored as :meth:`restore`; None if
        none of them holds a checkpoint. A corrupt one is passed over with a warning naming it; if every
        one there is corrupt, raises :class:`CorruptCheckpointError` naming each."""
        corrupt = []
        for kind in kinds:
            try:
                record = self.restore(kind, like)
            except CorruptCheckpointError as error:
                corrupt.append(error)
                continue
            if record is not None:
                for error in corrupt:
                    warn(f"{error}; using checkpoints/{kind} (step {self.latest_step(kind)}) instead")
                return record
        if corrupt:
            raise CorruptCheckpointError(self.root, "no sound checkpoint: " + "; ".join(map(str, corrupt)))
        return None

    def close(self) -> None:
        for s in self.series.values():
            s.close()
