"""Scalar logging: one JSON object per line in ``workdir/metrics.jsonl`` and TensorBoard events."""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorboardX


class MetricWriter:
    """Writes ``{"step", "split", metric: value, ...}`` lines and TensorBoard scalars ``split/metric``."""

    def __init__(self, workdir: str | os.PathLike):
        self.path = Path(workdir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tb = tensorboardX.SummaryWriter(str(Path(workdir) / "tensorboard"))

    def write(self, step: int, split: str, metrics: dict) -> None:
        values = {k: float(v) for k, v in metrics.items()}
        with self.path.open("a") as f:
            f.write(json.dumps({"step": int(step), "split": split, **values}) + "\n")
        for k, v in values.items():
            self.tb.add_scalar(f"{split}/{k}", v, int(step))
        self.tb.flush()

    def close(self) -> None:
        self.tb.close()
