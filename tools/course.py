"""The course's notebooks as every tool, benchmark and test reads them: where, in what order, their cells.

A course notebook is notebooks/NN_name.ipynb (two digits, then its name), and the course runs them in that
order. Cells are read as nbformat 4 JSON: a cell's source is one string or a list of lines, its tags
and nbgrader marks sit in its metadata. The course's repository on GitHub (badges, the website's
links) is pyproject.toml's [project.urls] Repository, on BRANCH. Nothing here imports TensorFlow but
`load_course_model`, which executes the cells tagged `course-model` for a benchmark.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from helpers.config import project_root

ROOT = project_root() or Path(__file__).resolve().parent.parent  # the checkout tools/ is run from
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
BRANCH = "main"
COLAB_TAG = "colab-setup"  # the Colab set-up cell (tools/admin.py writes it)
COURSE_MODEL_TAG = "course-model"  # the cells a benchmark executes
REPO_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def course_notebooks(root: Path = ROOT) -> list[Path]:
    """The course's notebooks, in course order."""
    return sorted((root / "notebooks").glob(NOTEBOOK_GLOB))


def notebook_names(root: Path = ROOT) -> list[str]:
    """The course's notebooks' names (file names without .ipynb), in course order."""
    return [path.stem for path in course_notebooks(root)]


def notebook_path(name: str, root: Path = ROOT) -> Path:
    """Where the course notebook `name` (e.g. "05_conv_vae") is; an error if there is none by that name."""
    path = root / "notebooks" / f"{name}.ipynb"
    if not re.fullmatch(r"[0-9][0-9]_\w+", name) or not path.is_file():
        raise ValueError(f"no course notebook {name!r} (known: {', '.join(notebook_names(root))})")
    return path


def read_notebook(path: Path) -> dict:
    """A notebook file as its JSON (nbformat 4: cells, metadata)."""
    return json.loads(path.read_text())


def notebook_text(nb: dict) -> str:
    """A notebook as nbformat writes it (sorted keys, indent 1), so rewrites leave no noise in diffs."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def cell_source(cell: dict) -> str:
    """A cell's source as one string (nbformat stores it as a string or a list of lines)."""
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def has_tag(cell: dict, tag: str) -> bool:
    """Whether the cell's metadata tags include `tag` (e.g. COLAB_TAG, COURSE_MODEL_TAG)."""
    return tag in cell.get("metadata", {}).get("tags", [])


def is_check_cell(cell: dict) -> bool:
    """True for an exercise's check: a locked cell that nbgrader scores (metadata nbgrader.grade)."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


def course_model_sources(notebook: Path) -> list[str]:
    """The sources of the notebook's cells tagged `course-model`, in order; an error if there are none."""
    sources = [cell_source(c) for c in read_notebook(notebook)["cells"] if has_tag(c, COURSE_MODEL_TAG)]
    if not sources:
        raise ValueError(f"{notebook} has no cells tagged {COURSE_MODEL_TAG!r}")
    return sources


def load_course_model(notebook: Path, extra: dict | None = None) -> dict:
    """Execute the notebook's cells tagged `course-model` and return their namespace.

    The namespace starts with keras, np and tf, plus `extra` (names the notebook's set-up cell defines).
    """
    import linecache

    import keras
    import numpy as np
    import tensorflow as tf

    namespace = {"keras": keras, "np": np, "tf": tf, **(extra or {})}
    for number, source in enumerate(course_model_sources(notebook)):
        filename = f"<{notebook.name}, {COURSE_MODEL_TAG} cell {number}>"
        lines = source.splitlines(keepends=True)
        linecache.cache[filename] = (len(source), None, lines, filename)  # AutoGraph reads the source
        exec(compile(source, filename, "exec"), namespace)  # the course's own code
    return namespace


def check_repo(repo: str) -> str:
    """Validate an 'owner/name' GitHub repository name and return it."""
    if not REPO_PATTERN.match(repo) or repo.endswith(".git"):
        raise ValueError(f"expected a GitHub repository as 'owner/name' (e.g. 'alice/ae-to-cgan'), "
                         f"got {repo!r}")
    return repo


def repo_from_pyproject(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The 'owner/name' of the Repository URL in pyproject.toml's [project.urls]."""
    url = tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"]
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)/?", url)
    if match is None:
        raise ValueError(f"{pyproject}: Repository must be https://github.com/owner/name, got {url!r}")
    return check_repo(match.group(1))
