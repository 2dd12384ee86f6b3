"""Reports are written all at once (mfcheck.report.atomic): a run that fails or is interrupted at
any point leaves the reports folder byte for byte as it was, a run that succeeds replaces its own
entries and keeps the others, and no staging folder is ever left behind."""

from __future__ import annotations

import dataclasses
import json
import os
import types
from pathlib import Path

import matplotlib.figure
import pytest

import mfcheck.report
import mfcheck.report.atomic
from mfcheck.app.false_alarm import FalseAlarm, FalseAlarmRun
from mfcheck.app.false_alarm import write_report as write_false_alarm
from mfcheck.claims import get_claim
from mfcheck.claims.base import CheckContext
from mfcheck.claims.tiers import get_tier
from mfcheck.model.experiment import default_experiment
from mfcheck.report import checks, write_reports
from mfcheck.report.atomic import STAGING_PREFIX, staged
from mfcheck.report.figures import plt, save_figure
from mfcheck.stats.results import ClaimResult, Test, decide

NAMES = ("claim_a", "claim_b", "claim_c")


def _render_with_figure(claim, result, summary, folder):
    """The generic report and one figure, so that a run saves figures between its files."""
    checks.render_generic(claim, result, summary, folder)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, result.estimates["its estimate"]["estimate"]])
    save_figure(fig, folder / "figure.png")


@pytest.fixture(autouse=True)
def _close_figures():
    """A save that fails leaves its figure open: close it, or the open figures pile up into a warning."""
    yield
    plt.close("all")


@pytest.fixture
def renderers(monkeypatch):
    monkeypatch.setattr(checks, "RENDERERS", {**checks.RENDERERS, **{name: _render_with_figure for name in NAMES}})


@pytest.fixture(scope="module")
def context():
    return CheckContext(experiment=default_experiment(log2_M=6), tier=get_tier("smoke"), reference=None)


def _runs(context, value: float) -> list:
    """(claim, decided result, source) of three generic claims; ``value`` sets their numbers."""
    claims = [dataclasses.replace(get_claim("azuma"), name=name, title=f"The claim {name}") for name in NAMES]
    results = decide([ClaimResult(claim=name, verdict="unresolved", alpha=0.05, tests=(Test("its test", 0.5),),
                                  estimates={"its estimate": {"estimate": value + i, "ci": [value, value + 2 * i + 1]}})
                      for i, name in enumerate(NAMES)])
    return [(claim, result, context) for claim, result in zip(claims, results)]


def _snapshot(folder: Path) -> dict:
    """Every entry under ``folder``: its relative path, its kind, mode and (for a file) its bytes."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            mode = path.lstat().st_mode
            out[str(path.relative_to(folder))] = (mode, path.read_bytes() if path.is_file() else None)
    return out


def _leftovers(out: Path) -> list:
    """Staging folders left in ``out`` or beside it."""
    return [p.name for folder in (out, out.parent) if folder.exists() for p in folder.iterdir()
            if p.name.startswith(STAGING_PREFIX) or ".tmp" in p.name]


@pytest.fixture
def previous(tmp_path, context, renderers):
    """A reports folder holding a complete previous run, and entries other commands wrote."""
    out = tmp_path / "reports"
    write_reports(_runs(context, 1.0), out, 0.05, "mfcheck verify (previous)")
    (out / "performance.md").write_text("# timings\n")
    (out / "mmn18").mkdir()
    (out / "mmn18" / "README.md").write_text("# mmn18\n")
    return out


def _failing_after(k: int, fn, exc: BaseException):
    """``fn`` that raises ``exc`` on its call number k + 1, and only then."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == k + 1:
            raise exc
        return fn(*args, **kwargs)

    return wrapped


def _assert_unchanged(out: Path, before: dict) -> None:
    assert _snapshot(out) == before
    assert _leftovers(out) == []


@pytest.mark.parametrize("k", range(len(NAMES)))
def test_a_claim_report_that_fails_leaves_the_previous_reports(previous, context, monkeypatch, k):
    before = _snapshot(previous)
    monkeypatch.setattr(mfcheck.report, "write_report", _failing_after(k, mfcheck.report.write_report, RuntimeError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        write_reports(_runs(context, 5.0), previous, 0.05, "mfcheck verify (new)")
    _assert_unchanged(previous, before)


@pytest.mark.parametrize("k", range(len(NAMES)))
def test_a_figure_that_fails_leaves_the_previous_reports(previous, context, monkeypatch, k):
    before = _snapshot(previous)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", _failing_after(k, matplotlib.figure.Figure.savefig, OSError("no space")))
    with pytest.raises(OSError, match="no space"):
        write_reports(_runs(context, 5.0), previous, 0.05, "mfcheck verify (new)")
    _assert_unchanged(previous, before)


def test_an_index_that_fails_leaves_the_previous_reports(previous, context, monkeypatch):
    before = _snapshot(previous)
    monkeypatch.setattr(mfcheck.report, "write_index", _failing_after(0, mfcheck.report.write_index, RuntimeError("index")))
    with pytest.raises(RuntimeError, match="index"):
        write_reports(_runs(context, 5.0), previous, 0.05, "mfcheck verify (new)")
    _assert_unchanged(previous, before)


def test_an_interrupt_leaves_the_previous_reports(previous, context, monkeypatch):
    before = _snapshot(previous)
    monkeypatch.setattr(mfcheck.report, "write_report", _failing_after(1, mfcheck.report.write_report, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_reports(_runs(context, 5.0), previous, 0.05, "mfcheck verify (new)")
    _assert_unchanged(previous, before)


@pytest.mark.parametrize("k", [0, 1, 2, 5, 7])
def test_a_swap_that_fails_midway_is_undone(previous, context, monkeypatch, k):
    """A rename of the swap that fails (the (k + 1)-th): the entries already swapped go back.
    Four entries (three claims and the index) each replacing an old one: eight renames."""
    before = _snapshot(previous)
    proxy = types.ModuleType("os")
    proxy.__dict__.update(os.__dict__)
    proxy.rename = _failing_after(k, os.rename, OSError("rename"))
    monkeypatch.setattr(mfcheck.report.atomic, "os", proxy)
    with pytest.raises(OSError, match="rename"):
        write_reports(_runs(context, 5.0), previous, 0.05, "mfcheck verify (new)")
    _assert_unchanged(previous, before)


def test_a_run_that_succeeds_replaces_its_reports_and_keeps_the_others(previous, context):
    others = {k: v for k, v in _snapshot(previous).items() if k.startswith(("mmn18", "performance"))}
    write_reports(_runs(context, 5.0), previous, 0.05, "mfcheck verify (new)")
    after = _snapshot(previous)
    assert {k: v for k, v in after.items() if k.startswith(("mmn18", "performance"))} == others
    for name in NAMES:
        assert json.loads((previous / name / "summary.json").read_text())["command"] == "mfcheck verify (new)"
        assert (previous / name / "figure.png").is_file()
    index = (previous / "README.md").read_text()
    assert "Regenerate: `mfcheck verify (new)`" in index
    assert "- [mmn18/README.md](mmn18/README.md)" in index and "- [performance.md](performance.md)" in index
    assert _leftovers(previous) == []


def test_a_failed_first_run_leaves_no_folder(tmp_path, context, monkeypatch, renderers):
    out = tmp_path / "new" / "reports"
    monkeypatch.setattr(mfcheck.report, "write_index", _failing_after(0, mfcheck.report.write_index, RuntimeError("index")))
    with pytest.raises(RuntimeError):
        write_reports(_runs(context, 5.0), out, 0.05, "mfcheck verify (new)")
    assert list(tmp_path.iterdir()) == []


def test_staged_writes_nothing_until_the_block_ends(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    with staged(out) as stage:
        (stage / "a.txt").write_text("new")
        (stage / "b").mkdir()
        (stage / "b" / "c.txt").write_text("c")
        assert (out / "a.txt").read_text() == "old" and not (out / "b").exists()
    assert (out / "a.txt").read_text() == "new" and (out / "b" / "c.txt").read_text() == "c"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b"]


def _false_alarm(seeds) -> FalseAlarm:
    runs = tuple(FalseAlarmRun(seed=s, exit_code=0, failed_claims=(), unresolved_claims=(), min_p_adjusted={"azuma": 0.5},
                               p_values=(0.3, 0.7)) for s in seeds)
    return FalseAlarm(tier="smoke", alpha=0.05, implementation="builtin", claims=("azuma",), runs=runs)


def test_a_false_alarm_report_that_fails_leaves_the_previous_one(tmp_path, monkeypatch):
    folder = tmp_path / "gate_false_alarm_smoke"
    write_false_alarm(_false_alarm([0, 1]), folder, "previous")
    before = _snapshot(folder)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", _failing_after(1, matplotlib.figure.Figure.savefig, OSError("no space")))
    with pytest.raises(OSError, match="no space"):
        write_false_alarm(_false_alarm([0, 1, 2]), folder, "new")
    _assert_unchanged(folder, before)
    monkeypatch.undo()
    assert write_false_alarm(_false_alarm([0, 1, 2]), folder, "new") == folder / "README.md"
    assert json.loads((folder / "summary.json").read_text())["seeds"] == [0, 1, 2]
    assert _leftovers(folder) == []
