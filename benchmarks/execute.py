"""`make execute`: run the notebooks top to bottom, time each, and write the times where readers see them.

Full mode (the default) executes every notebook in course order and saves its outputs in place: the
committed notebooks show a full run. Quick mode executes them with their outputs in a temporary
folder and saves nothing. Each run's wall-clock time (kernel start to last cell) is appended to
benchmarks/timings.json, which keeps the last few runs per notebook and mode. From those runs, as
ranges where runs differ, the script then writes the "Running time" line at the top of each notebook
and the time column and total of the README's course map, so that no running time is typed by hand.
`--classifier` also times the one-time training of the scoring classifier (into a temporary file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import machine_info
from helpers.config import project_root
from tools.admin import notebook_text

ROOT = project_root()
NOTEBOOKS = ROOT / "notebooks"
TIMINGS = ROOT / "benchmarks" / "timings.json"
README = ROOT / "README.md"
KEEP = 5  # runs kept per notebook and mode: the ranges come from these
TOTAL_TARGET_MINUTES = 45
NEEDS_CLASSIFIER = ("06_conditional_vae", "07_cgan")  # the first of them to run trains it, once
TIME_LINE = re.compile(r"\*Running time on 2 CPU cores[^*]*:\*.*?(?=\n\n|\Z)", re.S)
TOTAL_MARKERS = ("<!-- execute:start -->", "<!-- execute:end -->")
DASH = "\u2013"  # an en dash, for ranges


def notebook_names() -> list[str]:
    """The course's notebooks, in order (their file names without .ipynb)."""
    return sorted(path.stem for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def run_notebook(path: Path, *, quick: bool, output_root: Path | None, save: bool = False,
                 timeout: int = 3600) -> float:
    """Run a notebook in a fresh kernel (outputs under output_root, if given); save it in place if asked.

    Returns the wall-clock seconds from kernel start to the last cell.
    """
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    env = {"COURSE_QUICK": "1" if quick else "0"}
    if output_root is not None:
        env["COURSE_OUTPUT_DIR"] = str(output_root)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        start = time.perf_counter()
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if save:
        nbformat.write(nb, path)
    return seconds


def execute(name: str, *, quick: bool, output_root: Path | None) -> float:
    """Run one course notebook; save its outputs in place unless quick. Returns seconds."""
    return run_notebook(NOTEBOOKS / f"{name}.ipynb", quick=quick, output_root=output_root, save=not quick)


def time_classifier_training() -> float:
    """Seconds to train the scoring classifier from scratch, as a notebook's first use does."""
    with tempfile.TemporaryDirectory(prefix="classifier-") as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "helpers.classifier", "--out",
                        str(Path(tmp) / "clf.weights.h5")], check=True, capture_output=True)
        return time.perf_counter() - start


def load_timings(path: Path = TIMINGS) -> dict:
    """The recorded runs: {"full": {name: [run, ...]}, "quick": {...}, "classifier": [run, ...]}."""
    return json.loads(path.read_text()) if path.exists() else {"full": {}, "quick": {}, "classifier": []}


def record(runs: list[dict], seconds: float) -> list[dict]:
    """The runs with one more (seconds, date, machine), keeping the last KEEP."""
    run = {"seconds": round(seconds, 1), "date": dt.date.today().isoformat(), "machine": machine_info()}
    return [*runs, run][-KEEP:]


def minutes(runs: list[dict]) -> str:
    """The recorded runs' range in minutes, e.g. "3.9-4.4 min" (one value when they agree)."""
    if not runs:
        return "not measured yet"
    low, high = (min(r["seconds"] for r in runs) / 60, max(r["seconds"] for r in runs) / 60)
    low_text, high_text = f"{low:.1f}", f"{high:.1f}"
    return f"{low_text} min" if low_text == high_text else f"{low_text}{DASH}{high_text} min"


def time_line(name: str, timings: dict) -> str:
    """The "Running time" sentence at the top of a notebook, from the recorded runs (unmeasured: left out)."""
    parts = [f"{minutes(timings[mode][name])} in {mode} mode" for mode in ("quick", "full")
             if timings[mode].get(name)]
    line = ("*Running time on 2 CPU cores (measured, `make execute`):* "
            + (", ".join(parts) or "not measured yet"))
    if name in NEEDS_CLASSIFIER:
        once = f"{minutes(timings['classifier'])} once" if timings["classifier"] else "once"
        line += (f", plus {once} to train the scoring classifier, the first time a notebook needs it "
                 "(`make test` prepares it too)")
    return line + "."


def update_notebook(name: str, timings: dict) -> bool:
    """Rewrite the notebook's "Running time" line; True if it changed."""
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = json.loads(path.read_text())
    first = "".join(nb["cells"][0]["source"])
    if not TIME_LINE.search(first):
        raise ValueError(f"{name}: its first cell has no '*Running time on 2 CPU cores:*' line to update")
    updated = TIME_LINE.sub(lambda _: time_line(name, timings), first, count=1)
    if updated == first:
        return False
    nb["cells"][0]["source"] = updated.splitlines(keepends=True)
    path.write_text(notebook_text(nb))
    return True


def total_sentence(timings: dict) -> str:
    """The README's sentence on the whole course's full-mode time, against the target."""
    names = notebook_names()
    missing = [n for n in names if not timings["full"].get(n)]
    if missing:
        return f"Full-mode times are not yet measured for {', '.join(missing)}."
    latest = sum(timings["full"][n][-1]["seconds"] for n in names) / 60
    machine = timings["full"][names[-1]][-1]["machine"]
    return (f"The whole course in full mode, in its latest `make execute` run: **{latest:.0f} min** "
            f"(target: at most {TOTAL_TARGET_MINUTES} min; {machine['cores']} cores, {machine['cpu']}).")


def update_readme(timings: dict, readme: Path = README) -> None:
    """Rewrite the course map's time column and the total sentence below it."""
    text = readme.read_text()
    for name in notebook_names():
        number = name[:2]
        row = re.compile(rf"^(\| {number} \|[^|]*\|[^|]*\|)[^|]*(\|)", re.M)
        if not row.search(text):
            raise ValueError(f"README: no course-map row for notebook {number}")
        cell = f" {minutes(timings['quick'].get(name, []))} / {minutes(timings['full'].get(name, []))} "
        text = row.sub(lambda m, c=cell: m.group(1) + c + m.group(2), text, count=1)
    start, end = (text.index(marker) for marker in TOTAL_MARKERS)
    text = text[: start + len(TOTAL_MARKERS[0])] + "\n" + total_sentence(timings) + "\n" + text[end:]
    readme.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.execute",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("full", "quick"), default="full")
    parser.add_argument("--notebooks", nargs="+", metavar="NAME", help="only these (e.g. 07_cgan)")
    parser.add_argument("--classifier", action="store_true", help="also time the classifier's training")
    parser.add_argument("--text-only", action="store_true",
                        help="run nothing; rewrite the times from timings.json")
    args = parser.parse_args(argv)
    names = args.notebooks or notebook_names()
    unknown = sorted(set(names) - set(notebook_names()))
    if unknown:
        parser.error(f"no such notebook(s): {', '.join(unknown)} (known: {', '.join(notebook_names())})")
    timings = load_timings()
    if not args.text_only:
        if args.classifier:
            timings["classifier"] = record(timings["classifier"], time_classifier_training())
            print(f"scoring classifier: {timings['classifier'][-1]['seconds']:.0f} s", flush=True)
        with tempfile.TemporaryDirectory(prefix="execute-") as tmp:
            for name in names:  # course order: 03 reads 02's codes from the same output folder
                seconds = execute(name, quick=args.mode == "quick",
                                  output_root=Path(tmp) if args.mode == "quick" else None)
                timings[args.mode][name] = record(timings[args.mode].get(name, []), seconds)
                TIMINGS.write_text(json.dumps(timings, indent=1) + "\n")  # after each: a crash keeps the rest
                print(f"{name}: {seconds / 60:.1f} min in {args.mode} mode", flush=True)
    changed = [name for name in notebook_names() if update_notebook(name, timings)]
    update_readme(timings)
    print(f"running-time lines updated in: {', '.join(changed) or 'none'}; README course map updated")
    print(total_sentence(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
