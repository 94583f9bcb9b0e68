"""Preprocessing and the 8-dim TAP point features on hand-made ink."""

import numpy as np
import pytest

from tapjax.tap.strokes import MAX_POINTS, Settings, keep_mask, normalize, preprocess

TWO_STROKES = [np.array([[0, 0], [0, 0], [2, 0], [2, 2]], float),
               np.array([[4, 2], [4, 4]], float)]


def test_two_stroke_features_exact():
    features, strokes = preprocess(TWO_STROKES, Settings(normalization="height", min_distance=0.05))
    #   x    y    dx   dy   d'x  d'y  down up      (duplicate second point removed)
    expected = [
        [0.0, 0.0, 0.5, 0.0, 0.5, 0.5, 1, 0],
        [0.5, 0.0, 0.0, 0.5, 0.5, 0.5, 1, 0],
        [0.5, 0.5, 0.5, 0.0, 0.5, 0.5, 0, 1],
        [1.0, 0.5, 0.0, 0.5, 0.0, 0.0, 1, 0],
        [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0, 1],
    ]
    np.testing.assert_allclose(features, expected)
    assert features.dtype == np.float32
    np.testing.assert_array_equal(strokes, [0, 0, 0, 1, 1])
    assert strokes.dtype == np.int32


def test_std_normalization_zero_mean_unit_y_std():
    points = np.random.default_rng(0).normal(5, 3, (50, 2))
    out = normalize(points, "std")
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-12)
    assert out[:, 1].std() == pytest.approx(1)


def test_flat_ink_does_not_divide_by_zero():
    line = np.array([[0, 1], [4, 1]], float)
    np.testing.assert_allclose(normalize(line, "height"), [[0, 0], [1, 0]])


def _sequential_keep(points, strokes, threshold):
    keep, last = [], None
    for i, (p, s) in enumerate(zip(points, strokes)):
        ok = i == 0 or s != strokes[i - 1] or np.linalg.norm(p - points[last]) > threshold
        keep.append(ok)
        last = i if ok else last
    return np.array(keep)


def test_keep_mask_uses_previous_kept_point():
    points = np.array([[0, 0], [0.03, 0], [0.06, 0], [0.09, 0], [0.09, 0]])
    np.testing.assert_array_equal(keep_mask(points, np.zeros(5, int), 0.05),
                                  [True, False, True, False, False])


def test_keep_mask_matches_sequential_definition():
    rng = np.random.default_rng(1)
    points = np.cumsum(rng.normal(0, 0.03, (400, 2)), axis=0)
    strokes = np.sort(rng.integers(0, 6, 400))
    for threshold in (0.0, 0.02, 0.05, 0.2):
        np.testing.assert_array_equal(keep_mask(points, strokes, threshold),
                                      _sequential_keep(points, strokes, threshold))


def test_keep_mask_dense_stroke_thins_to_spaced_points():
    """A pen resting in place (the case that was quadratic): every kept point is more than the
    threshold from the previous kept one, and the kept count is what the spacing allows."""
    points = np.stack([np.linspace(0, 10, 200_000), np.zeros(200_000)], axis=1)
    keep = keep_mask(points, np.zeros(200_000, int), 0.05)
    kept = points[keep]
    assert np.all(np.diff(kept[:, 0]) > 0.05)
    assert len(kept) == pytest.approx(10 / 0.05, abs=2)


def test_expression_above_point_cap_is_refused():
    with pytest.raises(ValueError, match="MAX_POINTS"):
        preprocess([np.zeros((MAX_POINTS + 1, 2))])


def test_settings_validation():
    with pytest.raises(ValueError):
        Settings(normalization="minmax")
    with pytest.raises(ValueError):
        Settings(min_distance=-1)
