"""`make margins`: every statistical check, run under several seeds, and how far each stays from its bound.

Each seed runs the notebooks (quick mode, or full mode with --full, under nbval, each in a fresh output
folder so that nothing resumes) and the unit tests that check measured numbers, with $COURSE_SEED set
and every `expect` call logged ($COURSE_CHECK_LOG). The table gives, per check, its bound, the worst
value seen, the seed-to-seed spread (standard deviation) and the margin between the two. The rule the
bounds are set by: the margin is at least three times the spread, so that another machine's numbers do
not fail by chance. Quick mode writes benchmarks/margins.md; full mode (the bounds of RUN.by_mode's
full=, the notebooks only) benchmarks/margins-full.md.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from tools.course import ROOT, notebook_names, notebook_path

OUT = ROOT / "benchmarks"  # beside the other measured pages (results, timings)
REQUIRED_RATIO = 3.0  # margin / spread


def calls_expect(source: str) -> bool:
    """Whether Python `source` calls `expect(...)`, helpers.expect's statistical check."""
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "expect"
               for node in ast.walk(ast.parse(source)))


def statistical_tests(root: Path = ROOT) -> list[str]:
    """The test files with statistical checks (every one that calls `expect`), relative to the checkout."""
    return sorted(str(path.relative_to(root)) for path in (root / "tests").glob("test_*.py")
                  if calls_expect(path.read_text()))


def nbval_flags(makefile: Path = ROOT / "Makefile") -> list[str]:
    """The nbval options of the Makefile's NBVAL, which `make test` runs the notebooks with."""
    match = re.search(r"(?m)^NBVAL := (.+)$", makefile.read_text())
    if match is None:
        raise ValueError(f"{makefile} has no 'NBVAL := ...' line")
    return match.group(1).split()


def pytest_targets(part: str, notebooks: list[str] | None = None) -> list[str]:
    """What runs under each seed: the statistical tests and/or the notebooks ("all", "tests", "notebooks").

    Given `notebooks` (names), only those notebooks run, and with part "tests" the statistical tests too.
    """
    tests = statistical_tests()
    if notebooks:
        chosen = [str(notebook_path(name).relative_to(ROOT)) for name in notebooks]
        return (tests if part == "tests" else []) + chosen
    return {"tests": tests, "notebooks": ["notebooks"], "all": [*tests, "notebooks"]}[part]


def run_seed(seed: int, log: Path, workdir: Path, targets: list[str], *, full: bool = False) -> int:
    """Run the notebooks and/or the statistical unit tests under one seed; return pytest's exit code."""
    env = dict(os.environ, COURSE_QUICK="1", COURSE_SEED=str(seed), COURSE_CHECK_LOG=str(log),
               COURSE_OUTPUT_DIR=str(workdir / "outputs"))
    if full:
        del env["COURSE_QUICK"]
    command = [sys.executable, "-m", "pytest", *targets, *nbval_flags(), "-p", "no:cacheprovider", "-q",
               "--no-header", "-rf"]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def margin(value: float, above: float | None, below: float | None) -> float:
    """Distance from the value to the nearer bound (negative: the check failed)."""
    distances = [value - above if above is not None else math.inf,
                 below - value if below is not None else math.inf]
    return min(distances)


def summarise(records: list[dict], n_seeds: int | None = None) -> list[dict]:
    """One row per check: bound, worst value, spread over seeds, margin and margin / spread.

    A row is ok when `problem` finds none: the check passed every time, ran under every seed (n_seeds, if
    given; a parametrized test may log it more than once per seed), and its margin is at least REQUIRED_RATIO
    spreads.
    """
    by_check = defaultdict(list)
    for record in records:
        by_check[record["check"]].append(record)
    rows = []
    for name, seen in by_check.items():
        values = np.array([r["value"] for r in seen], dtype=float)
        above, below = seen[0]["above"], seen[0]["below"]
        margins = [margin(v, above, below) for v in values]
        worst = int(np.argmin(margins))
        spread = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
        spread = 0.0 if np.ptp(values) == 0 else spread  # exactly the same every seed
        ratio = margins[worst] / spread if spread > 0 else math.inf
        row = {"check": name, "above": above, "below": below, "runs": len(values),
               "seeds": sorted({r["seed"] for r in seen}), "worst": float(values[worst]),
               "mean": float(values.mean()), "spread": spread, "margin": float(margins[worst]),
               "ratio": float(ratio)}
        rows.append({**row, "ok": problem(row, n_seeds) is None})
    return sorted(rows, key=lambda row: row["ratio"])


def problem(row: dict, n_seeds: int | None = None) -> str | None:
    """What a row breaks (the check itself, the rule, or the seeds it ran under), or None."""
    if not (math.isfinite(row["margin"]) and row["margin"] > 0):
        return "failed"
    if row["ratio"] < REQUIRED_RATIO:
        return f"under {REQUIRED_RATIO:.0f} spreads"
    if n_seeds is not None and len(row["seeds"]) != n_seeds:
        return f"ran under {len(row['seeds'])} of {n_seeds} seeds"
    return None


def _bound(row: dict) -> str:
    parts = ([f"> {row['above']:.4g}"] if row["above"] is not None else []) + (
        [f"< {row['below']:.4g}"] if row["below"] is not None else [])
    return " and ".join(parts)


def markdown(rows: list[dict], seeds: list[int], minutes: float, note: str = "", *,
             full: bool = False) -> str:
    """benchmarks/margins(-full).md: the margins table, weakest check first (closest to failing on top)."""
    mode = "Full mode, the notebooks only" if full else "Quick mode"
    unmeasured = ("" if full else " Full-mode bounds (RUN.by_mode's full=) are measured by `make margins "
                  "FULL=1`: [margins-full.md](margins-full.md).")
    lines = ["# How far each check is from failing", "",
             "Written by `make margins` (`tools/margins.py`), weakest check first; "
             "[docs/testing.md](../docs/testing.md) says how the table is made.", "",
             f"{mode}, seeds {', '.join(map(str, seeds))} ({minutes:.0f} min on {os.cpu_count()} cores). "
             f"Spread: standard deviation over seeds. Margin: worst value to bound. "
             f"Rule: margin >= {REQUIRED_RATIO:.0f} x spread.{unmeasured}{note}", "",
             "| check | bound | worst value seen | spread | margin | margin / spread |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        ratio = "∞ (same every seed)" if math.isinf(row["ratio"]) else f"{row['ratio']:.1f}"
        flag = "" if row["ok"] else f" **(not ok: {problem(row, len(seeds))})**"
        name = row["check"].replace("|", "\\|")  # |x| in a name is not a column
        lines.append(f"| {name} | {_bound(row)} | {row['worst']:.4g} | {row['spread']:.3g} | "
                     f"{row['margin']:.4g} | {ratio}{flag} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.margins", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--full", action="store_true",
                        help="full mode: the notebooks' full-mode bounds (with --notebooks, some notebooks)")
    parser.add_argument("--part", choices=["all", "tests", "notebooks"], default="all",
                        help="what to run (a whole new table comes from 'all')")
    parser.add_argument("--notebooks", nargs="+", metavar="NAME", default=None,
                        help="re-measure only these notebooks' checks (e.g. 08_cgan), with --part tests the "
                             "unit tests' too, and keep the other rows of the last table")
    args = parser.parse_args()
    if len(args.seeds) < 2:
        parser.error("give at least two seeds: the spread needs them")
    if args.notebooks and args.part == "notebooks":
        parser.error("--notebooks names the notebooks to re-measure; leave --part notebooks out")
    if args.full and args.part == "tests":
        parser.error("--full measures the notebooks' full-mode bounds: the unit tests have none")
    part = "notebooks" if args.full else args.part
    stem = "margins-full" if args.full else "margins"
    partial = bool(args.notebooks) or part != "all"
    if args.full:  # the first full-mode table may measure some notebooks only; later ones update it
        partial = bool(args.notebooks) and (args.out / f"{stem}.json").exists()
    elif partial and not (args.out / f"{stem}.json").exists():
        parser.error(f"--notebooks and --part update the rows of an existing table, and "
                     f"{args.out / 'margins.json'} does not exist: run `make margins` first")
    unknown = [name for name in args.notebooks or [] if name not in notebook_names()]
    if unknown:
        parser.error(f"no such notebook(s) under notebooks/: {', '.join(unknown)} (give names like 08_cgan)")
    start, records, exit_codes = time.perf_counter(), [], {}
    targets = pytest_targets(part, args.notebooks)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            log = Path(tmp) / f"checks-{seed}.jsonl"
            print(f"== seed {seed}", flush=True)
            exit_codes[seed] = run_seed(seed, log, Path(tmp) / f"seed-{seed}", targets, full=args.full)
            records += [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    minutes = (time.perf_counter() - start) / 60
    rows = summarise(records, n_seeds=len(args.seeds))
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"seeds": args.seeds, "minutes": minutes, "pytest_exit_codes": exit_codes, "rows": rows}
    note = ""
    if partial:
        what = ([*(["tests"] if part == "tests" else []), *(f"notebooks/{n}" for n in args.notebooks)]
                if args.notebooks else [part])
        result, note = merge_remeasured(json.loads((args.out / f"{stem}.json").read_text()), result, what)
        rows = result["rows"]
    elif args.full and args.notebooks:
        note = f" Measured: {', '.join(args.notebooks)} only."
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    table = markdown(rows, result["seeds"], result["minutes"], note, full=args.full)
    (args.out / f"{stem}.md").write_text(table)
    print(table)
    weak = [row["check"] for row in rows if not row["ok"]]
    print(f"{len(rows)} checks; not ok: {weak or 'none'}; pytest exit codes {exit_codes}")
    return 0 if not weak and not any(exit_codes.values()) else 1


def is_notebook_check(check: str) -> bool:
    """Notebook checks are named after their notebook ("05 conv VAE, ..."); unit tests' checks are not."""
    return check[:2].isdigit() and check[2:3] == " "


def remeasured_by(check: str, what: list[str]) -> bool:
    """Whether a re-run of `what` ("tests", "notebooks" or "notebooks/NN_name" items) measures `check`."""
    for item in what:
        if item == "tests" and not is_notebook_check(check):
            return True
        if item == "notebooks" and is_notebook_check(check):
            return True
        if item.startswith("notebooks/") and check.startswith(item.removeprefix("notebooks/")[:2] + " "):
            return True
    return False


def merge_remeasured(previous: dict, new: dict, what: list[str]) -> tuple[dict, str]:
    """The previous table with the rows that re-running `what` measures replaced by the new run's."""
    kept = [row for row in previous["rows"] if not remeasured_by(row["check"], what)]
    rows = sorted(kept + new["rows"], key=lambda row: row["ratio"])
    remeasured = [*previous.get("remeasured", []),
                  {"what": what, "seeds": new["seeds"], "minutes": new["minutes"],
                   "pytest_exit_codes": new["pytest_exit_codes"]}]
    return {**previous, "rows": rows, "remeasured": remeasured}, remeasured_note(remeasured)


def remeasured_note(remeasured: list[dict]) -> str:
    """What was re-measured after the table's run, and any note added to an entry (a bound moved since)."""
    return "".join(f" The rows of {', '.join(_names(r))} were re-measured afterwards, alone (seeds "
                   f"{', '.join(map(str, r['seeds']))}, {r['minutes']:.0f} min)"
                   + (f"; {r['note'].rstrip('.')}." if r.get("note") else ".") for r in remeasured)


def _names(entry: dict) -> list[str]:
    """What a re-measure ran, readably (older tables list notebook names under "notebooks")."""
    items = entry.get("what") or [f"notebooks/{name}" for name in entry["notebooks"]]
    return [{"tests": "the unit tests", "notebooks": "all notebooks"}.get(i, i.removeprefix("notebooks/"))
            for i in items]


if __name__ == "__main__":
    sys.exit(main())
