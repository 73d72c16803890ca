"""Grade a class's notebooks with nbgrader (`make grade SUBMISSIONS=DIR`): DIR/gradebook.csv and a summary.

DIR holds one folder per student, each with that student's copies of the course's notebooks under
their course names (`03_vae.ipynb`, ...). Every exercise check (a locked cell with points, see
tools/admin.py) is scored by nbgrader 0.9's autograder:

- each notebook is its own nbgrader assignment, built from the course's notebook, so a notebook
  that breaks costs only its own checks;
- before running, nbgrader puts the course's own check cells back in place of the submitted ones
  (a student who edits a check is scored by the original), and a deleted check scores zero;
- the notebook runs in quick mode, in a kernel started by tools/sandbox.py: in a fresh working
  folder of its own, with the rest of the file system read-only (with bubblewrap), a memory cap and
  a wall-clock time limit per notebook;
- a file that is not a notebook, a notebook that raises, hangs or is killed, scores zero for the
  checks it did not pass, with a message, and the other notebooks and students are graded as usual.

The gradebook has one row per student, notebook and check: student, notebook, check, points,
max_points, message. Everything nbgrader writes goes to a temporary course folder, never into DIR
(except gradebook.csv) or the course.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.admin import cell_source, is_check_cell
from tools.sandbox import TIME_LIMIT_REASON, bubblewrap

ROOT = Path(__file__).resolve().parent.parent
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
COLUMNS = ("student", "notebook", "check", "points", "max_points", "message")
DEFAULT_TIME_LIMIT = 900  # seconds per notebook, in quick mode (the slowest takes about 2 min)
DEFAULT_MEMORY_MIB = 8192  # address space; a TensorFlow kernel reserves about 3.5 GB of it


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
    """A check cell of a course notebook: its nbgrader id, points and source."""

    grade_id: str
    points: float
    source: str



def course_checks(root: Path = ROOT) -> dict[str, list[Check]]:
    """The graded notebooks (those with check cells) and their checks, in course order."""
    graded = {}
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        checks = [Check(c["metadata"]["nbgrader"]["grade_id"], float(c["metadata"]["nbgrader"]["points"]),
                        cell_source(c)) for c in cells if is_check_cell(c)]
        if checks:
            graded[path.stem] = checks
    return graded


def read_submission(path: Path) -> tuple[dict | None, str]:
    """The submitted notebook as JSON, or None and why it cannot be graded."""
    import nbformat

    if path.is_symlink() or (path.exists() and not path.is_file()):
        return None, f"not a regular file: {path.name} must be the notebook itself, not a link or a folder"
    if not path.is_file():
        return None, f"missing: no {path.name} in the submission"
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # any way of not being a notebook
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, f"not a valid notebook ({type(error).__name__}: {first_line[:200]})"
    return json.loads(nbformat.writes(nb)), ""


def tampering(nb: dict, checks: list[Check]) -> dict[str, str]:
    """What the student did to the check cells: {grade_id: "deleted" or "edited"}."""
    submitted = {}
    for cell in nb["cells"]:
        marks = cell.get("metadata", {}).get("nbgrader")
        if isinstance(marks, dict) and isinstance(marks.get("grade_id"), str):
            submitted[marks["grade_id"]] = cell_source(cell)
    found = {}
    for check in checks:
        if check.grade_id not in submitted:
            found[check.grade_id] = "deleted"
        elif submitted[check.grade_id].strip() != check.source.strip():
            found[check.grade_id] = "edited"
    return found


SUSPICIOUS = re.compile(  # code that would change what the checks do, outside the check cells
    r"(?m)^\s*(?:def\s+check_\w+|check_\w+\s*=|.*\bimport\b.*\bas\s+check_\w+)"
    r"|helpers\.checks\.\w+\s*=|setattr\s*\(|sys\.modules|input_transformers|set_custom_exc|builtins"
    r"|globals\(\)\s*\[")


def suspicious(nb: dict, course_sources: set[str]) -> str:
    """The first line of the student's code that could change how the checks run, or "".

    Cells identical to one of the course's are left out (the Colab set-up cell reads sys.modules).
    """
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code" or is_check_cell(cell) or cell_source(cell) in course_sources:
            continue
        match = SUSPICIOUS.search(cell_source(cell))
        if match:
            return match.group(0).strip()[:80]
    return ""


class Course:
    """A temporary nbgrader course: one assignment per graded notebook, and a sandboxed kernel."""

    def __init__(self, work: Path, checks: dict[str, list[Check]], *, time_limit: float, memory_mib: int,
                 hide: list[Path], allow_unsandboxed: bool = False, root: Path = ROOT):
        self.work, self.checks, self.root, self.hide = work, checks, root, hide
        self.time_limit, self.memory_mib = time_limit, memory_mib
        self.course = work / "course"
        self.db = self.course / "gradebook.db"
        self.bwrap = bubblewrap()
        if self.bwrap is None and not allow_unsandboxed:
            raise RuntimeError("bubblewrap is missing or does not work here, and submissions are untrusted "
                               "code: install it (sudo apt-get install bubblewrap), or grade without a "
                               "sandbox with --unsafe-no-sandbox (time limit and memory cap only)")
        self.course_sources = {}
        for name in checks:
            cells = json.loads((root / "notebooks" / f"{name}.ipynb").read_text())["cells"]
            self.course_sources[name] = {cell_source(c) for c in cells if c["cell_type"] == "code"}
            source = self.course / "source" / name
            source.mkdir(parents=True)
            shutil.copy(root / "notebooks" / f"{name}.ipynb", source / f"{name}.ipynb")
            generated = self.nbgrader("generate_assignment", name, "--force")
            if generated.returncode != 0:
                raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{generated.stderr[-3000:]}")

    def nbgrader(self, *args: str, env: dict | None = None, timeout: float | None = None,
                 log: Path | None = None) -> subprocess.CompletedProcess:
        """Run an nbgrader command on this course (its output to `log`, if given); returns the process."""
        config = [f"--CourseDirectory.root={self.course}", f"--CourseDirectory.db_url=sqlite:///{self.db}",
                  "--CourseDirectory.course_id=course", f"--Execute.timeout={int(self.time_limit)}",
                  "--Execute.interrupt_on_timeout=False", "--Autograde.create_student=True",
                  "--KernelManager.transport=ipc"]  # the kernel has no network: it talks through files
        env = dict(os.environ if env is None else env)  # nbgrader calls `alembic` from this environment
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        command = [sys.executable, "-m", "nbgrader", *args, *config]
        if log is None:
            return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
                                  cwd=self.work)
        with log.open("w") as out:  # a file, not memory: a kernel may print without end
            return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout,
                                  cwd=self.work)

    def kernel_env(self, student: str, notebook: str) -> tuple[dict, Path]:
        """The environment of one graded run: quick mode, its own folders, a sandboxed python3 kernel."""
        run = self.work / "runs" / student / notebook
        home, outputs, kernels = run / "home", run / "outputs", run / "jupyter" / "kernels" / "python3"
        for folder in (home, outputs, kernels, run / "runtime"):
            folder.mkdir(parents=True, exist_ok=True)
        cwd = self.course / "autograded" / student / notebook  # nbgrader runs the kernel here
        sandbox = ["--bwrap", self.bwrap] if self.bwrap else []
        hidden = [a for folder in self.hide for a in ("--hide", str(folder))]
        shown = [a for folder in readable_folders(self.root) for a in ("--readable", str(folder))]
        argv = [sys.executable, "-m", "tools.sandbox", *sandbox, *hidden, *shown,
                "--time-limit", str(self.time_limit), "--memory-mib", str(self.memory_mib),
                "--writable", str(cwd), "--writable", str(run),
                "--reason-file", str(run / "stopped"), "--",
                sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (kernels / "kernel.json").write_text(json.dumps(
            {"argv": argv, "display_name": "Python 3 (sandboxed)", "language": "python"}))
        env = {**os.environ, "COURSE_QUICK": "1", "COURSE_OUTPUT_DIR": str(outputs), "HOME": str(home),
               "MPLCONFIGDIR": str(home / "matplotlib"), "JUPYTER_PATH": str(run / "jupyter"),
               "JUPYTER_RUNTIME_DIR": str(run / "runtime"), "PYTHONPATH": str(self.root),
               "TMPDIR": str(run / "runtime"),  # the kernel's connection file and sockets: seen inside too
               # Headless: the latent explorers draw a still picture. Live widgets can leave nbclient
               # waiting forever for a cell that has finished (jupyter/nbclient#312; 1 run in 5 here).
               "COURSE_STILL_WIDGETS": "1"}
        for name in ("COURSE_SEED", "COURSE_CHECK_LOG"):
            env.pop(name, None)
        return env, run

    def grade(self, student: str, submission: Path) -> list[Row]:
        """Every check of every graded notebook for one student's folder; nothing in it can stop the rest."""
        rows = []
        for notebook, checks in self.checks.items():
            nb, problem = read_submission(submission / f"{notebook}.ipynb")
            if nb is None:
                rows += [Row(student, notebook, c.grade_id, 0.0, c.points, problem) for c in checks]
                continue
            flagged = suspicious(nb, self.course_sources[notebook])
            if flagged:
                message = (f"zero, to grade by hand: the notebook's code may change how the checks run "
                           f"({flagged!r})")
                rows += [Row(student, notebook, c.grade_id, 0.0, c.points, message) for c in checks]
                continue
            try:
                rows += self.grade_notebook(student, notebook, nb, checks)
            except Exception as error:  # a submission nobody foresaw: zero for it, and go on
                message = f"the grader failed on this notebook ({type(error).__name__}: {error})"[:300]
                rows += [Row(student, notebook, c.grade_id, 0.0, c.points, message) for c in checks]
        return rows

    def grade_notebook(self, student: str, notebook: str, nb: dict, checks: list[Check]) -> list[Row]:
        """Autograde one valid notebook; one row per check."""
        from nbgrader.api import Gradebook, MissingEntry

        submitted = self.course / "submitted" / student / notebook
        submitted.mkdir(parents=True, exist_ok=True)
        (submitted / f"{notebook}.ipynb").write_text(json.dumps(nb))
        env, run = self.kernel_env(student, notebook)
        log_file = run / "nbgrader.log"
        try:
            self.nbgrader("autograde", notebook, f"--student={student}", "--force",
                          f"--KernelManager.ip={run / 'runtime' / 'kernel'}",  # its sockets' absolute path
                          env=env, timeout=self.time_limit + 300, log=log_file)
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
        log = tail(log_file)
        if os.environ.get("COURSE_GRADE_DEBUG"):
            print(log, file=sys.stderr)
        stopped = (run / "stopped").read_text() if (run / "stopped").exists() else ""
        graded = self.course / "autograded" / student / notebook / f"{notebook}.ipynb"
        executed = finished and graded.exists() and is_executed(graded)
        outputs = cell_messages(json.loads(graded.read_text())) if executed else {}
        failure = "" if executed else failure_message(log, stopped if finished else TIME_LIMIT_REASON,
                                                      self.time_limit)
        changed = tampering(nb, checks)
        rows = []
        with Gradebook(f"sqlite:///{self.db}") as gradebook:
            for check in checks:
                try:
                    score = gradebook.find_grade(check.grade_id, notebook, notebook, student).score
                except MissingEntry:
                    score = None
                points = float(score or 0.0) if not failure else 0.0
                if failure:
                    message = failure
                elif changed.get(check.grade_id) == "deleted":
                    points, message = 0.0, "the check cell was deleted: zero for this check"
                else:
                    message = outputs.get(check.grade_id, "no output")
                    if points == 0.0 and message.startswith("✓"):
                        message = f"zero: the check wrote to stderr, a failure for nbgrader ({message})"
                    if changed.get(check.grade_id) == "edited":
                        message = f"the check cell was edited; scored with the course's own check: {message}"
                rows.append(Row(student, notebook, check.grade_id, points, check.points, message))
        return rows


def tail(path: Path, size: int = 100_000) -> str:
    """The last `size` bytes of a log file ("" if there is none)."""
    if not path.exists():
        return ""
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - size))
        return file.read().decode("utf-8", "replace")


def is_executed(path: Path) -> bool:
    """True if nbgrader ran this autograded notebook (its code cells have execution counts)."""
    cells = json.loads(path.read_text())["cells"]
    return any(c.get("execution_count") for c in cells if c["cell_type"] == "code")


def cell_messages(nb: dict) -> dict[str, str]:
    """What each check cell of an executed notebook said: its error, or its last line of output."""
    messages = {}
    for cell in nb["cells"]:
        if not is_check_cell(cell):
            continue
        text = "ran without a message"
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
                break
            if output.get("output_type") == "stream":
                lines = "".join(output.get("text", "")).strip().splitlines()
                text = lines[-1][:300] if lines else text
        messages[cell["metadata"]["nbgrader"]["grade_id"]] = text
    return messages


def failure_message(log: str, stopped: str, time_limit: float) -> str:
    """Why a notebook has no graded copy: the time limit, the memory cap, or nbgrader's error.

    `stopped` comes from the sandbox and is certain; the log also holds what the kernel printed.
    """
    if stopped == TIME_LIMIT_REASON or "CellTimeoutError" in log or "TimeoutError" in log:
        return f"timed out: the notebook did not finish within {time_limit:.0f} s (zero for its checks)"
    if "DeadKernelError" in log or "Kernel died" in log:
        return "the kernel died (the memory cap, or a crash) before the notebook finished"
    errors = [line.strip() for line in log.splitlines() if "[ERROR]" in line or "Error" in line]
    return "nbgrader could not grade it: " + (errors[-1][:300] if errors else "see its log")


def readable_folders(root: Path = ROOT) -> list[Path]:
    """What a kernel must read wherever it lies: the course (helpers, data) and its Python."""
    from helpers.config import data_dir

    folders = [root, data_dir(), Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent]
    return sorted({folder.resolve() for folder in folders})


def hidden_folders(submissions: Path) -> list[Path]:
    """What a submission must not see: the class's submissions, and the grader's home (keys, tokens)."""
    hide = [submissions.resolve()]
    home = Path.home().resolve()
    needed = [ROOT.resolve(), Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()]
    if not any(path == home or path.is_relative_to(home) for path in needed):
        hide.append(home)  # unless the course or its Python lives there
    return hide


def grade(submissions: Path, *, notebooks: list[str] | None = None, time_limit: float = DEFAULT_TIME_LIMIT,
          memory_mib: int = DEFAULT_MEMORY_MIB, allow_unsandboxed: bool = False,
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
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        course = Course(Path(tmp), checks, time_limit=time_limit, memory_mib=memory_mib,
                        hide=hidden_folders(submissions), allow_unsandboxed=allow_unsandboxed, root=root)
        if course.bwrap is None:
            print("WARNING: no sandbox (bubblewrap): submissions run with a time limit and a memory cap only",
                  file=sys.stderr)
        for folder in students:
            if not STUDENT_ID.match(folder.name):
                rows += [Row(folder.name, name, c.grade_id, 0.0, c.points,
                             "folder name is not a valid student id (letters, digits, . _ -)")
                         for name, cs in checks.items() for c in cs]
                continue
            rows += course.grade(folder.name, folder)
            write_gradebook(rows, submissions / "gradebook.csv")  # after each student: a crash keeps the rest
            print(summary_line(folder.name, [r for r in rows if r.student == folder.name]), flush=True)
    write_gradebook(rows, submissions / "gradebook.csv")
    return rows


def write_gradebook(rows: list[Row], path: Path) -> None:
    """The rows as CSV, with the COLUMNS header."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)


def summary_line(student: str, rows: list[Row]) -> str:
    """One student's total, and which checks lost points."""
    got, out_of = sum(r.points for r in rows), sum(r.max_points for r in rows)
    lost = [f"{r.notebook}/{r.check}" for r in rows if r.points < r.max_points]
    return f"{student}: {got:g} / {out_of:g}" + (f" (lost: {', '.join(lost)})" if lost else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.grade", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="a folder with one subfolder per student")
    parser.add_argument("--notebooks", nargs="+", metavar="NAME", help="grade only these (e.g. 04_elbo)")
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, help="seconds per notebook")
    parser.add_argument("--memory-mib", type=int, default=DEFAULT_MEMORY_MIB, help="address-space cap")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="grade without bubblewrap (trusted submissions only)")
    args = parser.parse_args(argv)
    try:
        rows = grade(args.submissions, notebooks=args.notebooks, time_limit=args.time_limit,
                     memory_mib=args.memory_mib, allow_unsandboxed=args.unsafe_no_sandbox)
    except (ValueError, RuntimeError) as error:
        parser.error(str(error))
    print(f"{len({r.student for r in rows})} students graded: {args.submissions / 'gradebook.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
