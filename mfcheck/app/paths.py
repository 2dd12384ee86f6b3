"""The path arguments of the command line, checked before any work starts.

A sweep runs for minutes and writes its reports, its baseline and its cache as it ends; a path
that cannot be written would then be found only after the work is done, and the work lost. So
``mfcheck verify`` and ``mfcheck gate`` check every path they will read or write first
(:func:`check_path`) and refuse a bad one as a usage error.

A path to be written is usable when it does not exist as the wrong kind (a file where a folder is
needed, a folder where a file is), and when its nearest existing ancestor is a folder in which
this process can create entries. Permission bits do not settle the last point: the superuser
passes ``os.access`` everywhere, yet cannot create entries in ``/proc`` or on a read-only mount.
So the check also creates a temporary folder there and removes it, the one test every file
system answers truthfully; and each missing name must fit the file system's name length.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mfcheck.errors import InvalidArgument

__all__ = ["FOLDER", "FILE", "INPUT", "check_path"]

FOLDER = "folder"
"""A folder to be written into (created with its parents when missing)."""

FILE = "file"
"""A file to be written (its folder created when missing)."""

INPUT = "input"
"""An existing file to be read."""


def _nearest_existing(path: Path) -> Path:
    """``path`` itself when it exists, else its nearest ancestor that does (``.`` for a relative path)."""
    return next((p for p in (path, *path.parents) if os.path.exists(p)), Path("."))


def _cannot_create_in(folder: Path) -> str | None:
    """Why no entry can be created in the existing ``folder``; None when one can."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return "no write permission"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mfcheck-path-check-", dir=folder))
    except OSError as exc:
        return f"creating a folder there fails: {exc.strerror or type(exc).__name__}"
    return None


def _too_long(path: Path, anchor: Path) -> str | None:
    """The first missing name below ``anchor`` that exceeds the file system's name length, if any."""
    try:
        limit = os.pathconf(anchor, "PC_NAME_MAX")
    except (OSError, ValueError):  # no limit known: the probe of the folder is all there is
        return None
    missing = path.relative_to(anchor).parts if path != anchor else ()
    return next((name for name in missing if len(os.fsencode(name)) > limit), None)


def _check_input(path: Path, option: str) -> None:
    if not os.path.exists(path):
        raise InvalidArgument(f"`{option}` must be an existing file, got {str(path)!r}, which does not exist.")
    if path.is_dir():
        raise InvalidArgument(f"`{option}` must be a file, got {str(path)!r}, which is a folder.")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InvalidArgument(f"`{option}` must be a readable file, got {str(path)!r}: {exc.strerror or exc}.") from None


def _check_output(path: Path, option: str, kind: str) -> None:
    if os.path.exists(path):
        if kind == FOLDER and not path.is_dir():
            raise InvalidArgument(f"`{option}` must be a folder, got {str(path)!r}, which is an existing file.")
        if kind == FILE and path.is_dir():
            raise InvalidArgument(f"`{option}` must be a file, got {str(path)!r}, which is an existing folder.")
        if kind == FILE and not os.access(path, os.W_OK):
            raise InvalidArgument(f"`{option}` must be a writable file, got {str(path)!r}, which is not writable.")
    # a folder is written into; a file is written (replaced) from its folder
    anchor = _nearest_existing(path if kind == FOLDER else path.parent)
    if not anchor.is_dir():
        raise InvalidArgument(f"`{option}` must be a path that can be created, got {str(path)!r}: {str(anchor)!r} is a file, "
                              "not a folder.")
    reason = _cannot_create_in(anchor)
    if reason is not None:
        raise InvalidArgument(f"`{option}` must be a path that can be written, got {str(path)!r}: cannot create entries in "
                              f"{str(anchor)!r} ({reason}).")
    name = _too_long(path, anchor)
    if name is not None:
        raise InvalidArgument(f"`{option}` must be a path that can be created, got {str(path)!r}: the name {name[:40]!r}... is "
                              "longer than the file system allows.")


def check_path(path, option: str, kind: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` once it is usable as ``kind`` (:data:`FOLDER`, :data:`FILE`
    or :data:`INPUT`); else :class:`~mfcheck.errors.InvalidArgument` naming ``option`` and the path.

    Nothing is left behind: a missing folder is not created here (a run that stops on another
    error must not leave empty folders), only probed."""
    if kind not in (FOLDER, FILE, INPUT):
        raise InvalidArgument(f"`kind` must be one of {[FOLDER, FILE, INPUT]}, got {kind!r}.")
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise InvalidArgument(f"`{option}` must be a path, got {path!r}.")
    path = Path(path)
    if kind == INPUT:
        _check_input(path, option)
    else:
        _check_output(path, option, kind)
    return path
