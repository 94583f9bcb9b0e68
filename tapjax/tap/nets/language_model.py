"""A GRU language model over the CROHME symbols: the third family of TAP's Eq. 33.

TAP's best system (Table III, TAP + WAP + a "GRU-based language model") mixes, at every
decoding step, the symbol probabilities of the three (Eq. 33, with weights drawn on the
validation set in Fig. 11; :class:`tapjax.common.family.Mixture`). The paper gives no
architecture or training data for the language model; ours is small, trained on the
training captions only: an embedding ``E`` of the previous symbol, one GRU layer (Eqs. 5-8,
:func:`tapjax.common.rnn.gru_step` through :class:`tapjax.tap.nets.parser.GRUCell`) and a
softmax output::

    h_0 = 0,   h_t = GRU(E y_{t-1}, h_{t-1}),   p(y_t | y_<t) = softmax(W_o h_t + b_o)

where the first step's ``y_{t-1} = -1`` (no symbol yet) embeds to zeros, as in TAP's parser.
A caption ends with ``<eol>`` (id 0), which the model predicts like any symbol.

:class:`LanguageModel` is a decoding family (``encode`` / ``init_state`` / ``step``) that
reads no ink: its ``encode`` keeps only the batch size, and ``step`` uses neither the
features nor ``enc``. :func:`train` fits it by teacher forcing (masked cross-entropy, Adam,
a jitted ``lax.scan`` over the same :meth:`LanguageModel.step` that decoding uses), keeping
the epoch of lowest validation perplexity; :func:`perplexity` scores it on captions;
:func:`save` and :func:`load` keep it in a folder. A whole run from a config (captions read,
trained, saved, scored) is :func:`tapjax.tap.fit.lm_trainer.train_and_score` (``tapjax lm``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import traverse_util

from tapjax.common.buckets import round_up
from tapjax.common.errors import InputError
from tapjax.tap.ink import crohme, inkml, latex
from tapjax.tap.ink.symbols import EOS, Vocab
from tapjax.tap.nets.flax_family import FamilyNet, FlaxFamily
from tapjax.tap.nets.parser import GRUCell

Array = jax.Array
PARAMS_FILE, CONFIG_FILE = "lm_params.npz", "lm_config.json"


@dataclasses.dataclass(frozen=True)
class LMConfig:
    """The model's sizes: ``vocab_size`` symbols (111 for CROHME), the embedding and GRU widths (the
    project's are in ``experiments/configs/language_model.py``)."""

    vocab_size: int
    embed_dim: int
    hidden: int

    def __post_init__(self):
        if min(self.vocab_size, self.embed_dim, self.hidden) < 1:
            raise ValueError(f"language model config: sizes must be >= 1, got {self}")


class LMNet(FamilyNet):
    """Flax module holding ``E``, the GRU and ``W_o``; methods mirror :class:`LanguageModel`."""

    config: LMConfig

    def setup(self):
        c = self.config
        self.embed = nn.Embed(c.vocab_size, c.embed_dim, name="E")
        self.gru = GRUCell(hidden=c.hidden, name="gru")
        self.W_o = nn.Dense(c.vocab_size, name="W_o")

    def encode(self, features: Array, feature_mask: Array) -> dict:
        return {"rows": jnp.zeros_like(feature_mask[:, :1])}

    def init_state(self, enc) -> dict:
        """``{"h": zeros [B, H]}``, ``B`` the leading axis of ``enc``'s first leaf; derived from it so
        that inside ``shard_map`` the state varies over the mesh axes as ``enc`` does."""
        leaf = jax.tree.leaves(enc)[0]
        zero = jnp.zeros_like(leaf.reshape(leaf.shape[0], -1)[:, :1], dtype=jnp.float32)
        return {"h": jnp.broadcast_to(zero, (leaf.shape[0], self.config.hidden))}

    def step(self, enc, state: dict, prev_tokens: Array) -> tuple[Array, dict]:
        y = self.embed(jnp.maximum(prev_tokens, 0)) * (prev_tokens >= 0)[:, None]
        h = self.gru(state["h"], y)
        return jax.nn.log_softmax(self.W_o(h)), {"h": h}


@dataclasses.dataclass(frozen=True)
class LanguageModel(FlaxFamily):
    """The GRU language model as a decoding family (hashable: a static jit argument). It reads no
    ink: ``encode`` keeps only the batch size (``{"rows": zeros [B, 1]}``), ``init_state`` is
    ``{"h": zeros [B, H]}`` for any family's ``enc`` (only its batch size is used), and ``step``
    (``prev_tokens int32 [B]``, -1: none, to ``(log p(y_t) [B, V], state)``) ignores ``enc``."""

    config: LMConfig
    Net = LMNet

    def example_input(self) -> tuple[Array, Array]:
        return jnp.zeros((1, 1, 1)), jnp.ones((1, 1))

    def teacher_forced(self, params, tokens: Array) -> Array:
        """Runs :meth:`step` over the captions ``tokens [B, T]`` (each ending with ``<eol>``):
        ``log_probs [B, T, V]``, row ``t`` the prediction of ``tokens[:, t]``. The captions stand
        in for ``enc``: only their batch size is read."""
        return self.forced(params, tokens, tokens)[0]


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Training by teacher forcing: ``epochs`` passes over the captions in batches of
    ``batch_size``, Adam at ``learning_rate`` with gradients clipped at global norm
    ``clip_norm``; a batch is padded to a multiple of ``pad_multiple`` symbols (one compiled
    step per padded length); ``seed`` draws the initial parameters and the batch order (the
    project's values are in ``experiments/configs/language_model.py``)."""

    epochs: int
    batch_size: int
    learning_rate: float
    clip_norm: float
    pad_multiple: int
    seed: int

    def __post_init__(self):
        if min(self.epochs, self.batch_size, self.pad_multiple) < 1 or self.learning_rate <= 0:
            raise ValueError(f"language model training: epochs, batch_size and pad_multiple must be "
                             f">= 1 and learning_rate > 0, got {self}")


def encode_captions(captions: Iterable[Sequence[str]], vocab: Vocab) -> list[np.ndarray]:
    """Each caption's ids followed by ``<eol>`` (``KeyError`` names a token not in ``vocab``)."""
    return [np.array(vocab.encode(tokens) + [EOS], dtype=np.int32) for tokens in captions]


def pad(sequences: Sequence[np.ndarray], rows: int, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens int32 [rows, T], mask float32 [rows, T])``, ``T`` the longest of ``sequences``
    rounded up to ``multiple``; rows past ``len(sequences)`` are padding (mask 0)."""
    length = int(round_up(max(len(s) for s in sequences), multiple))
    tokens = np.zeros((rows, length), dtype=np.int32)
    mask = np.zeros((rows, length), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        tokens[row, :len(sequence)] = sequence
        mask[row, :len(sequence)] = 1.0
    return tokens, mask


def epoch_batches(sequences: Sequence[np.ndarray], settings: TrainSettings,
                  rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """One epoch's batches in random order, each of captions of one padded length (shuffled
    within it), ``settings.batch_size`` rows (the last of a length padded with empty rows)."""
    lengths = round_up([len(s) for s in sequences], settings.pad_multiple)
    batches = []
    for length in np.unique(lengths):
        members = rng.permutation(np.flatnonzero(lengths == length))
        for start in range(0, len(members), settings.batch_size):
            chosen = [sequences[i] for i in members[start:start + settings.batch_size]]
            batches.append(pad(chosen, settings.batch_size, settings.pad_multiple))
    return [batches[i] for i in rng.permutation(len(batches))]


@functools.partial(jax.jit, static_argnames="family")
def nll_sums(family: LanguageModel, params, tokens: Array, mask: Array) -> tuple[Array, Array]:
    """The summed negative log-likelihood of the real symbols of ``tokens`` and their count."""
    log_probs = family.teacher_forced(params, tokens)
    picked = jnp.take_along_axis(log_probs, tokens[..., None], axis=-1)[..., 0]
    return -(picked * mask).sum(), mask.sum()


def _train_step(family: LanguageModel, optimizer: optax.GradientTransformation) -> Callable:
    """The jitted update on one batch: the mean cross-entropy per real symbol."""

    def loss(params, tokens, mask):
        total, count = nll_sums(family, params, tokens, mask)
        return total / jnp.maximum(count, 1.0)

    @jax.jit
    def step(params, opt_state, tokens, mask):
        value, grads = jax.value_and_grad(loss)(params, tokens, mask)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step


def train(family: LanguageModel, sequences: Sequence[np.ndarray], settings: TrainSettings,
          valid: Sequence[np.ndarray] = (), log: Callable[[dict], None] | None = None
          ) -> tuple[dict, list[dict]]:
    """Parameters fitted to ``sequences`` (:func:`encode_captions`) by teacher forcing, and a
    record per epoch (mean training loss, seconds, perplexity on ``valid`` if given), each also
    passed to ``log``. With ``valid`` the parameters are those of the epoch of lowest perplexity
    on it (the model overfits the 8,835 training captions within a few epochs), else the last."""
    optimizer = optax.chain(optax.clip_by_global_norm(settings.clip_norm),
                            optax.adam(settings.learning_rate))
    params = family.init(jax.random.PRNGKey(settings.seed))
    opt_state, step = optimizer.init(params), _train_step(family, optimizer)
    rng, history, best = np.random.default_rng(settings.seed), [], (math.inf, params)
    for epoch in range(1, settings.epochs + 1):
        start, losses = time.perf_counter(), []
        for tokens, mask in epoch_batches(sequences, settings, rng):
            params, opt_state, value = step(params, opt_state, tokens, mask)
            losses.append(value)
        record = {"epoch": epoch, "loss": round(float(np.mean(losses)), 4)}
        if valid:
            record["valid_perplexity"] = round(perplexity(family, params, valid), 4)
            best = min(best, (record["valid_perplexity"], params), key=lambda b: b[0])
        history.append({**record, "seconds": round(time.perf_counter() - start, 1)})
        if log:
            log(history[-1])
    return (best[1] if valid else params), history


def perplexity(family: LanguageModel, params, sequences: Sequence[np.ndarray],
               batch_size: int = 256, multiple: int = 8) -> float:
    """``exp`` of the mean negative log-likelihood per symbol (``<eol>`` included) of
    ``sequences`` (Eq. 33's ``p_3`` on each caption, by teacher forcing)."""
    if not sequences:
        raise ValueError("perplexity: no captions")
    order = np.argsort([len(s) for s in sequences], kind="stable")
    total, count = 0.0, 0.0
    for start in range(0, len(order), batch_size):
        chosen = [sequences[i] for i in order[start:start + batch_size]]
        nll, n = nll_sums(family, params, *pad(chosen, batch_size, multiple))
        total, count = total + float(nll), count + float(n)
    return math.exp(total / count)


def save(workdir: str | os.PathLike, config: LMConfig, params, extra: dict | None = None) -> None:
    """Writes ``lm_params.npz`` (one array per parameter, ``E/embedding`` ...) and
    ``lm_config.json`` (the :class:`LMConfig` fields, under ``"model"``, and ``extra``)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    flat = traverse_util.flatten_dict(jax.device_get(params), sep="/")
    np.savez(workdir / PARAMS_FILE, **{k: np.asarray(v) for k, v in flat.items()})
    record = {"model": dataclasses.asdict(config), **(extra or {})}
    (workdir / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n")


def load(workdir: str | os.PathLike) -> tuple[LanguageModel, dict]:
    """The family and parameters :func:`save` wrote to ``workdir``; a missing or unreadable
    file, or parameters of other shapes than the config's, is an :class:`InputError` naming it."""
    workdir = Path(workdir)
    try:
        config = LMConfig(**json.loads((workdir / CONFIG_FILE).read_text())["model"])
        with np.load(workdir / PARAMS_FILE) as arrays:
            params = traverse_util.unflatten_dict({k: jnp.asarray(arrays[k]) for k in arrays.files},
                                                  sep="/")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(workdir, f"not a saved language model ({type(error).__name__}: {error})")
    family = LanguageModel(config)
    expected = jax.eval_shape(family.init, jax.random.PRNGKey(0))
    if jax.tree.map(jnp.shape, expected) != jax.tree.map(jnp.shape, params):
        raise InputError(workdir / PARAMS_FILE, f"parameters do not match the model {config}")
    return family, params


def caption_file(path: Path) -> list[list[str]]:
    """The captions of a standard caption file (``key<TAB>tokens``), in file order."""
    if not path.is_file():
        raise InputError(path, "caption file not found")
    return list(crohme.read_captions(path).values())


def truth_captions(folder: Path, vocab: Vocab) -> tuple[list[list[str]], int]:
    """The tokenized truths of the InkML files under ``folder`` that tokenize into ``vocab``,
    and how many files were left out (unreadable, no truth, or a symbol not in ``vocab``)."""
    inks, errors = inkml.read_folder(folder)
    tokenized = [latex.tokenize(ink.truth) for ink in inks if ink.truth]
    captions = [tokens for tokens in tokenized if tokens and not vocab.unknown(tokens)]
    return captions, len(errors) + len(inks) - len(captions)
