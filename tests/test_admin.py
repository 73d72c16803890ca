"""Colab badges and set-up cells: every notebook points at itself in the repository of pyproject.toml."""

import json
import shutil

import pytest

from helpers.config import project_root
from tools import admin

ROOT = project_root()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_its_own_badge_and_the_colab_cell(path):
    repo = admin.repo_from_pyproject()
    nb = json.loads(path.read_text())
    assert admin.notebook_problems(nb, repo, path.name) == []
    assert f"/blob/main/notebooks/{path.name})" in "".join(nb["cells"][0]["source"])


def test_readme_course_map_has_a_badge_per_notebook():
    repo, readme = admin.repo_from_pyproject(), (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert admin.badge(repo, path.name) in readme, path.name


def test_colab_cell_does_nothing_outside_colab():
    namespace = {}
    exec(admin.colab_setup_source("someone/course"), namespace)  # would pip install only in Colab
    assert "URL" not in namespace


def test_badges_are_rewritten_for_a_fork_and_back(tmp_path):
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    original = admin.repo_from_pyproject()

    changed = admin.apply_badges("alice/my-fork", tmp_path)
    assert len(changed) == 2 + len(NOTEBOOKS)
    assert admin.repo_from_pyproject(tmp_path / "pyproject.toml") == "alice/my-fork"
    for path in sorted((tmp_path / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        assert admin.notebook_problems(nb, "alice/my-fork", path.name) == []
        assert admin.notebook_problems(nb, original, path.name) != []
    assert "github/alice/my-fork/blob/main/notebooks/08_cgan.ipynb" in (tmp_path / "README.md").read_text()

    admin.apply_badges(original, tmp_path)  # and back: byte for byte what is committed
    for path in NOTEBOOKS:
        assert (tmp_path / "notebooks" / path.name).read_text() == path.read_text(), path.name
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text()
    assert admin.apply_badges(original, tmp_path) == []  # idempotent


@pytest.mark.parametrize("repo", ["alice", "alice/", "https://github.com/a/b", "a/b/c", "a/b.git", ""])
def test_bad_repository_names_are_refused(repo):
    with pytest.raises(ValueError, match="owner/name"):
        admin.check_repo(repo)


def test_cli_refuses_a_bad_repo_before_touching_files():
    with pytest.raises(ValueError, match="owner/name"):
        admin.main(["badges", "--repo", "not a repo"])


class _Dist:
    """What importlib.metadata.distributions() yields, as far as the set-up cell reads it."""

    def __init__(self, name, version):
        self.metadata, self.version = {"Name": name}, version


def _run_setup_cell_in_fake_colab(monkeypatch, before, after, returncode=0):
    import importlib.metadata
    import subprocess
    import sys
    import types

    states = iter([[_Dist(*d) for d in before], [_Dist(*d) for d in after]])
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: next(states))
    def pip(command, **_):
        return subprocess.CompletedProcess(command, returncode, stdout="", stderr="no network")

    monkeypatch.setattr(subprocess, "run", pip)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(admin.colab_setup_source("someone/course"), {})


def test_colab_cell_reports_the_new_package_and_no_restart(monkeypatch, capsys):
    _run_setup_cell_in_fake_colab(monkeypatch, [("NumPy", "2.1.3")],
                                  [("numpy", "2.1.3"), ("ae_to_cgan_course", "0.1.0")])
    out = capsys.readouterr().out
    assert "pip installed: ae-to-cgan-course (new) -> 0.1.0\n" in out
    assert "no restart needed" in out


def test_colab_cell_says_plainly_when_a_restart_is_needed(monkeypatch, capsys):
    _run_setup_cell_in_fake_colab(monkeypatch, [("numpy", "2.1.3")],
                                  [("numpy", "2.3.0"), ("ae-to-cgan-course", "0.1.0")])
    out = capsys.readouterr().out
    assert "numpy 2.1.3 -> 2.3.0" in out and "restart the session (Runtime > Restart session)" in out


def test_colab_cell_shows_pips_error(monkeypatch):
    with pytest.raises(RuntimeError, match=r"pip could not install the course from .*\nno network"):
        _run_setup_cell_in_fake_colab(monkeypatch, [], [], returncode=1)
