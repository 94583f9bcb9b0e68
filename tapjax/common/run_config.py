"""A run directory's config: ``workdir/config.json``, written when a run starts or resumes, and
compared with the new config before a run resumes.

A workdir remembers the config of its run. Resuming it with a config that differs in a field
that defines the run (the model, the data, the optimiser, ...) is refused before anything in
the workdir is touched, naming every such field: its dotted path, the run's value and the new
one. Each caller lists the fields that may change on resume (``may_change``: dotted paths,
an entry covering the fields under it, so ``"eval"`` covers ``eval.test_beam``); every other
field must match, so a field added to a config later defines the run until it is listed.

Every experiment config states the version of its set of fields (``version``, :data:`VERSION`):
a run saved with configs of another version, whose fields this tapjax no longer reads the same
way, is refused (:func:`check_version`) rather than resumed or read under guessed values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import ml_collections

from tapjax.common.errors import InputError

FILE = "config.json"
ABSENT = object()  # the value of a field a config lacks
# The version of the experiment configs' set of fields: bumped when a field is added, dropped or
# changes meaning, so that runs saved before are refused instead of read under guessed values.
VERSION = 1


def as_json(config: ml_collections.ConfigDict) -> dict:
    """``config`` as it reads back from ``config.json`` (tuples as lists)."""
    return json.loads(config.to_json_best_effort())


def differences(old: dict, new: dict, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """``(dotted path, old value, new value)`` of every field whose value differs (:data:`ABSENT`
    where a side lacks it); blocks (dicts) are compared field by field."""
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key, ABSENT), new.get(key, ABSENT)
        if isinstance(a, dict) and isinstance(b, dict):
            yield from differences(a, b, f"{prefix}{key}.")
        elif a != b:
            yield f"{prefix}{key}", a, b


def _show(value: Any) -> str:
    return "absent" if value is ABSENT else json.dumps(value)


def _covered(path: str, may_change: Sequence[str]) -> bool:
    return any(path == entry or path.startswith(entry + ".") for entry in may_change)


def check_version(stored: Mapping[str, Any], where: str | os.PathLike, hint: str) -> None:
    """Raises :class:`InputError` (at ``where``, ``hint`` saying what to do instead) unless the run's
    config ``stored`` (as JSON) is of :data:`VERSION`."""
    found = stored.get("version", "absent")
    if found != VERSION:
        raise InputError(where, f"a run of config version {found}, but this tapjax reads config version "
                                f"{VERSION}; {hint}")


def check_resume(workdir: str | os.PathLike, config: ml_collections.ConfigDict, may_change: Sequence[str],
                 hint: str = "use another --workdir") -> None:
    """Raises :class:`InputError` if ``workdir`` is not a folder, or holds a run of another config
    version (:func:`check_version`) or whose config differs from ``config`` in a field outside
    ``may_change`` (``hint`` says what to do instead)."""
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise InputError(workdir, "not a directory (--workdir must be a run folder, new or to resume)")
    path = workdir / FILE
    if not path.is_file():
        return
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(path, f"unreadable ({error})") from None
    check_version(stored, path, hint)
    fixed = [(p, a, b) for p, a, b in differences(stored, as_json(config)) if not _covered(p, may_change)]
    if fixed:
        shown = ", ".join(f"{p} (run: {_show(a)}, now: {_show(b)})" for p, a, b in fixed)
        raise InputError(workdir, f"holds a run of another config, refusing to resume it: {shown}; {hint}")


def save(workdir: str | os.PathLike, config: ml_collections.ConfigDict) -> None:
    """Writes ``workdir/config.json`` (creating ``workdir``)."""
    workdir = Path(workdir)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / FILE).write_text(config.to_json_best_effort(indent=2))
    except OSError as error:
        raise InputError(workdir, f"cannot write the run's config ({error.strerror})") from None
