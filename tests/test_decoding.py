"""Decoding over the device mesh: a split's hypotheses on 8 (simulated) devices equal those on 1."""

import jax

from tapjax.common import sharding
from tapjax.tap.ink import crohme
from tapjax.tap.read import decoding, runs


def test_decoding_on_eight_devices_equals_one_device(overfit_run, data_root):
    workdir, _ = overfit_run
    loaded = runs.load_runs([workdir])
    split = crohme.load_split("test2014", data_root).take(range(40))
    def decode(devices, beam):
        return decoding.decode(loaded.family, loaded.params, split, loaded.vocab, loaded.config,
                                                       kinds=loaded.kinds, beam=beam,
                                                       mesh=sharding.data_mesh(devices))
    assert jax.device_count() == 8
    for beam in (1, 3):
        one, eight = decode(jax.devices()[:1], beam), decode(jax.devices(), beam)
        assert len(one) == len(split) and all(h is not None for h in one)
        assert one == eight
