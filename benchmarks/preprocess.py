"""Benchmark: preprocessing one long stroke (normalisation, thinning, features).

    python benchmarks/preprocess.py [--points 1000000] [--peer_points 10000 20000 40000]

``tapjax.tap.strokes.preprocess`` (``Settings(method="tapjax")``, whose thinning the peer's is
an earlier form of; the default, the authors' preprocessing, timed too) on one densely sampled wavy stroke of ``--points`` points
(a sine wave whose points lie about 0.005 normalised units apart, so about one in ten
survives the 0.05 thinning, as from a fast digitiser), and, at the smaller sizes the peer can
finish, tapjax against the peer: the earlier thinning (a vectorised fixed-point iteration from
"keep all", which settles about one kept point per two passes over the stroke, so quadratic)
with the same normalisation and features. Both give the same features (checked). Also the
whole path of a user's file: that stroke written as an InkML file, read (parse and validate)
and preprocessed. Prints a table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from timing import timed

from tapjax.tap import inkml, strokes


def dense_wave(n: int) -> np.ndarray:
    """One stroke of ``n`` points along ``y = sin(x)``, about 0.005 apart once normalised."""
    x = np.linspace(0.0, n / 340, n)
    return np.stack([x, np.sin(x)], axis=1)


def peer_keep_mask(points: np.ndarray, stroke_ids: np.ndarray, min_distance: float) -> np.ndarray:
    """The earlier thinning: fixed-point iteration of "keep if far from the previous kept point"."""
    first = np.concatenate([[True], stroke_ids[1:] != stroke_ids[:-1]])
    keep = np.ones(len(points), dtype=bool)
    while True:
        kept_index = np.where(keep, np.arange(len(keep)), -1)
        previous = np.maximum(np.concatenate([[-1], np.maximum.accumulate(kept_index)[:-1]]), 0)
        updated = first | (((points - points[previous]) ** 2).sum(axis=1) > min_distance ** 2)
        if np.array_equal(updated, keep):
            return keep
        keep = updated


def peer_preprocess(trace: np.ndarray, settings: strokes.Settings) -> np.ndarray:
    points, stroke_ids = strokes.concatenate([trace])
    points = strokes.normalize(points, settings.normalization)
    keep = peer_keep_mask(points, stroke_ids, settings.min_distance)
    return strokes.point_features(points[keep], stroke_ids[keep])


def read_and_preprocess(trace: np.ndarray, settings: strokes.Settings) -> tuple[int, float]:
    """Writes ``trace`` as a one-stroke InkML file; ``(kept points, seconds)`` to read and preprocess it."""
    points = ", ".join(f"{x:.3f} {y:.3f}" for x, y in trace)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.inkml"
        path.write_text(f'<ink xmlns="http://www.w3.org/2003/InkML"><trace id="0">{points}</trace></ink>')
        start = time.perf_counter()
        features, _ = strokes.preprocess(inkml.read_inkml(path).traces, settings)
        return len(features), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--peer_points", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    args = parser.parse_args()
    settings = strokes.Settings(method="tapjax")  # the thinning the peer's is an earlier form of
    print(f"{'points':>10s}{'kept':>10s}{'tapjax (s)':>12s}{'peer (s)':>10s}{'peer/tapjax':>13s}")
    rows = []
    for n in args.peer_points:
        trace = dense_wave(n)
        (features, _), ours = timed(strokes.preprocess, [trace], settings)
        peer_features, peer = timed(peer_preprocess, trace, settings)
        np.testing.assert_array_equal(features, peer_features)
        rows.append({"points": n, "kept": len(features), "seconds": ours, "peer": peer, "ratio": peer / ours})
        print(f"{n:10d}{len(features):10d}{ours:12.3f}{peer:10.2f}{peer / ours:12.0f}x")
    (features, _), seconds = timed(strokes.preprocess, [dense_wave(args.points)], settings)
    print(f"{args.points:10d}{len(features):10d}{seconds:12.3f}{'-':>10s}{'-':>13s}")
    kept, file_seconds = read_and_preprocess(dense_wave(args.points), settings)
    print(f"{args.points:10d}{kept:10d}{file_seconds:12.3f}{'-':>10s}{'-':>13s}   (InkML file: read + preprocess)")
    (features, _), authors_seconds = timed(strokes.preprocess, [dense_wave(args.points)], strokes.Settings())
    print(f"{args.points:10d}{len(features):10d}{authors_seconds:12.3f}{'-':>10s}{'-':>13s}   (default: the authors' preprocessing)")
    largest = rows[-1]
    print(json.dumps({"points": args.points, "seconds": round(seconds, 3), "file_seconds": round(file_seconds, 3),
                      "authors_seconds": round(authors_seconds, 3),
                      "throughput_points_per_s": round(args.points / seconds),
                      "peer_points": largest["points"], "peer": round(largest["peer"], 3),
                      "peer_tapjax_at_same_size": round(largest["seconds"], 4),
                      "ratio": round(largest["ratio"], 1),
                      "rows": [{k: round(v, 4) for k, v in r.items()} for r in rows]}))


if __name__ == "__main__":
    main()
