"""Ink augmentation: the maps, seeding, features computed again from the moved kept points,
alignment and shapes kept."""

import numpy as np
import pytest

from experiments.configs import crohme14
from tapjax.tap.ink import crohme, strokes
from tapjax.tap.ink.augment import Settings, augment_features, augment_split, for_epoch, linear_map, transform

STRONG = Settings(probability=1.0, scale=0.2, aspect=0.3, shear=0.3, rotation=15.0, jitter=0.01)


def synthetic_split(n: int = 8, seed: int = 0) -> crohme.Split:
    """``n`` expressions of 2-4 wavy strokes side by side (some a single point: a dot), one token
    per stroke, preprocessed."""
    rng = np.random.default_rng(seed)
    features, point_strokes, counts = [], [], []
    for _ in range(n):
        sizes = rng.integers(1, 60, size=rng.integers(2, 5))
        traces = [np.c_[30 * s + np.linspace(0, 20, m), 10 * np.sin(np.linspace(0, 4, m) + s)]
                  for s, m in enumerate(sizes)]
        f, ps = strokes.preprocess(traces)
        features.append(f), point_strokes.append(ps), counts.append(len(sizes))
    return crohme.Split("synthetic", [f"k{i}" for i in range(n)], [""] * n, features, point_strokes,
                        [["x"] * c for c in counts], [[[s] for s in range(c)] for c in counts], counts)


def wave(n: int = 400) -> np.ndarray:
    return np.c_[np.linspace(100, 300, n), 50 + 40 * np.sin(np.linspace(0, 9, n))]


def fitted_map(points: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """The matrix ``A`` with ``moved - c = A (points - c)``, ``c`` the centre of the bounding box,
    after checking that it explains every point."""
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    matrix = np.linalg.lstsq(points - centre, moved - centre, rcond=None)[0].T
    np.testing.assert_allclose(centre + (points - centre) @ matrix.T, moved, atol=1e-9)
    return matrix


def test_settings_of_zero_leave_points_and_features_where_they_were():
    points = wave()
    np.testing.assert_array_equal(transform(points, np.random.default_rng(0), Settings()), points)
    split = synthetic_split()
    same = augment_split(split, np.random.default_rng(0), Settings(probability=1.0))
    for a, b in zip(same.features, split.features):
        np.testing.assert_allclose(a, b, atol=1e-5)  # normalising normalised points again


def test_linear_map_of_known_draws():
    np.testing.assert_allclose(linear_map(1.0, 1.0, 0.0, 90.0), [[0, -1], [1, 0]], atol=1e-15)
    np.testing.assert_allclose(linear_map(2.0, 4.0, 0.0, 0.0), [[4, 0], [0, 1]])
    np.testing.assert_allclose(linear_map(1.0, 1.0, 0.5, 0.0), [[1, 0.5], [0, 1]])
    theta = np.deg2rad(30)
    rotate = [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    slant = np.array([[1, 0.5], [0, 1]])
    np.testing.assert_allclose(linear_map(1.0, 1.0, 0.5, 30.0), rotate @ slant, atol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_a_rotation_turns_the_points_about_the_centre_by_an_angle_in_range(seed):
    points = wave()
    moved = transform(points, np.random.default_rng(seed), Settings(rotation=20.0))
    matrix = fitted_map(points, moved)
    theta = np.rad2deg(np.arctan2(matrix[1, 0], matrix[0, 0]))
    assert 0 < abs(theta) <= 20
    np.testing.assert_allclose(matrix, linear_map(1.0, 1.0, 0.0, theta), atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_shear_slants_x_by_y_and_aspect_stretches_x_against_y(seed):
    points, rng = wave(), np.random.default_rng(seed)
    sheared = fitted_map(points, transform(points, rng, Settings(shear=0.3)))
    assert 0 < abs(sheared[0, 1]) <= 0.3
    np.testing.assert_allclose(sheared, [[1, sheared[0, 1]], [0, 1]], atol=1e-12)
    stretched = fitted_map(points, transform(points, rng, Settings(aspect=0.4)))
    ratio = stretched[0, 0] / stretched[1, 1]
    assert 0.6 <= ratio <= 1.4 and ratio != 1
    np.testing.assert_allclose(stretched, np.diag([np.sqrt(ratio), 1 / np.sqrt(ratio)]),
                               atol=1e-12)


def test_jitter_is_a_fraction_of_the_ink_height():
    points = wave(20_000)
    moved = transform(points, np.random.default_rng(0), Settings(jitter=0.02))
    height = np.ptp(points[:, 1])
    np.testing.assert_allclose((moved - points).std(axis=0), 0.02 * height, rtol=0.05)


def same_features(a: crohme.Split, b: crohme.Split) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.features, b.features))


def test_the_epoch_is_a_function_of_seed_and_epoch():
    split, config = synthetic_split(), crohme14.get_config("cpu")
    assert for_epoch(split, config, 0) is split  # off by default
    config.augment.update(probability=0.5, rotation=10.0, jitter=0.01)
    first = for_epoch(split, config, 3)
    assert same_features(first, for_epoch(split, config, 3))
    changed = [not np.array_equal(a, b) for a, b in zip(first.features, split.features)]
    assert 0 < sum(changed) < len(split)  # about half augmented
    assert not same_features(first, for_epoch(split, config, 4))
    config.train.seed = 1
    assert not same_features(first, for_epoch(split, config, 3))
    assert same_features(split, synthetic_split())  # the split itself untouched


def test_augmentation_moves_the_kept_points_and_keeps_shapes_strokes_and_alignment():
    split = synthetic_split()
    out = augment_split(split, np.random.default_rng(7), STRONG)
    assert (out.keys, out.tokens, out.token_strokes, out.stroke_count) == (
        split.keys, split.tokens, split.token_strokes, split.stroke_count)
    assert all(a is b for a, b in zip(out.point_strokes, split.point_strokes))
    replay = np.random.default_rng(7)
    assert (replay.random(len(split)) < 1).all()
    for i in range(len(split)):
        assert out.features[i].shape == split.features[i].shape and out.features[i].dtype == np.float32
        moved = transform(split.features[i][:, :2].astype(np.float64), replay, STRONG)
        points = strokes.renormalize(moved, split.point_strokes[i])
        np.testing.assert_allclose(out.features[i][:, :2], points, rtol=1e-6, atol=1e-6)
        assert not np.allclose(out.features[i], split.features[i], atol=1e-3)
        np.testing.assert_array_equal(out.features[i][:, 6:], split.features[i][:, 6:])  # pen down / up
        deltas = np.diff(out.features[i][:, :2], axis=0)
        same_stroke = split.point_strokes[i][1:] == split.point_strokes[i][:-1]
        np.testing.assert_allclose(out.features[i][:-1][same_stroke, 2:4], deltas[same_stroke], atol=1e-5)


def test_augmented_features_are_normalised_by_the_x_spread():
    split = synthetic_split()
    moved = augment_features(split.features[0], split.point_strokes[0], np.random.default_rng(1), STRONG)
    mean, std = strokes.segment_moments(moved[:, :2].astype(np.float64), split.point_strokes[0])
    np.testing.assert_allclose(mean, 0, atol=1e-5)
    assert std[0] == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize("fields, message", [
    (dict(probability=-0.1), r"augment.probability must be in \[0, 1\], not -0.1"),
    (dict(probability=1.5), r"augment.probability must be in \[0, 1\]"),
    (dict(scale=1.0), r"augment.scale must be in \[0, 1\)"),
    (dict(aspect=-0.2), r"augment.aspect must be in \[0, 1\)"),
    (dict(rotation=200.0), r"augment.rotation must be in \[0, 180\]"),
    (dict(jitter=float("nan")), r"augment.jitter must be in \[0, 1\], not nan"),
    (dict(rotate=5.0), r"augment config: unknown fields \['rotate'\]"),
])
def test_bad_settings_are_errors_naming_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_config(fields)


@pytest.mark.parametrize("variant", crohme14.VARIANTS)
def test_every_variant_augments_nothing(variant):
    assert Settings.from_config(crohme14.get_config(variant).augment) == Settings()
