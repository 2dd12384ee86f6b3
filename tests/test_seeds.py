"""Unit tests of mfcheck.seeds: named streams are reproducible, addressable and independent."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfcheck.errors import InvalidArgument
from mfcheck.seeds import ROLES, Streams

# Independence checks use the sample correlation r of m = 20_000 paired normal draws from two
# streams: under independence sqrt(m)·r is ≈ N(0, 1), so |r| ≤ 5/sqrt(m) has false-alarm
# rate ≈ 5.7e-7 per pair.
M_DRAWS = 20_000
R_TOL = 5.0 / math.sqrt(M_DRAWS)


def _draw(gen, m=M_DRAWS):
    return gen.standard_normal(m)


def test_same_address_same_numbers():
    a = Streams(42).generator("data", 3)
    b = Streams(42).generator("data", 3)
    np.testing.assert_array_equal(_draw(a, 100), _draw(b, 100))
    s = Streams(7, key=(1, 2))
    np.testing.assert_array_equal(_draw(s.generator("init", 0), 10), _draw(Streams(7, (1, 2)).generator("init", 0), 10))


def test_order_and_count_do_not_matter():
    s = Streams(5)
    many = s.generators("init", 6)
    alone = s.generator("init", 4)
    np.testing.assert_array_equal(_draw(many[4], 50), _draw(alone, 50))
    few = s.generators("init", 2)
    np.testing.assert_array_equal(_draw(few[1], 50), _draw(many[1], 50))
    # asking for other roles first changes nothing
    s.generator("noise", 0).standard_normal(1000)
    np.testing.assert_array_equal(_draw(s.generator("init", 4), 50), _draw(Streams(5).generator("init", 4), 50))


def test_seed_sequence_address():
    ss = Streams(9, key=(4,)).seed_sequence("data", 2)
    assert ss.entropy == 9
    assert ss.spawn_key[0] == 4 and ss.spawn_key[-1] == 2 and len(ss.spawn_key) == 3


def test_streams_differ_across_roles_replicates_entropy_and_children():
    s = Streams(1)
    samples = {
        "init0": s.generator("init", 0),
        "init1": s.generator("init", 1),
        "data0": s.generator("data", 0),
        "noise0": s.generator("noise", 0),
        "other_entropy": Streams(2).generator("init", 0),
        "child": s.child("cell", 3).generator("init", 0),
        "child2": s.child("cell", 4).generator("init", 0),
    }
    draws = {k: _draw(g) for k, g in samples.items()}
    names = list(draws)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not np.array_equal(draws[a][:10], draws[b][:10]), (a, b)
            r = np.corrcoef(draws[a], draws[b])[0, 1]
            assert abs(r) <= R_TOL, (a, b, r)  # false-alarm rate ≈ 5.7e-7 per pair (21 pairs)


def test_each_stream_is_standard_normal():
    """Mean and variance of one stream: 5-standard-error bands, false-alarm rate ≈ 5.7e-7 each."""
    x = _draw(Streams(3).generator("reference", 0))
    assert abs(x.mean()) <= 5 / math.sqrt(M_DRAWS)
    assert abs(x.var() - 1.0) <= 5 * math.sqrt(2 / M_DRAWS)


def test_child_is_deterministic():
    s = Streams(11)
    assert s.child("a", 2) == Streams(11).child("a", 2)
    assert s.child("a").child(2).key == s.child("a", 2).key
    assert s.child("a").key != s.child("b").key
    assert s.child(5).key == (5,)


@pytest.mark.parametrize("role", ["Init", "", "weights", None, 0])
def test_unknown_role_rejected(role):
    with pytest.raises(InvalidArgument, match="role"):
        Streams(0).generator(role)


@pytest.mark.parametrize("entropy", [-1, 1.5, "7", True, None])
def test_bad_entropy_rejected(entropy):
    with pytest.raises(InvalidArgument, match="entropy"):
        Streams(entropy)


@pytest.mark.parametrize("replicates", [0, -1, 2.0, True])
def test_bad_replicate_count_rejected(replicates):
    with pytest.raises(InvalidArgument, match="replicates"):
        Streams(0).generators("data", replicates)


def test_describe():
    d = Streams(17, key=(3, 4)).describe()
    assert d["entropy"] == 17 and d["spawn_key_prefix"] == [3, 4]
    assert set(d["roles"]) == set(ROLES)
    assert len(set(d["roles"].values())) == len(ROLES)


@pytest.mark.parametrize("replicate", [-1, 1.5, True])
def test_bad_replicate_index_rejected(replicate):
    with pytest.raises(InvalidArgument, match="replicate"):
        Streams(0).generator("data", replicate)


def test_child_numpy_int_is_the_int():
    assert Streams(0).child(np.int64(3)).key == Streams(0).child(3).key
