r"""The Gaussian-separation experiments of MMN18 §3 (docs/theory.md §6): SGD beside the radial PDE.

Setups (σ = :data:`~mfcheck.model.activations.PAPER_SIGMA`, w_i^0 ~ N(0, κ²/d I_d), ξ ≡ 1):

- (a) Δ = 0.8, d = 40, N = 800, κ = 0.8: histograms of |w_i| over the PDE density ρ̄_t at several
  times, and R_N(w^k) against t = kε beside R(ρ̄_t);
- (b) Δ = 0.5, d = 320, N = 800, κ ∈ {0.1, 0.4}: R_N against t beside R(ρ̄_t) for both starts.

The SGD risk is exact for every recorded state (:class:`~mfcheck.app.reproduce.exact_risk.ExactRiskGaussians`);
the PDE is the radial solver of :mod:`mfcheck.reference.radial`, with its own error estimate stated. The long-run
risks are shown beside the optimum landscape (best single radius, best radial law).
:func:`reproduce_mmn18` writes plots, CSV tables of every plotted number, ``summary.json`` and a
``README.md`` into one folder; it is deterministic (fixed seeds, no timings, PNG metadata cleared).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from mfcheck._validation import check_positive_int, check_real
from mfcheck.model.activations import PAPER_SIGMA
from mfcheck.errors import InvalidArgument
from mfcheck.report.atomic import staged
from mfcheck.app.reproduce.exact_risk import ExactRiskGaussians
from mfcheck.app.reproduce.trajectory import RADIAL_TEST_FUNCTIONS, Trajectory, run_trajectory, snapshot_grid
from mfcheck.seeds import Streams

__all__ = ["Setup", "SETUPS", "DEFAULT_SEED", "run_setup", "reproduce_mmn18"]

DEFAULT_SEED = 20180806


@dataclass(frozen=True)
class Setup:
    """One experiment.

    - ``name``: key and file prefix; ``delta`` Δ, ``d``, ``N``, ``kappa`` κ: the paper's parameters.
    - ``eps`` ε and ``T``: SGD step scale and horizon (T/ε steps).
    - ``first``, ``count``: geometric snapshot times from ``first`` to T (:func:`snapshot_grid`).
    - ``records``: risk records per segment between snapshots.
    """

    name: str
    delta: float
    d: int
    N: int
    kappa: float
    eps: float
    T: float
    first: float = 0.05
    count: int = 10
    records: int = 8

    def __post_init__(self):
        check_real(self.delta, "delta", positive=True)
        check_positive_int(self.d, "d")
        check_positive_int(self.N, "N")
        check_real(self.kappa, "kappa", positive=True)
        check_real(self.eps, "eps", positive=True)
        check_real(self.T, "T", positive=True)

    @property
    def snapshot_times(self) -> np.ndarray:
        return snapshot_grid(self.T, self.eps, self.first, self.count, self.records)

    def scaled(self, factor: float) -> "Setup":
        """The same setup with T (and the first snapshot) multiplied by ``factor`` (for fast tests)."""
        return replace(self, T=self.T * factor, first=self.first * factor)


SETUPS = {
    s.name: s
    for s in (
        Setup("a", delta=0.8, d=40, N=800, kappa=0.8, eps=2.5e-5, T=40.0, first=0.05, count=12),
        Setup("a_eps1e-4", delta=0.8, d=40, N=800, kappa=0.8, eps=1e-4, T=40.0, first=0.05, count=12),
        Setup("b_kappa0.1", delta=0.5, d=320, N=800, kappa=0.1, eps=1e-5, T=10.0, first=0.02, count=10),
        Setup("b_kappa0.4", delta=0.5, d=320, N=800, kappa=0.4, eps=1e-5, T=10.0, first=0.02, count=10),
        Setup("b_kappa0.1_eps1e-4", delta=0.5, d=320, N=800, kappa=0.1, eps=1e-4, T=10.0, first=0.02, count=10),
        Setup("b_kappa0.4_eps1e-4", delta=0.5, d=320, N=800, kappa=0.4, eps=1e-4, T=10.0, first=0.02, count=10),
    )
}
"""The paper's setups with the ε and horizon used here. Each is also run at the coarser ε = 1e-4
(``*_eps1e-4``) to show how SGD approaches the PDE as ε falls; at d = 320 the early phase needs ε ≈ 1e-5."""

MAIN = ("a", "b_kappa0.1", "b_kappa0.4")
COARSE = {"a": "a_eps1e-4", "b_kappa0.1": "b_kappa0.1_eps1e-4", "b_kappa0.4": "b_kappa0.4_eps1e-4"}


def run_setup(setup: Setup, seed: int = DEFAULT_SEED, replicates: int = 1) -> Trajectory:
    """SGD for one setup; its seed tree is ``Streams(seed).child("mmn18", setup.name)``."""
    problem = ExactRiskGaussians(setup.d, setup.delta)
    return run_trajectory(
        problem, PAPER_SIGMA, N=setup.N, eps=setup.eps, kappa=setup.kappa, snapshot_times=setup.snapshot_times,
        records=setup.records, replicates=replicates, streams=Streams(seed).child("mmn18", setup.name),
    )


HISTOGRAM_PANELS = 6
HISTOGRAM_BINS = 60


def _histogram_indices(n_snapshots: int, panels: int = HISTOGRAM_PANELS) -> list[int]:
    """``panels`` snapshot indices spread over 0 … n−1 (first and last included)."""
    return sorted(set(np.round(np.linspace(0, n_snapshots - 1, min(panels, n_snapshots))).astype(int).tolist()))


def _write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow([f"{v:.10g}" if isinstance(v, float | np.floating) else v for v in row])


def _landscape(deltas_dims) -> list[dict]:
    """Best single-radius risk and global minimum over radial laws for each (Δ, d) (from :mod:`mfcheck.reference.radial.landscape`)."""
    from mfcheck.app.reproduce.reference import landscape_numbers

    return [landscape_numbers(PAPER_SIGMA, delta, d) for delta, d in deltas_dims]


@dataclass(frozen=True)
class SetupResult:
    """One setup's SGD run beside its radial reference (same record times)."""

    setup: Setup
    trajectory: Trajectory
    reference: object  # mfcheck.app.reproduce.reference.RadialCurves
    histogram_times: np.ndarray
    bins: np.ndarray
    sgd_density: np.ndarray  # (S, B)


def compare_setup(setup: Setup, seed: int = DEFAULT_SEED, *, histograms: bool = False, quality: str = "report") -> SetupResult:
    """Run SGD and the radial PDE of one setup on the same times; with ``histograms``, also the
    density of |w_i| (SGD) and of ρ̄_t (PDE) on common bins at a few snapshot times."""
    from mfcheck.app.reproduce.reference import radial_curves

    traj = run_setup(setup, seed)
    if histograms:
        idx = _histogram_indices(len(traj.snapshot_times))
        h_times = traj.snapshot_times[idx]
        r_top = float(np.max(traj.radii[0, idx]))
        bins = np.linspace(0.0, math.ceil(1.05 * r_top * 2.0) / 2.0, HISTOGRAM_BINS + 1)
        sgd_density = np.stack([np.histogram(traj.radii[0, i], bins=bins, density=False)[0] / (setup.N * np.diff(bins)) for i in idx])
    else:
        h_times, bins, sgd_density = np.zeros(0), np.zeros(0), np.zeros((0, 0))
    ref = radial_curves(
        PAPER_SIGMA, setup.delta, setup.d, setup.kappa, traj.times, RADIAL_TEST_FUNCTIONS,
        density_times=h_times, bins=bins if histograms else None, quality=quality,
    )
    return SetupResult(setup, traj, ref, h_times, bins, sgd_density)


def _plot_risk(groups: list[tuple[SetupResult, SetupResult | None]], path: Path, title: str) -> None:
    """Risk against t on log axes: per group the PDE curve, SGD at the main ε (dots) and at the coarse ε (crosses)."""
    from mfcheck.report.figures import plt, save_figure

    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    colors = ("tab:blue", "tab:red", "tab:green", "tab:purple")
    for (main, coarse), color in zip(groups, colors):
        lab = f"κ = {main.setup.kappa}"
        t = main.trajectory.times
        pos = t > 0
        ax.plot(t[pos], main.reference.risk[pos], "-", color=color, lw=1.3, label=f"PDE, {lab}")
        ax.plot(t[pos], main.trajectory.risk[0, pos], "o", ms=2.5, color=color, alpha=0.8, label=f"SGD ε = {main.setup.eps:g}, {lab}")
        if coarse is not None:
            tc = coarse.trajectory.times
            pc = tc > 0
            ax.plot(tc[pc], coarse.trajectory.risk[0, pc], "x", ms=3, color=color, alpha=0.45, label=f"SGD ε = {coarse.setup.eps:g}, {lab}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("t = kε")
    ax.set_ylabel("risk")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def _plot_histograms(res: SetupResult, path: Path) -> None:
    from mfcheck.report.figures import plt, save_figure

    S = len(res.histogram_times)
    cols = 3
    rows = math.ceil(S / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(11, 3.2 * rows), squeeze=False)
    centers = 0.5 * (res.bins[1:] + res.bins[:-1])
    for k, ax in enumerate(axes.ravel()):
        if k >= S:
            ax.axis("off")
            continue
        ax.bar(centers, res.sgd_density[k], width=np.diff(res.bins), color="tab:gray", alpha=0.6, label=f"SGD, N = {res.setup.N}")
        ax.plot(centers, res.reference.density[k], color="tab:blue", lw=1.3, label="PDE ρ̄_t")
        ax.set_title(f"t = {res.histogram_times[k]:.4g}", fontsize=9)
        ax.set_xlabel("|w|")
        if k % cols == 0:
            ax.set_ylabel("density")
        if k == 0:
            ax.legend(fontsize=7)
    s = res.setup
    fig.suptitle(f"law of |w_i|: Δ = {s.delta}, d = {s.d}, N = {s.N}, κ = {s.kappa}, ε = {s.eps:g}")
    fig.tight_layout()
    save_figure(fig, path)


def _tail_mean(t, v, frac=0.2):
    """Mean of v over the last ``frac`` of the time span (the settled regime)."""
    t = np.asarray(t)
    sel = t >= t[-1] * (1.0 - frac)
    return float(np.mean(np.asarray(v)[sel]))


def _self_interaction(setup: Setup, ref) -> float:
    """N (E R_N − R(ρ̄_T)) for N i.i.d. particles of the PDE's final law (the reference's last particles)."""
    from mfcheck.reference.radial.reduction import RadialReduction

    return RadialReduction(PAPER_SIGMA, setup.delta, setup.d).self_interaction(ref.radii, ref.weights)


def _setup_summary(res: SetupResult) -> dict:
    tr, ref = res.trajectory, res.reference
    diff = np.abs(tr.risk[0] - ref.risk)
    return {
        "setup": asdict(res.setup),
        "snapshot_times": [float(t) for t in tr.snapshot_times],
        "steps": int(round(res.setup.T / res.setup.eps)),
        "records": int(len(tr.times)),
        "risk_sgd_final": float(tr.risk[0, -1]),
        "risk_pde_final": float(ref.risk[-1]),
        "risk_iid_final": float(ref.risk[-1] + _self_interaction(res.setup, ref) / res.setup.N),
        "risk_sgd_settled": _tail_mean(tr.times, tr.risk[0]),
        "risk_pde_settled": _tail_mean(tr.times, ref.risk),
        "sup_abs_risk_difference": float(diff.max()),
        "time_of_sup": float(tr.times[int(np.argmax(diff))]),
        "sup_abs_f_difference": [float(v) for v in np.max(np.abs(tr.f_means[0] - ref.f_integrals), axis=0)],
        "test_functions": [g.name for g in RADIAL_TEST_FUNCTIONS],
        "reference_error": {k: float(v) for k, v in ref.error.items()},
        "reference_solver": ref.solver,
        "radius_quantiles_final": {q: float(np.quantile(tr.radii[0, -1], q)) for q in (0.1, 0.5, 0.9)},
    }


def _fmt(v, digits=4):
    return f"{v:.{digits}g}"


def _readme(summary: dict) -> str:
    lines = [
        "# MMN18 §3 reproduced: separating two isotropic Gaussians, SGD beside the radial PDE",
        "",
        "Setting (docs/theory.md §6): y = ±1 with probability 1/2, x ~ N(0, (1 ± Δ)² I_d); σ*(x; w) = σ(<w, x>) with the paper's",
        "piecewise-linear σ (t1 = 0.5, t2 = 1.5, s1 = −2.5, s2 = 7.5); w_i^0 ~ N(0, κ²/d I_d); ξ ≡ 1; one-pass SGD",
        "w_i^{k+1} = w_i^k + 2ε (y_k − ŷ(x_k; w^k)) σ'(<w_i^k, x_k>) x_k, plotted against t = kε.",
        "",
        "- **SGD risk**: R_N(w^k) exact for every recorded state (closed forms of `mfcheck.reference.radial`, no Monte Carlo).",
        "- **PDE**: ∂_t ρ̄_t = 2ξ ∂_r(ρ̄_t ∂_r ψ(r; ρ̄_t)) for the law of r = |w|, from the law of |w^0| (κ √(χ²_d/d)), "
        "solved by `mfcheck.reference.radial.solver`; its error, measured by the solver's refinement, is stated below.",
        f"- Seeds: `Streams({summary['seed']}).child(\"mmn18\", <setup>)`, segment j of a run reads its samples from "
        "`.child(\"segment\", j)` (one pass: no sample is reused).",
        "",
        "## Parameters (ε and horizon chosen here; the paper's values of Δ, d, N, κ)",
        "",
        "| setup | Δ | d | N | κ | ε | T | SGD steps | records |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["setups"].items():
        p = s["setup"]
        lines.append(f"| {name} | {p['delta']} | {p['d']} | {p['N']} | {p['kappa']} | {p['eps']:g} | {p['T']:g} | {s['steps']} | {s['records']} |")
    lines += [
        "",
        "## (a) Δ = 0.8, d = 40, N = 800, κ = 0.8: the law of |w_i| over the PDE density",
        "",
        "![histograms](a_histograms.png)",
        "",
        "![risk (a)](a_risk.png)",
        "",
        "## (b) Δ = 0.5, d = 320, N = 800, κ ∈ {0.1, 0.4}: risk against time",
        "",
        "![risk (b)](b_risk.png)",
        "",
        "## Agreement",
        "",
        "| setup | sup_t |R_N − R(ρ̄_t)| | at t | PDE error (risk) | settled risk, SGD | settled risk, PDE | final risk, SGD | final risk, PDE | "
        "E R_N, N i.i.d. of ρ̄_T |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["setups"].items():
        lines.append(
            f"| {name} | {_fmt(s['sup_abs_risk_difference'], 3)} | {_fmt(s['time_of_sup'], 3)} | {_fmt(s['reference_error'].get('risk', float('nan')), 2)} | "
            f"{_fmt(s['risk_sgd_settled'])} | {_fmt(s['risk_pde_settled'])} | {_fmt(s['risk_sgd_final'])} | {_fmt(s['risk_pde_final'])} | "
            f"{_fmt(s['risk_iid_final'])} |"
        )
    lines += [
        "",
        "\"Settled\" is the mean over the last 20 % of the horizon. The last column is the exact risk expected of N particles "
        "drawn i.i.d. from the PDE's final law: E R_N = R(ρ̄_T) + (∫ E σ(<w, x>)² dρ̄_T − ∫∫ u dρ̄_T dρ̄_T)/N, the 1/N "
        "self-interaction of the N diagonal terms of R_N (`RadialReduction.self_interaction`). SGD's particles are not "
        "independent, so it is the size of the finite-N offset, not a prediction of SGD's risk.",
        "",
    ]
    if summary.get("gap"):
        from mfcheck.app.reproduce.early_gap import readme_section

        lines += readme_section(summary["gap"])
    if summary.get("landscape"):
        lines += [
            "## Long-run risk beside the optimum landscape",
            "",
            "From `mfcheck.reference.radial.landscape`: the best single radius (R(δ_r) = 1 + 2v(r) + u(r, r), δ_r uniform on the sphere) and "
            "the minimum of the convex R over radial laws on a grid of [0, 10] plus a far point r = 10⁶ standing for r = ∞ "
            "(certified optimality gap in summary.json). SGD and PDE values are the settled risks of the setups with that (Δ, d).",
            "",
            "| Δ | d | best single radius r* | R(δ_{r*}) | global minimum of R over radial laws | SGD settled risk | PDE settled risk |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in summary["landscape"]:
            d = row["d"]
            lines.append(
                f"| {row['delta']} | {d} | {_fmt(row['r_star'])} | {_fmt(row['single_radius_risk'])} | {_fmt(max(row['global_minimum'], 0.0), 3)} | "
                f"{row.get('sgd_settled', '')} | {row.get('pde_settled', '')} |"
            )
        lines.append("")
    if summary.get("noisy"):
        n = summary["noisy"]
        p = n["setup"]
        ks = n["ks"]
        verdict = "not rejected" if ks["at_beta"]["p_value"] > ks["alpha"] else "REJECTED"
        lines += [
            "## Noisy SGD's long-run law of |w| against the radial stationary law",
            "",
            f"Noisy SGD w ← (1 − 2λε) w + 2ε (y − ŷ) σ'(<w, x>) x + √(cε/β) g with Δ = {p['delta']}, d = {p['d']}, N = {p['N']}, "
            f"κ = {p['kappa']}, λ = {p['lam']}, β = {p['beta']}, c = {p['c']:g}, ε = {p['eps']:g}, run to t = {p['T']:g}; the radii of "
            f"{p['replicates']} independent replicates are pooled (n = {ks['at_beta']['n']}). The stationary law "
            f"ρ̄*(r) ∝ r^(d−1) exp(−β'[ψ(r; ρ̄*) + λr²/2]) at β' = 4β/c = {n['gibbs_beta']:g} is solved self-consistently "
            f"(`mfcheck.reference.radial.stationary`, fixed-point residual {n['law']['residual']:.1e}, grid error of the CDF "
            f"{n['law']['grid_error'].get('cdf', float('nan')):.1e}).",
            "",
            f"Kolmogorov–Smirnov at α = {ks['alpha']} (critical value {ks['critical_value']:.4f}):",
            "",
            "| comparison | D | p | decision |",
            "|---|---|---|---|",
            f"| SGD radii vs ρ̄* at β' (the claim) | {ks['at_beta']['statistic']:.4f} | {ks['at_beta']['p_value']:.3g} | {verdict} |",
            f"| SGD radii vs ρ̄* at 2β' (wrong temperature, power) | {ks['at_2beta']['statistic']:.4f} | {ks['at_2beta']['p_value']:.3g} | "
            f"{'rejected' if ks['at_2beta']['p_value'] <= ks['alpha'] else 'not rejected'} |",
            f"| radii at t = T/2 vs t = T (burn-in, two-sample) | {ks['half_vs_final']['statistic']:.4f} | {ks['half_vs_final']['p_value']:.3g} | "
            f"{'rejected' if ks['half_vs_final']['p_value'] <= ks['alpha'] else 'not rejected'} |",
            "",
            f"Quantiles (10/50/90 %) of |w|: SGD {', '.join(f'{v:.3f}' for v in n['quantiles_sgd'])}; ρ̄* "
            f"{', '.join(f'{v:.3f}' for v in n['quantiles_law'])}. Risk at t = T: SGD "
            f"{', '.join(f'{v:.4f}' for v in n['risk_sgd_final'])}; R(ρ̄*) = {n['risk_stationary']:.4f}, and E R_N = "
            f"{n['risk_stationary_finite_N']:.4f} for N i.i.d. particles of ρ̄* (R(ρ̄*) plus the exact 1/N self-interaction term; "
            f"at 2β': R = {n['risk_stationary_2beta']:.4f}).",
            "The particles of one replicate are exchangeable but weakly dependent, so the KS null distribution holds up to "
            "that dependence; finite ε and N move the law by O(ε) and O(1/N).",
            "",
            "![noisy](noisy.png)",
            "",
        ]
    lines += [
        "## Files",
        "",
        "- `a_histograms.csv`: time, bin_lo, bin_hi, SGD density, PDE density (the histogram panels).",
        "- `risk_<setup>.csv`: t, SGD risk, PDE risk (the risk plots).",
        "- `landscape.csv`: the landscape table; `noisy_cdf.csv`: the pooled radii with the empirical CDF and both laws' CDFs;",
        "  `summary.json`: every number of this page.",
    ]
    if summary.get("gap"):
        lines += [
            "- `gap.csv`: one row per run of the early-time gap study (sup gap, its time, the shift, the predicted and measured",
            "  ratios λ, the accumulated first- and second-order parts of the mean r² change at the time of the sup);",
            "  `gap_curves.csv`: cell, t, SGD risk (mean over replicates), PDE risk (the curves behind `gap.png`).",
        ]
    lines += [
        "",
        "## Regenerate",
        "",
        f"    {summary['command']}",
        "",
    ]
    if summary.get("gap"):
        lines += [
            "The early-time gap section alone (the other files stay as they are):",
            "",
            f"    {summary['gap']['command']}",
            "",
        ]
    lines += [
        "(deterministic: fixed seeds, no timings; the PNG files carry no software metadata).",
        "",
    ]
    return "\n".join(lines)


def reproduce_mmn18(
    out="reports/mmn18", *, seed: int = DEFAULT_SEED, setups: dict | None = None, quality: str = "report", landscape: bool = True,
    noisy=True, gap=True, only: str | None = None, command: str = "mfcheck reproduce mmn18 --out reports/mmn18",
    gap_command: str = "mfcheck reproduce mmn18 --only gap --out reports/mmn18", progress: bool = True,
) -> dict:
    """Run setups (a) and (b), compare with the radial PDE, and write the report folder ``out``.

    **Arguments:**

    - ``out``: the folder (created); the files of this run replace those of the same name once all are written
      (:func:`mfcheck.report.atomic.staged`), other files stay.
    - ``seed``: root entropy of every run's seed tree.
    - ``setups``: ``{name: Setup}``, default :data:`SETUPS` (needs the keys of :data:`MAIN`; the coarse-ε
      companions of :data:`COARSE` are drawn when present).
    - ``quality``: settings of the radial solver (a key of :data:`mfcheck.app.reproduce.reference.QUALITY`).
    - ``landscape``: also compute the optimum landscape for both Δ (at the setups' d and d = ∞).
    - ``noisy``: also compare noisy SGD's long-run law of |w| with the radial stationary law
      (``True`` for :data:`~mfcheck.app.reproduce.noisy_law.NOISY_SETUP`, a
      :class:`~mfcheck.app.reproduce.noisy_law.NoisySetup`, or ``False``).
    - ``gap``: also measure the early-time gap of setup (b), κ = 0.1, across ε, d and N
      (``True`` for :data:`~mfcheck.app.reproduce.early_gap.GAP_STUDY`, a
      :class:`~mfcheck.app.reproduce.early_gap.GapStudy`, or ``False``).
    - ``only``: ``"gap"`` runs the gap study alone: the other numbers are read from ``out/summary.json`` (which must
      exist), and only ``summary.json``, ``README.md`` and the gap files are rewritten.
    - ``command``, ``gap_command``: the command lines printed in the README as the ways to regenerate.

    Returns the summary written to ``summary.json``.
    """
    from tqdm.auto import tqdm

    if only is not None:
        if only != "gap":
            raise InvalidArgument(f"`only` must be None or 'gap', got {only!r}.")
        return _reproduce_gap_only(Path(out), seed, gap, gap_command, progress)
    setups = dict(SETUPS if setups is None else setups)
    missing = set(MAIN) - set(setups)
    if missing:
        raise InvalidArgument(f"`setups` lacks {sorted(missing)}.")
    out = Path(out)
    results = {}
    for name in tqdm(list(setups), desc="mmn18 setups", disable=not progress, leave=False):
        results[name] = compare_setup(setups[name], seed, histograms=(name == "a"), quality=quality)

    with staged(out) as folder:  # written all at once: a failure leaves the previous report
        a = results["a"]
        _plot_histograms(a, folder / "a_histograms.png")
        rows = []
        for k, t in enumerate(a.histogram_times):
            for b in range(len(a.bins) - 1):
                rows.append((float(t), float(a.bins[b]), float(a.bins[b + 1]), float(a.sgd_density[k, b]), float(a.reference.density[k, b])))
        _write_csv(folder / "a_histograms.csv", ["t", "bin_lo", "bin_hi", "sgd_density", "pde_density"], rows)
        _plot_risk([(a, results.get(COARSE["a"]))], folder / "a_risk.png", f"(a) Δ = {a.setup.delta}, d = {a.setup.d}, N = {a.setup.N}, κ = {a.setup.kappa}")
        b = [(results[k], results.get(COARSE[k])) for k in ("b_kappa0.1", "b_kappa0.4")]
        _plot_risk(b, folder / "b_risk.png", f"(b) Δ = {b[0][0].setup.delta}, d = {b[0][0].setup.d}, N = {b[0][0].setup.N}, κ ∈ {{0.1, 0.4}}")
        for name, res in results.items():
            _write_csv(folder / f"risk_{name}.csv", ["t", "sgd_risk", "pde_risk"],
                       [(float(t), float(r), float(p)) for t, r, p in zip(res.trajectory.times, res.trajectory.risk[0], res.reference.risk)])

        summary = {"seed": seed, "command": command, "quality": quality, "setups": {n: _setup_summary(r) for n, r in results.items()}}
        if landscape:
            pairs = [(0.8, 40), (0.8, math.inf), (0.5, 320), (0.5, math.inf)]
            land = _landscape(pairs)
            settled = {}
            for name, s in summary["setups"].items():
                key = (s["setup"]["delta"], s["setup"]["d"])
                settled.setdefault(key, []).append((name, s["risk_sgd_settled"], s["risk_pde_settled"]))
            for row in land:
                hits = settled.get((row["delta"], row["d"]), [])
                row["sgd_settled"] = "; ".join(f"{n}: {_fmt(v)}" for n, v, _ in hits)
                row["pde_settled"] = "; ".join(f"{n}: {_fmt(v)}" for n, _, v in hits)
            summary["landscape"] = land
            _write_csv(folder / "landscape.csv", ["delta", "d", "r_star", "single_radius_risk", "global_minimum", "sgd_settled", "pde_settled"],
                       [(float(r["delta"]), str(r["d"]), float(r["r_star"]), float(r["single_radius_risk"]), float(r["global_minimum"]),
                         r["sgd_settled"], r["pde_settled"]) for r in land])
        if noisy:
            summary["noisy"] = _noisy_section(noisy, seed, folder)
        if gap:
            summary["gap"] = _gap_section(gap, seed, folder, gap_command, progress)
        (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default, sort_keys=False) + "\n")
        (folder / "README.md").write_text(_readme(summary))
    return summary


def _gap_section(gap, seed: int, folder: Path, command: str, progress: bool) -> dict:
    from mfcheck.app.reproduce.early_gap import GAP_STUDY, GapStudy, run_gap_study, write_gap_section

    study = gap if isinstance(gap, GapStudy) else GAP_STUDY
    return {"command": command, **write_gap_section(run_gap_study(study, seed, progress=progress), folder)}


def _reproduce_gap_only(out: Path, seed: int, gap, command: str, progress: bool) -> dict:
    """The gap study alone, added to the report in ``out`` (its ``summary.json`` holds every other number)."""
    path = out / "summary.json"
    if not path.is_file():
        raise InvalidArgument(f"`only`='gap' adds to an existing report; {str(path)!r} is missing (run the whole report first).")
    summary = json.loads(path.read_text())
    if summary.get("seed") != seed:
        raise InvalidArgument(f"The report in {str(out)!r} was made with seed {summary.get('seed')}, not {seed}.")
    with staged(out) as folder:
        summary["gap"] = _gap_section(gap or True, seed, folder, command, progress)
        (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default, sort_keys=False) + "\n")
        (folder / "README.md").write_text(_readme(summary))
    return summary


def _noisy_section(noisy, seed: int, out: Path) -> dict:
    from mfcheck.app.reproduce.noisy_law import NOISY_SETUP, NoisySetup, compare_noisy, plot_noisy

    setup = noisy if isinstance(noisy, NoisySetup) else NOISY_SETUP
    cmp = compare_noisy(setup, seed)
    plot_noisy(cmp, out / "noisy.png")
    r = np.sort(cmp.radii.ravel())
    _write_csv(out / "noisy_cdf.csv", ["r", "sgd_ecdf", "law_cdf_beta", "law_cdf_2beta"],
               [(float(x), float((k + 1) / r.size), float(cmp.law.cdf(x)), float(cmp.law_alt.cdf(x))) for k, x in enumerate(r)])
    return {
        "setup": asdict(setup), "ks": cmp.ks, "gibbs_beta": 4.0 * setup.beta / setup.c,
        "risk_sgd_final": [float(v) for v in cmp.risk[:, -1]], "risk_stationary": float(cmp.law.risk),
        "risk_stationary_2beta": float(cmp.law_alt.risk), "risk_stationary_finite_N": float(cmp.risk_law_N),
        "law": {"residual": float(cmp.law.residual), "grid_error": cmp.law.grid_error, "settings": cmp.law.settings},
        "quantiles_sgd": [float(np.quantile(r, q)) for q in (0.1, 0.5, 0.9)],
        "quantiles_law": [float(cmp.law.quantile(q)) for q in (0.1, 0.5, 0.9)],
    }


def _json_default(v):
    if isinstance(v, np.floating | np.integer):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)
