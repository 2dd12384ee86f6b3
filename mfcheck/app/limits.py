"""Time limits: on each call of a user's implementation, and on a whole command.

A step that never returns (an endless loop, a deadlock, a wait on something that never comes)
would otherwise hold ``mfcheck gate`` and the CI job that runs it until someone notices. Two
limits end such a run, each with its own exit code, so that a script can tell them from a
verdict and from each other:

- **per call** (:func:`limited`; ``mfcheck gate --call-time-limit``, default
  :data:`DEFAULT_CALL_TIME_LIMIT`): every call of the implementation under test
  (:func:`mfcheck.app.gate.protocol.checked`) must return within the limit, else it raises
  :class:`~mfcheck.app.gate.protocol.CallTimeLimitExceeded` and the command exits
  :data:`CALL_TIME_LIMIT_EXCEEDED`. The default is far above the longest call of the built-in
  correct steps at the largest shapes of the ``full`` tier (``python -m benchmarks --no-grid
  --calls`` measures it), so only a step that hangs, or is very much slower, reaches it.
- **overall** (:func:`time_limit`; ``--time-limit`` of ``mfcheck verify`` and ``mfcheck gate``,
  no default): when it expires the command stops as after Ctrl-C (:mod:`mfcheck.app.interrupts`):
  the worker processes are killed, a reports folder being written is left as it was, one line
  says what the run cached, and the command exits :data:`TIME_LIMIT_EXCEEDED`.

The per-call limit is a real-time timer (``setitimer``) whose SIGALRM raises inside the call; the
interpreter runs signal handlers in a process's main thread only, so it is armed where the call
runs in a main thread: this process (``--executor serial``) and the joblib (loky) workers, which
run their tasks in their main thread. A dask worker runs tasks in a thread of its own, where the
per-call limit cannot be armed; there the overall limit still ends the run. The overall limit
uses another signal (SIGUSR1), so the two never disturb each other.

A handler runs when the interpreter next executes Python code: a call stuck in compiled code
(one long numpy operation) is stopped when it returns to Python. For a main thread that never
does, the overall limit has a last resort (:func:`time_limit`).

The exit codes: :data:`TIME_LIMIT_EXCEEDED` is 124, the code of coreutils' ``timeout`` for a
command that ran out of time; :data:`CALL_TIME_LIMIT_EXCEEDED` is 125, the next one free (both
outside the verdicts 0–3 and the signal codes 128 + n).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

from mfcheck.errors import InvalidArgument

__all__ = ["TIME_LIMIT_EXCEEDED", "CALL_TIME_LIMIT_EXCEEDED", "DEFAULT_CALL_TIME_LIMIT", "GRACE_SECONDS", "MAX_SECONDS",
           "TimeLimitExceeded", "check_seconds", "limited", "time_limit"]

TIME_LIMIT_EXCEEDED = 124
"""The exit code when the overall limit (``--time-limit``) expires."""

CALL_TIME_LIMIT_EXCEEDED = 125
"""The exit code when a call of the implementation under test exceeds the per-call limit."""

DEFAULT_CALL_TIME_LIMIT = 60.0
"""Seconds a call of the implementation under test may take (module docstring: why this value)."""

GRACE_SECONDS = 30.0
"""Seconds the overall limit waits, after it stopped the run, for the command to end by itself."""

MAX_SECONDS = 1e9
"""The longest limit accepted (about 32 years): the system's timers take no more."""


def check_seconds(value, name: str, *, none: bool = False) -> float | None:
    """``value`` as a number of seconds in (0, :data:`MAX_SECONDS`], else an error naming ``name``.
    With ``none``: None and 0 also pass, as None (no limit)."""
    if none and (value is None or (not isinstance(value, bool) and isinstance(value, int | float) and value == 0)):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise InvalidArgument(f"`{name}` must be a positive number of seconds (at most {MAX_SECONDS:g})"
                              + (", or 0 for no limit" if none else "") + f", got {value!r}.")
    return float(value)


class _Expired(BaseException):
    """The per-call timer fired. A BaseException, so that a step's own ``except Exception:`` does
    not swallow it; :func:`limited` turns it into the caller's error at once."""


def _expire(signum, frame):
    raise _Expired()


@contextlib.contextmanager
def limited(seconds: float | None, exceeded: Callable[[], Exception]) -> Iterator[None]:
    """Within the block, which must end within ``seconds``: else the block is stopped and
    ``exceeded()`` raised in its place. None: no limit.

    Armed only in a main thread (module docstring); elsewhere the block runs without a limit.
    The previous SIGALRM handler and timer (pytest-timeout's, say) are restored afterwards, the
    timer with the time it had left."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    left, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.monotonic()
    try:
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)  # first: a timer firing now still lands in the except below
    except _Expired:
        raise exceeded() from None
    finally:
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
        if left:  # the previous timer, with what it had left (at once if it ran out meanwhile)
            signal.setitimer(signal.ITIMER_REAL, max(left - (time.monotonic() - start), 1e-6))


class TimeLimitExceeded(KeyboardInterrupt):
    """The overall limit expired (inside :func:`time_limit`): an interrupt, so that the run stops as
    after Ctrl-C (:mod:`mfcheck.app.interrupts` reads :attr:`exit_code` and :attr:`stopped_by`)."""

    exit_code = TIME_LIMIT_EXCEEDED

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.stopped_by = f"stopped at the time limit of {seconds:g} s (--time-limit)"


@contextlib.contextmanager
def time_limit(seconds: float | None, *, grace: float = GRACE_SECONDS,
               last_words: Callable[[], str] | None = None) -> Iterator[None]:
    """Within the block, :class:`TimeLimitExceeded` is raised in the main thread ``seconds`` after
    it starts (None: no limit). Enter it in the main thread.

    A watchdog thread waits out the limit and then sends SIGUSR1 to the main thread, whose handler
    raises: a real signal, because a main thread waiting on its workers wakes for a signal and
    would not notice a flag. Should the block still not have ended ``grace`` seconds later (the
    main thread stuck outside Python code, module docstring), the watchdog kills the joblib
    workers, prints ``mfcheck: <stopped_by>; ...; <last_words()>.`` and ends the process with
    :data:`TIME_LIMIT_EXCEEDED` without further cleanup. The watchdog is a Python thread: it cannot
    help a main thread stuck in compiled code that holds the interpreter lock."""
    if seconds is None:
        yield
        return
    exceeded = TimeLimitExceeded(seconds)
    ended = threading.Event()

    def _raise(signum, frame):
        if not ended.is_set():  # a signal sent as the block ended is dropped
            raise exceeded

    def watch():
        if ended.wait(seconds):
            return
        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)
        if ended.wait(grace):
            return
        from mfcheck.runtime.executors import kill_workers

        kill_workers()
        words = f"; {last_words()}" if last_words is not None else ""
        print(f"mfcheck: {exceeded.stopped_by}; the run did not stop within {grace:g} s, so the process ends now{words}.",
              file=sys.stderr, flush=True)
        os._exit(TIME_LIMIT_EXCEEDED)

    previous = signal.signal(signal.SIGUSR1, _raise)
    watchdog = threading.Thread(target=watch, name="mfcheck-time-limit", daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        ended.set()
        watchdog.join()  # so that no SIGUSR1 comes after the handler is restored (by default it ends the process)
        signal.signal(signal.SIGUSR1, signal.SIG_DFL if previous is None else previous)
