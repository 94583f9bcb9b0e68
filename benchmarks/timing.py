"""Wall-clock timing shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

import time


def timed(function, *args):
    """``(function(*args), seconds)``."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start
