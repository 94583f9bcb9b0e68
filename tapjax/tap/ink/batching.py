"""Length-bucketed, padded batches for a (sharded) TAP or WAP train or eval step.

Every batch has ``B = batch_size`` rows (divisible by ``num_devices``), the arrays of its
``inputs`` (:mod:`tapjax.tap.ink.inputs`: points, images, or both for a mixture) and ``T``
tokens. Input lengths and ``T`` come from a small fixed set of buckets, multiples of the input's
``multiple`` (the model's stride: 4 for the paper's tracker, 16 for WAP's watcher), so a jitted
step compiles only a few shapes; rows are grouped by the first input's buckets. A bucket's last
batch is filled with dummy rows (``index`` -1, all masks 0) unless ``drop_remainder``, so every
expression is seen exactly once per epoch.

Batch arrays (numpy): the inputs' arrays (e.g. ``features`` float32 ``[B, N, 8]`` and
``feature_mask`` ``[B, N]``); ``tokens`` int32 ``[B, T]`` (caption ids, EOS, then 0);
``token_mask`` float32 ``[B, T]`` (the caption and its EOS); ``align`` uint8 ``[B, T, N]`` (points
only: 1 iff point ``n`` belongs to a stroke of token ``t``); ``index`` int32 ``[B]`` (the row in
the split, -1 for padding). With ``targets=False`` (decoding) only the inputs and ``index``: the
captions are not encoded, so an out-of-vocabulary reference is decoded and scored like any other.

The order is a pure function of ``(seed, epoch)`` (a resumed run sees the same batches);
``shuffle=False`` keeps the split order.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from tapjax.common.buckets import fit_bucket, round_up
from tapjax.tap.ink.crohme import Split
from tapjax.tap.ink.inputs import Images, Points
from tapjax.tap.ink.symbols import EOS, Vocab

TAIL_QUANTILES = (0.95, 0.99)


def bucket_lengths(lengths: Sequence[int], multiple: int, num_buckets: int = 8) -> tuple[int, ...]:
    """Padded lengths (multiples of ``multiple``) at the length quantiles.

    Quantiles ``1/k, ..., (k-1)/k`` for ``k = num_buckets``, plus the long tail
    (:data:`TAIL_QUANTILES`) so the few longest sequences do not set the padding of
    the next-longest eighth, plus the maximum so every length fits.
    """
    if len(lengths) == 0:
        raise ValueError("no lengths to bucket")
    levels = np.r_[np.arange(1, num_buckets) / num_buckets, TAIL_QUANTILES, 1.0]
    quantiles = np.quantile(np.asarray(lengths), np.clip(levels, 0, 1))
    rounded = np.ceil(quantiles / multiple).astype(int) * multiple
    return tuple(sorted(set(int(r) for r in rounded)))


def token_lengths_per_bucket(point_lengths: np.ndarray, token_lengths: np.ndarray,
                             buckets: Sequence[int], multiple: int = 4) -> np.ndarray:
    """For each point bucket, the longest caption + EOS among its expressions (rounded up).

    Padding a batch's tokens to its point bucket's entry gives one token length per
    point bucket, so a shuffled epoch has at most ``len(buckets)`` batch shapes.
    """
    longest = np.zeros(len(buckets), dtype=int)
    np.maximum.at(longest, np.searchsorted(buckets, point_lengths), token_lengths)
    return round_up(longest, multiple)


def _batch_indices(point_lengths: np.ndarray, buckets, batch_size: int, shuffle: bool,
                   rng: np.random.Generator, drop_remainder: bool) -> list[np.ndarray]:
    """Rows of each batch: consecutive in split order, or shuffled within point buckets."""
    if not shuffle:
        groups = [np.arange(len(point_lengths))]
    else:
        bucket_of = np.searchsorted(buckets, point_lengths)
        groups = [rng.permutation(np.flatnonzero(bucket_of == b)) for b in range(len(buckets))]
    batches = [g[i:i + batch_size] for g in groups for i in range(0, len(g), batch_size)]
    if drop_remainder:
        batches = [b for b in batches if len(b) == batch_size]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def _align_matrix(token_strokes: list[list[int]], point_strokes: np.ndarray,
                  stroke_count: int) -> np.ndarray:
    """uint8 ``[tokens, points]``: token t drew the stroke of point n."""
    drew = np.zeros((len(token_strokes), max(stroke_count, 1)), dtype=np.uint8)
    for t, strokes in enumerate(token_strokes):
        drew[t, strokes] = 1
    return drew[:, point_strokes]


def _encode(split: Split, vocab: Vocab, i: int) -> list[int]:
    try:
        return vocab.encode(split.tokens[i]) + [EOS]
    except KeyError as error:
        raise ValueError(f"{split.name} expression {split.keys[i]}: {error.args[0]}") from None


def make_batch(split: Split, vocab: Vocab, rows: Sequence[int], batch_size: int,
               sizes: dict[Points | Images, int], n_tokens: int, targets: bool = True) -> dict[str, np.ndarray]:
    """The padded arrays of one batch (see the module docstring): each input of ``sizes`` padded to
    its length there; ``targets=False``: inputs only. Rows past ``len(rows)`` are dummies (index -1,
    zero masks)."""
    batch = {"index": np.full(batch_size, -1, np.int32)}
    batch["index"][:len(rows)] = rows
    for kind, length in sizes.items():
        batch.update(kind.arrays(split, rows, batch_size, length))
    if targets:
        n_points = next((length for kind, length in sizes.items() if isinstance(kind, Points)), None)
        batch.update(_targets(split, vocab, rows, batch_size, n_points, n_tokens))
    return batch


def _targets(split: Split, vocab: Vocab, rows: Sequence[int], batch_size: int,
             n_points: int | None, n_tokens: int) -> dict[str, np.ndarray]:
    """``tokens``, ``token_mask`` and (with ``n_points``) ``align`` of a batch (see the module docstring)."""
    out = {
        "tokens": np.zeros((batch_size, n_tokens), np.int32),
        "token_mask": np.zeros((batch_size, n_tokens), np.float32),
    }
    if n_points is not None:
        out["align"] = np.zeros((batch_size, n_tokens, n_points), np.uint8)
    for b, i in enumerate(rows):
        ids = _encode(split, vocab, i)
        t = len(ids)
        out["tokens"][b, :t] = ids
        out["token_mask"][b, :t] = 1
        if n_points is not None:
            out["align"][b, :t - 1, :len(split.features[i])] = _align_matrix(
                split.token_strokes[i], split.point_strokes[i], split.stroke_count[i])
    return out


def batches(split: Split, vocab: Vocab, batch_size: int, *, inputs: Sequence[Points | Images],
            buckets: Sequence[int] | None = None, token_buckets: Sequence[int] | None = None, shuffle: bool = True,
            seed: int = 0, epoch: int = 0, num_devices: int = 1, max_tokens: int | None = None,
            drop_remainder: bool = False, targets: bool = True) -> Iterator[dict[str, np.ndarray]]:
    """Padded batches over ``split`` (see the module docstring).

    ``inputs``: the arrays each batch holds (:func:`tapjax.tap.ink.inputs.sized`), the rows grouped by
    the first one's buckets.
    ``buckets``: the first input's padded lengths (default :func:`bucket_lengths` of the split,
    multiples of its ``multiple``); every other input is padded to its :func:`bucket_lengths`.
    ``token_buckets``: the padded token lengths; by default each bucket of the first input has one
    (:func:`token_lengths_per_bucket`), so shapes come in at most ``len(buckets)`` pairs.
    ``max_tokens``: leave out expressions whose caption plus EOS is longer.
    """
    if batch_size % num_devices:
        raise ValueError(f"batch_size {batch_size} is not divisible by num_devices {num_devices}")
    if not inputs:
        raise ValueError("batches: no input to batch (points or images)")
    rows = np.arange(len(split))
    token_lengths = np.array([len(t) + 1 for t in split.tokens], dtype=int)
    if max_tokens is not None:
        rows = rows[token_lengths <= max_tokens]
    if len(rows) == 0:
        return
    lengths = {kind: kind.lengths(split)[rows] for kind in inputs}
    kind_buckets = {kind: tuple(bucket_lengths(lengths[kind], kind.multiple)) for kind in inputs[1:]}
    kind_buckets = {inputs[0]: tuple(buckets or bucket_lengths(lengths[inputs[0]], inputs[0].multiple)), **kind_buckets}
    for kind in inputs:  # fail before the first batch, not silently
        fit_bucket(int(lengths[kind].max()), kind_buckets[kind], kind.unit)
    first, first_buckets = lengths[inputs[0]], kind_buckets[inputs[0]]
    per_bucket = token_lengths_per_bucket(first, token_lengths[rows], first_buckets)
    rng = np.random.default_rng([seed, epoch])
    for positions in _batch_indices(first, first_buckets, batch_size, shuffle, rng, drop_remainder):
        chosen = rows[positions]
        sizes = {kind: fit_bucket(int(lengths[kind][positions].max()), kind_buckets[kind], kind.unit)
                 for kind in inputs}
        if token_buckets:
            n_tokens = fit_bucket(int(token_lengths[chosen].max()), tuple(token_buckets), "token")
        else:
            n_tokens = int(per_bucket[np.searchsorted(first_buckets, first[positions])].max())
        yield make_batch(split, vocab, chosen, batch_size, sizes, n_tokens, targets)
