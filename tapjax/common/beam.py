"""Batched beam search compiled with ``jax.jit`` (TAP Eqs. 30-31); greedy is beam width 1.

    y^ = argmax_y  log P(y | x)                                               (30)
    S_t = S_{t-1} - log p(y_t | y_<t, x)                                       (31)

approximated by keeping the ``K`` best partial hypotheses per expression (``S_t`` negated is the
running score kept here). As in the TAP/WAP decoders, each step keeps the ``K - dead`` best
extensions of the live hypotheses (``dead``: those finished); an extension emitting EOS (id 0)
is finished. The search stops when none is live or after ``max_len`` steps; the answer is the
best finished hypothesis by total log-probability, or (``length_norm``, the TAP authors') by
log-probability per symbol, EOS included; if none finished, the best live one.

All of it is one ``lax.while_loop`` on device: the batch is encoded once and tiled to ``B * K``
rows; each step is one ``family.step``, a ``top_k`` over the ``K * V`` extensions and a gather of
the state rows by parent; per-step tokens and parents (and attention, on request) go to
``[max_len, B, K]`` histories, read back once at the end.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from tapjax.common.family import Family

Array = jax.Array
EOS = 0
NEG_INF = -jnp.inf


class BeamResult(NamedTuple):
    """The ``n_best`` hypotheses per expression: finished ones best first, then unfinished ones
    (reached ``max_len`` without EOS) best first.

    ``tokens int32 [B, n, max_len]``: symbols then EOS (0) then 0-padding;
    ``lengths int32 [B, n]``: number of symbols before EOS (``max_len`` if unfinished);
    ``scores float32 [B, n]``: summed log-probability, EOS step included (Eq. 31);
    ``finished bool [B, n]``: whether the hypothesis emitted EOS (``-inf`` score and
    ``False`` mark an empty slot when fewer than ``n`` hypotheses exist);
    ``alpha float32 [B, max_len, L]`` / ``beta float32 [B, max_len]``: per-step attention
    of the best hypothesis (zero after its end), only with ``with_attention=True``.
    """

    tokens: Array
    lengths: Array
    scores: Array
    finished: Array
    alpha: Array | None = None
    beta: Array | None = None


class _Loop(NamedTuple):
    t: Array  # steps done
    scores: Array  # [B, K] live hypotheses' scores, -inf for empty slots
    dead: Array  # [B] finished hypotheses so far
    prev: Array  # [B*K] last symbol of each slot
    state: object  # family state, [B*K, ...] leaves
    hist: dict  # "tokens"/"parents" [T, B, K] (+ "alpha" [T, B, K, L], "beta" [T, B, K])
    pool: dict  # finished: "scores"/"end"/"slot" [B, K]


def beam_search(
    family: Family,
    params,
    features: Array,
    feature_mask: Array,
    *,
    beam: int,
    max_len: int,
    n_best: int = 1,
    length_norm: bool,
    with_attention: bool = False,
    forced_length: Array | None = None,
) -> BeamResult:
    """Decodes a batch of expressions; see the module docstring for the semantics.

    ``features [B, N, F]``, ``feature_mask [B, N]`` (or, for a family that takes one input per
    member, e.g. a :class:`~tapjax.common.family.Mixture`, matching tuples of such arrays);
    ``family``, ``beam``, ``max_len``, ``n_best``, ``with_attention`` and ``length_norm`` are
    static (one compiled program per combination and input shape, cached). ``length_norm`` ranks the hypotheses by their
    log-probability divided by their length in symbols, ``<eol>`` included (what the TAP
    authors' decoder does: their ``translate.py`` divides each sample's cost by its length; the
    paper does not say), else by the plain sum of log-probabilities (Eq. 30); returned scores
    are always plain sums.

    ``forced_length int [B]`` (for timing untrained models): forbids EOS before step
    ``forced_length[b]`` and forces it there, so expression ``b`` is searched for exactly
    ``forced_length[b] + 1`` steps, as a trained model does on a caption of that length.
    """
    _check_args(features, feature_mask, beam, max_len, n_best, forced_length)
    return _search(
        family, params, features, feature_mask, forced_length,
        beam=beam, max_len=max_len, n_best=n_best, with_attention=with_attention, length_norm=length_norm,
    )


def greedy(family: Family, params, features: Array, feature_mask: Array, **kwargs) -> BeamResult:
    """Greedy decoding: the most probable symbol at every step (``beam_search`` with beam 1,
    hypotheses ranked by their summed log-probability)."""
    return beam_search(family, params, features, feature_mask, beam=1, length_norm=False, **kwargs)


def _check_args(features, feature_mask, beam, max_len, n_best, forced_length) -> None:
    where = "tapjax.common.beam.beam_search"
    xs, masks = jax.tree.leaves(features), jax.tree.leaves(feature_mask)
    batch = {x.shape[0] for x in xs}
    if (len(xs) != len(masks) or len(batch) != 1
            or any(x.ndim != 3 or m.shape != x.shape[:2] for x, m in zip(xs, masks))):
        raise ValueError(
            f"{where}: expected features [B, N, F] and feature_mask [B, N] (or tuples of them, one B), got "
            f"{[x.shape for x in xs]} and {[m.shape for m in masks]}"
        )
    if beam < 1 or max_len < 1 or not 1 <= n_best <= 2 * beam:
        raise ValueError(f"{where}: need beam >= 1, max_len >= 1, 1 <= n_best <= 2*beam; "
                         f"got {beam}, {max_len}, {n_best}")
    if forced_length is not None and jnp.shape(forced_length) != (*batch,):
        raise ValueError(f"{where}: forced_length must have shape [B]={(*batch,)}, got {jnp.shape(forced_length)}")


@functools.partial(jax.jit, static_argnames=("family", "beam", "max_len", "n_best", "with_attention", "length_norm"))
def _search(family, params, features, feature_mask, forced_length, *,
            beam, max_len, n_best, with_attention, length_norm):
    B, K = jax.tree.leaves(features)[0].shape[0], beam
    def tile(tree):
        return jax.tree.map(lambda x: jnp.repeat(x, K, axis=0), tree)
    enc = family.encode(params, features, feature_mask)
    state = tile(family.init_state(params, enc))
    enc = tile(enc)

    def body(c: _Loop) -> _Loop:
        log_probs, state = family.step(params, enc, c.state, c.prev)
        log_probs = log_probs.reshape(B, K, -1).astype(jnp.float32)
        if forced_length is not None:
            log_probs = _force_length(log_probs, c.t, forced_length)
        V = log_probs.shape[-1]
        cand, idx = jax.lax.top_k((c.scores[:, :, None] + log_probs).reshape(B, K * V), K)
        parent, token = idx // V, idx % V
        valid = (jnp.arange(K) < K - c.dead[:, None]) & jnp.isfinite(cand)
        ended = valid & (token == EOS)
        rows = (parent + K * jnp.arange(B)[:, None]).reshape(-1)
        hist = _record(c.hist, c.t, token, parent, _attention(state, rows, with_attention, B, K))
        return _Loop(
            t=c.t + 1,
            scores=jnp.where(valid & ~ended, cand, NEG_INF),
            dead=c.dead + ended.sum(axis=1),
            prev=token.reshape(-1),
            state=jax.tree.map(lambda x: jnp.take(x, rows, axis=0), state),
            hist=hist,
            pool=_add_finished(c.pool, c.dead, ended, cand, c.t),
        )

    def cond(c: _Loop) -> Array:
        return (c.t < max_len) & jnp.any(jnp.isfinite(c.scores))

    init = _Loop(
        t=jnp.zeros((), jnp.int32),
        state=state,
        **_typed_like(jax.tree.leaves(feature_mask)[0], dict(
            scores=jnp.full((B, K), NEG_INF).at[:, 0].set(0.0),
            dead=jnp.zeros((B,), jnp.int32),
            prev=jnp.full((B * K,), -1, jnp.int32),
            hist=_empty_history(family, params, enc, state, max_len, B, K, with_attention),
            pool={"scores": jnp.full((B, K), NEG_INF), "end": jnp.zeros((B, K), jnp.int32),
                  "slot": jnp.zeros((B, K), jnp.int32)},
        )),
    )
    c = jax.lax.while_loop(cond, body, init)
    return _best(c, n_best, max_len, length_norm)


def _typed_like(x: Array, tree):
    """``tree``'s leaves plus a zero taken from the batch input ``x``: inside ``jax.shard_map``
    they then vary over the mesh axes as the batch does, as the loop's outputs will (elsewhere
    the values are unchanged)."""
    zero = x.reshape(-1)[0] * 0
    return jax.tree.map(lambda leaf: leaf + zero.astype(leaf.dtype), tree)


def _force_length(log_probs: Array, t: Array, forced_length: Array) -> Array:
    """EOS impossible before step ``forced_length``, certain at it (log-prob 0)."""
    is_eos = jnp.arange(log_probs.shape[-1]) == EOS
    at_end = (t == forced_length)[:, None, None]
    forced = jnp.where(is_eos, 0.0, NEG_INF)
    return jnp.where(at_end, forced, jnp.where(is_eos, NEG_INF, log_probs))


def _attention(state, rows: Array, with_attention: bool, B: int, K: int) -> dict:
    """The step's attention of each kept hypothesis (its parent's row), as ``[B, K, ...]``."""
    if not with_attention:
        return {}
    return {k: jnp.take(state[k], rows, axis=0).reshape(B, K, *state[k].shape[1:])
            for k in ("alpha", "beta") if k in state}


def _empty_history(family, params, enc, state, max_len, B, K, with_attention) -> dict:
    hist = {"tokens": jnp.zeros((max_len, B, K), jnp.int32), "parents": jnp.zeros((max_len, B, K), jnp.int32)}
    if with_attention:
        prev = jnp.zeros((B * K,), jnp.int32)
        _, shapes = jax.eval_shape(family.step, params, enc, state, prev)
        for k in ("alpha", "beta"):
            if k not in shapes:
                raise ValueError(f"beam_search(with_attention=True): the family's step state has no {k!r} entry")
            hist[k] = jnp.zeros((max_len, B, K, *shapes[k].shape[1:]), shapes[k].dtype)
    return hist


def _record(hist: dict, t: Array, token: Array, parent: Array, attention: dict) -> dict:
    new = {"tokens": token, "parents": parent, **attention}
    return {k: hist[k].at[t].set(new[k].astype(hist[k].dtype)) for k in hist}


def _add_finished(pool: dict, dead: Array, ended: Array, cand: Array, t: Array) -> dict:
    """Appends the hypotheses that just emitted EOS to each expression's finished pool."""
    B, K = ended.shape
    pos = jnp.where(ended, dead[:, None] + jnp.cumsum(ended, axis=1) - 1, K)  # K = dropped
    b = jnp.broadcast_to(jnp.arange(B)[:, None], (B, K))
    new = {"scores": cand, "end": jnp.broadcast_to(t, (B, K)), "slot": jnp.broadcast_to(jnp.arange(K), (B, K))}
    return {k: pool[k].at[b, pos].set(new[k], mode="drop") for k in pool}


def _best(c: _Loop, n_best: int, max_len: int, length_norm: bool) -> BeamResult:
    """Ranks finished hypotheses (then live ones) and reads the ``n_best`` back from history."""
    B, K = c.scores.shape
    scores = jnp.concatenate([c.pool["scores"], c.scores], axis=1)  # [B, 2K]
    finished = jnp.concatenate([jnp.isfinite(c.pool["scores"]), jnp.zeros((B, K), bool)], axis=1)
    end = jnp.concatenate([c.pool["end"], jnp.broadcast_to(c.t - 1, (B, K))], axis=1)
    slot = jnp.concatenate([c.pool["slot"], jnp.broadcast_to(jnp.arange(K), (B, K))], axis=1)
    rank = scores / (end + 1).astype(scores.dtype) if length_norm else scores
    order = jnp.lexsort((-rank, ~finished), axis=1)[:, :n_best]
    def pick(x):
        return jnp.take_along_axis(x, order, axis=1)
    scores, finished, end, slot = pick(scores), pick(finished), pick(end), pick(slot)
    paths = _backtrack(c.hist, end, slot, max_len)
    lengths = jnp.where(finished, end, jnp.where(jnp.isfinite(scores), end + 1, 0))
    att = {k: v[:, 0] for k, v in paths.items() if k in ("alpha", "beta")}
    return BeamResult(paths["tokens"], lengths.astype(jnp.int32), scores, finished, att.get("alpha"), att.get("beta"))


def _backtrack(hist: dict, end: Array, slot: Array, max_len: int) -> dict:
    """Follows parent pointers from ``(end, slot) [B, n]`` back to step 0.

    Returns each history entry along the paths, batch-major ``[B, n, max_len, ...]``, with
    zeros after each path's end.
    """
    B, n = end.shape
    b = jnp.arange(B)[:, None]

    def step(slot, t):
        on = t <= end
        out = {k: jnp.where(on.reshape(on.shape + (1,) * (v.ndim - 3)), v[t][b, slot], 0)
               for k, v in hist.items() if k != "parents"}
        return jnp.where(on, hist["parents"][t][b, slot], slot), out

    _, paths = jax.lax.scan(step, slot, jnp.arange(max_len - 1, -1, -1))
    return {k: jnp.moveaxis(v[::-1], 0, 2) for k, v in paths.items()}
