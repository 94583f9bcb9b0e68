"""Annotation budgets (W-BADGE paper §5.3): words by default, sentences as an option; batch
selections cut to a word budget in their pick order, or stopped at it; the config fields' checks."""

import dataclasses
import importlib
import types

import jax
import numpy as np
import pytest

from experiments.configs import al_conll
from tapjax.al import loop, selection, strategies
from tapjax.common.errors import InputError
from tapjax.common.sharding import data_mesh

ONE = data_mesh(jax.devices()[:1])


def _assert_meets_budget(picked, lengths, budget):
    """The picked words meet ``budget`` and would not without the last sentence picked."""
    words = lengths[picked]
    assert words.sum() >= budget and words[:-1].sum() < budget


def test_word_budget_takes_sentences_in_order_until_met_only_the_last_overshooting():
    lengths = np.array([5, 1, 3, 2, 7, 4])
    order = np.array([4, 1, 3, 0, 2])  # cumulative words 7, 8, 10, 15, 18
    assert selection.within_budget(order, lengths, 10).tolist() == [4, 1, 3]  # met exactly
    assert selection.within_budget(order, lengths, 11).tolist() == [4, 1, 3, 0]  # 15: sentence 0 overshoots
    assert selection.within_budget(order, lengths, 1).tolist() == [4]
    assert selection.within_budget(order, lengths, 99).tolist() == order.tolist()  # falls short: all
    rng = np.random.default_rng(0)
    for _ in range(200):
        lengths = rng.integers(1, 40, 300)
        budget = int(rng.integers(1, lengths.sum() // 2))
        _assert_meets_budget(selection.within_budget(rng.permutation(300), lengths, budget), lengths, budget)


def test_most_needed_is_the_fewest_sentences_that_meet_the_budget_whichever_they_are():
    assert selection.most_needed(np.array([5, 1, 3, 2]), 4) == 3  # 1 + 2 + 3 (1 + 2 falls short)
    assert selection.most_needed(np.array([5, 1, 3, 2]), 6) == 3  # 1 + 2 + 3 = 6
    assert selection.most_needed(np.array([5, 1, 3, 2]), 7) == 4
    assert selection.most_needed(np.array([5, 1, 3, 2]), 12) == 4  # all of them fall short
    rng = np.random.default_rng(1)
    for _ in range(100):
        lengths = rng.integers(1, 40, 200)
        budget = int(rng.integers(1, lengths.sum()))
        k = selection.most_needed(lengths, budget)
        shortest = np.sort(lengths)
        assert shortest[:k].sum() >= budget > shortest[: k - 1].sum()


def test_budget_size_is_a_fraction_of_the_training_words_or_sentences():
    lengths = np.array([10, 20, 30, 40] * 25)  # 100 sentences, 2,500 words
    assert selection.budget_size(0.02, selection.COSTS["words"](lengths)) == 50
    assert selection.budget_size(0.02, selection.COSTS["sentences"](lengths)) == 2
    assert selection.budget_size(0.001, selection.COSTS["sentences"](lengths)) == 1  # at least 1


def test_sentence_budget_is_unchanged():
    """``al.budget = "sentences"``: round(fraction × N) sentences, the start set drawn as before."""
    lengths = np.random.default_rng(2).integers(1, 40, 400)
    costs = selection.COSTS["sentences"](lengths)
    budget = selection.budget_size(0.05, costs)
    previous = np.sort(np.random.default_rng(7).choice(400, max(1, round(0.05 * 400)), replace=False))
    assert loop.start_set(costs, budget, 7).tolist() == previous.tolist()
    assert selection.most_needed(costs[20:], budget) == 20 == budget
    assert selection.within_budget(np.arange(20), costs, budget).tolist() == list(range(20))


def test_word_budget_start_set_is_random_sentences_meeting_it():
    lengths = np.random.default_rng(3).integers(1, 60, 1000)
    budget = selection.budget_size(0.02, lengths)
    starts = [loop.start_set(lengths, budget, seed) for seed in (0, 1)]
    for start in starts:
        assert np.all(np.diff(start) > 0)  # sorted, distinct
        words = lengths[start].sum()
        assert words >= budget and words - lengths[start].max() < budget  # only the last drawn overshoots
    assert starts[0].tolist() != starts[1].tolist()


def test_query_asks_for_the_most_needed_and_keeps_the_picks_within_the_word_budget(monkeypatch):
    lengths = np.random.default_rng(4).integers(1, 30, 120)
    labeled, unlabeled = np.arange(0, 120, 4), np.setdiff1d(np.arange(120), np.arange(0, 120, 4))
    asked = []

    def longest_first(pool, k, key):
        asked.append(k)
        return pool.unlabeled[np.argsort(-lengths[pool.unlabeled], kind="stable")][:k]

    monkeypatch.setitem(strategies.STRATEGIES, "longest_first", longest_first)
    pool = types.SimpleNamespace(labeled=labeled, unlabeled=unlabeled, costs=lengths, budget=100)
    picked = loop.query("longest_first", pool, None)
    assert asked == [selection.most_needed(lengths[unlabeled], 100)] and asked[0] > len(picked)
    assert picked.tolist() == longest_first(pool, len(picked), None).tolist()  # the first picks, in order
    _assert_meets_budget(picked, lengths, 100)


@pytest.mark.parametrize("kind", ["kmeans++", "weighted kmeans++", "k-center", "top-k"])
def test_selection_order_is_the_pick_order(kind):
    """Asking for fewer rows gives a prefix of the same picks, so cutting a batch selection to a
    word budget is the batch it would pick stopping at the budget."""
    rng = np.random.default_rng(5)
    G = rng.normal(size=(60, 4)).astype(np.float32)
    cand = rng.random(60) > 0.2
    weights = rng.random(60) if kind == "weighted kmeans++" else None
    key = jax.random.key(2)

    def select(k):
        if kind == "k-center":
            return selection.k_center_greedy(G, cand, ~cand, k, ONE)
        if kind == "top-k":
            return selection.top_k(np.round(G[:, 0], 1), cand, k)  # rounded: ties
        return selection.kmeanspp_seeding(G, cand, k, key, ONE, weights)

    assert select(30)[:7].tolist() == select(7).tolist()


@pytest.mark.parametrize("unit", ["words", "sentences"])
@pytest.mark.parametrize("name", ["coreset", "badge", "wbadge"])
def test_batch_strategies_stop_at_the_budget_and_query_keeps_the_rows_of_the_fixed_picks(monkeypatch, name, unit):
    """A pool whose sentences are random vectors (as representations and gradient embeddings):
    with the budget in the pool the strategy stops there, and the query keeps the rows it kept
    when the strategy made all the ``most_needed`` picks and they were cut to the budget."""
    rng = np.random.default_rng(8)
    lengths = rng.integers(1, 30, 150)
    vectors = rng.normal(size=(150, 6)).astype(np.float32)
    monkeypatch.setattr(strategies.Pool, "features", lambda self, fn, rows, *a, **k: vectors[rows])
    labeled = np.arange(0, 150, 5)
    costs = selection.COSTS[unit](lengths)
    budget = selection.budget_size(0.1, costs)
    plain = strategies.Pool(None, None, types.SimpleNamespace(words=[["w"] * l for l in lengths]), labeled,
                            np.setdiff1d(np.arange(150), labeled), None, ONE, None)
    pool = dataclasses.replace(plain, costs=costs, budget=budget)
    key = jax.random.key(9)
    k = selection.most_needed(costs[pool.unlabeled], budget)
    fixed = strategies.choose(name, plain, k, key)
    assert len(fixed) == k
    before = selection.within_budget(fixed, costs, budget)  # the query before the loops stopped at the budget
    stopped = strategies.choose(name, pool, k, key)
    assert stopped.tolist() == loop.query(name, pool, key).tolist() == before.tolist()
    assert (len(stopped) < k) == (unit == "words")  # sentences: the budget is k sentences
    _assert_meets_budget(stopped, costs, budget)


def _smoke(**al):
    c = al_conll.get_config("smoke")
    c.al.update(al)
    return c


@pytest.mark.parametrize("field, value, message", [
    ("budget", "tokens", "al.budget: unknown budget 'tokens'; known: words, sentences"),
    ("query_fraction", 0.0, r"al.query_fraction: 0.0 is not a fraction in \(0, 1\]"),
    ("initial_fraction", 1.5, r"al.initial_fraction: 1.5 is not a fraction in \(0, 1\]"),
    ("rounds", 20, "al.rounds: 20 rounds of al.query_fraction after al.initial_fraction would annotate 105% "
                   "of the training words"),
    ("grid_step", 0.0, "al.grid_step: 0.0 is not a positive % of words"),
])
def test_bad_budget_fields_are_refused_naming_the_field(field, value, message):
    loop.validate(_smoke(rounds=19))  # 0.05 + 19 × 0.05 = 100 %: fine
    with pytest.raises(InputError, match=message):
        loop.validate(_smoke(**{field: value}))


@pytest.mark.parametrize("dataset, fraction", [("al_conll", 0.02), ("al_atis", 0.02), ("al_fmtod", 0.01)])
def test_paper_configs_add_the_same_share_of_words_every_round(dataset, fraction):
    al = importlib.import_module(f"experiments.configs.{dataset}").get_config("paper").al
    assert (al.budget, al.initial_fraction, al.query_fraction) == ("words", fraction, fraction)


@pytest.mark.parametrize("dataset", ["al_conll", "al_atis", "al_fmtod"])
def test_cpu_variant_keeps_the_papers_protocol_and_cuts_only_the_model_and_schedule(dataset):
    module = importlib.import_module(f"experiments.configs.{dataset}")
    paper, cpu = module.get_config("paper"), module.get_config("cpu")
    assert cpu.al.to_dict() == {**paper.al.to_dict(), "bald": {"passes": 20, "encoder_dropout": True}}
    assert cpu.train.batch_size == paper.train.batch_size
    assert cpu.train.epochs < paper.train.epochs and cpu.model_cfg.hidden < paper.model_cfg.hidden
