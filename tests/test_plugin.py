"""The pytest plugin in a temporary user project (loaded with ``-p mfcheck.app.plugin``).

Kept cheap: the gates run only claims that need no solved Theorem 1 reference (azuma and
energy_decay); the Theorem 1 rate claims need that reference, the costliest part of a gate run,
and are exercised by properties/test_gate.py at the ci tier.
"""

from __future__ import annotations

import pytest

from mfcheck.app import plugin

pytest_plugins = "pytester"

CHEAP_CLAIMS = ["azuma", "energy_decay"]

USER_SGD = '''
import numpy as np

def step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """My mean-field SGD step."""
    x1 = x[:, None, :]
    yhat = neuron.value(x1, theta).mean(axis=-1)
    new = theta + 2 * s * neuron.pullback(x1, theta, y[:, None] - yhat)
    if noise is not None:
        new = new - 2 * lam * s * theta + np.sqrt(4 * s / beta) * noise
    return new

def ntk_step(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """1/sqrt(N) output scaling: must be rejected."""
    x1 = x[:, None, :]
    yhat = neuron.value(x1, theta).sum(axis=-1) / np.sqrt(theta.shape[1])
    return theta + 2 * s * neuron.pullback(x1, theta, y[:, None] - yhat)

def crash(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    raise RuntimeError("boom")
'''

USER_TESTS = f'''
import pytest
from mysgd import ntk_step, step

CLAIMS = {CHEAP_CLAIMS!r}

@pytest.mark.mfcheck_gate(impl="mysgd:step", tier="smoke", claims=CLAIMS)
def test_marker_accepts_my_sgd(mfcheck_verification):
    assert [r.verdict for r in mfcheck_verification.results] == ["pass", "pass"]

def test_fixture_accepts_my_sgd(mfcheck_gate):
    v = mfcheck_gate(step, claims=CLAIMS)
    assert v.exit_code == 0

def test_fixture_rejects_ntk_scaling(mfcheck_gate):
    mfcheck_gate(ntk_step, claims=CLAIMS)

@pytest.mark.mfcheck_gate(impl="mysgd:crash", claims=CLAIMS)
def test_marker_reports_a_crash():
    pass
'''


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the entry point, once installed, would load it twice
    pytester.makepyfile(mysgd=USER_SGD, test_user=USER_TESTS)
    pytester.syspathinsert()
    return pytester


def test_plugin_gates_a_user_implementation(project):
    result = project.runpytest_inprocess("-p", "mfcheck.app.plugin", "--strict-markers", plugin.TIER_OPTION, "smoke", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*test_fixture_rejects_ntk_scaling*", "*mfcheck gate: ntk_step violates 2 of 2 claims*"])
    assert "azuma: fail; smallest p =" in out and "energy_decay: fail; smallest p =" in out
    assert "implementation error: crash raised RuntimeError: boom" in out


def test_plugin_registers_its_options_and_marker(project):
    result = project.runpytest_inprocess("-p", "mfcheck.app.plugin", "--markers")
    result.stdout.fnmatch_lines([f"*@pytest.mark.{plugin.MARKER}(impl*"])
    result = project.runpytest_inprocess("-p", "mfcheck.app.plugin", "--help")
    result.stdout.fnmatch_lines([f"*{plugin.TIER_OPTION}*", f"*{plugin.ALPHA_OPTION}*"])


def test_marker_without_impl_is_a_usage_error(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile("import pytest\n@pytest.mark.mfcheck_gate(tier='smoke')\ndef test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "mfcheck.app.plugin")
    assert result.ret != 0
    assert "needs impl=" in result.stdout.str() + result.stderr.str()


BAD_CALLS = '''
import pytest
from mysgd import step

@pytest.mark.mfcheck_gate(impl="nosuchmodule_xyz:step", tier="smoke", claims=["azuma"])
def test_marker_with_a_missing_module():
    pass

@pytest.mark.mfcheck_gate(impl="mysgd:step", tier="huge", claims=["azuma"])
def test_marker_with_an_unknown_tier():
    pass

def test_fixture_with_a_bad_alpha(mfcheck_gate):
    mfcheck_gate(step, alpha=2.0, claims=["azuma"])

def test_fixture_with_a_wrong_shape(mfcheck_gate):
    mfcheck_gate("gate_steps:wrong_shape", claims=["azuma"])

@pytest.mark.mfcheck_gate(impl="gate_steps:sleepy", tier="smoke", claims=["azuma"], call_time_limit=0.5)
def test_marker_with_a_step_that_hangs():
    pass
'''


def test_bad_calls_fail_with_mfcheck_s_message_and_no_traceback(project):
    """A bad marker or fixture call is a one-paragraph failure: mfcheck's message, none of the plugin's frames.
    Each is refused before any sweep (the wrong shape and the hanging step by the first call on a tiny input)."""
    from pathlib import Path

    project.makepyfile(test_bad=BAD_CALLS)
    project.syspathinsert(Path(__file__).parent)  # gate_steps
    result = project.runpytest_inprocess("-p", "mfcheck.app.plugin", "-p", "no:cacheprovider", "test_bad.py")
    result.assert_outcomes(failed=5)
    out = result.stdout.str()
    assert "mfcheck gate: error: `impl` 'nosuchmodule_xyz:step': module 'nosuchmodule_xyz' not found" in out
    assert "mfcheck gate: error: `tier` must be one of" in out and "got 'huge'" in out
    assert "mfcheck gate: error: `alpha` must be in (0, 1), got 2.0." in out
    assert "mfcheck gate: implementation error: wrong_shape returned shape (2, 2, 3); expected (2, 3, 3)" in out
    assert "mfcheck gate: call time limit exceeded: sleepy did not return within 0.5 s" in out
    assert "Traceback" not in out and "plugin.py" not in out and "mfcheck/app/" not in out
