"""Orbax checkpoints: restoring the latest gives the identical next loss; best kept apart."""

import functools
import math

import jax
import numpy as np
import optax

from tapjax.tap.loss import tap_loss
from experiments.configs import crohme14
from tapjax.tap.model import TAP, TAPConfig
from tapjax.common import sharding
from tapjax.common.checkpoint import Checkpoints
from tapjax.tap.weight_noise import weight_noise

TINY = TAPConfig.from_config(crohme14.get_config("paper").model,  # the paper's, shrunk
                             vocab_size=11, tracker_hidden=4, embed_dim=4, parser_hidden=5, attention_dim=6,
                             coverage_kernel=3, coverage_filters=2, maxout_dim=4)


def _batch(seed):
    rng = np.random.default_rng(seed)
    mask = np.ones((2, 8), np.float32)
    mask[1, 5:] = 0
    tokens = rng.integers(1, 11, size=(2, 3)).astype(np.int32)
    return {"features": rng.normal(size=(2, 8, 8)).astype(np.float32), "feature_mask": mask,
            "tokens": tokens, "token_mask": np.ones((2, 3), np.float32),
            "align": (rng.random((2, 3, 8)) < 0.3).astype(np.uint8), "index": np.arange(2, dtype=np.int32)}


@functools.cache
def _compiled():
    model, tx = TAP(TINY), optax.adadelta(1.0, rho=0.95, eps=1e-6)
    mesh = sharding.data_mesh(jax.devices()[:1])
    # weight noise makes the step depend on the rng too, so a wrong rng restore shows up
    step = sharding.make_train_step(lambda p, b, r: tap_loss(model, weight_noise(p, r, 0.01), b), tx, mesh)
    return model, tx, mesh, step


def _setup():
    model, tx, mesh, step = _compiled()
    state = sharding.replicate(sharding.TrainState.create(model.init(jax.random.key(0)), tx), mesh)
    record = {"state": state, "epoch": 0, "step_in_epoch": 0, "rng": jax.random.key(7), "best_wer": math.inf,
              "bad_epochs": 0, "train_seconds": 0.0}
    return mesh, step, record


def _advance(record, step, mesh, seed):
    rng = jax.random.fold_in(record["rng"], record["state"].step)
    state, metrics = step(record["state"], sharding.shard_batch(_batch(seed), mesh), rng)
    return dict(record, state=state, step_in_epoch=record["step_in_epoch"] + 1), float(metrics["loss"])


def test_restore_gives_identical_next_loss(tmp_path):
    mesh, step, record = _setup()
    for seed in range(2):
        record, _ = _advance(record, step, mesh, seed)
    ckpt = Checkpoints(tmp_path)
    ckpt.save("latest", 2, dict(record, epoch=3, best_wer=0.5))
    expected_record, expected = _advance(record, step, mesh, 2)
    _, fresh_step, fresh = _setup()  # a new process would start from fresh parameters
    restored = Checkpoints(tmp_path).restore("latest", fresh)
    assert int(restored["epoch"]) == 3 and int(restored["step_in_epoch"]) == 2
    assert float(restored["best_wer"]) == 0.5 and int(restored["state"].step) == 2
    _, loss = _advance(restored, fresh_step, mesh, 2)
    assert loss == expected
    assert Checkpoints(tmp_path).restore("best", fresh) is None


def test_latest_and_best_are_separate(tmp_path):
    mesh, step, record = _setup()
    ckpt = Checkpoints(tmp_path)
    ckpt.save("best", 0, record)
    record, _ = _advance(record, step, mesh, 0)
    ckpt.save("latest", 1, record)
    assert ckpt.latest_step("best") == 0 and ckpt.latest_step("latest") == 1
    best = ckpt.restore("best", record)
    init = jax.tree.leaves(_setup()[2]["state"].params)
    for a, b in zip(jax.tree.leaves(best["state"].params), init):
        np.testing.assert_array_equal(a, b)
