"""``python -m mfcheck.reproduce {mmn18,dimension}``."""

import sys

from mfcheck.reproduce.cli import main

sys.exit(main())
