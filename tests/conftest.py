"""Shared fixtures: the real data root (``$TAPJAX_DATA``; CI sets it to ../shared/data), one small trained run."""

import pytest

from experiments.configs import crohme14
from tapjax.common.paths import data_root as _data_root
from tapjax.tap import trainer


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


@pytest.fixture(scope="session")
def overfit_run(data_root, tmp_path_factory):
    """``(workdir, results)`` of the ``overfit`` crohme14 run on 8 short real expressions, trained once per session.

    The run fits its 8 training expressions exactly (greedy ExpRate 1.0); tests of the
    trained-model tools (evaluation, recognition) share its checkpoint.
    """
    config = crohme14.get_config("overfit")
    config.data.root = str(data_root)
    config.data.update(train_limit=8, train_max_points=200)  # short ones: a fast CI run
    config.model.update(tracker_hidden=32, embed_dim=32, parser_hidden=64, attention_dim=64, coverage_filters=16)
    config.optim.learning_rate = 5e-3
    config.train.update(epochs=150, eval_every_epochs=10)
    workdir = tmp_path_factory.mktemp("overfit_run")
    return workdir, trainer.train_and_evaluate(config, str(workdir))
