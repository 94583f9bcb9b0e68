"""Preprocessing (the TAP authors' features) and the 8-dim TAP point features on hand-made ink:
each rule of the module docstring of tapjax.tap.ink.strokes has a test below."""

import numpy as np
import pytest

from tapjax.tap.ink.strokes import MAX_POINTS, Settings, keep_mask, preprocess

SETTINGS = Settings()
ROOT3 = np.sqrt(3)


def features(*traces):
    return preprocess([np.array(t, float) for t in traces], SETTINGS)


def pen_up(*traces):
    return features(*traces)[0][:, 7].tolist()


def test_default_threshold_is_the_authors():
    assert Settings() == Settings(min_distance=0.005)


def test_consecutive_duplicates_dropped_before_thinning():
    # threshold 0.005 * 100 = 0.5: (1, 0) is kept; the last point once, not twice
    assert pen_up([[0, 0], [0, 0], [1, 0], [100, 0], [100, 0]]) == [0, 0, 1]


def test_ties_with_the_threshold_are_kept():
    assert pen_up([[0, 0], [1, 0], [200, 0]]) == [0, 0, 1]          # 1 == 0.005 * 200
    assert pen_up([[0, 0], [0.999, 0], [200, 0]]) == [0, 1]


def test_coordinates_rounded_to_three_decimals():
    assert pen_up([[0, 0], [0.9996, 0], [200, 0]]) == [0, 0, 1]     # 0.9996 -> 1.0: a tie


def test_last_point_of_a_stroke_always_kept():
    assert pen_up([[0, 0], [100, 0], [100.1, 0]]) == [0, 0, 1]      # 0.1 from the last kept


def test_thinning_is_against_the_last_kept_point():
    # 0.3 apart each (threshold 0.5): every other one is 0.6 from the last kept point
    stroke = [[0.3 * i, 0] for i in range(7)] + [[100, 0]]
    x = features(stroke)[0][:, 0]
    np.testing.assert_allclose(np.diff(x[:4]), np.diff(x[:2]).repeat(3), rtol=1e-5)
    assert len(x) == 5


def test_one_point_stroke_gives_two_identical_points():
    for dot in ([[50, 50]], [[50, 50], [50, 50], [50, 50]]):
        out, point_strokes = features([[0, 0], [100, 0]], dot)
        assert point_strokes.tolist() == [0, 0, 1, 1]
        assert out[:, 6:].tolist() == [[1, 0], [0, 1], [1, 0], [0, 1]]
        np.testing.assert_array_equal(out[2, :2], out[3, :2])
        np.testing.assert_array_equal(out[2:, 2:6], 0)


def test_segment_weighted_moments_and_x_std_for_both_axes():
    # the curve is uniform on (0, 0)-(12, 24) whatever the spacing of its points: mean (6, 12),
    # x std 12 / sqrt(12) = 2 sqrt(3), which divides both axes
    out, _ = features([[0, 0], [1, 2], [2, 4], [12, 24]])
    expected = np.array([[-6, -12], [-5, -10], [-4, -8], [6, 12]]) / (2 * ROOT3)
    np.testing.assert_allclose(out[:, :2], expected, rtol=1e-6)


def test_zero_x_spread_divides_by_the_y_std():
    out, _ = features([[0, 0], [0, 12]])               # y uniform on [0, 12]: std sqrt(12)
    np.testing.assert_allclose(out[:, :2], [[0, -ROOT3], [0, ROOT3]], rtol=1e-6)


def test_only_dots_fall_back_to_point_moments():
    out, _ = features([[0, 0]], [[4, 0]])               # points (0,0) x2, (4,0) x2: std (2, 0)
    np.testing.assert_allclose(out[:, :2], [[-1, 0], [-1, 0], [1, 0], [1, 0]])


def test_differences_clamped_at_the_end_and_across_pen_ups():
    out, _ = features([[0, 0], [10, 0]], [[10, 10], [20, 10], [20, 20]])
    p = out[:, :2]
    def after(step):
        return p[np.minimum(np.arange(len(p)) + step, len(p) - 1)] - p
    np.testing.assert_allclose(out[:, 2:4], after(1), atol=1e-6)
    np.testing.assert_allclose(out[:, 4:6], after(2), atol=1e-6)
    assert out[1, 3] > 0                                  # pen-up: on to the next stroke
    assert out[-2, 5] > 0 and out[-1, 2:6].tolist() == [0, 0, 0, 0]


def test_features_are_float32_and_strokes_int32():
    out, point_strokes = features([[0, 0], [100, 0]], [[50, 50], [50, 60]])
    assert out.dtype == np.float32 and out.shape == (4, 8)
    assert point_strokes.dtype == np.int32 and point_strokes.tolist() == [0, 0, 1, 1]


# -- thinning --

def _sequential_keep(points, strokes, threshold):
    keep, last = [], None
    for i, (p, s) in enumerate(zip(points, strokes)):
        distance = np.linalg.norm(p - points[last]) if last is not None else 0
        ends = i == len(points) - 1 or s != strokes[i + 1]
        ok = i == 0 or s != strokes[i - 1] or ends or distance >= threshold
        keep.append(ok)
        last = i if ok else last
    return np.array(keep)


def test_keep_mask_uses_previous_kept_point():
    # 0.06 is kept (0.06 from 0, though 0.03 from 0.03), 0.09 is not; the stroke's end always is
    points = np.array([[0, 0], [0.03, 0], [0.06, 0], [0.09, 0], [0.12, 0], [0.13, 0]])
    np.testing.assert_array_equal(keep_mask(points, np.zeros(6, int), 0.05),
                                  [True, False, True, False, True, True])


def test_keep_mask_matches_sequential_definition():
    rng = np.random.default_rng(1)
    points = np.round(np.cumsum(rng.normal(0, 0.03, (400, 2)), axis=0), 2)  # ties happen
    strokes = np.sort(rng.integers(0, 6, 400))
    for threshold in (0.0, 0.02, 0.05, 0.2):
        np.testing.assert_array_equal(keep_mask(points, strokes, threshold),
                                      _sequential_keep(points, strokes, threshold))


def test_keep_mask_dense_stroke_thins_to_spaced_points():
    """A pen resting in place (the case that was quadratic): every kept point but the last is at
    least the threshold from the previous kept one, and the kept count is what the spacing allows."""
    points = np.stack([np.linspace(0, 10, 200_000), np.zeros(200_000)], axis=1)
    keep = keep_mask(points, np.zeros(200_000, int), 0.05)
    kept = points[keep]
    assert np.all(np.diff(kept[:-1, 0]) >= 0.05)
    assert len(kept) == pytest.approx(10 / 0.05, abs=2)


def test_expression_above_point_cap_is_refused():
    with pytest.raises(ValueError, match="MAX_POINTS"):
        preprocess([np.zeros((MAX_POINTS + 1, 2))], SETTINGS)


def test_settings_validation():
    with pytest.raises(ValueError, match="min_distance must be >= 0"):
        Settings(min_distance=-1)
