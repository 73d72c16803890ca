"""Course maintenance: Colab badges (`make badges`) and student copies without solutions (`make student`).

The repository's location is defined once, in pyproject.toml's [project.urls] Repository. The badge
at the top of every notebook and each notebook's Colab set-up cell are generated from it;
`python -m tools.admin badges --repo owner/name` rewrites them all (and the URL in pyproject.toml)
for a fork.

An exercise is two cells, marked up in nbgrader's format: a solution cell, whose reference solution
sits between `### BEGIN SOLUTION` and `### END SOLUTION` lines, and the locked check cell after it,
which scores it (`make grade` judges the answers outside the student's kernel: tools/grade.py).
`python -m tools.admin student --out student` writes copies of the notebooks in which each such
block is replaced by `raise NotImplementedError` and the outputs of both cells are cleared, so a
student sees the task and its check, not the answer.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tools.course import (
    BRANCH,
    COLAB_TAG,
    ROOT,
    cell_source,
    check_repo,
    course_notebooks,
    has_tag,
    is_check_cell,
    notebook_text,
    read_notebook,
    repo_from_pyproject,
)

STUDENT_BRANCH = "student"  # where an instructor publishes `make student`'s copies; their badges point here
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_LINE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)[ \t]*$", re.MULTILINE)


def colab_url(repo: str, notebook: str, branch: str = BRANCH) -> str:
    """Colab's address for a notebook (its file name) on a branch of the repository."""
    return f"https://colab.research.google.com/github/{check_repo(repo)}/blob/{branch}/notebooks/{notebook}"


def badge(repo: str, notebook: str, branch: str = BRANCH) -> str:
    """The Markdown of an 'Open in Colab' badge for a notebook."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(repo, notebook, branch)})"


COLAB_SETUP = """\
# In Colab only: install this course's `helpers` package. Colab has everything else, and keeps it.
import importlib
import os
import subprocess
import sys

try:
    import google.colab  # noqa: F401
except ImportError:
    pass  # JupyterLab or Binder: `make lab` or binder/ installed the course
else:
    url = os.environ.get("COURSE_PIP_URL", "git+https://github.com/{repo}.git")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", url], capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"pip could not install the course from {{url}}:\\n{{pip.stderr}}")
    importlib.invalidate_caches()  # so that this session finds the package pip just added
    from helpers.colab import report_install

    report_install(pip.stdout)"""


def colab_setup_source(repo: str) -> str:
    """The set-up cell: in Colab, pip-install the course and say what changed; elsewhere nothing."""
    return COLAB_SETUP.format(repo=check_repo(repo))


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)  # how nbformat stores a cell's source


def apply_to_notebook(nb: dict, repo: str, notebook: str) -> dict:
    """Put the badge under the title (first cell) and the Colab set-up cell right after it."""
    title = nb["cells"][0]
    text = cell_source(title)
    if title["cell_type"] != "markdown" or not text.startswith("# "):
        raise ValueError(f"{notebook}: the first cell must be the '# ' title")
    text = BADGE_LINE.sub("", text)
    head, _, rest = text.partition("\n")
    title["source"] = _lines(f"{head}\n\n{badge(repo, notebook)}\n\n{rest.lstrip(chr(10))}".rstrip("\n"))
    setup = {"cell_type": "code", "execution_count": None, "id": "colab-setup",
             "metadata": {"tags": [COLAB_TAG]}, "outputs": [], "source": _lines(colab_setup_source(repo))}
    existing = [i for i, c in enumerate(nb["cells"]) if has_tag(c, COLAB_TAG)]
    if existing:
        old = nb["cells"][existing[0]]
        setup["execution_count"], setup["outputs"] = old.get("execution_count"), old.get("outputs", [])
        setup["id"], setup["metadata"] = old.get("id", setup["id"]), old.get("metadata", setup["metadata"])
        nb["cells"][existing[0]] = setup
    else:
        nb["cells"].insert(1, setup)
    return nb


def without_badge(nb: dict) -> dict:
    """A copy of the notebook without the Colab badge line in its title cell (for the site and slides)."""
    nb = json.loads(json.dumps(nb))
    title = nb["cells"][0]
    title["source"] = _lines(re.sub(r"\n{3,}", "\n\n", BADGE_LINE.sub("", cell_source(title))))
    return nb


def notebook_problems(nb: dict, repo: str, notebook: str) -> list[str]:
    """What is missing or wrong in a notebook's badge and Colab set-up cell (empty if all is well)."""
    problems = []
    title = cell_source(nb["cells"][0])
    if badge(repo, notebook) not in title:
        problems.append(f"{notebook}: no badge pointing at {colab_url(repo, notebook)} in the title cell")
    setup = nb["cells"][1] if len(nb["cells"]) > 1 else {}
    if not has_tag(setup, COLAB_TAG):
        problems.append(f"{notebook}: the second cell is not the Colab set-up cell (tag '{COLAB_TAG}')")
    elif cell_source(setup) != colab_setup_source(repo):
        problems.append(f"{notebook}: the Colab set-up cell does not install from {repo}")
    return problems


def apply_badges(repo: str, root: Path = ROOT) -> list[Path]:
    """Rewrite pyproject's URL and every notebook's badge and set-up cell (the README has no badges)."""
    check_repo(repo)
    updates: dict[Path, str] = {}
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    if not re.search(r'(?m)^Repository = ".*"$', text):
        raise ValueError(f"{pyproject}: no 'Repository = \"...\"' line under [project.urls]")
    updates[pyproject] = re.sub(r'(?m)^Repository = ".*"$', f'Repository = "https://github.com/{repo}"', text)
    for path in course_notebooks(root):
        updates[path] = notebook_text(apply_to_notebook(read_notebook(path), repo, path.name))
    changed = [path for path, new in updates.items() if path.read_text() != new]
    for path in changed:
        path.write_text(updates[path])
    return changed


SOLUTION_BLOCK = re.compile(r"(?m)^([ \t]*)### BEGIN SOLUTION[ \t]*\n(?:.*\n)*?[ \t]*### END SOLUTION[ \t]*$")
STUB = 'raise NotImplementedError("your code here")'


def strip_solutions(source: str) -> str:
    """Replace every BEGIN/END SOLUTION block by a NotImplementedError stub at the same indentation."""
    stripped = SOLUTION_BLOCK.sub(lambda m: f"{m.group(1)}{STUB}", source)
    if "### BEGIN SOLUTION" in stripped or "### END SOLUTION" in stripped:
        raise ValueError("unbalanced ### BEGIN SOLUTION / ### END SOLUTION markers")
    return stripped


def student_notebook(nb: dict, repo: str, notebook: str) -> dict:
    """A copy without solutions: stubs instead, those cells' outputs cleared, the badge on STUDENT_BRANCH."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        source = cell_source(cell)
        if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in source:
            cell["source"] = _lines(strip_solutions(source))
            cell["outputs"], cell["execution_count"] = [], None
        if cell["cell_type"] == "code" and is_check_cell(cell):  # its "✓" belongs to the solution
            cell["outputs"], cell["execution_count"] = [], None
    title = cell_source(nb["cells"][0])
    if not BADGE_LINE.search(title):
        raise ValueError(f"{notebook}: no Colab badge in the title cell; run `make badges` first")
    student_badge = badge(repo, notebook, STUDENT_BRANCH)
    nb["cells"][0]["source"] = _lines(BADGE_LINE.sub(lambda _: student_badge, title))
    return nb


def write_student_copies(out: Path, root: Path = ROOT) -> list[Path]:
    """Student copies of every notebook in `out` (created if needed); returns the files written."""
    if out.resolve() == (root / "notebooks").resolve():
        raise ValueError("refusing to overwrite the course's own notebooks: choose another --out folder")
    repo = repo_from_pyproject(root / "pyproject.toml")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in course_notebooks(root):
        target = out / path.name
        target.write_text(notebook_text(student_notebook(read_notebook(path), repo, path.name)))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.admin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    badges = commands.add_parser("badges", help="rewrite the Colab badges and set-up cells")
    badges.add_argument("--repo", help="owner/name of the fork (default: pyproject's Repository URL)")
    student = commands.add_parser("student", help="write student copies with the solutions removed")
    student.add_argument("--out", type=Path, default=ROOT / "student", help="folder for the copies")
    args = parser.parse_args(argv)
    if args.command == "badges":
        repo = check_repo(args.repo) if args.repo else repo_from_pyproject()
        changed = apply_badges(repo)
        for path in changed:
            print(f"updated {path.relative_to(ROOT)}")
        print(f"badges and set-up cells point at github.com/{repo} ({len(changed)} files changed)")
    elif args.command == "student":
        written = write_student_copies(args.out)
        print(f"{len(written)} student notebooks without solutions in {args.out}; their Colab badges open "
              f"branch '{STUDENT_BRANCH}' (docs/teaching.md says how to publish them there)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
