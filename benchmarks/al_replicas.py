"""The five repeats of an AL round (W-BADGE paper §5.3) trained as replicas of one vmapped program
against one after another, on real data.

    TAPJAX_DATA=../shared/data python benchmarks/al_replicas.py [--dataset atis] [--variant quick]
        [--seeds 5] [--fraction F] [--epochs E] [--sentences N]

The round: each seed's random start set (:func:`tapjax.al.loop.start_set`: ``--fraction`` of the
training words, default the config's ``al.initial_fraction``), trained from scratch with the
config's model and schedule (``--epochs`` to shorten it), seed ``s`` drawing its start set and
training with seed ``s``.

* **vmapped**: :func:`tapjax.al.learner.train_replicas`, every seed in one program
  (``train.replicas = "vmap"``);
* **sequential** (the peer): :func:`tapjax.al.learner.train` for each seed in turn
  (``train.replicas = "sequential"``).

Both are timed warm: each first trains its replicas for one epoch, which compiles every program
shape they use (training buckets, evaluation batches), as an AL run compiles them once for all
its rounds. The benchmark checks that both give the same models (largest parameter difference,
F1s and best epochs), and reports the padding work of the vmapped steps: a step runs every
replica at the longest length it needs, so the tokens it computes, over the tokens the replicas'
own batches hold, is its work per useful token (one epoch; 1 = no waste). ``--sentences N`` keeps
the first N sentences of each split (a smoke run). The last line is one JSON object: ``seconds``
(vmapped), ``peer`` (sequential), ``ratio`` = peer / seconds, ``throughput`` = sentence-epochs
trained per second (vmapped), CPU seconds of both, the check and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import numpy as np

from experiments.configs import al_atis, al_conll, al_fmtod
from tapjax.al import learner, loop, selection
from tapjax.al.sentence_batches import lockstep, training_batches
from tapjax.common.sharding import data_mesh

CONFIGS = {"atis": al_atis, "conll2003": al_conll, "fmtod": al_fmtod}


def setup(args):
    """``(config, vocabs, encoded splits, labeled sets, seeds)`` of the round."""
    config = CONFIGS[args.dataset].get_config(args.variant)
    config.data.update(root=args.data_dir or "", limit=args.sentences)
    config.train.epochs = args.epochs or config.train.epochs
    config.train.eval_from_epoch = min(config.train.eval_from_epoch, config.train.epochs)
    splits = loop.load_splits(config.data)
    vocabs = learner.vocabularies(splits, config.model_cfg)
    enc = {k: vocabs.encode(v) for k, v in splits.items()}
    costs = selection.COSTS[config.al.budget](np.asarray([len(w) for w in splits["train"].words]))
    budget = selection.budget_size(args.fraction or config.al.initial_fraction, costs)
    labeled_sets = [loop.start_set(costs, budget, seed) for seed in range(args.seeds)]
    return config, vocabs, enc, labeled_sets, list(range(args.seeds))


def padding_work(config, train, labeled_sets, seeds) -> float:
    """Tokens the vmapped steps of one epoch compute over the tokens of the replicas' own batches."""
    cfg = config.train
    sequences = [list(training_batches(train, labeled, cfg.batch_size, cfg.buckets, cfg.max_word,
                                       np.random.default_rng(seed))) for labeled, seed in zip(labeled_sets, seeds)]
    own = sum(b["words"].size for s in sequences for b in s)
    return sum(batches["words"].size for batches, _ in lockstep(sequences)) / own


def timed(fn):
    """``(fn(), wall seconds, CPU seconds)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    jax.block_until_ready(out)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="atis", choices=tuple(CONFIGS))
    parser.add_argument("--variant", default="quick", choices=("quick", "cpu", "paper"), help="the model and schedule")
    parser.add_argument("--seeds", type=int, default=5, help="replicas (the paper's repeats)")
    parser.add_argument("--fraction", type=float, default=0.0,
                        help="labeled share of the training words (0: the config's al.initial_fraction)")
    parser.add_argument("--epochs", type=int, default=0, help="> 0: train this many epochs (0: the config's)")
    parser.add_argument("--sentences", type=int, default=0, help="> 0: only the first N sentences of each split")
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args()
    config, vocabs, enc, labeled_sets, seeds = setup(args)
    mesh = data_mesh()
    data = (enc["train"], enc["validation"], enc["test"])

    def vmapped(cfg):
        return learner.train_replicas(cfg, data[0], labeled_sets, *data[1:], vocabs, seeds, mesh, "vmapped")[1]

    def sequential(cfg):
        return [learner.train(cfg, data[0], labeled, *data[1:], vocabs, seed, mesh, "sequential")[1:]
                for labeled, seed in zip(labeled_sets, seeds)]

    sizes = [len(s) for s in labeled_sets]
    print(f"{args.dataset} ({args.variant}): {len(seeds)} replicas of {min(sizes)}-{max(sizes)} labeled sentences, "
          f"{config.train.epochs} epochs (validation from epoch {config.train.eval_from_epoch}), batch "
          f"{config.train.batch_size}, devices {jax.device_count()}", flush=True)
    warm = config.copy_and_resolve_references()
    warm.train.update(epochs=1, eval_from_epoch=1)
    _, compile_v, _ = timed(lambda: vmapped(warm))
    _, compile_s, _ = timed(lambda: sequential(warm))
    print(f"  warm-up (1 epoch, compiling): vmapped {compile_v:.1f} s, sequential {compile_s:.1f} s", flush=True)
    new, seconds, cpu = timed(lambda: vmapped(config))
    print(f"  vmapped: {seconds:.2f} s", flush=True)
    old, peer, peer_cpu = timed(lambda: sequential(config))
    print(f"  sequential: {peer:.2f} s", flush=True)

    diff = max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
               for (p, _), (q, _) in zip(new, old) for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(q)))
    same = all(r == s for (_, r), (_, s) in zip(new, old))
    work = padding_work(config, data[0], labeled_sets, seeds)
    print(f"{'':24s}{'vmapped':>10s}{'sequential':>12s}{'ratio':>8s}")
    print(f"{'wall (s)':24s}{seconds:10.2f}{peer:12.2f}{peer / seconds:7.2f}x")
    print(f"{'CPU (s)':24s}{cpu:10.2f}{peer_cpu:12.2f}{peer_cpu / cpu:7.2f}x")
    print(f"(same models: largest parameter difference {diff:.1e}, F1s and best epochs equal: {same}; vmapped "
          f"work per useful token {work:.2f}; load average {os.getloadavg()[0]:.1f})")
    res = dict(seconds=seconds, peer=peer, ratio=peer / seconds, cpu_s=cpu, peer_cpu_s=peer_cpu,
               throughput=sum(sizes) * config.train.epochs / seconds, replicas=len(seeds), sentences=sizes,
               epochs=config.train.epochs, dataset=args.dataset, variant=args.variant, compile_s=compile_v,
               peer_compile_s=compile_s, max_param_diff=diff, same_results=same, padding_work=work,
               val_f1=[r["val_f1"] for _, r in new], load_avg_1m=os.getloadavg()[0])
    print(json.dumps({k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in res.items()}))


if __name__ == "__main__":
    main()
