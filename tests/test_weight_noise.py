"""Adaptive weight noise (Graves 2011 as the TAP authors' code does it): the loss is the expected loss
plus the complexity term, the gradients are the authors', sigma learns, the posterior checkpoints,
and a step is the same on 1 device and on 8."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import crohme14
from tapjax.common import optim, sharding
from tapjax.common.checkpoint import Series
from tapjax.tap.fit import trainer
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.weight_noise import (
    LOG_VAR_SCALE,
    Posterior,
    complexity,
    means,
    optimizer,
    train_params,
    variational_gradients,
    variational_loss,
)

MU = {"a": np.array([0.5, -1.0], np.float32), "b": np.array([2.0], np.float32)}
SIGMA = {"a": np.array([0.3, 0.1], np.float32), "b": np.array([0.2], np.float32)}
A = {"a": np.array([1.0, 2.0], np.float32), "b": np.array([3.0], np.float32)}
WEIGHT = 0.01


def _posterior() -> Posterior:
    return Posterior(MU, jax.tree.map(lambda s: np.log(s ** 2) / LOG_VAR_SCALE, SIGMA))


def _quadratic(params, batch, rng):
    """``sum_i a_i w_i^2 / 2`` over one expression: ``E[.] = sum_i a_i (mu_i^2 + sigma_i^2) / 2`` under Q."""
    return sum(jnp.sum(A[k] * params[k] ** 2) / 2 for k in A), (1.0, {})


def _flat(tree) -> np.ndarray:
    return np.concatenate([np.asarray(tree[k]) for k in ("a", "b")])


# The optimal prior by hand: mean (0.5 - 1 + 2) / 3 = 0.5, variance the mean of sigma^2 + (mu - 0.5)^2.
PRIOR_MEAN, PRIOR_VAR = 0.5, (0.09 + 0.0 + 0.01 + 2.25 + 0.04 + 2.25) / 3
# With it the quadratic terms of KL sum to half the weight count: KL = sum_i log(sqrt(v) / sigma_i).
KL = sum(np.log(np.sqrt(PRIOR_VAR) / s) for s in (0.3, 0.1, 0.2))


def test_complexity_is_the_kl_to_the_optimal_prior():
    np.testing.assert_allclose(complexity(_posterior(), WEIGHT), WEIGHT * KL, rtol=1e-4)


def test_loss_is_the_expected_loss_plus_the_complexity():
    loss = jax.jit(jax.vmap(lambda k: variational_loss(_quadratic, WEIGHT)(_posterior(), {}, k)[0]))
    samples = loss(jax.random.split(jax.random.key(0), 40000))
    expected = sum(np.sum(A[k] * (MU[k] ** 2 + SIGMA[k] ** 2)) / 2 for k in A) + WEIGHT * KL
    np.testing.assert_allclose(samples.mean(), expected, rtol=5e-3)
    _, (_, metrics) = variational_loss(_quadratic, WEIGHT)(_posterior(), {}, jax.random.key(1))
    np.testing.assert_allclose(metrics["complexity"], WEIGHT * KL, rtol=1e-4)


def test_gradients_are_the_authors():
    """mu: g + c (mu - m) / v; s: 2048 sigma^2 g^2 / 2 + c 2048 (sigma^2 / v - 1) / 2 (nmt_weightnoise.py)."""
    posterior, g = _posterior(), {"a": np.array([0.7, -0.2], np.float32), "b": np.array([1.5], np.float32)}
    loss_grads = jax.grad(lambda p: variational_loss(_quadratic, WEIGHT)(p, {}, jax.random.key(2))[0])(posterior)
    assert not _flat(loss_grads.log_var).any()  # the sample's gradient reaches the means only
    out, _ = variational_gradients(WEIGHT).update(Posterior(g, jax.tree.map(np.zeros_like, g)), None, posterior)
    mu, var, gf = _flat(MU), _flat(SIGMA) ** 2, _flat(g)
    np.testing.assert_allclose(_flat(out.mean), gf + WEIGHT * (mu - PRIOR_MEAN) / PRIOR_VAR, rtol=1e-5)
    np.testing.assert_allclose(_flat(out.log_var), LOG_VAR_SCALE / 2 * (var * gf ** 2 + WEIGHT * (var / PRIOR_VAR - 1)),
                               rtol=1e-4)


def _tiny_adaptive():
    config = crohme14.get_config("paper")
    config.model.update(vocab_size=11, tracker_hidden=4, embed_dim=4, parser_hidden=4, attention_dim=4,
                        coverage_kernel=3, coverage_filters=2, maxout_dim=4)
    config.train.weight_noise = "adaptive"
    return config, TAP.from_config(config.model)


def _adaptive_steps(devices, synthetic_batch, steps=2):
    """The start and the state after ``steps`` adaptive steps on ``devices`` (host copies), the last step's metrics."""
    config, model = _tiny_adaptive()
    weight = trainer.complexity_weight(config, 100)
    tx = optimizer(config, weight=weight)
    mesh = sharding.data_mesh(devices)
    start = jax.device_get(Posterior.create(model.init(jax.random.key(0))))
    state = sharding.replicate(sharding.TrainState.create(start, tx), mesh)
    step = sharding.make_train_step(trainer.make_loss_fn(model, config, 100), tx, mesh)
    rng = np.random.default_rng(5)
    for i in range(steps):
        state, metrics = step(state, sharding.shard_batch(synthetic_batch(rng), mesh), jax.random.key(i))
    return start, jax.device_get(state), jax.device_get(metrics)


@pytest.fixture(scope="module")
def adaptive_steps(synthetic_batch):
    """:func:`_adaptive_steps` on 1 device and on 8."""
    return [_adaptive_steps(devices, synthetic_batch) for devices in (jax.devices()[:1], jax.devices())]


def test_sigma_learns_and_a_step_is_the_same_on_one_and_eight_devices(adaptive_steps):
    (start, one, m1), (_, eight, m8) = adaptive_steps
    for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(eight.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m1["loss"], m8["loss"], rtol=1e-5)
    assert m1["complexity"] > 0
    for before, after in zip(jax.tree.leaves(start.log_var), jax.tree.leaves(one.params.log_var)):
        assert (after != before).all()  # every weight's sigma moved
    assert means(one.params) is one.params.mean and means(start.mean) is start.mean


def test_the_posterior_and_the_cut_optimiser_state_round_trip_a_checkpoint(adaptive_steps, tmp_path):
    state = adaptive_steps[0][1]
    state = state.replace(opt_state=optim.cut(state.opt_state))
    series = Series(tmp_path)
    series.save(1, state)
    restored = series.restore(jax.device_put(state))
    series.close()
    assert isinstance(restored.params, Posterior) and optim.cuts(restored.opt_state) == 1
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(jax.device_get(restored))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("noise", ["none", "adaptive"])
def test_a_run_trains_the_weights_or_a_posterior_of_them(noise):
    config, model = _tiny_adaptive()
    config.train.weight_noise = noise
    params = model.init(jax.random.key(0))
    trained = train_params(params, config.train)
    assert (trained is params) == (noise == "none")
    assert means(trained) is params
