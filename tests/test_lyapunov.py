"""Unit tests of mfcheck.reference.lyapunov: the tangent dynamics against finite differences of the flow,
the adjoint, the power iteration against the full propagator's SVD, and the exponents' ordering."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mfcheck.errors import InvalidArgument
from mfcheck.model.activations import erf_sigmoid
from mfcheck.model.experiment import default_experiment
from mfcheck.model.neurons import AffineNeuron
from mfcheck.reference import couple, solve_flow
from mfcheck.reference import lyapunov as ly

EX = dataclasses.replace(default_experiment(), T=1.0, log2_M=4, h=1 / 16)


@pytest.fixture(scope="module")
def setting():
    nodes, w = ly.reference_nodes(EX)
    flow = solve_flow(EX.problem, EX.neuron, nodes, w, T=EX.T, h=EX.h, record_dt=EX.record_dt, schedule=EX.schedule)
    return nodes, w, flow, ly.node_path(flow, EX.problem, EX.neuron, nodes, w)


def _end_nodes(nodes, w):
    """The nodes at T of the flow started at ``nodes`` (its own law): the replay of its own stages."""
    flow = solve_flow(EX.problem, EX.neuron, nodes, w, T=EX.T, h=EX.h, record_dt=EX.record_dt, schedule=EX.schedule)
    return couple(flow, EX.problem, EX.neuron, nodes)[-1]


def test_tangent_is_the_derivative_of_the_flow(setting, rng):
    """Central differences (θ_η(T) − θ_{−η}(T))/2η of the whole flow (nodes and law perturbed together)
    converge to Φ(0, T) δ like η²."""
    nodes, w, _, path = setting
    delta = rng.normal(size=nodes.shape)
    exact = ly.tangent(path, delta)
    errs = []
    for eta in (1e-2, 1e-3):
        fd = (_end_nodes(nodes + eta * delta, w) - _end_nodes(nodes - eta * delta, w)) / (2 * eta)
        errs.append(np.max(np.abs(fd - exact)) / np.max(np.abs(exact)))
    assert errs[1] < 1e-5 and errs[1] < errs[0] / 50  # second order in η


def test_frozen_tangent_is_the_derivative_in_the_frozen_law(setting, rng):
    """Moving the particles in the stored field (the law does not respond) differentiates to the frozen part."""
    nodes, w, flow, path = setting
    delta = rng.normal(size=nodes.shape)
    eta = 1e-4
    fd = (couple(flow, EX.problem, EX.neuron, nodes + eta * delta)[-1] - couple(flow, EX.problem, EX.neuron, nodes - eta * delta)[-1]) / (2 * eta)
    frozen = ly.tangent(path, delta, coupled=False)
    assert np.max(np.abs(fd - frozen)) < 1e-6 * np.max(np.abs(frozen))
    assert np.max(np.abs(ly.tangent(path, delta) - frozen)) > 1e-3 * np.max(np.abs(frozen))  # the law's response is not nil


def test_adjoint_is_the_w_transpose(setting, rng):
    nodes, w, _, path = setting
    a, b = rng.normal(size=nodes.shape), rng.normal(size=nodes.shape)
    lhs = np.sum(w[:, None] * ly.tangent(path, a) * b)
    rhs = np.sum(w[:, None] * a * ly.adjoint(path, b))
    assert lhs == pytest.approx(rhs, rel=1e-12)
    half = ly.tangent(path, a, 0.5)
    assert np.sum(w[:, None] * half * b) == pytest.approx(np.sum(w[:, None] * a * ly.adjoint(path, b, 0.5)), rel=1e-12)


def _full_matrix(path, T, coupled=True):
    """Φ(0, T) in the orthonormal coordinates u = √w δ, column by column (M D × M D)."""
    M, D = path.stages.shape[2:]
    sw = np.sqrt(path.weights)
    E = np.eye(M * D).reshape(M * D, M, D) / sw[None, :, None]
    return (ly.tangent(path, E, T, coupled=coupled) * sw[None, :, None]).reshape(M * D, M * D).T


def test_power_iteration_finds_the_top_singular_value(setting):
    """On 16 nodes the propagator is a 48 × 48 matrix: its exact top singular value in the w-norm, the
    frozen blocks' top, and the log-norm bound bracket what :func:`lyapunov` reports."""
    nodes, w, flow, path = setting
    Phi = _full_matrix(path, 1.0)
    s_exact = np.linalg.svd(Phi, compute_uv=False)
    res = ly.lyapunov(flow, EX.problem, EX.neuron, nodes, w, (0.5, 1.0), rng=np.random.default_rng(1), tol=1e-10, max_iter=200)
    top = res.top[1.0]
    assert top["converged"] and top["sigma"][0] <= s_exact[0] * (1 + 1e-10)
    assert top["log_sigma1"] == pytest.approx(np.log(s_exact[0]), abs=1e-6)
    assert top["lambda_top"] == pytest.approx(np.log(s_exact[0]), abs=1e-6)  # T = 1
    frozen = _full_matrix(path, 1.0, coupled=False)
    M, D = nodes.shape
    blocks = [frozen[m * D:(m + 1) * D, m * D:(m + 1) * D] for m in range(M)]
    assert np.allclose(frozen, np.kron(np.eye(M), np.ones((D, D))) * frozen)  # block diagonal: one particle at a time
    s_frozen = max(np.linalg.svd(b, compute_uv=False)[0] for b in blocks)
    assert res.lambda_frozen(1.0) == pytest.approx(np.log(s_frozen), abs=1e-10)
    assert res.lambda_top(1.0) <= res.lambda_upper(1.0) + 1e-9 and res.lambda_frozen(1.0) <= res.lambda_upper(1.0) + 1e-9
    assert res.lambda_top(0.5) <= res.lambda_upper(0.5) + 1e-9


def test_top_exponent_of_a_few_iterations_is_close(setting):
    """The default iteration (localised starts, tol 1e-3) is within 1e-3 of the exact top in log σ_1."""
    nodes, w, flow, path = setting
    s_exact = np.linalg.svd(_full_matrix(path, 1.0), compute_uv=False)[0]
    res = ly.lyapunov(flow, EX.problem, EX.neuron, nodes, w, (1.0,), rng=np.random.default_rng(2))
    assert abs(res.top[1.0]["log_sigma1"] - np.log(s_exact)) < 1e-3


def test_log_norm_bounds_the_symmetric_generator(setting, rng):
    """μ̄(t) (the largest frozen eigenvalue) bounds the Rayleigh quotients of the coupled L(t) (−PSD interaction)."""
    nodes, w, _, path = setting
    mu = ly.log_norms(path)
    L = path.operator(0, 0)
    for _ in range(20):
        d = rng.normal(size=nodes.shape)
        assert np.sum(w[:, None] * L(d) * d) / np.sum(w[:, None] * d * d) <= mu[0] + 1e-12


def test_node_path_refuses_foreign_nodes_and_other_neurons(setting):
    nodes, w, flow, _ = setting
    with pytest.raises(InvalidArgument, match="not the flow's nodes"):
        ly.node_path(flow, EX.problem, EX.neuron, nodes + 0.1, w)
    with pytest.raises(InvalidArgument, match="InnerNeuron"):
        ly.node_path(flow, EX.problem, AffineNeuron(erf_sigmoid()), nodes, w)
    path = ly.node_path(flow, EX.problem, EX.neuron, nodes, w)
    with pytest.raises(InvalidArgument, match="multiple"):
        ly.tangent(path, nodes, 0.3)
    with pytest.raises(InvalidArgument, match="start"):
        ly.top_singular(path, 1.0, rng=np.random.default_rng(0), start=np.zeros((5,) + nodes.shape))
