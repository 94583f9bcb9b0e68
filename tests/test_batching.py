"""Length-bucketed batches: shapes, masks, coverage, determinism."""

import numpy as np
import pytest

from tapjax.tap.ink import render
from tapjax.tap.ink.batching import batches, bucket_lengths
from tapjax.tap.ink.crohme import Split
from tapjax.tap.ink.inputs import Images, Points
from tapjax.tap.ink.symbols import Vocab

POINTS = (Points(4),)
SYMBOLS = ["<eol>", "x", "^", "{", "}", "2", "+", "1"]


@pytest.fixture
def vocab():
    return Vocab(SYMBOLS)


def toy_split(n=23, seed=0):
    rng = np.random.default_rng(seed)
    features, point_strokes, tokens, token_strokes = [], [], [], []
    for i in range(n):
        length = int(rng.integers(5, 60))
        strokes = np.sort(rng.integers(0, 3, length)).astype(np.int32)
        strokes[:3] = [0, 1, 2]
        strokes.sort()
        features.append(rng.normal(size=(length, 8)).astype(np.float32))
        point_strokes.append(strokes)
        caption = ["x", "^", "{", "2", "}"] + ["+", "1"] * int(rng.integers(0, 4))
        tokens.append(caption)
        token_strokes.append([[0], [], [], [1, 2], []] + [[], []] * ((len(caption) - 5) // 2))
    return Split("toy", [f"k{i}" for i in range(n)], [""] * n, features, point_strokes, tokens,
                 token_strokes, [3] * n)


def test_bucket_lengths_are_multiples_of_4_and_cover_the_longest():
    buckets = bucket_lengths([5, 9, 13, 57, 101], 4, num_buckets=4)
    assert all(b % 4 == 0 for b in buckets) and buckets[-1] >= 101
    assert list(buckets) == sorted(set(buckets))


def test_default_shapes_one_token_length_per_point_bucket(vocab):
    split = toy_split(60)
    shapes = {(b["features"].shape[1], b["tokens"].shape[1])
              for b in batches(split, vocab, 4, inputs=POINTS, buckets=(16, 32, 64))}
    assert len(shapes) <= 3 and all(t % 4 == 0 for _, t in shapes)


def test_shapes_masks_and_alignment(vocab):
    split = toy_split()
    for batch in batches(split, vocab, 4, inputs=POINTS, buckets=(16, 32, 64), token_buckets=(8, 12), seed=3):
        B, N, _ = batch["features"].shape
        T = batch["tokens"].shape[1]
        assert B == 4 and N in (16, 32, 64) and T in (8, 12)
        assert batch["feature_mask"].shape == (B, N) and batch["align"].shape == (B, T, N)
        assert batch["align"].dtype == np.uint8 and batch["tokens"].dtype == np.int32
        for b, i in enumerate(batch["index"]):
            if i < 0:
                assert batch["feature_mask"][b].sum() == batch["token_mask"][b].sum() == 0
                continue
            n, t = len(split.features[i]), len(split.tokens[i])
            np.testing.assert_array_equal(batch["features"][b, :n], split.features[i])
            assert batch["feature_mask"][b].sum() == n and batch["token_mask"][b].sum() == t + 1
            assert batch["tokens"][b, t] == 0 and vocab.decode(batch["tokens"][b]) == split.tokens[i]
            align = batch["align"][b]
            np.testing.assert_array_equal(align[0, :n], split.point_strokes[i] == 0)
            np.testing.assert_array_equal(align[3, :n], split.point_strokes[i] >= 1)
            assert align[1].sum() == align[t].sum() == align[:, n:].sum() == 0


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_example_once_per_epoch(vocab, shuffle):
    split = toy_split()
    seen = [i for batch in batches(split, vocab, 4, inputs=POINTS, shuffle=shuffle, num_devices=2)
            for i in batch["index"] if i >= 0]
    assert sorted(seen) == list(range(len(split)))
    if not shuffle:
        assert seen == list(range(len(split)))


def test_deterministic_per_seed_and_epoch(vocab):
    split = toy_split()
    def order(**kw):
        return [tuple(b["index"]) for b in batches(split, vocab, 4, inputs=POINTS, **kw)]
    assert order(seed=1, epoch=2) == order(seed=1, epoch=2)
    assert order(seed=1, epoch=2) != order(seed=1, epoch=3)


def test_device_divisibility_drop_remainder_and_max_tokens(vocab):
    split = toy_split()
    with pytest.raises(ValueError, match="divisible"):
        next(batches(split, vocab, 6, inputs=POINTS, num_devices=4))
    kept = [b for b in batches(split, vocab, 4, inputs=POINTS, drop_remainder=True)]
    assert all((b["index"] >= 0).all() for b in kept)
    short = [i for b in batches(split, vocab, 4, inputs=POINTS, max_tokens=8) for i in b["index"] if i >= 0]
    assert sorted(short) == [i for i, t in enumerate(split.tokens) if len(t) + 1 <= 8]


def test_too_long_and_unknown_tokens_are_errors(vocab):
    split = toy_split(4)
    with pytest.raises(ValueError, match="exceeds the largest bucket"):
        next(batches(split, vocab, 4, inputs=POINTS, buckets=(4,)))
    split.tokens[0] = ["\\Pi"]
    with pytest.raises(ValueError, match="k0"):
        list(batches(split, vocab, 4, inputs=POINTS, shuffle=False))


def test_real_train_batches(data_root, cache_dir):
    from tapjax.tap.ink.crohme import load_folder
    split = load_folder("TestEM2014GT", data_root, workers=1)
    small = split.take(range(8))
    vocab = Vocab.from_data_root(data_root)
    batch = next(batches(small, vocab, 8, inputs=POINTS, shuffle=False))
    assert batch["features"].shape[1] % 4 == 0
    assert batch["align"].sum(axis=(1, 2)).min() > 0


def test_image_batches_hold_each_rendered_expression_column_by_column(vocab):
    """WAP's input: the kept points drawn (render.render_points), bucketed by width in multiples of 16, no
    alignment; with points too (a mixture), each input padded to its own buckets."""
    split = toy_split(9)
    images = Images(render.Settings(height=16, max_width=64, pen_width=1.0, margin=1.0), 16)
    widths = images.lengths(split)
    for batch in batches(split, vocab, 4, inputs=(images, Points(4)), shuffle=False):
        assert batch["images"].shape[1:] == (batch["image_mask"].shape[1], 16) and batch["images"].shape[1] % 16 == 0
        assert batch["features"].shape[1] % 4 == 0 and "align" in batch
        for row, i in enumerate(batch["index"]):
            if i >= 0:
                drawn = render.render_points(split.features[i][:, :2], split.point_strokes[i], images.settings)
                np.testing.assert_array_equal(batch["images"][row, :widths[i]], drawn.T)
                assert batch["image_mask"][row].sum() == widths[i] == drawn.shape[1]
    batch = next(batches(split, vocab, 4, inputs=(images,)))
    assert "align" not in batch and "features" not in batch
