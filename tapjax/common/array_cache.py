"""On-disk cache of preprocessed arrays, keyed by the data and the settings.

A cache entry is one ``.npz`` file ``<cache dir>/<name>-<key>.npz``. The key
hashes the input files (relative path, size, mtime), the preprocessing
settings, and the source of the modules that produce the arrays, so a changed
file, setting or preprocessing code never reuses a stale entry. The cache dir
is ``$TAPJAX_CACHE`` if set, else ``~/.cache/tapjax``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

ENV_VAR = "TAPJAX_CACHE"


def cache_dir(flag: str | os.PathLike | None = None) -> Path:
    """``flag`` if given, else ``$TAPJAX_CACHE``, else ``~/.cache/tapjax``."""
    return Path(flag or os.environ.get(ENV_VAR) or "~/.cache/tapjax").expanduser()


def file_fingerprint(paths: Iterable[Path], root: Path) -> list[tuple[str, int, int]]:
    """``(path relative to root, size, mtime in ns)`` of each file."""
    out = []
    for path in paths:
        stat = path.stat()
        out.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return out


def cache_key(fingerprint, settings: dict, code_files: Iterable[Path] = ()) -> str:
    """A short hex digest of the data fingerprint, the settings and the code."""
    digest = hashlib.sha256(json.dumps([fingerprint, settings], sort_keys=True).encode())
    for path in code_files:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:20]


def load(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a cache entry, or None if there is none (or it is unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError):
        return None


def save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Writes a cache entry atomically (a concurrent reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache may be shared
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
