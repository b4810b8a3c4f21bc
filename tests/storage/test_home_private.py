"""A Modelyard home holds a person's data: it is created readable by its owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import polars as pl
import pytest

from modelyard.storage.files import write_json_atomic
from modelyard.storage.paths import Home


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask():
    """Start from the usual 022, as a fresh shell does, and restore whatever was set."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_a_new_home_and_its_folders_are_private(tmp_path, loose_umask):
    home = Home.from_env(tmp_path / "new" / "home")
    for folder in (home.root, home.datasets, home.runs, home.plans, home.samples):
        assert mode(folder) == 0o700, folder


def test_files_written_under_a_home_are_private_whoever_writes_them(tmp_path, loose_umask):
    home = Home.from_env(tmp_path / "home")
    write_json_atomic(home.dataset_dir("ds_x") / "meta.json", {"a": 1})
    pl.DataFrame({"a": [1]}).write_parquet(home.dataset_dir("ds_x") / "train.parquet")
    (home.runs / "r" / "model").mkdir(parents=True)
    assert mode(home.dataset_dir("ds_x")) == 0o700
    assert mode(home.dataset_dir("ds_x") / "meta.json") == 0o600
    assert mode(home.dataset_dir("ds_x") / "train.parquet") == 0o600
    assert mode(home.runs / "r" / "model") == 0o700


def test_a_process_started_from_a_home_writes_private_files(tmp_path, loose_umask):
    """Workers inherit the setting from the app or CLI that starts them."""
    home = Home.from_env(tmp_path / "home")
    out = home.runs / "from-child.txt"
    subprocess.run([sys.executable, "-c", f"open({str(out)!r}, 'w').write('x')"], check=True)
    assert mode(out) == 0o600


def test_an_existing_home_keeps_the_permissions_its_owner_gave_it(tmp_path, loose_umask):
    root = tmp_path / "shared"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o750)
    home = Home.from_env(root)
    assert mode(home.root) == 0o750
    assert mode(home.datasets) == 0o700  # what Modelyard creates in it is still private


def test_opening_a_home_never_loosens_the_umask(tmp_path):
    before = os.umask(0o027)
    try:
        Home.from_env(tmp_path / "home")
        assert os.umask(0o022) == 0o077
        os.umask(0o177)
        Home.from_env(tmp_path / "home")
        assert os.umask(0o022) == 0o177
    finally:
        os.umask(before)
