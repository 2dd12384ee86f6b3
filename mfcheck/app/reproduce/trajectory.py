r"""One-pass SGD on the two-Gaussians problem, recorded on a piecewise time grid.

The run is cut at the *snapshot times* 0 = t_0 < t_1 < … < t_m = T (multiples of ε). Segment j
is one call of :func:`mfcheck.dynamics.sgd.run_sgd` (noiseless or Langevin, as the rule says) of length
t_{j+1} − t_j that starts from the particles where segment j − 1 stopped and reads its samples
from its own data streams ``streams.child("segment", j)``: the samples of different segments are
independent draws, so the whole run is exactly one-pass SGD with s_k = ε ξ(kε), ξ ≡ 1,

    w_i^{k+1} = w_i^k + 2ε (y_k − ŷ(x_k; w^k)) σ'(<w_i^k, x_k>) x_k,

and w_i^0 ~ N(0, κ²/d I_d) i.i.d. from the first segment's ("init", r). Inside segment j the risk
R_N(w^k) and the averages (1/N) Σ_i f(|w_i^k|) are recorded ``records`` times at equal spacing,
so geometric snapshot times give a log-spaced record grid (the dynamics of MMN18 spans several
decades of t) while only the norms |w_i| at the snapshot times are kept (a d = 320, N = 800 run
would otherwise store 2 MB per record).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mfcheck._validation import check_positive_int, check_real
from mfcheck.model.activations import Activation
from mfcheck.dynamics.rules import MEAN_FIELD, Rule
from mfcheck.errors import InvalidArgument
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.observables import TestFunction
from mfcheck.seeds import Streams

__all__ = ["RadialTestFunction", "RADIAL_TEST_FUNCTIONS", "Trajectory", "snapshot_grid", "run_trajectory"]


@dataclass(frozen=True, eq=False)
class RadialTestFunction:
    """A bounded Lipschitz function g of r = |w| with its constants.

    **Arguments:**

    - ``name``: shown in tables.
    - ``fn``: vectorised g: r ↦ g(r).
    - ``sup_norm``, ``lipschitz``: sup|g| and Lip(g); f(w) = g(|w|) has the same constants.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    sup_norm: float
    lipschitz: float

    def __call__(self, r):
        return self.fn(np.asarray(r, dtype=np.float64))

    @property
    def K(self) -> float:
        return max(self.sup_norm, self.lipschitz)

    def on_particles(self) -> TestFunction:
        """f(w) = g(|w|) as a :class:`~mfcheck.model.observables.TestFunction` on R^d."""
        return TestFunction(f"{self.name}(|w|)", lambda th: self.fn(np.linalg.norm(th, axis=-1)), self.sup_norm, self.lipschitz)


RADIAL_TEST_FUNCTIONS = (
    RadialTestFunction("tanh(r)", np.tanh, 1.0, 1.0),
    RadialTestFunction("exp(-r²/2)", lambda r: np.exp(-0.5 * r * r), 1.0, math.exp(-0.5)),
    RadialTestFunction("cos(2r)", lambda r: np.cos(2.0 * r), 1.0, 2.0),
)
"""g(r) = tanh r (sup 1, Lip 1), exp(−r²/2) (sup 1, Lip e^{−1/2}), cos 2r (sup 1, Lip 2)."""


@dataclass(frozen=True)
class Trajectory:
    """What :func:`run_trajectory` records.

    - ``times`` (J,): record times (every snapshot time included once).
    - ``risk`` (R, J): R_N(w^k) at the record times (exact, from the problem's risk).
    - ``f_means`` (R, J, F): (1/N) Σ_i g(|w_i^k|) for each radial test function.
    - ``snapshot_times`` (S,), ``radii`` (R, S, N): the norms |w_i| at the snapshot times.
    """

    times: np.ndarray
    risk: np.ndarray
    f_means: np.ndarray
    snapshot_times: np.ndarray
    radii: np.ndarray
    N: int
    eps: float


def snapshot_grid(T: float, eps: float, first: float, count: int, records: int = 16) -> np.ndarray:
    """``count`` snapshot times, geometric from ``first`` to T, each rounded to a multiple of ``records``·ε.

    Returns t_1 < … < t_m (t_0 = 0 is implicit; duplicates after rounding are dropped). Every
    segment then holds a multiple of ``records`` steps, so :func:`run_trajectory` can record
    it ``records`` times at equal spacing.
    """
    T = check_real(T, "T", positive=True)
    eps = check_real(eps, "eps", positive=True)
    first = check_real(first, "first", positive=True)
    count = check_positive_int(count, "count")
    records = check_positive_int(records, "records")
    if count > 1 and not first < T:
        raise InvalidArgument(f"`first`={first} must be < `T`={T} when count > 1.")
    raw = np.geomspace(first, T, count) if count > 1 else np.array([T])
    units = np.unique(np.maximum(1, np.round(raw / (records * eps))).astype(np.int64))
    return units * records * eps


def _records_in(n_steps: int, records: int) -> int:
    """The largest divisor of ``n_steps`` that is at most ``records``."""
    best = 1
    for k in range(1, min(records, n_steps) + 1):
        if n_steps % k == 0:
            best = k
    return best


class _Carry:
    """An init sampler that hands back the particles where the previous segment stopped."""

    def __init__(self, Theta: np.ndarray):
        self.Theta = Theta
        self.r = 0

    def __call__(self, rho0, rng, N):
        out = self.Theta[self.r].copy()
        self.r += 1
        return out


def run_trajectory(
    problem,
    sigma: Activation,
    *,
    N: int,
    eps: float,
    kappa: float,
    snapshot_times: Sequence[float],
    records: int = 16,
    replicates: int = 1,
    streams: Streams,
    test_functions: Sequence[RadialTestFunction] = RADIAL_TEST_FUNCTIONS,
    rule: Rule = MEAN_FIELD,
) -> Trajectory:
    """Run one-pass SGD from w_i^0 ~ N(0, κ²/d I_d) to the last snapshot time.

    **Arguments:**

    - ``problem``: the data law (a two-Gaussians problem whose ``risk`` handles σ, e.g.
      :class:`~mfcheck.app.reproduce.exact_risk.ExactRiskGaussians`).
    - ``sigma``: the activation (σ*(x; w) = σ(<w, x>)).
    - ``N``, ``eps``, ``kappa``: particles, step scale ε, initial scale κ.
    - ``snapshot_times``: increasing multiples of ε; the run ends at the last one.
    - ``records``: records per segment (at most; the largest count dividing the segment's steps).
    - ``replicates``: independent chains (streams ("init", r), ("data", r) of each segment).
    - ``streams``: the run's seed tree.
    - ``test_functions``: radial g(|w|) averaged at every record.
    - ``rule``: the update rule (:class:`mfcheck.dynamics.rules.Rule`; noiseless by default); a noisy rule
      (e.g. ``MEAN_FIELD.langevin(λ, β, c)``) gets its Gaussians from ("noise", r) of each segment's streams.
    """
    from mfcheck.dynamics.sgd import StandardRecord, run_sgd

    N = check_positive_int(N, "N")
    eps = check_real(eps, "eps", positive=True)
    kappa = check_real(kappa, "kappa", positive=True)
    records = check_positive_int(records, "records")
    R = check_positive_int(replicates, "replicates")
    snaps = np.asarray(snapshot_times, dtype=np.float64)
    if snaps.ndim != 1 or snaps.size == 0 or not np.all(np.isfinite(snaps)) or np.any(snaps <= 0) or np.any(np.diff(snaps) <= 0):
        raise InvalidArgument(f"`snapshot_times` must be positive and strictly increasing, got {snapshot_times!r}.")
    steps = np.round(snaps / eps).astype(np.int64)
    if np.any(np.abs(steps * eps - snaps) > 1e-9 * snaps):
        raise InvalidArgument(f"`snapshot_times` must be multiples of `eps`={eps}, got {snapshot_times!r}.")
    neuron = InnerNeuron(sigma)
    rho0 = GaussianInit(problem.d, scale=kappa / math.sqrt(problem.d))
    tfs = tuple(g.on_particles() for g in test_functions)

    times, risk, f_means, radii = [], [], [], []
    init = None
    start = 0
    for j, stop in enumerate(steps):
        n_steps = int(stop - start)
        per = _records_in(n_steps, records)
        seg_T = n_steps * eps
        kwargs = dict(N=N, eps=eps, T=seg_T, replicates=R, streams=streams.child("segment", j), record=StandardRecord(seg_T / per, tfs))
        if init is not None:
            kwargs["init"] = init
        res = run_sgd(problem, neuron, rho0, rule, **kwargs)
        keep = slice(0 if j == 0 else 1, None)  # a segment's first record is the previous one's last
        times.append((start + res.steps[keep]) * eps)
        risk.append(res.risk[:, keep])
        f_means.append(res.f_means[:, keep])
        if j == 0:
            radii.append(np.linalg.norm(res.theta[:, 0], axis=-1))
        radii.append(np.linalg.norm(res.theta[:, -1], axis=-1))
        init = _Carry(res.theta[:, -1])
        start = int(stop)
    return Trajectory(
        times=np.concatenate(times), risk=np.concatenate(risk, axis=1), f_means=np.concatenate(f_means, axis=1),
        snapshot_times=np.concatenate([[0.0], steps * eps]), radii=np.stack(radii, axis=1), N=N, eps=eps,
    )
