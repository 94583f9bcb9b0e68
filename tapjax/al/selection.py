"""Batch selection over a pool of ``N`` embeddings, jitted and sharded over devices, and the
annotation budget a selection fills.

* :func:`top_k`: the ``k`` highest scores (MNLP, BALD, Random).
* :func:`k_center_greedy` (Core-set): furthest-first traversal from the labeled points.
* :func:`kmeanspp_seeding` (BADGE; W-BADGE with ``weights``): k-means++ seeding.
* :func:`budget_size`, :func:`most_needed`, :func:`within_budget`: a round's budget in
  :data:`COSTS` units, words (the paper's, §4.2 and §5.3) or sentences.

Contract: every selection returns its rows in the order picked (top-k by decreasing score, ties
to the lowest row; k-center and k-means++ pick ``i`` drawing from ``fold_in(key, i)``), so fewer
rows are a prefix of the same picks, and a budget is met by asking for :func:`most_needed` rows
and keeping :func:`within_budget` of them. Given ``costs`` and ``budget`` (W-BADGE Algorithm 1,
step 2), k-center and k-means++ stop once the picks meet the budget. Their picks buffer is ``k``
rounded up to a power of two (:func:`bucket`) and the pool holds every training sentence (the
labeled ones as non-candidates), so one compiled program serves a whole run.

Pool rows are split over the ``'data'`` mesh axis with ``jax.shard_map``; each pick is one step
of a ``lax.while_loop`` that keeps every row's squared distance to its nearest chosen row
(``O(N/devices × D)`` per pick); the argmax or sample is global (``all_gather``). Random draws
are indexed by global row and ties go to the lowest global row, so a seed selects the same rows
on 1 device and on 8.

W-BADGE (Eq. 5), our reading: k-means++ samples the next center with probability
``∝ w(x) D²(x)``, ``w(x) = l(x)² / Σ l(x)²``; the first center is the point with the largest
``w(x) ||g_x||²`` (BADGE's largest-norm start, weighted).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from tapjax.common.sharding import AXIS

Array = jax.Array
_NEG = -1e30  # score of candidates with zero sampling weight (picked only when nothing else is left)


def shard_pool(x, mesh, fill=0):
    """Pads the leading axis of ``x`` to a multiple of the mesh size and splits it over devices."""
    x = jnp.asarray(x)
    n = mesh.devices.size
    pad = (-x.shape[0]) % n
    x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1), constant_values=fill)
    return jax.device_put(x, NamedSharding(mesh, P(AXIS)))


def _global_rows(n_local: int) -> Array:
    return jax.lax.axis_index(AXIS) * n_local + jnp.arange(n_local)


def _global_argmax(score: Array, rows: Array) -> Array:
    """The global row of the largest ``score`` over all devices (ties: lowest row)."""
    best = jnp.argmax(score)
    values = jax.lax.all_gather(score[best], AXIS)
    return jax.lax.all_gather(rows[best], AXIS)[jnp.argmax(values)]


def _fetch_row(X: Array, rows: Array, j: Array) -> Array:
    """Row ``j`` (global) of the sharded ``X``, on every device (one device holds it, the
    others add zeros, so the ``psum`` is exact)."""
    local = j - rows[0]
    row = jax.lax.dynamic_index_in_dim(X, jnp.clip(local, 0, X.shape[0] - 1), keepdims=False)
    return jax.lax.psum(jnp.where((local >= 0) & (local < X.shape[0]), row, 0.0), AXIS)


def _sq_dist(X: Array, c: Array) -> Array:
    """``||x − c||²`` for every row ``x`` of ``X``, from the differences: equal rows get equal
    distances on any device (the expanded ``||x||² − 2 x·c + ||c||²`` rounds a matrix-vector
    product differently per shard, which broke exact ties between duplicate sentences)."""
    return jnp.sum(jnp.square(X - c), -1)


def _run(mesh, local_fn, *pool_args, replicated=()):
    specs = tuple(P(AXIS) for _ in pool_args) + tuple(P() for _ in replicated)
    # check_vma=False: the picks are identical on every device (built from all_gathered values),
    # which the type system cannot see; the 1-vs-8-device tests check it.
    return jax.shard_map(local_fn, mesh=mesh, in_specs=specs, out_specs=P(), check_vma=False)(
        *pool_args, *replicated)


def top_k(scores, candidates, k: int) -> np.ndarray:
    """Rows of the ``k`` highest ``scores`` among ``candidates`` (ties: lowest row)."""
    _check_budget(candidates, k)
    masked = jnp.where(jnp.asarray(candidates), jnp.asarray(scores, jnp.float32), -jnp.inf)
    return np.asarray(jax.lax.top_k(masked, k)[1])


def random_scores(key, n: int) -> Array:
    """Uniform scores for Random selection (``top_k`` of them is a uniform sample of ``k``)."""
    return jax.random.uniform(key, (n,))


def _check_budget(candidates, k: int) -> None:
    available = int(np.asarray(candidates).sum())
    if k > available:
        raise ValueError(f"asked to select {k} sentences but only {available} are unlabeled")


# What annotating a sentence costs, by budget unit (``config.al.budget``): one tag per word (§4.2:
# "the cost of annotating is proportional to the number of words") or one sentence.
COSTS = {"words": lambda lengths: lengths, "sentences": np.ones_like}


def budget_size(fraction: float, costs) -> int:
    """``fraction`` of the total of ``costs`` (at least 1): e.g. 2 % of the training words."""
    return max(1, round(fraction * int(np.sum(costs))))


def most_needed(costs, budget: int) -> int:
    """The fewest of the sentences costing ``costs`` that meet ``budget`` whichever they are: as
    many as the cheapest ones need (all of them if even all fall short)."""
    spent = np.cumsum(np.sort(costs))
    return min(len(spent), int(np.searchsorted(spent, budget)) + 1)


def within_budget(order, costs, budget: int) -> np.ndarray:
    """The shortest prefix of ``order`` (rows of ``costs``) that meets ``budget``: sentences are
    taken in order until their costs reach it, so only the last one may overshoot (all of
    ``order`` if it falls short)."""
    order = np.asarray(order)
    return order[: int(np.searchsorted(np.cumsum(np.asarray(costs)[order]), budget)) + 1]


def bucket(k: int) -> int:
    """The size of the picks buffer of a selection of up to ``k`` rows: ``k`` rounded up to a
    power of two, so that every round's ``k`` (each budget needs another) does not compile
    another program."""
    return 1 << max(k - 1, 0).bit_length()


def _stop(n: int, k: int, costs, budget) -> tuple[Array, np.int32]:
    """``(costs, budget)`` that end a selection over ``n`` rows (module doc): the rows' integer
    ``costs`` and the ``budget`` they must meet, or without them ones and ``k`` (``k`` picks).
    The budget is a strongly typed scalar, so that any integer reuses the compiled program."""
    if (costs is None) != (budget is None):
        raise ValueError("costs and budget go together: give both to stop at the budget, or neither")
    if costs is None:
        return jnp.ones(n, jnp.int32), np.int32(k)
    costs = np.asarray(costs)
    if costs.shape != (n,) or not np.issubdtype(costs.dtype, np.integer):
        raise ValueError(f"costs must be one integer per row ({n}), got {costs.dtype} of shape {costs.shape}")
    return jnp.asarray(costs, jnp.int32), np.int32(budget)


def _pick_until(pick, costs, budget, k, state, picks, count=0, spent=0):
    """Runs ``pick(i, state) -> (row, state)`` for ``i = count, count + 1, …`` until the ``costs``
    of the ``picks`` meet ``budget`` or there are ``k`` of them; returns the picks buffer
    (``picks``, filled from ``count``) and the number of picks."""
    def more(carry):
        i, spent = carry[:2]
        return (i < k) & (spent < budget)

    def step(carry):
        i, spent, state, picks = carry
        j, state = pick(i, state)
        return i + 1, spent + costs[j], state, picks.at[i].set(j)

    start = (jnp.asarray(count, jnp.int32), jnp.asarray(spent, jnp.int32), state, picks)
    count, _, _, picks = jax.lax.while_loop(more, step, start)
    return picks, count


def _picked(picks_and_count) -> np.ndarray:
    """The picks of a picks buffer: its first ``count`` rows."""
    picks, count = picks_and_count
    return np.asarray(picks)[: int(count)]


def k_center_greedy(X, candidates, centers, k: int, mesh, costs=None, budget=None) -> np.ndarray:
    """Core-set: up to ``k`` rows of ``X [N, D]`` by furthest-first traversal.

    Starts with the rows where ``centers`` is true (the labeled set) as centers; each step
    picks the candidate furthest (squared Euclidean) from its nearest center. With ``costs``
    (one per row) and ``budget``, stops once the picks' costs meet it (module doc).
    """
    _check_budget(candidates, k)
    costs, budget = _stop(len(candidates), k, costs, budget)
    # The centers' rows in a buffer of one row per pool row and their number, traced: every
    # round's labeled set (another size) reuses the compiled program.
    center_rows = np.nonzero(np.asarray(centers))[0]
    n_centers = np.int32(len(center_rows))
    center_rows = jnp.asarray(np.pad(center_rows, (0, len(candidates) - n_centers)), jnp.int32)
    return _picked(_k_center(shard_pool(X, mesh), shard_pool(candidates, mesh, False), center_rows, n_centers,
                             costs, budget, np.int32(k), bucket(k), mesh))


@functools.partial(jax.jit, static_argnames=("size", "mesh"))
def _k_center(X, cand, center_rows, n_centers, costs, budget, k, size, mesh):
    def local(X, cand, center_rows, n_centers, costs, budget, k):
        rows = _global_rows(X.shape[0])
        def add_center(j, d2):
            return jnp.minimum(d2, _sq_dist(X, _fetch_row(X, rows, j)))

        d2 = jax.lax.fori_loop(0, n_centers, lambda i, d: add_center(center_rows[i], d),
                               jnp.full(X.shape[0], jnp.inf))

        def pick(i, state):
            d2, cand = state
            j = _global_argmax(jnp.where(cand, d2, -jnp.inf), rows)
            return j, (add_center(j, d2), cand & (rows != j))

        return _pick_until(pick, costs, budget, k, (d2, cand), jnp.zeros(size, jnp.int32))

    return _run(mesh, local, X, cand, replicated=(center_rows, n_centers, costs, budget, k))


def kmeanspp_seeding(G, candidates, k: int, key, mesh, weights=None, costs=None, budget=None) -> np.ndarray:
    """BADGE / W-BADGE: up to ``k`` rows of ``G [N, D]`` by (weighted) k-means++ seeding.

    Without ``weights`` this is BADGE: first the largest-norm row, then each next row drawn
    with probability ``∝ D²`` (squared distance to the nearest chosen row). With ``weights``
    (W-BADGE Eq. 5, ``w = l² / Σ l²``) the probability is ``∝ w D²``; see the module doc.
    Sampling is Gumbel-max over ``log(w D²)``. With ``costs`` (one per row) and ``budget``,
    stops once the picks' costs meet it (Algorithm 1, step 2; module doc).
    """
    _check_budget(candidates, k)
    n = int(np.asarray(candidates).shape[0])
    costs, budget = _stop(n, k, costs, budget)
    w = jnp.ones(n) if weights is None else jnp.asarray(weights, jnp.float32)
    return _picked(_kmeanspp(shard_pool(G, mesh), shard_pool(candidates, mesh, False), shard_pool(w, mesh), key,
                             costs, budget, np.int32(k), bucket(k), n, mesh))


@functools.partial(jax.jit, static_argnames=("size", "n", "mesh"))
def _kmeanspp(G, cand, w, key, costs, budget, k, size, n, mesh):
    def local(G, cand, w, key, costs, budget, k):
        rows = _global_rows(G.shape[0])
        log_w = jnp.log(jnp.maximum(w, 1e-30))

        def gumbel(i):
            return jax.random.gumbel(jax.random.fold_in(key, i), (n,))[jnp.minimum(rows, n - 1)]

        def score(d2):
            return jnp.where(d2 > 0, jnp.log(jnp.maximum(d2, 1e-30)) + log_w, _NEG)

        sq_norms = jnp.sum(G * G, -1)
        first = _global_argmax(jnp.where(cand, score(sq_norms), -jnp.inf), rows)
        d2 = _sq_dist(G, _fetch_row(G, rows, first))
        cand = cand & (rows != first)

        def pick(i, state):
            d2, cand = state
            j = _global_argmax(jnp.where(cand, score(d2) + gumbel(i), -jnp.inf), rows)
            return j, (jnp.minimum(d2, _sq_dist(G, _fetch_row(G, rows, j))), cand & (rows != j))

        picks = jnp.zeros(size, jnp.int32).at[0].set(first)
        return _pick_until(pick, costs, budget, k, (d2, cand), picks, count=1, spent=costs[first])

    return _run(mesh, local, G, cand, w, replicated=(key, costs, budget, k))
