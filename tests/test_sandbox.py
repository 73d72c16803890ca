"""The grading sandbox refuses what a submission might try, and each attack is shown to work without it.

Every test runs a small attacking script in tools/sandbox.py with the grader's own mounts and checks
what happened from the host. Where a test says "control", the same attack runs once with that one
defence switched off and must succeed: proof that the attack is real and the defence is what stops it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tools import grade, sandbox

pytestmark = [pytest.mark.classroom, pytest.mark.sandbox]
BWRAP = sandbox.bubblewrap()
if BWRAP is None:
    pytest.skip("no working bubblewrap: `make test-classroom` installs it where it can",
                allow_module_level=True)

def has_cgroup() -> bool:
    group = sandbox.Cgroup.create(sandbox.Limits())
    if group is not None:
        group.remove()
    return group is not None


needs_cgroup = pytest.mark.skipif(not has_cgroup(), reason="no writable cgroup here: the fallback's limits")


def attack(script: str, *, readable: list[Path] | None = None, **limits) -> sandbox.Outcome:
    """Run a Python script in the sandbox with the grader's mounts; its last stdout line is its report."""
    return sandbox.run([sys.executable, "-I", "-c", textwrap.dedent(script)], bwrap=BWRAP,
                       limits=sandbox.Limits(**{"seconds": 60, **limits}),
                       readable=grade.readable_folders() + (readable or []))


def report(outcome: sandbox.Outcome) -> dict:
    assert outcome.lines, outcome.stderr_tail.decode()[-2000:]  # the attack ran to its report
    return json.loads(outcome.lines[-1])


READ = """
    import json, pathlib
    try:
        print(json.dumps({{"read": pathlib.Path({path!r}).read_text()[:100]}}))
    except OSError as error:
        print(json.dumps({{"refused": type(error).__name__}}))
"""


@pytest.fixture
def home_canary():
    path = Path.home() / f".course-grade-canary-{uuid.uuid4().hex}"
    path.write_text("secret")
    yield path
    path.unlink()


def test_home_is_hidden_even_when_python_lives_in_it(home_canary):
    home = Path.home().resolve()
    assert any(folder.is_relative_to(home) for folder in grade.readable_folders()) or pytest.skip(
        "neither the course nor its Python lies under home here")
    assert report(attack(READ.format(path=str(home_canary)))) == {"refused": "FileNotFoundError"}
    control = attack(READ.format(path=str(home_canary)), readable=[home])
    assert report(control) == {"read": "secret"}


def test_tmpdir_and_the_course_outside_helpers_are_hidden(tmp_path):
    elsewhere = grade.ROOT / "outputs" / f"tmpdir-{uuid.uuid4().hex}"  # a TMPDIR outside /tmp
    elsewhere.mkdir(parents=True)
    try:
        (elsewhere / "job.json").write_text("another student's job")
        job = READ.format(path=str(elsewhere / "job.json"))
        assert report(attack(job)) == {"refused": "FileNotFoundError"}
        assert report(attack(job, readable=[elsewhere])) == {"read": "another student's job"}  # control
    finally:
        (elsewhere / "job.json").unlink()
        elsewhere.rmdir()
    solutions = grade.ROOT / "notebooks" / "03_vae.ipynb"  # a private fork's solutions
    assert report(attack(READ.format(path=str(solutions)))) == {"refused": "FileNotFoundError"}
    assert "read" in report(attack(READ.format(path=str(solutions)), readable=[grade.ROOT]))  # control


def test_nothing_of_the_host_is_writable():
    arguments = sandbox.sandboxed(["true"], BWRAP, readable=grade.readable_folders(), limits=sandbox.Limits())
    assert not {"--bind", "--bind-try", "--dev-bind", "--dev-bind-try"} & set(arguments)
    own = ["/home/student", "/tmp", "/dev/shm"]
    folders = [*(str(f) for f in grade.readable_folders()), "/", "/usr", "/etc", *own]
    script = f"""
        import errno, json, os, pathlib
        result = {{}}
        for folder in {folders!r}:
            try:
                pathlib.Path(folder, "pwned-{uuid.uuid4().hex}").write_text("x")
                result[folder] = "written"
            except OSError as error:
                result[folder] = errno.errorcode[error.errno]
        print(json.dumps(result))
    """
    result = report(attack(script))
    assert {folder: result.pop(folder) for folder in ("/home/student", "/tmp", "/dev/shm")} == dict.fromkeys(
        ("/home/student", "/tmp", "/dev/shm"), "written")  # the sandbox's own tmpfs folders
    assert set(result.values()) == {"EROFS"}, result  # the folder is there, and read-only


def test_no_network_to_the_host(monkeypatch):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    script = f"""
        import json, socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
            print(json.dumps({{"connected": True}}))
        except OSError as error:
            print(json.dumps({{"refused": type(error).__name__}}))
    """
    try:
        assert "refused" in report(attack(script))
        monkeypatch.setattr(sandbox, "ISOLATION", tuple(a for a in sandbox.ISOLATION if a != "--unshare-net"))
        assert report(attack(script)) == {"connected": True}  # control
    finally:
        server.close()


OPEN_DESCRIPTORS = """
import json, os
def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
print(json.dumps({"open": [fd for fd in range(3, 256) if is_open(fd)]}))
"""


def test_no_descriptor_of_the_grader_reaches_the_sandbox():
    """bubblewrap's --info-fd and --block-fd pipes stay the grader's: nothing past stdin, stdout, stderr."""
    assert report(attack(OPEN_DESCRIPTORS))["open"] == []
    # control: the probe sees a descriptor that is passed on
    read, write = os.pipe()
    try:
        seen = subprocess.run([sys.executable, "-I", "-c", OPEN_DESCRIPTORS], pass_fds=(write,),
                              capture_output=True, text=True, check=True)
        assert write in json.loads(seen.stdout)["open"]
    finally:
        os.close(read)
        os.close(write)


def test_the_environment_is_not_passed_on(monkeypatch):
    monkeypatch.setenv("GRADER_TOKEN", "secret")
    script = "import json, os; print(json.dumps(sorted(os.environ)))"
    names = report(sandbox.run([sys.executable, "-I", "-c", script], bwrap=BWRAP, limits=sandbox.Limits(),
                               readable=grade.readable_folders(), env={"COURSE_QUICK": "1"}))
    assert "COURSE_QUICK" in names and "GRADER_TOKEN" not in names and "HOME" in names


SPAWN = """
    import json, subprocess
    children = []
    try:
        for _ in range(100):
            children.append(subprocess.Popen(["sleep", "60"]))
    except OSError as error:
        pass
    print(json.dumps({"started": len(children)}))
"""


@needs_cgroup
def test_processes_are_limited():
    assert report(attack(SPAWN, processes=32))["started"] < 32
    assert report(attack(SPAWN, processes=512))["started"] == 100  # control


KILL_ALL, REMOVE = sandbox.Cgroup.kill_all, sandbox.Cgroup.remove  # the real ones, for clean-ups
# a mark no other process carries: CI once ran a host shell whose command line held "while True"
BOMB_MARK = f"fork-bomb-{uuid.uuid4().hex}"
BOMB = f"""
    # {BOMB_MARK}
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""


@needs_cgroup
def test_a_fork_bomb_ends_and_leaves_nothing_behind(monkeypatch):
    start = time.monotonic()
    outcome = attack(BOMB, seconds=10, processes=64)
    assert outcome.timed_out and outcome.ended and time.monotonic() - start < 60
    assert not _bombs(), _described(_bombs())
    # control: without the cgroup's final kill, the sandbox dying with bubblewrap and the wait for its
    # pid 1, it lives on; with the wait alone, it ends
    groups = []
    monkeypatch.setattr(sandbox.Cgroup, "kill_all", lambda group: groups.append(group))
    monkeypatch.setattr(sandbox.Cgroup, "remove", lambda group: None)
    monkeypatch.setattr(sandbox, "ISOLATION", tuple(a for a in sandbox.ISOLATION if a != "--die-with-parent"))
    try:
        with monkeypatch.context() as no_wait:
            no_wait.setattr(sandbox, "_await_exit", lambda init: bool(init is not None and os.close(init)))
            attack(BOMB, seconds=3, processes=64)
            time.sleep(1)
            assert len(_bombs()) > 1
        _end(groups)
        attack(BOMB, seconds=3, processes=64)
        assert not _bombs(), _described(_bombs())
    finally:
        _end(groups)


def _end(groups: list[sandbox.Cgroup]) -> None:
    """Kill and remove the cgroups a control left behind, with the real methods."""
    while groups:
        group = groups.pop()
        KILL_ALL(group)
        REMOVE(group)


def _bombs() -> list[Path]:
    """This run's fork-bomb processes left on the host (its bubblewrap's command line carries the mark)."""
    return [proc for proc in Path("/proc").iterdir() if proc.name.isdigit() and _is_bomb(proc)]


def _described(procs: list[Path]) -> str:
    """What a failing assertion says of processes left behind: their state, parents and namespaces."""
    lines = [f"this process: {os.getpid()}, /proc/self: {Path('/proc/self').resolve().name}"]
    for proc in procs:
        try:
            status = (proc / "status").read_text().splitlines()
            lines.append(f"{proc.name}: " + "; ".join(line for line in status if line.split(":")[0] in
                                                      ("Name", "State", "PPid", "NSpid", "SigPnd", "ShdPnd")))
        except OSError as error:
            lines.append(f"{proc.name}: {error}")
    return "\n".join(lines)


def _is_bomb(proc: Path) -> bool:
    try:
        return BOMB_MARK in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


HOG = """
    import json, os, time
    pids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            block = bytearray(150 * 2**20)
            block[::4096] = b"x" * len(block[::4096])  # touched: resident, not just reserved
            time.sleep(2)
            os._exit(0)
        pids.append(pid)
    codes = [os.waitpid(pid, 0)[1] for pid in pids]
    print(json.dumps({"all_survived": all(code == 0 for code in codes)}))
"""


@needs_cgroup
def test_memory_counts_all_processes_together():
    outcome = attack(HOG, memory_mib=320)  # each child fits, the three together do not
    assert outcome.out_of_memory and report(outcome) == {"all_survived": False}
    control = attack(HOG, memory_mib=1024)
    assert not control.out_of_memory and report(control) == {"all_survived": True}


WRITE = """
    import json, pathlib
    try:
        pathlib.Path({path!r}).write_bytes(b"x" * {mib} * 2**20)
        print(json.dumps({{"written": True}}))
    except OSError as error:
        print(json.dumps({{"refused": __import__("errno").errorcode[error.errno]}}))
"""


def test_private_folders_have_a_size():
    assert report(attack(WRITE.format(path="/tmp/big", mib=32), tmpfs_mib=16)) == {"refused": "ENOSPC"}
    assert report(attack(WRITE.format(path="/tmp/big", mib=32), tmpfs_mib=64)) == {"written": True}  # control


def test_files_have_a_size():
    assert report(attack(WRITE.format(path="/home/student/f", mib=8), file_mib=4, tmpfs_mib=64)) == {
        "refused": "EFBIG"}
    assert report(attack(WRITE.format(path="/home/student/f", mib=8), file_mib=16, tmpfs_mib=64)) == {
        "written": True}  # control


def test_output_to_the_grader_is_capped():
    flood = "import sys\nfor _ in range(4096):\n    sys.stdout.write('x' * 255 + '\\n')"
    capped = attack(flood, output_kib=16)
    assert capped.too_much_output and sum(len(line) + 1 for line in capped.lines) <= 16 * 1024
    assert len(capped.lines) == 64  # 256-byte lines: exactly the 16 KiB, none lost
    control = attack(flood, output_kib=2048)
    assert not control.too_much_output and len(control.lines) == 4096


def test_time_is_limited():
    start = time.monotonic()
    outcome = attack("import time; time.sleep(120)", seconds=3)
    assert outcome.timed_out and time.monotonic() - start < 15


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="memory_mib must be positive"):
        sandbox.Limits(memory_mib=0)


def test_proc_and_dev_are_read_only():
    script = """
        import errno, json
        result = {}
        for path in ("/proc/sys/kernel/core_pattern", "/dev/pwned"):  # a host sysctl as root; a /dev file
            try:
                with open(path, "w") as file:
                    file.write(open(path).read() if path.startswith("/proc") else "x")
                result[path] = "written"
            except OSError as error:
                result[path] = errno.errorcode[error.errno]
        print(json.dumps(result))
    """
    assert set(report(attack(script)).values()) <= {"EROFS", "EACCES"}
