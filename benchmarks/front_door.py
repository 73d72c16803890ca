"""A newcomer's first command, measured: a fresh clone's `make lab` until JupyterLab prints its URL.

`python -m benchmarks.front_door --before COMMIT` clones this repository twice into a temporary
folder, at COMMIT and at HEAD, runs `make lab` in each (a new virtual environment, MNIST prepared,
JupyterLab started on a free port) and stops it once JupyterLab prints its `?token=` URL. For each:
the wall time of the whole process, the size of `.venv` and the number of distributions in it.
pip's download cache is shared by both runs (warm, so downloads are not what is compared), and
system packages (Chromium, bubblewrap) that an older `make lab` asked apt for are already on the
machine. Results: benchmarks/front_door.json and front_door.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tools.course import ROOT
from tools.machine import free_port, machine_info

URL = re.compile(r"http://127\.0\.0\.1:\d+/lab\?token=\w+")
TIMEOUT = 3600  # seconds


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under `folder` (links not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def measure(commit: str, work: Path) -> dict:
    """Clone at `commit`, time `make lab` up to JupyterLab's URL, then stop it; venv size and packages."""
    clone = work / commit[:12]
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", commit], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "COURSE_"))}
    start = time.monotonic()
    process = subprocess.Popen(["make", "lab", f"PORT={free_port()}"], cwd=clone, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    seconds, tail = None, []
    try:
        for line in process.stdout:
            tail = [*tail[-40:], line]
            if URL.search(line):
                seconds = time.monotonic() - start
                break
            if time.monotonic() - start > TIMEOUT:
                break
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    if seconds is None:
        raise RuntimeError(f"make lab at {commit} printed no JupyterLab URL:\n{''.join(tail)}")
    venv = clone / ".venv"
    site = next(venv.glob("lib/python*/site-packages"))
    return {"commit": commit, "seconds": round(seconds, 1), "venv_mb": round(folder_bytes(venv) / 1e6),
            "distributions": len(list(site.glob("*.dist-info")))}


def table(results: dict) -> str:
    """The Markdown table of front_door.md."""
    rows = ["| `make lab`, fresh clone | commit | time to JupyterLab's URL | `.venv` size | packages |",
            "|---|---|---|---|---|"]
    for label, r in results["runs"].items():
        rows.append(f"| {label} | `{r['commit'][:9]}` | {r['seconds'] / 60:.1f} min "
                    f"| {r['venv_mb'] / 1000:.2f} GB | {r['distributions']} |")
    machine = results["machine"]
    return ("\n".join(rows) + f"\n\nMeasured on {machine['date']}, {machine['cores']} cores "
            f"({machine['cpu']}), pip's download cache warm in both runs; MNIST prepared in both.\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.front_door",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit to compare HEAD with")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="where the results go")
    args = parser.parse_args(argv)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="front-door-") as work:
        runs = {"before": measure(args.before, Path(work)), "after": measure(head, Path(work))}
    results = {"machine": machine_info(), "runs": runs}
    (args.out / "front_door.json").write_text(json.dumps(results, indent=1) + "\n")
    title = "# The front door: `make lab` from a fresh clone\n\n"
    (args.out / "front_door.md").write_text(title + table(results))
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
