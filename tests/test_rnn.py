"""Recurrences: the GRU against a direct NumPy reading of TAP Eqs. 5-8, masks, directions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tapjax.common.rnn import RNN


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_gru(x, W, b, U):
    """Eqs. 5-8 written out step by step for one sequence x [T, D]."""
    H = U.shape[0]
    Wz, Wr, Wh = W[:, :H], W[:, H:2 * H], W[:, 2 * H:]
    bz, br, bh = b[:H], b[H:2 * H], b[2 * H:]
    Uz, Ur, Uh = U[:, :H], U[:, H:2 * H], U[:, 2 * H:]
    h, out = np.zeros(H), []
    for x_t in x:
        z = _sigmoid(x_t @ Wz + bz + h @ Uz)
        r = _sigmoid(x_t @ Wr + br + h @ Ur)
        h_tilde = np.tanh(x_t @ Wh + bh + (r * h) @ Uh)
        h = (1 - z) * h + z * h_tilde
        out.append(h)
    return np.stack(out)


def _numpy_lstm(x, W, b, U):
    H = U.shape[0]
    c, h, out = np.zeros(H), np.zeros(H), []
    for x_t in x:
        i, f, o, u = np.split(x_t @ W + b + h @ U, 4)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(u)
        h = _sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out)


def _init(layer, T=6, D=3, B=2):
    x = jax.random.normal(jax.random.key(1), (B, T, D))
    params = layer.init(jax.random.key(0), x, jnp.ones((B, T)))
    # Non-zero biases so the test covers them.
    params = jax.tree.map(lambda p: p + 0.1, params)
    return x, params


@pytest.mark.parametrize("cell,reference", [("gru", _numpy_gru), ("lstm", _numpy_lstm)])
def test_cell_matches_numpy_reference(cell, reference):
    layer = RNN(4, cell, bidirectional=True)
    x, params = _init(layer)
    y = np.asarray(layer.apply(params, x, jnp.ones(x.shape[:2])))
    p = jax.tree.map(np.asarray, params["params"])
    xn = np.asarray(x, np.float64)
    for b in range(x.shape[0]):
        fwd = reference(xn[b], p["W"][0], p["b"][0], p["U"][0])
        bwd = reference(xn[b, ::-1], p["W"][1], p["b"][1], p["U"][1])[::-1]
        np.testing.assert_allclose(y[b, :, :4], fwd, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(y[b, :, 4:], bwd, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_never_changes_real_steps(cell):
    layer = RNN(4, cell, bidirectional=True)
    x, params = _init(layer, T=5, B=1)
    short = layer.apply(params, x, jnp.ones((1, 5)))
    padded_x = jnp.concatenate([x, 7.0 * jnp.ones((1, 3, x.shape[-1]))], axis=1)
    mask = jnp.concatenate([jnp.ones((1, 5)), jnp.zeros((1, 3))], axis=1)
    padded = layer.apply(params, padded_x, mask)
    np.testing.assert_allclose(padded[:, :5], short, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(padded[:, 5:], 0.0)


def test_unidirectional_shape_and_jit():
    layer = RNN(7, "gru")
    x, params = _init(layer)
    y = jax.jit(layer.apply)(params, x, jnp.ones(x.shape[:2]))
    assert y.shape == (2, 6, 7)
