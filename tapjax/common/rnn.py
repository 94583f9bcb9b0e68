"""Recurrent layers as pure ``lax.scan`` loops: GRU (TAP Eqs. 5-8), LSTM, masks, both directions.

Every layer takes a batch-major input ``xs [B, T, D]`` and a mask ``[B, T]`` (1 for real steps,
0 for right padding) and returns ``[B, T, H]`` (``[B, T, 2H]`` when bidirectional). The input
projections of all steps are one matrix product before the loop, and a bidirectional layer runs
both directions in the same scan (the backward one on the time-reversed input), one batched
product over ``[directions, B, H]`` per step. At a padded step the state is carried over and the
output is zero; the reversed sequence starts with its padding, during which the backward state
stays zero, so padding never changes a real step's output.
"""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def gru_step(U: Array, h: Array, xp: Array) -> tuple[Array, Array]:
    """One GRU step (TAP Eqs. 5-8), with the input projection ``xp`` precomputed.

    ``xp = [W_xz x + b_z, W_xr x + b_r, W_xh x + b_h]`` of shape ``[..., 3H]`` (the biases are
    the authors' code's; the paper writes none); ``U`` is ``[H, 3H]`` (or ``[D, H, 3H]`` for
    ``D`` stacked directions, ``h`` then ``[D, B, H]``)::

        z_t = sigmoid(W_xz x_t + U_hz h_{t-1})                (5)
        r_t = sigmoid(W_xr x_t + U_hr h_{t-1})                (6)
        h~_t = tanh(W_xh x_t + U_rh (r_t * h_{t-1}))          (7)
        h_t = (1 - z_t) * h_{t-1} + z_t * h~_t                (8)

    Returns ``(h_t, h_t)`` (new carry, output).
    """
    H = h.shape[-1]
    zr = jnp.matmul(h, U[..., :, : 2 * H])
    z = jax.nn.sigmoid(xp[..., :H] + zr[..., :H])
    r = jax.nn.sigmoid(xp[..., H : 2 * H] + zr[..., H:])
    h_tilde = jnp.tanh(xp[..., 2 * H :] + jnp.matmul(r * h, U[..., :, 2 * H :]))
    h = (1.0 - z) * h + z * h_tilde
    return h, h


def lstm_step(U: Array, carry: tuple[Array, Array], xp: Array) -> tuple[tuple[Array, Array], Array]:
    """One LSTM step with the input projection ``xp = W x + b`` (gates i, f, o, u) precomputed."""
    c, h = carry
    i, f, o, u = jnp.split(xp + jnp.matmul(h, U), 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(u)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (c, h), h


CELLS: dict[str, tuple[Callable, int]] = {"gru": (gru_step, 3), "lstm": (lstm_step, 4)}


def _zero_carry(cell: str, like: Array):
    """Zeros shaped like ``like``; derived from it so that inside ``shard_map`` the carry
    varies over the same mesh axes as the inputs (scan needs equal carry types)."""
    zeros = jnp.zeros_like(like)
    return zeros if cell == "gru" else (zeros, zeros)


def masked_scan(step: Callable, U: Array, carry, xp: Array, mask: Array):
    """Runs ``step`` over the leading (time) axis of ``xp``; padded steps keep the carry.

    ``xp [T, ..., G]`` are the precomputed input projections and ``mask [T, ...]`` marks
    real steps. Returns ``(last carry, outputs [T, ..., H])`` with zero outputs on padding.
    """

    def body(carry, inputs):
        xp_t, m_t = inputs
        new_carry, out = step(U, carry, xp_t)
        keep = m_t[..., None] > 0
        carry = jax.tree.map(lambda n, o: jnp.where(keep, n, o), new_carry, carry)
        return carry, jnp.where(keep, out, 0.0)

    return jax.lax.scan(body, carry, (xp, mask))


class RNN(nn.Module):
    """A recurrent layer (``cell`` = "gru" or "lstm"), optionally bidirectional.

    ``__call__(xs [B, T, D], mask [B, T]) -> [B, T, H * directions]``; the forward half of
    the features comes first.
    """

    hidden: int
    cell: str = "gru"
    bidirectional: bool = False

    @nn.compact
    def __call__(self, xs: Array, mask: Array) -> Array:
        step, gates = CELLS[self.cell]
        D, H = (2 if self.bidirectional else 1), self.hidden
        G = gates * H
        W = self.param("W", nn.initializers.lecun_normal(batch_axis=(0,)), (D, xs.shape[-1], G))
        b = self.param("b", nn.initializers.zeros, (D, G))
        U = self.param("U", nn.initializers.orthogonal(column_axis=-1), (D, H, G))

        xp = jnp.einsum("btk,dkg->tdbg", xs, W.astype(xs.dtype)) + b[:, None, :]
        m = jnp.broadcast_to(mask.T[:, None, :], (xs.shape[1], D, xs.shape[0]))
        if self.bidirectional:
            xp = _reverse_second_direction(xp)
            m = _reverse_second_direction(m)
        carry = _zero_carry(self.cell, xp[0, ..., :H])
        _, hs = masked_scan(step, U, carry, xp, m)  # [T, D, B, H]
        if self.bidirectional:
            hs = _reverse_second_direction(hs)
        return jnp.transpose(hs, (2, 0, 1, 3)).reshape(xs.shape[0], xs.shape[1], D * H)


def _reverse_second_direction(x: Array) -> Array:
    """Reverses the time axis (0) of direction 1 of ``x [T, 2, ...]``."""
    return jnp.stack([x[:, 0], x[::-1, 1]], axis=1)
