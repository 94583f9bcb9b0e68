"""Benchmark: loading the three CROHME folders (parse + features + alignment).

    python benchmarks/load_crohme.py [--data_dir D] [--workers 2]

Measures, on a fresh cache dir, (1) the first full load of train2014, test2014
and test2016 with tapjax (lxml, ``--workers`` processes), (2) the cached load,
and (3) a plain peer: a single-process ``xml.etree.ElementTree`` parse of the
same files with the traces read into numpy and the same feature extraction
(no alignment, no cache). Prints the figures side by side; the last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import xml.etree.ElementTree as ET

import numpy as np
from timing import timed

from tapjax.common.paths import dataset_dir
from tapjax.tap.ink import crohme, inkml, strokes

FOLDERS = ("TrainINKML", "TestEM2014GT", "TEST2016_INKML_GT")


def load_all(data_dir, cache_dir, workers) -> int:
    return sum(len(crohme.load_folder(f, data_dir, cache_dir, workers=workers)) for f in FOLDERS)


def peer_load(data_dir) -> tuple[int, int]:
    """ElementTree, one process: (expressions featurised, files that failed)."""
    loaded = failed = 0
    for folder in FOLDERS:
        for path in inkml.inkml_files(dataset_dir("crohme", data_dir) / folder):
            try:
                root = ET.parse(path).getroot()
            except ET.ParseError:
                failed += 1
                continue
            traces = [np.array([[float(v) for v in point.split()[:2]]
                                for point in trace.text.split(",") if point.strip()])
                      for trace in root.iter("{http://www.w3.org/2003/InkML}trace")]
            strokes.preprocess(traces)
            loaded += 1
    return loaded, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache_dir:
        count, first = timed(load_all, args.data_dir, cache_dir, args.workers)
        _, cached = timed(load_all, args.data_dir, cache_dir, args.workers)
    (peer_count, peer_failed), peer = timed(peer_load, args.data_dir)
    print(f"{'':34s}{'expressions':>12s}{'seconds':>10s}")
    print(f"{'tapjax first load (lxml, %d proc)' % args.workers:34s}{count:12d}{first:10.1f}")
    print(f"{'tapjax cached load':34s}{count:12d}{cached:10.1f}")
    print(f"{'peer: ElementTree, 1 process':34s}{peer_count:12d}{peer:10.1f}"
          f"   ({peer_failed} files failed to parse)")
    print(f"first load vs peer: {peer / first:.2f}x faster; cached vs peer: {peer / cached:.1f}x faster")
    print(json.dumps({
        "benchmark": "load_crohme", "machine": platform.platform(), "workers": args.workers,
        "expressions": count, "first_load_s": round(first, 2), "cached_load_s": round(cached, 2),
        "peer": "xml.etree.ElementTree single process, same features",
        "peer_expressions": peer_count, "peer_failed": peer_failed, "peer_s": round(peer, 2),
        "speedup_first_vs_peer": round(peer / first, 2), "speedup_cached_vs_peer": round(peer / cached, 1),
    }))


if __name__ == "__main__":
    main()
