"""Entity-level (span-exact) precision, recall and F1, as the CoNLL ``conlleval`` script scores.

A chunk starts at ``B-X``, or at ``I-X`` after ``O`` or after a chunk of another type (so IOB1
input scores as conlleval does); it ends before the next tag that does not continue it.
A predicted chunk counts when its type, start and end all match a gold chunk.
"""

from __future__ import annotations

from typing import Sequence


def _split(tag: str) -> tuple[str, str]:
    return ("O", "") if tag == "O" else (tag[0], tag[2:])


def chunks(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """The chunks ``(type, start, end exclusive)`` of one tag sequence."""
    found, start, kind = set(), None, ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, typ = _split(tag)
        continues = prefix == "I" and start is not None and typ == kind
        if start is not None and not continues:
            found.add((kind, start, i))
            start = None
        if prefix in ("B", "I") and not continues:
            start, kind = i, typ
    return found


def f1_score(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 (in [0, 1]) of predicted chunks over all sentences."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    correct = n_gold = n_pred = 0
    for g, p in zip(gold, pred):
        if len(g) != len(p):
            raise ValueError(f"a sentence has {len(g)} gold tags but {len(p)} predicted")
        gc, pc = chunks(g), chunks(p)
        correct += len(gc & pc)
        n_gold += len(gc)
        n_pred += len(pc)
    precision = correct / n_pred if n_pred else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
