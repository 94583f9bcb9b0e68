"""CROHME expression metrics: WER, ExpRate, ExpRate with at most 1/2/3 token errors, by stroke count.

For a set of reference captions ``r_i`` and hypotheses ``h_i`` (token lists)::

    WER     = sum_i d(r_i, h_i) / sum_i |r_i|           (token edit distance, corpus level)
    ExpRate = #{i : d(r_i, h_i) = 0} / n                (expression recognition rate)
    <=k     = #{i : d(r_i, h_i) <= k} / n,  k = 1, 2, 3

as in the TAP paper's tables (which print them as percentages; here they are fractions),
and ExpRate per bucket of the number of strokes of the expression (TAP Fig. 13).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_STROKE_EDGES = (5, 10, 15, 20, 25, 30)


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two token sequences (unit-cost insert, delete, substitute).

    A row-by-row dynamic programme; each row is three numpy operations, the insertions
    resolved by a running minimum: ``row[j] = min_k<=j (t[k] + j - k)``.
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    b_arr = np.asarray(list(b), dtype=object)
    cols = np.arange(len(b) + 1)
    row = cols.copy()
    for i, tok in enumerate(a, start=1):
        t = np.empty_like(row)
        t[0] = i
        t[1:] = np.minimum(row[1:] + 1, row[:-1] + (b_arr != tok))  # deletion, substitution
        row = np.minimum.accumulate(t - cols) + cols  # insertions
    return int(row[-1])


def stroke_bucket(count: int, edges: Sequence[int] = DEFAULT_STROKE_EDGES) -> str:
    """The label of the bucket holding ``count`` strokes: ``"1-5"``, ``"6-10"``, ..., ``">30"``."""
    lo = 1
    for hi in edges:
        if count <= hi:
            return f"{lo}-{hi}"
        lo = hi + 1
    return f">{edges[-1]}"


def score(
    references: list[list[str]],
    hypotheses: list[list[str]],
    stroke_counts: Sequence[int] | None = None,
    stroke_edges: Sequence[int] = DEFAULT_STROKE_EDGES,
) -> dict:
    """Scores hypotheses against references (lists of token lists, in the same order).

    Returns ``{"n", "wer", "exprate", "le1", "le2", "le3", "per_stroke_count"}``, rates as
    fractions; ``wer`` is NaN when the references hold no token at all. ``per_stroke_count``
    maps each non-empty bucket label (:func:`stroke_bucket`) to ``{"n", "exprate"}`` and is
    empty when ``stroke_counts`` is not given.
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"score: {len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        raise ValueError("score: no expressions to score")
    if stroke_counts is not None and len(stroke_counts) != len(references):
        raise ValueError(f"score: {len(stroke_counts)} stroke counts for {len(references)} expressions")
    dist = np.array([edit_distance(r, h) for r, h in zip(references, hypotheses)])
    ref_tokens = sum(len(r) for r in references)
    out = {
        "n": len(references),
        "wer": float(dist.sum() / ref_tokens) if ref_tokens else float("nan"),
        "exprate": float(np.mean(dist == 0)),
        **{f"le{k}": float(np.mean(dist <= k)) for k in (1, 2, 3)},
        "per_stroke_count": {},
    }
    if stroke_counts is not None:
        labels = np.array([stroke_bucket(int(c), stroke_edges) for c in stroke_counts])
        order = [stroke_bucket(e, stroke_edges) for e in stroke_edges] + [f">{stroke_edges[-1]}"]
        out["per_stroke_count"] = {
            lab: {"n": int((labels == lab).sum()), "exprate": float(np.mean(dist[labels == lab] == 0))}
            for lab in order
            if (labels == lab).any()
        }
    return out
