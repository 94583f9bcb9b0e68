"""Sentence batches of the AL room: bucket lengths, training batches, the whole-pool chunk layout."""

import numpy as np
import pytest

from tapjax.al import corpora
from tapjax.al.sentence_batches import finer_buckets, pool_chunks, training_batches
from tapjax.al.vocabulary import Vocabs
from tapjax.common.buckets import fit_bucket


def _encoded(lengths):
    words = [[f"w{j}" for j in range(n)] for n in lengths]
    corpus = corpora.Tagged(words, [["O"] * n for n in lengths])
    return Vocabs.build(corpus, corpora.Tagged([], [])).encode(corpus)


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


@pytest.mark.parametrize("devices", [1, 8])
def test_pool_chunks_layout_and_order(devices):
    rng = np.random.default_rng(0)
    data = _encoded(rng.integers(1, 100, 500))
    indices = rng.permutation(500)[:400]
    chunks, order = pool_chunks(data, indices, 256, (16, 32, 64), 20, devices)
    assert [c["words"].shape[2] for c in chunks] == [16, 32, 64, 128]
    for c in chunks:
        n_chunks, rows, length = c["words"].shape
        everyone = sum(fit_bucket(len(w), (16, 32, 64), grow=True) == length for w in data.words)
        assert n_chunks % devices == 0 and rows <= 256 // length and c["index"].shape == (n_chunks, rows)
        assert n_chunks * rows >= everyone > n_chunks * (rows - 1)  # all of data spread evenly
        needed = -(-everyone // (256 // length))  # chunks of at most 256 tokens
        assert n_chunks == -(-needed // devices) * devices
        real = (c["index"][:, 0] >= 0).reshape(devices, -1)  # chunks holding sentences, per device
        assert real.sum(1).max() - real.sum(1).min() <= 1 and (np.diff(real.astype(int), axis=1) <= 0).all()
    flat_index = np.concatenate([c["index"].reshape(-1) for c in chunks])
    assert flat_index[order].tolist() == indices.tolist()  # order: where each asked sentence lies
    assert (flat_index >= 0).sum() == len(indices)  # the rest is padding


def test_every_pool_of_one_training_set_has_the_same_shapes():
    """Each round's pool is smaller (and W-BADGE takes long sentences): one compiled scoring program."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, 3000)
    data = _encoded(lengths)
    shapes = [c["words"].shape for c in pool_chunks(data, np.arange(3000), 1024, (16, 32, 64), 20, 8)[0]]
    long_ones = np.argsort(-lengths)[:600]
    smaller = np.setdiff1d(np.arange(3000), long_ones)
    assert [c["words"].shape for c in pool_chunks(data, smaller, 1024, (16, 32, 64), 20, 8)[0]] == shapes
