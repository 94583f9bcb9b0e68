"""Padded batches of encoded sentences, grouped by length bucket so XLA compiles one program per shape.

* :func:`training_batches`: ``rows`` sentences a batch at the training buckets' lengths,
  optionally shuffled within buckets and across batches.
* :func:`inference_batches`: evaluation batches of about ``tokens`` padded tokens each.
* :func:`pool_chunks`: a whole pool as fixed-size chunks ``[n_chunks, rows, length]`` per bucket,
  ``n_chunks`` sized for the whole training set, so every round's pool has the same shapes.
* :func:`finer_buckets`: the buckets of evaluation and pool scoring, from the training ones.
* :func:`lockstep`: several replicas' batches stacked as ``[R, rows, length]`` for a vmapped program.

A sentence goes to the smallest bucket that holds it, past the largest to the next power of two
(:func:`tapjax.common.buckets.fit_bucket` with ``grow``). Padding rows have mask 0 and index -1.
"""

from __future__ import annotations

import collections
from typing import Iterator, Optional, Sequence

import numpy as np

from tapjax.al.vocabulary import Encoded
from tapjax.common.buckets import fit_bucket, round_up


def finer_buckets(buckets: Sequence[int]) -> tuple[int, ...]:
    """Half the first bucket, each bucket and the midpoints between consecutive ones."""
    mids = [(a + b) // 2 for a, b in zip(buckets, buckets[1:])]
    return tuple(sorted({buckets[0] // 2, *buckets, *mids}))


def pad_batch(words, chars, tags, index, length: int, rows: int, max_word: int) -> dict:
    """Pads lists of per-sentence id arrays to ``[rows, length]`` (chars ``[rows, length, max_word]``).

    Rows past the given sentences are padding (mask 0, index -1).
    """
    batch = {
        "words": np.zeros((rows, length), np.int32),
        "tags": np.zeros((rows, length), np.int32),
        "mask": np.zeros((rows, length), np.float32),
        "index": np.full((rows,), -1, np.int32),
    }
    if chars is not None:
        batch["chars"] = np.zeros((rows, length, max_word), np.int32)
    for r, (w, i) in enumerate(zip(words, index)):
        batch["words"][r, : len(w)] = w
        batch["mask"][r, : len(w)] = 1.0
        batch["index"][r] = i
        if tags is not None:
            batch["tags"][r, : len(w)] = tags[r]
        if chars is not None:
            for t, cs in enumerate(chars[r]):
                cs = cs[:max_word]
                batch["chars"][r, t, : len(cs)] = cs
    return batch


def _by_bucket(data: Encoded, indices: Sequence[int], buckets: Sequence[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i in indices:
        groups.setdefault(fit_bucket(len(data.words[i]), buckets, grow=True), []).append(int(i))
    return dict(sorted(groups.items()))


def _padded(data: Encoded, plan, max_word: int) -> Iterator[dict]:
    """``plan``: ``(length, members, rows)`` per batch."""
    for length, members, rows in plan:
        yield pad_batch(
            [data.words[i] for i in members],
            None if data.chars is None else [data.chars[i] for i in members],
            [data.tags[i] for i in members], members, length, rows, max_word)


def training_batches(data: Encoded, indices: Sequence[int], rows: int, buckets: Sequence[int], max_word: int,
                     rng: Optional[np.random.Generator] = None) -> Iterator[dict]:
    """Padded training batches of ``rows`` sentences of ``indices``, grouped by bucket length.

    With ``rng`` sentences are shuffled within buckets and batches across buckets.
    """
    plan = []
    for length, members in _by_bucket(data, indices, buckets).items():
        if rng is not None:
            rng.shuffle(members)
        plan += [(length, members[s: s + rows], rows) for s in range(0, len(members), rows)]
    if rng is not None:
        plan = [plan[j] for j in rng.permutation(len(plan))]
    return _padded(data, plan, max_word)


def inference_batches(data: Encoded, indices: Sequence[int], tokens: int, buckets: Sequence[int],
                      max_word: int, multiple: int) -> Iterator[dict]:
    """Padded batches for evaluation: about ``tokens`` padded tokens each.

    Shorter buckets get more rows (``tokens // length``, a multiple of ``multiple``, the
    device count). What is left of a bucket after its full batches goes in batches of an
    eighth as many rows, so little compute goes to padding rows while each bucket has just
    two shapes, the same whatever the sentences (compiled once, reused every round).
    """
    plan = []
    for length, members in _by_bucket(data, indices, buckets).items():
        rows = max(multiple, tokens // length // multiple * multiple)
        small = max(multiple, rows // 8 // multiple * multiple)
        cut = len(members) // rows * rows
        plan += [(length, members[s: s + rows], rows) for s in range(0, cut, rows)]
        plan += [(length, members[s: s + small], small) for s in range(cut, len(members), small)]
    return _padded(data, plan, max_word)


def _round_robin(n_chunks: int, devices: int) -> np.ndarray:
    """``perm[slot]`` = the chunk at ``slot`` when chunk ``j`` goes to device ``j % devices``:
    each device's contiguous share of the chunk axis then starts with its real chunks."""
    slot, per_device = np.arange(n_chunks), n_chunks // devices
    return (slot % per_device) * devices + slot // per_device


def pool_chunks(data: Encoded, indices: Sequence[int], tokens: int, buckets: Sequence[int], max_word: int,
                devices: int) -> tuple[list[dict], np.ndarray]:
    """Sentences ``indices`` of ``data`` as one padded batch per bucket, each array ``[n_chunks, rows, ...]``.

    The layout is sized for *every* sentence of ``data``, whichever ``indices`` are asked:
    a bucket has as many chunks of at most ``tokens // length`` rows as all of ``data``'s
    sentences of that length need, rounded up to a multiple of ``devices``, and those
    sentences spread evenly over them (``rows``). So every pool drawn from one training set
    (each round's, as it shrinks) has the same shapes: one compiled program serves the run.

    The asked sentences fill the first chunks of a bucket; the chunks are spread over the
    devices round-robin (:func:`_round_robin`), the empty ones last on each device. Returns
    the per-bucket batches and ``order``: the row of ``indices[p]`` when the chunks' rows are
    concatenated, bucket after bucket, in a flat ``[sum of n_chunks * rows]``.
    """
    sizes = collections.Counter(fit_bucket(len(w), buckets, grow=True) for w in data.words)
    groups = _by_bucket(data, indices, buckets)
    chunks, flat_row, offset = [], {}, 0
    for length in sorted(sizes):
        n_chunks = int(round_up(-(-sizes[length] // max(1, tokens // length)), devices))
        members, rows = groups.get(length, []), -(-sizes[length] // n_chunks)
        (batch,) = _padded(data, [(length, members, n_chunks * rows)], max_word)
        perm = _round_robin(n_chunks, devices)
        chunks.append({k: v.reshape(n_chunks, rows, *v.shape[1:])[perm] for k, v in batch.items()})
        slot = np.argsort(perm)  # of each chunk
        flat_row.update((i, offset + slot[j // rows] * rows + j % rows) for j, i in enumerate(members))
        offset += n_chunks * rows
    return chunks, np.asarray([flat_row[int(i)] for i in indices], np.int64)


def _pad_length(x: np.ndarray, length: int) -> np.ndarray:
    """``x [rows, length0, ...]`` right-padded with zeros to ``[rows, length, ...]`` (``[rows]`` as is)."""
    return x if x.ndim < 2 else np.pad(x, [(0, 0), (0, length - x.shape[1])] + [(0, 0)] * (x.ndim - 2))


def lockstep(sequences: Sequence[Sequence[dict]]) -> Iterator[tuple[dict, np.ndarray]]:
    """The batch sequences of ``R`` replicas as the steps of one program vmapped over them:
    ``(batches stacked [R, rows, length, ...], active [R] bool)`` per step.

    Each replica sees exactly its own batches, in order, right-padded to the step's common
    length: padding changes no real token's output (:mod:`tapjax.common.rnn`), and dropout
    masks are drawn per position whatever the length (JAX's default partitionable threefry
    bits, ``jax_threefry_partitionable``). A step takes the next batch of every replica
    that can, and gives the others (done, or waiting) a copy of an active replica's batch, to
    be discarded. The length is the longest next batch among the replicas with the most
    batches left, which must move every step for the replicas to finish in as few steps as
    the longest sequence; a replica with fewer left whose next batch is longer waits rather
    than lengthen the step.
    """
    heads = np.zeros(len(sequences), int)
    left = np.asarray([len(s) for s in sequences])
    while left.any():
        lengths = np.asarray([s[h]["words"].shape[1] if n else 0 for s, h, n in zip(sequences, heads, left)])
        length = lengths[left == left.max()].max()
        active = (left > 0) & (lengths <= length)
        first = int(np.argmax(active))
        batches = [s[h] if a else sequences[first][heads[first]] for s, h, a in zip(sequences, heads, active)]
        yield {k: np.stack([_pad_length(b[k], length) for b in batches]) for k in batches[first]}, active
        heads += active
        left -= active
