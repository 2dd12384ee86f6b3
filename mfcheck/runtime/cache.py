"""Results cached by content: a cell computed once is read back, whoever asks and however it ran.

The key of a cell is

    key = sha256(code version, environment, fingerprint(fn), fingerprint(cell)),

where the *code version* is the sha256 of every source file of the installed ``mfcheck``
package, the *environment* names Python, numpy and scipy versions, ``fn`` is the cell function
with everything it is bound to (a ``functools.partial`` of a module-level function over the
experiment, the reference, the replicates, the update rule and the initial sampler; the
seed is a field of the experiment) and ``cell`` is (path, N, ε). :func:`fingerprint` walks
these objects by content: numbers by their exact ``repr``, arrays by their bytes,
dataclasses and plain objects by their fields, functions by module, qualified name, source
text, the source file of their module, defaults and closure, so that a rule defined outside
mfcheck is keyed by its own code; a value wrapped in :class:`Unkeyed` is left out. An object
whose content cannot be established (a random generator, an open file, a function without
source) raises :class:`Unidentifiable`, and the caller computes the cell without the cache
rather than risk a stale result.

A result is a flat dict of numeric arrays or numbers, stored as ``<folder>/<key[:2]>/<key>.npz``
and written atomically (a temporary file in the same folder, then ``os.replace``), so an
interrupted sweep leaves only whole files and a re-run computes only the missing cells.

A damaged entry (a truncated or unreadable file, or one that holds another key) is not an error:
its cell is computed again and the entry rewritten. It is not silent either: a damaged cache
says something is wrong with the disk or with whoever writes there, so each damaged entry is
named once on stderr and counted (:attr:`Cache.damaged`), and the command line repeats the count
when the run ends.

A cache folder may be shared (a group of people, a CI runner and its users). An entry is
created as any file is (``0o666`` less the umask) and then keeps the group and other read bits
only where the cache folder grants them, so entries in a folder of mode ``0o750`` are readable
by its group and in one of mode ``0o700`` by the owner alone; the umask is never queried (asking
for it means changing it, for every thread of the process).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import inspect
import io
import json
import os
import secrets
import stat
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePath

import numpy as np

from mfcheck.errors import InvalidArgument

__all__ = ["DEFAULT_CACHE_DIR", "Cache", "Unidentifiable", "Unkeyed", "code_version", "fingerprint"]

DEFAULT_CACHE_DIR = ".mfcheck-cache"
"""The folder ``mfcheck verify`` and ``mfcheck gate`` cache cells in (relative to the working directory)."""

_MAX_DEPTH = 64


@dataclasses.dataclass(frozen=True)
class Unkeyed:
    """A value a cell function carries that cannot change its result (the time limit on each call
    of a user's step, :mod:`mfcheck.app.limits`): :func:`fingerprint` leaves it out, so that a run
    with another limit reads the cells an earlier one cached."""

    value: object


class Unidentifiable(Exception):
    """The content of an object cannot be established: the cell it feeds is not cached."""


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """sha256 over the relative path and bytes of every ``.py`` file of the installed mfcheck package."""
    root = Path(__file__).resolve().parent.parent  # mfcheck/, not this module's folder
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        h.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _environment() -> str:
    import scipy

    return json.dumps({"python": list(sys.version_info[:2]), "numpy": np.__version__, "scipy": scipy.__version__,
                       "byteorder": sys.byteorder})


@functools.lru_cache(maxsize=256)
def _module_digest(name: str) -> str:
    """sha256 of a module's source file (``.py``); its version string when it has no source file."""
    module = sys.modules.get(name)
    if module is None:
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise Unidentifiable(f"module {name!r} cannot be imported: {exc}") from exc
    file = getattr(module, "__file__", None)
    if file and file.endswith(".py") and os.path.isfile(file):
        return hashlib.sha256(Path(file).read_bytes()).hexdigest()
    version = getattr(module, "__version__", None)
    top = name.split(".")[0]
    if version is None and top != name:
        version = getattr(sys.modules.get(top), "__version__", None)
    if version is None and name != "builtins":
        raise Unidentifiable(f"module {name!r} has neither a source file nor a version")
    return f"{name}=={version or sys.version}"


class _Hasher:
    """Feeds tagged, length-prefixed tokens of an object graph into one sha256."""

    def __init__(self):
        self.h = hashlib.sha256()
        self.stack: set[int] = set()

    def token(self, tag: str, payload: bytes | str = b"") -> None:
        if isinstance(payload, str):
            payload = payload.encode()
        self.h.update(tag.encode() + b":" + str(len(payload)).encode() + b":" + payload)

    def feed(self, obj, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            raise Unidentifiable(f"object graph deeper than {_MAX_DEPTH} levels at {type(obj).__qualname__}")
        if obj is None or isinstance(obj, bool | int | float | complex | str | bytes):
            self.token(type(obj).__name__, repr(obj))
            return
        if isinstance(obj, np.generic):
            self.token("npscalar", obj.dtype.str.encode() + np.asarray(obj).tobytes())
            return
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind == "O":
                self.token("objarray", repr(obj.shape))
                self._items(obj.ravel().tolist(), depth)
                return
            self.token("ndarray", f"{obj.dtype.str}{obj.shape}".encode() + np.ascontiguousarray(obj).tobytes())
            return
        if isinstance(obj, np.dtype):
            self.token("dtype", repr(obj))
            return
        if isinstance(obj, PurePath):
            self.token(type(obj).__name__, str(obj))
            return
        if isinstance(obj, types.ModuleType):
            self.token("module", obj.__name__)
            return
        if isinstance(obj, type):
            self._class(obj)
            return
        key = id(obj)
        if key in self.stack:
            raise Unidentifiable(f"a reference cycle through {type(obj).__qualname__}")
        self.stack.add(key)
        try:
            self._compound(obj, depth)
        finally:
            self.stack.discard(key)

    def _items(self, items, depth):
        self.token("len", str(len(items)))
        for item in items:
            self.feed(item, depth + 1)

    def _class(self, cls: type) -> None:
        module = getattr(cls, "__module__", None)
        if module is None:
            raise Unidentifiable(f"class {cls!r} has no module")
        self.token("class", f"{module}:{cls.__qualname__}:{_module_digest(module)}")

    def _compound(self, obj, depth: int) -> None:
        if isinstance(obj, Unkeyed):
            self.token("unkeyed")
        elif isinstance(obj, tuple | list):
            self.token(type(obj).__name__)
            self._items(list(obj), depth)
        elif isinstance(obj, dict):
            self.token("dict", str(len(obj)))
            for k in sorted(obj, key=fingerprint):
                self.feed(k, depth + 1)
                self.feed(obj[k], depth + 1)
        elif isinstance(obj, set | frozenset):
            self.token("set", ",".join(sorted(fingerprint(x) for x in obj)))
        elif isinstance(obj, functools.partial):
            self.token("partial")
            self.feed(obj.func, depth + 1)
            self.feed(obj.args, depth + 1)
            self.feed(obj.keywords, depth + 1)
        elif isinstance(obj, types.MethodType):
            self.token("method")
            self.feed(obj.__func__, depth + 1)
            self.feed(obj.__self__, depth + 1)
        elif isinstance(obj, types.FunctionType):
            self._function(obj, depth)
        elif isinstance(obj, np.ufunc):
            self.token("ufunc", f"numpy.{obj.__name__}")
        elif isinstance(obj, types.BuiltinFunctionType):
            owner = obj.__self__
            if owner is not None and not isinstance(owner, types.ModuleType):
                raise Unidentifiable(f"builtin method {obj.__qualname__} bound to an object of type {type(owner).__qualname__}")
            module = getattr(obj, "__module__", None) or getattr(owner, "__name__", "builtins")
            self.token("builtin", f"{module}:{obj.__qualname__}:{_module_digest(module)}")
        elif dataclasses.is_dataclass(obj):
            self._class(type(obj))
            for f in dataclasses.fields(obj):
                self.token("field", f.name)
                self.feed(getattr(obj, f.name), depth + 1)
        elif hasattr(obj, "__dict__") and type(obj).__module__ not in ("builtins",):
            self._class(type(obj))
            slots = [s for c in type(obj).__mro__ for s in getattr(c, "__slots__", ()) if s not in ("__dict__", "__weakref__")]
            state = dict(vars(obj))
            for s in slots:
                if hasattr(obj, s):
                    state[s] = getattr(obj, s)
            self.feed(state, depth + 1)
        else:
            raise Unidentifiable(f"cannot establish the content of an object of type {type(obj).__module__}.{type(obj).__qualname__}")

    def _function(self, fn: types.FunctionType, depth: int) -> None:
        module = fn.__module__
        if module is None:
            raise Unidentifiable(f"function {fn.__qualname__} has no module")
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError) as exc:
            raise Unidentifiable(f"no source for function {module}.{fn.__qualname__}") from exc
        self.token("function", f"{module}:{fn.__qualname__}:{_module_digest(module)}")
        self.token("source", source)
        self.feed(fn.__defaults__, depth + 1)
        self.feed(fn.__kwdefaults__, depth + 1)
        cells = []
        for cell in fn.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:  # an empty cell (a name assigned after the function was made)
                cells.append(None)
        self.feed(tuple(cells), depth + 1)
        self.feed(dict(vars(fn)), depth + 1)


def fingerprint(obj) -> str:
    """The sha256 (hex) of ``obj``'s content; raises :class:`Unidentifiable` when it cannot be established."""
    h = _Hasher()
    h.feed(obj)
    return h.h.hexdigest()


def _check_result(result) -> dict:
    if not isinstance(result, dict) or not all(isinstance(k, str) and k and not k.startswith("__") for k in result):
        raise InvalidArgument(f"A cached cell result must be a dict with str keys, got {type(result).__name__}.")
    out = {}
    for k, v in result.items():
        a = np.asarray(v)
        if a.dtype.kind not in "biuf":
            raise InvalidArgument(f"A cached cell result holds numbers only; {k!r} has dtype {a.dtype}.")
        out[k] = a
    return out


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _shared_mode(created: int, folder: int) -> int:
    """The mode of a new entry: ``created`` (what the umask left of ``0o666``) less the group and
    other bits where the cache folder (mode ``folder``) does not let them read."""
    allowed = 0o600 | (0o060 if folder & stat.S_IRGRP else 0) | (0o006 if folder & stat.S_IROTH else 0)
    return created & allowed


class Cache:
    """A folder of cell results keyed by content (see the module docstring).

    **Arguments:**

    - ``folder``: where results are stored (created on the first write).

    **Counts** (of this object, so of one run of a command): ``read`` results read back,
    ``written`` results stored, ``damaged`` damaged entries met (each named once on stderr, then
    recomputed and rewritten by the caller).
    """

    def __init__(self, folder: str | os.PathLike):
        if not isinstance(folder, str | os.PathLike) or not str(folder):
            raise InvalidArgument(f"`folder` (the cache folder) must be a path, got {folder!r}.")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise InvalidArgument(f"`folder` {str(folder)!r} exists and is not a folder.")
        self.read = 0
        self.written = 0
        self.damaged = 0
        self._named: set[str] = set()

    def __repr__(self) -> str:
        return f"Cache({str(self.folder)!r})"

    def keys(self, fn: Callable, cells) -> list[str]:
        """The key of each cell of ``fn``; raises :class:`Unidentifiable` when ``fn`` or a cell has no content identity."""
        head = hashlib.sha256()
        for part in (code_version(), _environment(), fingerprint(fn)):
            head.update(part.encode() + b"\0")
        out = []
        for cell in cells:
            h = head.copy()
            h.update(fingerprint(cell).encode())
            out.append(h.hexdigest())
        return out

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict | None:
        """The stored result of ``key`` (numbers as Python floats/ints, arrays as arrays), or None
        when there is none or the entry is damaged (named on stderr and counted, see :meth:`_damaged`;
        the caller computes the cell again and rewrites it)."""
        path = self.path(key)
        try:  # the file opened here, not by np.load, which leaves it open when the zip is damaged
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
                if str(z["__key__"]) != key:
                    raise ValueError(f"it holds the result of key {str(z['__key__'])[:12]}...")
                result = {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files if not k.startswith("__")}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            self._damaged(key, exc)
            return None
        self.read += 1
        return result

    def _damaged(self, key: str, exc: BaseException) -> None:
        """Count the damaged entry of ``key`` and name it on stderr, once per entry."""
        if key in self._named:
            return
        self._named.add(key)
        self.damaged += 1
        print(f"mfcheck: damaged cache entry {self.path(key)} ({_one_line(exc)}): its cell is computed again",
              file=sys.stderr)

    def put(self, key: str, result: dict) -> None:
        """Store ``result`` (a dict of numbers / numeric arrays) under ``key``, atomically, readable
        by whoever may read the cache folder (the module docstring)."""
        arrays = _check_result(result)
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, __key__=np.array(key), **arrays)
        fd, tmp = self._create_beside(path)
        try:
            with os.fdopen(fd, "wb") as f:
                if hasattr(os, "fchmod"):  # POSIX modes
                    os.fchmod(f.fileno(), _shared_mode(os.fstat(f.fileno()).st_mode, self.folder.stat().st_mode))
                f.write(buf.getvalue())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.written += 1

    @staticmethod
    def _create_beside(path: Path) -> tuple[int, Path]:
        """A new, empty temporary file in ``path``'s folder, opened for writing: (descriptor, path).
        Created with ``0o666`` so that the umask applies (``tempfile.mkstemp`` would give ``0o600``)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        while True:
            tmp = path.parent / f".tmp-{secrets.token_hex(8)}.npz"
            try:
                return os.open(tmp, flags, 0o666), tmp
            except FileExistsError:  # a name taken: draw another
                continue
