"""Compiling a jitted function for every batch shape ahead of its first call (tapjax.common.precompile)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tapjax.common import precompile

BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"


@pytest.fixture
def compilations():
    """The number of backend compilations (XLA, not the in-memory cache) while the test runs."""
    seen = []

    def listen(event, duration, **kwargs):
        if event == BACKEND_COMPILE:
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    yield seen
    jax.monitoring.unregister_event_duration_listener(listen)


def _batch(rows, length, dtype=np.float32):
    return {"x": np.ones((rows, length), dtype), "index": np.arange(rows, dtype=np.int32)}


def test_distinct_keeps_the_first_batch_of_each_shape_and_dtype():
    batches = [_batch(2, 3), _batch(2, 5), _batch(2, 3), _batch(2, 3, np.float16), _batch(2, 5)]
    first = precompile.distinct(batches)
    assert [b["x"].shape for b in first] == [(2, 3), (2, 5), (2, 3)]
    assert first[0] is batches[0] and first[2] is batches[3]


def test_compiled_shapes_run_without_compiling_again(compilations):
    @jax.jit
    def step(scale, batch):
        def body(carry, row):
            return jnp.tanh(carry + row * scale), None
        return jax.lax.scan(body, jnp.zeros(batch["x"].shape[1]), batch["x"])[0].sum() + batch["index"].sum()

    scale = jnp.float32(0.5)
    shapes = precompile.distinct([_batch(3, n) for n in (4, 8, 4, 16, 8)])
    before = len(compilations)
    precompile.compile_all(step, [(scale, b) for b in shapes])
    assert len(compilations) == before + 3
    for n in (4, 8, 16):
        step(scale, _batch(3, n))
    assert len(compilations) == before + 3  # every call found its executable
    step(scale, _batch(3, 32))
    assert len(compilations) == before + 4  # a shape not compiled ahead still compiles (the check can fail)


def test_compile_all_consumes_no_donated_argument():
    step = jax.jit(lambda state, batch: state + batch["x"].sum(), donate_argnums=(0,))
    state = jnp.zeros(())
    precompile.compile_all(step, [(state, _batch(2, 3))])
    assert float(step(state, _batch(2, 3))) == 6.0
