"""Active-learning curves (W-BADGE paper §6, Figs. 2-3): test F1 against % of words annotated.

A run (one strategy, one seed) is the polyline through its rounds' (% of training words, test
F1). Runs annotate different numbers of words, so :func:`compare` sets them side by side on %
words, never on round numbers: on a common grid (multiples of a step), each run interpolated
linearly inside its own span only (missing outside, never extrapolated); by the area under each
run over the span every run covers, divided by its width (a mean F1); and each baseline against
W-BADGE seed by seed (a seed's strategies share its start set): differences on the grid and in
area, their mean and standard error over seeds, and in how many seeds W-BADGE is ahead.
:func:`plot_curves` draws each strategy's mean ± standard error over seeds, as the paper's figures.
"""

from __future__ import annotations

import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REFERENCE = "wbadge"  # the paper's method, which every other strategy is compared with
Run = tuple[np.ndarray, np.ndarray]  # (% words increasing, test F1) at a run's rounds


def on_grid(run: Run, grid) -> np.ndarray:
    """The run's F1 at ``grid``: linear between its rounds, NaN outside its span."""
    x, y = run
    return np.interp(grid, x, y, left=np.nan, right=np.nan)


def common_grid(runs: list[Run], step: float) -> np.ndarray:
    """The multiples of ``step`` (%) inside the span of at least one of ``runs``."""
    if not runs:
        return np.zeros(0)
    lo, hi = min(x[0] for x, _ in runs), max(x[-1] for x, _ in runs)
    return np.round(np.arange(np.ceil(lo / step), np.floor(hi / step) + 1) * step, 10)


def shared_span(runs: list[Run]) -> tuple[float, float] | None:
    """The % words every run covers (the latest first round to the earliest last one); None if
    that is not an interval."""
    if not runs:
        return None
    lo, hi = max(x[0] for x, _ in runs), min(x[-1] for x, _ in runs)
    return (float(lo), float(hi)) if lo < hi else None


def span_auc(run: Run, span: tuple[float, float]) -> float:
    """The area under the run between the ends of ``span`` (inside the run's own), divided by the
    span's width: the run's mean F1 over it."""
    x, _ = run
    lo, hi = span
    at = np.concatenate([[lo], x[(x > lo) & (x < hi)], [hi]])
    return float(np.trapezoid(on_grid(run, at), at) / (hi - lo))


def mean_sem(values) -> dict:
    """Over the seeds (axis 0) of ``values``, missing ones (NaN) left out: the ``mean``, the
    sample standard deviation ``std`` and the standard error ``sem`` (std / √n), both from 2
    seeds on, and the number of ``seeds``; NaN where there are too few."""
    v = np.asarray(values, np.float64)
    present = ~np.isnan(v)
    n = present.sum(0)
    mean = np.divide(np.where(present, v, 0.0).sum(0), n, out=np.full(n.shape, np.nan), where=n > 0)
    squares = np.where(present, (v - mean) ** 2, 0.0).sum(0)
    std = np.sqrt(np.divide(squares, n - 1, out=np.full(n.shape, np.nan), where=n > 1))
    return {"mean": mean, "std": std, "sem": std / np.sqrt(np.maximum(n, 1)), "seeds": n}


def paired(reference: np.ndarray, other: np.ndarray) -> dict:
    """:func:`mean_sem` of ``reference − other`` (per seed, axis 0), and in how many seeds
    ``reference`` is ahead (a positive difference) as ``{REFERENCE}_ahead``."""
    diff = reference - other
    return {**mean_sem(diff), f"{REFERENCE}_ahead": (diff > 0).sum(0)}


def compare(runs: dict[str, dict[int, Run]], step: float) -> dict:
    """The module doc's comparison of ``runs`` (strategy -> seed -> run) as JSON values (NaN:
    None): ``grid_pct`` and ``shared_span_pct``; per strategy (``strategies``) its F1 on the grid
    (``grid``) and its area over the shared span (``auc``), each :func:`mean_sem`; per baseline
    its :func:`paired` differences to W-BADGE, W-BADGE minus the baseline (``vs_wbadge``; empty
    without W-BADGE)."""
    every = [run for by_seed in runs.values() for run in by_seed.values()]
    grid, span = common_grid(every, step), shared_span(every)
    seeds = sorted({s for by_seed in runs.values() for s in by_seed})
    f1 = {name: _per_seed(by_seed, seeds, lambda run: on_grid(run, grid), grid.shape)
          for name, by_seed in runs.items()}
    auc = {name: _per_seed(by_seed, seeds, lambda run: span_auc(run, span) if span else np.nan, ())
           for name, by_seed in runs.items()}

    def versus(name):
        return {"grid": _json(paired(f1[REFERENCE], f1[name])), "auc": _json(paired(auc[REFERENCE], auc[name]))}

    return {"grid_pct": grid.tolist(), "shared_span_pct": list(span) if span else None,
            "strategies": {name: {"grid": _json(mean_sem(f1[name])), "auc": _json(mean_sem(auc[name]))}
                           for name in runs},
            f"vs_{REFERENCE}": {name: versus(name) for name in runs if REFERENCE in runs and name != REFERENCE}}


def _per_seed(by_seed: dict[int, Run], seeds: list[int], measure, shape: tuple) -> np.ndarray:
    """``measure(run)`` of each seed's run, stacked over ``seeds`` (NaN of ``shape`` for a seed
    without one)."""
    values = [measure(by_seed[s]) if s in by_seed else np.full(shape, np.nan) for s in seeds]
    return np.asarray(values, np.float64).reshape((len(seeds),) + shape)


def _json(stats: dict) -> dict:
    """``stats``' arrays as JSON values (vectors as lists), NaN as None."""
    return {k: _json_value(np.asarray(v)) for k, v in stats.items()}


def _json_value(a: np.ndarray):
    return (np.where(np.isnan(a), None, a) if a.dtype.kind == "f" else a).tolist()


def plot_curves(summary: dict, path: str | os.PathLike, title: str = "") -> None:
    """One line per strategy: its mean F1 over seeds on the summary's grid where all its seeds
    are present, shaded ± standard error (Figs. 2-3); full-data F1 dashed."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    grid = np.asarray(summary["grid_pct"], np.float64)
    for name, s in summary["strategies"].items():
        g = s["grid"]
        seeds = np.asarray(g["seeds"], np.int64)
        full = (seeds > 0) & (seeds == seeds.max(initial=0))
        if not full.any():
            continue
        y = 100 * np.asarray(g["mean"], np.float64)[full]
        e = 100 * np.asarray(g["sem"], np.float64)[full]  # None (one seed) -> NaN: no band
        (line,) = ax.plot(grid[full], y, label=name)
        ax.fill_between(grid[full], y - e, y + e, color=line.get_color(), alpha=0.2)
    if "full_data" in summary:
        ax.axhline(100 * summary["full_data"]["test_f1"], color="k", linestyle="--", label="full data")
    ax.set_xlabel("% of training words annotated")
    ax.set_ylabel("test F1 (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
