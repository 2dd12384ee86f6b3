"""The command line at the smoke tier: files, keys, exit codes."""

from __future__ import annotations

import json

import pytest

from mfcheck.app.calibrate import family_size
from mfcheck.app.cli import main
from mfcheck.claims import CLAIMS


def test_verify_writes_every_report(smoke_reports):
    """Every report is written; no claim fails on the built-in rule; each summary says what decided."""
    code, out, _ = smoke_reports
    assert code in (0, 3)
    index = (out / "README.md").read_text()
    summaries = [json.loads(f.read_text()) for f in out.glob("*/summary.json")]
    in_family = sum(t["role"] == "implementation" and t["counted"] for s in summaries for t in s["tests"])
    for claim in ("theorem1_test_functions", "theorem1_risk", "coupling_lemma"):
        folder = out / claim
        for name in ("report.md", "rates.png", "ratio_tail.png", "summary.json"):
            assert (folder / name).stat().st_size > 0
        s = json.loads((folder / "summary.json").read_text())
        assert {"claim", "verdict", "decided_by", "evidence", "alpha", "exponents", "plateaus", "reference_error", "seeds"} <= set(s)
        assert s["claim"] == claim and s["verdict"] in ("pass", "unresolved")
        assert len(s["evidence"]) == 4 and (s["verdict"] == "pass") == all(e["holds"] for e in s["evidence"])
        for e in s["exponents"].values():
            assert {"estimate", "ci"} <= set(e) and e["ci"][0] <= e["estimate"] <= e["ci"][1]
        assert f"{claim}/report.md" in index
        # Holm decides over the tests with power at the run's sizes (the powerless leave the family); the
        # detection level is the least favourable one, the first Holm level with every test counted
        assert s["tests_in_family"] == in_family <= family_size()
        assert s["details"]["detection"]["level"] == pytest.approx(0.05 / family_size())
        report = (folder / "report.md").read_text()
        assert f"Verdict: {s['verdict'].upper()}" in report and f"{s['exponents']['N']['estimate']:.3f}" in report
        assert "Decided by:" in report and "## What this run can detect" in report


def test_the_family_size_is_the_number_of_tests_a_smoke_run_decides(smoke_reports):
    """Every claim runs all its declared tests at the smoke tier (all resolved): its implementation
    tests outside a combined grid are the ones it declares (their sum is ``family_size()``, the
    least favourable family); those the run counts are the declared ones less the tests it measured
    to have no power, and their sum is the Holm family every report names."""
    _, out, _ = smoke_reports
    summaries = {name: json.loads((out / name / "summary.json").read_text()) for name in CLAIMS}
    declared = {name: sum(t["role"] == "implementation" and (t["counted"] or t["note"].startswith("no power at this run's sizes"))
                          for t in s["tests"])
                for name, s in summaries.items()}
    counted = {name: sum(t["role"] == "implementation" and t["counted"] for t in s["tests"]) for name, s in summaries.items()}
    assert declared == {name: claim.test_count for name, claim in CLAIMS.items()}
    assert sum(declared.values()) == family_size()
    assert all(s["tests_in_family"] == sum(counted.values()) for s in summaries.values() if "tests_in_family" in s)


def test_reports_are_reproducible(smoke_reports, tmp_path):
    """Serially in this process without a cache, the reports are those of the parallel run (the sweeps'
    cells and the checks that run whole, each in a worker)."""
    _, out, _ = smoke_reports
    main(["verify", "--tier", "smoke", "--out", str(tmp_path), "--quiet", "--executor", "serial", "--no-cache"])
    for claim in ("theorem1_risk", "theorem2_coupling", "azuma", "energy_decay", "gronwall", "mcdiarmid"):
        a = json.loads((out / claim / "summary.json").read_text())
        b = json.loads((tmp_path / claim / "summary.json").read_text())
        a.pop("command"), b.pop("command")  # the command names the output folder
        assert a == b


def test_every_sweep_cell_is_cached(smoke_reports):
    """Every cell that goes through map_cells: the Theorem 1 and 2 sweeps, the hinge grid, one per D of
    the dimension sweep, and temperature's runs (c = 4 and c = 2 for the built-in rule)."""
    from mfcheck.claims.dimension_sweep import SIZES as DIMENSION
    from mfcheck.claims.hinge import SIZES as HINGE
    from mfcheck.claims.temperature import C_VALUES
    from mfcheck.claims.theorem2 import TIERS as TIERS2
    from mfcheck.claims.tiers import get_tier

    _, _, cache = smoke_reports
    cells = (len(get_tier("smoke").cells()) + len(TIERS2["smoke"].cells()) + len(HINGE["smoke"].cells())
             + len(DIMENSION["smoke"].dims) + len(C_VALUES))
    assert len(list(cache.rglob("*.npz"))) == cells
    assert not list(cache.rglob(".tmp-*"))  # no partial file left


@pytest.mark.parametrize("argv, executor, workers, cache", [
    (["verify"], "joblib", None, ".mfcheck-cache"),
    (["gate", "--self-test"], "joblib", None, ".mfcheck-cache"),
    (["verify", "--executor", "dask", "--workers", "3", "--cache", "c"], "dask", 3, "c"),
    (["verify", "--address", "tcp://127.0.0.1:8786", "--no-cache"], "dask", None, None),
    (["gate", "--executor", "serial", "--no-cache"], "serial", None, None),
])
def test_command_line_execution(argv, executor, workers, cache):
    from mfcheck.app.cli import _execution, _parser

    e = _execution(_parser().parse_args(argv))
    assert (e.executor, e.workers) == (executor, workers)
    assert (None if e.cache is None else str(e.cache.folder)) == cache


@pytest.mark.parametrize("argv", [
    ["verify", "--tier", "huge"],
    ["verify", "--alpha", "1.5"],
    ["verify", "--seed", "-3"],
    ["verify", "--seed", "x"],
    ["verify", "--workers", "0"],
    ["verify", "--executor", "threads"],
    ["verify", "--executor", "joblib", "--address", "tcp://127.0.0.1:8786"],
    ["gate", "--self-test", "--workers", "-1"],
    ["frobnicate"],
    [],
])
def test_bad_usage_exits_2(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert "error" in capsys.readouterr().err


def _stopped_after(cells: int, interrupt: KeyboardInterrupt):
    """A stand-in for ``verify`` that caches ``cells`` cells, then is stopped by ``interrupt``."""

    def stopped(*args, execution, **kwargs):
        for i in range(cells):
            execution.cache.put(f"{i:02d}" * 32, {"x": float(i)})
        raise interrupt

    return stopped


def test_an_interrupted_run_says_what_it_cached(monkeypatch, tmp_path, capsys):
    import mfcheck.app.verify
    from mfcheck.app.interrupts import Terminated
    from mfcheck.app.limits import TimeLimitExceeded

    argv = ["verify", "--tier", "smoke", "--quiet", "--cache", str(tmp_path), "--out", str(tmp_path / "out")]
    monkeypatch.setattr(mfcheck.app.verify, "verify", _stopped_after(2, KeyboardInterrupt()))
    assert main(argv) == 130
    [_, line] = capsys.readouterr().err.splitlines()  # the start line, then one line
    assert line == f"mfcheck: interrupted; 2 finished cells are cached in {tmp_path}/: run the same command again to compute only the rest."
    monkeypatch.setattr(mfcheck.app.verify, "verify", _stopped_after(0, KeyboardInterrupt()))  # e.g. while the reference is solved
    assert main(argv) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "mfcheck: interrupted; nothing was cached yet."
    monkeypatch.setattr(mfcheck.app.verify, "verify", _stopped_after(1, Terminated()))
    assert main(argv) == 143
    assert capsys.readouterr().err.splitlines()[-1].startswith("mfcheck: terminated (SIGTERM); 1 finished cell is cached in")
    monkeypatch.setattr(mfcheck.app.verify, "verify", _stopped_after(1, TimeLimitExceeded(2.0)))
    assert main(argv) == 124
    assert capsys.readouterr().err.splitlines()[-1].startswith("mfcheck: stopped at the time limit of 2 s (--time-limit); 1 finished cell")


def test_an_interrupted_run_without_a_cache_says_it_starts_over(monkeypatch, tmp_path, capsys):
    import mfcheck.app.verify

    monkeypatch.setattr(mfcheck.app.verify, "verify", _stopped_after(0, KeyboardInterrupt()))
    assert main(["verify", "--tier", "smoke", "--quiet", "--no-cache", "--out", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "mfcheck: interrupted; no cache was used (--no-cache): a re-run starts over."


def test_a_run_ends_with_the_count_of_damaged_cache_entries(monkeypatch, tmp_path, capsys):
    import mfcheck.app.verify

    def stopped(*args, execution, **kwargs):
        key = "ab" * 32
        execution.cache.path(key).parent.mkdir(parents=True)
        execution.cache.path(key).write_bytes(b"PK\x03\x04 truncated")
        assert execution.cache.get(key) is None
        raise KeyboardInterrupt

    monkeypatch.setattr(mfcheck.app.verify, "verify", stopped)
    assert main(["verify", "--tier", "smoke", "--quiet", "--cache", str(tmp_path), "--out", str(tmp_path / "out")]) == 130
    err = capsys.readouterr().err.splitlines()
    assert err[1].startswith(f"mfcheck: damaged cache entry {tmp_path}/ab/")
    assert err[-1].startswith(f"mfcheck: this run met 1 damaged cache entry in {tmp_path}/")


def test_gate_false_alarm_writes_its_report(tmp_path, capsys):
    out = tmp_path / "fa"
    code = main(["gate", "--false-alarm", "1", "--tier", "smoke", "--claims", "azuma", "--false-alarm-out", str(out),
                 "--executor", "serial", "--no-cache", "--quiet"])
    assert code == 0
    assert "false alarms: 0/1" in capsys.readouterr().out
    assert (out / "README.md").is_file() and (out / "summary.json").is_file()


def test_gate_false_alarm_refuses_zero_seeds(capsys):
    assert main(["gate", "--false-alarm", "0", "--executor", "serial", "--no-cache", "--quiet"]) == 2
    assert "--false-alarm" in capsys.readouterr().err


def test_reproduce_is_delegated(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "dimension", "--help"])
    assert exc.value.code == 0
    assert "--tier" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "nothing"])
    assert exc.value.code == 2


def test_version(capsys):
    from mfcheck import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"mfcheck {__version__}"


@pytest.mark.parametrize("argv, codes", [
    (["verify", "--help"], (0, 1, 2, 3, 124, 130, 143)),
    (["gate", "--help"], (0, 1, 2, 3, 124, 125, 130, 143)),
    (["calibrate", "--help"], (0, 2)),
    (["reproduce", "mmn18", "--help"], (0, 2)),
    (["reproduce", "dimension", "--help"], (0, 2)),
])
def test_each_help_lists_its_exit_codes(argv, codes, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    epilog = capsys.readouterr().out.split("exit codes:\n")[1]
    listed = [int(line.split()[0]) for line in epilog.splitlines() if line[:3].strip().isdigit()]
    assert tuple(listed) == codes
    assert all(len(line) <= 79 for line in epilog.splitlines())  # wrapped, not one long line per code


def test_gate_exit_codes_name_the_crashing_implementation():
    from mfcheck.app.cli import GATE_EXIT_CODES, VERIFY_EXIT_CODES

    assert "crashes" in GATE_EXIT_CODES[2] and "unresolved" in VERIFY_EXIT_CODES[3]


@pytest.mark.parametrize("argv", [
    ["verify"], ["gate", "--self-test"], ["calibrate", "theorem1_risk"],
])
@pytest.mark.parametrize("spelling", ["--quiet", "--no-progress"])
def test_quiet_has_one_meaning_and_two_spellings(argv, spelling):
    from mfcheck.app.cli import _parser

    assert _parser().parse_args(argv + [spelling]).quiet is True
    assert _parser().parse_args(argv).quiet is False


@pytest.mark.parametrize("spelling", ["--quiet", "--no-progress"])
@pytest.mark.parametrize("what", ["mmn18", "dimension"])
def test_reproduce_takes_quiet_too(what, spelling):
    from mfcheck.app.reproduce.cli import build_parser

    assert build_parser().parse_args([what, spelling]).quiet is True
    assert build_parser().parse_args([what]).quiet is False


def test_reproduce_refuses_an_unusable_out_at_once(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["reproduce", "mmn18", "--out", str(tmp_path / "file"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"mfcheck: error: `--out` must be a folder, got {str(tmp_path / 'file')!r}, which is an existing file."


def test_the_parsers_offer_every_tier():
    """The command line names the tiers without importing the claims; they must be the claims' tiers."""
    from mfcheck.app.options import TIER_NAMES
    from mfcheck.claims.tiers import TIERS

    assert sorted(TIER_NAMES) == sorted(TIERS)


def test_the_paths_of_a_command(tmp_path):
    """Which option is checked as what: folders written into, files written, the baseline read."""
    from mfcheck.app.cli import _parser, _paths

    def paths(argv):
        return {option: (path, kind) for option, path, kind in _paths(_parser().parse_args(argv)) if path is not None}

    assert paths(["verify", "--no-cache"]) == {"--out": ("reports", "folder")}
    assert paths(["verify", "--write-baseline", "b.json", "--cache", "c"]) == {
        "--out": ("reports", "folder"), "--write-baseline": ("b.json", "file"), "--cache": ("c", "folder")}
    assert paths(["gate", "--no-cache", "--baseline", "b.json"]) == {"--baseline": ("b.json", "input")}
    assert paths(["gate", "--no-cache", "--false-alarm", "3", "--tier", "smoke"]) == {
        "--false-alarm-out": ("reports/gate_false_alarm_smoke", "folder")}
