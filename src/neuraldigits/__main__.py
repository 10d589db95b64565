"""``python -m neuraldigits``: the ``digits`` command line, for when the script is not on PATH."""

import sys

from .cli import main

sys.exit(main())
