r"""Noisy SGD's long-run law of |w| against the radial stationary law (docs/theory.md §5).

Noisy one-pass SGD on the two-Gaussians problem (σ the paper's, w_i^0 ~ N(0, κ²/d I_d), ξ ≡ 1):

    w_i^{k+1} = (1 − 2λε) w_i^k + 2ε (y_k − ŷ(x_k; w^k)) σ'(<w_i^k, x_k>) x_k + sqrt(c ε / β) g_i^k,

with c = 4 (``MEAN_FIELD.langevin(λ, β, c)``, :mod:`mfcheck.dynamics.rules`), whose limit has the Gibbs fixed point at β. By
spherical symmetry its law of r = |w| is

    ρ̄*(r) ∝ r^{d−1} exp(−β [ψ(r; ρ̄*) + λ r²/2])

(:func:`mfcheck.reference.radial.stationary.stationary_law`). After a burn-in T the radii |w_i| of all
replicates are pooled and compared with ρ̄* by the one-sample Kolmogorov–Smirnov test at level
``alpha``; the same sample against the law at 2β (what c = 2 would give) measures the test's
power on a wrong temperature. Caveat stated in the report: the N particles of one replicate are
exchangeable but weakly dependent (mean-field coupling), so the KS null distribution holds up to
that dependence, and the finite ε and N move the law by O(ε) and O(1/N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from mfcheck._validation import check_real
from mfcheck.model.activations import PAPER_SIGMA
from mfcheck.dynamics.rules import MEAN_FIELD
from mfcheck.app.reproduce.exact_risk import ExactRiskGaussians
from mfcheck.app.reproduce.trajectory import run_trajectory
from mfcheck.seeds import Streams

__all__ = ["NoisySetup", "NOISY_SETUP", "NoisyComparison", "compare_noisy"]


@dataclass(frozen=True)
class NoisySetup:
    """Δ, d, N, κ, β, λ, noise constant c, ε, burn-in T, replicates (pooled), KS level α."""

    delta: float = 0.8
    d: int = 40
    N: int = 100
    kappa: float = 0.8
    beta: float = 20.0
    lam: float = 0.5
    c: float = 4.0
    eps: float = 2e-5
    T: float = 8.0
    replicates: int = 4
    alpha: float = 0.01


NOISY_SETUP = NoisySetup()
"""ε is small because SGD's own gradient noise heats the law: per coordinate and step it adds a variance
about 4ε²·E[(y − ŷ)² σ'² x_j²] ≈ 180 ε² here (R ≈ 0.9, σ' = 10 on the ramp) against the injected cε/β = 0.2ε,
a relative excess of about 900ε (2 % at ε = 2e-5). The cost is the Gaussian draws, T/ε · N · d per replicate."""


@dataclass(frozen=True)
class NoisyComparison:
    """The pooled radii at T/2 and T, the SGD risk trajectory, the stationary laws and the KS tests."""

    setup: NoisySetup
    radii_half: np.ndarray  # (R, N) at T/2
    radii: np.ndarray  # (R, N) at T
    times: np.ndarray
    risk: np.ndarray  # (R, J)
    law: object  # StationaryLaw at β
    law_alt: object  # StationaryLaw at 2β
    ks: dict
    risk_law_N: float  # E R_N for N i.i.d. particles of ρ̄* (R(ρ̄*) plus the exact 1/N self-interaction term)


def _ks(sample, law) -> dict:
    res = stats.kstest(sample, law.cdf)
    return {"statistic": float(res.statistic), "p_value": float(res.pvalue), "n": int(sample.size)}


def compare_noisy(setup: NoisySetup = NOISY_SETUP, seed: int = 20180807, *, K: int = 4001) -> NoisyComparison:
    """Run noisy SGD to T (records at T/2 and T), solve ρ̄* at β and at 2β, and KS-test the pooled radii.

    ``ks`` holds, each with statistic, p-value and n: "at_beta" (the claim: not rejected at α),
    "at_2beta" (the wrong temperature: should be rejected), "half_vs_final" (two-sample KS between
    the pooled radii at T/2 and at T: the burn-in is long enough when it is not rejected).
    """
    from mfcheck.reference.radial.stationary import stationary_law

    check_real(setup.alpha, "alpha", positive=True)
    rule = MEAN_FIELD.langevin(setup.lam, setup.beta, setup.c)
    traj = run_trajectory(
        ExactRiskGaussians(setup.d, setup.delta), PAPER_SIGMA, N=setup.N, eps=setup.eps, kappa=setup.kappa,
        snapshot_times=[setup.T / 2, setup.T], records=4, replicates=setup.replicates,
        streams=Streams(seed).child("noisy", setup.d, repr(setup.beta)), rule=rule,
    )
    beta_gibbs = 4.0 * setup.beta / setup.c
    law = stationary_law(PAPER_SIGMA, setup.delta, setup.d, beta=beta_gibbs, lam=setup.lam, K=K)
    law_alt = stationary_law(PAPER_SIGMA, setup.delta, setup.d, beta=2.0 * beta_gibbs, lam=setup.lam, K=K)
    final = traj.radii[:, -1].ravel()
    half = traj.radii[:, -2].ravel()
    two = stats.ks_2samp(half, final)
    ks = {
        "at_beta": _ks(final, law),
        "at_2beta": _ks(final, law_alt),
        "half_vs_final": {"statistic": float(two.statistic), "p_value": float(two.pvalue), "n": int(final.size)},
        "alpha": setup.alpha,
        "critical_value": float(stats.kstwo.ppf(1.0 - setup.alpha, final.size)),
    }
    return NoisyComparison(setup, traj.radii[:, -2], traj.radii[:, -1], traj.times, traj.risk, law, law_alt, ks,
                           expected_finite_risk(law, setup))


def expected_finite_risk(law, setup: NoisySetup) -> float:
    r"""E R_N(w) for w_1..w_N i.i.d. with |w_i| ~ ρ̄* (uniform directions):
    R(ρ̄*) + (1/N)(∫ U(w, w) dρ̄* − ∫∫ u dρ̄* dρ̄*), with U(w, w) = E σ(<w, x>)² the self-energy of one
    neuron (:meth:`~mfcheck.reference.radial.reduction.RadialReduction.self_energy`, the diagonal terms of R_N)
    and ∫∫ u = R(ρ̄*) − 1 − 2∫ v dρ̄*."""
    from mfcheck.reference.radial.reduction import RadialReduction

    red = RadialReduction(PAPER_SIGMA, setup.delta, setup.d)
    cross = law.risk - 1.0 - 2.0 * law.mean(red.v)
    return float(law.risk + (law.mean(red.self_energy) - cross) / setup.N)


def plot_noisy(cmp: NoisyComparison, path) -> None:
    """Empirical CDF of the pooled radii against the CDF of ρ̄* at β and at 2β."""
    from mfcheck.report.figures import plt, save_figure

    s = cmp.setup
    r = np.sort(cmp.radii.ravel())
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    ax.step(r, np.arange(1, r.size + 1) / r.size, where="post", color="tab:gray", label=f"noisy SGD, t = {s.T:g} ({r.size} radii)")
    grid = np.linspace(0.0, max(r[-1], cmp.law.quantile(0.9999)) * 1.05, 600)
    ax.plot(grid, cmp.law.cdf(grid), color="tab:blue", label=f"ρ̄* at β = {4 * s.beta / s.c:g}")
    ax.plot(grid, cmp.law_alt.cdf(grid), "--", color="tab:orange", label=f"ρ̄* at 2β = {8 * s.beta / s.c:g}")
    ax.set_xlabel("|w|")
    ax.set_ylabel("CDF")
    ax.set_title(f"KS: D = {cmp.ks['at_beta']['statistic']:.3g} (p = {cmp.ks['at_beta']['p_value']:.2g}) at β; "
                 f"D = {cmp.ks['at_2beta']['statistic']:.3g} at 2β", fontsize=8)
    ax.legend(fontsize=7)
    ax = axes[1]
    t = cmp.times
    for k in range(cmp.risk.shape[0]):
        ax.plot(t, cmp.risk[k], "o-", ms=2.5, lw=0.8, color="tab:gray", alpha=0.7, label="noisy SGD R_N" if k == 0 else None)
    ax.axhline(cmp.law.risk, color="tab:blue", label="R(ρ̄*) at β")
    ax.axhline(cmp.risk_law_N, color="tab:blue", ls="--", label=f"E R_N, N = {s.N} i.i.d. from ρ̄*")
    ax.set_xlabel("t = kε")
    ax.set_ylabel("risk")
    ax.set_title(f"Δ = {s.delta}, d = {s.d}, N = {s.N}, λ = {s.lam}, β = {s.beta}, c = {s.c:g}, ε = {s.eps:g}", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
