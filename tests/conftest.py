"""Shared fixtures: the real data root (``$TAPJAX_DATA``; CI sets it to ../shared/data), one small trained run,
synthetic TAP batches."""

import contextlib
import fcntl
import json

import numpy as np
import pytest

from experiments.configs import crohme14
from tapjax.common.paths import data_root as _data_root
from tapjax.tap.fit import trainer
from tapjax.tap.read import runs


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
def shared_tmp(tmp_path_factory, worker_id):
    """A folder of this test session that every pytest-xdist worker sees (each worker's own
    temporary root is a subfolder of it; without workers, the session's root)."""
    root = tmp_path_factory.getbasetemp()
    return root if worker_id == "master" else root.parent


@contextlib.contextmanager
def _locked(path):
    """Holds an exclusive lock on the file ``path`` (one worker at a time)."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def overfit_run(data_root, shared_tmp):
    """``(workdir, results)`` of the ``overfit`` crohme14 run on 8 short real expressions, trained once per test
    session: by the first worker that needs it, the others wait for it and read its ``results.json``.

    The run fits its 8 training expressions exactly (greedy ExpRate 1.0); tests of the
    trained-model tools (evaluation, recognition) share its checkpoint.
    """
    workdir = shared_tmp / "overfit_run"
    with _locked(shared_tmp / "overfit_run.lock"):
        if not (workdir / "results.json").exists():
            _train_overfit_run(data_root, workdir)
    return workdir, json.loads((workdir / "results.json").read_text())


# The overfit run's changes to crohme14's ``overfit`` variant: 8 short expressions (a fast CI run), a small model.
OVERFIT_SETTINGS = {
    "data.train_limit": 8, "data.train_max_points": 200,
    "model.tracker_hidden": 32, "model.embed_dim": 32, "model.parser_hidden": 64, "model.attention_dim": 64,
    "model.coverage_filters": 16, "optim.learning_rate": 5e-3, "train.epochs": 150, "train.eval_every_epochs": 10,
}
# The same as command-line overrides (``--config.FIELD=VALUE``).
OVERFIT_OVERRIDES = [f"--config.{field}={value}" for field, value in OVERFIT_SETTINGS.items()]


def _train_overfit_run(data_root, workdir):
    config = crohme14.get_config("overfit")
    config.data.root = str(data_root)
    for field, value in OVERFIT_SETTINGS.items():
        block, name = field.split(".")
        config[block][name] = value
    trainer.train_and_evaluate(config, str(workdir))


@pytest.fixture(scope="session")
def overfit_expression(overfit_run, data_root):
    """``(InkML path, caption)`` of the first expression the overfit run trained on."""
    workdir, _ = overfit_run
    _, split, _ = trainer.load_data(runs.load_config(workdir))
    path = next((data_root / "crohme" / "TrainINKML").rglob(f"{split.keys[0]}.inkml"))
    return path, " ".join(split.tokens[0])


def _synthetic_batch(rng: np.random.Generator, B: int = 8, N: int = 16, T: int = 5, padding: int = 0) -> dict:
    """A batch shaped like tapjax.tap.ink.batching's, with unequal lengths per row (vocabulary of 11) and its last
    ``padding`` rows padding (no points, no tokens, index -1)."""
    n_points = rng.integers(4, N + 1, size=B) * (np.arange(B) < B - padding)
    n_tokens = rng.integers(1, T + 1, size=B) * (np.arange(B) < B - padding)
    feature_mask = (np.arange(N)[None] < n_points[:, None]).astype(np.float32)
    token_mask = (np.arange(T)[None] < n_tokens[:, None]).astype(np.float32)
    tokens = rng.integers(1, 11, size=(B, T)).astype(np.int32) * (np.arange(T)[None] < n_tokens[:, None] - 1)
    align = (rng.random((B, T, N)) < 0.2) * feature_mask[:, None, :] * (tokens[..., None] > 0)
    index = np.where(np.arange(B) < B - padding, np.arange(B), -1).astype(np.int32)
    return {"features": rng.normal(size=(B, N, 8)).astype(np.float32) * feature_mask[..., None],
            "feature_mask": feature_mask, "tokens": tokens.astype(np.int32), "token_mask": token_mask,
            "align": align.astype(np.uint8), "index": index}


@pytest.fixture(scope="session")
def synthetic_batch():
    """``synthetic_batch(rng, B=8, N=16, T=5, padding=0)``: a random TAP batch (tests of the loss and train step)."""
    return _synthetic_batch


@pytest.fixture
def tiny_crohme(tmp_path):
    """A data root of CROHME in miniature: a 6-symbol vocabulary, three train and two 2014 test
    captions, a 2013 test file and two 2016 test files (one with a symbol outside the vocabulary)."""
    tap = tmp_path / "crohme" / "tap"
    tap.mkdir(parents=True)
    (tap / "dictionary.txt").write_text("".join(f"{s}\t{i}\n" for i, s in enumerate("<eol> x + 1 = y".split())))
    (tap / "train_caption.txt").write_text("a\tx + 1\nb\ty = x\nc\tx\n")
    (tap / "test_caption.txt").write_text("d\tx + 1\ne\ty\n")
    for folder, name, truth in (("TestINKMLGT_2013", "f", "$y=1$"), ("TEST2016_INKML_GT", "g", "$x+1$"),
                                ("TEST2016_INKML_GT", "h", "$\\alpha$")):  # \alpha: not in the vocabulary
        (tmp_path / "crohme" / folder).mkdir(exist_ok=True)
        (tmp_path / "crohme" / folder / f"{name}.inkml").write_text(
            '<ink xmlns="http://www.w3.org/2003/InkML">'
            f'<annotation type="truth">{truth}</annotation><trace id="0">0 0, 1 1</trace></ink>')
    return tmp_path
