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
