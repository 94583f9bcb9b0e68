"""Optimisers (optax) from a config's ``optim`` block, for both projects.

TAP trains with Adadelta and clips gradients by global norm; the W-BADGE paper's taggers use
Adam. Either can take a linear warm-up and a cosine learning-rate decay. TAP's authors' code (JianshuZhang/TAP,
``optimizers.py``) runs Adadelta with ``rho 0.95`` and no rate (1.0), the value its scripts
pass as the "learning rate" (1e-8) being Adadelta's epsilon; it clips at global norm 1000.

A step-size *cut* (``optim.lr_cut_factor``) divides the step size by that factor, as the
authors' early stopping does when patience runs out: for Adadelta it divides epsilon (what
their ``lrate /= 10`` divides), for Adam the learning rate. The number of cuts made is an
injected hyper-parameter of the optimiser state (:func:`cuts`), so it is checkpointed with
it and a resumed run keeps its step size.

The decay's clock (``optim.schedule_clock``) is the optimiser's step count (``"steps"``: over
``decay_epochs`` epochs), or, for a run with a time budget, the larger of that and the share of
the budget spent (``"budget"``): a run the budget stops before its last epoch has still decayed
to the end, on any machine. The trainer tells the optimiser the share spent (:func:`spend`);
like the cuts, it is an injected hyper-parameter of the state.
"""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections
import optax


def learning_rate(cfg: ml_collections.ConfigDict, steps_per_epoch: int = 1, spent=0.0) -> float | optax.Schedule:
    """``cfg.learning_rate``, constant; or, with ``cfg.decay_epochs > 0``, cosine-decayed from it to
    ``cfg.final_lr_fraction`` of it as the progress ``max(step / (decay_epochs * steps_per_epoch),
    spent)`` goes from 0 to 1, constant after; ramped up linearly over the first
    ``cfg.warmup_epochs`` epochs (0: none). ``spent`` is the share of the time budget spent."""
    if not cfg.decay_epochs:
        return cfg.learning_rate
    decay_steps = cfg.decay_epochs * steps_per_epoch
    warmup_steps = cfg.warmup_epochs * steps_per_epoch

    def rate(count):
        progress = jnp.clip(jnp.maximum(count / decay_steps, spent), 0.0, 1.0)
        cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
        warmup = jnp.minimum(1.0, (count + 1) / warmup_steps) if warmup_steps else 1.0
        return cfg.learning_rate * (cfg.final_lr_fraction + (1.0 - cfg.final_lr_fraction) * cosine) * warmup

    return rate


def _divided(rate: float | optax.Schedule, divisor) -> float | optax.Schedule:
    return (lambda count: rate(count) / divisor) if callable(rate) else rate / divisor


def _optimizer(cfg: ml_collections.ConfigDict, steps_per_epoch: int, divisor, spent) -> optax.GradientTransformation:
    """Adadelta or Adam with its step size divided by ``divisor`` (epsilon for Adadelta, the rate for Adam)."""
    lr = learning_rate(cfg, steps_per_epoch, spent)
    if cfg.name == "adadelta":
        return optax.adadelta(lr, rho=cfg.rho, eps=cfg.eps / divisor)
    if cfg.name == "adam":
        return optax.adam(_divided(lr, divisor), b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    raise ValueError(f"optimizer name must be 'adadelta' or 'adam', got {cfg.name!r}")


def make_optimizer(cfg: ml_collections.ConfigDict, steps_per_epoch: int = 1,
                   gradients: optax.GradientTransformation | None = None) -> optax.GradientTransformation:
    """``cfg.name`` in {"adadelta", "adam"}, the rate of :func:`learning_rate`, ``cfg.clip_norm``
    (0: none), ``cfg.rho``/``cfg.eps`` (Adadelta) or ``cfg.b1``/``cfg.b2``/``cfg.eps`` (Adam);
    with ``cfg.lr_cut_factor`` > 0 (0: no cuts), the number of step-size cuts as an injected
    hyper-parameter, and with ``cfg.schedule_clock == "budget"``, the share of the time budget spent
    (:func:`spend`).

    ``gradients``, if given, turns the clipped gradient into the one the optimiser follows
    (TAP's adaptive weight noise). ``steps_per_epoch`` only sets the schedule's length: the
    optimizer state's structure does not depend on it (restoring a checkpoint can leave it at 1)."""

    def chain(cuts=0, spent=None):  # None: not a hyper-parameter of the state (steps clock)
        steps = [optax.clip_by_global_norm(cfg.clip_norm)] if cfg.clip_norm else []
        steps += [gradients] if gradients is not None else []
        divisor = cfg.lr_cut_factor ** cuts if cfg.lr_cut_factor else 1.0
        steps.append(_optimizer(cfg, steps_per_epoch, divisor, 0.0 if spent is None else spent))
        return optax.chain(*steps) if len(steps) > 1 else steps[0]

    if cfg.schedule_clock not in ("steps", "budget"):
        raise ValueError(f"optim.schedule_clock must be 'steps' or 'budget', got {cfg.schedule_clock!r}")
    injected = {"cuts": 0} if cfg.lr_cut_factor else {}
    injected |= {"spent": 0.0} if cfg.schedule_clock == "budget" else {}
    return optax.inject_hyperparams(chain)(**injected) if injected else chain()


def cuts(opt_state) -> int:
    """The step-size cuts made so far in a :func:`make_optimizer` state (0 without ``lr_cut_factor``)."""
    return int(getattr(opt_state, "hyperparams", {}).get("cuts", 0))


def cut(opt_state):
    """``opt_state`` with one more step-size cut: its next updates divide the step size once more."""
    return opt_state._replace(hyperparams=dict(opt_state.hyperparams, cuts=opt_state.hyperparams["cuts"] + 1))


def spend(opt_state, share: float):
    """``opt_state`` told that ``share`` of the time budget is spent (a no-op unless its clock is the budget)."""
    if "spent" not in getattr(opt_state, "hyperparams", {}):
        return opt_state
    return opt_state._replace(hyperparams=dict(opt_state.hyperparams, spent=jnp.float32(share)))
