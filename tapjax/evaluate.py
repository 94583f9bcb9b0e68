"""``python -m tapjax.evaluate``: ``tapjax evaluate`` (:mod:`tapjax.cli.evaluate`) at the package's front door."""

import sys

from tapjax.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
