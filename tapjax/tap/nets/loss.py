"""The training objective (Eq. 29): token cross-entropy plus, for TAP, the attention guider.

    O = -sum_t log p(w_t | y_<t, x) + lambda * sum_t G_t                  (29)

summed over an expression's real caption tokens (``token_mask``, which includes the end
symbol); ``G_t`` (Eq. 28) only for tokens that have strokes. ``lambda = 0.1`` in the
authors' code. A batch's loss is the mean of Eq. 29 over its expressions, as the authors'
code has it (``nmt.py``: ``cost`` summed over each expression's steps, then ``cost.mean()``
over the batch); ``average="tokens"`` divides the batch's sum by its tokens instead.

With ``label_smoothing = e > 0`` (not in the paper: an option for short training runs) the
cross-entropy term of each token is taken against the target smoothed towards the uniform
distribution, ``-(1 - e) log p(w_t) - e mean_v log p(v)``; the logged ``nll`` stays the plain one.

WAP (:mod:`tapjax.tap.nets.wap`) has no stroke alignment, hence no guider: its objective is the
cross-entropy term alone, averaged and smoothed the same way (:func:`wap_loss`), with batch
normalisation by the global batch's statistics, whose running averages the step carries on
(:class:`tapjax.common.sharding.StatefulTrainState`), as the authors' WAP training does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tapjax.common.sharding import AXIS
from tapjax.tap.nets.attention import alignment_targets, guider_loss
from tapjax.tap.nets.model import TAP
from tapjax.tap.nets.wap import WAP

Array = jax.Array
AVERAGES = ("expressions", "tokens")


def _check_average(average: str) -> None:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")


def cross_entropy(log_probs: Array, tokens: Array, mask: Array, average: str, label_smoothing: float):
    """Eq. 29's first term over the rows' real tokens: ``(loss sum, count, metric sums)``, the loss
    smoothed by ``label_smoothing``, ``count`` the rows' expressions or (``average="tokens"``) their
    tokens, the metric sums ``nll``, ``correct`` (teacher-forced argmax hits) and ``tokens``."""
    _check_average(average)
    token_lp = jnp.take_along_axis(log_probs, tokens[..., None], axis=-1)[..., 0]
    nll = -(token_lp * mask).sum()
    smoothed = -(((1.0 - label_smoothing) * token_lp + label_smoothing * log_probs.mean(-1)) * mask).sum()
    correct = ((log_probs.argmax(-1) == tokens) * mask).sum()
    count = mask.max(axis=-1).sum() if average == "expressions" else mask.sum()
    return smoothed, count, {"nll": nll, "correct": correct, "tokens": mask.sum()}


def tap_loss(model: TAP, params, batch: dict, guider_weight: float = 0.1, average: str = "expressions",
             label_smoothing: float = 0.0, rng: jax.Array | None = None):
    """Eq. 29 over this device's rows, in the form :func:`tapjax.common.sharding.make_train_step` wants.

    Returns ``(loss sum, (count, metric sums))``: ``count`` is the number of the rows'
    expressions (padding rows have no tokens), or with ``average="tokens"`` of their real
    tokens: the step divides the global sums by the global count. The metric sums are those of
    :func:`cross_entropy` and ``guider`` (sum of ``G_t``); ``correct / tokens`` is the accuracy
    whatever the average. With ``rng`` the model trains with its dropout (``model.config.dropout``),
    each row's masks drawn from ``rng`` folded with the row's expression index, so they are the same
    on any number of devices.
    """
    tokens, mask = batch["tokens"], batch["token_mask"]
    keys = None
    if rng is not None and model.config.dropout:  # one key per row, from its expression (padding rows: -1 -> 0)
        keys = jax.vmap(jax.random.fold_in, (None, 0))(rng, jnp.maximum(batch["index"], 0))
    log_probs, alpha, annotation_mask = model.teacher_forced(params, batch["features"], batch["feature_mask"], tokens,
                                                             keys)
    loss, count, metrics = cross_entropy(log_probs, tokens, mask, average, label_smoothing)
    gamma = alignment_targets(batch["align"], annotation_mask, model.stride)
    guider = (guider_loss(alpha, gamma) * mask).sum()
    loss = loss + guider_weight * guider if guider_weight else loss
    return loss, (count, {**metrics, "guider": guider})


def wap_loss(model: WAP, params, model_state: dict, batch: dict, average: str = "expressions",
             label_smoothing: float = 0.0, axis_name: str | None = AXIS):
    """Eq. 29 without the guider over this device's rows (the images), batch normalisation by the
    statistics of the batch over the devices of ``axis_name`` (inside ``shard_map``; None: this
    batch alone), in the form of a stateful ``make_train_step`` loss: ``(loss sum, (count, metric
    sums, model_state))``, ``model_state`` (``{"batch_stats": ...}``) with its running averages moved
    towards this batch's statistics."""
    tokens, mask = batch["tokens"], batch["token_mask"]
    (log_probs, _, _), variables = model.train_forward({"params": params, **model_state}, batch["images"],
                                                       batch["image_mask"], tokens, axis_name)
    loss, count, metrics = cross_entropy(log_probs, tokens, mask, average, label_smoothing)
    return loss, (count, metrics, {k: v for k, v in variables.items() if k != "params"})
