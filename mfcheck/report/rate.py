"""The report of a rate claim (Theorem 1 or Theorem 2): ``report.md``, ``rates.png``,
``ratio_tail.png`` and ``summary.json``. Every number of the report comes from the summary."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter
from scipy import stats

from mfcheck.claims.fit import DELTA_FAIL, PATHS, RESOLUTION_RATIO, TAIL_CELLS
from mfcheck.claims.rate import RateClaim, recorded_times
from mfcheck.claims.sweep import SweepResult
from mfcheck.report.figures import plt, save_figure
from mfcheck.report.format import fmt_ci, header, tests_table, versions, write_json
from mfcheck.stats.results import ClaimResult

__all__ = ["summary", "write"]


def summary(result: ClaimResult, claim: RateClaim, sweep: SweepResult, command: str, family: int = 1) -> dict:
    """The JSON document of one rate claim: every number its report shows."""
    d = result.to_dict()
    d["tests_in_family"] = family
    d.update({
        "title": claim.title,
        "statement": claim.statement,
        "tightness": claim.tightness,
        "statistic": claim.statistic,
        "over_particles": claim.over_particles,
        "recorded_times": recorded_times(sweep.experiment),
        "reference_error": result.reference_error,
        "reference_errors_all": sweep.reference.error,
        "resolution_ratio": RESOLUTION_RATIO,
        "tier": {"name": sweep.tier.name, "replicates": sweep.tier.replicates, "kink": sweep.tier.kink,
                 "N_path": list(sweep.tier.N_path), "eps_path": list(sweep.tier.eps_path)},
        "experiment": sweep.experiment.describe(),
        "seeds": sweep.seeds,
        "command": command,
        "versions": versions(),
    })
    return d


def _plot_rates(result: ClaimResult, claim: RateClaim, sweep: SweepResult, path: Path) -> None:
    table = sweep.table
    D = sweep.experiment.D
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    for ax, p in zip(axes, ("N", "eps")):
        sub = table[table["path"] == p]
        xcol = "N" if p == "N" else "eps"
        ax.scatter(sub[xcol], sub[claim.statistic], s=8, alpha=0.3, color="tab:gray", label="replicates")
        cells = [c for c in result.cells if c["path"] == p]
        xs = np.array([c[xcol] for c in cells], dtype=float)
        med = np.array([c["median"] for c in cells])
        lo = np.array([c["median_ci"][0] for c in cells])
        hi = np.array([c["median_ci"][1] for c in cells])
        res = np.array([c["resolved"] for c in cells])
        ax.errorbar(xs[res], med[res], yerr=[med[res] - lo[res], hi[res] - med[res]], fmt="o", color="tab:blue", label="cell median (95% CI)")
        if np.any(~res):
            ax.scatter(xs[~res], med[~res], marker="x", color="tab:red", label="unresolved cell")
        grid = np.geomspace(xs.min(), xs.max(), 60)
        Ng = grid if p == "N" else sweep.tier.kink / grid
        eg = 1.0 / (sweep.tier.kink * grid) if p == "N" else grid
        L = claim.log_factor(Ng, eg, D, recorded_times(sweep.experiment))
        xv = np.log(1.0 / Ng) if p == "N" else np.log(eg)
        if p in result.exponents:
            e = result.exponents[p]
            a, b = e.params
            cov = np.array(e.cov)
            X = np.stack([np.ones_like(xv), xv], axis=1)
            se = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
            q = stats.t.ppf(0.975, e.df)
            fit = np.exp(a + b * xv) * L
            ax.plot(grid, fit, color="tab:blue", label=f"fit: exponent {e.estimate:.3f} {fmt_ci(e.ci, '.3f')}")
            ax.fill_between(grid, fit * np.exp(-q * se), fit * np.exp(q * se), color="tab:blue", alpha=0.15, label="95% CI of the fit")
        # predicted shape through the first resolved cell
        first = np.argmax(res) if np.any(res) else 0
        shape = np.sqrt(np.maximum(1.0 / Ng, eg)) * L
        first_N, first_eps = np.array([cells[first]["N"]]), np.array([cells[first]["eps"]])
        anchor = (np.sqrt(np.maximum(1.0 / first_N, first_eps)) * claim.log_factor(first_N, first_eps, D, recorded_times(sweep.experiment)))[0]
        ax.plot(grid, shape * med[first] / anchor, "--", color="tab:orange", label=f"predicted shape (exponent {claim.predicted[p]})")
        if p in result.plateaus and result.plateaus[p].upper > 0:  # a bound ≤ 0 has no place on a log axis: no plateau left
            pl = result.plateaus[p]
            ax.axhline(pl.upper, color="tab:red", lw=0.8, ls=":", label=f"plateau: 95% upper bound {pl.upper:.3g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("N" if p == "N" else "ε")
        ax.set_ylabel(claim.statistic)
        ax.set_title(PATHS[p][1])
        ax.legend(fontsize=7)
    fig.suptitle(claim.title)
    fig.tight_layout()
    save_figure(fig, path)


def _plot_ratio_tail(result: ClaimResult, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0))
    ax = axes[0]
    for p, color in (("N", "tab:blue"), ("eps", "tab:green")):
        cells = [c for c in result.cells if c["path"] == p]
        x = np.array([1.0 / math.sqrt(max(1.0 / c["N"], c["eps"])) for c in cells])
        ratio = np.array([c["ratio_median"] for c in cells])
        lo = np.array([c["median_ci"][0] / c["scale"] for c in cells])
        hi = np.array([c["median_ci"][1] / c["scale"] for c in cells])
        ax.errorbar(x, ratio, yerr=[ratio - lo, hi - ratio], fmt="o-", color=color, label=PATHS[p][1])
    ax.set_xscale("log")
    ax.set_xlabel("1 / √max(1/N, ε)   (along the limit →)")
    ax.set_ylabel("median statistic / predicted scale (z = 0)")
    ax.set_title("the constant must not grow along the limit")
    ax.legend(fontsize=7)
    ax = axes[1]
    if result.tail:
        z = np.array([t.z for t in result.tail])
        f = np.array([t.frequency for t in result.tail])
        lo = np.array([t.ci[0] for t in result.tail])
        hi = np.array([t.ci[1] for t in result.tail])
        zz = np.linspace(0, z.max() * 1.05, 100)
        ax.plot(zz, np.exp(-zz**2), color="tab:orange", label="bound e^{-z²}")
        ax.errorbar(z, f, yerr=[f - lo, hi - f], fmt="o", color="tab:blue", label="exceedance of Ĉ·scale(z) (95% CP)")
        ax.set_xlabel("z")
        ax.set_ylabel(f"fraction of replicates in the {TAIL_CELLS} cells nearest the limit")
        ax.set_title(f"tail check, Ĉ = {result.C_hat:.3g}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def _markdown(s: dict, result: ClaimResult) -> str:
    lines = header(s["title"], result)
    lines += ["## Claim", "", f"`{s['statement']}`", "", s["tightness"], ""]
    lines += ["## Exponents", "", "| path | variable | observed | 95 % CI | one-sided 95 % lower bound | predicted | "
              f"growth test p (H1: exponent against the theorem's scale < predicted − {DELTA_FAIL:g}) | cells | observations |",
              "|---|---|---|---|---|---|---|---|---|"]
    for p, e in s["exponents"].items():
        lines.append(f"| {PATHS[p][1]} | {e['variable']} | {e['estimate']:.3f} | {fmt_ci(e['ci'], '.3f')} | {e['lower']:.3f} | {e['predicted']} | "
                     f"{e['p_value']:.3g} | {e['cells']} | {e['observations']} |")
    lines += ["", "The exponent is the OLS slope (HC3 errors, t inference) of log S − log L on log(1/N) or log ε, with "
              "L = √(D + log n) the logarithmic factor of the statistic itself: n counts the events its sup runs over (the "
              f"{s['recorded_times']} recorded times{', times the N particles' if s['over_particles'] else ''}). A statistic that "
              "follows the predicted shape exactly fits the predicted exponent. The growth test fits the same line with the theorem's "
              f"log factor √(D + log(N T/ε)) in place of L and rejects an exponent below the predicted one minus {DELTA_FAIL:g}: the "
              "theorem fixes its log factor only up to its constant, and a maximum of independent errors approaches its "
              "√log n growth from below over any range a run reaches (docs/methods.md, \"Fits\").", ""]
    lines += ["## Plateau", "", "A bias that does not vanish along the limit: S = c · scale + b on each path (the theorem's scale at z = 0), errors clustered by cell, "
              "t inference with cells − 1 degrees of freedom; H1 b > 0.", "",
              "| path | b | standard error | one-sided 95 % upper bound | upper bound / S at the limit | p (H1: b > 0) |", "|---|---|---|---|---|---|"]
    for p, q in s["plateaus"].items():
        lines.append(f"| {PATHS[p][1]} | {q['b']:.3g} | {q['se']:.3g} | {q['upper']:.3g} | {q['upper'] / q['at_limit']:.2f} | {q['p_value']:.3g} |")
    det = s["details"].get("detection") or {}
    if det:
        lines += ["", "## What this run can detect", "",
                  f"Measured by injection into this run's own statistic, moved to the predicted exponent (with the statistic's own log "
                  f"factor) and resampled {det['resamples']} times within cells; a violation is detected when a test of the claim "
                  f"rejects at level {det['level']:.2g} (α/m, m = {round(det['alpha'] / det['level'])}: every implementation test of the "
                  "run, before the tests without power leave the family; the least favourable level).", "",
                  "| exponent short by | " + " | ".join(f"{d:g}" for d in det["deficits"]) + " |", "|---|" + "---|" * len(det["deficits"]),
                  "| power | " + " | ".join(f"{v:.2f}" for v in det["deficit_power"]) + " |", "",
                  "| plateau / S at the limit | " + " | ".join(f"{f:g}" for f in det["plateau_fractions"]) + " |",
                  "|---|" + "---|" * len(det["plateau_fractions"]),
                  "| power | " + " | ".join(f"{v:.2f}" for v in det["plateau_power"]) + " |", "",
                  f"Smallest exponent deficit detected with power ≥ {det['target_power']}: "
                  f"{det['min_detectable_deficit'] if det['min_detectable_deficit'] is not None else 'none on the grid'}; smallest "
                  f"plateau: {det['min_detectable_plateau'] if det['min_detectable_plateau'] is not None else 'none on the grid'} × S "
                  f"at the limit. At the null boundary of each growth test (the exponent against the theorem's scale short by {DELTA_FAIL:g}) "
                  f"and each plateau test (S proportional to the theorem's scale), the test "
                  f"alone rejects at α = {det['alpha']} in: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in det["size_at_null_boundary"].items()) + " of the resamples.", ""]
        if "test_power" in det:
            lines += [f"Each test's power against the largest violations injected (the larger of its rejection rates with the exponent "
                      f"short by {det['deficits'][-1]:g} and with a plateau {det['plateau_fractions'][-1]:g}× S at the limit); a test "
                      f"below {det['power_floor']:g} has no power at these sizes and is not counted in the Holm family:", "",
                      "| test | power | counted |", "|---|---|---|"]
            lines += [f"| {name} | {v:.2f} | {'yes' if v >= det['power_floor'] else 'no'} |" for name, v in det["test_power"].items()]
            lines.append("")
    lines += ["![rates](rates.png)", "", "## Tail", "",
              f"Ĉ = {s['C_hat']:.4g}, calibrated on the cells away from the limit (the smallest C with at most e^(−z²)·n exceedances "
              f"in every such cell); exceedances counted on the {TAIL_CELLS} cells of each path nearest the limit, which Ĉ did not see:", "",
              "| z | bound e^(−z²) | exceedances / n | frequency | 95 % CI (Clopper–Pearson) | p (binomial, one-sided) |", "|---|---|---|---|---|---|"]
    for t in s["tail"]:
        lines.append(f"| {t['z']} | {t['bound']:.4f} | {t['exceedances']} / {t['n']} | {t['frequency']:.4f} | {fmt_ci(t['ci'], '.3f')} | {t['p_value']:.3g} |")
    lines += ["", "![ratio and tail](ratio_tail.png)", "", *tests_table(result)]
    ref = s["reference_errors_all"]
    lines += ["", "## Reference", "",
              f"{s['experiment']['reference']['scheme']} with h = {s['experiment']['reference']['h']} on {s['experiment']['reference']['nodes']} nodes; "
              f"error measured against a refinement ({s['experiment']['reference']['refined']}): "
              + ", ".join(f"{k} {v:.2e}" for k, v in ref.items())
              + f". A cell is judged only when the reference error of this statistic ({s['reference_error']:.2e}) is at most "
              f"{s['resolution_ratio']} × its median.", ""]
    lines += ["## Cells", "", "| path | N | ε | replicates | median S | 95 % CI of median | scale (z=0) | median / scale | reference error | resolved |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for c in s["cells"]:
        lines.append(f"| {c['path']} | {c['N']} | {c['eps']:.6g} | {c['replicates']} | {c['median']:.4g} | {fmt_ci(c['median_ci'], '.4g')} | {c['scale']:.4g} | "
                     f"{c['ratio_median']:.4g} | {c['reference_error']:.2e} | {'yes' if c['resolved'] else 'no'} |")
    ex = s["experiment"]
    lines += ["", "## Setting and seeds", "", f"- problem: `{ex['problem']}`", f"- neuron: `{ex['neuron']}`, D = {ex['D']}",
              f"- ρ_0: `{ex['rho0']}`, ξ: `{ex['schedule']}`, T = {ex['T']}, sup over k on the grid of spacing {ex['record_dt']}",
              "- test functions: " + "; ".join(f"`{f['name']}` (sup {f['sup_norm']:.3g}, Lip {f['lipschitz']:.3g})" for f in ex["test_functions"]),
              f"- tier `{s['tier']['name']}`: {s['tier']['replicates']} replicates per cell, kink factor {s['tier']['kink']}",
              f"- seeds: root entropy {s['seeds']['entropy']}; cells {s['seeds']['cell_key']}; {s['seeds']['replicate_streams']}; reference {s['seeds']['reference_key']}",
              f"- regenerate: `{s['command']}`", ""]
    return "\n".join(lines)


def write(result: ClaimResult, claim: RateClaim, sweep: SweepResult, folder: Path, command: str, family: int = 1) -> dict:
    """Write ``folder/{summary.json, rates.png, ratio_tail.png, report.md}``; return the summary."""
    s = summary(result, claim, sweep, command, family)
    write_json(folder / "summary.json", s)
    _plot_rates(result, claim, sweep, folder / "rates.png")
    _plot_ratio_tail(result, folder / "ratio_tail.png")
    (folder / "report.md").write_text(_markdown(s, result))
    return s
