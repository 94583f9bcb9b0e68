"""The TAP model: tracker + parser, as a decoding family ("encode once, then step").

:class:`TAP` implements :class:`tapjax.decode.family.Family` with pure methods over an
explicit parameter pytree, and :meth:`TAP.teacher_forced` runs the *same* :meth:`TAP.step`
in a ``lax.scan`` over the caption for training.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from tapjax.nn.parser import Parser
from tapjax.nn.tracker import Tracker

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class TAPConfig:
    """Model sizes; the defaults are the paper's / reference implementation's (P4)."""

    vocab_size: int = 111
    feature_dim: int = 8
    tracker_hidden: int = 250
    tracker_layers: int = 4
    pool_after: tuple[int, ...] = (3, 4)
    embed_dim: int = 256
    parser_hidden: int = 256
    attention_dim: int = 500
    coverage: bool = True
    coverage_kernel: int = 121
    coverage_filters: int = 256
    temporal: bool = True
    maxout_dim: int = 256


class TAPNet(nn.Module):
    """Flax module holding the tracker and parser parameters; methods mirror :class:`TAP`."""

    config: TAPConfig

    def setup(self):
        c = self.config
        self.tracker = Tracker(c.tracker_hidden, c.tracker_layers, tuple(c.pool_after))
        self.parser = Parser(c.vocab_size, c.embed_dim, c.parser_hidden, c.attention_dim, c.coverage,
                             c.coverage_kernel, c.coverage_filters, c.temporal, c.maxout_dim)

    def encode(self, features, feature_mask):
        return self.parser.precompute(*self.tracker(features, feature_mask))

    def init_state(self, enc):
        return self.parser.initial_state(enc)

    def step(self, enc, state, prev_tokens):
        return self.parser.step(enc, state, prev_tokens)

    def init_all(self, features, feature_mask):
        enc = self.encode(features, feature_mask)
        return self.step(enc, self.init_state(enc), -jnp.ones(features.shape[:1], jnp.int32))


@dataclasses.dataclass(frozen=True)
class TAP:
    """Track, Attend and Parse as a decoding family (hashable, so usable as a static jit argument)."""

    config: TAPConfig = TAPConfig()

    @property
    def net(self) -> TAPNet:
        return TAPNet(self.config)

    @property
    def stride(self) -> int:
        """Input points per annotation step (``N / L``)."""
        return 2 ** len(self.config.pool_after)

    def init(self, rng: Array) -> dict:
        """Fresh parameters."""
        features = jnp.zeros((1, 4 * self.stride, self.config.feature_dim))
        mask = jnp.ones(features.shape[:2])
        return self.net.init(rng, features, mask, method=TAPNet.init_all)["params"]

    def encode(self, params, features, feature_mask):
        """``features [B, N, 8]``, ``feature_mask [B, N]`` -> ``{"A" [B,L,D], "mask" [B,L], "keys"}``."""
        return self.net.apply({"params": params}, features, feature_mask, method=TAPNet.encode)

    def init_state(self, params, enc):
        """``{"s", "alpha", "alpha_sum"[, "beta"]}`` before the first symbol."""
        return self.net.apply({"params": params}, enc, method=TAPNet.init_state)

    def step(self, params, enc, state, prev_tokens):
        """``prev_tokens int32 [B]`` (-1: none) -> ``(log_probs [B, V], state)``."""
        return self.net.apply({"params": params}, enc, state, prev_tokens, method=TAPNet.step)

    def teacher_forced(self, params, features, feature_mask, tokens):
        """Runs :meth:`step` over the ground-truth caption ``tokens [B, T]``.

        Returns ``(log_probs [B, T, V], alpha [B, T, L], annotation mask [B, L])``.
        """
        enc = self.encode(params, features, feature_mask)
        prev = jnp.concatenate([-jnp.ones_like(tokens[:, :1]), tokens[:, :-1]], axis=1)

        def body(state, prev_t):
            log_probs, state = self.step(params, enc, state, prev_t)
            return state, (log_probs, state["alpha"])

        _, (log_probs, alpha) = jax.lax.scan(body, self.init_state(params, enc), prev.T)
        return jnp.swapaxes(log_probs, 0, 1), jnp.swapaxes(alpha, 0, 1), enc["mask"]
