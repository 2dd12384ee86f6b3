"""Executors: results in cell order whatever runs them; the cache makes a re-run compute only missing cells."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from mfcheck.runtime.cache import Cache
from mfcheck.errors import InvalidArgument
from mfcheck.runtime.executors import Execution, beside, current_execution, map_cells, started, using

CELLS = [("N", 8, 0.125), ("N", 16, 0.0625), ("eps", 32, 0.0625), ("eps", 64, 0.03125)]


def _cell_value(scale, cell):
    """A cell function: a deterministic array from the cell's own seed subtree."""
    _, N, eps = cell
    rng = np.random.default_rng(np.random.SeedSequence(1234, spawn_key=(N, round(1 / eps))))
    return {"x": scale * rng.standard_normal(3), "eps": eps}


def _failing(cell):
    raise InvalidArgument(f"`cell` {cell} is refused")


def _logged(log, scale, cell):
    """``_cell_value`` that appends its cell to the file ``log`` (works across processes); it
    raises KeyboardInterrupt, as an interrupted run would, once two cells are logged while a
    file ``stop`` lies beside the log."""
    done = log.read_text().splitlines() if log.exists() else []
    if len(done) >= 2 and (log.parent / "stop").exists():
        raise KeyboardInterrupt
    with open(log, "a") as f:
        f.write(f"{cell}\n")
    return _cell_value(scale, cell)


def _computed(log):
    return sorted(log.read_text().splitlines()) if log.exists() else []


def _same(a, b):
    return len(a) == len(b) and all(x["x"].tobytes() == y["x"].tobytes() and x["eps"] == y["eps"] for x, y in zip(a, b))


def test_serial_results_come_in_cell_order():
    out = map_cells(functools.partial(_cell_value, 2.0), CELLS, progress=False)
    assert [r["eps"] for r in out] == [c[2] for c in CELLS]
    assert out[0]["x"].tobytes() == _cell_value(2.0, CELLS[0])["x"].tobytes()


def test_joblib_processes_give_the_serial_numbers():
    fn = functools.partial(_cell_value, 2.0)
    serial = map_cells(fn, CELLS, progress=False)
    assert _same(map_cells(fn, CELLS, execution=Execution("joblib", workers=2), progress=False), serial)


def test_cost_starts_the_longest_cells_first_and_keeps_the_results_in_order(tmp_path):
    """``cost``: cells run in decreasing cost (the log of a serial run shows it); the results do not move."""
    from mfcheck.claims.tiers import cell_work

    log = tmp_path / "log"
    fn = functools.partial(_logged, log, 2.0)
    out = map_cells(fn, CELLS, progress=False, cost=cell_work)
    ran = log.read_text().splitlines()
    assert ran == [str(c) for c in sorted(CELLS, key=lambda c: -cell_work(c))]
    assert _same(out, map_cells(functools.partial(_cell_value, 2.0), CELLS, progress=False))


def _timed(log, seconds, item):
    """Log "start item", sleep ``seconds[item]``, log "end item" (from any process); return item doubled."""
    import time

    with open(log, "a") as f:
        f.write(f"start {item}\n")
    time.sleep(seconds[item])
    with open(log, "a") as f:
        f.write(f"end {item}\n")
    return 2 * item if isinstance(item, int) else item


def test_tasks_beside_a_loop_fill_its_idle_workers_and_keep_their_order(tmp_path):
    """On 2 workers, a loop of one long cell and two short ones leaves a worker idle; the task run
    beside it starts there, after every cell has started and before the long cell ends. The results
    are those of running each alone."""
    log = tmp_path / "log"
    seconds = {"A": 3.0, "B": 0.1, "C": 0.1, 1: 0.2, 2: 0.2}
    fn = functools.partial(_timed, log, seconds)
    execution = Execution("joblib", workers=2)
    with beside(fn, [1, 2], execution=execution, progress=False) as tasks:
        cells = map_cells(fn, ["A", "B", "C"], execution=execution, progress=False)
        assert cells == ["A", "B", "C"]
        results = tasks.results()
    assert results == [2, 4]
    events = log.read_text().splitlines()
    assert max(events.index(f"start {c}") for c in "ABC") < min(events.index(f"start {t}") for t in (1, 2))
    assert events.index("start 1") < events.index("end A")


def test_tasks_beside_run_when_asked_for_when_serial_and_their_errors_keep_their_type(tmp_path):
    log = tmp_path / "log"
    fn = functools.partial(_timed, log, {"A": 0.0, 1: 0.0, 2: 0.0})
    with beside(fn, [1, 2], execution=Execution("serial"), progress=False) as tasks:
        map_cells(fn, ["A"], progress=False)
        assert log.read_text().splitlines() == ["start A", "end A"]
        assert tasks.results() == [2, 4]
    execution = Execution("joblib", workers=2)
    with pytest.raises(InvalidArgument, match="refused"), beside(_failing, [CELLS[0]], execution=execution, progress=False) as tasks:
        map_cells(fn, ["A", 1], execution=execution, progress=False)
        tasks.results()


def test_worker_errors_keep_their_type():
    with pytest.raises(InvalidArgument, match="refused"):
        map_cells(_failing, CELLS, execution=Execution("joblib", workers=2), progress=False)


def test_workers_with_other_sources_are_refused(monkeypatch):
    """A cluster with another mfcheck installed would store its numbers under this code's keys."""
    import mfcheck.runtime.executors

    monkeypatch.setattr(mfcheck.runtime.executors, "code_version", lambda: "0" * 64)  # this process "has other sources"
    with pytest.raises(RuntimeError, match="code version"):
        map_cells(functools.partial(_cell_value, 2.0), CELLS, execution=Execution("joblib", workers=2), progress=False)
    assert len(map_cells(functools.partial(_cell_value, 2.0), CELLS, progress=False)) == len(CELLS)  # serial: one process


def test_rerun_computes_only_the_missing_cell(tmp_path, capsys):
    cache, log = Cache(tmp_path / "cache"), tmp_path / "computed.log"
    fn = functools.partial(_logged, log, 2.0)
    first = map_cells(fn, CELLS, execution=Execution("joblib", workers=2, cache=cache), progress=False)
    assert _computed(log) == sorted(map(str, CELLS))
    cache.path(cache.keys(fn, CELLS)[2]).unlink()  # one cell's file lost
    log.unlink()
    again = map_cells(fn, CELLS, execution=Execution("joblib", workers=2, cache=cache), progress=True)
    assert _computed(log) == [str(CELLS[2])]
    assert _same(again, first)
    assert "3 from cache" in capsys.readouterr().err  # the progress bar says so


def test_a_damaged_entry_is_recomputed_and_reported(tmp_path, capsys):
    cache, log = Cache(tmp_path / "cache"), tmp_path / "computed.log"
    fn = functools.partial(_logged, log, 2.0)
    first = map_cells(fn, CELLS, execution=Execution("serial", cache=cache), progress=False)
    damaged = cache.path(cache.keys(fn, CELLS)[1])
    damaged.write_bytes(damaged.read_bytes()[:40])  # truncated
    log.unlink()
    capsys.readouterr()
    again = Cache(cache.folder)
    assert _same(map_cells(fn, CELLS, execution=Execution("serial", cache=again), progress=False), first)
    assert _computed(log) == [str(CELLS[1])]
    assert (again.read, again.written, again.damaged) == (3, 1, 1)
    [line] = capsys.readouterr().err.splitlines()
    assert str(damaged) in line
    third = Cache(cache.folder)  # rewritten: read back whole
    map_cells(fn, CELLS, execution=Execution("serial", cache=third), progress=False)
    assert (third.read, third.written, third.damaged) == (4, 0, 0)


def test_interrupted_sweep_resumes_from_the_cache(tmp_path):
    cache, log = Cache(tmp_path / "cache"), tmp_path / "computed.log"
    fn = functools.partial(_logged, log, 3.0)
    (tmp_path / "stop").touch()
    with pytest.raises(KeyboardInterrupt):
        map_cells(fn, CELLS, execution=Execution("serial", cache=cache), progress=False)
    assert _computed(log) == sorted(map(str, CELLS[:2]))
    (tmp_path / "stop").unlink()
    log.unlink()
    out = map_cells(fn, CELLS, execution=Execution("serial", cache=cache), progress=False)
    assert _computed(log) == sorted(map(str, CELLS[2:]))
    assert _same(out, map_cells(functools.partial(_cell_value, 3.0), CELLS, progress=False))


def test_an_interrupt_kills_the_workers_kept_for_reuse():
    """joblib keeps its workers after a loop; an interrupt between two loops must not leave them running."""
    psutil = pytest.importorskip("psutil")

    def workers():
        found = []
        for p in psutil.Process().children(recursive=True):
            try:
                if "LokyProcess" in " ".join(p.cmdline()):
                    found.append(p)
            except psutil.Error:
                pass
        return found

    execution = Execution("joblib", workers=2)
    map_cells(functools.partial(_cell_value, 2.0), CELLS, execution=execution, progress=False)
    kept = workers()
    assert kept
    with pytest.raises(KeyboardInterrupt), started(execution):
        raise KeyboardInterrupt
    _, alive = psutil.wait_procs(kept, timeout=10)
    assert alive == [] and workers() == []
    assert _same(map_cells(functools.partial(_cell_value, 2.0), CELLS, execution=execution, progress=False),
                 map_cells(functools.partial(_cell_value, 2.0), CELLS, progress=False))  # joblib starts new ones


def test_an_unidentifiable_function_is_computed_every_time(tmp_path):
    rng = np.random.default_rng(0)

    def drawing(cell):
        return {"x": rng.standard_normal(1), "eps": cell[2]}

    cache = Cache(tmp_path)
    map_cells(drawing, CELLS, execution=Execution("serial", cache=cache), progress=False)
    assert not any(tmp_path.iterdir())  # nothing stored: the generator's state is not content


def test_using_sets_the_execution_of_a_block():
    ex = Execution("joblib", workers=2)
    assert current_execution().executor == "serial"
    with using(ex):
        assert current_execution() is ex
    assert current_execution().executor == "serial"


@pytest.mark.parametrize("kwargs, match", [
    ({"executor": "threads"}, "executor"),
    ({"executor": "joblib", "address": "tcp://127.0.0.1:8786"}, "address"),
    ({"workers": 0}, "workers"),
    ({"workers": True}, "workers"),
    ({"cache": "somewhere"}, "cache"),
    ({"address": 8786}, "address"),
])
def test_bad_executions_are_refused(kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        Execution(**kwargs)


def test_an_address_means_dask():
    assert Execution(address="tcp://127.0.0.1:8786").executor == "dask"
    assert Execution().executor == "serial"


def test_gate_runs_its_sweep_through_the_execution(tmp_path):
    """The gate's rule (closures around the implementation) travels to worker processes; the
    table is the serial one, and a mutant is keyed apart from the correct step."""
    from mfcheck.model.activations import erf_sigmoid, tanh_sum
    from mfcheck.model.experiment import Experiment
    from mfcheck.app.gate import as_protocol, gate, reference_step
    from mfcheck.dynamics.broken import BROKEN
    from mfcheck.model.initial import GaussianInit
    from mfcheck.model.neurons import InnerNeuron
    from mfcheck.model.problems import teacher_population
    from mfcheck.reference import build_reference
    from mfcheck.claims.tiers import Tier

    problem = teacher_population(16, 2, tanh_sum((1.0,), (2.0,)), seed=5)
    ex = Experiment(problem=problem, neuron=InnerNeuron(erf_sigmoid()), rho0=GaussianInit(2, 0.5), log2_M=8, h=1 / 16, record_dt=1 / 8)
    ref = build_reference(ex)
    tier = Tier("tiny", N_path=(8, 16), eps_path=(1 / 8, 1 / 16), kink=2, replicates=3, log2_M=8)
    kwargs = {"claims": ["theorem1_risk"], "experiment": ex, "reference": ref}
    serial = gate(reference_step, tier, **kwargs)
    cache = Cache(tmp_path)
    parallel = gate(reference_step, tier, execution=Execution("joblib", workers=2, cache=cache), **kwargs)
    assert parallel.sweep.table.equals(serial.sweep.table)
    assert len(list(tmp_path.rglob("*.npz"))) == len(tier.cells())
    mutant = gate(as_protocol(BROKEN["ntk_scaling"].rule), tier, execution=Execution("serial", cache=cache), **kwargs)
    assert len(list(tmp_path.rglob("*.npz"))) == 2 * len(tier.cells())
    assert not mutant.sweep.table.equals(serial.sweep.table)


def test_checks_run_beside_the_sweeps_give_the_serial_results():
    """A check without cells of its own runs on a worker a sweep leaves idle; its numbers do not move."""
    from mfcheck.app.verify import verify
    from mfcheck.claims.tiers import get_tier

    claims = ["theorem2_risk", "azuma"]
    serial = verify(get_tier("smoke"), claims=claims, progress=False)
    parallel = verify(get_tier("smoke"), claims=claims, progress=False, execution=Execution("joblib", workers=2))
    for a, b in zip(serial.results, parallel.results, strict=True):
        assert [(t.name, t.p_value) for t in a.tests] == [(t.name, t.p_value) for t in b.tests]
        assert (a.claim, a.verdict) == (b.claim, b.verdict)
