"""Multi-host (multi-process) runs: join the JAX job, and give each host its slice of a batch.

Call :func:`initialize` first, before anything touches a JAX device. With one process it
does nothing; with several, :func:`jax.distributed.initialize` joins them into one job and
``jax.devices()`` (so :func:`tapjax.common.sharding.data_mesh`) spans the devices of every
host. A training loop then has every host build the same *global* batch (the same
``(seed, epoch)`` order) and pass its :func:`host_slice` to
:func:`tapjax.common.sharding.shard_batch`. Only ``tests/test_distributed.py`` does so: the TAP
trainer and the AL loop call neither function yet (docs/multihost.md says what is missing).

The job is described by arguments or by the environment variables JAX reads:
``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and
``JAX_PROCESS_ID``. On Cloud TPU pods, SLURM or Open MPI, ``auto_detect=True`` lets JAX
find them itself. See docs/multihost.md.
"""

from __future__ import annotations

import logging
import os

import jax
import numpy as np

log = logging.getLogger(__name__)


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, auto_detect: bool = False) -> tuple[int, int]:
    """Joins the multi-process job if one is described; returns ``(process_index, process_count)``.

    Arguments left ``None`` come from ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and
    ``JAX_PROCESS_ID``. A no-op when the job has one process, or when no coordinator is given
    and ``auto_detect`` is off (a plain single-host run), or when JAX is already initialised.
    """
    coordinator_address = coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS")
    num_processes = num_processes if num_processes is not None else _env_int("JAX_NUM_PROCESSES")
    process_id = process_id if process_id is not None else _env_int("JAX_PROCESS_ID")
    wanted = num_processes != 1 and (coordinator_address or auto_detect)
    if wanted and not jax.distributed.is_initialized():
        jax.distributed.initialize(coordinator_address, num_processes, process_id)
    index, count = jax.process_index(), jax.process_count()
    log.info("process %d of %d: %d local devices of %d (%s)", index, count, jax.local_device_count(),
                 jax.device_count(), jax.default_backend())
    return index, count


def host_slice(batch, process_index: int | None = None, process_count: int | None = None):
    """This host's rows of a global ``batch`` (a pytree of arrays with a leading batch axis).

    Host ``i`` of ``n`` gets rows ``[i * B / n, (i + 1) * B / n)``, the rows that
    :func:`tapjax.common.sharding.shard_batch` places on its devices in the ``'data'`` mesh
    over ``jax.devices()`` (which lists devices host by host). ``B`` must be divisible by
    ``n``; the defaults are this process's index and the process count.
    """
    index = jax.process_index() if process_index is None else process_index
    count = jax.process_count() if process_count is None else process_count

    def take(x):
        if x.shape[0] % count:
            raise ValueError(f"global batch of {x.shape[0]} rows is not divisible by {count} hosts")
        rows = x.shape[0] // count
        return np.asarray(x)[index * rows:(index + 1) * rows]

    return jax.tree.map(take, batch)
