"""The TAP model: tracker + parser, as a decoding family ("encode once, then step").

:class:`TAP` implements :class:`tapjax.common.family.Family` with pure methods over an
explicit parameter pytree, and :meth:`TAP.teacher_forced` runs the *same* :meth:`TAP.step`
in a ``lax.scan`` over the caption for training.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from tapjax.tap.nets import tracker
from tapjax.tap.nets.flax_family import FamilyNet, FlaxFamily, scan_caption
from tapjax.tap.nets.model_config import TAPConfig
from tapjax.tap.nets.parser import Parser, dropout, fold_rows
from tapjax.tap.nets.tracker import Tracker

Array = jax.Array


class TAPNet(FamilyNet):
    """Flax module holding the tracker and parser parameters; methods mirror :class:`TAP`.

    ``keys`` (training, one random key per row): dropout (``config.dropout``) of the annotations
    in :meth:`encode` and of the readout in :meth:`step`."""

    config: TAPConfig

    def setup(self):
        c = self.config
        self.tracker = Tracker(hidden=c.tracker_hidden, layers=c.tracker_layers, pool_after=c.pool_after)
        self.parser = Parser(config=c)

    def encode(self, features, feature_mask, keys=None):
        A, mask = self.tracker(features, feature_mask)
        if keys is not None and self.config.dropout:
            A = dropout(A, self.config.dropout, keys)
        return self.parser.precompute(A, mask)

    def init_state(self, enc):
        return self.parser.initial_state(enc)

    def step(self, enc, state, prev_tokens, keys=None):
        return self.parser.step(enc, state, prev_tokens, keys)


@dataclasses.dataclass(frozen=True)
class TAP(FlaxFamily):
    """Track, Attend and Parse as a decoding family: ``encode`` maps ``features [B, N, 8]``,
    ``feature_mask [B, N]`` to ``{"A" [B,L,D], "mask" [B,L], "keys"}``, the state is
    ``{"s", "alpha", "alpha_sum"[, "beta"]}`` (:class:`~tapjax.tap.nets.flax_family.FlaxFamily`)."""

    config: TAPConfig
    Net, Config = TAPNet, TAPConfig

    @property
    def stride(self) -> int:
        """Input points per annotation step (``N / L``)."""
        return tracker.stride(self.config.pool_after)

    def example_input(self) -> tuple[Array, Array]:
        features = jnp.zeros((1, 4 * self.stride, self.config.feature_dim))
        return features, jnp.ones(features.shape[:2])

    def teacher_forced(self, params, features, feature_mask, tokens, keys=None):
        """Runs :meth:`step` over the ground-truth caption ``tokens [B, T]``.

        ``keys`` (training, one random key per row): dropout (``config.dropout``) of the
        annotations and of each step's readout, each with its own draw of the row's key.
        Returns ``(log_probs [B, T, V], alpha [B, T, L], annotation mask [B, L])``.
        """
        draw = (lambda i: None) if keys is None else (lambda i: fold_rows(keys, i))
        variables = self.variables(params)
        enc = self.net.apply(variables, features, feature_mask, draw(0), method=TAPNet.encode)
        def step(state, prev_tokens, t):
            return self.net.apply(variables, enc, state, prev_tokens, draw(t + 1),
                                                                    method=TAPNet.step)
        return (*scan_caption(step, self.init_state(params, enc), tokens), enc["mask"])
