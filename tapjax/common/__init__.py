"""What both projects use: scan RNN cells, the device mesh and sharded steps, checkpoints,
optimisers, metric logging, the beam search over model families, paths and caches.

Nothing here imports :mod:`tapjax.tap` or :mod:`tapjax.al` (``tests/test_import_graph.py``).
"""
