"""Decoding a CROHME split: the beam search (Eqs. 30-31) with each batch split over every device.

Validation during training, the final test, ``tapjax evaluate`` and the
benchmarks all decode through :func:`decode`. A batch of ``eval.batch_size`` expressions
(rounded up to a multiple of the device count) is split over the local devices of a 1-D
``'data'`` mesh with ``jax.shard_map``; each device runs the jitted search on its rows.
Every expression's search depends on its own row only, so the hypotheses do not depend on
the device count (``tests/test_decoding.py`` checks 1 device against 8).
"""

from __future__ import annotations

import functools

import jax
import ml_collections
import numpy as np

from tapjax.common import precompile, sharding
from tapjax.common.beam import beam_search
from tapjax.common.buckets import round_up
from tapjax.common.family import Family
from tapjax.tap.ink import batching, inputs
from tapjax.tap.ink.crohme import Split
from tapjax.tap.ink.symbols import Vocab
from tapjax.tap.read import exprate


def split_batches(split: Split, vocab: Vocab, config: ml_collections.ConfigDict, kinds, *,
                  batch_size: int, shuffle: bool, epoch: int = 0, num_devices: int = 1,
                  max_tokens: int | None = None, targets: bool = True):
    """Length-bucketed batches of ``split`` under ``config`` holding the inputs ``kinds`` read
    (:mod:`tapjax.tap.ink.inputs`: one kind, or a tuple for a mixture), padded to multiples of their
    strides; ``data.pad_to_longest``: one shape for the whole split (one compilation).

    ``max_tokens`` leaves out longer captions (training only: evaluation decodes every expression);
    ``targets=False`` gives the inputs only (decoding: the captions are not encoded).
    """
    sized = inputs.sized(kinds)
    buckets = token_buckets = None
    if config.data.pad_to_longest:
        buckets = (int(round_up(sized[0].lengths(split).max(), sized[0].multiple)),)
        token_buckets = (max(len(t) for t in split.tokens) + 1,)
    return batching.batches(split, vocab, batch_size, inputs=sized, buckets=buckets,
                            token_buckets=token_buckets, shuffle=shuffle, seed=config.train.seed, epoch=epoch,
                            num_devices=num_devices, max_tokens=max_tokens, targets=targets)


@functools.lru_cache(maxsize=16)
def _sharded_search(family: Family, kinds, mesh: jax.sharding.Mesh, beam: int, max_len: int, length_norm: bool):
    """``(params, batch) -> (tokens [B, max_len], lengths [B])`` of each row's best hypothesis, sharded;
    ``family`` reads the inputs ``kinds`` of the batch."""

    def best(params, batch):
        result = beam_search(family, params, *inputs.read(kinds, batch), beam=beam, max_len=max_len,
                             length_norm=length_norm)
        return result.tokens[:, 0], result.lengths[:, 0]

    return sharding.make_eval_fn(best, mesh)


def decode(family: Family, params, split: Split, vocab: Vocab, config: ml_collections.ConfigDict, *,
           kinds, beam: int, mesh: jax.sharding.Mesh | None = None) -> list[list[str]]:
    """The best hypothesis (beam ``beam``, 1 = greedy; ``eval.max_len`` steps at most; ranked as
    ``eval.length_norm`` says, :func:`~tapjax.common.beam.beam_search`) for each expression of
    ``split``, in order.

    ``family`` is a TAP or WAP model, an :class:`~tapjax.common.family.Ensemble` of one of them
    (Eq. 32) or a :class:`~tapjax.common.family.Mixture` of families (Eq. 33); ``kinds`` the inputs it
    reads (:mod:`tapjax.tap.ink.inputs`: a tuple with one per member for a mixture); ``mesh`` defaults to
    every local device. The search is compiled for every batch shape of ``split`` at once before
    the first batch decodes (:mod:`tapjax.common.precompile`).
    """
    mesh = mesh or sharding.data_mesh(jax.local_devices())
    n = mesh.devices.size
    search = _sharded_search(family, kinds, mesh, beam, config.eval.max_len, config.eval.length_norm)
    params = sharding.replicate(params, mesh)
    hyps = [None] * len(split)
    batches = list(split_batches(split, vocab, config, kinds, batch_size=int(round_up(config.eval.batch_size, n)),
                                 shuffle=False, num_devices=n, targets=False))
    precompile.compile_all(search, [(params, sharding.shard_batch(b, mesh)) for b in precompile.distinct(batches)])
    for batch in batches:
        tokens, lengths = search(params, sharding.shard_batch(batch, mesh))
        tokens, lengths = np.asarray(tokens), np.asarray(lengths)
        for row, index in enumerate(batch["index"]):
            if index >= 0:
                hyps[index] = vocab.decode(tokens[row, : lengths[row]].tolist())
    return hyps


def score(family: Family, params, split: Split, vocab: Vocab, config: ml_collections.ConfigDict, *,
          kinds, beam: int) -> dict:
    """Decodes ``split`` and scores it: ``{"n", "wer", "exprate", "le1", "le2", "le3"}``."""
    scores = exprate.score(list(split.tokens), decode(family, params, split, vocab, config, kinds=kinds, beam=beam))
    scores.pop("per_stroke_count")
    return scores
