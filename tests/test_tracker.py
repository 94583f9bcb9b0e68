"""Tracker: shapes, time pooling, and padding never changing a real annotation."""

import jax
import numpy as np

from tapjax.tap.nets.tracker import Tracker


def _apply(tracker, features, mask):
    params = tracker.init(jax.random.key(0), features, mask)
    return lambda f, m: tracker.apply(params, f, m)


def test_shapes_and_pooled_mask():
    tracker = Tracker(hidden=5, layers=4, pool_after=(3, 4))
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 16, 8)).astype(np.float32)
    mask = np.zeros((2, 16), np.float32)
    mask[0, :16] = 1
    mask[1, :9] = 1
    A, a_mask = _apply(tracker, features, mask)(features, mask)
    assert A.shape == (2, 4, 10) and tracker.stride == 4
    np.testing.assert_array_equal(a_mask, [[1, 1, 1, 1], [1, 1, 1, 0]])  # points 0, 4, 8 real


def test_padding_never_changes_real_annotations():
    tracker = Tracker(hidden=6, layers=4, pool_after=(3, 4))
    rng = np.random.default_rng(1)
    real = rng.normal(size=(1, 12, 8)).astype(np.float32)
    short = real, np.ones((1, 12), np.float32)
    garbage = rng.normal(size=(1, 20, 8)).astype(np.float32) * 100
    long_features = np.concatenate([real, garbage], axis=1)
    long_mask = np.concatenate([np.ones((1, 12)), np.zeros((1, 20))], axis=1).astype(np.float32)
    apply = _apply(tracker, *short)
    A_short, _ = apply(*short)
    A_long, m_long = apply(long_features, long_mask)
    np.testing.assert_allclose(A_long[:, :3], A_short, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(m_long[0], [1, 1, 1, 0, 0, 0, 0, 0])
    assert np.abs(np.asarray(A_long[:, 3:])).max() == 0.0
