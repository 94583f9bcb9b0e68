"""Selection: k-center greedy, (weighted) k-means++ seeding, top-k; 1 device vs 8."""

import jax
import numpy as np
import pytest

from tapjax.al import selection
from tapjax.common.sharding import data_mesh

ONE, ALL = data_mesh(jax.devices()[:1]), data_mesh()


def test_k_center_picks_the_furthest_point():
    X = np.array([[0.0, 0], [1, 0], [10, 0], [0, 3], [5, 5]], np.float32)
    centers = np.array([True, False, False, False, False])
    picks = selection.k_center_greedy(X, ~centers, centers, 2, ONE)
    # furthest from (0,0) is (10,0); then furthest from {(0,0),(10,0)} is (5,5) (d²=50 vs 9, 1)
    assert picks.tolist() == [2, 4]


def test_top_k_respects_candidates():
    scores = np.array([5.0, 4, 3, 2, 1])
    assert selection.top_k(scores, np.array([False, True, True, False, True]), 2).tolist() == [1, 2]
    with pytest.raises(ValueError, match="only 1 are unlabeled"):
        selection.top_k(scores, np.array([True, False, False, False, False]), 2)


def _ring(n, rng):
    return rng.normal(size=(n, 16)).astype(np.float32)


@pytest.mark.parametrize("weighted", [False, True])
def test_same_selection_on_one_and_eight_devices(weighted):
    rng = np.random.default_rng(0)
    G = _ring(203, rng)  # not a multiple of 8: padded rows must never be picked
    cand = rng.random(203) > 0.2
    w = rng.random(203) if weighted else None
    key = jax.random.key(3)
    one = selection.kmeanspp_seeding(G, cand, 20, key, ONE, w)
    eight = selection.kmeanspp_seeding(G, cand, 20, key, ALL, w)
    assert one.tolist() == eight.tolist()
    assert len(set(one.tolist())) == 20 and cand[one].all() and one.max() < 203
    kc1 = selection.k_center_greedy(G, cand, ~cand, 15, ONE)
    kc8 = selection.k_center_greedy(G, cand, ~cand, 15, ALL)
    assert kc1.tolist() == kc8.tolist() and cand[kc1].all() and len(set(kc1.tolist())) == 15


def test_kmeanspp_exhausts_duplicates_without_repeats():
    G = np.zeros((10, 4), np.float32)
    G[:3, 0] = [1.0, 2.0, 3.0]  # 7 identical zero rows: zero D² once one of them is chosen
    picks = selection.kmeanspp_seeding(G, np.ones(10, bool), 10, jax.random.key(0), ALL)
    assert sorted(picks.tolist()) == list(range(10))


def test_wbadge_weighting_picks_long_sentences_proportionally_more():
    """Eq. 5: at equal distance, sampling probability ∝ w = l² / Σ l²."""
    # Point 0 is the first center (largest norm); points 1 and 2 are at equal distance from it.
    G = np.array([[10.0, 0], [0, 1], [0, -1]], np.float32)
    lengths = np.array([30.0, 10.0, 20.0])
    w = lengths**2 / np.sum(lengths**2)
    draws = 800
    second = np.array([selection.kmeanspp_seeding(G, np.ones(3, bool), 2, jax.random.key(s), ONE, w)[1]
                       for s in range(draws)])
    share_long = np.mean(second == 2)  # expected 20² / (10² + 20²) = 0.8
    assert abs(share_long - 0.8) < 4 * np.sqrt(0.8 * 0.2 / draws)
    unweighted = np.array([selection.kmeanspp_seeding(G, np.ones(3, bool), 2, jax.random.key(s), ONE)[1]
                           for s in range(draws)])
    assert abs(np.mean(unweighted == 2) - 0.5) < 4 * np.sqrt(0.25 / draws)


def _select(kind, G, cand, k, mesh, **budget):
    if kind == "k-center":
        return selection.k_center_greedy(G, cand, ~cand, k, mesh, **budget)
    weights = np.linspace(0.1, 1.0, len(G)) if kind == "weighted kmeans++" else None
    return selection.kmeanspp_seeding(G, cand, k, jax.random.key(4), mesh, weights, **budget)


@pytest.mark.parametrize("mesh", [ONE, ALL], ids=["1 device", "8 devices"])
@pytest.mark.parametrize("kind", ["k-center", "kmeans++", "weighted kmeans++"])
def test_stopping_at_the_budget_gives_the_prefix_of_the_fixed_picks(kind, mesh):
    """With costs and a budget the loop stops once the picks' costs meet it: the first of the
    ``k`` picks, the ones :func:`selection.within_budget` keeps of them."""
    rng = np.random.default_rng(6)
    G = _ring(203, rng)
    cand = rng.random(203) > 0.2
    costs = rng.integers(1, 40, 203)
    fixed = _select(kind, G, cand, 60, mesh)
    spent = np.cumsum(costs[fixed])
    for budget in (1, spent[24] - 1, spent[24], spent[-1], spent[-1] + 1):  # the last: k picks fall short
        stopped = _select(kind, G, cand, 60, mesh, costs=costs, budget=int(budget))
        assert stopped.tolist() == selection.within_budget(fixed, costs, budget).tolist()
    assert len(_select(kind, G, cand, 60, mesh, costs=costs, budget=int(spent[24]))) == 25


def test_picks_buffer_is_k_rounded_up_to_a_power_of_two():
    assert [selection.bucket(k) for k in (1, 2, 3, 4, 5, 1842, 2048, 2049)] == [1, 2, 4, 4, 8, 2048, 2048, 4096]


@pytest.mark.parametrize("kind", ["k-center", "kmeans++"])
def test_selections_of_any_k_in_a_bucket_any_budget_and_any_labeled_set_share_one_compiled_program(kind):
    """Every round of a run (another ``k``, budget and labeled set: for k-center, another number
    of centers) reuses one program while ``k`` stays in its bucket."""
    rng = np.random.default_rng(7)
    G, costs = _ring(37, rng), rng.integers(1, 9, 37)  # shapes no other test compiles
    program = selection._k_center if kind == "k-center" else selection._kmeanspp
    _select(kind, G, np.arange(37) > 2, 5, ONE)
    compiled = program._cache_size()
    for k, budget, labeled in ((6, None, 3), (7, 20, 9), (8, np.int64(30), 14)):
        _select(kind, G, np.arange(37) >= labeled, k, ONE,
                **({} if budget is None else dict(costs=costs, budget=budget)))
    assert program._cache_size() == compiled
    _select(kind, G, np.arange(37) > 2, 9, ONE)  # the next bucket
    assert program._cache_size() == compiled + 1


def test_costs_without_a_budget_or_not_one_integer_per_row_are_refused():
    G, cand = np.eye(4, dtype=np.float32), np.ones(4, bool)
    with pytest.raises(ValueError, match="costs and budget go together"):
        selection.k_center_greedy(G, cand, ~cand, 2, ONE, costs=np.ones(4, int))
    with pytest.raises(ValueError, match=r"costs must be one integer per row \(4\), got float64 of shape \(4,\)"):
        selection.kmeanspp_seeding(G, cand, 2, jax.random.key(0), ONE, costs=np.ones(4), budget=2)
