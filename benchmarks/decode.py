"""Seconds to beam-decode all 986 CROHME 2014 test expressions with the paper-size TAP model.

    python -m benchmarks.decode [--data_dir ../shared/data] [--beam 10] [--batch_size 8]

Untrained weights are fine for timing if every expression is searched for exactly as many
steps as a correct model would run on it: its reference caption length plus one (the EOS
step). ``beam_search(..., forced_length=caption lengths)`` does that: EOS is impossible
before that step and certain at it, while the search itself (top-k over ``K * V``
extensions, state gathered by parent) runs unchanged.

Batches: the expressions grouped by point-length bucket (``batching.bucket_lengths``: 10
on this set, so 10 programs are compiled) and sorted by caption length within a bucket, cut
into batches of ``--batch_size`` (so the rows of a batch stop at nearly the same step).
Compilation is done first, on one-step searches of each batch shape, and timed separately.

Peers, side by side:
* the paper: 115 s for the CROHME 2014 test set with beam 10 on its 2017 GPU;
* a straightforward reference: a per-expression Python-loop beam search (no batching, the
  model step jitted, top-k and state gathering in Python/numpy per step), timed on a subset
  of ``--reference_subset`` expressions and extrapolated to all of them by the number of
  decoding steps. Labelled "extrapolated".

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments.configs import crohme14
from tapjax.common.beam import beam_search
from tapjax.tap.ink import batching, crohme
from tapjax.tap.ink.inputs import Points
from tapjax.tap.ink.symbols import EOS, Vocab
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.model_config import TAPConfig

PAPER_SECONDS = 115.0


def sorted_batches(split, vocab, batch_size: int, model) -> list[dict]:
    """Batches within one point-length bucket each, sorted there by caption length.

    Work is rows x padded points x steps of the longest caption; on CROHME 2014 test this
    order pads it to 1.6x the unpadded sum at batch 8, 2.0x at batch 16 (about 4x at batch 48 sorted by
    caption length only). Batch 8 (the default) took about 9% less CPU time than batch 16 on the 2-core CPU.
    """
    points = np.array([len(f) for f in split.features])
    buckets = batching.bucket_lengths(points, model.stride)
    order = np.lexsort(([len(t) for t in split.tokens], np.searchsorted(buckets, points)))
    out = []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        n_points = buckets[int(np.searchsorted(buckets, points[rows].max()))]
        n_tokens = max(len(split.tokens[i]) for i in rows) + 1
        batch = batching.make_batch(split, vocab, rows, batch_size, {Points(model.stride): n_points}, n_tokens)
        batch["forced_length"] = np.maximum(batch["token_mask"].sum(1).astype(np.int32) - 1, 0)  # dummies: one step
        out.append(batch)
    return out


def run_batched(model, params, batches, beam: int, max_len: int) -> tuple[float, float, float, int, int]:
    """(compile seconds, decode seconds, decode CPU seconds of this process (all threads), decoded
    steps summed over expressions, shapes compiled)."""
    def decode(b, forced):
        return beam_search(
            model, params, jnp.asarray(b["features"]), jnp.asarray(b["feature_mask"]),
            beam=beam, max_len=max_len, length_norm=True, forced_length=jnp.asarray(forced))
    t0 = time.perf_counter()
    seen = set()
    for b in batches:  # compile each shape with a one-step search
        if b["features"].shape not in seen:
            seen.add(b["features"].shape)
            jax.block_until_ready(decode(b, np.zeros_like(b["forced_length"])))
    t1, cpu1 = time.perf_counter(), time.process_time()
    steps = 0
    for b in batches:
        result = jax.block_until_ready(decode(b, b["forced_length"]))
        real = b["index"] >= 0
        if not np.array_equal(np.asarray(result.lengths[:, 0])[real], b["forced_length"][real]):
            raise RuntimeError("benchmarks/decode.py: forced lengths not respected")
        steps += int((b["forced_length"][real] + 1).sum())
    return t1 - t0, time.perf_counter() - t1, time.process_time() - cpu1, steps, len(seen)


def reference_decode(model, params, step, encode, features, mask, forced: int, beam: int) -> None:
    """One expression, classic WAP-style loop in Python: jitted step, numpy top-k and bookkeeping."""
    enc = encode(params, features, mask)
    def tile(tree, rows):
        return jax.tree.map(lambda x: jnp.take(x, rows, axis=0), tree)
    state = model.init_state(params, enc)
    rows = np.zeros(beam, np.int32)
    enc, state = tile(enc, rows), tile(state, rows)
    scores, prev, dead = np.full(beam, -np.inf), np.full(beam, -1, np.int32), 0
    scores[0] = 0.0
    for t in range(forced + 1):
        log_probs, state = step(params, enc, state, jnp.asarray(prev))
        log_probs = np.array(log_probs)
        log_probs[:, EOS] = 0.0 if t == forced else -np.inf
        if t == forced:
            log_probs[:, EOS + 1 :] = -np.inf
        cand = (scores[:, None] + log_probs).ravel()
        keep = np.argsort(-cand)[: beam - dead]
        parent, token = keep // log_probs.shape[1], keep % log_probs.shape[1]
        live = (token != EOS) & np.isfinite(cand[keep])
        dead += int((~live & np.isfinite(cand[keep])).sum())
        scores = np.full(beam, -np.inf)
        scores[: live.sum()] = cand[keep][live]
        rows = np.zeros(beam, np.int32)
        rows[: live.sum()] = parent[live]
        prev = np.zeros(beam, np.int32)
        prev[: live.sum()] = token[live]
        state = tile(state, jnp.asarray(rows))
        if not live.any():
            return


def run_reference(model, params, batches, beam: int, subset: int) -> tuple[float, int]:
    """(seconds, decoded steps) of the Python-loop search on the first ``subset`` expressions,
    taken one by one from the batches (padded to the same point buckets), compiled first."""
    step, encode = jax.jit(model.step), jax.jit(model.encode)
    picked = [(b, 0) for b in batches[:: max(1, len(batches) // subset)]][:subset]
    args = [(jnp.asarray(b["features"][r : r + 1]), jnp.asarray(b["feature_mask"][r : r + 1]),
             int(b["forced_length"][r])) for b, r in picked]
    for f, m, _ in args:  # compile
        reference_decode(model, params, step, encode, f, m, 0, beam)
    t0 = time.perf_counter()
    for f, m, forced in args:
        reference_decode(model, params, step, encode, f, m, forced, beam)
    return time.perf_counter() - t0, sum(forced + 1 for *_, forced in args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--cache_dir", default=None)
    parser.add_argument("--beam", type=int, default=None,
                        help="beam width (default: the paper config's eval.test_beam)")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--limit", type=int, default=0, help="decode only the first N expressions (quick look)")
    parser.add_argument("--reference_subset", type=int, default=8)
    args = parser.parse_args()

    config = crohme14.get_config("paper")
    args.beam = args.beam or config.eval.test_beam
    model = TAP(TAPConfig.from_config(config.model))
    params = model.init(jax.random.key(0))
    vocab = Vocab.from_data_root(args.data_dir)
    split = crohme.load_split("test2014", args.data_dir, args.cache_dir)
    if args.limit:
        split = split.take(np.arange(min(args.limit, len(split))))
    batches = sorted_batches(split, vocab, args.batch_size, model)

    max_len = max(config.eval.max_len, max(len(t) for t in split.tokens) + 1)  # one caption has 204 tokens
    compile_s, decode_s, decode_cpu_s, steps, shapes = run_batched(model, params, batches, args.beam, max_len)
    ref_s, ref_steps = run_reference(model, params, batches, args.beam, args.reference_subset)
    ref_total = ref_s * steps / ref_steps
    print(f"device: {jax.devices()[0].device_kind}, expressions {len(split)}, beam {args.beam}, "
          f"batch {args.batch_size}, decoding steps {steps}")
    print(f"tapjax batched beam search: {decode_s:8.1f} s  (+ {compile_s:.1f} s compiling {shapes} shapes; "
          f"{len(batches)} batches)")
    print(f"  its CPU time            : {decode_cpu_s:8.1f} s   (all threads; a shared machine's wall time "
          f"overstates; {os.cpu_count()} cores, load average 1/5/15 min {os.getloadavg()})")
    print(f"paper (2017 GPU)          : {PAPER_SECONDS:8.1f} s   ratio paper/tapjax {PAPER_SECONDS / decode_s:.2f}")
    print(f"Python-loop reference     : {ref_total:8.1f} s   (extrapolated from {ref_s:.1f} s on "
          f"{args.reference_subset} expressions, {ref_steps} steps)   "
          f"ratio reference/tapjax {ref_total / decode_s:.2f}")
    print(json.dumps({
        "expressions": len(split), "beam": args.beam, "batch_size": args.batch_size, "steps": steps,
        "decode_s": round(decode_s, 2), "decode_cpu_s": round(decode_cpu_s, 2),
        "load_average_1_5_15": os.getloadavg(), "ratio_paper_over_tapjax": round(PAPER_SECONDS / decode_s, 3),
        "compile_s": round(compile_s, 2), "paper_s": PAPER_SECONDS,
        "reference_extrapolated_s": round(ref_total, 2), "reference_subset": args.reference_subset,
        "reference_subset_s": round(ref_s, 2), "device": jax.devices()[0].device_kind,
    }))


if __name__ == "__main__":
    main()
