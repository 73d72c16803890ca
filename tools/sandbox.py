"""Run untrusted code (a student's notebook, when grading) in a bubblewrap sandbox with limits.

What the code sees: the system's programs and libraries (/usr and its links), a few files of /etc, the
folders it is given read-only (the course's `helpers`, the data, the Python environment) and private
tmpfs folders of a fixed size (its home and working folder, /tmp, /dev/shm). Nothing else of the host
is mounted: not home, not TMPDIR, not the submissions. It writes to no folder of the host, so no process
outside ever follows a path it created. It has no capabilities, no network but a loopback of its own,
its own process and IPC namespaces, an environment of a few variables, and it dies with its parent.

What it may use: `Limits`. Time is the grader's own clock. Memory (all its processes together, tmpfs
included) and the number of processes are a cgroup's, the first that works of: a child of this
process's cgroup (cgroup v2 or v1, where it may be written, e.g. as root in a container), or a
systemd user scope (`systemd-run --user --scope`, the usual laptop). Where neither works, the fallback
is per process: an address-space cap (twice the memory limit: TensorFlow reserves much more address
space than it uses), RLIMIT_NPROC (which does not bind root), and the time limit ends the rest.
File sizes are capped by RLIMIT_FSIZE and what it writes to the grader by `Limits.output_kib`.
"""

from __future__ import annotations

import json
import os
import resource
import select
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HOME = "/home/student"  # the sandbox's home and working folder
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf", "hosts",
       "fonts")
ALLOWED_ENV = ("LANG", "LC_ALL", "TZ")
ISOLATION = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--cap-drop", "ALL", "--new-session", "--die-with-parent", "--clearenv")


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use; the defaults fit a 2-core, 8 GB laptop grading one notebook at once."""

    seconds: float = 900.0  # wall clock
    memory_mib: int = 4096  # all processes together, tmpfs included (with a cgroup)
    processes: int = 256  # processes and threads (TensorFlow starts a few dozen)
    tmpfs_mib: int = 256  # each of home, /tmp and /dev/shm
    file_mib: int = 128  # the largest file it may write
    output_kib: int = 1024  # what it may send back on stdout

    def __post_init__(self):
        for name in ("seconds", "memory_mib", "processes", "tmpfs_mib", "file_mib", "output_kib"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")


@dataclass
class Outcome:
    """How a sandboxed run ended, as seen from outside: facts of the host, not words of the sandbox."""

    lines: list[bytes] = field(default_factory=list)  # stdout, line by line (at most output_kib in all)
    returncode: int | None = None
    timed_out: bool = False
    out_of_memory: bool = False  # the cgroup's OOM killer ended a process
    too_much_output: bool = False
    stderr_tail: bytes = b""  # the last 64 KiB, for debugging
    ended: bool = False  # its pid 1 was seen to exit, so every process of the sandbox had ended


def bubblewrap(path: str | None = None) -> str | None:
    """The path of bubblewrap if it is installed and its sandbox works here (a real probe), else None."""
    path = path or shutil.which("bwrap")
    if path is None:
        return None
    probe = subprocess.run(sandboxed(["/bin/true"], path, readable=[], limits=Limits()), capture_output=True)
    return path if probe.returncode == 0 else None


def sandboxed(command: list[str], bwrap: str, *, readable: list[Path], limits: Limits,
              files: dict[str, Path] | None = None, env: dict[str, str] | None = None,
              options: tuple[str, ...] = ()) -> list[str]:
    """`command` wrapped in bubblewrap: only `readable` folders (and `files`, {inside: host}) are shown.

    `options` go to bubblewrap as they are (the grader's --info-fd and --block-fd).
    """
    size = str(limits.tmpfs_mib * 2**20)
    args = [bwrap, *ISOLATION, *options]
    for folder in SYSTEM:
        args += ["--ro-bind-try", folder, folder]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for folder in (HOME, "/tmp"):  # before the readable folders: a course checked out under /tmp stays seen
        args += ["--size", size, "--tmpfs", folder]
    for folder in readable:
        args += ["--ro-bind", str(folder), str(folder)]
    for inside, host in (files or {}).items():
        args += ["--ro-bind", str(host), inside]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm"]
    # Read-only: the root bubblewrap builds and its /dev (tmpfs without a size), and /proc, whose sysctls
    # and sysrq-trigger a process that is root on the host could otherwise write, capabilities or not.
    args += ["--remount-ro", "/", "--remount-ro", "/dev", "--remount-ro", "/proc"]
    variables = {"HOME": HOME, "TMPDIR": "/tmp", "PATH": "/usr/bin:/bin",
                 **{name: os.environ[name] for name in ALLOWED_ENV if name in os.environ}, **(env or {})}
    for name, value in variables.items():
        args += ["--setenv", name, value]
    return [*args, "--chdir", HOME, "--", *command]


class Cgroup:
    """A cgroup of its own for one run (v2 or v1), with memory and process limits; None where not allowed."""

    def __init__(self, folders: dict[str, Path], version: int):
        self.folders, self.version = folders, version

    @classmethod
    def create(cls, limits: Limits) -> Cgroup | None:
        """A new child of this process's cgroup, limited; None if cgroups cannot be written here."""
        name = f"course-grade-{uuid.uuid4().hex[:12]}"
        mine = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                mine[controller] = path.lstrip("/")
        memory, tasks = limits.memory_mib * 2**20, limits.processes
        unified = Path("/sys/fs/cgroup")
        attempts = []
        if (unified / "cgroup.controllers").exists() and "" in mine:  # cgroup v2 only
            attempts.append((2, {"": unified / mine[""] / name},
                             {"": {"memory.max": memory, "memory.swap.max": 0, "pids.max": tasks}}))
        if "memory" in mine and "pids" in mine:  # cgroup v1 (or hybrid)
            attempts.append((1, {c: unified / c / mine[c] / name for c in ("memory", "pids")},
                             {"memory": {"memory.limit_in_bytes": memory,
                                         "memory.memsw.limit_in_bytes": memory},  # where swap is accounted
                              "pids": {"pids.max": tasks}}))
        for version, folders, settings in attempts:
            group = cls(folders, version)
            try:
                for key, folder in folders.items():
                    folder.mkdir()
                    for file, value in settings[key].items():
                        if (folder / file).exists() or not file.startswith("memory.memsw"):
                            (folder / file).write_text(str(value))
                return group
            except OSError:
                group.remove()
        return None

    def enter(self) -> None:
        """Move the calling process into the cgroup (in the child, before exec)."""
        for folder in self.folders.values():
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self) -> list[int]:
        folder = self.folders.get("", self.folders.get("pids"))
        try:
            return [int(p) for p in (folder / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def out_of_memory(self) -> bool:
        """True if the OOM killer ended a process of this cgroup."""
        folder = self.folders.get("", self.folders.get("memory"))
        events = folder / ("memory.events" if self.version == 2 else "memory.oom_control")
        try:
            fields = dict(line.split() for line in events.read_text().splitlines() if len(line.split()) == 2)
        except OSError:
            return False
        return int(fields.get("oom_kill", 0)) > 0

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup (a fork bomb included) until none is listed.

        New processes are forbidden first (pids.max 0), so each pass can only shrink the group: killing
        one by one while the rest still fork does not always converge on 2 cores.
        """
        folder = self.folders.get("", self.folders.get("pids"))
        for file, value in (("pids.max", "0"), ("cgroup.kill", "1")):  # cgroup.kill: v2, Linux 5.14+
            try:
                (folder / file).write_text(value)
            except OSError:
                pass
        deadline = time.monotonic() + 30
        while (pids := self.pids()) and time.monotonic() < deadline:
            _kill(pids)
            time.sleep(0.02)

    def remove(self) -> None:
        """Remove the cgroup, waiting until it is really empty.

        A process that has begun to exit is no longer listed in cgroup.procs but still holds its memory
        (and its command line) for a moment; rmdir fails with EBUSY until the last one is gone.
        """
        deadline = time.monotonic() + 30
        for folder in self.folders.values():
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    _kill(self.pids())
                    time.sleep(0.02)


def _kill(pids: list[int]) -> None:
    """SIGKILL each of `pids` that still exists."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def systemd_scope(limits: Limits) -> list[str] | None:
    """A `systemd-run --user --scope` prefix with the memory and process limits, if it works here."""
    if shutil.which("systemd-run") is None:
        return None
    prefix = ["systemd-run", "--user", "--scope", "--quiet", "--collect",
              "-p", f"MemoryMax={limits.memory_mib}M", "-p", "MemorySwapMax=0",
              "-p", f"TasksMax={limits.processes}", "--"]
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return prefix if probe.returncode == 0 else None


def _rlimits(limits: Limits, cgroup: Cgroup | None, fallback: bool) -> None:
    """In the child, before exec: file size and core dumps always; memory and processes in the fallback."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mib * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cgroup is not None:
        cgroup.enter()
    if fallback:
        resource.setrlimit(resource.RLIMIT_AS, (2 * limits.memory_mib * 2**20,) * 2)
        if os.getuid() != 0:  # counted over all of this user's processes: leave room for the running ones
            running = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit())
            resource.setrlimit(resource.RLIMIT_NPROC, (running + limits.processes,) * 2)


def run(command: list[str], *, bwrap: str, limits: Limits, readable: list[Path], stdin: bytes = b"",
        files: dict[str, Path] | None = None, env: dict[str, str] | None = None) -> Outcome:
    """Run `command` in the sandbox with `stdin` and collect its stdout lines; its doings never raise here."""
    cgroup = Cgroup.create(limits)
    scope = None if cgroup is not None else systemd_scope(limits)
    info, info_to_bwrap = os.pipe()  # bubblewrap writes its child's pid here: the sandbox's pid 1
    go_to_bwrap, go = os.pipe()  # and the sandbox waits for a byte here before it runs the command
    options = ("--info-fd", str(info_to_bwrap), "--block-fd", str(go_to_bwrap))
    wrapped = [*(scope or []), *sandboxed(command, bwrap, readable=readable, limits=limits, files=files,
                                           env=env, options=options)]
    outcome = Outcome()
    fallback = cgroup is None and scope is None
    try:
        process = subprocess.Popen(wrapped, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True,
                                   pass_fds=(info_to_bwrap, go_to_bwrap),
                                   env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                                   preexec_fn=lambda: _rlimits(limits, cgroup, fallback))
    except BaseException:
        os.close(info)
        os.close(go)
        raise
    finally:
        os.close(info_to_bwrap)
        os.close(go_to_bwrap)
    init = None
    try:
        try:
            init = _sandbox_init(info)  # pid 1 waits for `go`: it cannot have exited, its number is its own
        finally:
            _release(go)
        feeder = threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True)
        feeder.start()
        _collect(process, limits, outcome)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # bubblewrap; the sandbox dies with it
        outcome.returncode = process.wait()
        process.stdout.close()
        process.stderr.close()
        if cgroup is not None:
            cgroup.kill_all()
            outcome.out_of_memory = cgroup.out_of_memory()
            cgroup.remove()
        outcome.ended = _await_exit(init)
    return outcome


def _readable(fd: int, seconds: float) -> bool:
    """Whether `fd` turns readable within `seconds` (poll: any descriptor number)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, int(seconds * 1000))))


def _sandbox_init(info: int, seconds: float = 10) -> int | None:
    """A pidfd of the sandbox's pid 1, from bubblewrap's --info-fd JSON (None if bubblewrap wrote none).

    A pidfd, not a pid: it names that one process, never one that reuses its number, and needs no /proc.
    """
    text, deadline = b"", time.monotonic() + seconds
    try:
        while _readable(info, deadline - time.monotonic()):
            if not (chunk := os.read(info, 4096)):
                break
            text += chunk
    finally:
        os.close(info)
    try:
        return os.pidfd_open(json.loads(text)["child-pid"])
    except (ValueError, KeyError, TypeError, OSError):
        return None


def _release(go: int) -> None:
    """Let the sandbox run its command (bubblewrap's --block-fd), and close the pipe."""
    try:
        os.write(go, b"x")
    except OSError:  # bubblewrap is gone already
        pass
    finally:
        os.close(go)


def _await_exit(init: int | None, seconds: float = 30) -> bool:
    """Kill the sandbox's pid 1 and wait until it has exited (its pidfd turns readable); True if it has.

    The kernel ends every other process of a pid namespace before its pid 1 exits, so a grader that goes
    on to the next student leaves no process of this one behind, cgroup or not.
    """
    if init is None:
        return False
    try:
        signal.pidfd_send_signal(init, signal.SIGKILL)
    except OSError:  # it has exited already (or cannot be signalled: the wait says which)
        pass
    try:
        return _readable(init, seconds)
    finally:
        os.close(init)


def _feed(pipe, data: bytes) -> None:
    """Write `data` to the sandbox's stdin and close it (it may stop reading: that is its loss)."""
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def _collect(process: subprocess.Popen, limits: Limits, outcome: Outcome) -> None:
    """Read stdout (bounded, by lines) and stderr (its tail) until both close or the deadline passes."""
    deadline = time.monotonic() + limits.seconds
    budget, pending, tail = limits.output_kib * 1024, b"", b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.register(process.stderr, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                outcome.timed_out = True
                break
            for key, _ in selector.select(timeout=min(left, 1.0)):
                chunk = os.read(key.fileobj.fileno(), 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.fileobj is process.stderr:
                    tail = (tail + chunk)[-65536:]
                else:
                    if len(chunk) > budget:  # keep what the budget allows, and not a byte more
                        outcome.too_much_output, chunk = True, chunk[:budget]
                    budget -= len(chunk)
                    *complete, pending = (pending + chunk).split(b"\n")
                    outcome.lines += complete
            if outcome.too_much_output:
                break
    if pending and not (outcome.timed_out or outcome.too_much_output):
        outcome.lines.append(pending)
    outcome.stderr_tail = tail


def main() -> int:
    """`python -m tools.sandbox -- command`: try a command in the sandbox (default limits, 60 s)."""
    command = sys.argv[2:] if sys.argv[1:2] == ["--"] else sys.argv[1:]
    bwrap = bubblewrap()
    if not command or bwrap is None:
        print("usage: python -m tools.sandbox -- command (needs a working bubblewrap)", file=sys.stderr)
        return 2
    outcome = run(command, bwrap=bwrap, limits=Limits(seconds=60), readable=[Path(sys.prefix).resolve(),
                                                                              Path(sys.base_prefix).resolve()])
    sys.stdout.buffer.write(b"\n".join(outcome.lines) + b"\n")
    sys.stderr.buffer.write(outcome.stderr_tail)
    return outcome.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
