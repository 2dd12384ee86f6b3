"""Term II of Theorem 1: McDiarmid concentration of i.i.d. nonlinear particles (docs/theory.md §4).

**Claim.** For i.i.d. nonlinear particles θ̄_1^t, …, θ̄_N^t with law ρ_t and a test function
f with |f| ≤ K_f (K_f = ``f.sup_norm``), X_t = (1/N) Σ_i f(θ̄_i^t) changes by at most 2K_f/N
when one particle changes, so (McDiarmid, :func:`mfcheck.model.bounds.mcdiarmid_tail`)

    P(|X_t − ∫f dρ_t| ≥ u) ≤ b(u) = 2 exp(−N u² / (2 K_f²))        for each t,

and a union bound over the J = T/Δ + 1 record times t_j = jΔ gives
(:func:`mfcheck.model.bounds.mcdiarmid_uniform`, with ε = Δ = ``record_dt``)

    P( sup_j |X_{t_j} − ∫f dρ_{t_j}| ≥ K_f sqrt(2/N) (sqrt(log(2J)) + z) ) ≤ e^{−z²}.

**What is under test.** The initial sampler ``context.init`` (the update rule plays no part:
term II is about the nonlinear particles only). Replicate r draws θ^0 = init(ρ_0, g_r, N)
from the named stream ("init", r) of ``Streams(seed).child("mcdiarmid", N)`` and moves the
particles with :func:`mfcheck.reference.coupled.couple` in the stored reference field. If the
sampler draws i.i.d. from ρ_0, the θ̄_i^t are i.i.d. from ρ_t^h, the push-forward of ρ_0 by
the numerical flow map; ``flow.f_integrals`` integrates f over that same law with scrambled
Sobol nodes (the nodes move in the same RK4 field), so its error is a quadrature error, which
the refinement error ``reference.error["test_functions"] · K`` (K = max(sup, Lip) of f)
over-covers. It is accounted for conservatively: with δ_f = that error, an exceedance is
counted when |X − I_ref| ≥ u + δ_f, which implies |X − ∫f dρ_t| ≥ u; so the counted frequency
is at most the true one and the test stays valid. Counts at u − δ_f are reported too.

**Tests** (each H0: the bound holds; exact one-sided binomial test, scipy.stats.binomtest,
alternative="greater"; Clopper–Pearson 95 % intervals shown):

- per time t ∈ {0, T/2, T} and per u = s K_f / sqrt(N), s ∈ ``S_GRID`` = (2.5, 3, 3.5, 4)
  (bounds 0.088, 0.022, 0.0044, 0.00067): count of replicates with |X_t − I_t| ≥ u + δ_f
  against b(u);
- uniform in time, z ∈ ``Z_GRID`` = (1, 1.5, 2) (bounds 0.37, 0.105, 0.018): count of
  replicates with sup_j |X_j − I_j| ≥ K_f sqrt(2/N)(sqrt(log 2J) + z) + δ_f against e^{−z²}.

15 tests (each grid enters the family as one test: its smallest p-value times its size,
Bonferroni, :func:`mfcheck.stats.results.combined`), all on one test function: the f of the experiment with the largest min_t sd_t(f)/K_f,
estimated on a pilot of ``PILOT`` i.i.d. particles from an independent stream (the "reference"
role of ``Streams(seed).child("mcdiarmid", "pilot")``, always drawn with the correct sampler),
so the choice does not depend on the data tested. Frequencies of every f are in the details.
A tested u is judged only when δ_f ≤ ``RESOLUTION_RATIO`` · u.

**False-alarm rate.** Each test is exact (binomial, the counts are conservative), so under
the claim each p-value is super-uniform, and so is each grid's Bonferroni-combined p-value;
``mfcheck.stats.results.decide`` applies Holm over the tests of all claims decided together:
family-wise false-alarm rate ≤ α.

**How loose the bound is, and what it can detect.** McDiarmid uses sup|f| where the CLT uses
the standard deviation, and 2e^{−s²/2} where the normal tail is 2Φ̄(s K_f/sd): for i.i.d.
particles with sd well below K_f the CLT tail lies orders of magnitude below the bound (the
pilot's sd_t(f)/K_f, the frequencies and their CLT values are in ``reports/mcdiarmid/report.md``). A sampler that
repeats each of N/m draws m times (:class:`mfcheck.dynamics.broken.ClusteredInit`, assumption A4 broken) inflates the
variance of X by m, and exceeds the bound only once m is of the order of K_f²/sd² times a tail
factor: only strong correlation is detectable, and a mild one (small m) passes this claim at any
number of replicates while breaking the CLT scale by sqrt(m). The uniform-in-time tests have
less power still (union bound over the J record times).

**Power of each test in the run** (:func:`power`). Against the claim's own kind of violation, the
run's deviations rescaled at each time so that their root mean square is twice K_f/√N, the
sub-Gaussian proxy the bound implies (:data:`mfcheck.claims.injection.TAIL_VIOLATION`), each
combined test's exact binomial power at the run's level α/m is computed from the rescaled
frequencies. A test below the power floor is reported but not counted in the Holm family, as for
the rate claims (docs/methods.md, "Which tests spend α").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from mfcheck._validation import check_positive_int, check_real
from mfcheck.model.bounds import mcdiarmid_tail, mcdiarmid_uniform
from mfcheck.claims.base import Check, CheckContext
from mfcheck.claims.injection import POWER_FLOOR, TAIL_VIOLATION, violating
from mfcheck.errors import InvalidArgument
from mfcheck.reference.coupled import couple
from mfcheck.stats.power import grid_power
from mfcheck.stats.results import ClaimResult, Test, combined
from mfcheck.seeds import Streams
from mfcheck.dynamics.broken import ClusteredInit
from mfcheck.dynamics.sgd import InitSampler, iid_init

__all__ = [
    "CLAIM", "NAME", "SIZES", "S_GRID", "Z_GRID", "TIME_FRACTIONS", "PILOT", "RESOLUTION_RATIO", "Sizes",
    "exceedance_test", "nonlinear_f_means", "pilot_spread",
    "select_test_function", "measure", "run", "power",
]

NAME = "mcdiarmid"
TITLE = "Term II: McDiarmid concentration of i.i.d. nonlinear particles"

S_GRID = (2.5, 3.0, 3.5, 4.0)
"""u = s K_f / sqrt(N): the bound 2e^{-s²/2} is 0.088, 0.022, 0.0044, 0.00067."""
Z_GRID = (1.0, 1.5, 2.0)
"""z of the uniform-in-time bound: e^{-z²} = 0.37, 0.105, 0.018."""
TIME_FRACTIONS = (0.0, 0.5, 1.0)
"""Tested times t = fraction · T (the nearest record time)."""
PILOT = 2048
"""Particles of the pilot that picks the test function (sd of f under ρ_t)."""
RESOLUTION_RATIO = 0.1
"""A tested u is judged only if the reference error δ_f ≤ RESOLUTION_RATIO · u."""
PER_TIME = "McDiarmid at each time"
UNIFORM = "McDiarmid uniformly in time"
"""The names of the two combined tests."""
_CHUNK_PARTICLES = 1024


@dataclass(frozen=True)
class Sizes:
    """``N`` particles per replicate, ``replicates`` independent replicates."""

    N: int
    replicates: int


SIZES = {
    "smoke": Sizes(N=32, replicates=1024),
    "ci": Sizes(N=32, replicates=8192),
    "full": Sizes(N=32, replicates=65536),
}


# --------------------------------------------------------------------------- statistics


def exceedance_test(count: int, n: int, bound: float) -> dict:
    """Exact one-sided binomial test of H0 P(exceed) ≤ ``bound`` given ``count`` of ``n``.

    Returns ``count``, ``n``, ``frequency``, ``ci`` (Clopper–Pearson 95 %), ``bound`` and
    ``p_value`` = P(Bin(n, bound) ≥ count)."""
    n = check_positive_int(n, "n")
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or not 0 <= count <= n:
        raise InvalidArgument(f"`count` must be an int in [0, n={n}], got {count!r}.")
    bound = check_real(bound, "bound", nonnegative=True)
    if bound > 1:
        raise InvalidArgument(f"`bound` must be a probability in [0, 1], got {bound}.")
    count = int(count)
    p_value = stats.binomtest(count, n, p=bound, alternative="greater").pvalue
    ci = stats.binomtest(count, n).proportion_ci(confidence_level=0.95, method="exact")  # two-sided Clopper–Pearson
    return {"count": count, "n": n, "frequency": count / n, "ci": [float(ci.low), float(ci.high)], "bound": bound,
            "p_value": float(p_value)}


def nonlinear_f_means(context: CheckContext, N: int, replicates: int, streams: Streams, init: InitSampler) -> np.ndarray:
    """X[r, j, f] = (1/N) Σ_i f(θ̄_i^{t_j}) for replicate r, record time t_j and test function f.

    θ^0 of replicate r is ``init(ρ_0, streams.generator("init", r), N)``; θ̄ = couple(flow, θ^0).
    Shape (replicates, J, F)."""
    N = check_positive_int(N, "N")
    R = check_positive_int(replicates, "replicates")
    exp, flow = context.experiment, context.reference.flow
    tfs = exp.test_functions
    D = exp.D
    out = np.empty((R, len(flow.times), len(tfs)))
    per = max(1, _CHUNK_PARTICLES // N)
    starts = range(0, R, per)
    bar = tqdm(starts, desc=f"{NAME}: coupling {R}×{N} particles", unit="chunk", disable=not context.progress, leave=False)
    for a in bar:
        b = min(R, a + per)
        theta0 = []
        for r in range(a, b):
            th = np.asarray(init(exp.rho0, streams.generator("init", r), N), dtype=np.float64)
            if th.shape != (N, D) or not np.all(np.isfinite(th)):
                raise InvalidArgument(f"`init` must return finite particles of shape ({N}, {D}), got shape {th.shape}.")
            theta0.append(th)
        tb = couple(flow, exp.problem, exp.neuron, np.stack(theta0))  # (r, J, N, D)
        for k, tf in enumerate(tfs):
            out[a:b, :, k] = tf(tb).mean(axis=-1)
    return out


def pilot_spread(context: CheckContext, size: int = PILOT) -> np.ndarray:
    """sd_t(f) / K_f under ρ_t for every record time and test function, shape (J, F), from
    ``size`` i.i.d. particles of an independent stream (always the correct sampler)."""
    size = check_positive_int(size, "size")
    exp = context.experiment
    g = Streams(exp.seed).child(NAME, "pilot").generator("reference", 0)
    tb = couple(context.reference.flow, exp.problem, exp.neuron, iid_init(exp.rho0, g, size))  # (J, P, D)
    sup = np.array([tf.sup_norm for tf in exp.test_functions])
    if np.any(sup <= 0):
        raise InvalidArgument("Every test function needs `sup_norm` > 0 for the McDiarmid bound.")
    return np.stack([tf(tb).std(axis=-1) for tf in exp.test_functions], axis=-1) / sup


def select_test_function(spread: np.ndarray, time_index) -> int:
    """The index of the f with the largest min over the tested times of sd_t(f)/K_f."""
    spread = np.asarray(spread, dtype=np.float64)
    if spread.ndim != 2 or spread.shape[1] == 0:
        raise InvalidArgument(f"`spread` must have shape (J, F) with F ≥ 1, got {spread.shape}.")
    return int(np.argmax(np.min(spread[list(time_index)], axis=0)))


def _time_indices(times: np.ndarray, T: float) -> list[int]:
    idx = []
    for q in TIME_FRACTIONS:
        j = int(np.argmin(np.abs(times - q * T)))
        if j not in idx:
            idx.append(j)
    return idx


def _clt_tail(u, N, sd):
    """2 Φ̄(u sqrt(N) / sd): the normal approximation of the tail for i.i.d. particles."""
    if sd <= 0:
        return 0.0
    return float(2.0 * stats.norm.sf(u * math.sqrt(N) / sd))


def _per_time_estimate(row: dict) -> str:
    """The name of the estimate a per-time test judges: its exceedance frequency (Clopper–Pearson 95 %)."""
    return f"P(dev_t ≥ u) at t={row['t']:.4g}, u={row['u']:.4g}"


def _uniform_estimate(row: dict) -> str:
    """The name of the estimate a uniform-in-time test judges: its exceedance frequency (Clopper–Pearson 95 %)."""
    return f"P(sup_j dev_j ≥ thr) at z={row['z']}"


def _init_name(init) -> str:
    return getattr(init, "__name__", repr(init))


# --------------------------------------------------------------------------- the check


def measure(context: CheckContext, N: int, replicates: int, pilot: int = PILOT) -> ClaimResult:
    """Run the check with ``N`` particles and ``replicates`` replicates (``run`` takes them from ``SIZES``);
    ``pilot`` i.i.d. particles pick the test function."""
    N = check_positive_int(N, "N")
    R = check_positive_int(replicates, "replicates")
    pilot = check_positive_int(pilot, "pilot")
    exp, ref = context.experiment, context.reference
    flow = ref.flow
    tfs = exp.test_functions
    if not tfs:
        raise InvalidArgument("The experiment has no `test_functions`; the McDiarmid check needs at least one.")
    times = np.asarray(flow.times)
    J = len(times)
    tidx = _time_indices(times, exp.T)
    spread = pilot_spread(context, pilot)
    fi = select_test_function(spread, tidx)
    tf = tfs[fi]
    K = tf.sup_norm
    ref_err_rel = float(ref.error["test_functions"])
    deltas = np.array([ref_err_rel * t.K for t in tfs])
    delta = float(deltas[fi])

    streams = Streams(exp.seed).child(NAME, N)
    X = nonlinear_f_means(context, N, R, streams, context.init)  # (R, J, F)
    dev = np.abs(X - np.asarray(flow.f_integrals)[None])  # (R, J, F)

    violation = violating(dev[:, :, fi], K / math.sqrt(N))  # (R, J): the power's alternative (``power``)
    grid, per_time, unresolved = [], [], []
    for j in tidx:
        sd = float(spread[j, fi] * K)
        for s in S_GRID:
            u = s * K / math.sqrt(N)
            bound = float(mcdiarmid_tail(N, u, K))
            row = exceedance_test(int(np.sum(dev[:, j, fi] >= u + delta)), R, bound)
            row.update({"t": float(times[j]), "s": s, "u": u, "count_at_u_minus_delta": int(np.sum(dev[:, j, fi] >= u - delta)),
                        "clt_iid": _clt_tail(u, N, sd), "sd_pilot": sd, "resolved": bool(delta <= RESOLUTION_RATIO * u),
                        "frequency_violating": float(np.mean(violation[:, j] >= u + delta))})
            per_time.append(row)
            if row["resolved"]:
                grid.append(Test(f"t={times[j]:.4g}, u={u:.4g} (s={s}): P(dev_t ≥ u) ≤ {bound:.3g}", row["p_value"],
                                 statistic=_per_time_estimate(row)))
            else:
                unresolved.append(f"t={times[j]:.4g}, u={u:.4g}")

    sup_dev = dev[:, :, fi].max(axis=1)  # (R,)
    sup_violation = violation.max(axis=1)
    tests = combined(grid, PER_TIME)
    grid, uniform = [], []
    for z in Z_GRID:
        thr = float(mcdiarmid_uniform(N, K, exp.T, exp.record_dt, z))
        bound = math.exp(-z * z)
        row = exceedance_test(int(np.sum(sup_dev >= thr + delta)), R, bound)
        row.update({"z": z, "threshold": thr, "count_at_threshold_minus_delta": int(np.sum(sup_dev >= thr - delta)),
                    "resolved": bool(delta <= RESOLUTION_RATIO * thr),
                    "frequency_violating": float(np.mean(sup_violation >= thr + delta))})
        uniform.append(row)
        if row["resolved"]:
            grid.append(Test(f"uniform over J={J} times, z={z}: P(sup_j dev_j ≥ {thr:.4g}) ≤ e^(-z²) = {bound:.3g}", row["p_value"],
                             statistic=_uniform_estimate(row)))
        else:
            unresolved.append(f"uniform z={z}")

    tests += combined(grid, UNIFORM)

    # descriptive: every test function at every tested time (not tests)
    all_f = []
    for k, t in enumerate(tfs):
        for j in tidx:
            for s in S_GRID:
                u = s * t.sup_norm / math.sqrt(N)
                c = int(np.sum(dev[:, j, k] >= u + deltas[k]))
                all_f.append({"f": repr(t), "t": float(times[j]), "s": s, "u": u, "count": c, "n": R, "frequency": c / R,
                              "bound": float(mcdiarmid_tail(N, u, t.sup_norm)), "sd_over_K": float(spread[j, k])})

    estimates = {}
    cells = per_time + uniform
    ratios = [r["frequency"] / r["bound"] if r["bound"] > 0 else math.inf for r in cells]
    worst = int(np.argmax(ratios))
    w = cells[worst]
    # interval for the max of the ratios: [max of the lower limits, max of the upper limits] (per-cell 95 % CP)
    estimates["max frequency / bound"] = {
        "estimate": float(ratios[worst]),
        "ci": [max(r["ci"][0] / r["bound"] for r in cells if r["bound"] > 0), max(r["ci"][1] / r["bound"] for r in cells if r["bound"] > 0)],
        "cell": f"t={w['t']:.4g}, s={w['s']}" if "t" in w else f"uniform z={w['z']}",
    }
    for j in tidx:
        estimates[f"sd(f)/K_f at t={times[j]:.4g}"] = {"estimate": float(spread[j, fi]), "ci": _sd_ci(spread[j, fi], pilot),
                                                        "note": f"pilot of {pilot} i.i.d. particles"}
    for r in per_time:
        estimates[_per_time_estimate(r)] = {"estimate": r["frequency"], "ci": r["ci"], "bound": r["bound"],
                                                                         "clt_iid": r["clt_iid"]}
    for r in uniform:
        estimates[_uniform_estimate(r)] = {"estimate": r["frequency"], "ci": r["ci"], "bound": r["bound"]}

    msg = ""
    if unresolved:
        msg = (f"Reference error δ_f = {delta:.3g} exceeds {RESOLUTION_RATIO}·u at {', '.join(unresolved)}: "
               "raise `log2_M` or lower `h` of the experiment.")
    details = {
        "N": N, "replicates": R, "J": J, "record_dt": exp.record_dt, "T": exp.T,
        "init": _init_name(context.init),
        "test_function": {"index": fi, "name": repr(tf), "sup_norm": K, "lipschitz": tf.lipschitz, "K": tf.K,
                          "reference_error": delta},
        "test_function_spread": [{"f": repr(t), "sd_over_K": [float(v) for v in spread[tidx, k]]} for k, t in enumerate(tfs)],
        "tested_times": [float(times[j]) for j in tidx],
        "per_time": per_time, "uniform": uniform, "all_test_functions": all_f,
        "s_grid": list(S_GRID), "z_grid": list(Z_GRID), "pilot": pilot,
        "reference_error_relative": ref_err_rel,
    }
    seeds = {
        "entropy": int(exp.seed),
        "replicates": f"Streams({exp.seed}).child({NAME!r}, {N}): role 'init', replicate r = 0..{R - 1}",
        "pilot": f"Streams({exp.seed}).child({NAME!r}, 'pilot'): role 'reference', replicate 0",
        "streams": streams.describe(),
    }
    details["seeds"] = seeds
    return ClaimResult(claim=NAME, verdict="unresolved", alpha=math.nan, tests=tuple(tests), unresolved=msg,
                       reference_error=delta, estimates=estimates, details=details)


def power(result: ClaimResult, level: float) -> dict:
    """Each combined test's power at ``level`` against the run's deviations rescaled to
    ``TAIL_VIOLATION`` × K_f/√N (:func:`mfcheck.claims.injection.violating`; exact binomial,
    :func:`mfcheck.stats.power.grid_power`)."""
    d = result.details
    grids = {PER_TIME: [r for r in d["per_time"] if r["resolved"]], UNIFORM: [r for r in d["uniform"] if r["resolved"]]}
    test_power = {}
    for t in result.tests:
        for name, rows in grids.items():
            if rows and t.name.startswith(f"{name} ("):
                test_power[t.name] = grid_power(rows, level, frequency="frequency_violating")
    return {"test_power": test_power, "level": level, "power_floor": POWER_FLOOR,
            "against": f"the run's deviations rescaled to {TAIL_VIOLATION:g}× McDiarmid's scale K_f/√N (exact binomial)"}


def _sd_ci(sd_over_K: float, n: int) -> list[float]:
    """Chi-square 95 % interval of a standard deviation from n (approximately normal) draws."""
    lo = math.sqrt((n - 1) / stats.chi2.ppf(0.975, n - 1))
    hi = math.sqrt((n - 1) / stats.chi2.ppf(0.025, n - 1))
    return [float(sd_over_K * lo), float(sd_over_K * hi)]


def run(context: CheckContext) -> ClaimResult:
    """The check at ``context.tier`` (sizes from :data:`SIZES`)."""
    size = CLAIM.sizes_for(context)
    return measure(context, size.N, size.replicates)


CLAIM = Check(
    name=NAME, title=TITLE, order=30, sizes=SIZES, parts=frozenset({"init"}), reads_reference=True,
    statement="P(|X_t − ∫f dρ_t| ≥ u) ≤ 2 exp(−N u² / (2 K_f²)) at each t; "
              "P(sup_j |X_{t_j} − ∫f dρ_{t_j}| ≥ K_f sqrt(2/N) (sqrt(log(2J)) + z)) ≤ e^{−z²}",
    test_count=2,  # the per-time grid and the uniform grid, each combined (Bonferroni) into one test
    alternative="initial particles in clusters of 8 equal draws", inject=lambda c: replace(c, init=ClusteredInit(8)),
    compute=run, power=power,
)
