"""Inside the grading sandbox: execute one notebook and pass on what its probe cells recorded.

`python -I grade_runner.py < job.json`. The job holds the notebook to run, in which tools/grade.py put the
course's check cells back and a probe cell after each (metadata `course_probe`: the check's id). This
script executes it in a fresh kernel, errors and all, keeps no cell's output but a probe's answers, and
writes one JSON line per probe to stdout: {"check": id, "answers": [what the probe displayed, ...]}.

It runs beside the student's code, in the sandbox: the grader treats every line it writes as evidence
to check, not as a verdict. It imports nothing from the course, and the grader runs it with -I.
"""

import ctypes
import json
import os
import sys

import nbformat
from nbclient import NotebookClient

MIME = "application/vnd.course.answers+json"  # what helpers.checks.report_answers displays
PR_SET_DUMPABLE = 4


class ProbeClient(NotebookClient):
    """A notebook client that keeps only the probes' answers: a cell that prints without end costs nothing."""

    def output(self, outs, msg, display_id, cell_index):
        cell = self.nb.cells[cell_index]
        data = msg["content"].get("data") or {}
        if cell.metadata.get("course_probe") and msg["msg_type"] == "display_data" and MIME in data:
            outs.append(data[MIME])  # one is the probe's; more than one, and the grader scores zero
        return None


def main() -> int:
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0)  # the kernel may not read this process's memory or files
    job = json.loads(sys.stdin.buffer.read())  # the seeds live here, and in each probe cell as it runs
    results = os.fdopen(os.dup(1), "w")  # the grader's pipe, not inherited: the kernel gets stderr for stdout
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    notebook = nbformat.reads(json.dumps(job["notebook"]), as_version=4)  # sources as strings

    def on_cell_executed(cell, cell_index, execute_reply):
        probe = cell.metadata.get("course_probe")
        if probe:
            results.write(json.dumps({"check": probe, "answers": cell.outputs}) + "\n")
            results.flush()
        cell.outputs = []

    client = ProbeClient(notebook, timeout=None, allow_errors=True, kernel_name="python3",
                         on_cell_executed=on_cell_executed, resources={"metadata": {"path": os.getcwd()}})
    try:
        client.execute()
    except Exception as error:  # a dead kernel: the grader sees which probes are missing
        print(f"grade_runner: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
