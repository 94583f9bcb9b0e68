"""The data-parallel step: same update on 1 device and on 8; batch splitting."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tapjax.common import sharding


def _masked_regression(params, batch, rng):
    del rng
    pred = batch["x"] @ params["w"] + params["b"]
    err = ((pred - batch["y"]) ** 2) * batch["mask"]
    return err.sum(), (batch["mask"].sum(), {"abs_err": (jnp.abs(pred - batch["y"]) * batch["mask"]).sum()})


def _batch(rng):
    x = rng.normal(size=(16, 3)).astype(np.float32)
    mask = np.ones(16, np.float32)
    mask[[2, 3, 9]] = 0.0  # unequal weights per device: a mean of device means would be wrong
    return {"x": x, "y": rng.normal(size=16).astype(np.float32), "mask": mask}


def _run(devices, steps=3, tx=None):
    mesh = sharding.data_mesh(devices)
    tx = tx or optax.adam(0.1)
    params = {"w": jnp.ones(3), "b": jnp.zeros(())}
    state = sharding.replicate(sharding.TrainState.create(params, tx), mesh)
    step = sharding.make_train_step(_masked_regression, tx, mesh)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        state, metrics = step(state, sharding.shard_batch(_batch(rng), mesh), jax.random.key(0))
    return jax.device_get(state.params), jax.device_get(metrics)


def test_eight_devices_match_one():
    assert jax.device_count() == 8, "conftest.py asks XLA for 8 CPU devices"
    p1, m1 = _run(jax.devices()[:1])
    p8, m8 = _run(jax.devices())
    for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p8)):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    np.testing.assert_allclose(m1["loss"], m8["loss"], rtol=1e-5)
    np.testing.assert_allclose(m1["abs_err"], m8["abs_err"], rtol=1e-5)


def test_eight_device_sgd_step_is_the_plain_gradient_step():
    """Plain SGD exposes the gradient's scale (Adam would hide a factor of 8)."""
    params = {"w": jnp.ones(3), "b": jnp.zeros(())}
    batch = _batch(np.random.default_rng(0))

    def mean_loss(p):
        s, (w, _) = _masked_regression(p, batch, None)
        return s / w

    expected = jax.tree.map(lambda p, g: p - 0.5 * g, params, jax.grad(mean_loss)(params))
    p8, _ = _run(jax.devices(), steps=1, tx=optax.sgd(0.5))
    for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(p8)):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_loss_is_global_masked_mean():
    rng = np.random.default_rng(0)
    batch = _batch(rng)
    params = {"w": jnp.ones(3), "b": jnp.zeros(())}
    s, (w, _) = _masked_regression(params, batch, None)
    mesh = sharding.data_mesh()
    tx = optax.sgd(0.0)
    state = sharding.replicate(sharding.TrainState.create(params, tx), mesh)
    _, metrics = sharding.make_train_step(_masked_regression, tx, mesh)(
        state, sharding.shard_batch(batch, mesh), jax.random.key(0))
    np.testing.assert_allclose(metrics["loss"], s / w, rtol=1e-6)


def test_indivisible_batch_is_a_clear_error():
    mesh = sharding.data_mesh()
    with pytest.raises(ValueError, match="not divisible by 8"):
        sharding.shard_batch({"x": np.zeros((12, 2))}, mesh)
