"""Exercise cells: the reference solutions pass their checks, the student stubs fail them helpfully."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf

from helpers import checks
from tools import admin, course
from tools.course import ROOT

NOTEBOOKS = course.course_notebooks()
KEY_CHECKS = {"check_reparameterize", "check_kl", "check_elbo", "check_discriminator_loss"}


def exercise_cells():
    """Each exercise's solution cell and the check cell after it, as one source."""
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        for index, cell in enumerate(cells):
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in source:
                check = "".join(cells[index + 1]["source"])
                yield pytest.param(f"{source}\n\n{check}", id=f"{path.stem}-cell{index}")


def test_every_exercise_is_a_solution_cell_then_its_locked_check_for_nbgrader():
    grade_ids = []
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        for index, cell in enumerate(cells):
            marks = cell["metadata"].get("nbgrader")
            if "### BEGIN SOLUTION" in "".join(cell["source"]):
                assert marks == {"grade": False, "solution": True, "locked": False,
                                 "grade_id": marks["grade_id"], "schema_version": 3}, (path.name, index)
                check = cells[index + 1]
                assert course.is_check_cell(check) and check["metadata"]["nbgrader"]["locked"]
                assert check["metadata"]["nbgrader"]["points"] > 0
                assert re.search(r"(?m)^check_\w+\(", "".join(check["source"]))
            if marks:
                grade_ids.append(marks["grade_id"])
    assert len(grade_ids) == 2 * len(EXERCISES) and len(set(grade_ids)) == len(grade_ids)


EXERCISES = list(exercise_cells())


def run(source):
    # each cell runs alone; a notebook's later cells use the checks its first one imports
    namespace = {"np": np, "tf": tf, **{n: getattr(checks, n) for n in dir(checks) if n.startswith("check_")}}
    exec(compile(source, "<exercise>", "exec"), namespace)


def test_the_key_pieces_have_checked_exercises():
    used = {name for p in EXERCISES for name in KEY_CHECKS if f"{name}(" in p.values[0]}
    assert used == KEY_CHECKS


@pytest.mark.parametrize("source", EXERCISES)
def test_reference_solution_passes(source, capsys):
    run(source)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("source", EXERCISES)
def test_student_stub_fails_with_a_helpful_message(source):
    stub = admin.strip_solutions(source)
    assert "BEGIN SOLUTION" not in stub and admin.STUB in stub
    with pytest.raises(checks.ExerciseError, match="not implemented yet"):
        run(stub)


def test_student_copies_hide_solutions_and_keep_the_rest(tmp_path):
    written = admin.write_student_copies(tmp_path)
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for original, copy in zip(NOTEBOOKS, written, strict=True):
        before, after = json.loads(original.read_text()), json.loads(copy.read_text())
        assert len(before["cells"]) == len(after["cells"])
        for old, new in list(zip(before["cells"], after["cells"], strict=True))[1:]:  # the title: below
            if "### BEGIN SOLUTION" in "".join(old["source"]):
                assert new["outputs"] == [] and "raise NotImplementedError" in "".join(new["source"])
            elif course.is_check_cell(old):
                assert new["outputs"] == [] and new["source"] == old["source"]
            else:
                assert new == old
        assert "### BEGIN SOLUTION" not in copy.read_text()


def test_student_copies_open_the_student_copies_in_colab(tmp_path):
    repo = course.repo_from_pyproject()
    for copy in admin.write_student_copies(tmp_path):
        text = copy.read_text()
        links = re.findall(r"https://colab\.research\.google\.com/github/[^)\s\"]+", text)
        assert links == [admin.colab_url(repo, copy.name, admin.STUDENT_BRANCH)], copy.name
        assert f"/blob/{course.BRANCH}/" not in text  # no way back to the notebook with the solutions
        title = json.loads(text)["cells"][0]["source"]
        original = json.loads((ROOT / "notebooks" / copy.name).read_text())["cells"][0]["source"]
        back = "".join(title).replace(f"/blob/{admin.STUDENT_BRANCH}/", f"/blob/{course.BRANCH}/")
        assert back == "".join(original)  # the badge's branch is all that changed in the title


def test_strip_solutions_keeps_indentation_and_refuses_unbalanced_markers():
    source = "def f(x):\n    # hint\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\ncheck(f)"
    assert admin.strip_solutions(source) == f"def f(x):\n    # hint\n    {admin.STUB}\n\ncheck(f)"
    with pytest.raises(ValueError, match="unbalanced"):
        admin.strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_student_copies_never_overwrite_the_course():
    with pytest.raises(ValueError, match="refusing"):
        admin.write_student_copies(ROOT / "notebooks")
