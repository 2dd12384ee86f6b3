"""Bad input to the command line: each case ends with exit code 2 and one clear line on stderr,
before any sweep (a bad path, a bad argument, an implementation that fails its first call).

Every case is refused before the reference is solved, so the table runs in moments; should a
check regress, the case would start a smoke sweep and fail on its exit code. ``{file}`` and
``{dir}`` stand for an existing file and an existing folder; the steps are those of
:mod:`gate_steps`.
"""

from __future__ import annotations

import os

import pytest

from mfcheck.app.cli import main

GOOD = "mfcheck.app.gate:reference_step"
GATE = ["gate", "--tier", "smoke", "--claims", "azuma", "--executor", "serial", "--quiet"]
VERIFY = ["verify", "--tier", "smoke", "--executor", "serial", "--quiet"]
NO_PROC = pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc on this system")

CASES = [
    pytest.param([*VERIFY, "--out", "{file}"], 2, "`--out` must be a folder, got", id="verify-out-file"),
    pytest.param([*VERIFY, "--out", "/proc/forbidden"], 2, "'/proc/forbidden'", id="verify-out-proc", marks=NO_PROC),
    pytest.param([*VERIFY, "--out", "{file}/sub"], 2, "is a file, not a folder", id="verify-out-under-file"),
    pytest.param([*VERIFY, "--cache", "{file}"], 2, "`--cache` must be a folder, got", id="verify-cache-file"),
    pytest.param([*VERIFY, "--no-cache", "--write-baseline", "{dir}"], 2, "`--write-baseline` must be a file", id="verify-baseline-dir"),
    pytest.param([*VERIFY, "--no-cache", "--tier", "bogus"], 2, "invalid choice: 'bogus'", id="verify-tier"),
    pytest.param([*VERIFY, "--no-cache", "--alpha", "2"], 2, "`--alpha` must be in (0, 1), got 2.0", id="verify-alpha"),
    pytest.param([*GATE, "--impl", GOOD, "--no-cache", "--out", "{file}"], 2, "`--out` must be a folder, got", id="gate-out-file"),
    pytest.param([*GATE, "--impl", GOOD, "--no-cache", "--write-baseline", "/proc/x.json"], 2, "`--write-baseline` must be a path "
                 "that can be written, got '/proc/x.json'", id="gate-write-baseline-proc", marks=NO_PROC),
    pytest.param([*GATE, "--impl", GOOD, "--no-cache", "--write-baseline", "{dir}"], 2, "`--write-baseline` must be a file, got",
                 id="gate-write-baseline-dir"),
    pytest.param([*GATE, "--impl", GOOD, "--no-cache", "--baseline", "{dir}/missing.json"], 2,
                 "`--baseline` must be an existing file", id="gate-baseline-missing"),
    pytest.param([*GATE, "--impl", GOOD, "--no-cache", "--baseline", "{dir}"], 2, "`--baseline` must be a file", id="gate-baseline-dir"),
    pytest.param([*GATE, "--false-alarm", "1", "--no-cache", "--false-alarm-out", "{file}"], 2,
                 "`--false-alarm-out` must be a folder, got", id="gate-false-alarm-out-file"),
    pytest.param([*GATE, "--impl", GOOD, "--cache", "{file}"], 2, "`--cache` must be a folder, got", id="gate-cache-file"),
    pytest.param([*GATE, "--no-cache", "--impl", "nonexistent.module:f"], 2, "module 'nonexistent.module' not found", id="gate-impl-missing"),
    pytest.param([*GATE, "--no-cache", "--impl", "gate_steps:crash"], 2, "crash raised RuntimeError: boom", id="gate-impl-raises"),
    pytest.param([*GATE, "--no-cache", "--impl", "gate_steps:wrong_shape"], 2, "returned shape (2, 2, 3); expected (2, 3, 3)",
                 id="gate-impl-wrong-shape"),
    pytest.param([*GATE, "--no-cache", "--impl", "gate_steps:nan"], 2, "non-finite value(s)", id="gate-impl-nan"),
    pytest.param([*GATE, "--no-cache", "--impl", "gate_steps:noisy_crash"], 2, "noise not supported", id="gate-impl-noisy-raises"),
    pytest.param([*GATE, "--no-cache", "--self-test", "--impl", "gate_steps:crash"], 2, "crash raised", id="gate-self-test-impl-raises"),
    pytest.param([*GATE, "--no-cache", "--false-alarm", "2", "--impl", "gate_steps:nan", "--false-alarm-out", "{dir}/fa"], 2,
                 "non-finite", id="gate-false-alarm-impl-nan"),
    pytest.param([*GATE, "--no-cache"], 2, "give `--impl module:callable`", id="gate-no-impl"),
    pytest.param([*VERIFY, "--no-cache", "--time-limit", "0"], 2, "`--time-limit` must be a positive number of seconds", id="verify-time-limit-0"),
    pytest.param([*VERIFY, "--no-cache", "--time-limit", "nan"], 2, "`--time-limit` must be a positive number of seconds", id="verify-time-limit-nan"),
    pytest.param([*VERIFY, "--no-cache", "--time-limit", "soon"], 2, "argument --time-limit: invalid float value: 'soon'",
                 id="verify-time-limit-word"),
    pytest.param([*GATE, "--impl", GOOD, "--no-cache", "--time-limit", "-5"], 2, "`--time-limit` must be a positive number of seconds",
                 id="gate-time-limit-negative"),
    pytest.param([*GATE, "--impl", GOOD, "--no-cache", "--time-limit", "1e12"], 2, "(at most 1e+09), got 1000000000000.0.",
                 id="gate-time-limit-huge"),
    pytest.param([*GATE, "--impl", GOOD, "--no-cache", "--call-time-limit", "-1"], 2,
                 "`--call-time-limit` must be a positive number of seconds (at most 1e+09), or 0 for no limit, got -1.0.",
                 id="gate-call-time-limit-negative"),
    pytest.param([*GATE, "--impl", GOOD, "--no-cache", "--call-time-limit", "inf"], 2, "`--call-time-limit` must be a positive number",
                 id="gate-call-time-limit-inf"),
]


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An existing file and folder; the working directory is a fresh folder (where the default
    cache would be probed), on ``sys.path`` as the gate puts it, restored afterwards."""
    (tmp_path / "file").write_text("not a folder\n")
    (tmp_path / "dir").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return {"file": str(tmp_path / "file"), "dir": str(tmp_path / "dir")}


def _run(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        return exc.code


@pytest.mark.parametrize("argv, code, message", CASES)
def test_bad_input_is_refused_at_once(places, capsys, argv, code, message):
    before = sorted(os.listdir("."))
    assert _run([a.format(**places) for a in argv]) == code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert message in err
    assert lines[-1].startswith(("mfcheck: error: ", "mfcheck: implementation error: ", "mfcheck verify: error: "))
    if not lines[-1].startswith("mfcheck verify: error: "):  # argparse prints its usage above its error line
        assert len(lines) == 1, err
    assert "Traceback" not in err and not out
    assert sorted(os.listdir(".")) == before  # nothing created: no report folder, no cache, no probe left behind
