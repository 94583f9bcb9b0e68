"""The crohme14 experiment: every config variant trains, and a small real run overfits 8 expressions
(the session's shared ``overfit_run`` fixture, tests/conftest.py)."""

import json

import jax
import numpy as np
import pytest

from experiments.configs import crohme14
from tapjax.tap import trainer
from tapjax.tap.model import TAP
from tapjax.common import sharding
from tapjax.common.optim import make_optimizer

TINY_SIZES = dict(tracker_hidden=4, embed_dim=4, parser_hidden=4, attention_dim=4, coverage_kernel=3,
                  coverage_filters=2, maxout_dim=4)


def _tiny_batch():
    rng = np.random.default_rng(0)
    return {"features": rng.normal(size=(2, 8, 8)).astype(np.float32), "feature_mask": np.ones((2, 8), np.float32),
            "tokens": np.array([[5, 0], [7, 0]], np.int32), "token_mask": np.ones((2, 2), np.float32),
            "align": np.ones((2, 2, 8), np.uint8) * np.array([1, 0], np.uint8)[None, :, None],
            "index": np.arange(2, dtype=np.int32)}


@pytest.mark.parametrize("variant", crohme14.VARIANTS)
def test_every_variant_builds_and_takes_a_step(variant):
    config = crohme14.get_config(variant)
    config.model.update(TINY_SIZES)
    model = TAP.from_config(config.model)
    assert model.config.temporal == (variant in ("paper", "cpu", "overfit"))
    assert model.config.coverage == (variant != "p1")
    mesh = sharding.data_mesh(jax.devices()[:1])
    tx = make_optimizer(config.optim)
    state = sharding.replicate(sharding.TrainState.create(model.init(jax.random.key(0)), tx), mesh)
    before = jax.device_get(state.params)
    step = sharding.make_train_step(trainer.make_loss_fn(model, config), tx, mesh)
    state, metrics = step(state, sharding.shard_batch(_tiny_batch(), mesh), jax.random.key(1))
    assert np.isfinite(metrics["loss"]) and (metrics["guider"] > 0) and int(state.step) == 1
    changed = [not np.allclose(a, b) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(state.params))]
    assert any(changed)


def test_unknown_variant_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown variant 'p9'"):
        crohme14.get_config("p9")


def test_overfits_eight_real_expressions(overfit_run):
    workdir, results = overfit_run
    assert results["train"]["n"] == 8
    assert results["train"]["exprate"] == 1.0
    assert json.loads((workdir / "results.json").read_text())["train"]["exprate"] == 1.0
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert {"train", "valid"} <= {line["split"] for line in lines}
    assert list((workdir / "tensorboard").iterdir())
