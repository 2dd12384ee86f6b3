"""Writing a reports folder all at once: a failed or interrupted run leaves the folder as it was.

A run writes many files (per claim a folder with ``summary.json``, ``report.md`` and figures,
then the index); written one by one into the target, an error or a Ctrl-C halfway leaves new
reports beside old ones and an index that describes neither. :func:`staged` yields a staging
folder instead, and only when the block has written everything moves each written entry into
the target.

The target may hold entries other commands wrote (``reports/`` holds ``mmn18/``,
``dimension/``, ``performance.md``, ...), so the target is never replaced as a whole: each
entry the block wrote replaces the entry of the same name, and every other entry stays. The
swap renames each old entry aside, then the new one in; only when every entry is in place are
the old ones removed, and a failure during the swap moves the new ones back out and the old
ones back in. SIGINT and SIGTERM that arrive during the swap or the clean-up wait until it is
done (then act as they would have), so a second Ctrl-C cannot leave the swap half done.

The staging folder lies inside the target, a hidden ``.tmp-*`` entry: renames within one
folder stay on one file system (the target may be a mount point), and the only folder that must
be writable is the target itself, which is what :func:`mfcheck.app.paths.check_path` checks
before a run. A target that did not exist is created and, when nothing gets written, removed
again with the parents created for it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from mfcheck.errors import InvalidArgument

__all__ = ["STAGING_PREFIX", "staged"]

STAGING_PREFIX = ".tmp-"
"""The name prefix of a staging folder inside its target."""


@contextlib.contextmanager
def staged(out: str | Path) -> Iterator[Path]:
    """A staging folder whose entries replace those of the same name in ``out`` when the block ends without an error.

    On any exception, KeyboardInterrupt included, ``out`` is left as it was (file names, contents
    and modes) and the staging folder is removed."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidArgument(f"`out` must be a folder, got the file {str(out)!r}.")
    created = [p for p in (out, *out.parents) if not os.path.lexists(p)]
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        yield stage
    except BaseException:
        with _signals_deferred():
            _discard(stage, created)
        raise
    with _signals_deferred():
        try:
            _swap(stage, out)
        except BaseException:
            _discard(stage, created)
            raise
        shutil.rmtree(stage, ignore_errors=True)


def _swap(stage: Path, out: Path) -> None:
    """Move every entry of ``stage`` into ``out``, the entries they replace into ``stage``; all or none."""
    names = sorted(os.listdir(stage))
    aside = Path(tempfile.mkdtemp(prefix=".old-", dir=stage))  # a fresh name: it cannot be one of ``names``
    done: list[tuple[str, bool]] = []
    try:
        for name in names:
            target = out / name
            had_old = os.path.lexists(target)
            if had_old:
                os.rename(target, aside / name)
            try:
                os.rename(stage / name, target)
            except BaseException:
                if had_old:
                    os.rename(aside / name, target)
                raise
            done.append((name, had_old))
    except BaseException:
        for name, had_old in reversed(done):
            os.rename(out / name, stage / name)
            if had_old:
                os.rename(aside / name, out / name)
        raise


def _discard(stage: Path, created: list[Path]) -> None:
    """Remove the staging folder, and the folders made for the target when they are empty again."""
    shutil.rmtree(stage, ignore_errors=True)
    for folder in created:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            break


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs, then restore their handlers and re-raise the first one caught.

    Python handlers run in the main thread only, so elsewhere (and where the handler was not set
    from Python) the signals are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler is not None:
            previous[signum] = signal.signal(signum, lambda s, frame: caught.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])
