"""`make grade`: made-up submissions (right, untouched, wrong, tampering, forging, attacking, broken).

One grading run of notebook 03 (two checks) for a class of twelve, and one of notebook 04 with a short
time limit for a notebook that hangs. Each runs in quick mode in the sandbox: a few minutes in all.
Each forgery is shown to fool the check inside the student's own process (its control), and to score
zero here, where the answers are judged in the grader's process.
"""

from __future__ import annotations

import csv
import json
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tools import admin, grade
from tools.course import ROOT, cell_source, is_check_cell
from tools.sandbox import Limits, bubblewrap

pytestmark = [pytest.mark.classroom, pytest.mark.sandbox, pytest.mark.slow]
if bubblewrap() is None:
    pytest.skip("no working bubblewrap: `make test-classroom` installs it where it can",
                allow_module_level=True)

KL_SOLUTION = "return 0.5 * np.sum(mean**2 + np.exp(log_var) - log_var - 1.0, axis=-1)"
Z_SOLUTION = "return mean + np.exp(0.5 * log_var) * eps"
CHECKS = ("03-reparameterize-check", "03-kl-divergence-check")


def course_notebook(name: str) -> dict:
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())


def code_cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": uuid.uuid4().hex[:8], "metadata": {},
            "outputs": [], "source": source}


def save(folder: Path, name: str, nb: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.ipynb").write_text(json.dumps(nb))


def edited(replacements: dict[str, str], before_checks: str = "") -> dict:
    """Notebook 03 with its solutions replaced, and a cell of the student's own before the first check."""
    nb = course_notebook("03_vae")
    for cell in nb["cells"]:
        for old, new in replacements.items():
            cell["source"] = "".join(cell["source"]).replace(old, new)
    if before_checks:
        first = next(i for i, c in enumerate(nb["cells"]) if is_check_cell(c))
        nb["cells"].insert(first, code_cell(before_checks))
    return nb


def read_gradebook(path: Path) -> dict[tuple[str, str], dict]:
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(grade.COLUMNS)
    return {(row["student"], row["check"]): row for row in rows}


WRONG = {KL_SOLUTION: "return np.zeros(len(mean))", Z_SOLUTION: "return mean"}
STUB = 'raise NotImplementedError("your code here")'
FORGERIES = {  # each fools helpers.checks in the student's own process (see the controls)
    "forged check": "import helpers.checks as hc\n"
                    "hc.check_kl = hc.check_reparameterize = lambda fn: print('✓ ok')",
    "patched numpy": "np.allclose = lambda *a, **k: True",
    "swapped judge": "import helpers.checks as hc\nhc.judge = lambda *a: 'ok'",
}
EXECUTE_RESULT = "ip = get_ipython()\nip.events.register('pre_run_cell', lambda *a: ip.displayhook(1))"
LOOKUP = """\
import helpers.checks as _hc
def _remember(fn):  # the right answers to the check's public cases in a table, by shape; zeros otherwise
    table = {}
    for args in _hc.KL.draw(np.random.default_rng(_hc.PUBLIC_SEED)):
        table[np.shape(args[0])] = fn(*(np.asarray(a, dtype=np.float32) for a in args))
    return lambda *args: table.get(np.shape(args[0]), np.zeros(len(args[0])))
"""
LOOKUP_SOLUTION = {KL_SOLUTION: KL_SOLUTION + "\n\nkl_divergence = _remember(kl_divergence)"}

ATTACK = """\
import os, pathlib, socket, subprocess, sys
refused = []
def refuses(action):
    try:
        action()
        return False
    except OSError:
        return True
refused.append(refuses(lambda: pathlib.Path({home_canary!r}).read_text()))  # the grader's home
refused.append(refuses(lambda: pathlib.Path({course_file!r}).write_text("pwned")))  # the course
refused.append(refuses(lambda: pathlib.Path({solutions!r}).read_text()))  # the course's solutions
refused.append(refuses(lambda: pathlib.Path({later!r}).read_text()))  # a student graded later
refused.append(refuses(lambda: pathlib.Path({later!r}).write_text("{{}}")))
os.symlink({home_canary!r}, "03_vae.ipynb")  # its "own notebook" as a link out: nobody outside follows it
refused.append(refuses(lambda: pathlib.Path("03_vae.ipynb").write_text("# $(touch {marker})")))
refused.append(refuses(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3)))  # the host
# a process bomb, stopped by the limit, then cleared; from a small process of its own, so that the
# kernel (big, with TensorFlow's threads) neither forks hundreds of copies nor waits long at the limit
bomb = subprocess.run([sys.executable, "-c", {bomb!r}], capture_output=True, text=True, timeout=120)
children = int(bomb.stdout.split()[-1]) if bomb.stdout.split() else -1
refused.append(0 < children < 1000)
SANDBOXED = all(refused)
print("refused:", refused, children, "processes")"""
BOMB = """\
import os, signal
children = []
try:
    for _ in range(5000):
        pid = os.fork()
        if pid == 0:
            signal.pause()
        children.append(pid)
except OSError:
    pass
for pid in children:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print(len(children))
"""


def run_in_process(student_cell: str, replacements: dict[str, str]) -> str:
    """Control: a cell of the student's, the solutions and the check cells, in one plain Python process."""
    nb = edited(replacements)
    solutions = [cell_source(c) for c in nb["cells"]
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    check_cells = [cell_source(c) for c in nb["cells"] if is_check_cell(c)]
    program = "\n".join(["import numpy as np", student_cell, *solutions, *check_cells])
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def class_03():
    submissions = ROOT / "outputs" / f"grade-test-{uuid.uuid4().hex}"  # not under /tmp, which is private
    home_canary = Path.home() / f".course-grade-canary-{uuid.uuid4().hex}"
    marker = Path(f"/tmp/course-grade-pwned-{uuid.uuid4().hex}")  # made only if a shell outside ran it
    home_canary.write_text("secret")
    server = socket.create_server(("127.0.0.1", 0))
    admin.write_student_copies(submissions / "untouched")
    save(submissions / "wrong", "03_vae", edited({KL_SOLUTION: KL_SOLUTION.replace("0.5 * ", "")}))
    tamper = edited(WRONG)
    for cell in tamper["cells"]:
        if is_check_cell(cell) and "check_kl(" in "".join(cell["source"]):
            cell["source"] = 'print("✓ kl: trust me")'
    tamper["cells"] = [c for c in tamper["cells"]
                       if not (is_check_cell(c) and "check_reparameterize(" in "".join(c["source"]))]
    save(submissions / "tamper", "03_vae", tamper)
    save(submissions / "forger", "03_vae", edited(WRONG, "\n".join([*FORGERIES.values(), EXECUTE_RESULT])))
    save(submissions / "lookup", "03_vae", edited(LOOKUP_SOLUTION, LOOKUP))
    later = submissions / "zz_right" / "03_vae.ipynb"
    save(submissions / "zz_right", "03_vae", course_notebook("03_vae"))
    attack = ATTACK.format(home_canary=str(home_canary), course_file=str(ROOT / "helpers" / "checks.py"),
                           solutions=str(ROOT / "notebooks" / "03_vae.ipynb"), later=str(later),
                           marker=str(marker), port=server.getsockname()[1], bomb=BOMB)
    # right answers only if every attack ran and was refused: the point is the proof
    save(submissions / "attacker", "03_vae",
         edited({Z_SOLUTION: Z_SOLUTION + " if SANDBOXED else None"}, attack))
    (submissions / "corrupt").mkdir()
    (submissions / "corrupt" / "03_vae.ipynb").write_text('{"cells": [ this is not JSON')
    (submissions / "linked").mkdir()
    (submissions / "linked" / "03_vae.ipynb").symlink_to(ROOT / "notebooks" / "03_vae.ipynb")
    course_files = [*ROOT.glob("helpers/*.py"), *ROOT.glob("tools/*.py"), ROOT / "pyproject.toml"]
    before = {p: p.read_bytes() for p in course_files}
    try:
        rows = grade.grade(submissions, notebooks=["03_vae"], limits=Limits(seconds=600))
        host_intact = {"course": before == {p: p.read_bytes() for p in course_files},
                       "home": home_canary.read_text() == "secret",
                       "no marker": not marker.exists()}
        yield submissions, rows, host_intact
    finally:
        home_canary.unlink()
        server.close()
        shutil.rmtree(submissions)


def test_a_correct_submission_gets_full_marks(class_03):
    submissions, rows, _ = class_03
    book = read_gradebook(submissions / "gradebook.csv")
    assert len(book) == len(rows) == 9 * 2
    for check in CHECKS:
        row = book[("zz_right", check)]
        assert float(row["points"]) == float(row["max_points"]) == 1.0 and row["message"].startswith("✓")


def test_the_untouched_student_copy_gets_zero_and_says_not_implemented(class_03):
    book = read_gradebook(class_03[0] / "gradebook.csv")
    for check in CHECKS:
        row = book[("untouched", check)]
        assert float(row["points"]) == 0.0 and "not implemented yet" in row["message"]


def test_a_wrong_answer_gets_the_hint_the_check_gives_while_studying(class_03):
    book = read_gradebook(class_03[0] / "gradebook.csv")
    assert float(book[("wrong", "03-reparameterize-check")]["points"]) == 1.0
    kl = book[("wrong", "03-kl-divergence-check")]
    assert float(kl["points"]) == 0.0 and kl["message"] == "kl: the factor 1/2 is missing."


def test_edited_and_deleted_checks_score_zero_and_say_so(class_03):
    book = read_gradebook(class_03[0] / "gradebook.csv")
    deleted, edited_row = (book[("tamper", check)] for check in CHECKS)
    assert float(deleted["points"]) == 0.0 and "deleted" in deleted["message"]
    assert float(edited_row["points"]) == 0.0  # scored by the course's check, not by the student's print
    assert edited_row["message"].startswith("the check cell was edited") and "✓" not in edited_row["message"]


@pytest.mark.parametrize("forgery", [*FORGERIES, "lookup table"])
def test_each_forgery_fools_a_check_in_the_students_own_process(forgery):
    control = run_in_process(LOOKUP, LOOKUP_SOLUTION) if forgery == "lookup table" else run_in_process(
        FORGERIES[forgery], WRONG)
    assert control.count("✓") == 2 and "Error" not in control, control


def test_forgeries_score_zero_when_the_grader_judges(class_03):
    book = read_gradebook(class_03[0] / "gradebook.csv")
    for check in CHECKS:
        row = book[("forger", check)]
        assert float(row["points"]) == 0.0 and "✓" not in row["message"], row
    assert float(book[("lookup", "03-reparameterize-check")]["points"]) == 1.0
    lookup = book[("lookup", "03-kl-divergence-check")]  # the cases drawn at grading time: not in its table
    assert float(lookup["points"]) == 0.0 and lookup["message"].startswith("kl: "), lookup


def test_a_submission_cannot_read_or_write_outside_its_sandbox(class_03):
    submissions, _, host_intact = class_03
    book = read_gradebook(submissions / "gradebook.csv")
    # every attack ran and was refused, or the attacker would have lost its point
    attacker = book[("attacker", "03-reparameterize-check")]
    assert float(attacker["points"]) == 1.0, attacker["message"]
    assert all(host_intact.values()), host_intact
    assert json.loads((submissions / "zz_right" / "03_vae.ipynb").read_text())["cells"]  # intact, and graded
    assert all(float(book[("zz_right", c)]["points"]) == 1.0 for c in CHECKS)  # after the bomb, too


def test_a_corrupt_file_or_a_link_is_reported_and_grading_goes_on(class_03):
    book = read_gradebook(class_03[0] / "gradebook.csv")
    for check in CHECKS:
        row = book[("corrupt", check)]
        assert float(row["points"]) == 0.0 and row["message"].startswith("not a valid notebook")
        linked = book[("linked", check)]
        assert float(linked["points"]) == 0.0 and linked["message"].startswith("not a regular file")


def test_a_hanging_notebook_times_out_and_the_others_are_graded(tmp_path, capsys):
    hang = course_notebook("04_elbo")
    hang["cells"].insert(3, code_cell("import time\ntime.sleep(10**6)"))
    save(tmp_path / "hang", "04_elbo", hang)
    (tmp_path / "missing").mkdir()
    rows = grade.grade(tmp_path, notebooks=["04_elbo"], limits=Limits(seconds=25))
    book = read_gradebook(tmp_path / "gradebook.csv")
    assert len(rows) == 2
    assert float(book[("hang", "04-elbo-check")]["points"]) == 0.0
    assert book[("hang", "04-elbo-check")]["message"].startswith("timed out")
    assert book[("missing", "04-elbo-check")]["message"] == "missing: no 04_elbo.ipynb in the submission"
    assert "hang: 0 / 1 (lost: 04_elbo/04-elbo-check)" in capsys.readouterr().out


def test_the_gradebook_replaces_a_link_instead_of_writing_through_it(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("untouched")
    (tmp_path / "gradebook.csv").symlink_to(target)
    grade.write_gradebook([grade.Row("a", "03_vae", "c", 1.0, 1.0, "✓")], tmp_path / "gradebook.csv")
    assert target.read_text() == "untouched" and not (tmp_path / "gradebook.csv").is_symlink()


def test_bad_arguments_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="one subfolder per student"):
        grade.grade(tmp_path / "nope")
    with pytest.raises(ValueError, match="no student folders"):
        grade.grade(tmp_path)
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="not graded notebooks: 01_autoencoder"):
        grade.grade(tmp_path, notebooks=["01_autoencoder"])


def test_reading_a_submission_never_raises(tmp_path):
    assert grade.read_submission(ROOT / "nope.ipynb")[1].startswith("missing")
    (tmp_path / "folder.ipynb").mkdir()
    assert grade.read_submission(tmp_path / "folder.ipynb")[1].startswith("not a regular file")
    nb, problem = grade.read_submission(ROOT / "notebooks" / "04_elbo.ipynb")
    assert problem == "" and nb["cells"]
