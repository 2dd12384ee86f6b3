"""Where the cells of a sweep run: in this process, in parallel processes (joblib), or on a
dask.distributed cluster; with or without the content cache (:mod:`mfcheck.runtime.cache`).

A cell's numbers depend only on its own seed subtree (``Streams(seed).child("cell", N, repr(ε))``),
never on which process runs it, in what order, or how many run beside it, so every executor
gives the same table. Results come back in cell order; cached cells are read, not run. Tasks that
depend on no loop (:func:`beside`) fill the workers a loop leaves idle at its end.

Defaults: the Python API (:func:`map_cells`, :func:`mfcheck.app.verify.verify`,
:func:`mfcheck.app.gate.gate`) runs serially without a cache unless given an :class:`Execution`,
which keeps library calls and tests simple; the command line (``mfcheck verify``,
``mfcheck gate``) runs cells in ``os.cpu_count()`` joblib (loky) processes with the cache in
``.mfcheck-cache/``, or on dask with ``--executor dask`` / ``--address``.

Every cell runs with BLAS pinned to one thread (threadpoolctl) and ``numba.set_num_threads(1)``,
in a worker process and in this process alike (:func:`_one_thread`): one cell per core, no
oversubscription, and no thread of a cell waiting on another that the scheduler has set aside
on a loaded machine (docs/methods.md, "Performance").
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from mfcheck.runtime.cache import Cache, Unidentifiable, code_version
from mfcheck.errors import InvalidArgument

__all__ = ["EXECUTORS", "Beside", "Execution", "beside", "current_execution", "default_workers", "map_cells", "kill_workers", "started", "stop_workers",
           "using"]

EXECUTORS = ("serial", "joblib", "dask")


def default_workers() -> int:
    """The worker count when none is given: ``os.cpu_count()``."""
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Execution:
    """How cells run.

    **Arguments:**

    - ``executor``: ``"serial"`` (this process), ``"joblib"`` (loky processes) or ``"dask"``
      (a ``distributed`` cluster); None: ``"dask"`` when ``address`` is given, else ``"serial"``.
    - ``workers``: processes of joblib, or workers of the local dask cluster (None: ``os.cpu_count()``).
    - ``address``: a dask scheduler address (``"tcp://host:8786"``) or a ``distributed.Client``;
      None with ``executor="dask"``: a ``LocalCluster`` of ``workers`` single-threaded processes
      on 127.0.0.1, started for each :func:`map_cells` call (or once for a block: :func:`started`).
    - ``cache``: a :class:`~mfcheck.runtime.cache.Cache` (None: no cache).
    """

    executor: str | None = None
    workers: int | None = None
    address: object = None
    cache: Cache | None = None

    def __post_init__(self):
        executor = self.executor
        if executor is None:
            executor = "dask" if self.address is not None else "serial"
        if executor not in EXECUTORS:
            raise InvalidArgument(f"`executor` must be one of {EXECUTORS}, got {executor!r}.")
        if self.address is not None and executor != "dask":
            raise InvalidArgument(f"`address` {self.address!r} names a dask scheduler; it needs `executor`='dask', got {executor!r}.")
        if self.address is not None and not isinstance(self.address, str) and type(self.address).__name__ != "Client":
            raise InvalidArgument(f"`address` must be a scheduler address (str) or a distributed.Client, got {self.address!r}.")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1):
            raise InvalidArgument(f"`workers` must be a positive int or None, got {self.workers!r}.")
        if self.cache is not None and not isinstance(self.cache, Cache):
            raise InvalidArgument(f"`cache` must be an mfcheck.runtime.cache.Cache or None, got {self.cache!r}.")
        object.__setattr__(self, "executor", executor)

    def describe(self) -> str:
        """One line for the terminal (never for reports: they must not depend on the executor)."""
        if self.executor == "serial":
            where = "serially in this process"
        elif self.executor == "joblib":
            where = f"on {self.workers or default_workers()} joblib processes"
        elif self.address is None:
            where = f"on a local dask cluster of {self.workers or default_workers()} workers"
        else:
            address = self.address if isinstance(self.address, str) else self.address.scheduler.address
            where = f"on the dask cluster at {address}"
        return f"cells run {where}; " + (f"cache {self.cache.folder}" if self.cache is not None else "no cache")


SERIAL = Execution()

_CURRENT: contextvars.ContextVar[Execution] = contextvars.ContextVar("mfcheck_execution", default=SERIAL)


def current_execution() -> Execution:
    """The execution set by the innermost :func:`using` (default: serial, no cache)."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(execution: Execution | None) -> Iterator[Execution]:
    """Run the cell loops inside the block (the sweep's and those of the checks) with ``execution``."""
    execution = current_execution() if execution is None else execution
    if not isinstance(execution, Execution):
        raise InvalidArgument(f"`execution` must be an mfcheck.runtime.executors.Execution, got {execution!r}.")
    token = _CURRENT.set(execution)
    try:
        yield execution
    finally:
        _CURRENT.reset(token)


@contextlib.contextmanager
def started(execution: Execution | None) -> Iterator[Execution]:
    """``execution`` with its dask cluster started once for the whole block.

    ``executor="dask"`` without an address starts a ``LocalCluster`` per :func:`map_cells`
    call; a command that runs several sweeps (``mfcheck verify``: two; ``mfcheck gate
    --self-test``: two per implementation) starts it once here and yields the execution bound
    to its client; the cluster is closed on leaving. Other executions are yielded unchanged.
    A KeyboardInterrupt leaving the block also kills the joblib workers (:func:`stop_workers`).
    """
    execution = current_execution() if execution is None else execution
    try:
        if execution.executor != "dask" or execution.address is not None:
            yield execution
        else:
            with _dask_client(None, execution.workers) as client:
                yield dataclasses.replace(execution, address=client)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM as the command line turns it: leave no worker behind
        stop_workers()
        raise


def stop_workers() -> None:
    """Kill the joblib (loky) worker processes kept for reuse, if this process started any.

    joblib kills its workers itself when a :func:`map_cells` loop stops early, but keeps those of
    a finished loop, idle, for the next one; a command stopped between two loops kills them here
    rather than leave them to the interpreter's exit. A local dask cluster is closed by
    :func:`started` and :func:`map_cells` themselves."""
    # loky's one reusable executor, read rather than asked for: ``get_reusable_executor()`` would
    # make one (queues, locks, a resource tracker process) when joblib never ran
    reusable = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(reusable, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def kill_workers() -> None:
    """SIGKILL the joblib (loky) worker processes of this process at once, waiting on nothing.

    The last resort of a process about to end while its main thread is stuck
    (:func:`mfcheck.app.limits.time_limit`): :func:`stop_workers` hands the killing to loky's
    manager thread and waits for it, which may not come to pass; a busy worker whose parent is
    gone would compute on until its cell is done."""
    reusable = sys.modules.get("joblib.externals.loky.reusable_executor")
    for pid in list(getattr(getattr(reusable, "_executor", None), "_processes", None) or ()):
        with contextlib.suppress(OSError):  # gone already
            os.kill(pid, signal.SIGKILL)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>
_MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts on 64-bit
_TRIM_THRESHOLD = 64 * 2**20
_MALLOC_TUNED = False


def _tune_malloc() -> None:
    """Once per worker process: keep array temporaries below 32 MiB on the heap (glibc ``mallopt``).

    A fresh process allocates every block above 128 KiB with ``mmap`` and returns it on free,
    so each step's temporaries (N·n·D doubles) page-fault anew; glibc raises that threshold
    only after a large block is freed, which the main process does while solving the reference
    and a worker never does, so without this a worker runs the same cell slower than the main
    process. No effect where glibc is absent."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """One BLAS thread and one compiled-kernel thread inside the block (the previous counts after it).

    Every cell runs so, whichever executor runs it: parallelism comes from running cells side by
    side in processes, never from threads inside a cell. A cell's parallel regions are small (a
    step of N particles), so a second thread costs more in synchronisation than it saves even on
    an idle machine, and on a loaded one each region waits for whichever thread the scheduler has
    set aside (benchmarks/load.py measures the command-level effect)."""
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(previous)


def _pinned_call(fn: Callable, index: int, cell) -> tuple[int, object, str]:
    """Run ``fn(cell)`` in a worker on one thread (:func:`_one_thread`, and the heap tuned,
    :func:`_tune_malloc`); return (index, result, the worker's mfcheck code version)."""
    _tune_malloc()
    with _one_thread():
        return index, fn(cell), code_version()


def _run_serial(fn, todo, cells) -> Iterator[tuple[int, object, str]]:
    for i in todo:
        with _one_thread():
            result = fn(cells[i])
        yield i, result, code_version()


def _pool(workers: int):
    """The process pool of ``workers`` processes, kept for reuse between loops: joblib's own reusable
    loky executor, made as ``joblib.Parallel`` makes it, so that a ``Parallel`` elsewhere in the
    process (``mfcheck gate --false-alarm`` runs its seeds so) finds the executor it expects, and
    :func:`stop_workers` and :func:`kill_workers` reach it. ``max_nbytes=None``: arrays travel
    pickled with each task, never through memory-mapped files in /dev/shm, which a run stopped
    mid-task (Ctrl-C, SIGTERM, a time limit) would leave behind for loky's resource tracker to
    remove, with a warning of its own after the command's one line. Always asked for with the same
    size, so that a loop never resizes it under the tasks of another (:class:`Beside`). Idle
    workers stay 300 s (joblib's default; loky's own is 10 s): the pause between two loops of a
    run (a reference solve, the fits) must not end them, since a new worker imports mfcheck again,
    and one that ends just as a task arrives makes loky warn from its manager thread."""
    from joblib.executor import get_memmapping_executor

    return get_memmapping_executor(workers, timeout=300, max_nbytes=None)


def _busy(besides) -> int:
    return sum(len(b.running) for b in besides)


def _run_joblib(fn, todo, cells, workers) -> Iterator[tuple[int, object, str]]:
    """The cells ``todo`` on ``workers`` loky processes, at most one task per worker at a time, in
    the order of ``todo``; once every cell has started, a worker that frees up takes a task of the
    enclosing :func:`beside` blocks, so that the loop does not end with idle workers."""
    workers = workers or default_workers()
    besides = _BESIDE.get()
    if workers <= 1 or (len(todo) <= 1 and not any(b.pending for b in besides)):
        yield from _run_serial(fn, todo, cells)
        return
    pool, own, mine = _pool(workers), list(todo), {}
    own.reverse()  # popped from the end: the order of ``todo``
    try:
        while own or mine:
            busy = len(mine) + _busy(besides)
            while own and busy < workers:
                i = own.pop()
                mine[pool.submit(_pinned_call, fn, i, cells[i])] = i
                busy += 1
            for b in besides:
                while not own and b.pending and busy < workers:
                    b.start(pool)
                    busy += 1
            done, _ = wait([*mine, *(f for b in besides for f in b.running)], return_when=FIRST_COMPLETED)
            for future in done:
                if future in mine:
                    del mine[future]
                    yield future.result()  # a cell's error is raised here
                else:
                    next(b for b in besides if future in b.running).finish(future)
    except BaseException:  # an error, Ctrl-C, or the caller stopping early: no cell is left computing
        _stop_pool(mine)
        raise


def _stop_pool(futures) -> None:
    """Cancel ``futures`` and kill the workers (a cell still computing would hold its worker)."""
    for future in futures:
        future.cancel()
    stop_workers()


class Beside:
    """Whole tasks ``fn(task)`` that run on the workers the cell loops inside a :func:`beside` block
    leave idle; :meth:`results` waits for them (and starts those still waiting)."""

    def __init__(self, fn: Callable, tasks: Sequence, execution: Execution, desc: str, progress: bool):
        self.fn, self.tasks, self.execution, self.desc, self.progress = fn, list(tasks), execution, desc, progress
        self.fills = execution.executor == "joblib" and (execution.workers or default_workers()) > 1
        self.pending = list(range(len(self.tasks)))[::-1] if self.fills else []  # popped from the end: task order
        self.running: dict = {}
        self.done: dict[int, object] = {}

    def start(self, pool) -> None:
        i = self.pending.pop()
        self.running[pool.submit(_pinned_call, self.fn, i, self.tasks[i])] = i

    def finish(self, future) -> None:
        del self.running[future]
        i, result, version = future.result()  # a task's error is raised here
        _check_version(self.tasks[i], version)
        self.done[i] = result

    def results(self) -> list:
        """Every task's result, in task order: those not yet started start now, beside those still
        running (not beside the block: no cell loop is running); a bar counts them."""
        if not self.fills:  # serial or dask: the tasks run now, like a cell loop without a cache
            return map_cells(self.fn, self.tasks, execution=dataclasses.replace(self.execution, cache=None), desc=self.desc,
                             progress=self.progress)
        workers = self.execution.workers or default_workers()
        with tqdm(total=len(self.tasks), initial=len(self.done), desc=self.desc, unit="task", disable=not self.progress,
                  leave=False) as bar:
            try:
                pool = _pool(workers)
                while self.pending or self.running:
                    while self.pending and _busy(_BESIDE.get()) < workers:
                        self.start(pool)
                    done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
                    for future in done:
                        self.finish(future)
                        bar.update(1)
            except BaseException:
                _stop_pool(self.running)
                raise
        return [self.done[i] for i in range(len(self.tasks))]


_BESIDE: contextvars.ContextVar[tuple[Beside, ...]] = contextvars.ContextVar("mfcheck_beside", default=())


@contextlib.contextmanager
def beside(fn: Callable, tasks: Sequence, *, execution: Execution | None = None, desc: str = "tasks",
           progress: bool = True) -> Iterator[Beside]:
    """Run ``fn(task)`` for each of ``tasks`` on the workers that the cell loops (:func:`map_cells`)
    inside the block leave idle; ``.results()`` on the yielded :class:`Beside` returns them in task
    order, starting those that found no idle worker.

    A loop of n cells on w workers ends with fewer than w cells left to run, and a worker without a
    cell waits for the loop's longest cell; a stage of several loops waits at each of them. Tasks
    that depend on none of the loops (``mfcheck verify``'s checks without cells of their own) fill
    those waits: a worker takes one only when every cell of the current loop has started, so the
    cells start as they would without them. Tasks are not cached. With joblib on 2 or more workers;
    otherwise (serial, dask) ``.results()`` runs them as a cell loop without a cache. A task's result
    does not depend on when or where it runs, so the results are those of ``[fn(t) for t in tasks]``.
    """
    execution = current_execution() if execution is None else execution
    b = Beside(fn, tasks, execution, desc, progress)
    token = _BESIDE.set((*_BESIDE.get(), b))
    try:
        yield b
    finally:
        _BESIDE.reset(token)


@contextlib.contextmanager
def _dask_client(address, workers):
    from distributed import Client, LocalCluster

    if address is not None and not isinstance(address, str):  # a Client the caller owns
        yield address
        return
    if address is not None:
        with Client(address) as client:
            yield client
        return
    with LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _run_dask(fn, todo, cells, address, workers) -> Iterator[tuple[int, object, str]]:
    from distributed import as_completed

    with _dask_client(address, workers) as client:
        [remote_fn] = client.scatter([fn], broadcast=True, hash=False)
        futures = [client.submit(_pinned_call, remote_fn, i, cells[i], pure=False) for i in todo]
        try:
            for _, result in as_completed(futures, with_results=True):
                yield result
        finally:
            client.cancel(futures)


def map_cells(fn: Callable, cells: Sequence, *, execution: Execution | None = None, desc: str = "cells",
              progress: bool = True, cost: Callable | None = None) -> list:
    """``[fn(cell) for cell in cells]``, run by ``execution`` and cached by content.

    **Arguments:**

    - ``fn``: the cell function, picklable (a module-level function or a ``functools.partial``
      of one); it must return a dict of numbers / numeric arrays when a cache is used.
    - ``cells``: the cells (tuples of numbers and strings, e.g. (path, N, ε)).
    - ``execution``: an :class:`Execution` (None: :func:`current_execution`, serial by default).
    - ``desc``, ``progress``: the progress bar (it counts finished cells; cached cells count as
      done at once and the bar says how many came from the cache).
    - ``cost``: ``cost(cell)``, an estimate of a cell's running time in any unit. The cells are
      then started longest first, so that the pool does not end with one worker on a long cell
      while the others idle (longest-processing-time order); the results do not depend on it.

    A cell whose key cannot be established (:class:`~mfcheck.runtime.cache.Unidentifiable`) is computed
    and not stored. Each result is stored as soon as it arrives, so an interrupted run keeps the
    finished cells. A worker whose mfcheck sources differ from this process's (another version
    installed on a cluster) is an error: its numbers would be stored under the wrong key.
    Returns the results in the order of ``cells``.
    """
    if not callable(fn):
        raise InvalidArgument(f"`fn` must be callable, got {fn!r}.")
    cells = list(cells)
    execution = current_execution() if execution is None else execution
    if not isinstance(execution, Execution):
        raise InvalidArgument(f"`execution` must be an mfcheck.runtime.executors.Execution or None, got {execution!r}.")
    cache = execution.cache
    keys, note = None, ""
    if cache is not None:
        try:
            keys = cache.keys(fn, cells)
        except Unidentifiable as exc:
            note = f"not cached: {exc}"
    results: list = [None] * len(cells)
    todo = []
    for i in range(len(cells)):
        hit = cache.get(keys[i]) if keys is not None else None
        if hit is None:
            todo.append(i)
        else:
            results[i] = hit
    if cost is not None:
        todo.sort(key=lambda i: -float(cost(cells[i])))  # stable: equal costs keep the order of cells
    n_cached = len(cells) - len(todo)
    with tqdm(total=len(cells), desc=desc, unit="cell", disable=not progress, leave=False) as bar:
        if n_cached:
            bar.update(n_cached)
            bar.set_postfix_str(f"{n_cached} from cache")
        elif note:
            bar.set_postfix_str(note[:60])
        if todo:
            if execution.executor == "serial":
                stream = _run_serial(fn, todo, cells)
            elif execution.executor == "joblib":
                stream = _run_joblib(fn, todo, cells, execution.workers)
            else:
                stream = _run_dask(fn, todo, cells, execution.address, execution.workers)
            with contextlib.closing(stream):
                _collect(stream, cells, keys, cache, results, bar)
    return results


def _check_version(cell, version: str) -> None:
    if version != code_version():
        raise RuntimeError(
            f"A worker ran cell {cell!r} with mfcheck code version {version[:12]}, this process has "
            f"{code_version()[:12]}: the workers need the same mfcheck sources (install the same version on the "
            f"cluster; do not edit the package during a run).")


def _collect(stream, cells, keys, cache, results, bar) -> None:
    """Store each (index, result, worker code version) of ``stream`` as it arrives."""
    for i, result, version in stream:
        _check_version(cells[i], version)
        if keys is not None:
            cache.put(keys[i], result)
        results[i] = result
        bar.update(1)

