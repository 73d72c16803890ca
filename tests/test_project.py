"""Project-level checks: the conda file and pyproject agree, notebooks are in shape."""

import json
import re
import tomllib

import pytest

from tools.course import ROOT, course_notebooks

NOTEBOOKS = course_notebooks()


def test_environment_yml_installs_the_lab_extra_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    text = (ROOT / "environment.yml").read_text()
    pip_lines = [line.split("#")[0].strip()[2:].strip() for line in text.split("- pip:")[1].splitlines()
                 if line.strip().startswith("- ")]
    assert pip_lines == ['-e ".[lab]"'] and "lab" in project["optional-dependencies"]
    assert "python=3.11" in text


def test_there_are_notebooks_in_course_order():
    names = [nb.name for nb in NOTEBOOKS]
    every = sorted(nb.name for nb in (ROOT / "notebooks").glob("*.ipynb"))
    assert names == every, "a notebook's name is NN_name.ipynb, NN its place in the course"
    assert names[:2] == ["01_autoencoder.ipynb", "02_bottleneck_2d.ipynb"]
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(1, len(names) + 1)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_structure(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    first = "".join(cells[0]["source"])
    assert first.startswith("# "), "the first cell is the title"
    assert "you will learn" in first.lower()
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown
    for text in (c for c in cells if c["cell_type"] == "markdown"):
        dollars = re.sub(r"`[^`]*`", "", "".join(text["source"])).replace("\\$", "").count("$")
        assert dollars % 2 == 0, f"an unclosed $ in a markdown cell: {''.join(text['source'])[:80]!r}"
    assert re.search(r"\$[^$\s][^$]*\$", markdown), "the math is written in LaTeX"
    code = [c for c in cells if c["cell_type"] == "code"]
    # the Colab set-up cell does nothing outside Colab, so a run before it was added still counts
    ran = [c for c in code if "colab-setup" not in c.get("metadata", {}).get("tags", [])]
    assert all(c.get("execution_count") for c in ran), "commit a full run's outputs"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
    assert path.stat().st_size < 5_000_000, "keep committed notebooks lean"
    streams = "".join("".join(o.get("text", "")) for c in code for o in c.get("outputs", []))
    assert "Resuming after epoch" not in streams, "commit a fresh run: delete the notebook's outputs/ first"
    assert "/work/" not in streams and "/home/" not in streams, "an output shows a path of the machine"


def test_the_makefile_prepares_the_classifier_the_notebooks_load():
    from helpers import classifier

    assert f"CLASSIFIER := data/{classifier.CACHE_NAME}\n" in (ROOT / "Makefile").read_text()
