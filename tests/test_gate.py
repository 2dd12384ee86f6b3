"""The CI gate's pieces: loader errors, the checking wrapper and the adapter to rules, exit codes, the
self-test's catalogue of correct variants and mutants, and the baseline round trip (on a synthetic
sweep: no reference)."""

from __future__ import annotations

import functools
import importlib
import json
import math
import textwrap

import numpy as np
import pandas as pd
import pytest

from mfcheck.app import gate as G
from mfcheck.app.gate.examples import EXACT_STEPS, VANISHING_NOISE_C, VARIANTS, data_generator
from mfcheck.claims.theorem1 import CLAIMS as THEOREM1
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import default_experiment
from mfcheck.claims.fit import fit_claim
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import MEAN_FIELD, Rule, mean_field_step
from mfcheck.stats.results import decide
from mfcheck.claims.sweep import SweepResult
from mfcheck.claims.tiers import get_tier
from mfcheck.app.verify import Verification

EXPERIMENT = default_experiment(log2_M=8)
NEURON = EXPERIMENT.neuron
CLAIMS = {claim.name: claim for claim in THEOREM1}


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A throw-away user package ``usersgd`` with good and bad steps."""
    (tmp_path / "usersgd.py").write_text(textwrap.dedent("""
        import numpy as np
        from mfcheck.app.gate import reference_step as step
        NOT_CALLABLE = 3
        def crash(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
            raise RuntimeError("boom")
        def wrong_shape(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
            return theta[:, :-1]
        def nan(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
            return theta * np.nan
    """))
    (tmp_path / "broken_import.py").write_text("raise ImportError('missing dependency xyz')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "usersgd"


def _inputs(rng, R=4, N=6):
    D = EXPERIMENT.D
    return rng.normal(size=(R, N, D)), rng.normal(size=(R, 3)), rng.normal(size=R), rng.normal(size=(R, N, D))


# -- loader ---------------------------------------------------------------------------------------


def test_load_implementation_finds_the_callable(user_module):
    assert G.load_implementation(f"{user_module}:step") is G.reference_step
    assert G.load_implementation("mfcheck.app.gate:CORRECT_STEPS.get") is not None  # dotted attribute


@pytest.mark.parametrize("spec, words", [
    ("no_colon", "package.module:callable"),
    ("a:b:c", "package.module:callable"),
    ("nosuchmodule_xyz:step", "not found"),
    ("usersgd:missing", "no attribute 'missing'"),
    ("usersgd:NOT_CALLABLE", "'NOT_CALLABLE' is 3 of type int, not a callable"),
    ("broken_import:step", "ImportError"),
])
def test_load_implementation_errors_name_the_problem(user_module, spec, words):
    with pytest.raises(InvalidArgument, match="`impl`") as info:
        G.load_implementation(spec)
    assert words in str(info.value)


def test_every_broken_step_loads_by_name_as_a_protocol_step(rng):
    """``mfcheck.app.gate.mutants:NAME`` is the registry's broken step NAME written in the protocol; an initial
    sampler or an unknown name is refused with the list of names."""
    from mfcheck.app.gate import mutants

    assert mutants.names() == sorted(n for n, e in BROKEN.items() if e.replaces != "init") and "late_instability" in dir(mutants)
    theta, x, y, g = _inputs(rng)
    for name in ("late_instability", "wrong_sign_decay"):
        step = G.load_implementation(f"mfcheck.app.gate.mutants:{name}")
        np.testing.assert_array_equal(step(theta, x, y, 0.05, NEURON), BROKEN[name].rule(theta, x, y, 0.05, NEURON))
        np.testing.assert_array_equal(step(theta, x, y, 0.05, NEURON, noise=g, lam=0.5, beta=4.0),
                                      BROKEN[name].rule.noisy(0.5, 4.0)(theta, x, y, 0.05, NEURON, g))
    for name in ("correlated_init", "nope"):
        with pytest.raises(InvalidArgument, match="no attribute") as info:
            G.load_implementation(f"mfcheck.app.gate.mutants:{name}")
        assert "late_instability" in str(info.value)


# -- the checking wrapper -------------------------------------------------------------------------


def test_checked_passes_a_correct_step_through(rng):
    theta, x, y, _ = _inputs(rng)
    out = G.checked(G.reference_step)(theta, x, y, 0.1, NEURON)
    np.testing.assert_array_equal(out, mean_field_step(theta, x, y, 0.1, NEURON))


def test_checked_copies_inputs(rng):
    theta, x, y, _ = _inputs(rng)
    before = theta.copy()

    def in_place(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
        theta += 1.0
        return theta

    G.checked(in_place)(theta, x, y, 0.1, NEURON)
    np.testing.assert_array_equal(theta, before)


@pytest.mark.parametrize("name, words", [("crash", "raised RuntimeError: boom"), ("wrong_shape", "shape"), ("nan", "non-finite")])
def test_checked_raises_implementation_error(user_module, rng, name, words):
    theta, x, y, _ = _inputs(rng)
    step = G.checked(G.load_implementation(f"{user_module}:{name}"))
    with pytest.raises(G.ImplementationError, match=words):
        step(theta, x, y, 0.1, NEURON)


def test_checked_init_validates_shape():
    bad = G.checked_init(lambda rho0, rng, N: np.zeros((N + 1, rho0.D)))
    with pytest.raises(G.ImplementationError, match="shape"):
        bad(EXPERIMENT.rho0, np.random.default_rng(0), 8)
    good = G.checked_init(BROKEN["correlated_init"].rule)(EXPERIMENT.rho0, np.random.default_rng(0), 32)
    assert good.shape == (32, EXPERIMENT.D) and len(np.unique(good[:, 0])) == 2


def test_the_adapter_passes_noise_and_parameters(rng):
    theta, x, y, g = _inputs(rng)
    seen = {}

    def spy(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
        seen.update(noise=noise, lam=lam, beta=beta)
        return theta

    rule = G.as_rule(spy)
    assert isinstance(rule, Rule) and rule.name == "test_the_adapter_passes_noise_and_parameters.<locals>.spy"
    assert rule.kernel is None and rule.noise is None
    rule(theta, x, y, 0.1, NEURON)
    assert seen == {"noise": None, "lam": 0.0, "beta": None}
    rule.noisy(0.5, 4.0)(theta, x, y, 0.1, NEURON, g)
    np.testing.assert_array_equal(seen["noise"], g)
    assert (seen["lam"], seen["beta"]) == (0.5, 4.0)


def test_the_adapter_checks_every_call(user_module, rng):
    theta, x, y, g = _inputs(rng)
    rule = G.as_rule(G.load_implementation(f"{user_module}:nan"))
    with pytest.raises(G.ImplementationError, match="non-finite"):
        rule(theta, x, y, 0.1, NEURON)
    with pytest.raises(G.ImplementationError, match="non-finite"):
        rule.noisy(0.5, 4.0)(theta, x, y, 0.1, NEURON, g)


def test_a_rule_in_the_protocol_and_back_is_the_same_rule(rng):
    theta, x, y, g = _inputs(rng)
    for name in ("no_factor_two", "weak_noise"):
        rule = BROKEN[name].rule
        back = G.as_rule(G.as_protocol(rule))
        assert back.name == name
        np.testing.assert_array_equal(back(theta, x, y, 0.1, NEURON), rule(theta, x, y, 0.1, NEURON))
        np.testing.assert_array_equal(back.noisy(0.5, 4.0)(theta, x, y, 0.1, NEURON, g), rule.noisy(0.5, 4.0)(theta, x, y, 0.1, NEURON, g))


# -- exit codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["crash", "wrong_shape", "nan"])
def test_gate_command_exits_2_on_a_broken_implementation(user_module, name, capsys):
    # the first call on a tiny input, before any sweep, fails (probe)
    assert G.gate_command(f"{user_module}:{name}", "smoke", claims=["azuma"], quiet=True) == 2
    assert "implementation error" in capsys.readouterr().err


# -- the first call, on a tiny input --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(G.CORRECT_STEPS))
def test_probe_accepts_every_correct_step(name):
    G.probe(G.CORRECT_STEPS[name], EXPERIMENT)


@pytest.mark.parametrize("name", sorted(n for n in BROKEN if BROKEN[n].replaces != "init"))
def test_probe_accepts_every_mutant(name):
    """Wrong steps, but well-formed ones: judging them is the sweep's work, not the probe's."""
    G.probe(G.as_protocol(BROKEN[name].rule), EXPERIMENT)


@pytest.mark.parametrize("name, words", [("crash", "crash raised RuntimeError: boom (called with theta (2, 3, 3)"),
                                         ("wrong_shape", "wrong_shape returned shape (2, 2, 3); expected (2, 3, 3)"),
                                         ("nan", "nan returned 18 non-finite value(s)")])
def test_probe_reports_a_broken_step(user_module, name, words):
    with pytest.raises(G.ImplementationError) as info:
        G.probe(G.load_implementation(f"{user_module}:{name}"))
    assert words in str(info.value)


_SPIED = []


def _spy(theta, x, y, s, neuron, noise=None, lam=0.0, beta=None):
    """Records its calls (module-level: the probe's copy of a module-level function is the function itself)."""
    _SPIED.append((theta.shape, x.shape, y.shape, s, neuron, None if noise is None else noise.shape, lam, beta))
    return theta


def test_probe_calls_noiseless_then_noisy():
    _SPIED.clear()
    G.probe(_spy, EXPERIMENT)
    D, d = EXPERIMENT.D, EXPERIMENT.problem.d
    assert _SPIED == [((2, 3, D), (2, d), (2,), G.protocol.PROBE_S, NEURON, None, 0.0, None),
                     ((2, 3, D), (2, d), (2,), G.protocol.PROBE_S, NEURON, (2, 3, D), 0.5, 4.0)]


def test_probe_leaves_a_stateful_step_as_it_found_it(rng):
    """The harness's extra_noise mutant draws from a stream of its own: the probe must not move it on."""
    probed, fresh = (G.as_protocol(BROKEN["extra_noise"].rule) for _ in range(2))
    G.probe(probed, EXPERIMENT)
    theta, x, y, _ = _inputs(rng)
    np.testing.assert_array_equal(probed(theta, x, y, 0.1, NEURON), fresh(theta, x, y, 0.1, NEURON))


def _no_work(*args, **kwargs):
    raise AssertionError("the work started before the implementation's first call")


def test_gate_calls_the_step_before_any_work(user_module, monkeypatch):
    monkeypatch.setattr(importlib.import_module("mfcheck.app.gate.gate"), "verify", _no_work)  # the package's `gate` is the function
    with pytest.raises(G.ImplementationError, match="raised RuntimeError: boom"):
        G.gate(f"{user_module}:crash", get_tier("ci"))


def test_gate_command_calls_the_step_before_the_self_test(user_module, monkeypatch, capsys):
    monkeypatch.setattr(importlib.import_module("mfcheck.app.gate.self_test"), "self_test", _no_work)
    assert G.gate_command(f"{user_module}:nan", "smoke", run_self_test=True, quiet=True) == 2
    assert capsys.readouterr().err.startswith("mfcheck: implementation error: nan returned")


@pytest.mark.parametrize("kwargs", [dict(impl="nosuchmodule_xyz:step"), dict(impl="usersgd:step", tier="huge"),
                                    dict(impl="usersgd:step", alpha=1.5), dict(impl=None),
                                    dict(impl="usersgd:step", claims=["no_such_claim"])])
def test_gate_command_exits_2_on_usage_errors(user_module, kwargs, capsys):
    kwargs = {"tier": "smoke", "quiet": True, **kwargs}
    assert G.gate_command(kwargs.pop("impl"), kwargs.pop("tier"), **kwargs) == 2
    assert "mfcheck: error" in capsys.readouterr().err


def test_gate_rejects_bad_arguments():
    tier = get_tier("smoke")
    with pytest.raises(InvalidArgument, match="`tier`"):
        G.gate(G.reference_step, "smoke")
    with pytest.raises(InvalidArgument, match="`alpha`"):
        G.gate(G.reference_step, tier, alpha=0.0)
    with pytest.raises(InvalidArgument, match="`claims`"):
        G.gate(G.reference_step, tier, claims="azuma")
    with pytest.raises(InvalidArgument, match="`baseline`"):
        G.gate(G.reference_step, tier, claims=["azuma"], baseline="/nonexistent/baseline.json")


# -- the catalogue --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXACT_STEPS))
def test_exact_steps_agree_with_the_builtin_step(name, rng):
    step = EXACT_STEPS[name]
    for R, N in ((1, 1), (3, 7), (5, 40)):
        theta, x, y, g = _inputs(rng, R, N)
        s = float(rng.uniform(0.001, 0.2))
        np.testing.assert_allclose(step(theta, x, y, s, NEURON), mean_field_step(theta, x, y, s, NEURON), rtol=0, atol=1e-12)
        noisy = MEAN_FIELD.noisy(0.5, 4.0)(theta, x, y, s, NEURON, g)
        np.testing.assert_allclose(step(theta, x, y, s, NEURON, noise=g, lam=0.5, beta=4.0), noisy, rtol=0, atol=1e-12)


def test_float32_step_is_the_builtin_step_to_float32_rounding(rng):
    for R, N in ((1, 1), (3, 7), (5, 40)):
        theta, x, y, g = _inputs(rng, R, N)
        s = float(rng.uniform(0.001, 0.2))
        out = VARIANTS["float32"](theta, x, y, s, NEURON)
        assert out.dtype == np.float64 and np.array_equal(out, out.astype(np.float32))  # float32 values
        np.testing.assert_allclose(out, mean_field_step(theta, x, y, s, NEURON), rtol=0, atol=1e-5)
        noisy = VARIANTS["float32"](theta, x, y, s, NEURON, noise=g, lam=0.5, beta=4.0)
        np.testing.assert_allclose(noisy, MEAN_FIELD.noisy(0.5, 4.0)(theta, x, y, s, NEURON, g), rtol=0, atol=1e-5)
    assert not np.array_equal(out, mean_field_step(theta, x, y, s, NEURON))


def test_leave_one_out_step_leaves_out_the_particle_s_own_term(rng):
    theta, x, y, g = _inputs(rng, 3, 7)
    s, N = 0.05, 7
    sig = NEURON.value(x[:, None, :], theta)[:, 0, :]  # (R, N)
    expected = np.empty_like(theta)
    for r in range(3):
        for i in range(N):
            yhat_minus_i = (sig[r].sum() - sig[r, i]) / (N - 1)
            expected[r, i] = theta[r, i] + 2 * s * (y[r] - yhat_minus_i) * NEURON.grad(x[r][None], theta[r, i][None])[0, 0]
    np.testing.assert_allclose(VARIANTS["leave_one_out"](theta, x, y, s, NEURON), expected, rtol=1e-12, atol=1e-14)
    noisy = VARIANTS["leave_one_out"](theta, x, y, s, NEURON, noise=g, lam=0.5, beta=4.0)
    np.testing.assert_allclose(noisy, expected - 2 * 0.5 * s * theta + math.sqrt(4 * s / 4.0) * g, rtol=1e-12, atol=1e-14)
    # the change of ŷ is O(1/N): particle i moves by at most 2s · 2 sup|σ| · sup|σ'| ||x|| / (N − 1)
    act = NEURON.activation
    theta, x, y, _ = _inputs(rng, 4, 200)
    diff = np.linalg.norm(VARIANTS["leave_one_out"](theta, x, y, s, NEURON) - mean_field_step(theta, x, y, s, NEURON), axis=-1)
    bound = 2 * s * 2 * act.sup_norm * act.sup_prime * np.linalg.norm(x, axis=-1)[:, None] / 199
    assert diff.max() > 0 and np.all(diff <= bound * (1 + 1e-12))
    theta, x, y, _ = _inputs(rng, 2, 1)  # one particle: the reference step
    np.testing.assert_array_equal(VARIANTS["leave_one_out"](theta, x, y, s, NEURON), mean_field_step(theta, x, y, s, NEURON))


def test_vanishing_noise_adds_c_s_g_drawn_from_the_data(rng):
    """The extra term is exactly c s g with g from the generator of x; the draws are standard normal (fixed seeds; 40 000
    draws: the sample sd is within 5 % of 1 with probability 1 − 1e-50, the mean within 5 sd of 0 with α < 1e-6)."""
    theta, x, y, g = _inputs(rng, 40, 250)
    s = 0.02
    out = VARIANTS["vanishing_noise"](theta, x, y, s, NEURON)
    np.testing.assert_array_equal(out, VARIANTS["vanishing_noise"](theta, x, y, s, NEURON))  # deterministic given the inputs
    extra = out - G.reference_step(theta, x, y, s, NEURON)
    np.testing.assert_allclose(extra, VANISHING_NOISE_C * s * data_generator(theta, x).standard_normal(theta.shape), rtol=1e-12, atol=1e-15)
    z = extra / (VANISHING_NOISE_C * s)
    assert np.std(z) == pytest.approx(1.0, rel=0.05) and abs(np.mean(z)) < 5 / math.sqrt(z.size)
    noisy = VARIANTS["vanishing_noise"](theta, x, y, s, NEURON, noise=g, lam=0.5, beta=4.0)
    np.testing.assert_allclose(noisy - MEAN_FIELD.noisy(0.5, 4.0)(theta, x, y, s, NEURON, g), extra, rtol=0, atol=1e-12)
    x2 = x.copy()
    x2[0, 0] += 1e-9  # new data, new draws
    assert not np.allclose(VARIANTS["vanishing_noise"](theta, x2, y, s, NEURON), out)
    # the same sample x at a later step (a finite population repeats its points): new θ, new draws
    later = VARIANTS["vanishing_noise"](out, x, y, s, NEURON) - G.reference_step(out, x, y, s, NEURON)
    assert abs(np.corrcoef(later.ravel(), extra.ravel())[0, 1]) < 0.05  # 40 000 pairs: sd of r ≈ 0.005, α < 1e-20


@pytest.mark.parametrize("name", [n for n in G.MUTANTS + G.SUBTLE if BROKEN[n].replaces != "init"])
def test_each_self_test_mutant_in_the_protocol_differs_from_the_builtin_step(name, rng):
    step = G.as_protocol(BROKEN[name].rule)
    theta, x, y, g = _inputs(rng, 3, 16)
    noiseless = np.max(np.abs(step(theta, x, y, 0.05, NEURON) - mean_field_step(theta, x, y, 0.05, NEURON)))
    noisy = np.max(np.abs(step(theta, x, y, 0.05, NEURON, noise=g, lam=0.5, beta=4.0)
                          - MEAN_FIELD.noisy(0.5, 4.0)(theta, x, y, 0.05, NEURON, g)))
    assert noisy > 1e-3
    if BROKEN[name].replaces == "noise":  # bugs of the noisy terms only
        assert noiseless == 0.0
    else:
        assert noiseless > 1e-3


def test_catalogue_has_the_required_entries():
    assert len(G.MUTANTS) >= 7 and set(G.MUTANTS) <= set(BROKEN) and len(G.CORRECT_STEPS) >= 6
    assert G.CORRECT_STEPS == {**EXACT_STEPS, **VARIANTS}
    assert {"float32", "leave_one_out", "vanishing_noise"} <= set(VARIANTS)
    assert all(f.__doc__ and "budget" in f.__doc__ for f in VARIANTS.values())
    assert all(f.__doc__ for f in G.CORRECT_STEPS.values())
    kinds = {row[0]: row[1] for row in G.self_test.__globals__["_catalogue"]()}
    assert kinds == {**{n: "mutant" for n in G.MUTANTS}, **{n: "subtle" for n in G.SUBTLE}, **{n: "correct" for n in G.CORRECT_STEPS}}
    assert {"double_step", "slow_kicks"} <= set(G.MUTANTS) and set(G.SUBTLE) == {"plateau_drift"} and not set(G.SUBTLE) & set(G.MUTANTS)
    assert all(set(BROKEN[n].claims) <= set(G.STEP_CLAIMS + G.INIT_CLAIMS) for n in G.MUTANTS)
    assert set(G.STEP_CLAIMS[:3]) == set(CLAIMS)


# -- table and baseline (synthetic sweep) ---------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _synthetic_verification(extra_N_exponent=0.0, seed=0) -> Verification:
    """A verification whose rate claims are fitted on S = C · shape · N^{-extra} · lognormal noise
    (shape = √max(1/N, ε) times the statistic's own log factor)."""
    tier = get_tier("smoke")
    rng = np.random.default_rng(seed)
    rows = []
    for path, N, eps in tier.cells():
        for r in range(tier.replicates):
            row = {"path": path, "N": N, "eps": eps, "replicate": r}
            for c in CLAIMS.values():
                shape = math.sqrt(max(1 / N, eps)) * float(c.log_factor(np.array([N]), eps, EXPERIMENT.D, 17)[0])
                row[c.statistic] = 0.2 * shape * N ** (-extra_N_exponent if path == "N" else 0.0) * math.exp(0.15 * rng.normal())
            rows.append(row)
    table = pd.DataFrame(rows)
    claims = list(CLAIMS.values())
    results = decide([fit_claim(c, table, D=EXPERIMENT.D, T=EXPERIMENT.T, J=17, reference_error=0.0) for c in claims], 0.05)
    sweep = SweepResult(table=table, reference=None, experiment=EXPERIMENT, tier=tier)
    return Verification(results=results, claims=claims, sweep=sweep, alpha=0.05, checks=[], context=None)


def test_format_table_lists_every_claim_and_the_exponents():
    text = G.format_table(_synthetic_verification())
    for name in CLAIMS:
        assert name in text
    assert "exponent 1/N" in text and "exponent ε" in text and "family-wise α = 0.05 after Holm" in text


def test_baseline_round_trip(tmp_path):
    v = _synthetic_verification()
    doc = G.write_baseline(v, tmp_path / "b.json")
    stored = json.loads((tmp_path / "b.json").read_text())
    assert stored == json.loads(json.dumps(doc)) and stored["tier"] == "smoke"
    for name in CLAIMS:
        e = stored["claims"][name]
        assert set(e["exponents"]) == {"N", "eps"} and set(e["constants"]) == {"N", "eps"}
        for q in [*e["exponents"].values(), *e["constants"].values(), e["C_hat"]]:
            assert q["ci"][0] <= q["estimate"] <= q["ci"][1]
    assert G.compare_baseline(v, tmp_path / "b.json") == []
    assert G.compare_baseline(_synthetic_verification(seed=1), tmp_path / "b.json") == []  # a new seed: CIs overlap


def test_baseline_detects_a_moved_exponent(tmp_path):
    G.write_baseline(_synthetic_verification(), tmp_path / "b.json")
    diffs = G.compare_baseline(_synthetic_verification(extra_N_exponent=0.4, seed=1), tmp_path / "b.json")
    assert diffs and all("N-path" in d or "Ĉ" in d for d in diffs)
    assert any("exponent on the N-path moved" in d for d in diffs)


def test_compare_baseline_refuses_other_files(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(InvalidArgument, match="not an mfcheck baseline"):
        G.compare_baseline(_synthetic_verification(), tmp_path / "x.json")
    doc = G.baseline_document(_synthetic_verification())
    doc["tier"] = "ci"
    (tmp_path / "ci.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidArgument, match="tier"):
        G.compare_baseline(_synthetic_verification(), tmp_path / "ci.json")


def test_gate_verification_exit_code_counts_baseline_moves():
    v = _synthetic_verification()
    assert v.exit_code == 0
    gv = G.GateVerification(results=v.results, claims=v.claims, sweep=v.sweep, alpha=v.alpha, checks=[], context=None,
                            baseline_differences=("moved",))
    assert gv.exit_code == 1 and "baseline moved: moved" in gv.table()


def test_the_gate_accepts_vanishing_noise_on_azuma_at_smoke():
    """Extra noise of size s per step is inside the martingale budget: the azuma claim (no reference needed) passes it at the
    smoke tier. Fixed seeds (the default experiment's); family-wise α = 0.05, so a correct step fails with probability ≤ 0.05
    over seeds, and with these seeds the outcome is deterministic."""
    v = G.gate(VARIANTS["vanishing_noise"], get_tier("smoke"), claims=["azuma"])
    assert [r.claim for r in v.results] == ["azuma"] and v.results[0].verdict != "fail"
