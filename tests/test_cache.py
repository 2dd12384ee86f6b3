"""The content cache: fingerprints follow content, files round-trip exactly and appear atomically,
a damaged entry is named and counted, and entries are readable by whoever may read the folder."""

from __future__ import annotations

import functools
import math
import os
import stat

import numpy as np
import pytest

from mfcheck.model.activations import erf_sigmoid, tanh_sum
from mfcheck.runtime.cache import Cache, Unidentifiable, Unkeyed, code_version, fingerprint
from mfcheck.errors import InvalidArgument
from mfcheck.model.experiment import Experiment
from mfcheck.model.initial import GaussianInit
from mfcheck.model.neurons import InnerNeuron
from mfcheck.model.problems import teacher_population
from mfcheck.dynamics.broken import BROKEN
from mfcheck.dynamics.rules import MEAN_FIELD, mean_field_step
from mfcheck.dynamics.sgd import iid_init


def _experiment(seed=5, scale=0.5, a=1.0):
    problem = teacher_population(8, 2, tanh_sum((1.0,), (2.0,)), seed=seed)
    return Experiment(problem=problem, neuron=InnerNeuron(erf_sigmoid(slope=a)), rho0=GaussianInit(2, scale), log2_M=6, seed=seed)


def _scaled(c, x):
    return c * x


def test_equal_content_built_twice_has_one_fingerprint():
    assert fingerprint(_experiment()) == fingerprint(_experiment())
    assert fingerprint(functools.partial(_scaled, 2.0)) == fingerprint(functools.partial(_scaled, 2.0))


@pytest.mark.parametrize("changed", [
    lambda: _experiment(seed=6),  # the seed (and the data drawn from it)
    lambda: _experiment(scale=0.25),  # ρ_0
    lambda: _experiment(a=2.0),  # a constant captured in the activation's closures
])
def test_any_changed_ingredient_changes_the_fingerprint(changed):
    assert fingerprint(changed()) != fingerprint(_experiment())


def test_unkeyed_values_are_left_out_of_the_key():
    def rule(k, limit):
        limit = Unkeyed(limit)

        def update(theta):
            return k * theta if limit.value else theta

        return update

    assert fingerprint(rule(1.0, 60.0)) == fingerprint(rule(1.0, None)) != fingerprint(rule(2.0, 60.0))


def test_functions_are_keyed_by_code_and_closure():
    def rule(k):
        def update(theta):
            return k * theta

        return update

    assert fingerprint(rule(1.0)) == fingerprint(rule(1.0))
    assert fingerprint(rule(1.0)) != fingerprint(rule(2.0))
    assert fingerprint(mean_field_step) != fingerprint(iid_init)
    assert fingerprint(MEAN_FIELD.noisy(0.5, 4.0)) == fingerprint(MEAN_FIELD.langevin(0.5, 4.0)) != fingerprint(MEAN_FIELD)
    assert fingerprint(BROKEN["no_factor_two"].rule) != fingerprint(BROKEN["ntk_scaling"].rule) != fingerprint(MEAN_FIELD)
    assert fingerprint(functools.partial(_scaled, 2.0)) != fingerprint(functools.partial(_scaled, 3.0))
    a = np.arange(4.0)
    b = a.copy()
    b[3] = np.nextafter(3.0, 4.0)  # one ulp
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(1.0) != fingerprint(1) and fingerprint((1, 2)) != fingerprint([1, 2])


def test_unidentifiable_content_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(Unidentifiable):
        fingerprint(functools.partial(_scaled, rng))  # a generator's state is not content
    namespace = {"__name__": "generated"}
    # a function without a source file
    exec("def no_source(x):\n    return x\n", namespace)  # noqa: S102
    with pytest.raises(Unidentifiable, match="no source"):
        fingerprint(namespace["no_source"])
    loop = []
    loop.append(loop)
    with pytest.raises(Unidentifiable, match="cycle"):
        fingerprint(loop)


def test_code_version_is_a_stable_sha256():
    v = code_version()
    assert len(v) == 64 and int(v, 16) >= 0
    assert code_version() == v


def test_put_get_round_trips_exactly(tmp_path):
    cache = Cache(tmp_path / "c")
    [key] = cache.keys(functools.partial(_scaled, 2.0), [("N", 16, 1 / 64)])
    assert cache.get(key) is None
    result = {"risk": np.array([0.1, 1 / 3, math.pi]), "coupling_error": 1 / 7, "count": np.int64(3)}
    cache.put(key, result)
    back = cache.get(key)
    assert back["risk"].tobytes() == result["risk"].tobytes()
    assert back["coupling_error"] == 1 / 7 and back["count"] == 3
    # written atomically: only the final file is left in the folder
    assert [p.name for p in cache.path(key).parent.iterdir()] == [f"{key}.npz"]


def test_keys_depend_on_function_and_cell(tmp_path):
    cache = Cache(tmp_path)
    k1 = cache.keys(functools.partial(_scaled, 2.0), [("N", 16, 0.25), ("N", 16, 0.125)])
    k2 = cache.keys(functools.partial(_scaled, 3.0), [("N", 16, 0.25)])
    assert len(set(k1 + k2)) == 3
    assert cache.keys(functools.partial(_scaled, 2.0), [("N", 16, 0.25)]) == k1[:1]


def test_unreadable_or_misplaced_files_count_as_missing(tmp_path):
    cache = Cache(tmp_path)
    a, b = cache.keys(functools.partial(_scaled, 2.0), [("N", 8, 0.5), ("N", 16, 0.25)])
    cache.put(a, {"x": np.ones(2)})
    cache.path(b).parent.mkdir(parents=True, exist_ok=True)
    cache.path(b).write_bytes(cache.path(a).read_bytes())  # a file under the wrong name
    assert cache.get(b) is None
    cache.path(a).write_bytes(b"truncated")
    assert cache.get(a) is None


def test_a_damaged_entry_is_named_once_and_counted(tmp_path, capsys):
    cache = Cache(tmp_path)
    a, b, c = cache.keys(functools.partial(_scaled, 2.0), [("N", 8, 0.5), ("N", 16, 0.25), ("N", 32, 0.125)])
    cache.put(a, {"x": np.ones(2)})
    cache.put(b, {"x": np.zeros(2)})
    assert (cache.written, cache.read, cache.damaged) == (2, 0, 0)
    whole = cache.path(a).read_bytes()
    cache.path(a).write_bytes(whole[: len(whole) // 2])  # truncated
    assert cache.get(a) is None and cache.get(a) is None  # asked twice, named once
    assert cache.get(c) is None  # missing: not damaged
    assert cache.get(b)["x"].tolist() == [0.0, 0.0]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(cache.path(a)) in err[0] and err[0].startswith("mfcheck: damaged cache entry")
    assert (cache.written, cache.read, cache.damaged) == (2, 1, 1)
    cache.put(a, {"x": np.ones(2)})  # recomputed and rewritten
    assert cache.get(a)["x"].tolist() == [1.0, 1.0] and cache.damaged == 1


@pytest.mark.parametrize("umask, folder_mode, file_mode", [
    (0o022, 0o750, 0o640),  # the group may read the folder: it reads the entries
    (0o022, 0o755, 0o644),
    (0o022, 0o700, 0o600),
    (0o077, 0o750, 0o600),  # the umask has the last word
    (0o002, 0o770, 0o660),
])
def test_entries_are_readable_by_whoever_may_read_the_folder(tmp_path, umask, folder_mode, file_mode):
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(folder_mode)
    cache = Cache(folder)
    [key] = cache.keys(functools.partial(_scaled, 2.0), [("N", 8, 0.5)])
    previous = os.umask(umask)
    try:
        cache.put(key, {"x": np.ones(2)})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(cache.path(key).stat().st_mode) == file_mode
    assert cache.get(key)["x"].tolist() == [1.0, 1.0]


def test_bad_results_and_folders_are_refused(tmp_path):
    cache = Cache(tmp_path)
    with pytest.raises(InvalidArgument, match="numbers only"):
        cache.put("ab" * 32, {"name": np.array(["x"])})
    with pytest.raises(InvalidArgument, match="dict"):
        cache.put("ab" * 32, [1.0])
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidArgument, match="folder"):
        Cache(tmp_path / "file")


def test_code_version_covers_every_module_of_the_package():
    """The version is of the whole package, so that a change to a claim (not only to the runtime) gives a new one."""
    import hashlib
    from pathlib import Path

    import mfcheck

    root = Path(mfcheck.__file__).resolve().parent
    h = hashlib.sha256()
    paths = sorted(root.rglob("*.py"))
    assert any(p.parent.name == "claims" for p in paths)
    for path in paths:
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    assert code_version() == h.hexdigest()
