"""Model families for decoding: "encode once, then step", ensembles (Eq. 32), mixtures (Eq. 33).

Beam search (``tapjax.common.beam``) only ever talks to a :class:`Family`. A TAP model,
a WAP model or a GRU language model each implement the three pure methods below, and so
do :class:`Ensemble` (N models of one family, TAP Eq. 32) and :class:`Mixture` (a weighted
mixture of different families, TAP Eq. 33), so the search never needs to know which it is
decoding with.

Families are passed to ``jax.jit`` as static arguments, so a family object must be
hashable and compare equal to an equivalent one (frozen dataclasses are).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

Array = jax.Array
PyTree = Any


@runtime_checkable
class Family(Protocol):
    """The decoding interface a model family implements (all methods pure, jit-friendly).

    Every pytree (``enc``, ``state``) has the batch as the leading axis of every leaf:
    beam search tiles them to ``B * K`` rows with ``jnp.repeat`` and reorders state rows
    by the parent hypothesis with ``jnp.take(..., axis=0)``.
    """

    def encode(self, params: PyTree, features: Array, feature_mask: Array) -> PyTree:
        """``features [B, N, 8]``, ``feature_mask [B, N]`` -> ``enc`` (annotations, keys, masks)."""
        ...

    def init_state(self, params: PyTree, enc: PyTree) -> PyTree:
        """The decoder state before the first symbol (a dict, see :meth:`step`)."""
        ...

    def step(self, params: PyTree, enc: PyTree, state: PyTree, prev_tokens: Array) -> tuple[Array, PyTree]:
        """One decoding step: ``prev_tokens int32 [B]`` (-1 = no previous symbol yet) ->
        ``(log_probs [B, V], new state)``. The new state is a dict holding ``"alpha" [B, L]``,
        the step's spatial attention, and ``"beta" [B]``, the temporal gate, when the model
        has temporal attention."""
        ...


def _attention_of(state: PyTree, axis_mean: int | None = None) -> dict:
    """The ``alpha``/``beta`` entries of a state dict (averaged over ``axis_mean`` if given)."""
    if not isinstance(state, dict):
        return {}
    out = {k: state[k] for k in ("alpha", "beta") if k in state}
    if axis_mean is not None:
        out = {k: v.mean(axis=axis_mean) for k, v in out.items()}
    return out


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """N models of one family averaged at every step (TAP Eq. 32)::

        P(y_t | y_<t, x) = 1/N  sum_n  P_n(y_t | y_<t, x)                      (32)

    ``params`` are the N models' parameter pytrees stacked along a new leading axis
    (:func:`stack_params`); the members are run with ``jax.vmap`` over that axis. The
    members' ``enc``/``state`` leaves carry the model axis second (``[B, N, ...]``) so the
    batch stays leading for the search. The returned log-probabilities are the log of the
    mean of the members' probabilities (``logsumexp - log N``), and the state's ``alpha``/
    ``beta`` are the members' mean.
    """

    family: Family

    def encode(self, params, features, feature_mask):
        return jax.vmap(self.family.encode, in_axes=(0, None, None), out_axes=1)(params, features, feature_mask)

    def init_state(self, params, enc):
        members = jax.vmap(self.family.init_state, in_axes=(0, 1), out_axes=1)(params, enc)
        return {"members": members, **_attention_of(members, axis_mean=1)}

    def step(self, params, enc, state, prev_tokens):
        step = jax.vmap(self.family.step, in_axes=(0, 1, 1, None), out_axes=(0, 1))
        log_probs, members = step(params, enc, state["members"], prev_tokens)  # [N, B, V]
        log_probs = jax.nn.logsumexp(log_probs, axis=0) - math.log(log_probs.shape[0])
        return log_probs, {"members": members, **_attention_of(members, axis_mean=1)}


def stack_params(params_list: list[PyTree]) -> PyTree:
    """Stacks N parameter pytrees of one family along a new leading axis (for :class:`Ensemble`)."""
    if not params_list:
        raise ValueError("stack_params: need at least one parameter pytree, got none")
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *params_list)


@dataclasses.dataclass(frozen=True)
class Mixture:
    """A weighted mixture of different model families (TAP Eq. 33)::

        P(y_t | y_<t, x) = sum_i  w_i P_i(y_t | y_<t, x),   sum_i w_i = 1      (33)

    e.g. TAP, WAP and a GRU language model. ``params`` is a tuple with one parameter pytree
    per family, in the order of ``families``; each family encodes once and then steps on
    its own state. With ``weights=None`` the weights are an input instead (one compiled search
    serves every setting, e.g. while tuning them on a validation set): ``params`` is
    ``{"members": that tuple, "weights": float array [n]}``. Each family reads its own input
    (TAP the points, WAP an image): ``features`` and ``feature_mask`` are tuples with one entry
    per family, in that order, or arrays that every family reads. All families must share the
    vocabulary. The state's ``alpha``/``beta`` are those of the first family that has them
    (families may attend over different annotation lengths, so they are not averaged).
    """

    families: tuple
    weights: tuple | None

    def __post_init__(self):
        if self.weights is None and self.families:
            return
        if len(self.families) != len(self.weights) or not self.families:
            raise ValueError(
                f"Mixture: need one weight per family, got {len(self.families)} families "
                f"and {len(self.weights)} weights"
            )
        if any(w < 0 for w in self.weights) or not math.isclose(sum(self.weights), 1.0, abs_tol=1e-6):
            raise ValueError(f"Mixture: weights must be non-negative and sum to 1, got {self.weights}")

    def _members(self, params) -> tuple:
        return params if self.weights is not None else params["members"]

    def encode(self, params, features, feature_mask):
        def per_family(x):
            return x if isinstance(x, tuple) else (x,) * len(self.families)
        return tuple(f.encode(p, x, m) for f, p, x, m in
                     zip(self.families, self._members(params), per_family(features), per_family(feature_mask),
                         strict=True))

    def init_state(self, params, enc):
        members = tuple(f.init_state(p, e) for f, p, e in zip(self.families, self._members(params), enc))
        return {"members": members, **self._attention(members)}

    def step(self, params, enc, state, prev_tokens):
        outs = [f.step(p, e, s, prev_tokens)
                for f, p, e, s in zip(self.families, self._members(params), enc, state["members"])]
        weights = self.weights if self.weights is not None else params["weights"]
        log_w = jnp.log(jnp.asarray(weights, jnp.float32))[:, None, None]
        log_probs = jax.nn.logsumexp(jnp.stack([lp for lp, _ in outs]) + log_w, axis=0)
        members = tuple(s for _, s in outs)
        return log_probs, {"members": members, **self._attention(members)}

    @staticmethod
    def _attention(members) -> dict:
        return next((a for a in map(_attention_of, members) if a), {})
