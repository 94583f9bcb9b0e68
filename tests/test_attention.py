"""Guided hybrid attention: masked softmax, coverage, temporal attention against a NumPy
transcription of Eqs. 17-19 and 22-27 (both forms), guider (Eq. 28)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import crohme14
from tapjax.tap.nets import attention
from tapjax.tap.nets.attention import (
    TEMPORAL_FORMS,
    SpatialAttention,
    TemporalAttention,
    alignment_targets,
    coverage_features,
    guider_loss,
    masked_softmax,
)
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.model_config import TAPConfig


def _inputs(rng, B=2, L=6, D=4, n=3):
    A = rng.normal(size=(B, L, D)).astype(np.float32)
    mask = np.ones((B, L), np.float32)
    mask[1, 4:] = 0
    return A, mask, rng.normal(size=(B, n)).astype(np.float32), rng.random((B, L)).astype(np.float32) * mask


def _run_spatial(att, A, mask, s_hat, alpha_sum):
    """``(alpha, energies, ĉ, W_att ŝ)`` of a :class:`SpatialAttention`, as the parser runs it."""
    query = att.query(s_hat)
    return (*att(att.keys(A), A, mask, query, alpha_sum), query)


def test_spatial_attention_sums_to_one_over_real_steps_only():
    A, mask, s_hat, alpha_sum = _inputs(np.random.default_rng(0))
    att = SpatialAttention(dim=5, coverage=True, kernel_width=3, filters=2)
    variables = att.init(jax.random.key(0), A, mask, s_hat, alpha_sum, method=_run_spatial)
    alpha, _, c_hat, _ = att.apply(variables, A, mask, s_hat, alpha_sum, method=_run_spatial)
    np.testing.assert_allclose(alpha.sum(-1), 1.0, rtol=1e-6)
    assert np.all(np.asarray(alpha)[1, 4:] == 0) and np.all(np.asarray(alpha)[1, :4] > 0)
    np.testing.assert_allclose(c_hat, np.einsum("bl,bld->bd", alpha, A), rtol=1e-5)
    # garbage in padded annotation steps changes nothing
    A2 = A.copy()
    A2[1, 4:] = 50.0
    alpha2, _, c2, _ = att.apply(variables, A2, mask, s_hat, alpha_sum, method=_run_spatial)
    np.testing.assert_allclose(alpha2, alpha, rtol=1e-6)
    np.testing.assert_allclose(c2, c_hat, rtol=1e-6)


def test_coverage_shape_and_convolution():
    K, C = 5, 3
    kernel = np.arange(K * C, dtype=np.float32).reshape(K, C)
    alpha_sum = np.zeros((1, 9), np.float32)
    alpha_sum[0, 4] = 1.0
    F = coverage_features(jnp.asarray(alpha_sum), jnp.asarray(kernel))
    assert F.shape == (1, 9, C)
    # 'same' cross-correlation with a one-hot at p: F[i] = kernel[p - i + K // 2]
    for i in range(9):
        k = 4 - i + K // 2
        np.testing.assert_allclose(F[0, i], kernel[k] if 0 <= k < K else 0.0)


def _lax_coverage(alpha_sum, kernel):
    """Eq. 20 as the plain 'SAME' convolution (the formulation ``coverage_features`` replaces)."""
    return jax.lax.conv_general_dilated(alpha_sum[:, :, None], kernel[:, None, :], window_strides=(1,), padding="SAME",
                                        dimension_numbers=("NWC", "WIO", "NWC"))


@pytest.mark.parametrize("K, L", [(1, 3), (4, 1), (4, 6), (5, 2),
                                  (121, 1), (121, 60), (121, 61), (121, 121), (121, 200)])
def test_coverage_matches_lax_convolution(K, L):
    rng = np.random.default_rng(K * 1000 + L)
    alpha_sum = jnp.asarray(rng.random((3, L)).astype(np.float32))
    kernel = jnp.asarray(rng.normal(size=(K, 7)).astype(np.float32))
    np.testing.assert_allclose(coverage_features(alpha_sum, kernel), _lax_coverage(alpha_sum, kernel),
                               rtol=1e-5, atol=1e-5)


def test_paper_size_step_log_probs_match_lax_convolution(monkeypatch):
    """The paper-size step (kernel 121 x 256 filters, attention 500) at L below, at and above
    the kernel width gives the same log-probabilities as with the plain convolution."""
    model = TAP(TAPConfig.from_config(crohme14.get_config("paper").model))
    params = jax.jit(model.init)(jax.random.key(0))
    step, lax_step = (jax.jit(lambda *args: model.step(*args)) for _ in range(2))  # two trace caches
    rng = np.random.default_rng(3)
    def normal(*shape):
        return jnp.asarray(rng.normal(size=shape).astype(np.float32))
    for L in (30, 121, 150):
        mask = jnp.ones((2, L)).at[1, L // 2 :].set(0)
        enc = {"A": normal(2, L, 500), "mask": mask, "keys": normal(2, L, 500)}  # tracker output stand-in
        state = {"s": jnp.tanh(normal(2, 256)), "alpha": mask / mask.sum(1, keepdims=True),
                 "alpha_sum": jnp.asarray(rng.random((2, L)).astype(np.float32)) * mask * 3, "beta": jnp.zeros(2)}
        prev = jnp.array([5, 7], jnp.int32)
        lp, new = step(params, enc, state, prev)
        with monkeypatch.context() as m:
            m.setattr(attention, "coverage_features", _lax_coverage)
            lp_ref, ref = lax_step(params, enc, state, prev)
        np.testing.assert_allclose(lp, lp_ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(new["alpha"], ref["alpha"], rtol=1e-5, atol=1e-6)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _numpy_hybrid_attention(p, form, A, y, s_prev, s_hat):
    """Eqs. 17-19 and 22-27 written out for one expression ``A [L, D]`` (its real steps only),
    from the parameters ``p = {"spatial", "temporal"}``; form "authors" as the authors' code."""
    sp, tp = p["spatial"], p["temporal"]
    W_att_s = s_hat @ sp["W_att"]["kernel"]
    e = np.array([np.tanh(W_att_s + a @ sp["U_att"]["kernel"] + sp["U_att"]["bias"]) @ sp["nu_att"]["kernel"][:, 0]
                  for a in A])                                                                   # (17)
    alpha = np.exp(e) / np.exp(e).sum()                                                         # (18)
    c_hat = alpha @ A                                                                           # (19)
    g = _sigmoid(y @ tp["W_yg"]["kernel"] + tp["W_yg"]["bias"] + s_prev @ tp["U_sg"]["kernel"])  # (22)
    m = g * np.tanh(s_hat @ tp["W_shat"]["kernel"])                                             # (23)
    e_bar = e.mean()                                                                            # (24)
    z = [e_bar, np.tanh(W_att_s + m @ tp["U_m"]["kernel"]) @ tp["nu_att2"]["kernel"][:, 0]]     # (25)
    if form == "authors":  # v2/nmt.py gru_cond_layer: exp(e_m + c) / (exp(e_m + c) + mean_i exp(e_ti))
        z = [np.log(np.exp(e).mean()), z[1] + tp["nu_att2"]["bias"][0]]
    beta = np.exp(z[1]) / (np.exp(z[0]) + np.exp(z[1]))                                         # (26)
    return beta, beta * m + (1 - beta) * c_hat                                                  # (27)


def _hybrid_inputs(rng, B=3, L=6, D=4, n=5, embed=3):
    A, mask, s_hat, _ = _inputs(rng, B, L, D, n)
    mask[2, 1:] = 0  # a single real step
    A[mask == 0] = 50.0  # garbage in the padding
    return A, mask, rng.normal(size=(B, embed)).astype(np.float32), rng.normal(size=(B, n)).astype(np.float32), s_hat


@pytest.mark.parametrize("form", TEMPORAL_FORMS)
def test_temporal_attention_matches_numpy_transcription(form):
    """The spatial attention's energies and ``W_att ŝ_t`` feed the temporal attention as in the
    parser; beta_t and c_t match Eqs. 17-19, 22-27 written out in NumPy, on masked annotations."""
    rng = np.random.default_rng(4)
    A, mask, y, s_prev, s_hat = _hybrid_inputs(rng)
    spatial = SpatialAttention(dim=7, coverage=False, kernel_width=1, filters=1)
    temporal = TemporalAttention(dim=7, form=form)
    sv = spatial.init(jax.random.key(0), A, mask, s_hat, mask, method=_run_spatial)
    _, energies, c_hat, query = spatial.apply(sv, A, mask, s_hat, mask, method=_run_spatial)
    tv = temporal.init(jax.random.key(1), y, s_prev, s_hat, query, c_hat, energies, mask)
    # every parameter random (biases too), on the scale of a trained model's
    p = jax.tree.map(lambda x: rng.normal(size=x.shape).astype(np.float32) * 0.7,
                     {"spatial": sv["params"], "temporal": tv["params"]})
    _, energies, c_hat, query = spatial.apply({"params": p["spatial"]}, A, mask, s_hat, mask, method=_run_spatial)
    c, beta = temporal.apply({"params": p["temporal"]}, y, s_prev, s_hat, query, c_hat, energies, mask)
    p64 = jax.tree.map(lambda x: np.asarray(x, np.float64), p)
    for b in range(A.shape[0]):
        real = mask[b] > 0
        beta_ref, c_ref = _numpy_hybrid_attention(p64, form, A[b, real].astype(np.float64), y[b], s_prev[b], s_hat[b])
        np.testing.assert_allclose(beta[b], beta_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c[b], c_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("form", TEMPORAL_FORMS)
def test_temporal_attention_is_padding_safe(form):
    """Padded energies are ignored; a row without a real step (a batch's dummy row) stays finite,
    gradients included."""
    rng = np.random.default_rng(2)
    B, L, D, n, dim = 2, 5, 4, 3, 6
    c_hat = rng.normal(size=(B, D)).astype(np.float32)
    energies = rng.normal(size=(B, L)).astype(np.float32)
    mask = np.ones((B, L), np.float32)
    mask[0, 3:] = 0
    y, s_prev, s_hat = (rng.normal(size=(B, n)).astype(np.float32) for _ in range(3))
    query = rng.normal(size=(B, dim)).astype(np.float32)
    temporal = TemporalAttention(dim=dim, form=form)
    params = temporal.init(jax.random.key(0), y, s_prev, s_hat, query, c_hat, energies, mask)
    def run(e, m):
        return temporal.apply(params, y, s_prev, s_hat, query, c_hat, e, m)
    c, beta = run(energies, mask)
    assert c.shape == (B, D) and beta.shape == (B,)
    assert np.all((np.asarray(beta) > 0) & (np.asarray(beta) < 1))
    padded = energies.copy()
    padded[0, 3:] = 1e4
    c2, beta2 = run(padded, mask)
    np.testing.assert_allclose(beta2, beta, rtol=1e-6)
    np.testing.assert_allclose(c2, c, rtol=1e-6)
    empty = mask.copy()
    empty[1] = 0
    grads = jax.grad(lambda e: run(e, empty)[0].sum())(padded)
    assert np.all(np.isfinite(run(padded, empty)[0])) and np.all(np.isfinite(grads))


def test_masked_softmax_zero_on_padding():
    p = masked_softmax(jnp.array([[1.0, 2.0, 3.0]]), jnp.array([[1.0, 1.0, 0.0]]))
    np.testing.assert_allclose(p, [[1 / (1 + np.e), np.e / (1 + np.e), 0.0]], rtol=1e-6)


def test_alignment_targets_and_guider_against_hand_computation():
    # 1 expression, 3 tokens, 8 points, stride 4 -> 2 annotation steps.
    align = np.zeros((1, 3, 8), np.uint8)
    align[0, 0, [1]] = 1          # token 0: a point in step 0 only
    align[0, 1, [3, 6]] = 1       # token 1: points in steps 0 and 1
    # token 2 (e.g. '^' or EOS) has no strokes
    gamma = alignment_targets(jnp.asarray(align), jnp.ones((1, 2)), stride=4)
    np.testing.assert_allclose(gamma[0], [[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]])
    alpha = jnp.array([[[0.8, 0.2], [0.25, 0.75], [0.5, 0.5]]])
    G = guider_loss(alpha, gamma)
    expected = [-np.log(0.8), -(0.5 * np.log(0.25) + 0.5 * np.log(0.75)), 0.0]
    np.testing.assert_allclose(G[0], expected, rtol=1e-5)
