"""Grade a class's notebooks (`make grade SUBMISSIONS=DIR`): DIR/gradebook.csv and a summary.

DIR holds one folder per student, each with that student's copies of the course's notebooks under their
course names (`03_vae.ipynb`, ...). Every exercise check (a locked cell with points, in nbgrader's
format, see tools/admin.py) is scored, and no point or message comes from the student's process:

- the course's own check cells are put back in place of the submitted ones (a student who edits a
  check is scored by the original; a deleted check scores zero), and after each one a probe cell that
  calls the student's function on inputs drawn from a seed chosen now, at grading time;
- the notebook runs in quick mode in tools/sandbox.py (bubblewrap; memory, processes, files, output and
  time limited), executed by tools/grade_runner.py, which passes on only the probes' answers;
- this process, which never runs student code, judges those answers with helpers.checks' reference
  and picks the message: the same hints `check_*` gives while studying. A notebook that breaks, hangs
  or is killed scores zero for the checks it did not reach, and grading goes on.

The gradebook has one row per student, notebook and check: student, notebook, check, points,
max_points, message. Nothing is written but DIR/gradebook.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import stat
import sys
import tempfile
import traceback
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers import checks as course_checks_module
from tools.course import ROOT, cell_source, course_notebooks, is_check_cell, read_notebook
from tools.sandbox import HOME, Limits, Outcome, bubblewrap, run

RUNNER = ROOT / "tools" / "grade_runner.py"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COLUMNS = ("student", "notebook", "check", "points", "max_points", "message")
CHECK_CALL = re.compile(r"^(check_\w+)\((\w+)\)\s*$", re.MULTILINE)  # the check cell's last statement
MAX_NOTEBOOK_BYTES = 20 * 2**20  # the course's own, with outputs, are under 5 MB


@dataclass(frozen=True)
class Row:
    """One check of one notebook of one student, as gradebook.csv has it."""

    student: str
    notebook: str
    check: str
    points: float
    max_points: float
    message: str


@dataclass(frozen=True)
class Check:
    """A check cell of a course notebook: its nbgrader id, points, source, and what it calls on what."""

    grade_id: str
    points: float
    source: str
    check_name: str  # check_kl: helpers.checks.EXERCISES' key
    function: str  # kl_divergence: the notebook's function it checks


def course_checks(root: Path = ROOT) -> dict[str, list[Check]]:
    """The graded notebooks (those with check cells) and their checks, in course order."""
    graded = {}
    for path in course_notebooks(root):
        checks = []
        for cell in read_notebook(path)["cells"]:
            if not is_check_cell(cell):
                continue
            source, marks = cell_source(cell), cell["metadata"]["nbgrader"]
            calls = CHECK_CALL.findall(source)
            if len(calls) != 1 or calls[0][0] not in course_checks_module.EXERCISES:
                raise ValueError(f"{path.name}: check cell {marks['grade_id']} must call one of "
                                 "helpers.checks' check_* functions on the notebook's function, "
                                 "e.g. check_kl(kl_divergence)")
            checks.append(Check(marks["grade_id"], float(marks["points"]), source, *calls[0]))
        if checks:
            graded[path.stem] = checks
    return graded


def not_a_file(path: Path) -> str:
    return f"not a regular file: {path.name} must be the notebook itself, not a link or a folder"


def read_submission(path: Path) -> tuple[dict | None, str]:
    """The submitted notebook's cells, or None and why it cannot be graded (a link is never followed).

    Parsed with json alone and at most MAX_NOTEBOOK_BYTES: nbformat's validation of a hostile file can
    take gigabytes. Kept per cell: its type, source and nbgrader marks; the sandbox parses the rest.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, f"missing: no {path.name} in the submission"
    except OSError:
        return None, not_a_file(path)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None, not_a_file(path)
    with os.fdopen(fd, "rb") as file:
        if info.st_size > MAX_NOTEBOOK_BYTES:
            return None, f"too large: {path.name} has more than {MAX_NOTEBOOK_BYTES // 2**20} MB"
        text = file.read(MAX_NOTEBOOK_BYTES + 1)
    try:
        nb = json.loads(text)
        cells = [{"cell_type": c["cell_type"], "source": cell_source(c), "metadata": c.get("metadata", {})}
                 for c in nb["cells"]]
        if not all(c["cell_type"] in ("code", "markdown", "raw") and isinstance(c["source"], str)
                   and isinstance(c["metadata"], dict) for c in cells):
            raise ValueError
    except Exception:  # any way of not being a notebook; the message names none of its content
        return None, "not a valid notebook: not JSON, or its cells are not those of nbformat 4"
    for cell in cells:
        marks = cell["metadata"].get("nbgrader")
        cell["metadata"] = {"nbgrader": marks} if isinstance(marks, dict) else {}
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, ""


def probe_cell(check: Check, seed: int) -> dict:
    """The cell run after a check: the student's function on the cases of `seed`, for the grader to judge."""
    source = (f"__import__('helpers.checks').checks.report_answers({check.check_name!r}, {check.function}, "
              f"{seed})")
    return {"cell_type": "code", "execution_count": None, "id": f"probe-{check.grade_id}"[:64],
            "metadata": {"course_probe": check.grade_id}, "outputs": [], "source": source}


def notebook_to_run(nb: dict, checks: list[Check], seeds: dict[str, int]) -> tuple[dict, dict[str, str]]:
    """The submission with the course's check cells and a probe after each; and what the student changed.

    Returns the notebook to run (outputs cleared) and {grade_id: "deleted" or "edited"}.
    """
    course = {check.grade_id: check for check in checks}
    cells, seen, changed = [], set(), {}
    for cell in nb["cells"]:
        marks = cell.get("metadata", {}).get("nbgrader")
        grade_id = marks.get("grade_id") if isinstance(marks, dict) else None
        if grade_id in course and grade_id not in seen:
            check = course[grade_id]
            seen.add(grade_id)
            if cell.get("cell_type") != "code" or cell_source(cell).strip() != check.source.strip():
                changed[grade_id] = "edited"
            cells.append({"cell_type": "code", "execution_count": None, "id": uuid.uuid4().hex[:12],
                          "metadata": {"nbgrader": marks}, "outputs": [], "source": check.source})
            cells.append(probe_cell(check, seeds[grade_id]))
            continue
        cells.append({**cell, "id": uuid.uuid4().hex[:12], "execution_count": None, "outputs": []}
                     if cell["cell_type"] == "code" else {**cell, "id": uuid.uuid4().hex[:12]})
    changed.update({grade_id: "deleted" for grade_id in course if grade_id not in seen})
    return {**nb, "cells": cells}, changed


def judge(check: Check, seed: int, records: object) -> tuple[bool, str]:
    """Whether the recorded answers are right for the cases of `seed`, and the message; in this process."""
    import numpy as np

    exercise = course_checks_module.EXERCISES[check.check_name]
    calls = exercise.draw(np.random.default_rng(seed))
    if not (isinstance(records, list) and len(records) == 1):
        return False, "zero: the probe's answers were replaced or repeated by the notebook's code"
    try:
        answers = course_checks_module.decode_answers(records[0], len(calls))
    except ValueError:
        return False, "the answers could not be read: the notebook's code changed what the check records"
    try:
        return True, "✓ " + course_checks_module.judge(exercise, calls, answers)
    except course_checks_module.ExerciseError as error:
        return False, str(error)


def missing_answer(check: Check, outcome: Outcome, limits: Limits) -> str:
    """Why a check has no answer, from what the host saw of the run."""
    if outcome.timed_out:
        return f"timed out: the notebook did not finish within {limits.seconds:.0f} s (zero for this check)"
    if outcome.out_of_memory:
        return f"out of memory: the notebook used more than {limits.memory_mib} MiB before this check ran"
    if outcome.too_much_output:
        return f"stopped: the notebook sent the grader more than {limits.output_kib} KiB"
    return (f"no answer: the notebook stopped before this check ran, or {check.function} was not defined "
            "when it ran")


def readable_folders(root: Path = ROOT) -> list[Path]:
    """What a kernel must read: the course's helpers, the data, and its Python. Never a parent of home."""
    from helpers.config import data_dir

    folders = {(root / "helpers").resolve(), data_dir().resolve(), Path(sys.prefix).resolve(),
               Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent}
    home = Path.home().resolve()
    for folder in folders:
        if folder == Path("/") or home.is_relative_to(folder):
            raise ValueError(f"{folder} would show the grader's home to submissions: move the course's data "
                             f"or Python out of it")
    return sorted(folders)


class Grader:
    """Grades notebooks one by one, each in a fresh sandbox."""

    def __init__(self, checks: dict[str, list[Check]], limits: Limits, *, root: Path = ROOT):
        self.checks, self.limits, self.root = checks, limits, root
        self.bwrap = bubblewrap()
        if self.bwrap is None:
            raise RuntimeError("bubblewrap is missing or does not work here, and submissions are untrusted "
                               "code: install it (sudo apt-get install bubblewrap) and grade again")
        self.readable = readable_folders(root)

    def grade(self, student: str, submission: Path) -> list[Row]:
        """Every check of every graded notebook for one student's folder; nothing in it can stop the rest."""
        rows = []
        for notebook, checks in self.checks.items():
            nb, problem = read_submission(submission / f"{notebook}.ipynb")
            if nb is None:
                rows += [Row(student, notebook, c.grade_id, 0.0, c.points, problem) for c in checks]
                continue
            try:
                rows += self.grade_notebook(student, notebook, nb, checks)
            except Exception:  # a submission nobody foresaw: zero for it, and go on
                traceback.print_exc()
                message = "the grader failed on this notebook (its error is on the grader's screen)"
                rows += [Row(student, notebook, c.grade_id, 0.0, c.points, message) for c in checks]
        return rows

    def grade_notebook(self, student: str, notebook: str, nb: dict, checks: list[Check]) -> list[Row]:
        """Run one valid notebook in the sandbox and judge its answers here; one row per check."""
        seeds = {check.grade_id: secrets.randbits(62) for check in checks}
        to_run, changed = notebook_to_run(nb, checks, seeds)
        outcome = self.execute(to_run)
        if os.environ.get("COURSE_GRADE_DEBUG"):
            print(outcome.stderr_tail.decode("utf-8", "replace"), file=sys.stderr)
        answers = {}
        for line in outcome.lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("check"), str):
                # a second line for a check: not the runner's doing, so not an answer
                answers[record["check"]] = None if record["check"] in answers else record.get("answers")
        rows = []
        for check in checks:
            if changed.get(check.grade_id) == "deleted":
                rows.append(Row(student, notebook, check.grade_id, 0.0, check.points,
                                "the check cell was deleted: zero for this check"))
                continue
            if answers.get(check.grade_id) is None:
                passed, message = False, missing_answer(check, outcome, self.limits)
            else:
                passed, message = judge(check, seeds[check.grade_id], answers[check.grade_id])
            if changed.get(check.grade_id) == "edited":
                message = f"the check cell was edited; scored with the course's own check: {message}"
            rows.append(Row(student, notebook, check.grade_id, check.points if passed else 0.0, check.points,
                            message))
        return rows

    def execute(self, nb: dict) -> Outcome:
        """Run a notebook in a fresh sandbox, given on stdin (its seeds in no file the kernel could read)."""
        from helpers.config import data_dir

        env = {"COURSE_QUICK": "1", "COURSE_STILL_WIDGETS": "1", "COURSE_DATA_DIR": str(data_dir().resolve()),
               "COURSE_OUTPUT_DIR": f"{HOME}/outputs", "PYTHONPATH": str(self.root),
               "MPLCONFIGDIR": f"{HOME}/.matplotlib", "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
               "TF_CPP_MIN_LOG_LEVEL": "2"}
        if "KERAS_BACKEND" in os.environ:
            env["KERAS_BACKEND"] = os.environ["KERAS_BACKEND"]
        return run([sys.executable, "-I", "/grader/runner.py"], bwrap=self.bwrap, limits=self.limits,
                   readable=self.readable, env=env, stdin=json.dumps({"notebook": nb}).encode(),
                   files={"/grader/runner.py": RUNNER})


def grade(submissions: Path, *, notebooks: list[str] | None = None, limits: Limits | None = None,
          root: Path = ROOT) -> list[Row]:
    """Grade every student folder in `submissions`; writes submissions/gradebook.csv, returns its rows."""
    if not submissions.is_dir():
        raise ValueError(f"SUBMISSIONS must be a folder with one subfolder per student, got {submissions}")
    checks = course_checks(root)
    if notebooks:
        unknown = sorted(set(notebooks) - set(checks))
        if unknown:
            raise ValueError(f"not graded notebooks: {', '.join(unknown)} (graded: {', '.join(checks)})")
        checks = {name: checks[name] for name in notebooks}
    students = sorted(p for p in submissions.iterdir()
                      if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    if not students:
        raise ValueError(f"{submissions} has no student folders")
    grader = Grader(checks, limits or Limits(), root=root)
    rows: list[Row] = []
    for folder in students:
        if not STUDENT_ID.match(folder.name):  # shown escaped, and never as a spreadsheet formula
            shown = "invalid id " + ascii(folder.name)
            rows += [Row(shown, name, c.grade_id, 0.0, c.points,
                         "folder name is not a valid student id (letters, digits, . _ -)")
                     for name, cs in checks.items() for c in cs]
            continue
        rows += grader.grade(folder.name, folder)
        write_gradebook(rows, submissions / "gradebook.csv")  # after each student: a crash keeps the rest
        print(summary_line(folder.name, [r for r in rows if r.student == folder.name]), flush=True)
    write_gradebook(rows, submissions / "gradebook.csv")
    return rows


def write_gradebook(rows: list[Row], path: Path) -> None:
    """The rows as CSV, with the COLUMNS header; replaces the file (or a link in its place), never follows."""
    with tempfile.NamedTemporaryFile("w", newline="", encoding="utf-8", errors="backslashreplace",
                                     dir=path.parent, prefix=".gradebook-", delete=False) as file:
        try:
            writer = csv.DictWriter(file, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(asdict(row) for row in rows)
        except BaseException:
            os.unlink(file.name)
            raise
    os.chmod(file.name, 0o644)
    os.replace(file.name, path)


def summary_line(student: str, rows: list[Row]) -> str:
    """One student's total, and which checks lost points."""
    got, out_of = sum(r.points for r in rows), sum(r.max_points for r in rows)
    lost = [f"{r.notebook}/{r.check}" for r in rows if r.points < r.max_points]
    return f"{student}: {got:g} / {out_of:g}" + (f" (lost: {', '.join(lost)})" if lost else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.grade", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="a folder with one subfolder per student")
    parser.add_argument("--notebooks", nargs="+", metavar="NAME", help="grade only these (e.g. 04_elbo)")
    defaults = Limits()
    for name, unit in (("seconds", "wall-clock seconds per notebook"), ("memory_mib", "MiB, all processes"),
                       ("processes", "processes and threads"), ("tmpfs_mib", "MiB for each private folder"),
                       ("file_mib", "MiB, the largest file"), ("output_kib", "KiB sent back to the grader")):
        default = getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default,
                            help=f"{unit} (default {default})")
    args = parser.parse_args(argv)
    try:
        limits = Limits(args.seconds, args.memory_mib, args.processes, args.tmpfs_mib, args.file_mib,
                        args.output_kib)
        rows = grade(args.submissions, notebooks=args.notebooks, limits=limits)
    except (ValueError, RuntimeError) as error:
        parser.error(str(error))
    print(f"{len({r.student for r in rows})} students graded: {args.submissions / 'gradebook.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
