"""The report of the dimension-sweep claim (:mod:`mfcheck.claims.dimension_sweep`): ``report.md`` and
``dimension.png`` (each statistic against D at every fixed (N, ε), with its fitted exponent and the
shapes of MMN18 and MMM19 drawn through the fit). Every number comes from the result's ``details``
and the summary."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mfcheck.claims.base import Check
from mfcheck.claims.dimension_sweep import SHAPES
from mfcheck.report.figures import plt, save_figure
from mfcheck.report.format import fmt_ci, header, md_cell, tests_table
from mfcheck.stats.results import ClaimResult

__all__ = ["render_dimension_sweep"]

_STAT_LABEL = {"coupling": "coupling max_i sup_k ||θ_i − θ̄_i||", "test_functions": "test functions max_f sup_k |avg f − ∫f dρ| / K_f"}


def _label(N, eps) -> str:
    return f"N = {int(N)}, ε = 2^{round(math.log2(eps))}"


def _plot(d: dict, path: Path) -> None:
    stats_ = [(s, e) for s, e in d["statistics"].items() if e.get("slopes")]
    fig, axes = plt.subplots(1, max(len(stats_), 1), figsize=(6.2 * max(len(stats_), 1), 4.6), squeeze=False)
    for ax, (statistic, e) in zip(axes[0], stats_):
        cells = e["cells"]
        settings = sorted({(c["N"], c["eps"]) for c in cells})
        colors = plt.cm.viridis(np.linspace(0, 0.85, len(settings)))
        slopes = {(s["N"], s["eps"]): s for s in e.get("sweep_slopes", e["slopes"])["settings"]}
        for (N, eps), color in zip(settings, colors):
            row = sorted((c for c in cells if (c["N"], c["eps"]) == (N, eps)), key=lambda c: c["D"])
            D = np.array([c["D"] for c in row], dtype=float)
            m = np.array([c["mean_log"] for c in row])
            se = np.sqrt([c["var_mean"] for c in row])
            ok = np.array([bool(c["resolved"]) for c in row])
            ax.errorbar(D[ok], np.exp(m[ok]), yerr=[np.exp(m[ok]) - np.exp(m[ok] - 1.96 * se[ok]),
                                                    np.exp(m[ok] + 1.96 * se[ok]) - np.exp(m[ok])],
                        fmt="o", color=color, ms=4, capsize=2, label=_label(N, eps))
            if (~ok).any():
                ax.scatter(D[~ok], np.exp(m[~ok]), marker="x", color=color)
            sl = slopes.get((N, eps))
            if sl is None or ok.sum() < 2:
                continue
            w = 1 / se[ok] ** 2
            x0 = float(np.sum(w * np.log(D[ok])) / np.sum(w))
            y0 = float(np.sum(w * m[ok]) / np.sum(w))
            xs = np.linspace(np.log(D.min()), np.log(D.max()), 50)
            ax.plot(np.exp(xs), np.exp(y0 + sl["b"] * (xs - x0)), "-", color=color, lw=1.5,
                    label=f"  fit: D^{sl['b']:.2f} [{sl['ci'][0]:.2f}, {sl['ci'][1]:.2f}]")
            for name, style in (("MMN18", "--"), ("MMM19", ":")):
                shape = np.log(SHAPES[name](N, eps, np.exp(xs)))
                at0 = float(np.log(SHAPES[name](N, eps, math.exp(x0))))
                ax.plot(np.exp(xs), np.exp(y0 + shape - at0), style, color=color, lw=1.0)
        ax.plot([], [], "--", color="gray", label="MMN18 √(D + log(N/ε)), through the fit")
        ax.plot([], [], ":", color="gray", label="MMM19 (as recalled), through the fit")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("D")
        ax.set_ylabel("geometric mean of S over replicates (95 % CI)")
        ax.set_title(_STAT_LABEL.get(statistic, statistic), fontsize=9)
        ax.legend(fontsize=6.5)
    fig.tight_layout()
    save_figure(fig, path)


def render_dimension_sweep(claim: Check, result: ClaimResult, summary: dict, folder: Path) -> None:
    """Write ``report.md``, and ``dimension.png`` when the sweep was run."""
    d = result.details
    L = header(claim.title, result)
    L += ["## Claim", "", f"`{claim.statement}`", "",
          "The rate claims run at D = 3. Here N and ε are held at fixed values and D alone moves, on experiments of one form in "
          "every dimension (docs/methods.md, \"The dimension: a D-sweep at fixed N and ε\").", ""]
    if claim.outside_gate:
        L += [f"Not in the gate's default family (`mfcheck gate` runs it when named with `--claims`): {claim.outside_gate}.", ""]
    sw = d.get("sweep")
    if sw:
        L += ["## Design", "",
              "Experiment in dimension D: n = 128 points x ~ N(0, I_D), y = tanh(2 x_1) + U(−0.2, 0.2), σ* = erf(<w, x>), "
              "ρ_0 = N(0, (0.75/D) I_D) (so that <w, x> has the same law at every D; D = 3 is the default experiment), ξ ≡ 1, "
              "T = 1. Each D has its own reference on 2^" f"{sw['log2_M']} Sobol nodes, with its refinement.", "",
              f"D ∈ {{{', '.join(str(x) for x in sw['dims'])}}} at every (N, ε) ∈ {{{'; '.join(_label(*s) for s in sw['settings'])}}}, "
              f"{sw['replicates']} replicates per cell. Margins: δ_fail = {d['delta_fail']:g} (the test), δ = {d['delta']:g} "
              f"(the evidence); the exponent MMN18's factor allows: {d['envelope']:g}.", ""]
    if any(e.get("slopes") for e in d.get("statistics", {}).values()):
        L += ["## Exponent of D", "",
              "Weighted least squares of the cell means of log S (weights: the inverse variance of each mean; covariance scaled by "
              "max(1, χ²/dof)). *Per setting*: m = k_s + b_s log D, fitted together with a dispersion pooled over the settings; "
              "*common*: m = k_s + b_D log D. The test and the evidence read the per-setting exponents on the top two octaves of D, where "
              "the envelope's local exponent is largest. The MMN18 and MMM19 columns give the exponent each shape implies under the same "
              "regression on the same cells. The test (counted): H0 b_s ≤ 1/2 + δ_fail at every setting, Bonferroni over the "
              "settings; 1/2 is the largest exponent of √(aD + b log(N/ε)) for any weights a, b, which the theorem's constant "
              "absorbs. The comparison with the MMN18 column (weights 1:1) and with MMM19 is reported, not counted.", "",
              "| statistic | cells | exponent of D (95 % CI) | MMN18 shape | MMM19 shape | upper 95 % bound | p (H0 b ≤ "
              f"{d['envelope'] + d['delta_fail']:g}) |", "|---|---|---|---|---|---|---|"]
        for statistic, e in d["statistics"].items():
            if not e.get("slopes"):
                continue
            top = f"D {e['slopes']['D_min']}–{e['slopes']['D_max']}"
            for s in e["slopes"]["settings"]:
                L.append(f"| {statistic} at {_label(s['N'], s['eps'])}, {top} (tested) | {s['cells']} | {s['b']:.3f} "
                         f"{fmt_ci(s['ci'], '.3f')} | {s['implied']['MMN18']:.3f} | {s['implied']['MMM19']:.3f} | {s['upper']:.3f} | "
                         f"{s['p_value']:.3g} |")
            for s in e.get("sweep_slopes", {}).get("settings", []):
                L.append(f"| {statistic} at {_label(s['N'], s['eps'])}, whole sweep | {s['cells']} | {s['b']:.3f} "
                         f"{fmt_ci(s['ci'], '.3f')} | {s['implied']['MMN18']:.3f} | {s['implied']['MMM19']:.3f} | — | — |")
            f = e["fit"]
            L.append(f"| {statistic}, common | {f['cells']} | {f['b']:.3f} {fmt_ci(f['ci'], '.3f')} | {f['implied']['MMN18']:.3f} | "
                     f"{f['implied']['MMM19']:.3f} | — | — |")
        L += ["", "| statistic | φ per setting, top octaves | φ per setting, whole sweep | φ common |", "|---|---|---|---|"]
        for statistic, e in d["statistics"].items():
            if e.get("slopes"):
                L.append(f"| {statistic} | {e['slopes']['dispersion']:.3g} | {e.get('sweep_slopes', {}).get('dispersion', math.nan):.3g} | "
                         f"{e['fit']['dispersion']:.3g} |")
        L += ["", "![dimension](dimension.png)", ""]
    L += [*tests_table(result), ""]
    for statistic, e in d.get("statistics", {}).items():
        L += [f"## Cells: {statistic}", ""]
        if e.get("dropped"):
            L += ["Unresolved (reference error above 0.1 × the median statistic), dropped from the fits: "
                  + "; ".join(f"D = {c['D']}, {_label(c['N'], c['eps'])}" for c in e["dropped"]) + ".", ""]
        L += ["| D | N | ε | replicates | median S | mean log S | se | reference error | resolved |", "|---|---|---|---|---|---|---|---|---|"]
        for c in e["cells"]:
            L.append(f"| {c['D']} | {c['N']} | {c['eps']:.6g} | {c['R']} | {c['median']:.4g} | {c['mean_log']:.4f} | "
                     f"{math.sqrt(c['var_mean']):.3f} | {c['reference_error']:.2e} | {'yes' if c['resolved'] else 'no'} |")
        L.append("")
    pop = d.get("population")
    if pop:
        L += ["## The finite population", "",
              "The largest eigenvalue of XᵀX/n bounds the Lipschitz constant of the population's field; for n = 128 Gaussian points "
              "it is near (1 + √(D/n))² (Marchenko–Pastur), the D-dependence a finite population adds to the theorem's constants.", "",
              "| D | λ_max(XᵀX/n) | (1 + √(D/n))² |", "|---|---|---|"]
        L += [f"| {D} | {p['second_moment_top']:.3f} | {p['marchenko_pastur_edge']:.3f} |" for D, p in pop.items()]
        L.append("")
    seeds = d.get("seeds", {})
    L += ["## Setting and seeds", ""]
    for D, ex in d.get("experiments", {}).items():
        L.append(f"- D = {D}: problem `{md_cell(ex['problem'])}`, ρ_0 `{ex['rho0']}`")
    L += [f"- seeds: root entropy {seeds.get('entropy', '')}; cells {seeds.get('cell_key', '')}; {seeds.get('replicate_streams', '')}; "
          f"references: {seeds.get('reference_key', '')}",
          f"- regenerate: `{summary['command']}`", ""]
    (folder / "report.md").write_text("\n".join(L))
    if any(e.get("slopes") for e in d.get("statistics", {}).values()):
        _plot(d, folder / "dimension.png")
