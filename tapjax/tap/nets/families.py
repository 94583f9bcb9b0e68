"""The model families a run trains: which model its config builds, what it reads, how it trains.

A config's ``model.family`` names the family (:data:`FAMILIES`):

- ``"tap"``: :class:`~tapjax.tap.nets.model.TAP` (``experiments/configs/crohme14.py``), reading the ink
  as points (:class:`~tapjax.tap.ink.inputs.Points`), trained on Eq. 29 with the attention guider.
- ``"wap"``: :class:`~tapjax.tap.nets.wap.WAP` (``experiments/configs/wap.py``), reading the ink rendered
  as an image (:class:`~tapjax.tap.ink.inputs.Images`, drawn as the config's ``render`` block says at
  ``model.image_height`` rows), trained on Eq. 29 without the guider
  (:func:`tapjax.tap.nets.loss.wap_loss`). Its batch normalisation's running averages are model state
  that training updates outside the gradient: its runs train a
  :class:`~tapjax.common.sharding.StatefulTrainState` (``model_state = {"batch_stats": ...}``) and
  decode with ``{"params": ..., "batch_stats": ...}``.

The trainer, the runs loader and the evaluation build, initialise and decode every family
through the functions below.
"""

from __future__ import annotations

from typing import Any

import jax
import ml_collections

from tapjax.common import sharding
from tapjax.tap.ink import render
from tapjax.tap.ink.inputs import Images, Points
from tapjax.tap.nets.loss import tap_loss, wap_loss
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.wap import WAP

FAMILIES = {"tap": TAP, "wap": WAP}


def name(config: ml_collections.ConfigDict) -> str:
    """The family of a run's config (``model.family``); an unknown one is a ``ValueError``."""
    family = config.model.family
    if family not in FAMILIES:
        raise ValueError(f"model.family is {family!r}; choose from {', '.join(FAMILIES)}")
    return family


def build(config: ml_collections.ConfigDict) -> TAP | WAP:
    """The model of a run's config (a ``ValueError`` for a model block its family cannot build)."""
    return FAMILIES[name(config)].from_config(config.model)


def inputs_of(model: TAP | WAP, config: ml_collections.ConfigDict) -> Points | Images:
    """What ``model`` (built from ``config``) reads from a batch."""
    if isinstance(model, WAP):
        return Images(render.Settings(height=model.config.image_height, **config.render), model.stride)
    return Points(model.stride)


def stateful(model: TAP | WAP) -> bool:
    """Whether the model trains with state outside its parameters (WAP's batch statistics)."""
    return isinstance(model, WAP)


def init(model: TAP | WAP, rng: jax.Array) -> tuple[Any, dict | None]:
    """Fresh ``(params, model_state)``: the trained parameters and (stateful families) the rest of the
    variables, else None."""
    if not stateful(model):
        return model.init(rng), None
    variables = dict(model.init(rng))
    return variables.pop("params"), variables


def variables(model: TAP | WAP, params, model_state: dict | None):
    """What the model decodes with: ``params``, with the model state (WAP's running averages)."""
    return {"params": params, **model_state} if stateful(model) else params


def state_variables(model: TAP | WAP, state: sharding.TrainState, params=None):
    """:func:`variables` of a train state (``params`` in place of its own: the means under weight
    noise, an average of validated weights)."""
    return variables(model, state.params if params is None else params, getattr(state, "model_state", None))


def loss_fn(model: TAP | WAP, config: ml_collections.ConfigDict):
    """The family's Eq. 29 as a (stateful, :func:`stateful`) loss of
    :func:`tapjax.common.sharding.make_train_step`, averaged as ``train.loss_average``."""
    smoothing = config.train.label_smoothing
    if stateful(model):
        return lambda params, batch, rng, model_state: wap_loss(model, params, model_state, batch,
                                                                config.train.loss_average, smoothing)
    return lambda params, batch, rng: tap_loss(model, params, batch, config.train.guider_weight,
                                               config.train.loss_average, smoothing, rng)
