"""Test-session setup shared by every test: 8 simulated CPU devices.

Set before JAX is imported, so that tests can compare 1 device with 8 in one process
(``jax.devices()[:1]`` versus all). A user's own ``XLA_FLAGS`` wins.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")



def pytest_collection_modifyitems(items):
    """Keeps costly shared fixtures built once under pytest-xdist (``-n``, with setup.cfg's
    ``--dist loadgroup``): the tests using the trained ``overfit_run`` run in one worker, and so do
    the tests of a module that share a module-scoped fixture; all others are spread freely."""
    import pytest

    for item in items:
        definitions = getattr(item, "_fixtureinfo").name2fixturedefs
        if "overfit_run" in definitions:
            item.add_marker(pytest.mark.xdist_group("overfit_run"))
        elif any(d[-1].scope == "module" for d in definitions.values()):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
