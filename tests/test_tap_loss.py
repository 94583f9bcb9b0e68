"""Eq. 29 loss and the data-parallel TAP train step (1 device vs 8)."""

import jax
import numpy as np
import optax

from tapjax.tap.attention import alignment_targets, guider_loss
from tapjax.tap.loss import tap_loss
from experiments.configs import crohme14
from tapjax.tap.model import TAP, TAPConfig
from tapjax.common import sharding

TINY = TAPConfig.from_config(crohme14.get_config("paper").model,  # the paper's, shrunk
                             vocab_size=11, tracker_hidden=6, embed_dim=5, parser_hidden=7, attention_dim=8,
                             coverage_kernel=5, coverage_filters=3, maxout_dim=6)


def synthetic_batch(rng, B=8, N=16, T=5):
    """A batch shaped like tapjax.tap.batching's, with unequal lengths per row."""
    n_points = rng.integers(4, N + 1, size=B)
    n_tokens = rng.integers(1, T + 1, size=B)
    feature_mask = (np.arange(N)[None] < n_points[:, None]).astype(np.float32)
    token_mask = (np.arange(T)[None] < n_tokens[:, None]).astype(np.float32)
    tokens = rng.integers(1, 11, size=(B, T)).astype(np.int32) * (np.arange(T)[None] < n_tokens[:, None] - 1)
    align = (rng.random((B, T, N)) < 0.2) * feature_mask[:, None, :] * (tokens[..., None] > 0)
    return {"features": rng.normal(size=(B, N, 8)).astype(np.float32) * feature_mask[..., None],
            "feature_mask": feature_mask, "tokens": tokens.astype(np.int32), "token_mask": token_mask,
            "align": align.astype(np.uint8), "index": np.arange(B, dtype=np.int32)}


def test_loss_is_cross_entropy_plus_weighted_guider():
    model = TAP(TINY)
    params = model.init(jax.random.key(0))
    batch = synthetic_batch(np.random.default_rng(0))
    loss, (weight, metrics) = tap_loss(model, params, batch, guider_weight=0.1)
    lp, alpha, a_mask = model.teacher_forced(params, batch["features"], batch["feature_mask"], batch["tokens"])
    lp, alpha, mask = map(np.asarray, (lp, alpha, batch["token_mask"]))
    nll = -sum(lp[b, t, batch["tokens"][b, t]] for b in range(8) for t in range(5) if mask[b, t])
    gamma = np.asarray(alignment_targets(batch["align"], a_mask, 4))
    G = -(gamma * np.log(alpha + 1e-10)).sum(-1)
    assert (gamma.sum(-1) > 0).any() and G.max() > 0
    np.testing.assert_allclose(metrics["nll"], nll, rtol=1e-5)
    np.testing.assert_allclose(loss, nll + 0.1 * (G * mask).sum(), rtol=1e-5)
    np.testing.assert_allclose(weight, mask.sum())
    loss0, _ = tap_loss(model, params, batch, guider_weight=0.0)
    np.testing.assert_allclose(loss0, nll, rtol=1e-5)


def _train(devices, steps=2):
    model = TAP(TINY)
    mesh = sharding.data_mesh(devices)
    tx = optax.chain(optax.clip_by_global_norm(100.0), optax.adadelta(1.0, rho=0.95, eps=1e-6))
    state = sharding.replicate(sharding.TrainState.create(model.init(jax.random.key(0)), tx), mesh)
    step = sharding.make_train_step(lambda p, b, r: tap_loss(model, p, b), tx, mesh)
    rng = np.random.default_rng(3)
    for _ in range(steps):
        state, metrics = step(state, sharding.shard_batch(synthetic_batch(rng), mesh), jax.random.key(0))
    return jax.device_get(state.params), jax.device_get(metrics)


def test_sharded_step_same_on_one_and_eight_devices():
    assert jax.device_count() == 8
    p1, m1 = _train(jax.devices()[:1])
    p8, m8 = _train(jax.devices())
    for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p8)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for k in ("loss", "nll", "guider", "correct"):
        np.testing.assert_allclose(m1[k], m8[k], rtol=1e-5)
