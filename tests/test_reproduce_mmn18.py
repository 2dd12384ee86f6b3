"""Unit tests of mfcheck.app.reproduce (exact_risk, trajectory, mmn18, cli): the SGD side of the MMN18 reproductions.

The exact risk R_N(w) of :class:`ExactRiskGaussians` is checked against an independent Monte
Carlo estimate from fresh samples (a CLT test), and a problem with the wrong Δ must fail the same
test. The piecewise recording must be exactly one-pass SGD: its first segment is a plain run, and
segments continue from where the previous one stopped.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.model.activations import PAPER_SIGMA
from mfcheck.errors import InvalidArgument
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.app.reproduce import mmn18
from mfcheck.app.reproduce.cli import build_parser
from mfcheck.app.reproduce.exact_risk import ExactRiskGaussians, monte_carlo_risk
from mfcheck.app.reproduce.reference import RadialCurves
from mfcheck.app.reproduce.trajectory import RADIAL_TEST_FUNCTIONS, run_trajectory, snapshot_grid
from mfcheck.seeds import Streams
from mfcheck.dynamics.sgd import StandardRecord, run_sgd

# |exact − Monte Carlo| ≤ Z_TOL standard errors; for a normal statistic P(|Z| > 4.5) ≈ 6.8e-6 per
# comparison, ≤ 2.1e-5 for the three comparisons below (union bound).
Z_TOL = 4.5


def _weights(d, N, scale, seed):
    return np.random.default_rng(seed).standard_normal((N, d)) * scale / math.sqrt(d)


@pytest.mark.parametrize("d, delta, scale", [(10, 0.8, 0.8), (40, 0.5, 1.5), (5, 0.5, 3.0)])
def test_exact_risk_matches_monte_carlo(d, delta, scale):
    problem = ExactRiskGaussians(d, delta)
    W = _weights(d, 24, scale, seed=d)
    exact = float(problem.risk_of_prediction(problem.predict(InnerNeuron(PAPER_SIGMA), W)))
    mc, se = monte_carlo_risk(problem, PAPER_SIGMA, W, 60_000, np.random.default_rng(7))
    assert abs(exact - mc) <= Z_TOL * se, (exact, mc, se)


def test_wrong_delta_fails_the_monte_carlo_check():
    """Companion: the exact risk of a problem with Δ = 0.5 is rejected against samples of Δ = 0.8."""
    W = _weights(10, 24, 0.8, seed=10)
    wrong = ExactRiskGaussians(10, 0.5)
    exact = float(wrong.risk_of_prediction(wrong.predict(InnerNeuron(PAPER_SIGMA), W)))
    mc, se = monte_carlo_risk(ExactRiskGaussians(10, 0.8), PAPER_SIGMA, W, 60_000, np.random.default_rng(7))
    assert abs(exact - mc) > Z_TOL * se


def test_exact_risk_batches_over_replicates_and_refuses_bad_input():
    problem = ExactRiskGaussians(6, 0.5)
    neuron = InnerNeuron(PAPER_SIGMA)
    W = np.stack([_weights(6, 8, 1.0, seed=s) for s in range(3)])
    batched = problem.risk_of_prediction(problem.predict(neuron, W))
    single = [float(problem.risk_of_prediction(problem.predict(neuron, w))) for w in W]
    assert batched.shape == (3,)
    np.testing.assert_allclose(batched, single, rtol=0, atol=0)
    with pytest.raises(InvalidArgument, match="Theta"):
        problem.predict(neuron, np.zeros((4, 5)))
    with pytest.raises(InvalidArgument, match="weights"):
        problem.predict(neuron, W[0], weights=np.r_[0.5, np.full(7, 0.5 / 7)])
    with pytest.raises(InvalidArgument, match="gradient"):
        problem.grad_Psi_of_prediction(neuron, W[0], problem.predict(neuron, W[0]))


def test_snapshot_grid_rounds_to_whole_record_blocks():
    grid = snapshot_grid(2.0, 1e-3, 0.01, 6, records=8)
    assert grid[-1] == pytest.approx(2.0)
    assert np.all(np.diff(grid) > 0)
    np.testing.assert_allclose(np.round(grid / 8e-3) * 8e-3, grid, rtol=0, atol=1e-12)
    with pytest.raises(InvalidArgument, match="first"):
        snapshot_grid(1.0, 1e-3, 2.0, 3)
    with pytest.raises(InvalidArgument, match="eps"):
        snapshot_grid(1.0, 0.0, 0.1, 3)


def _small_run(snaps, records=4, replicates=2):
    problem = ExactRiskGaussians(5, 0.8)
    return run_trajectory(problem, PAPER_SIGMA, N=6, eps=0.01, kappa=0.8, snapshot_times=snaps, records=records,
                          replicates=replicates, streams=Streams(3))


def test_trajectory_first_segment_is_a_plain_sgd_run():
    tr = _small_run([0.08, 0.2])
    problem = ExactRiskGaussians(5, 0.8)
    plain = run_sgd(problem, InnerNeuron(PAPER_SIGMA), GaussianInit(5, 0.8 / math.sqrt(5)), N=6, eps=0.01, T=0.08, replicates=2,
                    streams=Streams(3).child("segment", 0), record=StandardRecord(0.02, [g.on_particles() for g in RADIAL_TEST_FUNCTIONS]))
    np.testing.assert_allclose(tr.times[:5], plain.times, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr.risk[:, :5], plain.risk, rtol=1e-12)
    np.testing.assert_allclose(tr.f_means[:, :5], plain.f_means, rtol=1e-12)
    np.testing.assert_allclose(tr.radii[:, 0], np.linalg.norm(plain.theta[:, 0], axis=-1), rtol=1e-12)
    np.testing.assert_allclose(tr.radii[:, 1], np.linalg.norm(plain.theta[:, -1], axis=-1), rtol=1e-12)


def test_trajectory_grid_and_continuation():
    tr = _small_run([0.08, 0.2], records=4)
    assert tr.times[0] == 0.0 and tr.times[-1] == pytest.approx(0.2)
    assert np.all(np.diff(tr.times) > 0)  # the boundary record appears once
    assert tr.risk.shape == (2, len(tr.times)) and tr.f_means.shape == (2, len(tr.times), len(RADIAL_TEST_FUNCTIONS))
    np.testing.assert_allclose(tr.snapshot_times, [0.0, 0.08, 0.2])
    assert tr.radii.shape == (2, 3, 6)
    # the last record's f-average is the average over the last snapshot's radii
    np.testing.assert_allclose(tr.f_means[:, -1, 0], np.tanh(tr.radii[:, -1]).mean(axis=-1), rtol=1e-12)
    # deterministic
    again = _small_run([0.08, 0.2], records=4)
    np.testing.assert_array_equal(tr.risk, again.risk)


def test_trajectory_refuses_bad_snapshots():
    with pytest.raises(InvalidArgument, match="snapshot_times"):
        _small_run([0.2, 0.1])
    with pytest.raises(InvalidArgument, match="multiples"):
        _small_run([0.105])


def _fake_reference(sigma, delta, d, kappa, times, test_functions, *, density_times=(), bins=None, quality="full"):
    """A stand-in for the radial solver (plumbing only): fixed smooth curves and a uniform density."""
    times = np.asarray(times, dtype=float)
    risk = 1.0 + 0.5 * np.exp(-times)
    f = np.stack([np.full_like(times, 0.5 + 0.1 * i) for i in range(len(test_functions))], axis=1)
    density = np.zeros((len(density_times), 0 if bins is None else len(bins) - 1))
    if bins is not None and len(bins) > 1:
        density[:] = 1.0 / (bins[-1] - bins[0])
    return RadialCurves(times=times, risk=risk, f_integrals=f, error={"risk": 1e-4, "f": 1e-4}, density_times=np.asarray(density_times),
                        bins=np.asarray(bins if bins is not None else []), density=density, solver={"name": "fake"},
                        radii=np.array([0.5, 1.5]), weights=np.array([0.5, 0.5]))


def _fake_landscape(sigma, delta, d):
    return {"delta": delta, "d": "inf" if d == math.inf else d, "r_star": 1.0, "single_radius_risk": 0.5, "global_minimum": 0.1}


@pytest.fixture()
def tiny_setups():
    base = {
        "a": mmn18.Setup("a", delta=0.8, d=6, N=10, kappa=0.8, eps=0.01, T=0.32, first=0.04, count=3, records=4),
        "b_kappa0.1": mmn18.Setup("b_kappa0.1", delta=0.5, d=8, N=10, kappa=0.1, eps=0.01, T=0.16, first=0.04, count=2, records=4),
        "b_kappa0.4": mmn18.Setup("b_kappa0.4", delta=0.5, d=8, N=10, kappa=0.4, eps=0.01, T=0.16, first=0.04, count=2, records=4),
    }
    return base


def test_reproduce_mmn18_writes_a_deterministic_folder(tmp_path, monkeypatch, tiny_setups):
    from mfcheck.app.reproduce import reference

    monkeypatch.setattr(reference, "radial_curves", _fake_reference)
    monkeypatch.setattr(reference, "landscape_numbers", _fake_landscape, raising=False)
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        s = mmn18.reproduce_mmn18(out, setups=tiny_setups, progress=False, noisy=False, gap=False)
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == sorted(["README.md", "summary.json", "a_histograms.png", "a_histograms.csv", "a_risk.png", "b_risk.png", "landscape.csv",
                            "risk_a.csv", "risk_b_kappa0.1.csv", "risk_b_kappa0.4.csv"])
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert set(s["setups"]) == {"a", "b_kappa0.1", "b_kappa0.4"}
    text = (outs[0] / "README.md").read_text()
    assert "mfcheck reproduce mmn18" in text and "global minimum" in text and "E R_N, N i.i.d. of ρ̄_T" in text
    a = s["setups"]["a"]
    from mfcheck.reference.radial.reduction import RadialReduction

    offset = RadialReduction(PAPER_SIGMA, 0.8, 6).self_interaction([0.5, 1.5], [0.5, 0.5])
    assert offset > 0 and a["risk_iid_final"] == pytest.approx(a["risk_pde_final"] + offset / tiny_setups["a"].N)
    rows = (outs[0] / "risk_a.csv").read_text().splitlines()
    assert rows[0] == "t,sgd_risk,pde_risk" and len(rows) == 1 + s["setups"]["a"]["records"]


def test_reproduce_mmn18_needs_all_setups(tmp_path):
    with pytest.raises(InvalidArgument, match="setups"):
        mmn18.reproduce_mmn18(tmp_path, setups={"a": mmn18.SETUPS["a"]}, progress=False, noisy=False, gap=False)


def test_setups_are_the_papers():
    a, b1, b4 = (mmn18.SETUPS[k] for k in ("a", "b_kappa0.1", "b_kappa0.4"))
    assert (a.delta, a.d, a.N, a.kappa) == (0.8, 40, 800, 0.8)
    assert (b1.delta, b1.d, b1.N, b1.kappa) == (0.5, 320, 800, 0.1)
    assert (b4.delta, b4.d, b4.N, b4.kappa) == (0.5, 320, 800, 0.4)
    for s in (a, b1, b4):
        assert s.snapshot_times[-1] == pytest.approx(s.T)


def test_cli_parser():
    args = build_parser().parse_args(["mmn18", "--out", "x"])
    assert args.what == "mmn18" and args.out == "x"
    args = build_parser().parse_args(["dimension", "--tier", "fast"])
    assert args.tier == "fast" and args.out == "reports/dimension"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dimension", "--tier", "huge"])


def test_noisy_comparison_structure(tmp_path):
    """Noisy SGD against the stationary law on a small, short run (plumbing; the statistical
    verdict is the report's, on the long run)."""
    from mfcheck.app.reproduce.noisy_law import NoisySetup, compare_noisy, plot_noisy
    from scipy import stats

    setup = NoisySetup(d=40, N=60, T=0.4, eps=1e-3, replicates=2, beta=20.0, lam=0.5)
    cmp = compare_noisy(setup, seed=5, K=801)
    assert cmp.radii.shape == (2, 60) and cmp.radii_half.shape == (2, 60)
    assert cmp.ks["at_beta"]["n"] == 120
    assert cmp.ks["critical_value"] == pytest.approx(stats.kstwo.ppf(0.99, 120))
    for key in ("at_beta", "at_2beta", "half_vs_final"):
        assert 0.0 <= cmp.ks[key]["p_value"] <= 1.0 and 0.0 < cmp.ks[key]["statistic"] <= 1.0
    # the law at 2β is more concentrated in ψ's wells: its CDFs differ from the law at β
    grid = np.linspace(0.5, 4.0, 50)
    assert np.max(np.abs(cmp.law.cdf(grid) - cmp.law_alt.cdf(grid))) > 0.05
    # the N diagonal terms of R_N carry E σ(<w, x>)² ≥ the pair term, so i.i.d. particles sit above R(ρ̄*)
    assert cmp.risk_law_N > cmp.law.risk
    plot_noisy(cmp, tmp_path / "noisy.png")
    assert (tmp_path / "noisy.png").stat().st_size > 0


# -- the early-time gap study (mfcheck.app.reproduce.early_gap) ----------------------------------------


def test_gap_block_is_the_mean_field_step_and_splits_the_change_of_r2():
    from mfcheck.app.reproduce.early_gap import gap_block
    from mfcheck.dynamics.kernels import sgd_block

    rng = np.random.default_rng(1)
    Th = rng.standard_normal((30, 20)) * 0.9 / math.sqrt(20)
    X, Y = rng.standard_normal((400, 20)) * 1.5, rng.choice([-1.0, 1.0], 400)
    plain = Th.copy()
    r2, acc = gap_block(plain, X, Y, 1e-2)
    ref = Th[None].copy()
    sgd_block(InnerNeuron(PAPER_SIGMA), ref, X[:, None], Y[:, None], np.full(400, 1e-2))
    np.testing.assert_allclose(plain, ref[0], rtol=0, atol=1e-12)
    change = np.mean(np.sum(plain**2, axis=1) - np.sum(Th**2, axis=1))
    assert acc[1] > 0 and acc[0] + acc[1] == pytest.approx(change, rel=1e-9)  # the two parts make the whole change of r²
    first = Th.copy()  # small steps: the first-order target |w|² + 2a<w, x> stays positive
    r2f, accf = gap_block(first, X, Y, 1e-3, first_order=True)
    np.testing.assert_allclose(np.sum(first**2, axis=1), r2f, rtol=1e-10)  # r² kept up to date
    assert np.mean(r2f - np.sum(Th**2, axis=1)) == pytest.approx(accf[0], rel=1e-9)  # only the first-order part moved r²
    with pytest.raises(InvalidArgument, match="Theta"):
        gap_block(np.zeros((3, 20), dtype=np.float32), X, Y, 1e-2)


def test_gap_study_writes_its_section(tmp_path):
    """The gap-only path on tiny cells with the real radial solver (fast settings): shapes, ε order, fits,
    the README section, and the other files of the report left alone."""
    import json

    from mfcheck.app.reproduce import early_gap as eg

    cells = (eg._cells((40, 80), (10,), (0.01, 0.005, 0.0025), replicates=2) + eg._cells((80,), (20,), (0.005,), replicates=1)
             + eg._cells((80,), (10,), (0.005,), step="first_order", replicates=2))
    study = eg.GapStudy(T=0.04, record_dt=0.01, cells=cells, main_d=80, main_N=10, quality="fast")
    out = tmp_path / "mmn18"
    out.mkdir()
    (out / "risk_a.csv").write_text("untouched\n")
    (out / "summary.json").write_text(json.dumps({"seed": 7, "command": "mfcheck reproduce mmn18 --out x", "setups": {}}, indent=2) + "\n")
    s = mmn18.reproduce_mmn18(out, seed=7, only="gap", gap=study, progress=False)
    g = s["gap"]
    assert len(g["runs"]) == 3 * 2 * 2 + 1 + 2 and len(g["cells"]) == 3 * 2 + 1 + 1
    for key in {(c["d"], c["N"], c["step"]) for c in g["cells"]}:
        eps = [c["eps"] for c in g["cells"] if (c["d"], c["N"], c["step"]) == key]
        assert eps == sorted(eps, reverse=True)  # each series in decreasing ε
    assert all(c["sup_gap"] > 0 and 0 <= c["time_of_sup"] <= study.T for c in g["cells"])
    fits = g["fits"]["sup_gap"]
    assert set(fits["per_d"]) == {"40", "80"} and fits["per_d"]["80"]["n"] == 6 and "pooled" in fits and "shift" in g["fits"]
    assert g["extrapolation"]["d"] == 80 and g["extrapolation"]["target"] > 0
    rows = (out / "gap.csv").read_text().splitlines()
    assert rows[0].startswith("d,N,eps,step,replicate,sup_gap") and len(rows) == 1 + len(g["runs"])
    assert len((out / "gap_curves.csv").read_text().splitlines()) == 1 + len(cells) * len(study.times)
    assert (out / "gap.png").stat().st_size > 0 and (out / "risk_a.csv").read_text() == "untouched\n"
    text = (out / "README.md").read_text()
    assert "## Early-time gap: measured convergence" in text and "mfcheck reproduce mmn18 --only gap" in text
    assert text == mmn18._readme(json.loads((out / "summary.json").read_text()))  # the README is a function of summary.json
    with pytest.raises(InvalidArgument, match="seed"):
        mmn18.reproduce_mmn18(out, seed=8, only="gap", gap=study, progress=False)
    with pytest.raises(InvalidArgument, match="missing"):
        mmn18.reproduce_mmn18(tmp_path / "empty", only="gap", gap=study, progress=False)


def test_cli_only_gap():
    args = build_parser().parse_args(["mmn18", "--only", "gap"])
    assert args.only == "gap" and args.out == "reports/mmn18"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["mmn18", "--only", "noisy"])
