"""``python -m tapjax.recognize``: ``tapjax recognize`` (:mod:`tapjax.cli.recognize`) at the package's front door."""

import sys

from tapjax.cli.recognize import main

if __name__ == "__main__":
    sys.exit(main())
