"""`make execute`: run the notebooks top to bottom, time each, and write the times where readers see them.

Full mode (the default) executes every notebook in course order and saves its outputs in place: the
committed notebooks show a full run. Quick mode executes them with their outputs in a temporary
folder and saves nothing. Each run's wall-clock time (kernel start to last cell) is appended to
benchmarks/timings.json, which keeps the last few runs per notebook and mode. From those runs, as
ranges where runs differ, the script then writes the "Running time" line at the top of each notebook
and the page benchmarks/timings.md (every notebook's times and peak memory, the whole course's total).
The README's course map types each notebook's full-mode time in whole minutes; a unit test
(tests/test_readme.py) fails when those no longer match what `minutes(runs, decimals=0)` gives.
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

from tools.course import ROOT, cell_source, notebook_names, notebook_path, notebook_text, read_notebook
from tools.machine import machine_info

TIMINGS = ROOT / "benchmarks" / "timings.json"
TIMINGS_PAGE = ROOT / "benchmarks" / "timings.md"
KEEP = 5  # runs kept per notebook and mode: the ranges come from these
TOTAL_TARGET_MINUTES = 45
# the notebooks that score with the classifier: the first of them to run trains it, once
NEEDS_CLASSIFIER = ("06_conditional_vae", "08_cgan", "09_judging_generators")
TIME_LINE = re.compile(r"\*Running time[^*]*:\*.*?(?=\n\n|\Z)", re.S)
BINDER_MIB = 2048  # Binder's memory limit, for the notebook server and kernels together
SERVER_MIB = 192  # left for the server: about 90 MiB measured just after JupyterLab starts, plus room
KERNEL_MIB = BINDER_MIB - SERVER_MIB  # what one kernel may use there; Colab's free tier has about 12 GB
# notebook -> what to lower when its full run needs more than Binder leaves a kernel (none does now)
LOWER_MEMORY: dict[str, str] = {}
DASH = "\u2013"  # an en dash, for ranges
CLASSIFIER_ESTIMATE = f"about 9{DASH}14 min"  # until `--classifier` times it: earlier runs on 2 cores


# Appended for the run, removed before saving: the kernel's peak resident set, in KiB. Linux's VmHWM is
# this process image's own high-water mark; ru_maxrss would also count the parent's memory at the fork
# that started the kernel (Linux keeps it across exec), which is the whole test suite under pytest.
PEAK_MEMORY_CELL = (
    "import re\n"
    "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))")


# TensorFlow's C++ log lines on stderr (absl format, with a time stamp, so they differ on every run), and
# the banner that precedes them: noise in a saved notebook, and never the same twice under nbval.
NATIVE_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)\n?",
    re.MULTILINE)


def drop_native_log_lines(nb) -> None:
    """Remove TensorFlow's C++ log lines from the notebook's stderr outputs (and outputs left empty)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                output["text"] = NATIVE_LOG_LINE.sub("", output["text"])
                if not output["text"].strip():
                    continue
            kept.append(output)
        cell.outputs = kept


def peak_from(probe) -> float:
    """The peak memory (MiB) that the probe cell printed on stdout (other output, e.g. warnings, skipped)."""
    for output in probe.outputs:
        text = "".join(output.get("text", "")).strip() if output.get("name") == "stdout" else ""
        if text.isdigit():
            return int(text) / 1024
    raise RuntimeError(f"the peak-memory probe printed no number: {probe.outputs}")


def run_notebook(path: Path, *, quick: bool, output_root: Path | None, save: bool = False,
                 timeout: int = 3600) -> tuple[float, float]:
    """Run a notebook in a fresh kernel (outputs under output_root, if given); save it in place if asked.

    Returns the wall-clock seconds from kernel start to the last cell, and the kernel's peak resident
    memory in MiB (the one-time classifier training runs in a process of its own and is not counted).
    """
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_MEMORY_CELL))
    env = {"COURSE_QUICK": "1" if quick else "0", "COURSE_STILL_WIDGETS": "1"}
    if output_root is not None:
        env["COURSE_OUTPUT_DIR"] = str(output_root)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        start = time.perf_counter()
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
        peak_mib = peak_from(nb.cells.pop())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if save:
        drop_native_log_lines(nb)
        nbformat.write(nb, path)
    return seconds, peak_mib


def execute(name: str, *, quick: bool, output_root: Path | None) -> tuple[float, float]:
    """Run one course notebook; save its outputs in place unless quick. Returns seconds and peak MiB."""
    return run_notebook(notebook_path(name), quick=quick, output_root=output_root, save=not quick)


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


def record_memory(timings: dict, mode: str, name: str, peak_mib: float) -> None:
    """Keep a notebook's peak memory in a mode: the largest of its last KEEP runs (`timings["memory"]`)."""
    runs = timings.setdefault("memory", {}).setdefault(mode, {}).setdefault(name, [])
    runs[:] = [*runs, round(peak_mib)][-KEEP:]


def peak_memory(timings: dict, mode: str, name: str) -> float | None:
    """The largest peak resident memory (MiB) recorded for a notebook in a mode, if any."""
    runs = timings.get("memory", {}).get(mode, {}).get(name, [])
    return max(runs) if runs else None


def gigabytes(peak_mib: float | None) -> str:
    """A peak memory as readers see it, e.g. "1.4 GB" (GiB, written GB as Binder and Colab do)."""
    return "not measured yet" if peak_mib is None else f"{peak_mib / 1024:.1f} GB"


def minutes(runs: list[dict], decimals: int = 1) -> str:
    """The recorded runs' range in minutes, e.g. "3.9-4.4 min" (one value when they agree).

    With decimals=0, whole minutes ("4 min", "10-14 min"): the README's course map, which a test holds to it.
    """
    if not runs:
        return "not measured yet"
    low, high = (min(r["seconds"] for r in runs) / 60, max(r["seconds"] for r in runs) / 60)
    low_text, high_text = f"{low:.{decimals}f}", f"{high:.{decimals}f}"
    return f"{low_text} min" if low_text == high_text else f"{low_text}{DASH}{high_text} min"


def cores(runs: list[dict]) -> str:
    """The CPU cores the runs were measured on: "2", or "2 and 4" when they come from different machines."""
    return " and ".join(str(n) for n in sorted({r["machine"]["cores"] for r in runs if "machine" in r}))


def time_line(name: str, timings: dict) -> str:
    """The "Running time" sentence at the top of a notebook, from the recorded runs (unmeasured: left out)."""
    modes = [mode for mode in ("quick", "full") if timings[mode].get(name)]
    parts = [f"{minutes(timings[mode][name])} in {mode} mode" for mode in modes]
    measured_on = cores([run for mode in modes for run in timings[mode][name]])
    where = f" on {measured_on} CPU cores" if measured_on else ""
    line = f"*Running time{where} (measured, `make execute`):* " + (", ".join(parts) or "not measured yet")
    if name in NEEDS_CLASSIFIER:
        once = f"{minutes(timings['classifier']) if timings['classifier'] else CLASSIFIER_ESTIMATE} once"
        line += (f", plus {once} to train the scoring classifier, the first time a notebook needs it "
                 "(`make test` prepares it too)")
    line += "."
    peak = peak_memory(timings, "full", name)
    if peak is not None:
        line += f" *Peak memory (full mode):* {gigabytes(peak)}"
        if peak > KERNEL_MIB:
            if name not in LOWER_MEMORY:
                raise ValueError(f"{name} needs {peak:.0f} MiB, over the {KERNEL_MIB} MiB Binder leaves a "
                                 "kernel: say in LOWER_MEMORY what a student should lower")
            line += f", more than Binder leaves a kernel ({gigabytes(KERNEL_MIB)}): {LOWER_MEMORY[name]}"
        else:
            line += f", within what Binder leaves a kernel ({gigabytes(KERNEL_MIB)}) and Colab's 12 GB"
        line += "."
    return line


def update_notebook(name: str, timings: dict) -> bool:
    """Rewrite the notebook's "Running time" line; True if it changed."""
    path = notebook_path(name)
    nb = read_notebook(path)
    first = cell_source(nb["cells"][0])
    if not TIME_LINE.search(first):
        raise ValueError(f"{name}: its first cell has no '*Running time ...:*' line to update")
    updated = TIME_LINE.sub(lambda _: time_line(name, timings), first, count=1)
    if updated == first:
        return False
    nb["cells"][0]["source"] = updated.splitlines(keepends=True)
    path.write_text(notebook_text(nb))
    return True


def total_sentence(timings: dict) -> str:
    """The sentence on the whole course's full-mode time, against the target."""
    names = notebook_names()
    missing = [n for n in names if not timings["full"].get(n)]
    if missing:
        return f"Full-mode times are not yet measured for {', '.join(missing)}."
    latest = sum(timings["full"][n][-1]["seconds"] for n in names) / 60
    machine = timings["full"][names[-1]][-1]["machine"]
    return (f"The whole course in full mode, in its latest `make execute` run: **{latest:.0f} min** "
            f"(target: at most {TOTAL_TARGET_MINUTES} min; {machine['cores']} cores, {machine['cpu']}).")


def machines_sentence(timings: dict) -> str:
    """Where and when the recorded runs were measured (each machine once)."""
    runs = [run for mode in ("quick", "full") for notebook_runs in timings[mode].values()
            for run in notebook_runs] + list(timings["classifier"])
    if not runs:
        return "No run recorded yet."

    def machine(m: dict) -> str:
        parts = [m.get("cpu"), f"{m['cores']} cores" if "cores" in m else None,
                 f"TensorFlow {m['tensorflow']}" if "tensorflow" in m else None,
                 f"Keras {m['keras']}" if "keras" in m else None]
        return ", ".join(part for part in parts if part)

    seen = sorted({machine(run["machine"]) for run in runs if "machine" in run})
    dates = sorted(run["date"] for run in runs)
    return f"Runs of {dates[0]} to {dates[-1]}, on {'; '.join(seen) or 'an unrecorded machine'}."


def timings_page(timings: dict) -> str:
    """benchmarks/timings.md: every notebook's times and peak memory, the course's total, the classifier."""
    rows = []
    for name in notebook_names():
        quick, full = timings["quick"].get(name, []), timings["full"].get(name, [])
        memory = " / ".join(gigabytes(peak_memory(timings, mode, name)) for mode in ("quick", "full"))
        link = f"[{name}](../notebooks/{name}.ipynb)"
        rows.append(f"| {link} | {minutes(quick)} | {minutes(full)} | {memory} |")
    classifier = (minutes(timings["classifier"]) if timings["classifier"] else
                  "not timed yet (`python -m tools.execute --classifier` times it); "
                  f"{CLASSIFIER_ESTIMATE} in earlier runs on 2 cores, up to 22 min when the cores were busy")
    return "\n".join([
        "# Running times and peak memory",
        "",
        "Written by `make execute` (`tools/execute.py`) from `benchmarks/timings.json`; not edited "
        "by hand. Each notebook runs top to bottom in a fresh kernel. Its time runs from kernel start to "
        f"the last cell, as the range over its last {KEEP} runs in each mode; its peak memory is the "
        f"kernel's largest resident memory over those runs. {machines_sentence(timings)}",
        "",
        "| notebook | quick mode | full mode | peak memory, quick / full |",
        "|---|---|---|---|",
        *rows,
        "",
        total_sentence(timings),
        "",
        f"Training the scoring classifier, once, in a process of its own (not counted above): {classifier}.",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.execute",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("full", "quick"), default="full")
    parser.add_argument("--notebooks", nargs="+", metavar="NAME", help="only these (e.g. 08_cgan)")
    parser.add_argument("--classifier", action="store_true", help="also time the classifier's training")
    parser.add_argument("--untimed", action="store_true",
                        help="record the peak memory but not the time (the machine was busy)")
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
                seconds, peak_mib = execute(name, quick=args.mode == "quick",
                                  output_root=Path(tmp) if args.mode == "quick" else None)
                if not args.untimed:
                    timings[args.mode][name] = record(timings[args.mode].get(name, []), seconds)
                record_memory(timings, args.mode, name, peak_mib)
                TIMINGS.write_text(json.dumps(timings, indent=1) + "\n")  # after each: a crash keeps the rest
                print(f"{name}: {seconds / 60:.1f} min, peak memory {peak_mib:.0f} MiB in {args.mode} mode",
                      flush=True)
    changed = [name for name in notebook_names() if update_notebook(name, timings)]
    TIMINGS_PAGE.write_text(timings_page(timings))
    print(f"running-time lines updated in: {', '.join(changed) or 'none'}; "
          f"{TIMINGS_PAGE.relative_to(ROOT)} written")
    print(total_sentence(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
