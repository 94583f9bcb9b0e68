"""Ink to image (tapjax.tap.ink.render): layout, anti-aliased strokes, batches with masks."""

import numpy as np
import pytest

from tapjax.cli import draw
from tapjax.tap.ink import render
from tapjax.tap.ink.render import Settings, batch_images, layout, render_points

SMALL = Settings(height=32, max_width=256, pen_width=3.0, margin=2.0)


def brute_force(points, point_strokes, settings):
    """Every pixel against every segment: the reference the chunked raster must equal."""
    scale, offset, width = layout(points, settings)
    xy = points * scale + offset
    segments = [(xy[i], xy[i + 1]) for i in range(len(xy) - 1) if point_strokes[i] == point_strokes[i + 1]]
    segments += [(xy[i], xy[i]) for i in range(len(xy)) if np.sum(point_strokes == point_strokes[i]) == 1]
    rows, columns = np.mgrid[:settings.height, :width]
    centres = np.stack([columns, rows], axis=-1).reshape(-1, 1, 2) + 0.5
    a, b = (np.array(end)[None] for end in zip(*segments))
    t = np.clip(((centres - a) * (b - a)).sum(-1) / np.maximum(((b - a) ** 2).sum(-1), 1e-12), 0, 1)
    distance = np.linalg.norm(centres - a - t[..., None] * (b - a), axis=-1).min(axis=1)
    return np.clip(settings.pen_width / 2 + 0.5 - distance, 0, 1).reshape(settings.height, width)


def scribble(rng, n=40, strokes=3):
    points = np.cumsum(rng.normal(size=(n, 2)), axis=0) * [3.0, 1.0]
    return points, np.sort(rng.integers(0, strokes, size=n)).astype(np.int32)


@pytest.mark.parametrize("chunk", [render.CHUNK, 97])  # 97: a few segments per chunk
def test_the_raster_is_the_distance_to_the_nearest_segment(monkeypatch, chunk):
    monkeypatch.setattr(render, "CHUNK", chunk)
    points, point_strokes = scribble(np.random.default_rng(0))
    points = np.concatenate([points, [[5.0, 0.0]]])  # a one-point stroke: a dot
    point_strokes = np.concatenate([point_strokes, [9]])
    image = render_points(points, point_strokes, SMALL)
    np.testing.assert_allclose(image, brute_force(points, point_strokes, SMALL), atol=1e-6)


def test_ink_is_dark_where_the_points_are_and_blank_far_from_them():
    angle = np.linspace(0, 2 * np.pi, 60)
    points, point_strokes = np.stack([np.cos(angle), np.sin(angle)], axis=1), np.zeros(60, np.int32)
    settings = Settings(height=64)
    image = render_points(points, point_strokes, settings)
    scale, offset, width = layout(points, settings)
    xy = points * scale + offset
    columns, rows = np.floor(xy).astype(int).T
    assert image[rows, columns].min() == 1.0
    # a pixel farther from every point than half the longest segment plus the pen's reach is blank
    longest = np.linalg.norm(np.diff(xy, axis=0), axis=1).max()
    grid = np.stack(np.mgrid[:settings.height, :width][::-1], axis=-1) + 0.5
    nearest = np.linalg.norm(grid[:, :, None] - xy, axis=-1).min(axis=-1)
    far = nearest > longest / 2 + settings.pen_width / 2 + 0.5
    assert far.mean() > 0.3 and image[far].max() == 0.0
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.dtype == np.float32


def test_pen_ups_are_not_drawn():
    points = np.array([[0, 0], [10, 0], [30, 0], [40, 0]], float)  # two strokes, a gap at x 10..30
    image = render_points(points, np.array([0, 0, 1, 1]), SMALL)
    scale, offset, _ = layout(points, SMALL)
    middle = int(20 * scale + offset[0])
    assert image[:, middle].max() == 0.0 and image[:, int(5 * scale + offset[0])].max() == 1.0


@pytest.mark.parametrize("height", [32, 64, 128])
def test_height_is_fixed_and_the_aspect_kept(height):
    settings = Settings(height=height, max_width=4096)
    box = np.array([[0, 0], [300, 0], [300, 100], [0, 100]], float)  # 3:1
    image = render_points(box, np.zeros(4, np.int32), settings)
    inner = height - 2 * settings.padding
    assert image.shape == (height, int(np.ceil(3 * inner + 2 * settings.padding)))
    ink_rows, ink_columns = np.nonzero(image > 0.5)
    ink_width, ink_height = np.ptp(ink_columns) + 1, np.ptp(ink_rows) + 1  # pen_width 3 wider
    assert abs((ink_width - 3) - 3 * (ink_height - 3)) <= 3


def test_wider_than_the_cap_is_scaled_down_to_fit_and_centred():
    line = np.array([[0, 0], [2000, 0], [2000, 50]], float)  # aspect 40
    image = render_points(line, np.zeros(3, np.int32), SMALL)
    assert image.shape == (32, 256)
    rows = np.nonzero(image.max(axis=1) > 0)[0]
    assert rows.min() > 0 and rows.max() < 31 and abs((rows.min() + rows.max()) / 2 - 15.5) <= 1
    assert image[:, 2:-2].max(axis=0).min() > 0.5  # ink from margin to margin: nothing was cut


def test_a_dot_and_a_flat_line_are_drawn():
    dot = render_points(np.array([[7.0, 7.0]]), np.zeros(1, np.int32), SMALL)
    assert dot.shape[0] == 32 and dot.max() == 1.0
    flat = render_points(np.array([[0.0, 5.0], [10.0, 5.0]]), np.zeros(2, np.int32), SMALL)
    assert flat.shape == (32, 256) and flat[16, 2:-2].min() > 0.5


def test_no_ink_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="no ink"):
        render_points(np.zeros((0, 2)), np.zeros(0, np.int32))
    with pytest.raises(ValueError, match="height 4"):
        Settings(height=4)
    with pytest.raises(ValueError, match="pen_width"):
        Settings(pen_width=0)


def test_batch_images_pads_to_the_widest_with_masks():
    images = [np.full((4, 3), 0.5, np.float32), np.ones((4, 5), np.float32)]
    batch, mask = batch_images(images)
    assert batch.shape == mask.shape == (2, 4, 5)
    np.testing.assert_array_equal(mask[0], np.repeat([[1, 1, 1, 0, 0]], 4, axis=0))
    np.testing.assert_array_equal(mask[1], 1)
    np.testing.assert_array_equal(batch[0, :, :3], 0.5)
    np.testing.assert_array_equal(batch[0, :, 3:], 0)
    with pytest.raises(ValueError, match="heights \\[4, 5\\]"):
        batch_images([images[0], np.ones((5, 3))])
    with pytest.raises(ValueError, match="no images"):
        batch_images([])


def test_real_expressions_render_and_draw(data_root, tmp_path, capsys):
    folder = data_root / "crohme" / "TestEM2014GT"
    paths = [folder / "18_em_9.inkml", folder / "20_em_37.inkml"]
    images = render.render_split(paths)
    assert [image.shape[0] for image in images] == [128, 128]
    assert all(image.shape[1] <= 1024 and 0.02 < (image > 0.5).mean() < 0.3 for image in images)
    bad = tmp_path / "bad.inkml"
    bad.write_text("<ink>")
    out = tmp_path / "rendered.png"
    assert draw.main([*map(str, paths), str(bad), "--out", str(out), "--height", "64"]) == 2
    assert out.stat().st_size > 0 and "error: " in capsys.readouterr().err
