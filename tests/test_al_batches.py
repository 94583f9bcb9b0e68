"""Sentence batches of the AL room: bucket lengths, training batches, the whole-pool chunk layout."""

import numpy as np
import pytest

from tapjax.al import corpora
from tapjax.al.sentence_batches import (chunk_count, finer_buckets, pool_chunks, training_batches)
from tapjax.al.vocabulary import Vocabs


def _encoded(lengths):
    words = [[f"w{j}" for j in range(n)] for n in lengths]
    corpus = corpora.Tagged(words, [["O"] * n for n in lengths])
    return Vocabs.build(corpus, corpus.tags, 1, False).encode(corpus)


def test_bucket_length():
    """A sentence is padded to the smallest bucket that holds it; past the largest, the next power of two."""
    data = _encoded([1, 16, 17, 40])
    lengths = [b["words"].shape[1] for b in training_batches(data, range(4), 1, (16, 32), 20)]
    assert lengths == [16, 16, 32, 64]


def test_finer_buckets():
    assert finer_buckets((16, 32, 64, 128)) == (8, 16, 24, 32, 48, 64, 96, 128)


def test_training_batches_cover_each_sentence_once_shuffled():
    data = _encoded(np.random.default_rng(0).integers(1, 60, 50))
    batches = list(training_batches(data, range(50), 8, (16, 32, 64), 20, np.random.default_rng(1)))
    index = np.concatenate([b["index"] for b in batches])
    assert sorted(index[index >= 0].tolist()) == list(range(50))
    for b in batches:
        assert b["words"].shape[0] == 8 and (b["mask"].sum(1) == [len(data.words[i]) if i >= 0 else 0
                                                                 for i in b["index"]]).all()


def test_chunk_count_is_a_coarse_multiple_of_the_devices():
    assert [chunk_count(n, 1) for n in (1, 3, 5, 8, 9, 17, 33, 100)] == [1, 3, 5, 8, 10, 20, 40, 112]
    assert [chunk_count(n, 8) for n in (1, 9, 17, 100)] == [8, 16, 24, 112]
    for n in range(1, 300):
        assert n <= chunk_count(n, 1) <= 1.25 * n and chunk_count(n, 8) % 8 == 0


@pytest.mark.parametrize("devices", [1, 8])
def test_pool_chunks_layout_and_order(devices):
    rng = np.random.default_rng(0)
    data = _encoded(rng.integers(1, 100, 500))
    indices = rng.permutation(500)[:400]
    chunks, order = pool_chunks(data, indices, 256, (16, 32, 64), 20, devices)
    assert [c["words"].shape[2] for c in chunks] == [16, 32, 64, 128]
    for c in chunks:
        n_chunks, rows, length = c["words"].shape
        assert n_chunks % devices == 0 and rows == 256 // length and c["index"].shape == (n_chunks, rows)
    flat_index = np.concatenate([c["index"].reshape(-1) for c in chunks])
    assert flat_index[order].tolist() == indices.tolist()  # order: where each asked sentence lies
    assert (flat_index >= 0).sum() == len(indices)  # the rest is padding


def test_pool_chunks_keep_their_shapes_when_the_pool_shrinks_a_little():
    """One round's selection removes 2% of the pool: the compiled scoring program is reused."""
    rng = np.random.default_rng(0)
    data = _encoded(rng.integers(1, 100, 3000))
    pool = np.arange(3000)
    shapes = [c["words"].shape for c in pool_chunks(data, pool, 1024, (16, 32, 64), 20, 8)[0]]
    smaller = np.setdiff1d(pool, rng.choice(3000, 60, replace=False))
    assert [c["words"].shape for c in pool_chunks(data, smaller, 1024, (16, 32, 64), 20, 8)[0]] == shapes
