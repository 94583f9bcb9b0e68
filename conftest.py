"""Test-session setup shared by every test: 8 simulated CPU devices.

Set before JAX is imported, so that tests can compare 1 device with 8 in one process
(``jax.devices()[:1]`` versus all). A user's own ``XLA_FLAGS`` wins.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")

