"""Attention of a recognised expression, symbol by symbol (TAP paper Figs. 9-10).

One small panel per output symbol: the ink (each stroke a grey line), its points coloured
by the symbol's spatial attention ``alpha_t`` (Eqs. 17-21), and the temporal gate
``beta_t`` (Eqs. 24-26) in the title and as a bar under the ink: a symbol drawn with no
ink of its own (``{``, ``^``, ``_``, ...) leans on the language-model side (high beta).
"""

from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

PANEL_INCHES = 1.8


def plot_attention(recognition, columns: int = 6) -> Figure:
    """A Figure with one panel per symbol of ``recognition`` (a :class:`tapjax.tap.read.recognition.Recognition`)."""
    count = max(len(recognition.tokens), 1)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    fig = Figure(figsize=(PANEL_INCHES * columns, PANEL_INCHES * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for t, symbol in enumerate(recognition.tokens):
        beta = None if recognition.beta is None else float(recognition.beta[t])
        _panel(axes[t], recognition.points, recognition.point_strokes, recognition.alpha[t], symbol, beta)
    if not recognition.tokens:
        axes[0].set_title("(nothing recognised)", fontsize=8)
    return fig


def _panel(ax, points: np.ndarray, point_strokes: np.ndarray, alpha: np.ndarray, symbol: str, beta: float | None):
    """The ink coloured by ``alpha``; the title names the symbol (and beta, drawn as a bar below)."""
    x, y = points[:, 0], -points[:, 1]  # ink y grows downwards
    for s in np.unique(point_strokes):
        on = point_strokes == s
        ax.plot(x[on], y[on], color="0.8", linewidth=0.8, zorder=1)
    ax.scatter(x, y, c=alpha, cmap="Reds", vmin=0.0, vmax=max(float(alpha.max()), 1e-6), s=6, zorder=2)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(symbol if beta is None else f"{symbol}   β={beta:.2f}", fontsize=8)
    if beta is not None:
        ax.add_patch(Rectangle((0.0, 0.0), beta, 0.04, transform=ax.transAxes, color="tab:blue", clip_on=False))


def save_attention(recognition, path: str | os.PathLike, dpi: int = 100) -> None:
    """Writes :func:`plot_attention` of ``recognition`` to ``path`` (PNG by its suffix)."""
    plot_attention(recognition).savefig(path, dpi=dpi)
