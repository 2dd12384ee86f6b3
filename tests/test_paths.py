"""The path checks of the command line (:mod:`mfcheck.app.paths`): each kind, each refusal, nothing left behind."""

from __future__ import annotations

import os

import pytest

from mfcheck.app.paths import FILE, FOLDER, INPUT, check_path
from mfcheck.errors import InvalidArgument


@pytest.fixture
def here(tmp_path):
    (tmp_path / "file").write_text("x\n")
    (tmp_path / "dir").mkdir()
    return tmp_path


@pytest.mark.parametrize("name, kind", [
    ("dir", FOLDER), ("new", FOLDER), ("new/deeper/still", FOLDER), ("dir/new", FOLDER),
    ("file", FILE), ("new.json", FILE), ("new/deeper/b.json", FILE), ("file", INPUT),
])
def test_usable_paths_pass_and_nothing_is_created(here, name, kind):
    before = sorted(p.name for p in here.rglob("*"))
    assert check_path(str(here / name), "--x", kind) == here / name
    assert sorted(p.name for p in here.rglob("*")) == before


@pytest.mark.parametrize("name, kind, words", [
    ("file", FOLDER, "`--x` must be a folder, got '{p}', which is an existing file."),
    ("file/sub", FOLDER, "`--x` must be a path that can be created, got '{p}': '{here}/file' is a file, not a folder."),
    ("file/sub/b.json", FILE, "is a file, not a folder"),
    ("dir", FILE, "`--x` must be a file, got '{p}', which is an existing folder."),
    ("missing.json", INPUT, "`--x` must be an existing file, got '{p}', which does not exist."),
    ("dir", INPUT, "`--x` must be a file, got '{p}', which is a folder."),
    ("n" * 300, FOLDER, "longer than the file system allows"),
])
def test_unusable_paths_are_refused_with_the_option_and_the_path(here, name, kind, words):
    path = str(here / name)
    with pytest.raises(InvalidArgument) as info:
        check_path(path, "--x", kind)
    assert words.format(p=path, here=here) in str(info.value)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc on this system")
@pytest.mark.parametrize("kind", [FOLDER, FILE])
def test_a_place_where_nothing_can_be_created_is_refused(kind):
    """/proc refuses new entries even to the superuser, whom os.access lets through."""
    with pytest.raises(InvalidArgument, match=r"`--x` must be a path that can be written, got '/proc/forbidden': cannot create "
                                              r"entries in '/proc'"):
        check_path("/proc/forbidden", "--x", kind)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="the superuser may write anywhere the permission bits forbid")
def test_a_read_only_folder_is_refused(here):
    os.chmod(here / "dir", 0o500)
    try:
        with pytest.raises(InvalidArgument, match="no write permission"):
            check_path(str(here / "dir" / "out"), "--x", FOLDER)
    finally:
        os.chmod(here / "dir", 0o700)


@pytest.mark.parametrize("name, kind, words", [("dir/out", FOLDER, "cannot create entries in '{here}/dir' (no write permission)"),
                                               ("file", FILE, "`--x` must be a writable file, got '{here}/file', which is not writable.")])
def test_permission_bits_are_read(here, monkeypatch, name, kind, words):
    """As a user without write permission sees it (the superuser passes every os.access)."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(InvalidArgument) as info:
        check_path(str(here / name), "--x", kind)
    assert words.format(here=here) in str(info.value)


def test_a_relative_path_is_checked_from_the_working_directory(here, monkeypatch):
    monkeypatch.chdir(here)
    assert check_path("reports/sub", "--out", FOLDER).as_posix() == "reports/sub"
    with pytest.raises(InvalidArgument, match="'file/sub'"):
        check_path("file/sub", "--out", FOLDER)


@pytest.mark.parametrize("path, kind", [("", FOLDER), (None, FILE), (3, INPUT), ("x", "directory")])
def test_malformed_arguments(path, kind):
    with pytest.raises(InvalidArgument, match="`--x` must be a path|`kind` must be one of"):
        check_path(path, "--x", kind)
