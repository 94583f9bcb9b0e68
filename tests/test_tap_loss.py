"""Eq. 29 loss, its average over a batch's expressions (the authors') or tokens, and the data-parallel
TAP train step (1 device vs 8)."""

import dataclasses

import jax
import numpy as np
import optax
import pytest

from experiments.configs import crohme14
from tapjax.common import sharding
from tapjax.tap.nets.attention import alignment_targets
from tapjax.tap.nets.loss import tap_loss
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.model_config import TAPConfig

TINY = TAPConfig.from_config(crohme14.get_config("paper").model,  # the paper's, shrunk
                             vocab_size=11, tracker_hidden=6, embed_dim=5, parser_hidden=7, attention_dim=8,
                             coverage_kernel=5, coverage_filters=3, maxout_dim=6)


def _per_expression(model, params, batch, guider_weight=0.1) -> np.ndarray:
    """Eq. 29 of each row, by hand from the model's outputs."""
    lp, alpha, a_mask = model.teacher_forced(params, batch["features"], batch["feature_mask"], batch["tokens"])
    lp, alpha, mask = map(np.asarray, (lp, alpha, batch["token_mask"]))
    B, T = mask.shape
    nll = np.array([-sum(lp[b, t, batch["tokens"][b, t]] for t in range(T) if mask[b, t]) for b in range(B)])
    gamma = np.asarray(alignment_targets(batch["align"], a_mask, 4))
    G = -(gamma * np.log(alpha + 1e-10)).sum(-1)
    assert (gamma.sum(-1) > 0).any() and G.max() > 0
    return nll, nll + guider_weight * (G * mask).sum(-1)


def test_loss_is_cross_entropy_plus_weighted_guider(synthetic_batch):
    model = TAP(TINY)
    params = model.init(jax.random.key(0))
    batch = synthetic_batch(np.random.default_rng(0))
    loss, (weight, metrics) = tap_loss(model, params, batch, guider_weight=0.1)
    nll, per_expression = _per_expression(model, params, batch)
    np.testing.assert_allclose(metrics["nll"], nll.sum(), rtol=1e-5)
    np.testing.assert_allclose(loss, per_expression.sum(), rtol=1e-5)
    np.testing.assert_allclose(metrics["tokens"], batch["token_mask"].sum())
    loss0, _ = tap_loss(model, params, batch, guider_weight=0.0)
    np.testing.assert_allclose(loss0, nll.sum(), rtol=1e-5)


def test_label_smoothing_mixes_the_uniform_target_in_and_logs_the_plain_nll(synthetic_batch):
    model = TAP(TINY)
    params = model.init(jax.random.key(0))
    batch = synthetic_batch(np.random.default_rng(1))
    loss, (_, metrics) = tap_loss(model, params, batch, guider_weight=0.0, label_smoothing=0.2)
    lp = np.asarray(model.teacher_forced(params, batch["features"], batch["feature_mask"], batch["tokens"])[0])
    mask, tokens = batch["token_mask"], batch["tokens"]
    target = np.take_along_axis(lp, tokens[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(loss, -((0.8 * target + 0.2 * lp.mean(-1)) * mask).sum(), rtol=1e-5)
    np.testing.assert_allclose(metrics["nll"], -(target * mask).sum(), rtol=1e-5)
    assert float(loss) != pytest.approx(float(metrics["nll"]), rel=1e-3)


def test_the_batch_averages_over_its_expressions_or_tokens_never_its_padding(synthetic_batch):
    batch = synthetic_batch(np.random.default_rng(1), padding=3)
    model = TAP(TINY)
    params = model.init(jax.random.key(0))
    for average, count in (("expressions", 5), ("tokens", batch["token_mask"].sum())):
        assert tap_loss(model, params, batch, average=average)[1][0] == count
    with pytest.raises(ValueError, match="average must be one of"):
        tap_loss(model, params, batch, average="rows")


def _train(batches, devices):
    model = TAP(TINY)
    mesh = sharding.data_mesh(devices)
    tx = optax.chain(optax.clip_by_global_norm(1000.0), optax.adadelta(1.0, rho=0.95, eps=1e-8))
    state = sharding.replicate(sharding.TrainState.create(model.init(jax.random.key(0)), tx), mesh)
    step = sharding.make_train_step(lambda p, b, r: tap_loss(model, p, b), tx, mesh)
    history = []
    for batch in batches:
        state, metrics = step(state, sharding.shard_batch(batch, mesh), jax.random.key(0))
        history.append(jax.device_get(metrics))
    return jax.device_get(state.params), history


def test_sharded_step_same_on_one_and_eight_devices(synthetic_batch):
    """Padding rows leave some devices fewer expressions (or none): the average over the batch's
    expressions is still global, and the first step's loss is their mean Eq. 29."""
    assert jax.device_count() == 8
    rng = np.random.default_rng(3)
    batches = [synthetic_batch(rng, padding=3), synthetic_batch(rng)]
    p1, m1 = _train(batches, jax.devices()[:1])
    p8, m8 = _train(batches, jax.devices())
    for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p8)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for k in ("loss", "nll", "guider", "correct", "tokens"):
        np.testing.assert_allclose([m[k] for m in m1], [m[k] for m in m8], rtol=1e-5)
    model = TAP(TINY)
    _, per_expression = _per_expression(model, model.init(jax.random.key(0)), batches[0])
    np.testing.assert_allclose(m8[0]["loss"], per_expression[:5].mean(), rtol=1e-5)


def _rows(batch, rows):
    return {k: v[rows] for k, v in batch.items()}


def test_dropout_draws_each_rows_masks_from_its_expression_and_is_off_without_a_key(synthetic_batch):
    """``model.dropout``: the loss with a key differs from the loss without one (the evaluation
    model), is the same for the same key, and each row's masks depend only on its expression index:
    the loss of a batch is the sum of its halves' (so 1 and 8 devices see the same masks). With
    dropout 0 a key changes nothing."""
    batch = synthetic_batch(np.random.default_rng(5))
    plain, dropped = TAP(TINY), TAP(dataclasses.replace(TINY, dropout=0.5))
    params = plain.init(jax.random.key(0))
    key = jax.random.key(9)
    assert tap_loss(plain, params, batch, rng=key)[0] == tap_loss(plain, params, batch)[0]
    off = float(tap_loss(dropped, params, batch)[0])
    on = [float(tap_loss(dropped, params, batch, rng=k)[0]) for k in (key, key, jax.random.key(10))]
    assert off == pytest.approx(float(tap_loss(plain, params, batch)[0]), rel=1e-6)
    assert on[0] == on[1] and len({off, on[0], on[2]}) == 3
    halves = [float(tap_loss(dropped, params, _rows(batch, rows), rng=key)[0]) for rows in (slice(0, 4), slice(4, 8))]
    assert sum(halves) == pytest.approx(on[0], rel=1e-5)


def test_a_model_block_must_name_every_field_and_its_family():
    block = dict(crohme14.get_config("paper").model)
    del block["dropout"]
    with pytest.raises(ValueError, match=r"missing fields \['dropout'\]"):
        TAPConfig.from_config(block)
    with pytest.raises(ValueError, match="family is 'wap', not 'tap'"):
        TAPConfig.from_config(crohme14.get_config("paper").model, family="wap")
