"""The report of the hinge claim (:mod:`mfcheck.claims.hinge`): ``report.md``, ``heatmap.png`` (the
statistic over the N × ε grid with the fitted surfaces), ``regions.png`` (the two sides of the kink
with their region fits) and ``logfactor.png`` (the strength γ of the log factor in each region,
:mod:`mfcheck.claims.log_factor`). Every number comes from the result's ``details`` and the summary."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mfcheck.claims.base import Check
from mfcheck.report.figures import plt, save_figure
from mfcheck.report.format import fmt_ci, header, md_cell, tests_table
from mfcheck.stats.results import ClaimResult

__all__ = ["render_hinge"]

_REGION_NAMES = {"N": "N-region", "eps": "ε-region"}


def _grid(cells: list[dict]):
    Ns = sorted({c["N"] for c in cells})
    es = sorted({c["eps"] for c in cells})
    Z = np.full((len(es), len(Ns)), np.nan)
    for c in cells:
        Z[es.index(c["eps"]), Ns.index(c["N"])] = c["mean_log"] - c["log_own"]
    return np.log2(Ns), np.log2(es), Z


def _edges(x: np.ndarray) -> np.ndarray:
    step = np.diff(x).mean() if len(x) > 1 else 1.0
    return np.concatenate([x - step / 2, [x[-1] + step / 2]])


def _plot_heatmap(d: dict, path: Path) -> None:
    cells = d["cells"]
    x, y, Z = _grid(cells)
    fig, ax = plt.subplots(figsize=(7.2, 6.4))
    mesh = ax.pcolormesh(_edges(x), _edges(y), Z, cmap="viridis", shading="flat")
    fig.colorbar(mesh, ax=ax, label="mean log S − log L over the replicates of a cell")
    for c in cells:
        mark = "" if c["resolved"] else " ×"
        region = {"N": "N-region", "eps": "ε-region"}.get(c["region"], "")
        ax.text(math.log2(c["N"]), math.log2(c["eps"]), f"{c['median']:.3g}{mark}\n{region}", ha="center", va="center", fontsize=6.5,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.6, "linewidth": 0})
    xx, yy = np.meshgrid(np.linspace(x[0] - 0.5, x[-1] + 0.5, 200), np.linspace(y[0] - 0.5, y[-1] + 0.5, 200))
    N, eps = 2.0**xx, 2.0**yy
    levels = np.linspace(np.nanmin(Z), np.nanmax(Z), 8)
    models = d.get("models", {})
    for name, style, shape in (("hinge", "-", 0.5 * np.log(np.maximum(1 / N, eps))), ("sum", "--", 0.5 * np.log(1 / N + eps))):
        if name in models:
            ax.contour(xx, yy, models[name]["params"][0] + shape, levels=levels, colors="black" if name == "hinge" else "tab:orange",
                       linestyles=style, linewidths=0.9)
    ax.plot([], [], "-", color="black", label="fitted predicted hinge k·√max(1/N, ε) (contours)")
    ax.plot([], [], "--", color="tab:orange", label="fitted sum k·√(1/N + ε) (contours)")
    kink = d["grid"]["kink"]
    xs = np.array([x[0] - 0.5, x[-1] + 0.5])
    for shift, style, label in ((0.0, "-", "kink Nε = 1"), (-math.log2(kink), ":", f"region edges Nε = {kink:g}^(±1)"),
                                (math.log2(kink), ":", None)):
        ax.plot(xs, shift - xs, style, color="tab:red", lw=1.2, label=label)
    ax.set_xlim(xs)
    ax.set_ylim(y[0] - 0.5, y[-1] + 0.5)
    ax.set_xlabel("log2 N")
    ax.set_ylabel("log2 ε")
    ax.set_title(f"{d['statistic']} over the grid: cell median (× unresolved), region, fitted contours", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    fig.tight_layout()
    save_figure(fig, path)


def _plot_regions(d: dict, path: Path) -> None:
    cells = d["cells"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    for ax, (key, var, across) in zip(axes, (("N", "eps", "N"), ("eps", "N", "eps"))):
        # left: S against ε for each N (the N-region is flat in ε); right: S against N for each ε
        groups = sorted({c[across] for c in cells})
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(groups)))
        for g, color in zip(groups, colors):
            row = sorted((c for c in cells if c[across] == g), key=lambda c: c[var])
            xv = np.array([c[var] for c in row], dtype=float)
            m = np.array([c["mean_log"] - c["log_own"] for c in row])
            se = np.sqrt([c["var_mean"] for c in row])
            ax.errorbar(xv, np.exp(m), yerr=[np.exp(m) - np.exp(m - 1.96 * se), np.exp(m + 1.96 * se) - np.exp(m)], fmt="o:",
                        color=color, ms=3, lw=0.7, label=f"N = {g}" if across == "N" else f"ε = 2^{round(math.log2(g))}")
            inr = np.array([c["region"] == key and c["resolved"] for c in row])
            ax.scatter(xv[inr], np.exp(m[inr]), s=60, facecolors="none", edgecolors="tab:red")
            fit = d.get("regions", {}).get(key, {}).get("own")
            if fit is not None and inr.sum() >= 2:
                k, a, b = fit["params"]
                Nv = np.array([c["N"] for c in row], dtype=float)[inr]
                ev = np.array([c["eps"] for c in row], dtype=float)[inr]
                ax.plot(xv[inr], np.exp(k + a * np.log(1 / Nv) + b * np.log(ev)), "-", color=color, lw=1.6)
        ax.scatter([], [], s=60, facecolors="none", edgecolors="tab:red", label=f"{_REGION_NAMES[key]} cell (line: its fit)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("ε" if var == "eps" else "N")
        ax.set_ylabel("S / L (geometric mean, 95% CI)")
        ax.set_title(f"{_REGION_NAMES[key]}: " + ("flat in ε, (1/N)^(1/2) across N" if key == "N" else "flat in N, ε^(1/2) along ε"))
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    save_figure(fig, path)


def _plot_log_factor(d: dict, path: Path) -> None:
    """Per region, the partial residual m_c − (its fitted terms but γ ℓ) against ℓ = log √(D + log(N/ε)), with the fitted
    line γ̂ ℓ and the lines of slope 1 and 0 through the weighted centroid of the points."""
    lf = d["log_factor"]
    fits = [(r, lf["fits"][r]) for r in ("N", "eps") if "error" not in lf["fits"].get(r, {"error": ""})]
    fig, axes = plt.subplots(1, max(len(fits), 1), figsize=(5.6 * max(len(fits), 1), 4.3), squeeze=False)
    for ax, (r, fit) in zip(axes[0], fits):
        cells = [c for c in d["cells"] if c["region"] == r and c["resolved"]]
        k, a, gamma = fit["params"]
        N = np.array([c["N"] for c in cells], dtype=float)
        eps = np.array([c["eps"] for c in cells], dtype=float)
        ell = np.array([c["log_theorem"] for c in cells])
        other = np.log(1 / N) if r == "N" else np.log(eps)
        y = np.array([c["mean_log"] for c in cells]) - k - a * other
        se = np.sqrt([c["var_mean"] for c in cells])
        for g in sorted({c["N" if r == "N" else "eps"] for c in cells}):
            m = (N if r == "N" else eps) == g
            ax.errorbar(ell[m], y[m], yerr=1.96 * se[m], fmt="o", ms=4, capsize=2,
                        label=f"N = {g:g}" if r == "N" else f"ε = 2^{round(math.log2(g))}")
        w = 1 / se**2
        x0 = float(np.sum(w * ell) / np.sum(w))
        xs = np.linspace(ell.min() - 0.02, ell.max() + 0.02, 50)
        ax.plot(xs, gamma * xs, "-", color="black", lw=1.6, label=f"fitted γ̂ = {gamma:.2f} [{fit['ci'][0]:.2f}, {fit['ci'][1]:.2f}]")
        for slope, style, color in ((1.0, "--", "tab:red"), (0.0, ":", "tab:gray")):
            ax.plot(xs, gamma * x0 + slope * (xs - x0), style, color=color, lw=1.2, label=f"γ = {slope:g} (through the centroid)")
        ax.set_xlabel("ℓ = log √(D + log(N/ε))")
        ax.set_ylabel("mean log S − k̂ − " + ("α̂ log(1/N)" if r == "N" else "β̂ log ε") + " (95% CI)")
        ax.set_title(f"{_REGION_NAMES[r]}: {fit['verdict']} (se {fit['se']:.2f})", fontsize=9)
        ax.legend(fontsize=6.5)
    fig.tight_layout()
    save_figure(fig, path)


def _log_factor_lines(lf: dict, g: dict) -> list[str]:
    """The section "The log factor": the fits of γ, the criterion, and what would identify it."""
    crit = lf["se_identified"]
    L = ["## The log factor", "",
         f"Estimated, not tested (docs/methods.md, \"The hinge\", *The log factor*). ℓ = log √(D + log(N/ε)) with D = {lf['D']:g}, "
         "the theorem's factor. In the N-region the bound's only ε-dependence at fixed N is its log factor, so "
         "m = k + α log(1/N) + γ ℓ there (and m = k + β log ε + γ ℓ in the ε-region, where at fixed ε log(N/ε) grows with N) "
         "estimates its strength γ: γ = 1 the theorem's factor at full strength (the bound allows any γ ≤ 1), γ = 0 none. "
         "Weighted least squares on the cell means, covariance × φ as in the region fits. γ is *identified* when its standard "
         f"error is at most 1/(2 · {lf['z']:.2f}) = {crit:.3f}: a 95 % interval at most 1 wide, so that at γ = 1 it excludes 0 with "
         "probability ≥ 97.5 %. R* is the replicates per cell at which the sampling standard error (φ = 1, ∝ 1/√R) would reach "
         "that.", "",
         "| fit | cells | γ̂ | 95 % CI | se | se (φ = 1) | φ | verdict | R* | cost × |", "|---|---|---|---|---|---|---|---|---|---|"]
    for fit in lf["fits"].values():
        if "error" in fit:
            L.append(f"| {md_cell(fit['model'])} | — | — | — | — | — | — | {md_cell(fit['error'])} | — | — |")
            continue
        L.append(f"| {md_cell(fit['model'])} | {fit['cells']} | {fit['gamma']:.3f} | {fmt_ci(fit['ci'], '.3f')} | {fit['se']:.3f} | "
                 f"{fit['se_sampling']:.3f} | {fit['dispersion']:.3g} | {fit['verdict']} | {fit['replicates_to_identify']} | "
                 f"{fit['cost_to_identify']:.3g} |")
    L.append("")
    for r, fit in lf["fits"].items():
        if "error" not in fit and fit["gamma"] < 0 and fit["ci_excludes_0"]:
            L += [f"In the {'joint fit' if r == 'joint' else _REGION_NAMES[r]} γ̂ < 0 and its interval excludes 0: S falls while ℓ "
                  "rises, which no log factor does: the other term of the scale still moves S in the region's cells (the region "
                  "fit's exponent in the other variable, above, is not 0), and the model, which has no term for it, reads it as γ.", ""]
    ext = lf.get("extension", {})
    if ext:
        L += ["Range instead of replicates (a projection: every cell at its region's pooled per-replicate variance of log S "
              f"over {g['replicates']} replicates, φ = 1): the levels the grid would need, at its ratio between levels, for the "
              "sampling se of γ̂ to reach the criterion; cost: the particle updates R · Σ N T/ε of the region's cells over those "
              "of the whole measured grid.", "",
              "| region | extended | levels added | se | reach | cost × |", "|---|---|---|---|---|---|"]
        for r, e in ext.items():
            added = "none suffice" if e["levels"] is None else str(e["levels"])
            if r == "N":
                reach = f"ε = 2^{e['log2_eps_min']:.0f} ({e['steps']:.3g} steps per run)"
            else:
                reach = f"N = 2^{e['log2_N_max']:.0f}"
            L.append(f"| {_REGION_NAMES[r]} | {'ε below' if r == 'N' else 'N above'} | {added} (of at most {e['max_levels']}) | "
                     f"{e['se']:.3f} | {reach} | {e['cost_ratio']:.3g} |")
        L.append("")
    full = lf.get("full")
    if full:
        fg = full["grid"]
        same = (sorted(fg["N"]) == sorted(g["N"]) and sorted(fg["eps"]) == sorted(g["eps"]) and fg["kink"] == g["kink"]
                and fg["replicates"] == g["replicates"])
        L += [f"The full grid (N {min(fg['N'])}–{max(fg['N'])}, ε 2^{round(math.log2(max(fg['eps'])))}–2^{round(math.log2(min(fg['eps'])))}, "
              f"regions beyond Nε = {fg['kink']:g}^(±1), {fg['replicates']} replicates), projected from this run's pooled variances"
              + (" (this run's grid: the projection only re-states the measured se with pooled variances): " if same else " (not run): ")
              + "; ".join(f"{FITS_SHORT[f]} se {p['se_sampling']:.3f}, {p['verdict']}, R* = {p['replicates_to_identify']}"
                          for f, p in full["fits"].items() if "error" not in p)
              + ". The same projection on this grid gives se "
              + ", ".join(f"{full['ci_projection'][f]:.3f} ({FITS_SHORT[f]})" for f in full["ci_projection"])
              + " against the measured se (φ = 1) above: the check of the projection.", ""]
    nfit, e = lf["fits"].get("N", {}), ext.get("N")
    if "error" not in nfit and e is not None:
        reach = ("no extension within the search" if e["levels"] is None else
                 f"ε down to 2^{e['log2_eps_min']:.0f} ({e['steps']:.3g} steps per run, {e['cost_ratio']:.3g} × the grid's particle updates)")
        L += [f"In short: in the N-region the 95 % CI of γ is {fmt_ci(nfit['ci'], '.2f')} (se {nfit['se']:.2f} against {crit:.3f}): "
              f"{nfit['verdict']}. Excluding γ = 0 at γ = 1 would need R ≈ {nfit['replicates_to_identify']} replicates per cell "
              f"({nfit['cost_to_identify']:.3g} × this grid's cost) or {reach}.", ""]
    L += ["![log factor](logfactor.png)", ""]
    return L


FITS_SHORT = {"N": "N-region", "eps": "ε-region", "joint": "joint"}


def render_hinge(claim: Check, result: ClaimResult, summary: dict, folder: Path) -> None:
    """Write ``report.md``, and ``heatmap.png``, ``regions.png`` and ``logfactor.png`` when the grid was run."""
    d = result.details
    L = header(claim.title, result)
    L += ["## Claim", "", f"`{claim.statement}`", "",
          "The rate claims' two paths keep Nε fixed, so along both 1/N ∝ ε and their two exponents measure the same sum. Here "
          "every (N, ε) of a factorial grid is run, and each side of the kink of max(1/N, ε) is fitted with separate exponents "
          "in 1/N and in ε (docs/methods.md, \"The hinge: a factorial N × ε grid\").", ""]
    if claim.outside_gate:
        L += [f"Not in the gate's default family (`mfcheck gate` runs it when named with `--claims`): {claim.outside_gate}.", ""]
    if "grid" in d:
        g = d["grid"]
        L += ["## Design", "",
              f"Statistic `{d['statistic']}`. N ∈ {{{', '.join(str(n) for n in g['N'])}}} × ε ∈ {{{', '.join(f'2^{round(math.log2(e))}' for e in g['eps'])}}}, "
              f"{g['replicates']} replicates per cell. N-region: Nε ≤ 1/{g['kink']:g}; ε-region: Nε ≥ {g['kink']:g}. "
              f"Margins: δ = {d['delta']:g} (exponent lower bounds), δ_flat = {d['delta_flat']:g} (flatness), δ_fail = {d['delta_fail']:g} "
              "(the tests).", ""]
    if result.estimates:
        L += ["## Region fits", "",
              "Weighted least squares over a region's cells of mean log S − log F = k + α log(1/N) + β log ε (weights: the inverse "
              "variance of each cell's mean log S; covariance scaled by max(1, χ²/(cells − 3))). F is the statistic's own log factor "
              "for the exponents, the theorem's √(D + log(N/ε)) for the tests.", "",
              "| quantity | estimate | 95 % CI | predicted / threshold |", "|---|---|---|---|"]
        for k, v in result.estimates.items():
            ref = v.get("predicted", v.get("threshold", ""))
            L.append(f"| {md_cell(k)} | {v['estimate']:.3f} | {fmt_ci(v['ci'], '.3f')} | {ref if ref == '' else f'{ref:g}'} |")
        L += ["", "| region | cells | χ² (own factor) | dispersion φ |", "|---|---|---|---|"]
        for r, fits in d["regions"].items():
            L.append(f"| {_REGION_NAMES[r]} | {fits['own']['cells']} | {fits['own']['chi2']:.3g} | {fits['own']['dispersion']:.3g} |")
        L += ["", "![regions](regions.png)", ""]
    if d.get("models"):
        L += ["## The whole grid: which shape", "",
              "Weighted least squares of mean log S − log L on every resolved cell. Lack of fit: χ² against the cell means "
              "(χ² on cells − parameters degrees of freedom). The theorem bounds S by the hinge up to a constant; an error whose two "
              "terms add lies within √2 of it, so the lack-of-fit test of the hinge is reported, not counted.", "",
              "| model | parameters | χ² | df | lack-of-fit p | AIC − best |", "|---|---|---|---|---|---|"]
        for m in d["models"].values():
            p = "—" if m["lack_of_fit_p"] is None else f"{m['lack_of_fit_p']:.3g}"
            L.append(f"| {m['model']} | {m['parameters']} | {m['chi2']:.4g} | {m['df']} | {p} | {m['delta_aic']:.4g} |")
        L += ["", "![heat map](heatmap.png)", ""]
    if d.get("log_factor") and "grid" in d:
        L += _log_factor_lines(d["log_factor"], d["grid"])
    L += [*tests_table(result), ""]
    if d.get("cells"):
        L += ["## Cells", "", "| N | ε | Nε | region | replicates | median S | mean log S | se | resolved |", "|---|---|---|---|---|---|---|---|---|"]
        for c in d["cells"]:
            L.append(f"| {c['N']} | {c['eps']:.6g} | {c['N'] * c['eps']:.4g} | {_REGION_NAMES.get(c['region'], '—')} | {c['R']} | "
                     f"{c['median']:.4g} | {c['mean_log']:.4f} | {math.sqrt(c['var_mean']):.3f} | {'yes' if c['resolved'] else 'no'} |")
        L.append("")
    ex = summary["experiment"]
    seeds = d.get("seeds", {})
    L += ["## Setting and seeds", "", f"- problem: `{ex['problem']}`", f"- neuron: `{ex['neuron']}`, D = {ex['D']}",
          f"- ρ_0: `{ex['rho0']}`, T = {ex['T']}, sup over k on the grid of spacing {ex['record_dt']}",
          f"- reference error of the statistic: {result.reference_error:.2e} (a cell is judged when it is at most 0.1 × its median)",
          f"- seeds: root entropy {seeds.get('entropy', '')}; cells {seeds.get('cell_key', '')}; {seeds.get('replicate_streams', '')}",
          f"- regenerate: `{summary['command']}`", ""]
    (folder / "report.md").write_text("\n".join(L))
    if d.get("cells") and "grid" in d:
        _plot_heatmap(d, folder / "heatmap.png")
        _plot_regions(d, folder / "regions.png")
        if d.get("log_factor"):
            _plot_log_factor(d, folder / "logfactor.png")
