"""``python -m mfcheck``: the command line (:mod:`mfcheck.app.cli`)."""

from mfcheck.app.cli import main

raise SystemExit(main())
