"""Shared fixtures: the real data root (``$TAPJAX_DATA``; CI sets it to ../shared/data)."""

import pytest

from tapjax.data.root import data_root as _data_root


@pytest.fixture(scope="session")
def data_root():
    """The data root; skips the test only if it holds no CROHME dataset."""
    root = _data_root()
    if not (root / "crohme").is_dir():
        pytest.skip(f"no CROHME data under {root.resolve()} (set TAPJAX_DATA)")
    return root


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh preprocessing cache for the test."""
    path = tmp_path / "cache"
    monkeypatch.setenv("TAPJAX_CACHE", str(path))
    return path
