"""``python -m tapjax.evaluate``: the command line of :mod:`tapjax.tap.evaluate`, at the package's front door."""

import sys

from tapjax.tap.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
