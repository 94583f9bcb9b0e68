"""``python -m tapjax.evaluate``: the command line of :mod:`tapjax.tap.read.evaluate`, at the package's front door."""

import sys

from tapjax.tap.read.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
