"""Colab badges and set-up cells: every notebook points at itself in the repository of pyproject.toml."""

import json
import shutil

import pytest

from tools import admin, course
from tools.course import ROOT

NOTEBOOKS = course.course_notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_its_own_badge_and_the_colab_cell(path):
    repo = course.repo_from_pyproject()
    nb = json.loads(path.read_text())
    assert admin.notebook_problems(nb, repo, path.name) == []
    assert f"/blob/main/notebooks/{path.name})" in "".join(nb["cells"][0]["source"])


def test_badges_are_rewritten_for_a_fork_and_back(tmp_path):
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    original = course.repo_from_pyproject()

    changed = admin.apply_badges("alice/my-fork", tmp_path)
    assert len(changed) == 1 + len(NOTEBOOKS) and tmp_path / "README.md" not in changed  # no badges there
    assert course.repo_from_pyproject(tmp_path / "pyproject.toml") == "alice/my-fork"
    for path in course.course_notebooks(tmp_path):
        nb = json.loads(path.read_text())
        assert admin.notebook_problems(nb, "alice/my-fork", path.name) == []
        assert admin.notebook_problems(nb, original, path.name) != []
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text()

    admin.apply_badges(original, tmp_path)  # and back: byte for byte what is committed
    for path in NOTEBOOKS:
        assert (tmp_path / "notebooks" / path.name).read_text() == path.read_text(), path.name
    assert admin.apply_badges(original, tmp_path) == []  # idempotent


@pytest.mark.parametrize("repo", ["alice", "alice/", "https://github.com/a/b", "a/b/c", "a/b.git", ""])
def test_bad_repository_names_are_refused(repo):
    with pytest.raises(ValueError, match="owner/name"):
        course.check_repo(repo)


def test_cli_refuses_a_bad_repo_before_touching_files():
    with pytest.raises(ValueError, match="owner/name"):
        admin.main(["badges", "--repo", "not a repo"])


def _run_setup_cell_in_fake_colab(monkeypatch, stdout="", returncode=0):
    import subprocess
    import sys
    import types

    def pip(command, **_):
        assert command[1:4] == ["-m", "pip", "install"] and command[-1].startswith("git+https://github.com/")
        return subprocess.CompletedProcess(command, returncode, stdout=stdout, stderr="no network")

    monkeypatch.setattr(subprocess, "run", pip)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(admin.colab_setup_source("someone/course"), {})


def test_colab_cell_reports_the_new_package_and_no_restart(monkeypatch, capsys):
    _run_setup_cell_in_fake_colab(monkeypatch, "Successfully installed ae-to-cgan-course-0.1.0\n")
    out = capsys.readouterr().out
    assert "pip installed: ae-to-cgan-course (new) -> 0.1.0\n" in out
    assert "no restart needed" in out


def test_colab_cell_says_plainly_when_a_restart_is_needed(monkeypatch, capsys):
    _run_setup_cell_in_fake_colab(monkeypatch, "Found existing installation: numpy 2.1.3\n"
                                               "Successfully installed ae-to-cgan-course-0.1.0 numpy-2.3.0\n")
    out = capsys.readouterr().out
    assert "numpy 2.1.3 -> 2.3.0" in out and "restart the session (Runtime > Restart session)" in out


def test_colab_cell_does_nothing_outside_colab(monkeypatch, capsys):
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip ran outside Colab"))
    exec(admin.colab_setup_source("someone/course"), {})
    assert capsys.readouterr().out == ""


def test_the_colab_cell_is_short():
    assert len(admin.colab_setup_source("someone/course").splitlines()) <= 20


def test_colab_cell_shows_pips_error(monkeypatch):
    with pytest.raises(RuntimeError, match=r"pip could not install the course from .*\nno network"):
        _run_setup_cell_in_fake_colab(monkeypatch, returncode=1)
