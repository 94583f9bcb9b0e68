"""The TAP parser (Eqs. 11-16): two GRUs around the guided hybrid attention, maxout output.

One decoding step, given annotations ``A [B, L, D]`` (Eq. 10) and the previous symbol ``y_{t-1}``::

    s_0 = tanh(W_init ā),  ā = mean_i a_i                              (15-16)
    ŝ_t = GRU(E y_{t-1}, s_{t-1})                                       (12)
    c_t = f_hatt(y_{t-1}, s_{t-1}, ŝ_t, A)                              (13)
        = temporal attention (22-27) over the spatial attention with coverage (17-21),
          or c_t = ĉ_t (Eq. 19) without temporal attention
    s_t = GRU(c_t, ŝ_t)                                                 (14)
    p(y_t) = softmax(W_o maxout(W_e E y_{t-1} + W_s s_t + W_c c_t))     (11)

As in the authors' released code rather than the paper: Eq. 11 projects the embedding by
``W_e`` (the paper adds ``E y_{t-1}`` itself), the maps carry biases, ``ā`` is the mean over
real steps, and ``y_{t-1} = -1`` (before the first symbol) embeds to zeros.
Training (teacher forcing) and decoding both call :meth:`Parser.step`; everything that does
not depend on ``t`` (the attention keys ``U_att a_i``, ``s_0``) is computed once in
:meth:`Parser.precompute` / :meth:`Parser.initial_state`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from tapjax.common.rnn import gru_step
from tapjax.tap.nets.attention import SpatialAttention, TemporalAttention
from tapjax.tap.nets.model_config import TAPConfig, WAPConfig

Array = jax.Array


class GRUCell(nn.Module):
    """One GRU step (Eqs. 5-8) as a module: ``(h [B, H], x [B, K]) -> h'``."""

    hidden: int

    @nn.compact
    def __call__(self, h: Array, x: Array) -> Array:
        xp = nn.Dense(3 * self.hidden, name="W")(x)
        U = self.param("U", nn.initializers.orthogonal(column_axis=-1), (self.hidden, 3 * self.hidden))
        return gru_step(U, h, xp)[0]


def maxout(x: Array, pieces: int = 2) -> Array:
    """Maxout ``h`` of Eq. 11 over groups of ``pieces`` consecutive features: ``[..., m] -> [..., m/pieces]``."""
    return x.reshape(*x.shape[:-1], x.shape[-1] // pieces, pieces).max(axis=-1)


def dropout(x: Array, rate: float, keys: Array) -> Array:
    """Inverted dropout of ``x [B, ...]``: each unit zeroed with probability ``rate``, the others
    scaled by ``1 / (1 - rate)``; row ``b``'s mask is drawn from ``keys[b]`` (one key per row, so a
    row gets the same mask whichever device or batch it is in)."""
    keep = jax.vmap(lambda key, row: jax.random.bernoulli(key, 1.0 - rate, row.shape))(keys, x)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def fold_rows(keys: Array, i) -> Array:
    """Each row's key folded with ``i``: a fresh key per row for draw ``i``."""
    return jax.vmap(jax.random.fold_in, (0, None))(keys, i)


class Parser(nn.Module):
    """GRU decoder with guided hybrid attention; see the module docstring for the equations."""

    config: TAPConfig | WAPConfig  # the parser's and its attention's sizes, the switches (dropout: TAP's only)

    def setup(self):
        c = self.config
        self.embed = nn.Embed(c.vocab_size, c.embed_dim, name="E")
        self.W_init = nn.Dense(c.parser_hidden, name="W_init")
        self.gru_hat = GRUCell(hidden=c.parser_hidden, name="gru_hat")
        self.gru = GRUCell(hidden=c.parser_hidden, name="gru")
        self.spatial = self.spatial_attention()
        if c.temporal:
            self.temporal_attention = TemporalAttention(dim=c.attention_dim, form=c.temporal_attention,
                                                        name="temporal")
        self.W_e = nn.Dense(c.maxout_dim, name="W_e")
        self.W_s = nn.Dense(c.maxout_dim, use_bias=False, name="W_s")
        self.W_c = nn.Dense(c.maxout_dim, use_bias=False, name="W_c")
        self.W_o = nn.Dense(c.vocab_size, name="W_o")

    def spatial_attention(self) -> nn.Module:
        """The spatial attention with coverage over the tracker's annotations (Eqs. 17-21); a
        parser over another annotation layout (WAP's grid) overrides it."""
        c = self.config
        return SpatialAttention(dim=c.attention_dim, coverage=c.coverage, kernel_width=c.coverage_kernel,
                                filters=c.coverage_filters, name="spatial")

    def precompute(self, A: Array, mask: Array) -> dict:
        """What every step reuses: ``{"A", "mask", "keys" = U_att A}`` (batch-leading leaves)."""
        return {"A": A, "mask": mask, "keys": self.spatial.keys(A)}

    def initial_state(self, enc: dict) -> dict:
        """``s_0 = tanh(W_init ā)`` (Eqs. 15-16, mean over real steps), zero attention history."""
        mask = enc["mask"]
        mean = (enc["A"] * mask[..., None]).sum(1) / jnp.maximum(mask.sum(1, keepdims=True), 1.0)
        state = {"s": jnp.tanh(self.W_init(mean)), "alpha": jnp.zeros_like(mask), "alpha_sum": jnp.zeros_like(mask)}
        if self.config.temporal:
            state["beta"] = jnp.zeros_like(mask[:, 0])
        return state

    def step(self, enc: dict, state: dict, prev_tokens: Array, keys: Array | None = None) -> tuple[Array, dict]:
        """One step (Eqs. 11-14, 17-27): ``prev_tokens [B]`` (-1: none) -> ``(log p(y_t) [B, V], state)``.

        With per-row ``keys`` (training) and ``config.dropout`` > 0, the maxout output of Eq. 11
        goes through :func:`dropout` before ``W_o``: not in the TAP paper (its regulariser is weight
        noise), an option for short training runs."""
        y = self.embed(jnp.maximum(prev_tokens, 0)) * (prev_tokens >= 0)[:, None]
        s_hat = self.gru_hat(state["s"], y)
        query = self.spatial.query(s_hat)
        alpha, energies, c = self.spatial(enc["keys"], enc["A"], enc["mask"], query, state["alpha_sum"])
        new_state = {"alpha": alpha, "alpha_sum": state["alpha_sum"] + alpha}
        if self.config.temporal:
            c, new_state["beta"] = self.temporal_attention(y, state["s"], s_hat, query, c, energies, enc["mask"])
        s = self.gru(s_hat, c)
        out = maxout(self.W_e(y) + self.W_s(s) + self.W_c(c))
        if keys is not None and self.config.dropout:
            out = dropout(out, self.config.dropout, keys)
        return jax.nn.log_softmax(self.W_o(out)), {"s": s, **new_state}
