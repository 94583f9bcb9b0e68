"""Active-learning curves (W-BADGE paper Figs. 2-3): test F1 against % of words annotated."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(summary: dict, path: str | os.PathLike, title: str = "") -> None:
    """One line per strategy (mean over seeds, shaded ± standard error); full-data F1 dashed."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, s in summary["strategies"].items():
        rounds = s["rounds"]
        if not rounds:
            continue
        x = [r["words_pct"] for r in rounds]
        y = [100 * r["test_f1_mean"] for r in rounds]
        e = [100 * r["test_f1_sem"] for r in rounds]
        (line,) = ax.plot(x, y, marker="o", markersize=3, label=name)
        ax.fill_between(x, [a - b for a, b in zip(y, e)], [a + b for a, b in zip(y, e)], color=line.get_color(), alpha=0.2)
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
