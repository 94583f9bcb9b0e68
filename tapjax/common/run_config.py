"""A run directory's config: ``workdir/config.json``, written when a run starts or resumes, and
compared with the new config before a run resumes.

A workdir remembers the config of its run. Resuming it with a config that differs in a field
that defines the run (the model, the data, the optimiser, ...) is refused before anything in
the workdir is touched, naming every such field: its dotted path, the run's value and the new
one. Each caller lists the fields that may change on resume (``may_change``: dotted paths,
an entry covering the fields under it, so ``"eval"`` covers ``eval.test_beam``); every other
field must match, so a field added to a config later defines the run until it is listed.
A field the stored config lacks or the new one lacks differs too, except a retired one
(``retired``: a field dropped from the config, stored with the one value the caller still runs)
and an added one (``added``: a field new to the config, whose given value is what the runs
saved before it did).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import ml_collections

from tapjax.common.cli import InputError

FILE = "config.json"
ABSENT = object()  # the value of a field a config lacks


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


def check_resume(workdir: str | os.PathLike, config: ml_collections.ConfigDict, may_change: Sequence[str],
                 hint: str = "use another --workdir", retired: Mapping[str, Any] | None = None,
                 added: Mapping[str, Any] | None = None) -> None:
    """Raises :class:`InputError` if ``workdir`` is not a folder, or holds a run whose config differs
    from ``config`` in a field outside ``may_change`` (``hint`` says what to do instead).

    ``retired`` maps fields that configs no longer have (dotted paths) to the one value this version
    runs: a stored field that ``config`` lacks and that holds that value is no difference (a run
    saved before the field was dropped resumes; its config.json is then rewritten without it).
    ``added`` maps fields new to the config to the value that does what runs saved before them did:
    a field the stored config lacks is no difference when ``config`` holds that value."""
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
    retired, added = retired or {}, added or {}
    fixed = [(p, a, b) for p, a, b in differences(stored, as_json(config)) if not _covered(p, may_change)
             and not (p in retired and b is ABSENT and a == retired[p])
             and not (p in added and a is ABSENT and b == added[p])]
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
