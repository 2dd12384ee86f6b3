"""Baseline regression of the gate: write a run's rate-claim estimates, compare a later run with them.

Stored per rate claim, each with a 95 % CI: the fitted exponent along each path, the fitted
constant e^a of each path's line, and the tail constant Ĉ. A later run *moves* when, for one of
these quantities, the baseline's CI and the new CI are disjoint. (Two overlapping 95 % intervals
are not a test at level 5 %: the rule is conservative, it flags only clear moves.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from mfcheck.app.verify import Verification
from mfcheck.errors import InvalidArgument
from mfcheck.report.format import fmt_estimate

__all__ = ["BASELINE_FORMAT", "BOOTSTRAP_RESAMPLES", "baseline_document", "write_baseline", "compare_baseline"]

BASELINE_FORMAT = 1
BOOTSTRAP_RESAMPLES = 400
_T975 = 0.975


def _c_hat_ci(verification: Verification, result, claim, resamples: int = BOOTSTRAP_RESAMPLES) -> list[float]:
    """95 % percentile-bootstrap CI of Ĉ (:func:`mfcheck.claims.fit.judge`): the replicates of each
    resolved cell are resampled within their cell and Ĉ, calibrated on the cells away from the
    limit, is recomputed. The draws come from the experiment's seed tree (role "reference" of the
    child ("gate-baseline", claim))."""
    from mfcheck.claims.fit import judge, resample_within_cells
    from mfcheck.seeds import Streams

    if not result.exponents:
        return [math.nan, math.nan]
    S, design = claim.resolved(verification.sweep, result)
    rng = Streams(verification.sweep.experiment.seed).child("gate-baseline", claim.name).generator("reference", 0)
    c_hat = judge(S[resample_within_cells(design, rng, resamples)], design, claim.predicted)["C_hat"]
    return [float(np.quantile(c_hat, 0.025)), float(np.quantile(c_hat, 0.975))]


def baseline_document(verification: Verification) -> dict:
    """The JSON document :func:`write_baseline` stores (per rate claim: exponents, constants, Ĉ with CIs)."""
    if verification.sweep is None or not verification.claims:
        raise InvalidArgument("`verification` has no rate claim to store: run the gate or verify with at least one rate claim.")
    doc = {"format": BASELINE_FORMAT, "tier": verification.sweep.tier.name, "seed": verification.sweep.experiment.seed,
           "alpha": verification.alpha, "rule": "a quantity moves when the baseline's 95% CI and the new 95% CI are disjoint",
           "implementation": getattr(verification, "implementation", "") or (
               verification.context.rule.name if verification.context is not None else ""), "claims": {}}
    by_name = {r.claim: r for r in verification.results}
    for claim in verification.claims:
        r = by_name[claim.name]
        entry = {"exponents": {}, "constants": {}, "C_hat": None}
        for path, e in r.exponents.items():
            entry["exponents"][path] = {"variable": e.variable, "estimate": e.estimate, "ci": list(e.ci), "predicted": e.predicted}
            a, se = e.params[0], math.sqrt(max(e.cov[0][0], 0.0))
            q = float(stats.t.ppf(_T975, e.df)) if e.df > 0 else math.inf
            entry["constants"][path] = {"what": "e^a, the fitted line log S − log(log factor) = a + b log(x)",
                                        "estimate": math.exp(a), "ci": [math.exp(a - q * se), math.exp(a + q * se)]}
        if math.isfinite(r.C_hat):
            entry["C_hat"] = {"estimate": r.C_hat, "ci": _c_hat_ci(verification, r, claim)}
        doc["claims"][claim.name] = entry
    return doc


def write_baseline(verification: Verification, path: str | Path) -> dict:
    """Write :func:`baseline_document` of ``verification`` to ``path`` (JSON); return it."""
    doc = baseline_document(verification)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return doc


def _disjoint(a, b) -> bool:
    return a[1] < b[0] or b[1] < a[0]


def compare_baseline(verification: Verification, path: str | Path) -> list[str]:
    """Differences between ``verification`` and the baseline at ``path``: one line per rate-claim
    quantity (exponent per path, constant per path, Ĉ) whose new 95 % CI is disjoint from the
    baseline's, or that the baseline has and the new run lacks. Empty: nothing moved.

    Claims of the baseline the new run did not include are not compared. Raises
    :class:`~mfcheck.errors.InvalidArgument` when the file is unreadable or from another tier."""
    try:
        base = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"`baseline` {str(path)!r} cannot be read as JSON: {exc}") from exc
    if not isinstance(base, dict) or base.get("format") != BASELINE_FORMAT or "claims" not in base:
        raise InvalidArgument(f"`baseline` {str(path)!r} is not an mfcheck baseline (format {BASELINE_FORMAT}).")
    new = baseline_document(verification)
    if base["tier"] != new["tier"]:
        raise InvalidArgument(f"`baseline` {str(path)!r} was written at tier {base['tier']!r}; this run is tier {new['tier']!r}.")
    diffs = []
    for claim, b in base["claims"].items():
        n = new["claims"].get(claim)
        if n is None:
            continue
        for kind in ("exponents", "constants"):
            for p, bq in b[kind].items():
                label = f"{claim}: {'exponent' if kind == 'exponents' else 'constant'} on the {p}-path"
                nq = n[kind].get(p)
                if nq is None:
                    diffs.append(f"{label} was fitted in the baseline ({fmt_estimate(bq['estimate'], bq['ci'])}) but not now (unresolved)")
                elif _disjoint(bq["ci"], nq["ci"]):
                    diffs.append(f"{label} moved: {fmt_estimate(nq['estimate'], nq['ci'])} now, {fmt_estimate(bq['estimate'], bq['ci'])} in the baseline")
        bc, nc = b.get("C_hat"), n.get("C_hat")
        if bc is not None and nc is None:
            diffs.append(f"{claim}: Ĉ was fitted in the baseline but not now")
        elif bc is not None and all(map(math.isfinite, bc["ci"] + nc["ci"])) and _disjoint(bc["ci"], nc["ci"]):
            diffs.append(f"{claim}: Ĉ moved: {fmt_estimate(nc['estimate'], nc['ci'])} now, {fmt_estimate(bc['estimate'], bc['ci'])} in the baseline")
    return diffs
