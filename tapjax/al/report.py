"""An AL run's ``summary.json`` as the README's table (W-BADGE paper §6: F1 per % of words);
``tapjax al_report`` (:mod:`tapjax.cli.al_report`) prints it.

Per strategy: its test F1 at a few % of the training words annotated (mean ± sample std over
seeds, from the summary's common grid: interpolated inside each run's span, "-" where a seed's
run does not reach), its mean F1 over the span every run shares (the area under the curve over
the span's width) and, for each baseline, W-BADGE's paired lead in that area (mean ± standard
error over seeds, and in how many seeds W-BADGE is ahead). Then the full-data F1 and one line
saying whether W-BADGE leads, as measured: its rank by mean area and the baselines it is ahead
of in every seed.
"""

from __future__ import annotations

import json
from pathlib import Path

from tapjax.al.curves import REFERENCE
from tapjax.common.errors import InputError


def _pm(stats: dict, i: int | None = None, scale: float = 100.0) -> str:
    """``mean ± std`` (in %) of entry ``i`` of a :func:`tapjax.al.curves.mean_sem` JSON (scalar:
    ``i`` None); "-" where it is missing."""
    mean, std = (stats["mean"], stats["std"]) if i is None else (stats["mean"][i], stats["std"][i])
    if mean is None:
        return "-"
    return f"{scale * mean:.1f}" if std is None else f"{scale * mean:.1f} ± {scale * std:.1f}"


def _lead(versus: dict) -> str:
    """W-BADGE minus a baseline in area: mean ± standard error (points of F1) and seeds ahead."""
    auc = versus["auc"]
    if auc["mean"] is None:
        return "-"
    sem = "" if auc["sem"] is None else f" ± {100 * auc['sem']:.1f}"
    return f"{100 * auc['mean']:+.1f}{sem} ({auc[f'{REFERENCE}_ahead']}/{auc['seeds']} seeds)"


def _column(summary: dict, pct: float) -> int | None:
    grid = summary["grid_pct"]
    return next((i for i, x in enumerate(grid) if abs(x - pct) < 1e-6), None)


def verdict(summary: dict) -> str:
    """Whether W-BADGE leads: its rank by mean area over the shared span, and the baselines it
    is ahead of in every seed."""
    areas = {name: s["auc"]["mean"] for name, s in summary["strategies"].items() if s["auc"]["mean"] is not None}
    if REFERENCE not in areas:
        return f"no {REFERENCE} area to compare"
    rank = 1 + sum(a > areas[REFERENCE] for a in areas.values())
    every = [name for name, v in summary.get(f"vs_{REFERENCE}", {}).items()
             if v["auc"]["seeds"] and v["auc"][f"{REFERENCE}_ahead"] == v["auc"]["seeds"]]
    ahead = ", ".join(every) if every else "none"
    return (f"W-BADGE {'leads' if rank == 1 else 'does not lead'}: rank {rank} of {len(areas)} by mean F1 over the "
            f"shared span; ahead in every seed of: {ahead}")


def table(summary: dict, at=(5.0, 10.0, 20.0)) -> str:
    """The module doc's table for one run, as Markdown."""
    span = summary["shared_span_pct"]
    span_name = f"mean F1 over {span[0]:.1f}-{span[1]:.1f} % words" if span else "mean F1 (no shared span)"
    head = ["strategy"] + [f"F1 at {pct:g} % words" for pct in at] + [span_name, "W-BADGE minus it (area)"]
    rows = [head, ["---"] * len(head)]
    versus = summary.get(f"vs_{REFERENCE}", {})
    for name, s in summary["strategies"].items():
        cells = [_pm(s["grid"], i) if i is not None else "-" for i in (_column(summary, p) for p in at)]
        rows.append([name, *cells, _pm(s["auc"]), _lead(versus[name]) if name in versus else ""])
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    title = f"{summary['dataset']} ({summary['model']}): {summary['seeds']} seeds x {summary['rounds']} rounds"
    full = summary.get("full_data")
    tail = [f"Full data: test F1 {100 * full['test_f1']:.1f} ({full['epochs']} epochs)."] if full else []
    return "\n".join([f"**{title}**", "", *lines, "", *tail, verdict(summary) + "."])


def load(path: Path) -> dict:
    """A run's ``summary.json``; a missing, unreadable or other JSON file is an :class:`InputError`."""
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(path, f"not a readable JSON file ({error})") from None
    missing = [k for k in ("dataset", "model", "seeds", "rounds", "grid_pct", "shared_span_pct", "strategies")
               if k not in summary]
    if missing:
        raise InputError(path, f"not an AL summary.json (no {', '.join(missing)})")
    return summary
