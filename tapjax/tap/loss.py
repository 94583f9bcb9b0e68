"""The TAP training objective (Eq. 29): token cross-entropy plus the attention guider.

    O = -sum_t log p(w_t | y_<t, x) + lambda * sum_t G_t                  (29)

summed over an expression's real caption tokens (``token_mask``, which includes the end
symbol); ``G_t`` (Eq. 28) only for tokens that have strokes. ``lambda = 0.1`` in the
authors' code. A batch's loss is the mean of Eq. 29 over its expressions, as the authors'
code has it (``nmt.py``: ``cost`` summed over each expression's steps, then ``cost.mean()``
over the batch); ``average="tokens"`` divides the batch's sum by its tokens instead.

With ``label_smoothing = e > 0`` (not in the paper: a lever of the CPU recipe) the
cross-entropy term of each token is taken against the target smoothed towards the uniform
distribution, ``-(1 - e) log p(w_t) - e mean_v log p(v)``; the logged ``nll`` stays the plain one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tapjax.tap.attention import alignment_targets, guider_loss
from tapjax.tap.model import TAP

Array = jax.Array
AVERAGES = ("expressions", "tokens")


def tap_loss(model: TAP, params, batch: dict, guider_weight: float = 0.1, average: str = "expressions",
             label_smoothing: float = 0.0):
    """Eq. 29 over this device's rows, in the form :func:`tapjax.common.sharding.make_train_step` wants.

    Returns ``(loss sum, (count, metric sums))``: ``count`` is the number of the rows'
    expressions (padding rows have no tokens), or with ``average="tokens"`` of their real
    tokens: the step divides the global sums by the global count. The metric sums are ``nll``
    (cross-entropy), ``guider`` (sum of ``G_t``), ``correct`` (teacher-forced argmax hits) and
    ``tokens`` (real tokens; ``correct / tokens`` is the accuracy whatever the average).
    """
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    tokens, mask = batch["tokens"], batch["token_mask"]
    log_probs, alpha, annotation_mask = model.teacher_forced(params, batch["features"], batch["feature_mask"], tokens)
    token_lp = jnp.take_along_axis(log_probs, tokens[..., None], axis=-1)[..., 0]
    nll = -(token_lp * mask).sum()
    smoothed = -(((1.0 - label_smoothing) * token_lp + label_smoothing * log_probs.mean(-1)) * mask).sum()
    gamma = alignment_targets(batch["align"], annotation_mask, model.stride)
    guider = (guider_loss(alpha, gamma) * mask).sum()
    correct = ((log_probs.argmax(-1) == tokens) * mask).sum()
    loss = smoothed + guider_weight * guider if guider_weight else smoothed
    count = mask.max(axis=-1).sum() if average == "expressions" else mask.sum()
    return loss, (count, {"nll": nll, "guider": guider, "correct": correct, "tokens": mask.sum()})
