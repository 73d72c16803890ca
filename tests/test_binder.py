"""Binder: binder/ installs the course in a fresh environment; postBuild prepares MNIST and the classifier.

The test copies the repository's tracked files to a temporary folder, creates a new virtual
environment with the Python of binder/runtime.txt, installs binder/requirements.txt there as
repo2docker would (from the repository's root), and runs binder/postBuild. The classifier is trained
briefly (CLASSIFIER_ARGS), which is the one difference from a Binder build; MNIST comes through the
same route as on a fresh machine. This takes a few minutes (pip installs TensorFlow from its cache).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tools.course import ROOT

pytestmark = [pytest.mark.classroom, pytest.mark.slow]


def test_binder_runtime_matches_the_course():
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime == "python-3.11"
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    assert any(line.split("#")[0].strip() == "-e ." for line in requirements.splitlines())
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the repository's files")
def test_postbuild_runs_in_a_clean_environment(tmp_path):
    repo = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    venv = tmp_path / "venv"
    python = shutil.which("python3.11") or sys.executable
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COURSE_", "PYTHON"))}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env["PATH"]])
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "-r", "binder/requirements.txt"]
    install = subprocess.run(pip, cwd=repo, env=env, capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    env["CLASSIFIER_ARGS"] = "--epochs 1 --n-train 2000"
    build = subprocess.run(["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True, text=True)
    assert build.returncode == 0, (build.stdout + build.stderr)[-3000:]
    assert (repo / "data" / "mnist.npz").stat().st_size > 10_000_000
    assert len(list((repo / "data").glob("mnist_classifier*.weights.h5"))) == 1
    assert "classifier test accuracy" in build.stdout
    kernel_config = venv / "etc" / "ipython" / "ipython_kernel_config.py"
    assert "capture_fd_output = False" in kernel_config.read_text()
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "from helpers.config import data_dir; print(data_dir())"],
                           cwd=repo / "notebooks", env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip() == str(repo / "data")  # a notebook's kernel finds what postBuild made
