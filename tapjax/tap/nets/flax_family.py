"""A Flax network as a decoding family: the wrapper TAP, WAP and the GRU language model share.

Each of the three is a Flax module (:class:`FamilyNet`) whose ``encode`` / ``init_state`` / ``step``
methods compute the model, and a frozen dataclass over the module's config (:class:`FlaxFamily`)
that implements :class:`tapjax.common.family.Family` by applying those methods to an explicit
parameter pytree: the family is hashable (a static ``jax.jit`` argument) and its parameters are
plain data. Training runs the *same* step over the ground-truth caption (:func:`scan_caption`,
teacher forcing), so training and decoding cannot drift apart.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from typing import Any, Callable, ClassVar, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array
PyTree = Any


class FamilyNet(nn.Module):
    """A family's network: a subclass defines ``encode(features, feature_mask) -> enc``,
    ``init_state(enc) -> state`` and ``step(enc, state, prev_tokens) -> (log_probs, state)``."""

    def init_all(self, features: Array, feature_mask: Array) -> tuple[Array, PyTree]:
        """One pass through every method, so that initialising with it creates every variable."""
        enc = self.encode(features, feature_mask)
        return self.step(enc, self.init_state(enc), -jnp.ones(features.shape[:1], jnp.int32))


def scan_caption(step: Callable, state: PyTree, tokens: Array) -> tuple[Array, Array | None]:
    """Teacher forcing: ``step(state, prev_tokens [B], t) -> (log_probs [B, V], state)`` run from
    ``state`` over the caption ``tokens [B, T]`` in one ``lax.scan``, fed at step ``t`` the true
    symbol ``t - 1`` (-1, no symbol, at ``t = 0``). Returns ``(log_probs [B, T, V], alpha [B, T, L])``,
    ``alpha`` each step's spatial attention (None for a state without one)."""
    prev = jnp.concatenate([-jnp.ones_like(tokens[:, :1]), tokens[:, :-1]], axis=1)

    def body(state, prev_and_t):
        log_probs, state = step(state, *prev_and_t)
        return state, (log_probs, state.get("alpha"))

    _, outputs = jax.lax.scan(body, state, (prev.T, jnp.arange(tokens.shape[1])))
    return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), outputs)


@dataclasses.dataclass(frozen=True)
class FlaxFamily(abc.ABC):
    """The decoding family of the network ``Net(config)``: ``params`` are its parameters, which
    :meth:`variables` turns into the module's variables (a family with other variables, such as
    batch statistics, takes them all as its ``params`` and overrides it and :meth:`params_of`)."""

    config: Any
    Net: ClassVar[type[FamilyNet]]
    Config: ClassVar[type]  # the type of ``config``, for :meth:`from_config`

    @classmethod
    def from_config(cls, model: Mapping[str, Any]) -> FlaxFamily:
        """The family of a run config's ``model`` block (its ``Config.from_config``: TAP's and WAP's are
        :func:`tapjax.tap.nets.model_config.config_from_block`)."""
        return cls(cls.Config.from_config(model))

    @property
    def net(self) -> FamilyNet:
        return self.Net(self.config)

    @abc.abstractmethod
    def example_input(self) -> tuple[Array, Array]:
        """A one-row ``(features, feature_mask)`` of the family's input, for :meth:`init`."""

    def net_input(self, features: Array, feature_mask: Array) -> tuple[Array, Array]:
        """The family's input laid out as the network reads it (as it is, unless overridden)."""
        return features, feature_mask

    def variables(self, params: PyTree) -> dict:
        """The network's variables of the family's ``params``."""
        return {"params": params}

    def params_of(self, variables: dict) -> PyTree:
        """The family's ``params`` of the network's variables (the inverse of :meth:`variables`)."""
        return variables["params"]

    def init(self, rng: Array) -> PyTree:
        """Fresh parameters (one compiled program: faster than initialising op by op)."""
        init = jax.jit(functools.partial(self.net.init, method=self.Net.init_all))
        return self.params_of(init(rng, *self.net_input(*self.example_input())))

    def encode(self, params: PyTree, features: Array, feature_mask: Array) -> PyTree:
        return self.net.apply(self.variables(params), *self.net_input(features, feature_mask),
                              method=self.Net.encode)

    def init_state(self, params: PyTree, enc: PyTree) -> PyTree:
        return self.net.apply(self.variables(params), enc, method=self.Net.init_state)

    def step(self, params: PyTree, enc: PyTree, state: PyTree, prev_tokens: Array) -> tuple[Array, PyTree]:
        return self.net.apply(self.variables(params), enc, state, prev_tokens, method=self.Net.step)

    def forced(self, params: PyTree, enc: PyTree, tokens: Array) -> tuple[Array, Array | None]:
        """:func:`scan_caption` of :meth:`step` from :meth:`init_state`: ``(log_probs [B, T, V],
        alpha [B, T, L] or None)`` of the caption ``tokens [B, T]``."""
        def step(state, prev_tokens, t):
            return self.step(params, enc, state, prev_tokens)
        return scan_caption(step, self.init_state(params, enc), tokens)
