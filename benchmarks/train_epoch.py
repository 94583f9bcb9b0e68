"""Training speed of a crohme14 variant on real CROHME 2014 batches, as ``train_and_evaluate`` runs them.

    python benchmarks/train_epoch.py [--variant gpu] [--batch_size 32] [--steps 24] [--data_dir D]

The variant's model, loss, optimiser and train step (:mod:`tapjax.tap.fit.trainer`), on the
batches of its first epoch (length-bucketed, augmented as configured): ``--steps`` of them spread
evenly over the epoch, so that the mix of batch shapes is the epoch's. Every shape is compiled
first (timed apart), then the steps run. Figures: expressions per second, XLA's count of the
floating-point operations of those steps (its cost analysis of each compiled shape) and the rate
achieved, the share of padded points in the batches, and the process's peak memory.

Peer: the same step on the median CROHME training expression repeated (248 points, 13 tokens
with EOS), batch ``--batch_size``: no padding and one shape, what a fixed-shape pipeline would
time; the ratio says what bucketing and real lengths cost. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import jax
import numpy as np

from experiments.configs import crohme14
from tapjax.common import precompile, sharding
from tapjax.tap.fit import trainer
from tapjax.tap.nets import families, weight_noise


def setup(variant: str, batch_size: int, data_dir: str | None):
    """``(config, model, train split, vocab, step function, fresh state, mesh)`` as the trainer builds them."""
    config = crohme14.get_config(variant)
    config.train.batch_size = batch_size
    if data_dir:
        config.data.root = data_dir
    model = families.build(config)
    vocab, train, _ = trainer.load_data(config)
    mesh = sharding.data_mesh()
    tx = weight_noise.optimizer(config, steps_per_epoch=-(-len(train) // batch_size),
                                weight=trainer.complexity_weight(config, len(train)))
    step = sharding.make_train_step(trainer.make_loss_fn(model, config, len(train)), tx, mesh,
                                    families.stateful(model))
    params, model_state = families.init(model, jax.random.key(0))
    state = sharding.TrainState.create(weight_noise.train_params(params, config.train), tx, model_state)
    state = sharding.replicate(state, mesh)
    return config, model, train, vocab, step, state, mesh


def spread(items: list, n: int) -> list:
    """``n`` items spread evenly over ``items``."""
    return [items[i] for i in np.linspace(0, len(items) - 1, min(n, len(items))).round().astype(int)]


def timed_steps(step, state, batches: list[dict], mesh) -> tuple[float, float, float]:
    """``(compile seconds, run seconds, GFLOP)`` of one train step on each batch."""
    key = jax.random.key(1)
    args = [(state, sharding.shard_batch(b, mesh), key) for b in batches]
    shapes = {precompile.shape_of(b): a for b, a in zip(batches, args)}
    compile_s = precompile.compile_all(step, shapes.values())
    flops = {s: _flops(step, *a) for s, a in shapes.items()}
    state = jax.tree.map(lambda x: x.copy(), state)  # the step donates its state: keep the caller's
    start = time.perf_counter()
    for _, batch, _ in args:
        state, metrics = step(state, batch, key)
    jax.block_until_ready(metrics)
    return compile_s, time.perf_counter() - start, sum(flops[precompile.shape_of(b)] for b in batches) / 1e9


def _flops(step, *args) -> float:
    cost = step.lower(*args).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost).get("flops", 0.0))


def padding_share(batches: list[dict]) -> float:
    """Padded points (including padding rows) over all points of ``batches``."""
    real = sum(float(b["feature_mask"].sum()) for b in batches)
    return 1.0 - real / sum(b["feature_mask"].size for b in batches)


def median_batch(batches: list[dict]) -> dict:
    """The median training expression's shape (248 points, 13 tokens) filled from a real batch's first row."""
    b = batches[0]
    rows, points, tokens = b["feature_mask"].shape[0], 248, 13
    out = {k: v.copy() for k, v in b.items()}
    out["features"] = np.resize(b["features"][0], (rows, points, b["features"].shape[2])).astype(np.float32)
    out["feature_mask"] = np.ones((rows, points), np.float32)
    out["tokens"] = np.resize(b["tokens"][0], (rows, tokens)).astype(np.int32)
    out["token_mask"] = np.ones((rows, tokens), np.float32)
    out["align"] = np.zeros((rows, tokens, points), b["align"].dtype)
    out["index"] = np.arange(rows, dtype=np.int32)
    return out


def main() -> None:
    flags = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    flags.add_argument("--variant", default="gpu")
    flags.add_argument("--batch_size", type=int, default=32)
    flags.add_argument("--steps", type=int, default=24)
    flags.add_argument("--data_dir", default=None)
    args = flags.parse_args()

    config, model, train, vocab, step, state, mesh = setup(args.variant, args.batch_size, args.data_dir)
    batches = spread(list(trainer.epoch_batches(train, model, vocab, config, 0, mesh)), args.steps)
    rows = sum(int((b["index"] >= 0).sum()) for b in batches)
    compile_s, run_s, gflop = timed_steps(step, state, batches, mesh)
    peer = [median_batch(batches)] * len(batches)
    _, peer_s, peer_gflop = timed_steps(step, state, peer, mesh)
    peer_rows = len(peer) * args.batch_size
    figures = {
        "variant": args.variant, "batch_size": args.batch_size, "steps": len(batches), "expressions": rows,
        "expressions_per_s": round(rows / run_s, 2), "step_s": round(run_s / len(batches), 3),
        "gflop_per_expression": round(gflop / rows, 2), "gflop_per_s": round(gflop / run_s, 1),
        "padding_share": round(padding_share(batches), 4), "compile_s": round(compile_s, 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "peer_expressions_per_s": round(peer_rows / peer_s, 2), "peer_gflop_per_s": round(peer_gflop / peer_s, 1),
        "ratio_over_peer": round((rows / run_s) / (peer_rows / peer_s), 3), "device": jax.devices()[0].device_kind,
    }
    print(f"{args.variant}, batch {args.batch_size}, {len(batches)} real batches ({rows} expressions): "
          f"{figures['expressions_per_s']} expressions/s, {figures['gflop_per_s']} GFLOP/s "
          f"({figures['gflop_per_expression']} GFLOP per expression), padding {100 * figures['padding_share']:.1f} %, "
          f"compile {figures['compile_s']} s, peak RSS {figures['peak_rss_gib']} GiB")
    print(f"median expression repeated (peer): {figures['peer_expressions_per_s']} expressions/s, "
          f"{figures['peer_gflop_per_s']} GFLOP/s; ratio real/peer {figures['ratio_over_peer']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
