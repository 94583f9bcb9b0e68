"""Training and evaluating a tagger on a labeled subset (W-BADGE paper §5.2).

Training uses the data-parallel step of :mod:`tapjax.train.sharding`: the batch is split
over every device, and dropout keys are folded from each sentence's index so results do
not depend on the device count. Sentences are bucketed by length to a few padded lengths
(``buckets`` for training; the finer ``score_buckets``, in batches of about
``score_tokens`` tokens, for evaluation and pool scoring), so XLA compiles one program per
batch shape. The model kept is the epoch with the best validation F1; its test F1 is reported.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from tapjax.data import wordvocab
from tapjax.data.conll import Tagged
from tapjax.metrics.spans import f1_score
from tapjax.nn.tagger import make_model
from tapjax.train import sharding


@dataclasses.dataclass
class Encoded:
    """A corpus as id arrays under one set of vocabularies (``chars`` is None without a char encoder)."""

    words: list[np.ndarray]
    chars: Optional[list[list[np.ndarray]]]
    tags: list[np.ndarray]
    gold: list[list[str]]

    def __len__(self):
        return len(self.words)


@dataclasses.dataclass
class Vocabs:
    words: wordvocab.Vocab
    chars: Optional[wordvocab.Vocab]
    tags: wordvocab.TagVocab

    @classmethod
    def build(cls, labeled: Tagged, all_train_tags, min_count: int, use_chars: bool) -> "Vocabs":
        """Words (and chars) from the labeled sentences; tags from the annotation scheme."""
        return cls(wordvocab.word_vocab(labeled.words, min_count),
                   wordvocab.char_vocab(labeled.words) if use_chars else None,
                   wordvocab.TagVocab(all_train_tags))

    def encode(self, corpus: Tagged) -> Encoded:
        words = [self.words.encode([wordvocab.normalise(w) for w in s]) for s in corpus.words]
        chars = None if self.chars is None else [[self.chars.encode(w) for w in s] for s in corpus.words]
        return Encoded(words, chars, [self.tags.encode(t) for t in corpus.tags], corpus.tags)


def _by_bucket(data: Encoded, indices: Sequence[int], buckets: Sequence[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i in indices:
        groups.setdefault(wordvocab.bucket_length(len(data.words[i]), buckets), []).append(int(i))
    return dict(sorted(groups.items()))


def _padded(data: Encoded, plan, max_word: int) -> Iterator[dict]:
    """``plan``: ``(length, members, rows)`` per batch."""
    for length, members, rows in plan:
        yield wordvocab.pad_batch(
            [data.words[i] for i in members],
            None if data.chars is None else [data.chars[i] for i in members],
            [data.tags[i] for i in members], members, length, rows, max_word)


def batches(data: Encoded, indices: Sequence[int], rows: int, buckets: Sequence[int], max_word: int,
            rng: Optional[np.random.Generator] = None) -> Iterator[dict]:
    """Padded training batches of ``rows`` sentences of ``indices``, grouped by bucket length.

    With ``rng`` sentences are shuffled within buckets and batches across buckets.
    """
    plan = []
    for length, members in _by_bucket(data, indices, buckets).items():
        if rng is not None:
            rng.shuffle(members)
        plan += [(length, members[s: s + rows], rows) for s in range(0, len(members), rows)]
    if rng is not None:
        plan = [plan[j] for j in rng.permutation(len(plan))]
    return _padded(data, plan, max_word)


def inference_batches(data: Encoded, indices: Sequence[int], tokens: int, buckets: Sequence[int],
                      max_word: int, multiple: int) -> Iterator[dict]:
    """Padded batches for evaluation and pool scoring: about ``tokens`` padded tokens each.

    Shorter buckets get more rows (``tokens // length``, a multiple of ``multiple``, the
    device count). What is left of a bucket after its full batches goes in batches of an
    eighth as many rows, so little compute goes to padding rows while each bucket has just
    two shapes, the same whatever the pool (compiled once, reused every round).
    """
    plan = []
    for length, members in _by_bucket(data, indices, buckets).items():
        rows = max(multiple, tokens // length // multiple * multiple)
        small = max(multiple, rows // 8 // multiple * multiple)
        cut = len(members) // rows * rows
        plan += [(length, members[s: s + rows], rows) for s in range(0, cut, rows)]
        plan += [(length, members[s: s + small], small) for s in range(cut, len(members), small)]
    return _padded(data, plan, max_word)


def per_example_keys(rng: jax.Array, index: jax.Array) -> jax.Array:
    """One dropout key per sentence, folded from its index (padding rows use index 0)."""
    return jax.vmap(lambda i: jax.random.fold_in(rng, i))(jnp.maximum(index, 0))


def apply_model(model, params, batch: dict, keys=None, teacher_forcing: bool = False):
    return model.apply(params, batch["words"], batch["mask"], batch.get("chars"), keys,
                       batch["tags"] if teacher_forcing else None)


def make_loss(model):
    """Token cross-entropy sum over real tokens (``loss_fn`` of ``sharding.make_train_step``)."""

    def loss_fn(params, batch, rng):
        out = apply_model(model, params, batch, per_example_keys(rng, batch["index"]), teacher_forcing=True)
        nll = optax.softmax_cross_entropy_with_integer_labels(out.logits, batch["tags"])
        return (nll * batch["mask"]).sum(), (batch["mask"].sum(), {})

    return loss_fn


def make_predict(model, mesh):
    """Sharded greedy prediction ``(params, batch) -> pred [B, T]``."""
    return sharding.make_eval_fn(lambda p, b: apply_model(model, p, b).pred, mesh)


def evaluate(predict, params, data: Encoded, tag_vocab, cfg, mesh) -> float:
    """Entity F1 (conlleval) of greedy predictions on every sentence of ``data``."""
    pred_tags: list = [None] * len(data)
    for batch in inference_batches(data, range(len(data)), cfg.score_tokens, cfg.score_buckets, cfg.max_word,
                                   mesh.devices.size):
        pred = np.asarray(predict(params, sharding.shard_batch(batch, mesh)))
        for row, i in enumerate(batch["index"]):
            if i >= 0:
                pred_tags[i] = tag_vocab.decode(pred[row, : len(data.words[i])])
    return f1_score(data.gold, pred_tags)["f1"]


def init_params(model, data: Encoded, cfg, key):
    batch = next(batches(data, [0], 1, cfg.buckets, cfg.max_word))
    return model.init(key, batch["words"], batch["mask"], batch.get("chars"))


CHAR_CAPACITY = 512


def with_pretrained(params, vocabs: Vocabs, model_cfg):
    """Replaces the first rows of the word table with GloVe vectors when ``glove_path`` is set."""
    if not model_cfg.glove_path:
        return params
    table = params["params"]["encoder"]["embed"]["embedding"]
    vectors = wordvocab.load_glove(model_cfg.glove_path, vocabs.words, model_cfg.embed_dim)
    params["params"]["encoder"]["embed"]["embedding"] = table.at[: len(vectors)].set(vectors)
    return params


def build_model(config, vocabs: Vocabs, capacity: int):
    """The configured model with a word table of ``capacity`` rows.

    The capacity is fixed per dataset (the distinct words of the raw training text, which
    a user has before annotating), so every round builds the same model and reuses the
    compiled programs, although each round's vocabulary comes from its labeled sentences.
    """
    if len(vocabs.words) > capacity:
        raise ValueError(f"vocabulary of {len(vocabs.words)} words exceeds the table capacity {capacity}")
    if vocabs.chars is not None and len(vocabs.chars) > CHAR_CAPACITY:
        raise ValueError(f"{len(vocabs.chars)} distinct characters exceed the table capacity {CHAR_CAPACITY}")
    nchars = 0 if vocabs.chars is None else CHAR_CAPACITY
    return make_model(config.model, capacity, len(vocabs.tags), nchars, config.model_cfg)


def train(config, train: Encoded, labeled: Sequence[int], val: Encoded, test: Encoded,
          vocabs: Vocabs, capacity: int, seed: int, mesh, desc: str = "train"):
    """Trains from scratch on ``train[labeled]``; returns ``(model, params, {val_f1, test_f1, best_epoch})``."""
    cfg = config.train
    model = build_model(config, vocabs, capacity)
    key = jax.random.key(seed)
    step, tx = _cached_step(model, cfg.learning_rate, mesh)
    params = with_pretrained(init_params(model, train, cfg, key), vocabs, config.model_cfg)
    state = sharding.replicate(sharding.TrainState.create(params, tx), mesh)
    predict = _cached_predict(model, mesh)
    rng = np.random.default_rng(seed)
    best = (-1.0, None, -1)
    for epoch in tqdm(range(cfg.epochs), desc=desc, leave=False):
        for batch in batches(train, labeled, cfg.batch_size, cfg.buckets, cfg.max_word, rng):
            state, _ = step(state, sharding.shard_batch(batch, mesh), jax.random.fold_in(key, 1 + epoch))
        if epoch + 1 >= cfg.eval_from_epoch or epoch + 1 == cfg.epochs:
            f1 = evaluate(predict, state.params, val, vocabs.tags, cfg, mesh)
            if f1 > best[0]:
                best = (f1, jax.tree.map(jnp.copy, state.params), epoch + 1)
    val_f1, params, epoch = best
    test_f1 = evaluate(predict, params, test, vocabs.tags, cfg, mesh)
    return model, params, {"val_f1": val_f1, "test_f1": test_f1, "best_epoch": epoch}


_STEPS: dict = {}


def _cached_step(model, learning_rate: float, mesh):
    """One compiled Adam step per (model, learning rate, mesh): rounds with equal shapes reuse it."""
    key = ("step", model, learning_rate, id(mesh))
    if key not in _STEPS:
        tx = optax.adam(learning_rate)
        _STEPS[key] = (sharding.make_train_step(make_loss(model), tx, mesh), tx)
    return _STEPS[key]


def _cached_predict(model, mesh):
    key = ("predict", model, id(mesh))
    if key not in _STEPS:
        _STEPS[key] = make_predict(model, mesh)
    return _STEPS[key]
