"""Train-step and tracker speed: ours (JAX) versus a PyTorch torch.nn.GRU tracker of identical shapes.

    python benchmarks/train_step.py [--batch 8] [--points 248] [--tokens 13] [--repeats 5]

Measures expressions per second of (1) our full TAP train step (paper-size model, Eq. 29
loss, Adadelta, one device) and (2) the tracker's forward + backward: ours
(:class:`tapjax.tap.nets.tracker.Tracker`) and PyTorch's stacked bidirectional ``torch.nn.GRU``
(4 layers, 250 per direction, time halved after layers 3 and 4), same batch and lengths.
The default lengths are the median CROHME 2014 training expression (248 points, 12 tokens +
EOS). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.configs import crohme14
from tapjax.common import sharding
from tapjax.tap.nets.loss import tap_loss
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.model_config import TAPConfig
from tapjax.tap.nets.tracker import Tracker


def timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after one warm-up (compilation) call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))

PAPER = TAPConfig.from_config(crohme14.get_config("paper").model)


def batch(B: int, N: int, T: int) -> dict:
    rng = np.random.default_rng(0)
    return {"features": rng.normal(size=(B, N, 8)).astype(np.float32), "feature_mask": np.ones((B, N), np.float32),
            "tokens": rng.integers(1, 111, size=(B, T)).astype(np.int32), "token_mask": np.ones((B, T), np.float32),
            "align": (rng.random((B, T, N)) < 0.05).astype(np.uint8), "index": np.arange(B, dtype=np.int32)}


def ours_train_step(b: dict, repeats: int) -> float:
    model = TAP(PAPER)
    mesh = sharding.data_mesh(jax.devices()[:1])
    tx = optax.chain(optax.clip_by_global_norm(100.0), optax.adadelta(1.0, rho=0.95, eps=1e-6))
    holder = {"state": sharding.replicate(sharding.TrainState.create(model.init(jax.random.key(0)), tx), mesh)}
    step = sharding.make_train_step(lambda p, x, r: tap_loss(model, p, x), tx, mesh)
    sharded = sharding.shard_batch(b, mesh)

    def run():
        holder["state"], metrics = step(holder["state"], sharded, jax.random.key(0))
        jax.block_until_ready(metrics)

    return timed(run, repeats)


def ours_tracker(b: dict, repeats: int) -> float:
    tracker = Tracker(hidden=PAPER.tracker_hidden, layers=PAPER.tracker_layers, pool_after=PAPER.pool_after)
    params = tracker.init(jax.random.key(0), b["features"], b["feature_mask"])
    grad = jax.jit(jax.grad(lambda p, x, m: tracker.apply(p, x, m)[0].sum()))
    x, m = jnp.asarray(b["features"]), jnp.asarray(b["feature_mask"])
    return timed(lambda: jax.block_until_ready(grad(params, x, m)), repeats)


def torch_tracker(b: dict, repeats: int) -> float:
    import torch

    layers = torch.nn.ModuleList(
        [torch.nn.GRU(8 if i == 0 else 500, 250, batch_first=True, bidirectional=True) for i in range(4)])
    x = torch.from_numpy(b["features"])

    def run():
        for p in layers.parameters():
            p.grad = None
        h = x
        for i, gru in enumerate(layers):
            h, _ = gru(h)
            if i >= 2:  # pool after layers 3 and 4
                h = h[:, 0::2]
        h.sum().backward()

    return timed(run, repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--points", type=int, default=248)
    parser.add_argument("--tokens", type=int, default=13)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import torch

    b = batch(args.batch, args.points, args.tokens)
    B = args.batch
    # PyTorch first (its OpenMP threads suffer from a busy JAX thread pool), at its default
    # thread count and at 1 thread (faster on a loaded machine); the faster is the peer figure.
    torch_by_threads = {}
    for threads in sorted({torch.get_num_threads(), 1}, reverse=True):
        torch.set_num_threads(threads)
        torch_by_threads[threads] = torch_tracker(b, args.repeats)
    torch_s = min(torch_by_threads.values())
    step_s = ours_train_step(b, args.repeats)
    ours_s = ours_tracker(b, args.repeats)
    figures = {
        "device": jax.devices()[0].device_kind, "torch": torch.__version__,
        "batch": B, "points": args.points, "tokens": args.tokens,
        "train_step_expr_per_s": B / step_s,
        "tracker_fwd_bwd_expr_per_s": B / ours_s, "torch_tracker_fwd_bwd_expr_per_s": B / torch_s,
        **{f"torch_tracker_expr_per_s_{t}_threads": B / s for t, s in torch_by_threads.items()},
        "tracker_speed_ratio_ours_over_torch": torch_s / ours_s,
    }
    print(f"full TAP train step (ours, paper-size model): {B / step_s:8.2f} expr/s ({step_s * 1e3:.0f} ms/step)")
    print(f"tracker fwd+bwd  ours {B / ours_s:8.2f} expr/s   torch {B / torch_s:8.2f} expr/s   "
          f"ratio ours/torch {torch_s / ours_s:.2f}x")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
