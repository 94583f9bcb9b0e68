"""Seconds to decode CROHME 2014 test as ``tapjax evaluate`` does, against a per-expression loop.

    python benchmarks/decode.py [--checkpoint DIR] [--beam 10] [--batch_size B] [--limit N]
                                [--data_dir D] [--reference_subset 8] [--forced_length]

What a user waits for: the shipped model (or ``--checkpoint``) decodes the split in the batches
``tapjax evaluate`` makes (:func:`tapjax.tap.read.decoding.split_batches`, ``eval.batch_size``
rows, length-bucketed), each searched until all its beams end (real stopping, ``eval.max_len``
at most). Compilation of every batch shape comes first and is timed apart. The search is
:func:`tapjax.common.beam.beam_search` itself, asked for its ``beam`` best hypotheses so that
each row's own number of steps is known (the step at which its last hypothesis ended): the
figures say how many steps each expression needed and what share of the batch's steps ran on
rows that had already ended (the batch runs until its slowest row ends).

``--limit N``: N expressions spread evenly over the split (a quick look). ``--forced_length``:
the labelled timing mode for untrained weights: every search stops exactly at its reference
length plus one (the length a correct model would stop at).

Peer: what a user would otherwise run, a per-expression beam search with the model step jitted
and the top-k and bookkeeping in numpy (the classic TAP/WAP decoder loop), on
``--reference_subset`` expressions spread over the split, extrapolated to the whole split by
their share of its steps. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from tapjax.common import precompile
from tapjax.common.beam import beam_search
from tapjax.tap.ink import crohme, inputs
from tapjax.tap.ink.symbols import EOS
from tapjax.tap.read import decoding, runs


def spread(n: int, limit: int) -> np.ndarray:
    """``limit`` indices spread evenly over ``range(n)`` (all of them when ``limit`` is 0)."""
    return np.arange(n) if not limit or limit >= n else np.linspace(0, n - 1, limit).round().astype(int)


def search_fn(run, beam: int, max_len: int):
    """``batch -> (lengths [B, beam], finished [B, beam])``: the beam search ``evaluate`` runs."""

    @jax.jit
    def search(params, batch):
        result = beam_search(run.family, params, *inputs.read(run.kinds, batch), beam=beam, max_len=max_len,
                             n_best=beam, length_norm=run.config.eval.length_norm,
                             forced_length=batch.get("forced_length"))
        return result.lengths, result.finished

    return search


def row_steps(lengths: np.ndarray, finished: np.ndarray, max_len: int) -> np.ndarray:
    """Steps each row's search ran: one past the end of its last finished hypothesis, or
    ``max_len`` when a hypothesis was still live then."""
    ended = np.where(finished, lengths + 1, 0).max(axis=1)
    return np.where(finished.all(axis=1), ended, max_len)


def decode_all(run, batches: list[dict], beam: int, max_len: int) -> dict:
    """Compiles every batch shape, then decodes every batch: seconds and step counts."""
    search = search_fn(run, beam, max_len)
    compile_s = precompile.compile_all(search, [(run.params, b) for b in precompile.distinct(batches)])
    used = wasted = 0
    start = time.perf_counter()
    for batch in batches:
        lengths, finished = map(np.asarray, search(run.params, batch))
        steps = row_steps(lengths, finished, max_len)
        real = batch["index"] >= 0
        used += int(steps[real].sum())
        wasted += int(steps.max() * len(steps) - steps[real].sum())
    return {"decode_s": time.perf_counter() - start, "compile_s": compile_s,
            "shapes": len(precompile.distinct(batches)), "row_steps": used, "wasted_row_steps": wasted}


def reference_decode(run, step, encode, features, mask, beam: int, max_len: int, forced: int | None) -> int:
    """One expression, the classic loop: jitted encoder and step, numpy top-k. Returns its steps."""
    enc = encode(run.params, features, mask)
    state = run.family.init_state(run.params, enc)
    enc, state = (jax.tree.map(lambda x: jnp.repeat(x, beam, axis=0), tree) for tree in (enc, state))
    scores, prev, dead = np.full(beam, -np.inf), np.full(beam, -1, np.int32), 0
    scores[0] = 0.0
    for t in range(max_len):
        log_probs, state = step(run.params, enc, state, jnp.asarray(prev))
        log_probs = np.array(log_probs, np.float64)
        if forced is not None and t == forced:  # EOS certain at the reference length
            log_probs[:] = -np.inf
            log_probs[:, EOS] = 0.0
        elif forced is not None:  # and impossible before it
            log_probs[:, EOS] = -np.inf
        cand = (scores[:, None] + log_probs).ravel()
        keep = np.argsort(-cand)[: beam - dead]
        parent, token = keep // log_probs.shape[1], keep % log_probs.shape[1]
        live = (token != EOS) & np.isfinite(cand[keep])
        dead += int((~live & np.isfinite(cand[keep])).sum())
        if not live.any():
            return t + 1
        scores = np.full(beam, -np.inf)
        scores[: live.sum()] = cand[keep][live]
        rows, prev = np.zeros(beam, np.int32), np.zeros(beam, np.int32)
        rows[: live.sum()], prev[: live.sum()] = parent[live], token[live]
        state = jax.tree.map(lambda x: jnp.take(x, jnp.asarray(rows), axis=0), state)
    return max_len


def run_reference(run, split, beam: int, max_len: int, subset: int, forced: bool) -> tuple[float, int]:
    """``(seconds, steps)`` of the per-expression loop on ``subset`` expressions spread over ``split``."""
    step, encode = jax.jit(run.family.step), jax.jit(run.family.encode)
    stride = run.family.stride
    picked = []
    for i in spread(len(split), subset):
        points = split.features[i]
        n = -(-len(points) // stride) * stride
        features = np.zeros((1, n, points.shape[1]), np.float32)
        features[0, : len(points)] = points
        mask = (np.arange(n) < len(points)).astype(np.float32)[None]
        picked.append((jnp.asarray(features), jnp.asarray(mask), len(split.tokens[i]) if forced else None))
    for features, mask, _ in picked:  # compile every shape
        reference_decode(run, step, encode, features, mask, beam, 1, None)
    start = time.perf_counter()
    steps = sum(reference_decode(run, step, encode, f, m, beam, max_len, n) for f, m, n in picked)
    return time.perf_counter() - start, steps


def batches_of(run, split, forced: bool) -> list[dict]:
    """The batches ``tapjax evaluate`` decodes (with each row's reference length if ``forced``)."""
    batches = list(decoding.split_batches(split, run.vocab, run.config, run.kinds,
                                          batch_size=run.config.eval.batch_size, shuffle=False, targets=False))
    for batch in batches if forced else ():
        batch["forced_length"] = np.array([len(split.tokens[i]) if i >= 0 else 0 for i in batch["index"]], np.int32)
    return batches


def main() -> None:
    flags = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    flags.add_argument("--checkpoint", action="append", default=[], help="a run or exported model (default: shipped)")
    flags.add_argument("--data_dir", default=None)
    flags.add_argument("--beam", type=int, default=10)
    flags.add_argument("--limit", type=int, default=0, help="N expressions spread over the split (a quick look)")
    flags.add_argument("--reference_subset", type=int, default=8)
    flags.add_argument("--batch_size", type=int, default=0, help="rows per batch (default: the run's eval.batch_size)")
    flags.add_argument("--forced_length", action="store_true", help="stop each search at its reference length")
    args = flags.parse_args()

    run = runs.load_runs(args.checkpoint, args.data_dir)
    if args.batch_size:
        run.config.eval.batch_size = args.batch_size
    split = crohme.load_split("test2014", args.data_dir)
    split = split.take(spread(len(split), args.limit))
    max_len = run.config.eval.max_len
    ours = decode_all(run, batches_of(run, split, args.forced_length), args.beam, max_len)
    ref_s, ref_steps = run_reference(run, split, args.beam, max_len, args.reference_subset, args.forced_length)
    ref_total = ref_s * ours["row_steps"] / ref_steps
    n = len(split)
    wasted_share = ours["wasted_row_steps"] / (ours["row_steps"] + ours["wasted_row_steps"])
    print(f"{n} expressions of CROHME 2014 test, beam {args.beam}, batch {run.config.eval.batch_size}, "
          f"{'forced lengths' if args.forced_length else 'real stopping'}, device {jax.devices()[0].device_kind}")
    print(f"tapjax (evaluate's search): {ours['decode_s']:8.1f} s decoding + {ours['compile_s']:.1f} s compiling "
          f"{ours['shapes']} shapes; {ours['row_steps'] / n:.1f} steps per expression, "
          f"{100 * wasted_share:.1f} % of the batches' row-steps on rows already ended")
    print(f"per-expression loop (peer): {ref_total:8.1f} s extrapolated from {ref_s:.1f} s on "
          f"{args.reference_subset} expressions ({ref_steps} steps); ratio peer/tapjax "
          f"{ref_total / ours['decode_s']:.2f}")
    print(json.dumps({
        "expressions": n, "beam": args.beam, "batch_size": run.config.eval.batch_size,
        "forced_length": args.forced_length, "decode_s": round(ours["decode_s"], 2),
        "compile_s": round(ours["compile_s"], 2), "shapes": ours["shapes"],
        "steps_per_expression": round(ours["row_steps"] / n, 2), "wasted_step_share": round(wasted_share, 4),
        "peer_s": round(ref_total, 2), "peer_subset": args.reference_subset, "peer_subset_s": round(ref_s, 2),
        "ratio_peer_over_tapjax": round(ref_total / ours["decode_s"], 3), "device": jax.devices()[0].device_kind,
    }))


if __name__ == "__main__":
    main()
