"""``python -m tapjax.recognize``: the command line of :mod:`tapjax.tap.read.recognize`, at the package's front door."""

import sys

from tapjax.tap.read.recognize import main

if __name__ == "__main__":
    sys.exit(main())
