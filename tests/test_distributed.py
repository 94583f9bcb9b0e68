"""Multi-host data parallelism, simulated: 2 processes on localhost with 2 CPU devices each.

Each process joins the job with :func:`tapjax.common.distributed.initialize`, builds the
``'data'`` mesh over the 4 global devices and runs SGD steps of
:func:`tapjax.common.sharding.make_train_step` on a masked linear regression, feeding its
:func:`~tapjax.common.distributed.host_slice` of the global batch. The final parameters must
equal those of the same steps on 1 device in 1 process.

Run as a script (``python tests/test_distributed.py PROCESS_ID PORT OUT``) it is one worker.
"""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

STEPS, BATCH, FEATURES, LR = 4, 8, 3, 0.1


def global_batches():
    """The same global batches on every host; the last two rows of each are padding."""
    rng = np.random.default_rng(0)
    for _ in range(STEPS):
        x = rng.normal(size=(BATCH, FEATURES)).astype(np.float32)
        y = (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3 + 0.1 * rng.normal(size=BATCH)).astype(np.float32)
        mask = np.r_[np.ones(BATCH - 2), np.zeros(2)].astype(np.float32)
        yield {"x": x, "y": y, "mask": mask}


def loss_fn(params, batch, rng):
    """Squared error summed over real rows, the count of real rows, no metrics."""
    del rng
    err = batch["x"] @ params["w"] + params["b"] - batch["y"]
    return (err ** 2 * batch["mask"]).sum(), (batch["mask"].sum(), {})


def train(mesh, feed):
    """SGD from zeros over ``global_batches()``; ``feed`` maps a global batch to this host's rows."""
    import jax
    import optax

    from tapjax.common import sharding

    tx = optax.sgd(LR)
    params = {"w": np.zeros(FEATURES, np.float32), "b": np.zeros((), np.float32)}
    state = sharding.replicate(sharding.TrainState.create(params, tx), mesh)
    step = sharding.make_train_step(loss_fn, tx, mesh)
    for batch in global_batches():
        sharded = sharding.shard_batch(feed(batch), mesh)
        assert sharded["x"].shape == batch["x"].shape  # the hosts' slices make up the global batch
        state, _ = step(state, sharded, jax.random.key(0))
    return jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), state.params)


def worker(process_id: int, port: int, out: str) -> None:
    """One host: join the 2-process job, train on its slice, save the parameters to ``out``."""
    import jax

    from tapjax.common import distributed, sharding

    index, count = distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
    assert (index, count) == (process_id, 2) and jax.device_count() == 4 and jax.local_device_count() == 2
    params = train(sharding.data_mesh(), distributed.host_slice)
    np.savez(out, **params)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_device(tmp_path):
    import jax

    from tapjax.common import sharding

    port = _free_port()
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    outs = [tmp_path / f"params{i}.npz" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, __file__, str(i), str(port), str(outs[i])], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    try:
        logs = [p.communicate(timeout=120)[0] for p in procs]
    finally:  # a worker left waiting for a failed peer would otherwise outlive the test
        for p in procs:
            p.kill()
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log
    expected = train(sharding.data_mesh(jax.devices()[:1]), lambda b: b)
    for out in outs:
        got = np.load(out)
        for k in expected:
            np.testing.assert_allclose(got[k], expected[k], atol=1e-5)
    assert abs(expected["b"]) > 0.05  # the steps moved the parameters


def test_initialize_single_process_is_noop(monkeypatch):
    from tapjax.common import distributed

    for var in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(var, raising=False)
    assert distributed.initialize() == (0, 1)
    assert distributed.initialize("127.0.0.1:1", num_processes=1, process_id=0) == (0, 1)


def test_host_slice_partitions_the_batch():
    from tapjax.common.distributed import host_slice

    batch = {"x": np.arange(12).reshape(6, 2), "index": np.arange(6)}
    parts = [host_slice(batch, i, 3) for i in range(3)]
    np.testing.assert_array_equal(np.concatenate([p["x"] for p in parts]), batch["x"])
    assert [p["index"].tolist() for p in parts] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ValueError, match="not divisible"):
        host_slice(batch, 0, 4)


if __name__ == "__main__":
    worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
