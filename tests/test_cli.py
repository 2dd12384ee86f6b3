"""The command line at the smoke tier: files, keys, exit codes."""

from __future__ import annotations

import json

import pytest

from mfcheck.calibrate import family_size
from mfcheck.cli import main


@pytest.fixture(scope="module")
def smoke_reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    code = main(["verify", "--tier", "smoke", "--out", str(out), "--quiet"])
    return code, out


def test_verify_writes_every_report(smoke_reports):
    code, out = smoke_reports
    assert code == 0
    index = (out / "README.md").read_text()
    for claim in ("theorem1_test_functions", "theorem1_risk", "coupling_lemma"):
        folder = out / claim
        for name in ("report.md", "rates.png", "ratio_tail.png", "summary.json"):
            assert (folder / name).stat().st_size > 0
        s = json.loads((folder / "summary.json").read_text())
        assert {"claim", "verdict", "alpha", "exponents", "reference_error", "seeds"} <= set(s)
        assert s["claim"] == claim and s["verdict"] == "pass"
        for e in s["exponents"].values():
            assert {"estimate", "ci"} <= set(e) and e["ci"][0] <= e["estimate"] <= e["ci"][1]
        assert f"{claim}/report.md" in index
        # the worst-case Holm level of the power statement counts every test the run decided
        assert s["power"]["tests_in_family"] == family_size()
        report = (folder / "report.md").read_text()
        assert "Verdict: PASS" in report and f"{s['exponents']['N']['estimate']:.3f}" in report


def test_reports_are_reproducible(smoke_reports, tmp_path):
    _, out = smoke_reports
    main(["verify", "--tier", "smoke", "--out", str(tmp_path), "--quiet"])
    a = json.loads((out / "theorem1_risk" / "summary.json").read_text())
    b = json.loads((tmp_path / "theorem1_risk" / "summary.json").read_text())
    a.pop("command"), b.pop("command")  # the command names the output folder
    assert a == b


@pytest.mark.parametrize("argv", [
    ["verify", "--tier", "huge"],
    ["verify", "--alpha", "1.5"],
    ["verify", "--seed", "-3"],
    ["verify", "--seed", "x"],
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
