"""Run by run.sh inside the Colab-like virtual environment: the course fits Colab's runtime as published."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FREEZE = Path(os.environ.get("COLAB_FREEZE", max(HERE.glob("pip-freeze-*.txt"))))
COURSE = "ae-to-cgan-course"
# Test tools that Colab does not have; they are installed beside the runtime, never over it.
TEST_TOOLS = {"nbval", "coverage"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def frozen_versions() -> dict[str, str]:
    pins = (line.split("==") for line in FREEZE.read_text().splitlines() if "==" in line)
    return {canonical(name): version.strip() for name, version in pins}


def installed_versions() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def course_url() -> str:
    return os.environ.get("COURSE_PIP_URL", f"git+file://{ROOT}")


def setup_cell_source(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if "colab-setup" in c["metadata"].get("tags", []))


def test_this_is_colabs_python_and_runtime():
    frozen, installed = frozen_versions(), installed_versions()
    assert sys.version_info[:2] == (3, 13)
    for name in ("tensorflow", "keras", "tensorflow-probability", "ipython", "ipywidgets", "numpy"):
        assert installed[name] == frozen[name], name


def test_course_resolves_inside_colab(tmp_path):
    """pip --dry-run with the freeze as constraints: the course adds itself and changes nothing else."""
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                    "--report", str(report), "-c", str(FREEZE), f"{COURSE} @ {course_url()}"], check=True)
    frozen = frozen_versions()
    to_install = {canonical(item["metadata"]["name"]): item["metadata"]["version"]
                  for item in json.loads(report.read_text())["install"]}
    assert COURSE in to_install
    outside = {name: version for name, version in to_install.items()
               if name != COURSE and frozen.get(name) != version}
    assert outside == {}, f"the course would add or change packages Colab does not have as is: {outside}"
    assert {"tensorflow", "keras", "tensorflow-probability", "matplotlib", "imageio"} <= set(to_install)
    assert "ipython" not in to_install  # the front end's own (Colab pins it), never the course's to change


def test_setup_cell_installs_the_course_and_changes_nothing_colab_has():
    """The notebooks' first code cell, run with google.colab importable, as in a new Colab session."""
    assert "google.colab" not in sys.modules
    import google.colab  # noqa: F401  (the stand-in on PYTHONPATH)

    before = installed_versions()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(setup_cell_source(ROOT / "notebooks" / "01_autoencoder.ipynb"), {})
    printed = out.getvalue()
    after = installed_versions()
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed <= {COURSE}, f"the set-up cell changed {changed}"
    assert COURSE in after
    assert f"{COURSE} " in printed and "no restart needed" in printed, printed
    if COURSE not in before:
        assert f"{COURSE} (new) -> {after[COURSE]}" in printed


def test_every_package_colab_has_is_still_at_colabs_version():
    frozen = frozen_versions()
    drifted = {name: (frozen[name], version) for name, version in installed_versions().items()
               if name in frozen and frozen[name] != version}
    assert drifted == {}, f"(Colab's version, installed version): {drifted}"
    extra = set(installed_versions()) - set(frozen) - TEST_TOOLS - {COURSE, "pip"}
    assert extra == set(), f"packages Colab does not have: {extra}"


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.name)
def test_every_notebook_has_the_same_setup_cell(notebook):
    assert setup_cell_source(notebook) == setup_cell_source(ROOT / "notebooks" / "01_autoencoder.ipynb")
