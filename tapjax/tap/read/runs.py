"""Trained TAP or WAP runs: a workdir's config and checkpoints, or an exported model, loaded for decoding.

A run's workdir (as written by :func:`tapjax.tap.fit.trainer.train_and_evaluate`) holds its
``config.json`` and ``checkpoints/{best,latest}``; its config's ``model.family`` says which model
it is (:mod:`tapjax.tap.nets.families`). Wherever a run's workdir is asked for, an exported model
(:mod:`tapjax.tap.read.exported`) serves too; where none is given, the one shipped with tapjax.

:func:`load_runs` loads one run (a TAP or WAP model) or several of one model config (an
:class:`~tapjax.common.family.Ensemble`, TAP Eq. 32); :func:`load_mixture` loads runs of any
families and a GRU language model (:mod:`tapjax.tap.nets.language_model`) as one
:class:`~tapjax.common.family.Mixture` (TAP Eq. 33), each member reading its own input. Unusable
runs raise :class:`~tapjax.common.errors.InputError`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import ml_collections

from tapjax.common import run_config, sharding
from tapjax.common.checkpoint import Checkpoints, abstract
from tapjax.common.errors import InputError
from tapjax.common.family import Ensemble, Family, Mixture, stack_params
from tapjax.common.paths import data_root
from tapjax.tap.ink import crohme
from tapjax.tap.ink.inputs import Images, Points, Rows
from tapjax.tap.ink.symbols import Vocab
from tapjax.tap.nets import families, language_model, weight_noise
from tapjax.tap.read import exported


@dataclasses.dataclass(frozen=True)
class Runs:
    """Trained runs ready to decode: ``family`` (a TAP or WAP model or an ensemble of them), its
    ``params`` and the input it reads (``kinds``, :mod:`tapjax.tap.ink.inputs`), or a mixture of
    families (:func:`load_mixture`: ``kinds`` a tuple, one per member)."""

    family: Family
    params: Any
    config: ml_collections.ConfigDict
    vocab: Vocab
    kinds: Points | Images | tuple

    @property
    def stride(self) -> int:
        """Input points (image columns) per annotation step."""
        return self.kinds.multiple


def load_config(workdir: str | os.PathLike) -> ml_collections.ConfigDict:
    """The config a run was trained with (``workdir/config.json``, or an exported model's); a run of
    another config version (:func:`tapjax.common.run_config.check_version`) is an :class:`InputError`."""
    path = Path(workdir) / run_config.FILE
    if not Path(workdir).is_dir():
        raise InputError(workdir, "no such run directory")
    if exported.exported(workdir):
        path, stored = Path(workdir) / exported.META, exported.read_meta(workdir)["config"]
    elif not path.is_file():
        raise InputError(workdir, f"not a training run: it has no {run_config.FILE} (nor {exported.META})")
    else:
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise InputError(path, f"unreadable config ({error})") from None
    try:
        config = ml_collections.ConfigDict(stored)
    except TypeError as error:
        raise InputError(path, f"unreadable config ({error})") from None
    run_config.check_version(stored, path, "retrain the run")
    return config


def model_differences(a: ml_collections.ConfigDict, b: ml_collections.ConfigDict) -> list[str]:
    """The fields in which the model blocks of configs ``a`` and ``b`` differ, as ``"field (a's vs
    b's)"`` (compared as JSON, so that a tuple read back as a list is no difference)."""
    first, other = (json.loads(json.dumps(c.model.to_dict())) for c in (a, b))
    return [f"{k} ({first.get(k)} vs {other.get(k)})" for k in sorted(first.keys() | other.keys())
            if first.get(k) != other.get(k)]


def _check_same_model(workdirs: Sequence[str], configs: Sequence[ml_collections.ConfigDict]) -> None:
    """Ensemble members must share the model (Eq. 32 averages models of one family)."""
    for workdir, config in zip(workdirs[1:], configs[1:]):
        differ = model_differences(configs[0], config)
        if differ:
            raise InputError(workdir,
                             f"cannot ensemble with {workdirs[0]}: model config differs in " + ", ".join(differ))


def _fresh_state(model, config: ml_collections.ConfigDict, rng: jax.Array) -> sharding.TrainState:
    """A new train state of a run of ``config`` (what its checkpoints hold)."""
    params, model_state = families.init(model, rng)
    return sharding.TrainState.create(weight_noise.train_params(params, config.train), weight_noise.optimizer(config),
                                      model_state)


def restore_state(checkpoints: Checkpoints, model, config: ml_collections.ConfigDict,
                  kinds: Sequence[str] = ("best",)) -> sharding.TrainState | None:
    """The train state of the first sound checkpoint of ``kinds`` of a run trained with ``config``
    (:meth:`~tapjax.common.checkpoint.Checkpoints.restore_first`), or None if there is none (restored
    onto the first device, into the tree :func:`~tapjax.common.checkpoint.abstract` describes)."""
    rng = jax.random.key(config.train.seed)
    state = abstract(lambda: _fresh_state(model, config, rng), jax.sharding.SingleDeviceSharding(jax.devices()[0]))
    like = {"state": state, "epoch": 0, "step_in_epoch": 0,
            "rng": rng, "best_wer": 0.0, "bad_epochs": 0, "train_seconds": 0.0}
    restored = checkpoints.restore_first(kinds, like)
    return None if restored is None else restored["state"]


def _restore(workdir: str, model, config) -> Any:
    """What the model decodes with (:func:`tapjax.tap.nets.families.state_variables`, the means under weight
    noise) from the best checkpoint (the latest if there is no best, or, with a warning, if the best
    is corrupt)."""
    if not (Path(workdir) / "checkpoints").is_dir():
        raise InputError(workdir, "no checkpoints/ folder (the run saved no checkpoint)")
    checkpoints = Checkpoints(workdir)
    try:
        state = restore_state(checkpoints, model, config, ("best", "latest"))
    except (ValueError, KeyError, TypeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(workdir, f"the checkpoint does not match config.json ({first_line})") from None
    finally:
        checkpoints.close()
    if state is None:
        raise InputError(workdir, "no checkpoint saved yet (checkpoints/best and checkpoints/latest are empty)")
    return families.state_variables(model, state, weight_noise.means(state.params))


def override(runs: Runs, settings: dict[str, Any]) -> None:
    """Replaces the run's ``eval`` values by those of ``settings`` that are not None (flags given)."""
    for name, value in settings.items():
        if value is not None:
            runs.config.eval[name] = value


def _model(path: Path, config: ml_collections.ConfigDict):
    """The model of ``config`` (read from ``path``; :func:`tapjax.tap.nets.families.build`); a model block
    this version cannot build (a run of an older tapjax, e.g. one from before ``temporal_attention``)
    is an :class:`InputError`."""
    try:
        return families.build(config)
    except ValueError as error:
        raise InputError(path, f"a model this version of tapjax cannot build ({error}); retrain the run") from None


def _check_vocab(config: ml_collections.ConfigDict, vocab: Vocab, where: Path) -> None:
    if config.model.vocab_size != len(vocab):
        raise InputError(where, f"model.vocab_size is {config.model.vocab_size} "
                                f"but the vocabulary has {len(vocab)} symbols")


def load_runs(workdirs: Sequence[str | os.PathLike] = (), data_dir: str | None = None) -> Runs:
    """One run (a TAP or WAP model, or an exported model: :func:`load_exported`), several runs
    (an :class:`Ensemble`, TAP Eq. 32), or without any the model shipped with tapjax, checked
    against the vocabulary.

    The vocabulary is read from ``data_dir``, else the run's ``data.root``, else the default data root.
    """
    workdirs = [str(w) for w in workdirs] or [str(exported.shipped())]
    if len(workdirs) == 1 and exported.exported(workdirs[0]):
        return load_exported(workdirs[0])
    for workdir in workdirs:
        if exported.exported(workdir):
            raise InputError(workdir, "an exported model joins other runs only as a member of a mixture (--weights)")
    configs = [load_config(w) for w in workdirs]
    _check_same_model(workdirs, configs)
    config = configs[0]
    data_dir = data_dir or config.data.root or None
    try:
        vocab = Vocab.from_data_root(data_dir)
    except FileNotFoundError as error:
        raise InputError(data_root(data_dir), f"no CROHME vocabulary there ({error})") from None
    _check_vocab(config, vocab, Path(workdirs[0]) / "config.json")
    model = _model(Path(workdirs[0]) / "config.json", config)
    params = [_restore(w, model, c) for w, c in zip(workdirs, configs)]
    kinds = families.inputs_of(model, config)
    if len(params) == 1:
        return Runs(model, params[0], config, vocab, kinds)
    return Runs(Ensemble(model), stack_params(params), config, vocab, kinds)


def load_exported(where: str | os.PathLike) -> Runs:
    """The exported model in folder ``where`` (:mod:`tapjax.tap.read.exported`), its parameters
    restored to float32."""
    meta, config = exported.read_meta(where), load_config(where)
    vocab = Vocab(meta["vocab"])
    _check_vocab(config, vocab, Path(where) / exported.META)
    model = _model(Path(where) / exported.META, config)
    params = exported.read_params(where, jax.eval_shape(model.init, jax.random.key(0)))
    return Runs(model, params, config, vocab, families.inputs_of(model, config))


def load_mixture(workdirs: Sequence[str | os.PathLike], lm: str | os.PathLike | None,
                 data_dir: str | None = None) -> Runs:
    """The runs ``workdirs`` (each one member, of any family; runs or exported models) and the
    language model saved in ``lm`` (:func:`tapjax.tap.nets.language_model.load`; the last member, reading
    no ink) as one mixture (TAP Eq. 33), of equal weights until :func:`with_weights` sets them. The
    mixture takes its weights as an input (``Mixture(..., weights=None)``, ``params = {"members",
    "weights"}``), so that other weights decode with the same compiled search; decoding settings and
    the vocabulary are the first run's."""
    if not workdirs:
        raise InputError("--checkpoint", "a mixture needs at least one trained run")
    members = [load_runs([w], data_dir) for w in workdirs]
    first = members[0]
    for workdir, run in zip(workdirs[1:], members[1:]):
        if run.vocab.symbols != first.vocab.symbols:
            raise InputError(workdir, f"cannot mix with {workdirs[0]}: another vocabulary")
    parts = [(run.family, run.params, run.kinds) for run in members]
    if lm is not None:
        family, params = language_model.load(lm)
        if family.config.vocab_size != len(first.vocab):
            raise InputError(lm, f"a language model of {family.config.vocab_size} symbols; the runs have "
                                 f"{len(first.vocab)}")
        parts.append((family, params, Rows()))
    family_list, params, kinds = zip(*parts)
    equal = jnp.full(len(parts), 1 / len(parts), jnp.float32)
    return Runs(Mixture(family_list, None), {"members": params, "weights": equal}, first.config, first.vocab, kinds)


def with_weights(runs: Runs, weights: Sequence[float], where: str = "--weights") -> Runs:
    """The mixture ``runs`` (:func:`load_mixture`) with ``weights``, one per member in order; weights
    that are not that many, not all >= 0 or do not sum to 1 are an :class:`InputError` of ``where``."""
    members = runs.params["members"]
    if len(weights) != len(members) or any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise InputError(where, f"{tuple(weights)}: need {len(members)} weights (each --checkpoint, then --lm), "
                                "each >= 0, summing to 1 (Eq. 33)")
    return dataclasses.replace(runs, params={"members": members, "weights": jnp.asarray(weights, jnp.float32)})


def load_split(runs: Runs, name: str, data_dir: str | None = None, limit: int = 0) -> crohme.Split:
    """The split ``name`` preprocessed as the runs' config says (from ``data_dir``, else the config's
    data root), its first ``limit`` expressions only if ``limit``."""
    split = crohme.load_split(name, data_dir or runs.config.data.root or None, runs.config.data.cache_dir or None)
    return split.take(range(min(limit, len(split)))) if limit else split
