"""Strategies on a real CoNLL-2003 pool: gradient embeddings (against the closed form), MNLP,
BALD, selections; 1 device vs 8."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import ConfigDict

from tapjax.al import corpora, scoring, selection, strategies
from tapjax.al.learner import build_model, init_params
from tapjax.al.sentence_batches import pad_batch
from tapjax.al.vocabulary import Vocabs
from tapjax.common.sharding import data_mesh

ONE, ALL = data_mesh(jax.devices()[:1]), data_mesh()


def _config(kind, dropout=0.5):
    c = ConfigDict()
    c.model = kind
    c.model_cfg = ConfigDict(dict(embed_dim=16, hidden=8, decoder=8, dropout=dropout, chars=False, min_count=1,
                                  vectors=()))
    # one bucket of 8-row chunks: one compilation per scoring function and device count
    c.train = ConfigDict(dict(buckets=(128,), score_buckets=(128,), max_word=20, score_tokens=8 * 128))
    c.al = ConfigDict(dict(bald=dict(passes=8, encoder_dropout=False)))
    return c


@pytest.fixture(scope="module")
def corpus(data_root):
    return corpora.load("conll2003", data_root)["validation"].subset(range(300))


def _pool(corpus, kind, mesh, labeled=np.arange(0, 300, 10), dropout=0.5):
    config = _config(kind, dropout)
    vocabs = Vocabs.build(corpus, corpora.Tagged([], []))
    enc = vocabs.encode(corpus)
    model = build_model(config, vocabs)
    params = init_params(model, enc, config.train, jax.random.key(0))
    unlabeled = np.setdiff1d(np.arange(len(corpus)), labeled)
    return strategies.Pool(model, params, enc, labeled, unlabeled, config.train, mesh, config.al)


def _closed_form(pool, rows):
    """The oracle: Eq. 4's closed form on one plain (unsharded) batch of sentences ``rows``."""
    words = [pool.train.words[i] for i in rows]
    batch = pad_batch(words, None, None, rows, max(map(len, words)), len(rows), 20)
    return jax.jit(lambda p, b: scoring.gradient_embedding_closed_form(pool.model, p, b))(pool.params, batch)


@pytest.mark.parametrize("kind", ["tagger", "encdec"])
def test_gradient_embedding_equals_closed_form(corpus, kind):
    """Eq. 4: the whole-pool program of vmap(grad) of the per-sentence loss at ŷ == Σ_t (p_t −
    onehot(ŷ_t)) ⊗ h_t, to 1e-5, on 8 devices (each device's gradient must be its own rows', not
    summed over devices), and the same embeddings on 1 device."""
    pool = _pool(corpus, kind, ALL)
    rows = pool.unlabeled[:100][::-1]  # any order: the rows come back in the order asked
    auto = pool.features(scoring.gradient_embedding, rows)
    H = 2 * 8 if kind == "tagger" else 8
    assert auto.shape == (100, H * 9)
    np.testing.assert_allclose(auto, _closed_form(pool, rows), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(auto, pool.features(scoring.gradient_embedding_closed_form, rows), rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(_pool(corpus, kind, ONE).features(scoring.gradient_embedding, rows), auto,
                               rtol=1e-6, atol=1e-6)
    assert float(jnp.abs(auto).max()) > 0


def test_pool_is_scored_by_one_program_reused_next_round(corpus):
    """The whole pool is one compiled program; a pool smaller by a round's query keeps its shapes."""
    pool = _pool(corpus, "tagger", ALL)
    full = pool.features(scoring.mnlp_score, pool.unlabeled)
    program = scoring._pool_program(scoring.mnlp_score, pool.model, ALL, 0, ())
    compiled = program._cache_size()
    smaller = pool.features(scoring.mnlp_score, pool.unlabeled[6:])
    assert compiled >= 1 and program._cache_size() == compiled  # no new compilation for the smaller pool
    np.testing.assert_array_equal(smaller, full[6:])


def test_mnlp_matches_log_probabilities(corpus):
    """Eq. 1 = mean over real tokens of the max log-softmax of the model's own logits."""
    pool = _pool(corpus, "tagger", ALL)
    rows = pool.unlabeled[:50]
    scores = np.asarray(pool.features(scoring.mnlp_score, rows))
    logits = pool.features(lambda m, p, b: m.apply(p, b["words"], b["mask"]).logits, rows)
    for s, i, logp in zip(scores, rows, np.asarray(jax.nn.log_softmax(logits))):
        n = len(corpus.words[i])
        expected = float(np.mean(np.max(logp[:n], -1)))
        assert s == pytest.approx(expected, rel=1e-5)
    # Known outputs: with a zero last-layer kernel, every token has log-probs log_softmax(bias).
    params = jax.tree.map(lambda x: x, pool.params)
    bias = jnp.linspace(-1.0, 1.0, 9)
    params["params"]["out"] = {"kernel": jnp.zeros_like(params["params"]["out"]["kernel"]), "bias": bias}
    known = scoring.pool_features(scoring.mnlp_score, pool.model, params, pool.train, rows, pool.cfg, ALL)
    np.testing.assert_allclose(known, float(jax.nn.log_softmax(bias).max()), rtol=1e-6)


def test_modal_disagreement():
    # 5 passes, 2 sentences: sentence 0 decodes a,a,b,a,c (mode a: 3/5); sentence 1 always the same
    h = jnp.asarray([[[1, 1], [7, 7]], [[1, 1], [7, 7]], [[2, 2], [7, 7]], [[1, 1], [7, 7]], [[3, 3], [7, 7]]],
                    jnp.uint32)
    np.testing.assert_allclose(scoring.modal_disagreement(h), [0.4, 0.0])


@pytest.mark.parametrize("encoder_dropout", [False, True])
def test_bald_matches_a_loop_over_passes(corpus, encoder_dropout):
    """Eq. 2 vectorised over passes == a Python loop decoding each pass and counting the mode;
    MC dropout after the encoder only (default) or in the whole network."""
    pool = _pool(corpus, "tagger", ALL)
    rows = pool.unlabeled[:40]
    key = jax.random.key(5)
    ours = np.asarray(pool.features(scoring.bald_disagreement, rows, key, passes=8,
                                    encoder_dropout=encoder_dropout))

    def one_pass(m, p, b, t, encoder_dropout):
        keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.fold_in(key, t), i))(jnp.maximum(b["index"], 0))
        if encoder_dropout:
            return m.apply(p, b["words"], b["mask"], keys=keys).pred
        enc = m.apply(p, b["words"], b["mask"], method="encode")
        return m.apply(p, enc, b["mask"], keys, method="decode").pred

    decodings = [np.asarray(pool.features(one_pass, rows, t, encoder_dropout=encoder_dropout)) for t in range(8)]
    for j, i in enumerate(rows):
        seqs = [tuple(d[j, : len(corpus.words[i])]) for d in decodings]
        mode = max(seqs.count(s) for s in seqs)
        assert ours[j] == pytest.approx(1 - mode / 8)
    assert ours.max() > 0  # dropout 0.5 on a random model does make passes disagree


def test_top_k_random_ties_orders_by_score_then_at_random():
    scores = np.asarray([0.0, 1.0, 0.5, 1.0, 0.0, 1.0, 0.5])
    orders = [strategies.top_k_random_ties(scores, 7, jax.random.key(s)).tolist() for s in range(20)]
    for order in orders:
        assert sorted(order[:3]) == [1, 3, 5] and sorted(order[3:5]) == [2, 6] and sorted(order[5:]) == [0, 4]
    assert len({tuple(o) for o in orders}) > 1  # ties in more than one order
    assert strategies.top_k_random_ties(scores, 4, jax.random.key(3)).tolist() == orders[3][:4]  # a prefix


def test_bald_breaks_ties_at_random_from_the_key(corpus):
    """Without dropout every pass decodes alike, so the whole pool ties (disagreement 0): BALD's
    picks then come from the key (the same for the same key, others for another), not the
    pool's order; asking for fewer gives the first of them."""
    pool = _pool(corpus, "tagger", ALL, dropout=0.0)
    pool.settings.bald.encoder_dropout = True  # the paper's: dropout through the whole network
    ties = pool.features(scoring.bald_disagreement, pool.unlabeled, jax.random.key(0), passes=8,
                         encoder_dropout=True)
    assert not np.asarray(ties).any()
    picks = [strategies.bald(pool, 24, jax.random.key(seed)).tolist() for seed in (0, 0, 1)]
    assert picks[0] == picks[1] and set(picks[0]) != set(picks[2])
    assert sorted(picks[0]) != pool.unlabeled[:24].tolist() and picks[0] != sorted(picks[0])
    assert strategies.bald(pool, 10, jax.random.key(0)).tolist() == picks[0][:10]


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
def test_strategy_selects_new_distinct_sentences_same_on_one_and_eight_devices(corpus, name):
    key = jax.random.key(1)
    picks = [strategies.choose(name, _pool(corpus, "tagger", mesh), 24, key) for mesh in (ONE, ALL)]
    assert picks[0].tolist() == picks[1].tolist()
    labeled = _pool(corpus, "tagger", ONE).labeled
    assert len(set(picks[0].tolist())) == 24 and not np.isin(picks[0], labeled).any()


@pytest.mark.parametrize("name, program", [("coreset", selection._k_center), ("wbadge", selection._kmeanspp)])
def test_batch_selection_of_the_next_round_compiles_nothing_new(corpus, name, program):
    """A later round (more labeled sentences, fewer unlabeled, another budget) selects with the
    program compiled for the first: the pool's rows are every training sentence each round."""
    pool = _pool(corpus, "tagger", ONE)
    costs = np.asarray([len(w) for w in pool.train.words])
    labeled = np.arange(0, 300, 4)
    later = dataclasses.replace(pool, labeled=labeled, unlabeled=np.setdiff1d(np.arange(300), labeled),
                                costs=costs, budget=250)
    k = selection.most_needed(costs[later.unlabeled], 250)  # in the first round's bucket
    strategies.choose(name, dataclasses.replace(pool, costs=costs, budget=300), k - 1, jax.random.key(2))
    compiled = program._cache_size()
    picked = strategies.choose(name, later, k, jax.random.key(3))
    assert program._cache_size() == compiled
    assert costs[picked].sum() >= 250 and costs[picked[:-1]].sum() < 250  # stopped at the budget
