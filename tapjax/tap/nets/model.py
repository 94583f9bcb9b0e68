"""The TAP model: tracker + parser, as a decoding family ("encode once, then step").

:class:`TAP` implements :class:`tapjax.common.family.Family` with pure methods over an
explicit parameter pytree, and :meth:`TAP.teacher_forced` runs the *same* :meth:`TAP.step`
in a ``lax.scan`` over the caption for training.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from tapjax.tap.nets.attention import TEMPORAL_FORMS
from tapjax.tap.nets.parser import Parser, dropout, fold_rows
from tapjax.tap.nets import tracker
from tapjax.tap.nets.tracker import Tracker

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class TAPConfig:
    """The model's sizes and switches, made from the config's ``model`` block
    (:meth:`from_config`), which is the only place they are written (the paper's are in
    ``experiments/configs/crohme14.py``).

    ``pool_after``: the tracker layers after which time is halved; ``coverage``: the coverage
    model (Eqs. 20-21) in the spatial attention; ``temporal``: temporal attention (Eqs. 22-27),
    in the form ``temporal_attention`` (one of :data:`~tapjax.tap.nets.attention.TEMPORAL_FORMS`):
    ``"paper"`` (Eqs. 22-27 as printed) or ``"authors"`` (as the authors' released code
    computes ``beta_t``; see :mod:`tapjax.tap.nets.attention`).

    Runs saved before ``temporal_attention`` existed have no such field and are refused: their
    temporal attention was a third form, since dropped (``m_t`` from ``s_{t-1}``, its own
    ``W_m`` instead of ``W_att``, ``beta_t`` against ``log sum_i exp(e_ti)``; parameters
    ``parser/temporal/{U_sm, W_m, nu_m}``), which neither form can load.
    """

    vocab_size: int
    feature_dim: int
    tracker_hidden: int
    tracker_layers: int
    pool_after: tuple[int, ...]
    embed_dim: int
    parser_hidden: int
    attention_dim: int
    coverage: bool
    coverage_kernel: int
    coverage_filters: int
    temporal: bool
    temporal_attention: str
    maxout_dim: int
    dropout: float = 0.0  # > 0: dropout of the annotations and of the readout in training (not in the paper)

    def __post_init__(self):
        if self.temporal_attention not in TEMPORAL_FORMS:
            raise ValueError(f"model config: temporal_attention is {self.temporal_attention!r}; "
                             f"choose from {TEMPORAL_FORMS}")

    @classmethod
    def from_config(cls, model: Mapping[str, Any], **overrides) -> "TAPConfig":
        """From a config's ``model`` block (a ConfigDict or dict), by keyword; ``overrides`` replace fields.

        An unknown or missing field is a ``ValueError`` naming it.
        """
        values = {**dict(model), **overrides}
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        unknown, missing = sorted(values.keys() - names), sorted(required - values.keys())
        if unknown or missing:
            raise ValueError(f"model config: unknown fields {unknown}, missing fields {missing}")
        return cls(**dict(values, pool_after=tuple(values["pool_after"])))


class TAPNet(nn.Module):
    """Flax module holding the tracker and parser parameters; methods mirror :class:`TAP`."""

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

    def init_all(self, features, feature_mask):
        enc = self.encode(features, feature_mask)
        return self.step(enc, self.init_state(enc), -jnp.ones(features.shape[:1], jnp.int32))


@dataclasses.dataclass(frozen=True)
class TAP:
    """Track, Attend and Parse as a decoding family (hashable, so usable as a static jit argument)."""

    config: TAPConfig

    @classmethod
    def from_config(cls, model: Mapping[str, Any]) -> "TAP":
        """The model of a config's ``model`` block (see :meth:`TAPConfig.from_config`)."""
        return cls(TAPConfig.from_config(model))

    @property
    def net(self) -> TAPNet:
        return TAPNet(self.config)

    @property
    def stride(self) -> int:
        """Input points per annotation step (``N / L``)."""
        return tracker.stride(self.config.pool_after)

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

    def teacher_forced(self, params, features, feature_mask, tokens, keys=None):
        """Runs :meth:`step` over the ground-truth caption ``tokens [B, T]``.

        ``keys`` (training, one random key per row): dropout (``config.dropout``) of the
        annotations and of each step's readout, each with its own draw of the row's key.
        Returns ``(log_probs [B, T, V], alpha [B, T, L], annotation mask [B, L])``.
        """
        draw = (lambda i: None) if keys is None else (lambda i: fold_rows(keys, i))
        enc = self.net.apply({"params": params}, features, feature_mask, draw(0), method=TAPNet.encode)
        prev = jnp.concatenate([-jnp.ones_like(tokens[:, :1]), tokens[:, :-1]], axis=1)

        def body(state, prev_and_t):
            prev_t, t = prev_and_t
            log_probs, state = self.net.apply({"params": params}, enc, state, prev_t, draw(t + 1),
                                              method=TAPNet.step)
            return state, (log_probs, state["alpha"])

        steps = (prev.T, jnp.arange(tokens.shape[1]))
        _, (log_probs, alpha) = jax.lax.scan(body, self.init_state(params, enc), steps)
        return jnp.swapaxes(log_probs, 0, 1), jnp.swapaxes(alpha, 0, 1), enc["mask"]
