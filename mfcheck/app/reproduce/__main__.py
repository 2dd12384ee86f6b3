"""``python -m mfcheck.app.reproduce {mmn18,dimension}``."""

import sys

from mfcheck.app.reproduce.cli import main

sys.exit(main())
