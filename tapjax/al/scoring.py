"""Per-sentence features of the unlabeled pool that the strategies score or select on.

* :func:`gradient_embedding` (W-BADGE paper Eq. 4): the gradient of a sentence's loss under
  the model's own greedy predictions ``ŷ`` with respect to the last layer's kernel
  ``W [H, C]``, flattened to ``[H * C]``: ``vmap`` over ``jax.grad`` of the per-sentence
  loss. :func:`gradient_embedding_closed_form` is Eq. 4 written out,
  ``g_x = Σ_t (p_t − onehot(ŷ_t)) ⊗ h_t`` (the tests' oracle).
* :func:`mnlp_score` (Eq. 1): ``(1/n) Σ_t log p(ŷ_t | …)``, the length-normalised
  log-probability of the decoded sequence.
* :func:`bald_disagreement` (Eq. 2): with ``T`` MC-dropout passes, the fraction of passes
  whose decoded sequence differs from the modal one: MC dropout through the whole network
  (the paper's, ``encoder_dropout``) or after the encoder only (see there).
* :func:`sentence_representation`: the encoder's sentence vector (Core-set's space).
* :func:`pool_features`: runs any of these over a whole pool as *one* jitted program,
  sharded over devices, returning one row per sentence (kept on device).
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from tapjax.al.learner import apply_model, per_example_keys
from tapjax.al.sentence_batches import pool_chunks
from tapjax.al.taggers import LAST_LAYER
from tapjax.al.vocabulary import Encoded
from tapjax.common import sharding

Array = jax.Array


def _last_layer(params):
    return params["params"][LAST_LAYER]


def _sentence_loss(W, b, h, tags, mask):
    """Summed token cross-entropy of one sentence (``h [T, H]``) for last-layer weights ``W``."""
    nll = optax.softmax_cross_entropy_with_integer_labels(h @ W + b, tags)
    return (nll * mask).sum()


def gradient_embedding(model, params, batch) -> Array:
    """Eq. 4 by autodiff: ``vmap(grad(per-sentence loss wrt W))`` at ``ŷ`` -> ``[B, H * C]``.

    Runs inside ``shard_map`` (see :func:`pool_features`): ``W`` is first cast to vary over
    the device axis, so that its gradient is this device's own, not ``psum``-med over
    devices as the gradient of a replicated value would be.
    """
    out = apply_model(model, params, batch)
    W, b = (jax.lax.pcast(_last_layer(params)[k], sharding.AXIS, to="varying") for k in ("kernel", "bias"))
    g = jax.vmap(jax.grad(_sentence_loss), in_axes=(None, None, 0, 0, 0))(W, b, out.h, out.pred, batch["mask"])
    return g.reshape(g.shape[0], -1)


def gradient_embedding_closed_form(model, params, batch) -> Array:
    """Eq. 4 directly: block ``i`` of ``g_x`` is ``Σ_t (p_ti − ŷ_ti) h_t``, laid out as ``[H, C]``."""
    out = apply_model(model, params, batch)
    err = jax.nn.softmax(out.logits) - jax.nn.one_hot(out.pred, out.logits.shape[-1])
    g = jnp.einsum("bth,btc->bhc", out.h * batch["mask"][..., None], err)
    return g.reshape(g.shape[0], -1)


def sentence_representation(model, params, batch) -> Array:
    """The encoder's sentence vector (masked mean of BiLSTM states), Core-set's space."""
    return apply_model(model, params, batch).sentence


def mnlp_score(model, params, batch) -> Array:
    """Eq. 1: ``max_y (1/n) log P(y | x)`` with ``y`` the greedy decoding; low = uncertain."""
    out = apply_model(model, params, batch)
    logp = jnp.take_along_axis(jax.nn.log_softmax(out.logits), out.pred[..., None], -1)[..., 0]
    return (logp * batch["mask"]).sum(1) / jnp.maximum(batch["mask"].sum(1), 1.0)


_HASH_MULTIPLIERS = (np.uint32(1_000_003), np.uint32(2_654_435_761))


def sequence_hashes(pred: Array, mask: Array) -> Array:
    """Two 32-bit polynomial hashes of each masked tag sequence ``[..., T] -> [..., 2]``."""
    tokens = ((pred + 1) * (mask > 0)).astype(jnp.uint32)

    def poly(m):
        powers = jnp.cumprod(jnp.full(tokens.shape[-1], m, jnp.uint32))
        return (tokens * powers).sum(-1, dtype=jnp.uint32)

    return jnp.stack([poly(m) for m in _HASH_MULTIPLIERS], -1)


def modal_disagreement(hashes: Array) -> Array:
    """``hashes [T, B, 2]`` of ``T`` decodings -> ``1 − (count of the modal sequence) / T`` per row."""
    same = jnp.all(hashes[:, None] == hashes[None, :], -1)  # [T, T, B]
    return 1.0 - same.sum(1).max(0) / hashes.shape[0]


_CHUNK_ELEMENTS = 1 << 20  # activations of the passes vectorised at once: 4 MiB of float32, cache-sized
# (on a CPU, much faster than larger chunks: benchmarks/RESULTS.md, AL speed)


def bald_disagreement(model, params, batch, key, passes: int, encoder_dropout: bool = False) -> Array:
    """Eq. 2: MC-dropout disagreement of ``passes`` decodings with the modal one.

    ``encoder_dropout=True`` (the ``paper`` config's) is the paper's full-network MC dropout:
    every dropout layer (the embeddings' too) active, the whole model per pass. Our design
    choice ``encoder_dropout=False`` (the default here, the ``quick`` config's): MC dropout
    only *after* the encoder. The embeddings and BiLSTM run once, deterministically; each
    pass re-samples the dropout of the decoder part (the dropout on the BiLSTM states and the
    output layer of the tagger; the dropout on the decoder's inputs and states of the
    encoder-decoder). That makes ``T`` passes cost one encoder pass plus ``T`` cheap decoder
    passes. Passes are vectorised (``vmap``) in equal chunks (a divisor of ``passes``: no
    remainder program to compile) that keep at most about ``_CHUNK_ELEMENTS`` activations
    live. Pass ``t``'s dropout key for a sentence is
    ``fold_in(fold_in(key, t), sentence index)``.
    """
    # with encoder_dropout only its size is used (XLA drops the unused encoder pass)
    enc = model.apply(params, batch["words"], batch["mask"], batch.get("chars"), method="encode")

    def one_pass(t):
        keys = per_example_keys(jax.random.fold_in(key, t), batch["index"])
        if encoder_dropout:
            out = apply_model(model, params, batch, keys)
        else:
            out = model.apply(params, enc, batch["mask"], keys, method="decode")
        return sequence_hashes(out.pred, batch["mask"])

    chunk = max(d for d in range(1, passes + 1) if passes % d == 0 and (d == 1 or d * enc.size <= _CHUNK_ELEMENTS))
    return modal_disagreement(jax.lax.map(one_pass, jnp.arange(passes), batch_size=chunk))


@functools.lru_cache(maxsize=64)
def _pool_program(fn: Callable, model, mesh, n_args: int, static: tuple):
    """``(params, chunks, *args) -> [rows of every chunk, ...]``, jitted (one compilation per chunk layout).

    ``chunks`` is a list of per-bucket batches ``[n_chunks, rows, ...]``, their chunk axis
    split over ``mesh``; each device runs ``fn`` over its chunks one after another
    (``lax.map``), skipping (``lax.cond``) the chunks that hold no sentence.
    """
    def local(params, chunks, *args):
        def score(batch):
            return fn(model, params, batch, *args, **dict(static))

        def score_or_skip(batch):  # a chunk of padding only (its first row is padding) costs nothing
            zeros = jax.tree.map(lambda s: jax.lax.pcast(jnp.zeros(s.shape, s.dtype), sharding.AXIS, to="varying"),
                                 jax.eval_shape(score, batch))
            return jax.lax.cond(batch["index"][0] >= 0, score, lambda _: zeros, batch)

        return [jax.lax.map(score_or_skip, c) for c in chunks]

    mapped = jax.shard_map(local, mesh=mesh, in_specs=(P(), P(sharding.AXIS)) + (P(),) * n_args,
                           out_specs=P(sharding.AXIS))

    def program(params, chunks, *args):
        return jnp.concatenate([x.reshape(-1, *x.shape[2:]) for x in mapped(params, chunks, *args)])

    return jax.jit(program)


def _split_over(x: np.ndarray, mesh) -> jax.Array:
    """``x``'s leading axis split over ``mesh`` (every host passes the whole ``x``)."""
    return jax.make_array_from_callback(x.shape, NamedSharding(mesh, P(sharding.AXIS)), lambda i: x[i])


def pool_features(fn: Callable, model, params, data: Encoded, indices: Sequence[int], cfg, mesh,
                  *args, **static) -> Array:
    """``fn(model, params, batch, *args, **static) -> [B, ...]`` over sentences ``indices``.

    Returns ``[len(indices), ...]`` in the order of ``indices``, on device. The sentences are
    laid out by :func:`~tapjax.al.sentence_batches.pool_chunks` (per ``cfg.score_buckets``
    length, chunks of at most ``cfg.score_tokens`` padded tokens, as many as all of ``data``
    would fill, a multiple of the device count: every pool drawn from ``data`` has the same
    shapes) and scored by one program (:func:`_pool_program`, cached per fn, model, mesh
    and static arguments; compiled once per layout); padding rows are dropped.
    """
    chunks, order = pool_chunks(data, indices, cfg.score_tokens, cfg.score_buckets, cfg.max_word,
                                mesh.devices.size)
    program = _pool_program(fn, model, mesh, len(args), tuple(sorted(static.items())))
    rows = program(params, jax.tree.map(lambda x: _split_over(x, mesh), chunks), *args)
    return rows[jnp.asarray(order)]
