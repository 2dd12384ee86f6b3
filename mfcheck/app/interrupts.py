"""SIGTERM ends a command the way Ctrl-C does.

Ctrl-C (SIGINT) raises KeyboardInterrupt wherever the command is; on its way out the executors
kill their worker processes (:func:`mfcheck.runtime.executors.started`), a reports folder being
written is left as it was (:mod:`mfcheck.report.atomic`), and the command says what the run
kept in the cache. SIGTERM is what ``kill``, a CI job's timeout, a container's stop and a batch
scheduler send; by default it ends the process at once, with none of that, and the joblib
workers, which do not receive it, compute on as orphans. So while ``mfcheck verify`` and
``mfcheck gate`` run, SIGTERM raises :class:`Terminated`, a KeyboardInterrupt, and takes the
same path. A second SIGTERM ends the process at once, as by default. The overall time limit
(:mod:`mfcheck.app.limits`) stops a run along the same path too.

The exit codes follow the shell's for a process ended by a signal, 128 plus its number: 130
after SIGINT, 143 after SIGTERM, so a script sees the same status whether the process died of
the signal or handled it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["INTERRUPTED", "TERMINATED", "Terminated", "exit_code", "sigterm_interrupts", "stopped_by"]

INTERRUPTED = 128 + signal.SIGINT
"""The exit code after Ctrl-C (SIGINT): 130."""

TERMINATED = 128 + signal.SIGTERM
"""The exit code after SIGTERM: 143."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt (inside :func:`sigterm_interrupts`)."""

    exit_code = TERMINATED
    stopped_by = "terminated (SIGTERM)"


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The interrupt's ``exit_code``: :data:`TERMINATED` for :class:`Terminated`, the time limit's
    for :class:`mfcheck.app.limits.TimeLimitExceeded`; :data:`INTERRUPTED` for Ctrl-C."""
    return getattr(interrupt, "exit_code", INTERRUPTED)


def stopped_by(interrupt: KeyboardInterrupt) -> str:
    """How the run was stopped, for the one line a command prints: the interrupt's ``stopped_by``
    ("terminated (SIGTERM)", the time limit's), else "interrupted"."""
    return getattr(interrupt, "stopped_by", "interrupted")


def _raise_terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the next SIGTERM ends the process at once
    raise Terminated()


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Terminated`; the previous handler is restored after it.

    Python runs signal handlers in the main thread only, so elsewhere the block changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
