"""Run a command (a student's kernel, when grading) in a sandbox: read-only system, time limit, memory cap.

`python -m tools.sandbox --time-limit 600 --memory-mib 8192 --writable DIR -- python -m ipykernel ...`

- With bubblewrap (`bwrap`, Debian's package `bubblewrap`), the command sees the whole file system
  read-only, except the --writable folders and a private /tmp. It cannot change the course, the
  gradebook or another student's files, and every process it starts dies with it.
- Its address space is capped (RLIMIT_AS, inherited by its children): past the cap, allocations fail.
- After --time-limit seconds of wall-clock time it is killed, and "time limit" is written to
  --reason-file, so that the grader can say why a notebook stopped.

This launcher stays the parent of the sandbox: signals it receives (an interrupt, a shutdown) are
passed on, and its exit code is the command's.
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


def bubblewrap() -> str | None:
    """The path of bubblewrap, if it is installed and works here (it needs user or mount namespaces)."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-pid", "--die-with-parent", "true"],
                           capture_output=True)
    return path if probe.returncode == 0 else None


def _connection_file(command: list[str]) -> str | None:
    for flag in ("-f", "--f"):
        if flag in command[:-1]:
            return command[command.index(flag) + 1]
    return None


def sandboxed(command: list[str], writable: list[Path], bwrap: str | None) -> list[str]:
    """`command` wrapped in bubblewrap (read-only root, writable folders, private /tmp), if available."""
    if bwrap is None:
        return command
    args = [bwrap, "--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp"]
    connection = _connection_file(command)
    if connection is not None:  # the kernel's connection file, often under /tmp
        args += ["--ro-bind", connection, connection]
    for folder in writable:
        args += ["--bind", str(folder), str(folder)]
    return [*args, "--unshare-pid", "--die-with-parent", "--chdir", os.getcwd(), "--", *command]


def run(command: list[str], *, time_limit: float, memory_mib: int, writable: list[Path],
        reason_file: Path | None = None, bwrap: str | None = None) -> int:
    """Run `command` sandboxed; returns its exit code (negative: killed by that signal)."""
    limit = memory_mib * 2**20

    def cap_memory() -> None:  # runs in the child, before it starts the command
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    for folder in writable:
        folder.mkdir(parents=True, exist_ok=True)
    # A kernel watches the process that started it (JPY_PARENT_PID) and quits when it seems gone, which
    # it always does from inside bubblewrap's process namespace: the sandbox dies with this launcher.
    env = {key: value for key, value in os.environ.items() if key != "JPY_PARENT_PID"}
    child = subprocess.Popen(sandboxed(command, writable, bwrap), preexec_fn=cap_memory, env=env)
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
    parser.add_argument("--reason-file", type=Path, help="where to say why the command was stopped")
    parser.add_argument("--no-bwrap", action="store_true", help="limits only, no file-system sandbox")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run (give it after --)")
    bwrap = None if args.no_bwrap else bubblewrap()
    return run(command, time_limit=args.time_limit, memory_mib=args.memory_mib,
               writable=args.writable,
               reason_file=args.reason_file, bwrap=bwrap)


if __name__ == "__main__":
    sys.exit(main())
