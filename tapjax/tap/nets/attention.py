"""TAP's guided hybrid attention (TAP §III): spatial attention with coverage, temporal attention, guider.

Shapes: annotations ``A [B, L, D]`` with mask ``[B, L]``, parser state ``ŝ_t [B, n]``. The
paper writes no biases; inside a nonlinearity the maps carry those of the authors' released
code (``U_att a_i + b``, the gate of Eq. 22), while the scalar energies (Eqs. 21, 25) have
none, as printed (but see the authors' form below).

**Spatial attention with coverage** (Eqs. 17-21)::

    F = Q * sum_{l<t} alpha_l,   f_i = row i of F                      (20)
    e_ti = nu_att^T tanh(W_att ŝ_t + U_att a_i + U_f f_i)               (21; Eq. 17 without coverage)
    alpha_ti = exp(e_ti) / sum_k exp(e_tk)                              (18)
    ĉ_t = sum_i alpha_ti a_i                                            (19)

``Q`` is a 1-D convolution (kernel 121, 256 filters in the authors' code).
``U_att a_i`` does not depend on ``t`` and is computed once (:meth:`SpatialAttention.keys`),
``W_att ŝ_t`` once per step (:meth:`SpatialAttention.query`), for Eq. 21 and Eq. 25 alike.
The softmax runs over real steps only: padded steps get ``alpha = 0``.

**Temporal attention** (Eqs. 22-27), form ``"paper"``: a gate over the previous symbol and
state selects from the first GRU's prediction ``ŝ_t`` the supplementary vector ``m_t``
(dimension ``D``, so that it mixes with ``ĉ_t``); ``beta_t`` is the share of the context
taken from ``m_t`` rather than from the trajectory::

    g_t = sigmoid(W_yg E y_{t-1} + U_sg s_{t-1})                         (22)
    m_t = g_t ⊙ tanh(W_ŝ ŝ_t)                                           (23)
    ē_t = mean_i e_ti          (over real steps)                        (24)
    z_t = [ē_t; nu_att2^T tanh(W_att ŝ_t + U_m m_t)]   (W_att of Eq. 21) (25)
    beta_t = exp(z_t[1]) / (exp(z_t[0]) + exp(z_t[1])) = sigmoid(z_t[1] - z_t[0])   (26)
    c_t = beta_t m_t + (1 - beta_t) ĉ_t                                 (27)

Form ``"authors"``: the authors' released code (github.com/JianshuZhang/TAP, ``v2/nmt.py``,
``param_init_gru_cond`` / ``gru_cond_layer`` at commit 509f592) divides ``exp`` of the
temporal energy by itself plus the *mean of exp* of the spatial energies, so that
``z_t[0] = log mean_i exp(e_ti)`` replaces ``ē_t``, and the temporal energy has a bias
(their ``c_when_att``, less the scalar bias ``c_tt`` of their spatial energies, which only
this form sees). Eqs. 22, 23, 25 and 27 are as above there (``ŝ_t`` in Eq. 23, ``W_att`` shared).

**Attention guider** (Eq. 28): ``G_t = -sum_i gamma_ti log alpha_ti``, with ``gamma_t`` the
ground-truth alignment of token ``t`` spread uniformly over the annotation steps of its
strokes (:func:`alignment_targets`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array
NEG_INF = -1e30


def masked_softmax(logits: Array, mask: Array) -> Array:
    """Softmax over the last axis restricted to ``mask > 0`` (zero elsewhere)."""
    logits = jnp.where(mask > 0, logits, NEG_INF)
    return jax.nn.softmax(logits, axis=-1) * (mask > 0)


def coverage_features(alpha_sum: Array, kernel: Array) -> Array:
    """``F = Q * sum_l alpha_l`` (Eq. 20): ``alpha_sum [B, L]``, ``kernel [K, C]`` -> ``[B, L, C]``.

    A 'same'-padded 1-D cross-correlation with one input channel (``lax.conv_general_dilated``
    with ``padding="SAME"``); positions past the end count as zero attention, exactly like
    padded steps, so padding does not change real steps. Computed as one matmul of the
    ``[B, L, W]`` windows of ``alpha_sum`` with the ``W`` kernel taps that can reach a real
    step (``W = min(K, 2L - 1)``): XLA's CPU convolution of the same shapes is several times
    slower for ``L < K`` and as fast for ``L >= K`` (benchmarks/RESULTS.md, TAP speed).
    """
    K = kernel.shape[0]
    L = alpha_sum.shape[1]
    left = (K - 1) // 2  # SAME: output i sees inputs i - left .. i - left + K - 1
    first, last = max(0, left - (L - 1)), min(K, left + L)  # taps with an in-range input
    padded = jnp.pad(alpha_sum, ((0, 0), (left - first, last - 1 - left)))
    windows = padded[:, jnp.arange(L)[:, None] + jnp.arange(last - first)[None, :]]
    return jnp.einsum("blk,kc->blc", windows, kernel[first:last])


class SpatialAttention(nn.Module):
    """Spatial attention (Eqs. 17-19), with the coverage model (Eqs. 20-21) if ``coverage``."""

    dim: int
    coverage: bool
    kernel_width: int
    filters: int

    def setup(self):
        self.W_att = nn.Dense(self.dim, use_bias=False, name="W_att")
        self.U_att = nn.Dense(self.dim, name="U_att")
        self.nu_att = nn.Dense(1, use_bias=False, name="nu_att")
        if self.coverage:
            self.Q = self.param("Q", nn.initializers.lecun_normal(), (self.kernel_width, self.filters))
            self.U_f = self.param("U_f", nn.initializers.lecun_normal(), (self.filters, self.dim))

    def keys(self, A: Array) -> Array:
        """``U_att a_i + b`` for every annotation step: ``[B, L, D] -> [B, L, dim]`` (once per input)."""
        return self.U_att(A)

    def query(self, s_hat: Array) -> Array:
        """``W_att ŝ_t`` (Eq. 21, shared with Eq. 25): ``[B, n] -> [B, dim]``."""
        return self.W_att(s_hat)

    def __call__(self, keys: Array, A: Array, mask: Array, query: Array, alpha_sum: Array):
        """Returns ``(alpha [B, L], energies e_t [B, L], ĉ_t [B, D])`` for ``query = W_att ŝ_t``."""
        pre = keys + query[:, None, :]
        if self.coverage:
            # Q then U_f is one linear map: a [K, dim] kernel is cheaper than [K, filters] then U_f.
            pre = pre + coverage_features(alpha_sum, self.Q @ self.U_f)
        energies = self.nu_att(jnp.tanh(pre))[..., 0]
        alpha = masked_softmax(energies, mask)
        c_hat = jnp.einsum("bl,bld->bd", alpha, A)
        return alpha, energies, c_hat


def mean_energy(energies: Array, mask: Array) -> Array:
    """``ē_t = mean_i e_ti`` over real steps (Eq. 24): ``[B, L] -> [B]`` (0 for a row without one)."""
    return jnp.where(mask > 0, energies, 0.0).sum(-1) / jnp.maximum(mask.sum(-1), 1.0)


def log_mean_exp_energy(energies: Array, mask: Array) -> Array:
    """``log mean_i exp(e_ti)`` over real steps, the authors' code's ``ē_t``: ``[B, L] -> [B]``."""
    total = jax.nn.logsumexp(jnp.where(mask > 0, energies, NEG_INF), axis=-1)
    return total - jnp.log(jnp.maximum(mask.sum(-1), 1.0))


# z_t[0] of Eq. 25, the trajectory's side of beta_t, in each form of the temporal attention.
TRAJECTORY_SCORE = {"paper": mean_energy, "authors": log_mean_exp_energy}
TEMPORAL_FORMS = tuple(TRAJECTORY_SCORE)


class TemporalAttention(nn.Module):
    """Temporal attention (Eqs. 22-27) in ``form`` "paper" or "authors" (see the module docstring)."""

    dim: int
    form: str

    @nn.compact
    def __call__(self, y_emb: Array, s_prev: Array, s_hat: Array, query: Array, c_hat: Array, energies: Array,
                 mask: Array):
        """Returns ``(c_t [B, D], beta_t [B])``; ``query = W_att ŝ_t``, ``energies``/``mask`` the spatial ``e_t``."""
        D = c_hat.shape[-1]
        g = jax.nn.sigmoid(nn.Dense(D, name="W_yg")(y_emb) + nn.Dense(D, use_bias=False, name="U_sg")(s_prev))  # 22
        m = g * jnp.tanh(nn.Dense(D, use_bias=False, name="W_shat")(s_hat))  # 23
        pre = query + nn.Dense(self.dim, use_bias=False, name="U_m")(m)
        z1 = nn.Dense(1, use_bias=self.form == "authors", name="nu_att2")(jnp.tanh(pre))[:, 0]  # 25
        beta = jax.nn.sigmoid(z1 - TRAJECTORY_SCORE[self.form](energies, mask))  # 24-26
        return beta[:, None] * m + (1.0 - beta[:, None]) * c_hat, beta  # 27


def alignment_targets(align: Array, annotation_mask: Array, stride: int) -> Array:
    """Ground-truth attention ``gamma [B, T, L]`` from point alignment ``align [B, T, N]``.

    An annotation step covers ``stride`` consecutive points and belongs to token ``t`` if any
    of them does; each token's row is normalised to sum to 1 over its steps (rows of tokens
    without strokes stay zero: no guider term).
    """
    B, T, N = align.shape
    L = annotation_mask.shape[1]
    if N != L * stride:
        raise ValueError(f"alignment has {N} points but {L} annotation steps x stride {stride} = {L * stride}")
    hit = align.reshape(B, T, L, stride).max(axis=-1).astype(jnp.float32) * annotation_mask[:, None, :]
    total = hit.sum(axis=-1, keepdims=True)
    return hit / jnp.maximum(total, 1.0)


def guider_loss(alpha: Array, gamma: Array, eps: float = 1e-10) -> Array:
    """Attention guider ``G_t = -sum_i gamma_ti log alpha_ti`` (Eq. 28): ``[..., L] -> [...]``."""
    return -(gamma * jnp.log(alpha + eps)).sum(axis=-1)
