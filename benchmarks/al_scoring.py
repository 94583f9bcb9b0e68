"""Selection speed on the full CoNLL-2003 pool: ours (jitted, sharded) vs a BADGE-style reference.

    TAPJAX_DATA=../shared/data python benchmarks/al_scoring.py [--passes 100] [--ref_passes 100]

Pool: the CoNLL-2003 training set minus a random 2% (281 sentences) labeled start, i.e.
13,760 sentences; budget 281; a paper-size BiLSTM tagger (400-dim embeddings, 200 units per
direction) with random weights (timing only). Ours: :mod:`tapjax.al.strategies` (closed-form
gradient embeddings over the pool in batches of ~``score_tokens`` padded tokens over fine
length buckets, kept on device; k-means++ as a ``lax.fori_loop`` with a running ``[N]``
distance vector; BALD with MC dropout after the encoder, passes vectorised). Reference, as
the BADGE authors ship it: embeddings computed batch by batch (64 rows, the training
buckets) and gathered into NumPy on the host, then k-means++ in NumPy with one distance
update per pick and ``np.random.choice`` sampling; BALD as a Python loop over the T passes
of the same design (encoder once per batch, then the dropout decoder per pass; with
``--encoder_dropout`` both run the whole network per pass). Times include compilation
(first call) and are also given warm (second call). The last line is one JSON object with
the figures (``seconds``/``peer``/``ratio``/``throughput`` are W-BADGE's: ours warm, the
reference, reference / ours, pool sentences per second).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from tapjax.al import embeddings, select, strategies
from tapjax.al.train import Vocabs, batches, build_model, init_params, per_example_keys
from tapjax.data import conll, wordvocab
from tapjax.train.sharding import data_mesh
from experiments.configs.al_common import finer_buckets

BUDGET = 281
BUCKETS = (16, 32, 64, 128)


def setup(data_dir=None):
    train = conll.load("conll2003", data_dir)["train"]
    labeled = np.sort(np.random.default_rng(0).choice(len(train), BUDGET, replace=False))
    config = ConfigDict(dict(model="tagger", model_cfg=dict(embed_dim=400, hidden=200, decoder=100, dropout=0.5,
                                                             chars=False, min_count=1, glove_path=""),
                             train=dict(buckets=BUCKETS, max_word=20, score_tokens=2048,
                                        score_buckets=finer_buckets(BUCKETS))))
    vocabs = Vocabs.build(train.subset(labeled), train.tags, 1, False)
    enc = vocabs.encode(train)
    model = build_model(config, vocabs, wordvocab.capacity(train.words))
    params = init_params(model, enc, config.train, jax.random.key(0))
    unlabeled = np.setdiff1d(np.arange(len(train)), labeled)
    return strategies.Pool(model, params, enc, labeled, unlabeled, config.train, data_mesh())


def timed(fn):
    t = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return time.perf_counter() - t, out


@functools.lru_cache
def _reference_embedding_fn(model):
    return jax.jit(lambda p, b: embeddings.gradient_embedding_closed_form(model, p, b))


def reference_embeddings(pool, batch_rows=64):
    """Batch by batch, each batch's embeddings copied to a NumPy array on the host."""
    fn = _reference_embedding_fn(pool.model)
    position = {int(i): j for j, i in enumerate(pool.unlabeled)}
    out = None
    for batch in batches(pool.train, pool.unlabeled, batch_rows, pool.cfg.buckets, pool.cfg.max_word):
        g = np.asarray(fn(pool.params, batch))
        out = np.zeros((len(pool.unlabeled), g.shape[1]), np.float32) if out is None else out
        for r, i in enumerate(batch["index"]):
            if i >= 0:
                out[position[int(i)]] = g[r]
    return out


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
        if pool.bald_encoder_dropout:
            return pool.model.apply(p, b["words"], b["mask"], keys=keys).pred
        return pool.model.apply(p, b["enc"], b["mask"], keys, method="decode").pred

    encode = jax.jit(lambda p, b: pool.model.apply(p, b["words"], b["mask"], method="encode"))
    decode = jax.jit(decode)
    preds = {int(i): [] for i in pool.unlabeled}
    for batch in batches(pool.train, pool.unlabeled, batch_rows, pool.cfg.buckets, pool.cfg.max_word):
        batch["enc"] = encode(pool.params, batch)
        for t in range(passes):
            pred = np.asarray(decode(pool.params, batch, jax.random.fold_in(key, t)))
            for r, i in enumerate(batch["index"]):
                if i >= 0:
                    preds[int(i)].append(tuple(pred[r, : len(pool.train.words[i])]))
    return np.asarray([1 - max(s.count(x) for x in set(s)) / passes for s in preds.values()])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=100, help="0 skips our BALD")
    parser.add_argument("--ref_passes", type=int, default=100, help="0 skips the reference BALD")
    parser.add_argument("--encoder_dropout", action="store_true", help="full-network MC dropout in BALD")
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args()
    pool = setup(args.data_dir)
    pool.bald_encoder_dropout = args.encoder_dropout
    key = jax.random.key(0)
    print(f"pool {len(pool.unlabeled)} sentences, budget {BUDGET}, devices {jax.device_count()}")
    res = {}

    def measure(name, fn):
        res[name], out = timed(fn)
        print(f"  {name}: {res[name]:.2f} s", flush=True)
        return out

    measure("wbadge_s_first", lambda: strategies.wbadge(pool, BUDGET, key))
    measure("wbadge_s", lambda: strategies.wbadge(pool, BUDGET, key))
    measure("badge_s", lambda: strategies.badge(pool, BUDGET, key))
    G = measure("embeddings_s", lambda: pool.features(embeddings.gradient_embedding_closed_form, pool.unlabeled))
    measure("wseeding_s", lambda: select.kmeanspp_seeding(G, pool.all_candidates(), BUDGET, key, pool.mesh,
                                                          strategies.sentence_weights(pool)))
    rng = np.random.default_rng(0)
    measure("ref_embeddings_s_first", lambda: reference_embeddings(pool))
    Gref = measure("ref_embeddings_s", lambda: reference_embeddings(pool))
    res["embedding_dim"] = int(Gref.shape[1])
    measure("ref_seeding_s", lambda: reference_kmeanspp(Gref, BUDGET, rng))
    measure("ref_wseeding_s", lambda: reference_kmeanspp(Gref, BUDGET, rng, strategies.sentence_weights(pool)))
    res["ref_badge_s"] = res["ref_embeddings_s"] + res["ref_seeding_s"]
    res["ref_wbadge_s"] = res["ref_embeddings_s"] + res["ref_wseeding_s"]

    if args.passes:
        pool.bald_passes = args.passes
        res["bald_passes"] = args.passes
        measure("bald_s_first", lambda: strategies.bald(pool, BUDGET, key))
        measure("bald_s", lambda: strategies.bald(pool, BUDGET, key))
    if args.ref_passes:
        res["ref_bald_passes"] = args.ref_passes
        measure("ref_bald_s", lambda: reference_bald(pool, args.ref_passes, key))

    print(f"{'':28s}{'tapjax':>10s}{'reference':>12s}{'ratio':>8s}")
    for label, ours, ref in (("gradient embeddings (s)", "embeddings_s", "ref_embeddings_s"),
                             ("W-BADGE seeding (s)", "wseeding_s", "ref_wseeding_s"),
                             ("BADGE selection (s)", "badge_s", "ref_badge_s"),
                             ("W-BADGE selection (s)", "wbadge_s", "ref_wbadge_s"),
                             ("BALD, ours warm (s)", "bald_s", "ref_bald_s")):
        if ref in res:
            print(f"{label:28s}{res[ours]:10.2f}{res[ref]:12.2f}{res[ref] / res[ours]:7.1f}x")
        elif ours not in res:
            continue
        else:
            print(f"{label:28s}{res[ours]:10.2f}{'-':>12s}")
    print(f"(W-BADGE first call incl. compilation {res['wbadge_s_first']:.2f} s; embedding dim {res['embedding_dim']};"
          f" BALD first call incl. compilation {res.get('bald_s_first', float('nan')):.2f} s, reference first"
          f" call; ours T={args.passes}, reference T={args.ref_passes};"
          f" load average {os.getloadavg()[0]:.1f})")
    res.update(seconds=res["wbadge_s"], peer=res["ref_wbadge_s"], ratio=res["ref_wbadge_s"] / res["wbadge_s"],
               throughput=len(pool.unlabeled) / res["wbadge_s"], load_avg_1m=os.getloadavg()[0])
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}))


if __name__ == "__main__":
    main()
