"""`make grade`: made-up submissions (right, untouched, wrong, tampering, attacking, corrupt, hanging).

Two grading runs: notebook 03 (two checks) for eight students, and notebook 04 with a short time
limit for one whose notebook hangs. Each runs the notebooks in quick mode in the sandbox, so this
file takes a few minutes.
"""

from __future__ import annotations

import csv
import json

import pytest

from tools import admin, grade
from tools.sandbox import bubblewrap

ROOT = grade.ROOT
KL_SOLUTION = "return 0.5 * np.sum(mean**2 + np.exp(log_var) - log_var - 1.0, axis=-1)"


def course_notebook(name: str) -> dict:
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())


def code_cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": f"x{abs(hash(source)) % 10**8}",
            "metadata": {}, "outputs": [], "source": source}


def save(folder, name: str, nb: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.ipynb").write_text(json.dumps(nb))


def read_gradebook(path) -> dict[tuple[str, str], dict]:
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(grade.COLUMNS)
    return {(row["student"], row["check"]): row for row in rows}


ATTACK = """\
import pathlib, socket, subprocess
refused = []
for target in [{course!r}, {later_student!r}]:  # the course, and a student graded after this one
    try:
        pathlib.Path(target).write_text("{{}}")
        refused.append(False)
    except OSError:
        refused.append(True)
remount = subprocess.run(["mount", "-o", "remount,bind,rw", "/", "/"], capture_output=True)
refused.append(remount.returncode != 0)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    refused.append(False)
except OSError:
    refused.append(True)
refused.append(not list(pathlib.Path("/tmp").glob("grade-*/course/gradebook.db")))  # the gradebook: unseen
refused.append(len(list(pathlib.Path("/tmp").glob("grade-*/course/autograded/*"))) == 1)  # itself only
refused.append(not pathlib.Path({submissions!r}).exists() or not any(pathlib.Path({submissions!r}).iterdir()))
try:
    hog = bytearray(64 * 2**30)  # past the memory cap
    refused.append(False)
except MemoryError:
    refused.append(True)
SANDBOXED = all(refused)
print("refused:", refused)"""


@pytest.fixture(scope="module")
def graded_03(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    save(submissions / "right", "03_vae", course_notebook("03_vae"))
    admin.write_student_copies(submissions / "untouched")
    wrong = course_notebook("03_vae")  # the KL without its factor 1/2, and a stray print()
    for cell in wrong["cells"]:
        cell["source"] = "".join(cell["source"]).replace(
            KL_SOLUTION, "print()\n    " + KL_SOLUTION.replace("0.5 * ", ""))
    save(submissions / "wrong", "03_vae", wrong)
    tamper = course_notebook("03_vae")
    for cell in tamper["cells"]:
        source = "".join(cell["source"])
        cell["source"] = source.replace(KL_SOLUTION, "return mean")  # wrong, and then:
        if "check_kl(" in source and admin.is_check_cell(cell):
            cell["source"] = 'print("✓ kl: trust me")'  # an edited check
    tamper["cells"] = [c for c in tamper["cells"]
                       if not (admin.is_check_cell(c) and "check_reparameterize(" in "".join(c["source"]))]
    save(submissions / "tamper", "03_vae", tamper)
    cheat = course_notebook("03_vae")  # replaces the check itself
    for cell in cheat["cells"]:
        cell["source"] = "".join(cell["source"]).replace(KL_SOLUTION, "return None\n\ncheck_kl = print")
    save(submissions / "cheat", "03_vae", cheat)
    attacker = course_notebook("03_vae")  # right answers only if every attack was refused
    for cell in attacker["cells"]:
        cell["source"] = "".join(cell["source"]).replace(KL_SOLUTION, f"{KL_SOLUTION} if SANDBOXED else None")
    attack = ATTACK.format(course=str(ROOT / "notebooks" / "pwned.txt"), submissions=str(submissions),
                           later_student=str(submissions / "wrong" / "03_vae.ipynb"))
    attacker["cells"].insert(3, code_cell(attack))
    save(submissions / "attacker", "03_vae", attacker)
    (submissions / "corrupt").mkdir()
    (submissions / "corrupt" / "03_vae.ipynb").write_text('{"cells": [ this is not JSON')
    (submissions / "linked").mkdir()
    (submissions / "linked" / "03_vae.ipynb").symlink_to("/etc/passwd")
    course_files = [*ROOT.glob("helpers/*.py"), *ROOT.glob("tools/*.py"), ROOT / "pyproject.toml"]
    before = {p: p.read_bytes() for p in course_files}
    rows = grade.grade(submissions, notebooks=["03_vae"], time_limit=900)  # a quick run takes about 1 min
    after = {p: p.read_bytes() for p in course_files}
    return submissions, rows, before == after


def test_a_correct_submission_gets_full_marks(graded_03):
    submissions, rows, _ = graded_03
    book = read_gradebook(submissions / "gradebook.csv")
    assert len(book) == len(rows) == 8 * 2
    for check in ("03-reparameterize-check", "03-kl-divergence-check"):
        row = book[("right", check)]
        assert float(row["points"]) == float(row["max_points"]) == 1.0 and row["message"].startswith("✓")


def test_the_untouched_student_copy_gets_zero_and_says_not_implemented(graded_03):
    book = read_gradebook(graded_03[0] / "gradebook.csv")
    for check in ("03-reparameterize-check", "03-kl-divergence-check"):
        row = book[("untouched", check)]
        assert float(row["points"]) == 0.0 and "not implemented yet" in row["message"]


def test_a_wrong_answer_gets_partial_marks_with_the_checks_message(graded_03):
    book = read_gradebook(graded_03[0] / "gradebook.csv")
    assert float(book[("wrong", "03-reparameterize-check")]["points"]) == 1.0
    kl = book[("wrong", "03-kl-divergence-check")]
    assert float(kl["points"]) == 0.0 and kl["message"].startswith("ExerciseError: kl")


def test_edited_and_deleted_checks_score_zero_and_say_so(graded_03):
    book = read_gradebook(graded_03[0] / "gradebook.csv")
    deleted, edited = book[("tamper", "03-reparameterize-check")], book[("tamper", "03-kl-divergence-check")]
    assert float(deleted["points"]) == 0.0 and "deleted" in deleted["message"]
    assert float(edited["points"]) == 0.0  # scored by the course's check, not by the student's print
    assert "edited" in edited["message"] and "ExerciseError" in edited["message"]


@pytest.mark.skipif(bubblewrap() is None, reason="no bubblewrap: `make setup` installs it where it can")
def test_a_submission_cannot_touch_the_course_other_students_or_the_network(graded_03):
    submissions, _, course_unchanged = graded_03
    book = read_gradebook(submissions / "gradebook.csv")
    attacker = [book[("attacker", c)] for c in ("03-reparameterize-check", "03-kl-divergence-check")]
    # every attack ran and was refused, or the attacker would have lost its points
    assert [float(r["points"]) for r in attacker] == [1.0, 1.0], [r["message"] for r in attacker]
    assert course_unchanged and not (ROOT / "notebooks" / "pwned.txt").exists()
    assert json.loads((submissions / "wrong" / "03_vae.ipynb").read_text())["cells"]  # intact, and graded:
    assert book[("wrong", "03-kl-divergence-check")]["message"].startswith("ExerciseError: kl")


def test_code_that_replaces_a_check_is_flagged_for_a_human(graded_03):
    book = read_gradebook(graded_03[0] / "gradebook.csv")
    for check in ("03-reparameterize-check", "03-kl-divergence-check"):
        row = book[("cheat", check)]
        assert float(row["points"]) == 0.0
        assert "grade by hand" in row["message"] and "check_kl" in row["message"]


def test_a_corrupt_file_or_a_link_is_reported_and_grading_goes_on(graded_03):
    book = read_gradebook(graded_03[0] / "gradebook.csv")
    for check in ("03-reparameterize-check", "03-kl-divergence-check"):
        row = book[("corrupt", check)]
        assert float(row["points"]) == 0.0 and row["message"].startswith("not a valid notebook")
        linked = book[("linked", check)]
        assert float(linked["points"]) == 0.0 and linked["message"].startswith("not a regular file")
        assert "root:" not in linked["message"]


def test_a_hanging_notebook_times_out_and_the_others_are_graded(tmp_path, capsys):
    hang = course_notebook("04_elbo")
    hang["cells"].insert(3, code_cell("import time\ntime.sleep(10**6)"))
    save(tmp_path / "hang", "04_elbo", hang)
    (tmp_path / "missing").mkdir()
    rows = grade.grade(tmp_path, notebooks=["04_elbo"], time_limit=25)
    book = read_gradebook(tmp_path / "gradebook.csv")
    assert len(rows) == 2
    assert float(book[("hang", "04-elbo-check")]["points"]) == 0.0
    assert book[("hang", "04-elbo-check")]["message"].startswith("timed out")
    assert book[("missing", "04-elbo-check")]["message"] == "missing: no 04_elbo.ipynb in the submission"
    assert "hang: 0 / 1 (lost: 04_elbo/04-elbo-check)" in capsys.readouterr().out


def test_bad_arguments_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="one subfolder per student"):
        grade.grade(tmp_path / "nope")
    with pytest.raises(ValueError, match="no student folders"):
        grade.grade(tmp_path)
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="not graded notebooks: 01_autoencoder"):
        grade.grade(tmp_path, notebooks=["01_autoencoder"])


def test_reading_a_submission_never_raises():
    assert grade.read_submission(ROOT / "nope.ipynb")[1].startswith("missing")
    nb, problem = grade.read_submission(ROOT / "notebooks" / "04_elbo.ipynb")
    assert problem == "" and nb["cells"]
