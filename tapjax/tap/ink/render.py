"""Ink to image: an expression's strokes drawn as an anti-aliased grey image.

TAP reads the ink as points; the offline model it is combined with in Eq. 33 (WAP, the
systems of Table III that add it) reads an image of the same expression. The paper does
not say how its images were drawn; this module is our rendering:

1. Layout (:func:`layout`): one scale for both axes, so the ink keeps its aspect. The ink's
   bounding box fills the image height less a padding of ``margin + pen_width / 2`` pixels on
   each side, and the image is as wide as the ink so scaled (plus the padding). When that
   width would exceed ``max_width``, the ink is scaled down instead until it fits the width
   (its height then less than the image's, centred vertically): the image is never cut. Ink
   without height (one horizontal line) is scaled to fit ``max_width``; a single dot is drawn
   at scale 1 in an image ``2 * padding`` wide. Rows grow with InkML's y, downwards, as the
   ink was written.
2. Raster (:func:`render_points`): consecutive points of a stroke are joined by straight
   segments (a one-point stroke is a dot). A pixel's ink value is the coverage of a round pen
   of diameter ``pen_width``: ``clip(pen_width / 2 + 1/2 - d, 0, 1)``, ``d`` the distance
   of the pixel centre to the nearest segment, so the pen's edge fades over one pixel
   (anti-aliasing). Values are in ``[0, 1]``, 1 for ink (drawn dark by :func:`plot_images`),
   0 for the background. The distances are computed for each segment over the pixels of its
   bounding box only, in chunks of about :data:`CHUNK` pixel-segment pairs (NumPy, no
   per-pixel loop): the cost grows with the ink's length in pixels, not the image's area.

:func:`batch_images` pads a list of images to one batch with masks. From the command line,
``tapjax draw FILE.inkml [...] --out OUT.png`` (:mod:`tapjax.cli.draw`) draws the rendered files in
a column (``docs/rendered.png``: four CROHME 2014 test expressions).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Iterable, Sequence

import numpy as np

from tapjax.tap.ink import inkml, strokes

# Pixel-segment pairs whose distances are computed at once (a few MB of temporaries).
CHUNK = 1 << 18


@dataclasses.dataclass(frozen=True)
class Settings:
    """How ink is drawn (see the module docstring): image ``height`` and largest ``max_width``
    in pixels, the pen's diameter ``pen_width`` and the blank ``margin`` around the pen's
    edge, both in pixels of the image."""

    height: int = 128
    max_width: int = 1024
    pen_width: float = 3.0
    margin: float = 2.0

    def __post_init__(self):
        if self.pen_width <= 0 or self.margin < 0:
            raise ValueError(f"render settings: need pen_width > 0 and margin >= 0, got "
                             f"{self.pen_width} and {self.margin}")
        if min(self.height, self.max_width) <= 2 * self.padding:
            raise ValueError(f"render settings: height {self.height} and max_width "
                             f"{self.max_width} must exceed twice the padding {self.padding:g} "
                             f"(margin + pen_width / 2)")

    @property
    def padding(self) -> float:
        """Blank pixels between the ink's bounding box and each image edge (at least)."""
        return self.margin + self.pen_width / 2


def _fit(extent: float, room: float) -> float:
    """The scale that makes ``extent`` fill ``room`` (infinite for no extent)."""
    return room / extent if extent > 0 else math.inf


def layout(points: np.ndarray, settings: Settings) -> tuple[float, np.ndarray, int]:
    """``(scale, offset [2], width)``: image coordinates are ``points * scale + offset`` in an
    image ``settings.height`` by ``width`` pixels (step 1 of the module docstring)."""
    low, extent = points.min(axis=0), np.ptp(points, axis=0)
    pad = settings.padding
    scale = min(_fit(extent[1], settings.height - 2 * pad),
                _fit(extent[0], settings.max_width - 2 * pad))
    scale = 1.0 if math.isinf(scale) else scale
    width = min(math.ceil(extent[0] * scale + 2 * pad), settings.max_width)
    top = (settings.height - extent[1] * scale) / 2
    return scale, np.array([pad, top]) - low * scale, width


def _segments(points: np.ndarray, point_strokes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end ``[S, 2]`` of each segment between consecutive points of a stroke, and a
    zero-length segment for each one-point stroke."""
    within = point_strokes[1:] == point_strokes[:-1]
    alone = np.ones(len(points), dtype=bool)
    alone[1:] &= ~within
    alone[:-1] &= ~within
    return (np.concatenate([points[:-1][within], points[alone]]),
            np.concatenate([points[1:][within], points[alone]]))


def _chunks(sizes: np.ndarray, limit: int) -> list[slice]:
    """Consecutive runs of ``sizes`` each summing to at most ``limit`` plus its first item."""
    window = (np.cumsum(sizes) - 1) // limit  # the window of ``limit`` each item ends in
    edges = (np.flatnonzero(np.diff(window)) + 1).tolist()
    return [slice(a, b) for a, b in zip([0, *edges], [*edges, len(sizes)])]


def _distances(pixels: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of each point ``pixels [P, 2]`` to the segment ``a [P, 2] - b [P, 2]``."""
    ab, ap = b - a, pixels - a
    length2 = (ab * ab).sum(axis=1)
    t = np.clip((ap * ab).sum(axis=1) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    return np.hypot(*(ap - t[:, None] * ab).T)


def _draw(image: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> None:
    """Draws the segments ``a -> b`` (image coordinates) into ``image`` (step 2)."""
    height, width = image.shape
    reach = radius + 0.5
    low = np.clip(np.floor(np.minimum(a, b) - reach).astype(np.int64), 0, [width, height])
    high = np.clip(np.ceil(np.maximum(a, b) + reach).astype(np.int64), 0, [width, height])
    box = high - low  # [S, 2]: columns, rows of each segment's pixels
    area = box[:, 0] * box[:, 1]
    flat = image.reshape(-1)
    for part in _chunks(area, CHUNK):
        counts = area[part]
        segment = np.repeat(np.arange(part.start, part.stop), counts)
        index = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        column = low[segment, 0] + index % box[segment, 0]
        row = low[segment, 1] + index // box[segment, 0]
        centres = np.stack([column, row], axis=1) + 0.5
        value = np.clip(reach - _distances(centres, a[segment], b[segment]), 0.0, 1.0)
        on = value > 0
        np.maximum.at(flat, row[on] * width + column[on], value[on].astype(image.dtype))


def render_points(points: np.ndarray, point_strokes: np.ndarray,
                  settings: Settings = Settings()) -> np.ndarray:
    """The image ``float32 [settings.height, width]`` of ink ``points [N, 2]`` (x, y) whose
    stroke ids are ``point_strokes [N]`` (consecutive points of one stroke are joined)."""
    if len(points) == 0:
        raise ValueError("render: no ink (no points)")
    scale, offset, width = layout(points, settings)
    image = np.zeros((settings.height, width), dtype=np.float32)
    _draw(image, *(end * scale + offset for end in _segments(points, point_strokes)),
          settings.pen_width / 2)
    return image


def render(traces: Sequence[np.ndarray], settings: Settings = Settings()) -> np.ndarray:
    """The image of an expression's raw traces (``Ink.traces``: X, Y columns first)."""
    return render_points(*strokes.concatenate(traces), settings)


def render_split(paths_or_inks: Iterable[str | os.PathLike | inkml.Ink],
                 settings: Settings = Settings()) -> list[np.ndarray]:
    """The image of each InkML file (read with :func:`tapjax.tap.ink.inkml.read_inkml`, whose
    :class:`~tapjax.tap.ink.inkml.InkMLError` names a file that cannot be read) or ink, in order."""
    inks = (item if isinstance(item, inkml.Ink) else inkml.read_inkml(item)
            for item in paths_or_inks)
    return [render(ink.traces, settings) for ink in inks]


def batch_images(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(images float32 [B, H, W_max], mask float32 [B, H, W_max])``: the images of one height,
    right-padded with zeros to the widest; the mask is 1 on each image's own pixels."""
    if not images:
        raise ValueError("batch_images: no images")
    heights = sorted({image.shape[0] for image in images})
    if len(heights) > 1:
        raise ValueError(f"batch_images: images of heights {heights}; a batch needs one height")
    widths = np.array([image.shape[1] for image in images])
    batch = np.zeros((len(images), heights[0], widths.max()), dtype=np.float32)
    for row, image in zip(batch, images):
        row[:, :image.shape[1]] = image
    mask = np.arange(widths.max())[None, None, :] < widths[:, None, None]
    return batch, np.broadcast_to(mask, batch.shape).astype(np.float32)


def plot_images(images: Sequence[np.ndarray], titles: Sequence[str], dpi: int = 100):
    """A matplotlib Figure with ``images`` in a column, each at its pixel size, ink dark."""
    from matplotlib.figure import Figure  # matplotlib only when drawing

    width = max(image.shape[1] for image in images) / dpi + 0.2
    heights = [image.shape[0] / dpi + 0.3 for image in images]
    fig = Figure(figsize=(width, sum(heights)), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(images), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, image, title in zip(axes, images, titles):
        ax.imshow(image, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"{title}  ({image.shape[0]} x {image.shape[1]} px)", fontsize=8, loc="left")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
