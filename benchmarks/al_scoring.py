"""W-BADGE selection speed on the full CoNLL-2003 pool: the whole-pool program vs the old path, and a
BADGE-style reference; BALD.

    TAPJAX_DATA=../shared/data python benchmarks/al_scoring.py [--passes 100] [--ref_passes 100] [--limit N]
    TAPJAX_DATA=../shared/data python benchmarks/al_scoring.py --word_budget [--limit N]

Pool: the CoNLL-2003 training set minus a random 2% (281 sentences) labeled start, i.e.
13,760 sentences; budget 281; a paper-size BiLSTM tagger (400-dim embeddings, 200 units per
direction) with random weights (timing only). ``--limit N`` keeps the first N training
sentences (a smoke run; the budget stays 2%).

* **new** (:mod:`tapjax.al.strategies`): gradient embeddings as ``vmap`` of ``jax.grad`` of
  each sentence's loss (W-BADGE Eq. 4), the whole pool scored by one jitted program sharded
  over devices (per length bucket, fixed-size chunks under ``lax.map``), kept on device;
  weighted k-means++ (Eq. 5) as a ``lax.fori_loop`` with a running ``[N]`` distance vector.
* **old** (the path before it, kept here for comparison): Eq. 4's closed form, one program
  call per batch in a Python loop (batches of ~``score_tokens`` padded tokens over fine
  length buckets, a short tail batch per bucket), rows gathered back on device; the same
  seeding.
* **reference**, as the BADGE authors ship it: embeddings computed batch by batch (64 rows,
  the training buckets) and gathered into NumPy on the host, then k-means++ in NumPy with
  one distance update per pick and ``np.random.choice`` sampling; BALD as a Python loop
  over the T passes of the same design as ours (encoder once per batch, then the dropout
  decoder per pass; with ``--encoder_dropout`` both run the whole network per pass).

Times include compilation (first call) and are also given warm (the median of ``--repeats``
calls after it). The last line
is one JSON object with the figures: ``seconds`` = ``wbadge_s`` (new, warm), ``peer`` =
``wbadge_old_s`` (old, warm), ``ratio`` = old / new, ``throughput`` = pool sentences per
second of the new path; ``ref_*`` the reference's, ``ref_ratio`` = reference / new.

``--word_budget`` times only W-BADGE under one round's word budget (``START_FRACTION`` of the
training words, the paper's CoNLL query; the same pool) as the AL loop selects:

* **stopped**: k-means++ given the sentences' words and the budget, its loop ending once the
  picks meet it (:mod:`tapjax.al.selection`);
* **fixed**: the ``most_needed`` picks (as many as the shortest unlabeled sentences need),
  then cut to the budget (``within_budget``), as the loop did before;

both the whole selection (gradient embeddings + seeding) and the seeding alone on the same
embeddings, with ``same_rows`` checking that both keep the same sentences. The last line:
``seconds`` = ``wbadge_stopped_s``, ``peer`` = ``wbadge_fixed_s``, ``ratio`` = fixed / stopped,
``seeding_ratio`` the same for the seeding alone, ``picks`` / ``most_needed`` the picks made.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from tapjax.al import corpora, scoring, selection, strategies
from tapjax.al.learner import build_model, init_params, per_example_keys
from tapjax.al.sentence_batches import finer_buckets, inference_batches, training_batches
from tapjax.al.vocabulary import Vocabs
from tapjax.common.sharding import data_mesh, make_eval_fn, shard_batch

START_FRACTION = 0.02  # the labeled start, and the budget (281 sentences of CoNLL-2003's 14,041)
BUCKETS = (16, 32, 64, 128)


def setup(data_dir=None, limit=0, encoder_dropout=False):
    splits = corpora.load("conll2003", data_dir)
    train = splits["train"]
    train = train.subset(range(min(limit, len(train)))) if limit else train
    budget = max(1, round(START_FRACTION * len(train)))
    labeled = np.sort(np.random.default_rng(0).choice(len(train), budget, replace=False))
    config = ConfigDict(dict(model="tagger", model_cfg=dict(embed_dim=400, hidden=200, decoder=100, dropout=0.5,
                                                             chars=False, min_count=1, vectors=()),
                             train=dict(buckets=BUCKETS, max_word=20, score_tokens=2048,
                                        score_buckets=finer_buckets(BUCKETS)),
                             al=dict(bald=dict(passes=100, encoder_dropout=encoder_dropout))))
    vocabs = Vocabs.build(train, splits["validation"])
    enc = vocabs.encode(train)
    model = build_model(config, vocabs)
    params = init_params(model, enc, config.train, jax.random.key(0))
    unlabeled = np.setdiff1d(np.arange(len(train)), labeled)
    return strategies.Pool(model, params, enc, labeled, unlabeled, config.train, data_mesh(), config.al), budget


def timed(fn):
    t = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return time.perf_counter() - t, out


def _measure(res, name, fn, repeats=1):
    """``res[name]``: the median seconds of ``repeats`` calls of ``fn``; returns the last output."""
    times, outs = zip(*(timed(fn) for _ in range(repeats)))
    res[name] = float(np.median(times))
    print(f"  {name}: {res[name]:.2f} s" + (f" (median of {repeats}: {', '.join(f'{t:.2f}' for t in times)})"
                                            if repeats > 1 else ""), flush=True)
    return outs[-1]


def _per_batch(pool, batches, fn):
    """``(positions in pool.unlabeled, fn(batch) rows)`` of each batch's real sentences."""
    position = {int(i): p for p, i in enumerate(pool.unlabeled)}
    for batch in batches:
        real = np.nonzero(batch["index"] >= 0)[0]
        yield [position[int(batch["index"][r])] for r in real], fn(batch)[real]


@functools.lru_cache
def _closed_form(model, mesh=None):
    """Eq. 4's closed form, jitted; with ``mesh``, sharded over the batch rows."""
    fn = functools.partial(scoring.gradient_embedding_closed_form, model)
    return jax.jit(fn) if mesh is None else make_eval_fn(fn, mesh)


def old_embeddings(pool):
    """The old path: one closed-form program call per inference batch, rows gathered on device."""
    cfg, program = pool.cfg, _closed_form(pool.model, pool.mesh)
    batches = inference_batches(pool.train, pool.unlabeled, cfg.score_tokens, cfg.score_buckets, cfg.max_word,
                                pool.mesh.devices.size)
    where, rows = zip(*_per_batch(pool, batches, lambda b: program(pool.params, shard_batch(b, pool.mesh))))
    return jnp.concatenate(rows)[np.argsort(np.concatenate(where))]


def old_wbadge(pool, k, key):
    G = old_embeddings(pool)
    weights = strategies.sentence_weights(pool)
    return pool.unlabeled[selection.kmeanspp_seeding(G, pool.all_candidates(), k, key, pool.mesh, weights)]


def reference_embeddings(pool, batch_rows=64):
    """Batch by batch, each batch's embeddings copied to a NumPy array on the host."""
    program = _closed_form(pool.model)
    batches = training_batches(pool.train, pool.unlabeled, batch_rows, pool.cfg.buckets, pool.cfg.max_word)
    where, rows = zip(*_per_batch(pool, batches, lambda b: np.asarray(program(pool.params, b))))
    return np.concatenate(rows)[np.argsort(np.concatenate(where))]


def reference_kmeanspp(X, k, rng, weights=None):
    """BADGE's ``init_centers``: largest norm first, then D²-sampling, one distance update per pick."""
    w = np.ones(len(X)) if weights is None else weights
    picks = [int(np.argmax(w * np.sum(X * X, 1)))]
    d2 = np.sum((X - X[picks[0]]) ** 2, 1)
    while len(picks) < k:
        p = w * d2
        p[picks] = 0.0
        j = int(rng.choice(len(X), p=p / p.sum()))
        picks.append(j)
        d2 = np.minimum(d2, np.sum((X - X[j]) ** 2, 1))
    return np.asarray(picks)


def reference_bald(pool, passes, key, batch_rows=64):
    """A Python loop over passes: decode the pool with dropout, collect on the host, count the mode."""
    def decode(p, b, k):
        keys = per_example_keys(k, b["index"])
        if pool.settings.bald.encoder_dropout:
            return pool.model.apply(p, b["words"], b["mask"], keys=keys).pred
        return pool.model.apply(p, b["enc"], b["mask"], keys, method="decode").pred

    encode = jax.jit(lambda p, b: pool.model.apply(p, b["words"], b["mask"], method="encode"))
    decode = jax.jit(decode)
    preds = {int(i): [] for i in pool.unlabeled}
    for batch in training_batches(pool.train, pool.unlabeled, batch_rows, pool.cfg.buckets, pool.cfg.max_word):
        batch["enc"] = encode(pool.params, batch)
        for t in range(passes):
            pred = np.asarray(decode(pool.params, batch, jax.random.fold_in(key, t)))
            for r, i in enumerate(batch["index"]):
                if i >= 0:
                    preds[int(i)].append(tuple(pred[r, : len(pool.train.words[i])]))
    return np.asarray([1 - max(s.count(x) for x in set(s)) / passes for s in preds.values()])


ROWS = (("gradient embeddings (s)", "embeddings"), ("W-BADGE seeding (s)", "wseeding"),
        ("BADGE selection (s)", "badge"), ("W-BADGE selection (s)", "wbadge"), ("BALD, warm (s)", "bald"))


def _cell(value, width: int) -> str:
    return f"{'-':>{width}s}" if value is None else f"{value:{width}.2f}"


def word_budget(pool, key, repeats) -> dict:
    """Module doc, ``--word_budget``: W-BADGE stopped at one round's word budget vs the fixed
    ``most_needed`` picks cut to it."""
    lengths = np.asarray([len(w) for w in pool.train.words])
    budget = selection.budget_size(START_FRACTION, lengths)
    k = selection.most_needed(lengths[pool.unlabeled], budget)
    stopping = dataclasses.replace(pool, costs=lengths, budget=budget)
    print(f"word budget {budget}, most needed {k} sentences")
    res = {"budget_words": budget, "most_needed": k}
    measure = functools.partial(_measure, res)
    embed = functools.partial(pool.features, scoring.gradient_embedding, pool.unlabeled)
    measure("embeddings_s_first", embed)
    G = measure("embeddings_s", embed, repeats)
    weights, cand = strategies.sentence_weights(pool), pool.all_candidates()
    programs = selection._kmeanspp._cache_size()
    for name, stop in (("stopped", dict(costs=lengths[pool.unlabeled], budget=budget)), ("fixed", {})):
        seeding = functools.partial(selection.kmeanspp_seeding, G, cand, k, key, pool.mesh, weights, **stop)
        measure(f"seeding_{name}_s_first", seeding)
        measure(f"seeding_{name}_s", seeding, repeats)
    res["seeding_programs"] = selection._kmeanspp._cache_size() - programs  # 1: the fixed picks reuse it
    stopped = measure("wbadge_stopped_s", repeats=repeats, fn=lambda: strategies.wbadge(stopping, k, key))
    fixed = measure("wbadge_fixed_s", repeats=repeats, fn=lambda: strategies.wbadge(pool, k, key))
    kept = selection.within_budget(fixed, lengths, budget)
    res.update(picks=len(stopped), same_rows=stopped.tolist() == kept.tolist())
    print(f"{'':24s}{'stopped':>10s}{'fixed':>10s}{'fixed/stopped':>15s}")
    for label, name in (("W-BADGE selection (s)", "wbadge"), ("seeding (s)", "seeding")):
        new, old = res[f"{name}_stopped_s"], res[f"{name}_fixed_s"]
        print(f"{label:24s}{new:10.2f}{old:10.2f}{old / new:14.1f}x")
    print(f"({res['picks']} picks instead of {k}; same rows kept: {res['same_rows']}; the first seeding call, incl."
          f" compilation: {res['seeding_stopped_s_first']:.2f} s, the fixed picks' first call then runs the same"
          f" program ({res['seeding_programs']} compiled): {res['seeding_fixed_s_first']:.2f} s)")
    return {**res, "seconds": res["wbadge_stopped_s"], "peer": res["wbadge_fixed_s"],
            "ratio": res["wbadge_fixed_s"] / res["wbadge_stopped_s"],
            "seeding_ratio": res["seeding_fixed_s"] / res["seeding_stopped_s"]}


def _table(res):
    print(f"{'':28s}{'new':>10s}{'old':>10s}{'reference':>12s}{'old/new':>9s}{'ref/new':>9s}")
    for label, key in ROWS:
        new = res.get(f"{key}_s")
        if new is not None:
            old, ref = res.get(f"{key}_old_s"), res.get(f"ref_{key}_s")
            ratios = "".join(f"{'-':>9s}" if v is None else f"{v / new:8.1f}x" for v in (old, ref))
            print(f"{label:28s}{_cell(new, 10)}{_cell(old, 10)}{_cell(ref, 12)}{ratios}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=100, help="0 skips our BALD")
    parser.add_argument("--ref_passes", type=int, default=100, help="0 skips the reference BALD")
    parser.add_argument("--encoder_dropout", action="store_true", help="full-network MC dropout in BALD")
    parser.add_argument("--limit", type=int, default=0, help="> 0: only the first LIMIT training sentences")
    parser.add_argument("--repeats", type=int, default=3, help="warm timings: the median of this many calls")
    parser.add_argument("--word_budget", action="store_true",
                        help="only W-BADGE stopped at a round's word budget vs the fixed most_needed picks")
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args()
    pool, budget = setup(args.data_dir, args.limit, args.encoder_dropout)
    key = jax.random.key(0)
    print(f"pool {len(pool.unlabeled)} sentences, budget {budget}, devices {jax.device_count()}")
    if args.word_budget:
        return _print_json({**word_budget(pool, key, args.repeats), "pool": len(pool.unlabeled),
                            "load_avg_1m": os.getloadavg()[0]})
    res = {}
    measure = functools.partial(_measure, res)

    measure("wbadge_s_first", lambda: strategies.wbadge(pool, budget, key))
    measure("wbadge_s", repeats=args.repeats, fn=lambda: strategies.wbadge(pool, budget, key))
    measure("wbadge_old_s_first", lambda: old_wbadge(pool, budget, key))
    measure("wbadge_old_s", repeats=args.repeats, fn=lambda: old_wbadge(pool, budget, key))
    measure("badge_s", repeats=args.repeats, fn=lambda: strategies.badge(pool, budget, key))
    G = measure("embeddings_s", repeats=args.repeats,
                fn=lambda: pool.features(scoring.gradient_embedding, pool.unlabeled))
    G_old = measure("embeddings_old_s", repeats=args.repeats, fn=lambda: old_embeddings(pool))
    res["embedding_max_abs_diff"] = float(jnp.abs(G - G_old).max())
    measure("wseeding_s", repeats=args.repeats, fn=lambda: selection.kmeanspp_seeding(
        G, pool.all_candidates(), budget, key, pool.mesh, strategies.sentence_weights(pool)))
    rng = np.random.default_rng(0)
    measure("ref_embeddings_s_first", lambda: reference_embeddings(pool))
    Gref = measure("ref_embeddings_s", lambda: reference_embeddings(pool))
    res["embedding_dim"] = int(Gref.shape[1])
    measure("ref_seeding_s", lambda: reference_kmeanspp(Gref, budget, rng))
    measure("ref_wseeding_s", lambda: reference_kmeanspp(Gref, budget, rng, strategies.sentence_weights(pool)))
    res["ref_badge_s"] = res["ref_embeddings_s"] + res["ref_seeding_s"]
    res["ref_wbadge_s"] = res["ref_embeddings_s"] + res["ref_wseeding_s"]

    if args.passes:
        pool.settings.bald.passes = res["bald_passes"] = args.passes
        measure("bald_s_first", lambda: strategies.bald(pool, budget, key))
        measure("bald_s", lambda: strategies.bald(pool, budget, key))
    if args.ref_passes:
        res["ref_bald_passes"] = args.ref_passes
        measure("ref_bald_s", lambda: reference_bald(pool, args.ref_passes, key))

    _table(res)
    print(f"(W-BADGE first call incl. compilation: new {res['wbadge_s_first']:.2f} s, old"
          f" {res['wbadge_old_s_first']:.2f} s; embedding dim {res['embedding_dim']}, new vs old max |diff|"
          f" {res['embedding_max_abs_diff']:.1e}; BALD first call incl. compilation"
          f" {res.get('bald_s_first', float('nan')):.2f} s, reference first call; ours T={args.passes},"
          f" reference T={args.ref_passes}; load average {os.getloadavg()[0]:.1f})")
    res.update(seconds=res["wbadge_s"], peer=res["wbadge_old_s"], ratio=res["wbadge_old_s"] / res["wbadge_s"],
               ref_ratio=res["ref_wbadge_s"] / res["wbadge_s"], throughput=len(pool.unlabeled) / res["wbadge_s"],
               pool=len(pool.unlabeled), load_avg_1m=os.getloadavg()[0])
    _print_json(res)


def _print_json(res):
    print(json.dumps({k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in res.items()}))


if __name__ == "__main__":
    main()
