"""One benchmark run on two commits in one sitting, alternating, median of several repeats.

    python benchmarks/ab.py --against REV [--repeats 3] -- benchmarks/decode.py --limit 100

This machine's speed drifts from day to day and even within minutes, so a speedup is measured
by running the benchmark on the commit before it and on the working tree one after the other,
``--repeats`` times each (B, A, B, A, ...). ``REV`` is checked out in a temporary git worktree;
the benchmark script is the working tree's in both runs (run with ``PYTHONPATH`` at each tree, in
that tree), so only the library differs. Each run's last stdout line is the benchmark's JSON
object; the medians of its numeric figures are printed side by side with their ratio
(working tree over ``REV``). The last line is one JSON object: ``{"against", "repeats",
"benchmark", "ours": medians, "theirs": medians, "ratio": ours / theirs}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def run_once(tree: Path, benchmark: list[str]) -> dict:
    """The benchmark's JSON figures, run in ``tree`` with the working tree's script."""
    script = [str(REPO / benchmark[0]), *benchmark[1:]]
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, *script], cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def medians(runs: list[dict]) -> dict:
    """The median of each numeric figure over ``runs``."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {k: float(np.median([r[k] for r in runs])) for k in keys}


def main() -> None:
    flags = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    flags.add_argument("--against", required=True, help="the commit to compare the working tree with")
    flags.add_argument("--repeats", type=int, default=3)
    flags.add_argument("benchmark", nargs=argparse.REMAINDER, help="-- SCRIPT [its flags]")
    args = flags.parse_args()
    benchmark = args.benchmark[1:] if args.benchmark[:1] == ["--"] else args.benchmark
    with tempfile.TemporaryDirectory() as folder:
        theirs_tree = Path(folder) / "against"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(theirs_tree), args.against],
                       check=True, capture_output=True)
        try:
            ours, theirs = [], []
            for _ in range(args.repeats):
                theirs.append(run_once(theirs_tree, benchmark))
                ours.append(run_once(REPO, benchmark))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(theirs_tree)], check=True)
    a, b = medians(ours), medians(theirs)
    ratio = {k: a[k] / b[k] for k in a if k in b and b[k]}
    for k in a:
        print(f"{k:28s} {b.get(k, float('nan')):12.3f} ({args.against})  {a[k]:12.3f} (working tree)  "
              f"ratio {ratio.get(k, float('nan')):.3f}")
    print(json.dumps({"against": args.against, "repeats": args.repeats, "benchmark": " ".join(benchmark),
                      "ours": a, "theirs": b, "ratio": ratio}))


if __name__ == "__main__":
    main()
