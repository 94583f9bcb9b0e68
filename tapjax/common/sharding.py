"""Data parallelism over every device: a 1-D ``'data'`` mesh and a ``shard_map`` train step.

Parameters and optimiser state are replicated, the batch is split on its leading axis,
and gradients are averaged across devices inside ``jax.shard_map``. Under
``jax.distributed.initialize()`` the mesh spans the devices of every host, and each host must
pass its own slice of the global batch (:func:`tapjax.common.distributed.host_slice`); the
TAP and AL training loops do not do that yet (docs/multihost.md).

The loss is a masked mean over the *global* batch, not a mean of per-device means, so
the same step gives the same update on 1 device and on 8: each device divides its local
loss sum by the global weight (``psum`` of the local counts), and the ``psum`` of those
shares is ``sum / total count``. The parameters are device-invariant, so inside
``shard_map`` ``jax.grad`` of a device's share already sums over devices (the transpose of the
implicit broadcast is a ``psum``): it is the global gradient, and no ``pmean`` is needed.

A model with state that training updates outside the gradient (batch normalisation's running
averages) trains with a :class:`StatefulTrainState` and ``make_train_step(..., stateful=True)``:
its loss also takes and returns that state, which the step carries from batch to batch.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "data"

# loss_fn(params, batch, rng) -> (local loss sum, (local weight, dict of local metric sums))
LossFn = Callable[[Any, dict, jax.Array], tuple[jax.Array, tuple[jax.Array, dict]]]
# stateful: loss_fn(params, batch, rng, model_state) -> (loss sum, (weight, metric sums, new model_state))
StatefulLossFn = Callable[[Any, dict, jax.Array, Any], tuple[jax.Array, tuple[jax.Array, dict, Any]]]


@struct.dataclass
class TrainState:
    """What a train step updates: the step count, parameters and optimiser state."""

    step: jax.Array
    params: Any
    opt_state: Any

    @classmethod
    def create(cls, params, tx: optax.GradientTransformation, model_state=None) -> "TrainState":
        """A fresh state; a :class:`StatefulTrainState` when ``model_state`` is given."""
        fields = dict(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))
        return cls(**fields) if model_state is None else StatefulTrainState(**fields, model_state=model_state)


@struct.dataclass
class StatefulTrainState(TrainState):
    """A :class:`TrainState` that also carries the model's state that training updates outside the
    gradient (e.g. ``{"batch_stats": ...}``, batch normalisation's running averages). A separate class,
    so that the checkpoints of stateless models keep their tree."""

    model_state: Any


def data_mesh(devices=None) -> jax.sharding.Mesh:
    """A 1-D mesh named ``'data'`` over ``devices`` (default: every device of every host)."""
    devices = jax.devices() if devices is None else devices
    return jax.sharding.Mesh(np.asarray(devices), (AXIS,))


def replicate(tree, mesh: jax.sharding.Mesh):
    """Places a pytree (parameters, optimiser state) whole on every device of ``mesh``."""
    return jax.device_put(tree, NamedSharding(mesh, P()))


def shard_batch(batch: dict, mesh: jax.sharding.Mesh) -> dict:
    """Splits this host's ``batch`` (numpy arrays) on its leading axis across ``mesh``.

    Each host passes its own rows; the global batch is the concatenation over hosts. The
    local batch size must be divisible by the number of local devices.
    """
    sharding = NamedSharding(mesh, P(AXIS))
    n_local = len(mesh.local_devices)

    def put(x):
        if x.shape[0] % n_local:
            raise ValueError(f"batch of {x.shape[0]} rows is not divisible by {n_local} local devices")
        return jax.make_array_from_process_local_data(sharding, np.asarray(x))

    return jax.tree.map(put, batch)


def global_mean(local_sum: jax.Array, local_weight: jax.Array) -> jax.Array:
    """Inside ``shard_map``: this device's share of ``sum over devices / weight over devices``.

    The ``psum`` of these shares is the global masked mean.
    """
    return local_sum / jax.lax.psum(local_weight, AXIS)


def make_train_step(loss_fn: LossFn | StatefulLossFn, tx: optax.GradientTransformation, mesh: jax.sharding.Mesh,
                    stateful: bool = False):
    """Compiles one data-parallel optimisation step ``(state, batch, rng) -> (state, metrics)``.

    ``loss_fn(params, batch, rng)`` sees this device's rows and returns its loss *sum*, the
    weight it sums over (e.g. its count of real tokens) and a dict of metric sums. The step
    returns the global masked mean loss and metric sums divided by the global weight.
    ``rng`` is the same on every device: a loss that needs randomness per example should
    fold in the example's index (the batch's ``'index'``) so that results do not depend on
    the device count.

    ``stateful``: ``state`` is a :class:`StatefulTrainState` and ``loss_fn(params, batch, rng,
    model_state)`` also returns the model state after the batch (a :data:`StatefulLossFn`), the
    state's next ``model_state``. It must be the same on every device (e.g. batch statistics
    summed over the ``'data'`` axis).
    """

    def local_step(state: TrainState, batch: dict, rng: jax.Array):
        def objective(params):
            if stateful:
                loss_sum, (weight, metric_sums, model_state) = loss_fn(params, batch, rng, state.model_state)
            else:
                (loss_sum, (weight, metric_sums)), model_state = loss_fn(params, batch, rng), None
            return global_mean(loss_sum, weight), (weight, metric_sums, model_state)

        (loss, (weight, metric_sums, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        total = jax.lax.psum(weight, AXIS)
        metrics = {k: jax.lax.psum(v, AXIS) / total for k, v in metric_sums.items()}
        metrics["loss"] = jax.lax.psum(loss, AXIS)
        metrics["grad_norm"] = optax.tree.norm(grads)
        state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
        return (state.replace(model_state=model_state) if stateful else state), metrics

    step = jax.shard_map(local_step, mesh=mesh, in_specs=(P(), P(AXIS), P()), out_specs=(P(), P()))
    return jax.jit(step, donate_argnums=(0,))


def make_eval_fn(fn: Callable, mesh: jax.sharding.Mesh):
    """Compiles ``fn(params, batch) -> per-row outputs`` to run sharded over the batch axis."""
    mapped = jax.shard_map(fn, mesh=mesh, in_specs=(P(), P(AXIS)), out_specs=P(AXIS))
    return jax.jit(mapped)
