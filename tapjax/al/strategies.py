"""Active-learning strategies (W-BADGE paper §3-4): each picks ``k`` unlabeled sentences, in
the order picked.

Every strategy is ``strategy(pool, k, key) -> np.ndarray`` of training-set indices, where
``pool`` (:class:`Pool`) holds the current model, its parameters, the encoded training set,
the labeled / unlabeled indices, the strategies' settings (``config.al``: e.g.
``settings.bald.passes``) and the round's budget, if any: what each sentence costs and the
total to meet. With a budget the batch strategies (Core-set, BADGE, W-BADGE) stop as soon as
their picks meet it, so they may return fewer than ``k`` (the first of the ``k`` they would
pick: :mod:`tapjax.al.selection`). Scoring runs over the whole pool with
:func:`tapjax.al.scoring.pool_features` (one jitted program, sharded over devices) and
selection with :mod:`tapjax.al.selection`. Register a new strategy by adding it to
:data:`STRATEGIES`, the one list of strategies (the configs run all of them by default).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from tapjax.al import scoring, selection
from tapjax.al.vocabulary import Encoded


@dataclasses.dataclass
class Pool:
    """What a strategy selects with: the model of the last round and the pool it scores."""

    model: object
    params: object
    train: Encoded
    labeled: np.ndarray  # training-set indices already annotated
    unlabeled: np.ndarray  # the rest, in increasing order
    cfg: object  # the train config: how to lay out the pool (score_tokens, score_buckets, max_word)
    mesh: object
    settings: object  # config.al: the strategies' settings (bald.passes, bald.encoder_dropout)
    costs: np.ndarray | None = None  # per training sentence: what annotating it costs (config.al.budget units)
    budget: int | None = None  # the round's budget in those units: batch selections stop once it is met

    def features(self, fn, indices, *args, **static):
        return scoring.pool_features(fn, self.model, self.params, self.train, indices, self.cfg, self.mesh,
                                     *args, **static)

    def all_candidates(self):
        return np.ones(len(self.unlabeled), bool)

    def size(self) -> int:
        """The number of training sentences: the rows of a batch selection's pool."""
        return len(self.labeled) + len(self.unlabeled)

    def unlabeled_rows(self) -> np.ndarray:
        """Per training sentence: whether it is unlabeled (a batch selection's candidates)."""
        return np.isin(np.arange(self.size()), self.unlabeled)

    def on_training_rows(self, values):
        """``values`` of the unlabeled sentences (in ``unlabeled``'s order) laid out one row per
        training sentence, zeros at the labeled ones: a batch selection's pool keeps the same
        shape every round, so its compiled program is reused (:mod:`tapjax.al.selection`)."""
        values = jnp.asarray(values)
        return jnp.zeros((self.size(),) + values.shape[1:], values.dtype).at[self.unlabeled].set(values)

    def stop_at_budget(self, rows) -> dict:
        """The ``costs`` (of ``rows``, training-set indices) and ``budget`` that stop a batch
        selection over ``rows`` at the budget; nothing without a budget."""
        return {} if self.budget is None else {"costs": self.costs[rows], "budget": self.budget}


def random(pool: Pool, k: int, key) -> np.ndarray:
    scores = selection.random_scores(key, len(pool.unlabeled))
    return pool.unlabeled[selection.top_k(scores, pool.all_candidates(), k)]


def mnlp(pool: Pool, k: int, key) -> np.ndarray:
    """Eq. 1: the ``k`` sentences with the lowest length-normalised log-probability."""
    scores = pool.features(scoring.mnlp_score, pool.unlabeled)
    return pool.unlabeled[selection.top_k(-scores, pool.all_candidates(), k)]


def top_k_random_ties(scores, k: int, key) -> np.ndarray:
    """Positions of the ``k`` highest ``scores``, equal scores in a random order drawn from ``key``
    (:func:`selection.top_k` takes the lowest position first: it runs on the scores shuffled)."""
    order = np.asarray(jax.random.permutation(key, len(scores)))
    return order[selection.top_k(np.asarray(scores)[order], np.ones(len(scores), bool), k)]


def bald(pool: Pool, k: int, key) -> np.ndarray:
    """Eq. 2: the ``k`` sentences whose ``settings.bald.passes`` (T) MC-dropout decodings disagree
    most with the mode. ``settings.bald.encoder_dropout``: dropout through the whole network
    (the paper's); else after the encoder only (:func:`scoring.bald_disagreement`). Scores are
    multiples of 1/T, so many sentences tie (all that every pass decodes alike): ties are broken
    at random, from the round's key, not by pool position."""
    settings = pool.settings.bald
    dropout_key, tie_key = jax.random.split(key)
    scores = pool.features(scoring.bald_disagreement, pool.unlabeled, dropout_key, passes=settings.passes,
                           encoder_dropout=settings.encoder_dropout)
    return pool.unlabeled[top_k_random_ties(scores, k, tie_key)]


def coreset(pool: Pool, k: int, key) -> np.ndarray:
    """k-center greedy on encoder sentence representations, labeled sentences as centers."""
    del key
    rows = np.arange(pool.size())
    X = pool.features(scoring.sentence_representation, rows)
    unlabeled = pool.unlabeled_rows()
    return selection.k_center_greedy(X, unlabeled, ~unlabeled, k, pool.mesh, **pool.stop_at_budget(rows))


def sentence_weights(pool: Pool) -> np.ndarray:
    """W-BADGE Eq. 5: ``w(x) = l(x)² / Σ l(x)²`` over the unlabeled pool."""
    lengths = np.asarray([len(pool.train.words[i]) for i in pool.unlabeled], np.float64)
    return lengths**2 / np.sum(lengths**2)


def badge(pool: Pool, k: int, key, weighted: bool = False) -> np.ndarray:
    """k-means++ seeding on last-layer gradient embeddings (Eq. 4, ``vmap`` of ``grad``); W-BADGE (Eq. 5)
    when ``weighted``."""
    G = pool.on_training_rows(pool.features(scoring.gradient_embedding, pool.unlabeled))
    weights = pool.on_training_rows(sentence_weights(pool)) if weighted else None
    return selection.kmeanspp_seeding(G, pool.unlabeled_rows(), k, key, pool.mesh, weights,
                                      **pool.stop_at_budget(np.arange(pool.size())))


def wbadge(pool: Pool, k: int, key) -> np.ndarray:
    return badge(pool, k, key, weighted=True)


STRATEGIES: dict[str, Callable[[Pool, int, jax.Array], np.ndarray]] = {
    "random": random, "mnlp": mnlp, "bald": bald, "coreset": coreset, "badge": badge, "wbadge": wbadge,
}


def choose(name: str, pool: Pool, k: int, key) -> np.ndarray:
    """Runs strategy ``name``; checks the result is distinct unlabeled sentences: ``k`` of them,
    or fewer that meet the pool's budget (a batch selection stopped at it)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of {sorted(STRATEGIES)}")
    picked = np.asarray(STRATEGIES[name](pool, k, key), np.int64)
    if len(set(picked.tolist())) != len(picked) or np.isin(picked, pool.labeled).any():
        raise AssertionError(f"strategy {name} returned duplicates or labeled sentences")
    stopped = len(picked) < k and pool.budget is not None and pool.costs[picked].sum() >= pool.budget
    if not (len(picked) == k or stopped):
        raise AssertionError(f"strategy {name} returned {len(picked)} sentences: neither the {k} asked for nor "
                             f"fewer that meet the budget")
    return picked
