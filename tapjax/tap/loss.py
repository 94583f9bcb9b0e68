"""The TAP training objective (Eq. 29): token cross-entropy plus the attention guider.

    O = -sum_t log p(w_t | y_<t, x) + lambda * sum_t G_t                  (29)

summed over real caption tokens (``token_mask``, which includes the end symbol); ``G_t``
(Eq. 28) only for tokens that have strokes. ``lambda = 0.1`` in the reference code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tapjax.tap.attention import alignment_targets, guider_loss
from tapjax.tap.model import TAP

Array = jax.Array


def tap_loss(model: TAP, params, batch: dict, guider_weight: float = 0.1):
    """Eq. 29 over this device's rows, in the form :func:`tapjax.common.sharding.make_train_step` wants.

    Returns ``(loss sum, (number of real tokens, metric sums))`` with metric sums
    ``nll`` (cross-entropy), ``guider`` (sum of ``G_t``) and ``correct`` (teacher-forced
    argmax hits).
    """
    tokens, mask = batch["tokens"], batch["token_mask"]
    log_probs, alpha, annotation_mask = model.teacher_forced(params, batch["features"], batch["feature_mask"], tokens)
    token_lp = jnp.take_along_axis(log_probs, tokens[..., None], axis=-1)[..., 0]
    nll = -(token_lp * mask).sum()
    gamma = alignment_targets(batch["align"], annotation_mask, model.stride)
    guider = (guider_loss(alpha, gamma) * mask).sum()
    correct = ((log_probs.argmax(-1) == tokens) * mask).sum()
    loss = nll + guider_weight * guider if guider_weight else nll
    return loss, (mask.sum(), {"nll": nll, "guider": guider, "correct": correct})
