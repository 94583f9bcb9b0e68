"""Benchmark: preprocessing one long stroke (thinning, normalisation, features).

    python benchmarks/preprocess.py [--points 1000000] [--peer_points 10000 20000 40000]

On one densely sampled wavy stroke (a sine wave whose points lie about 0.0035 apart, as from a
fast digitiser): tapjax's thinning (``tapjax.tap.ink.strokes.keep_mask``, one linear pass) with a
threshold of 0.035, so that about one point in ten survives, against the peer: an earlier
thinning, a vectorised fixed-point iteration from "keep all" (which settles about one kept point
per two passes over the stroke, so quadratic), under the same rule (stroke ends and ties kept);
both keep the same points (checked). The peer runs at the smaller sizes it can finish, tapjax
also at ``--points``. Then the whole of ``tapjax.tap.ink.strokes.preprocess`` (the TAP authors'
features: its thinning threshold is relative to the ink's size, so it keeps far fewer points)
on a ``--points`` stroke, and the whole path of a user's file: that stroke written as an InkML
file, read (parse and validate) and preprocessed. Prints a table; the last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import timed

from tapjax.tap.ink import inkml, strokes

THRESHOLD = 0.035  # about ten point spacings of dense_wave


def dense_wave(n: int) -> np.ndarray:
    """One stroke of ``n`` points along ``y = sin(x)``, about 0.0035 apart."""
    x = np.linspace(0.0, n / 340, n)
    return np.stack([x, np.sin(x)], axis=1)


def peer_keep_mask(points: np.ndarray, stroke_ids: np.ndarray, min_distance: float) -> np.ndarray:
    """The earlier thinning: fixed-point iteration of "keep if a stroke end or at least
    ``min_distance`` from the previous kept point"."""
    ends = np.concatenate([[True], stroke_ids[1:] != stroke_ids[:-1]])
    ends |= np.concatenate([stroke_ids[1:] != stroke_ids[:-1], [True]])
    keep = np.ones(len(points), dtype=bool)
    while True:
        kept_index = np.where(keep, np.arange(len(keep)), -1)
        previous = np.maximum(np.concatenate([[-1], np.maximum.accumulate(kept_index)[:-1]]), 0)
        updated = ends | (((points - points[previous]) ** 2).sum(axis=1) >= min_distance ** 2)
        if np.array_equal(updated, keep):
            return keep
        keep = updated


def read_and_preprocess(trace: np.ndarray) -> tuple[int, float]:
    """Writes ``trace`` as a one-stroke InkML file; ``(kept points, seconds)`` to read and preprocess it."""
    points = ", ".join(f"{x:.3f} {y:.3f}" for x, y in trace)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.inkml"
        path.write_text(f'<ink xmlns="http://www.w3.org/2003/InkML"><trace id="0">{points}</trace></ink>')
        start = time.perf_counter()
        features, _ = strokes.preprocess(inkml.read_inkml(path).traces)
        return len(features), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--peer_points", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    args = parser.parse_args()
    print(f"{'points':>10s}{'kept':>10s}{'tapjax (s)':>12s}{'peer (s)':>10s}{'peer/tapjax':>13s}")
    rows = []
    for n in args.peer_points:
        points, stroke_ids = strokes.concatenate([dense_wave(n)])
        keep, ours = timed(strokes.keep_mask, points, stroke_ids, THRESHOLD)
        peer_keep, peer = timed(peer_keep_mask, points, stroke_ids, THRESHOLD)
        np.testing.assert_array_equal(keep, peer_keep)
        rows.append({"points": n, "kept": int(keep.sum()), "seconds": ours, "peer": peer, "ratio": peer / ours})
        print(f"{n:10d}{int(keep.sum()):10d}{ours:12.3f}{peer:10.2f}{peer / ours:12.0f}x   (thinning)")
    points, stroke_ids = strokes.concatenate([dense_wave(args.points)])
    keep, thinning_seconds = timed(strokes.keep_mask, points, stroke_ids, THRESHOLD)
    print(f"{args.points:10d}{int(keep.sum()):10d}{thinning_seconds:12.3f}{'-':>10s}{'-':>13s}   (thinning)")
    (features, _), seconds = timed(strokes.preprocess, [dense_wave(args.points)])
    print(f"{args.points:10d}{len(features):10d}{seconds:12.3f}{'-':>10s}{'-':>13s}   (preprocess)")
    kept, file_seconds = read_and_preprocess(dense_wave(args.points))
    print(f"{args.points:10d}{kept:10d}{file_seconds:12.3f}{'-':>10s}{'-':>13s}   (InkML file: read + preprocess)")
    largest = rows[-1]
    print(json.dumps({"points": args.points, "thinning_seconds": round(thinning_seconds, 3),
                      "seconds": round(seconds, 3), "file_seconds": round(file_seconds, 3),
                      "throughput_points_per_s": round(args.points / seconds),
                      "peer_points": largest["points"], "peer": round(largest["peer"], 3),
                      "peer_tapjax_at_same_size": round(largest["seconds"], 4),
                      "ratio": round(largest["ratio"], 1),
                      "rows": [{k: round(v, 4) for k, v in r.items()} for r in rows]}))


if __name__ == "__main__":
    main()
