"""Run a command (a student's kernel, when grading) in a sandbox: read-only system, time limit, memory cap.

`python -m tools.sandbox --bwrap /usr/bin/bwrap --time-limit 600 --memory-mib 8192 --writable DIR
--hide DIR -- python -m ipykernel_launcher -f kernel.json`

- Under bubblewrap (`bwrap`, Debian's package `bubblewrap`) the command sees the file system
  read-only, except the --writable folders and a private /tmp and /dev/shm; --hide folders (the
  class's submissions, the grader's home) are empty to it. It has no capabilities, so even as root
  it cannot remount anything writable; no network but loopback of its own (the kernel talks to
  the grader through files, Jupyter's "ipc" transport); a minimal /dev; an environment of a few
  allowed variables; and every process it starts dies with it.
- Its address space is capped (RLIMIT_AS, inherited by its children): past the cap, allocations
  fail (in Python, a MemoryError).
- After --time-limit seconds of wall-clock time it is killed, and "time limit" is written to
  --reason-file, so that the grader can say why a notebook stopped.

This launcher stays the parent of the sandbox: signals it receives (an interrupt, a shutdown) are
passed on, and its exit code is the command's. A limit it cannot enforce is the number of
processes (RLIMIT_NPROC does not bind root): a fork bomb is stopped by the time limit only.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

TIME_LIMIT_REASON = "time limit"
ALLOWED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "MPLCONFIGDIR", "MPLBACKEND",
               "KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "JUPYTER_PATH", "JUPYTER_RUNTIME_DIR")


def sandboxed(command: list[str], bwrap: str, *, writable: list[Path] = (), hide: list[Path] = (),
              readable: list[Path] = (), cwd: str | None = None) -> list[str]:
    """`command` wrapped in bubblewrap: read-only root, writable folders, hidden folders, no network.

    `readable` folders are shown (read-only) even where they lie under the private /tmp or /run:
    a course checked out under /tmp, with its virtual environment, must stay visible.
    """
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--tmpfs", "/dev/shm", "--proc", "/proc",
            "--tmpfs", "/tmp", "--tmpfs", "/run"]
    for folder in readable:
        if Path(folder).exists():
            args += ["--ro-bind", str(folder), str(folder)]
    for folder in hide:
        args += ["--tmpfs", str(folder)]
    for folder in writable:  # after the hidden ones: a writable folder may lie inside one
        args += ["--bind", str(folder), str(folder)]
    args += ["--cap-drop", "ALL", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--new-session",
             "--die-with-parent", "--clearenv"]
    for name in ALLOWED_ENV:
        if name in os.environ:
            args += ["--setenv", name, os.environ[name]]
    args += [*(a for name, value in os.environ.items() if name.startswith("COURSE_")
               for a in ("--setenv", name, value))]
    return [*args, "--chdir", cwd or os.getcwd(), "--", *command]


def bubblewrap(path: str | None = None) -> str | None:
    """The path of bubblewrap if it is installed and its sandbox works here (a real probe), else None."""
    path = path or shutil.which("bwrap")
    if path is None:
        return None
    probe = subprocess.run(sandboxed(["true"], path, cwd="/"), capture_output=True)
    return path if probe.returncode == 0 else None


def run(command: list[str], *, time_limit: float, memory_mib: int, writable: list[Path] = (),
        hide: list[Path] = (), readable: list[Path] = (), reason_file: Path | None = None,
        bwrap: str | None = None) -> int:
    """Run `command` (sandboxed when `bwrap` is given); returns its exit code (negative: killed)."""
    limit = memory_mib * 2**20

    def cap_memory() -> None:  # runs in the child, before it starts the command
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    for folder in writable:
        Path(folder).mkdir(parents=True, exist_ok=True)
    # A kernel watches the process that started it (JPY_PARENT_PID) and quits when it seems gone, which
    # it always does from inside bubblewrap's process namespace: the sandbox dies with this launcher.
    env = {key: value for key, value in os.environ.items() if key != "JPY_PARENT_PID"}
    wrapped = sandboxed(command, bwrap, writable=writable, hide=hide, readable=readable) if bwrap else command
    child = subprocess.Popen(wrapped, preexec_fn=cap_memory, env=env)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda number, _frame: child.send_signal(number))
    try:
        return child.wait(timeout=time_limit)
    except subprocess.TimeoutExpired:
        if reason_file is not None:
            reason_file.write_text(TIME_LIMIT_REASON)
        child.kill()
        return child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, required=True, help="seconds of wall-clock time")
    parser.add_argument("--memory-mib", type=int, required=True, help="address-space cap in MiB")
    parser.add_argument("--writable", type=Path, action="append", default=[], help="a writable folder")
    parser.add_argument("--hide", type=Path, action="append", default=[], help="a folder to hide")
    parser.add_argument("--readable", type=Path, action="append", default=[],
                        help="a folder to show read-only, even under /tmp (the course, its Python)")
    parser.add_argument("--reason-file", type=Path, help="where to say why the command was stopped")
    parser.add_argument("--bwrap", help="bubblewrap's path (the grader checked it works); none: limits only")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run (give it after --)")
    return run(command, time_limit=args.time_limit, memory_mib=args.memory_mib, writable=args.writable,
               hide=args.hide, readable=args.readable, reason_file=args.reason_file, bwrap=args.bwrap)


if __name__ == "__main__":
    sys.exit(main())
