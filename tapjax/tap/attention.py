"""TAP's guided hybrid attention: spatial attention with coverage, temporal attention, guider.

Shapes: annotations ``A [B, L, D]`` with mask ``[B, L]``, parser state ``ŝ_t [B, n]``.

**Spatial attention with coverage** (Eqs. 17-21)::

    F = Q * sum_{l<t} alpha_l                                           (20)
    f_i = F[i]                                                          (21)
    e_ti = nu_att^T tanh(W_att ŝ_t + U_att a_i + U_f f_i)               (17)
    alpha_ti = exp(e_ti) / sum_k exp(e_tk)                              (18)
    ĉ_t = sum_i alpha_ti a_i                                            (19)

``Q`` is a 1-D convolution (kernel 121, 256 filters in the reference implementation).
``U_att a_i`` does not depend on ``t`` and is computed once (:meth:`SpatialAttention.keys`).
The softmax runs over real steps only: padded steps get ``alpha = 0``.

**Temporal attention** (Eqs. 22-27). Our reading of the paper (its temporal attention follows
the "adaptive attention" sentinel of Lu et al. 2017, adapted to a GRU decoder): a gate built
from the previous symbol and the previous parser state selects what the decoder already
knows, the supplementary vector ``m_t``; ``beta_t`` is the share of attention given to
``m_t`` rather than to the trajectory::

    g_t = sigmoid(W_yg E y_{t-1} + U_sg s_{t-1})                         (22)
    m_t = g_t ⊙ tanh(U_sm s_{t-1})                                      (23)
    e_tm = nu_m^T tanh(W_m ŝ_t + U_m m_t)                               (24)
    beta_t = exp(e_tm) / (exp(e_tm) + sum_i exp(e_ti))                  (25-26)
           = sigmoid(e_tm - logsumexp_i e_ti)
    c_t = beta_t m_t + (1 - beta_t) ĉ_t                                 (27)

``m_t`` lives in the annotation space (dimension ``D``) so that it mixes with ``ĉ_t``.

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
    step (``W = min(K, 2L - 1)``): XLA's CPU convolution of the same shapes measured 3-40x
    slower on a 2-core CPU for ``L < K`` (``K = 121``, 500 channels), and as fast for ``L >= K``.
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

    def __call__(self, keys: Array, A: Array, mask: Array, s_hat: Array, alpha_sum: Array):
        """Returns ``(alpha [B, L], logits e_t [B, L], ĉ_t [B, D])``."""
        pre = keys + self.W_att(s_hat)[:, None, :]
        if self.coverage:
            # Q then U_f is one linear map: a [K, dim] kernel is cheaper than [K, filters] then U_f.
            pre = pre + coverage_features(alpha_sum, self.Q @ self.U_f)
        logits = self.nu_att(jnp.tanh(pre))[..., 0]
        alpha = masked_softmax(logits, mask)
        c_hat = jnp.einsum("bl,bld->bd", alpha, A)
        return alpha, logits, c_hat


class TemporalAttention(nn.Module):
    """Temporal attention (Eqs. 22-27): mixes ``ĉ_t`` with the supplementary vector ``m_t``."""

    dim: int

    @nn.compact
    def __call__(self, y_emb: Array, s_prev: Array, s_hat: Array, c_hat: Array, logits: Array, mask: Array):
        """Returns ``(c_t [B, D], beta_t [B])``; ``logits``/``mask`` are the spatial ``e_t``."""
        D = c_hat.shape[-1]
        g = jax.nn.sigmoid(nn.Dense(D, name="W_yg")(y_emb) + nn.Dense(D, use_bias=False, name="U_sg")(s_prev))
        m = g * jnp.tanh(nn.Dense(D, use_bias=False, name="U_sm")(s_prev))
        pre = nn.Dense(self.dim, name="W_m")(s_hat) + nn.Dense(self.dim, use_bias=False, name="U_m")(m)
        e_m = nn.Dense(1, use_bias=False, name="nu_m")(jnp.tanh(pre))[:, 0]
        beta = jax.nn.sigmoid(e_m - jax.nn.logsumexp(jnp.where(mask > 0, logits, NEG_INF), axis=-1))
        return beta[:, None] * m + (1.0 - beta[:, None]) * c_hat, beta


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
