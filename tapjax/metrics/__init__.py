"""Evaluation metrics: CROHME expression rates (WER, ExpRate, <=k errors)."""

from tapjax.metrics.exprate import edit_distance, score

__all__ = ["edit_distance", "score"]
