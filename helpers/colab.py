"""The report of the notebooks' Colab set-up cell: what pip changed, and whether to restart the session."""

from __future__ import annotations

import re

COURSE = "ae-to-cgan-course"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_changes(pip_output: str) -> dict[str, tuple[str | None, str]]:
    """{package: (version before, or None if new; version after)} for what pip's output says it changed."""
    if not isinstance(pip_output, str):
        raise TypeError(f"expected pip's standard output as a string, got {type(pip_output).__name__}")
    before = {_canonical(name): version
              for name, version in re.findall(r"Found existing installation: (\S+) (\S+)", pip_output)}
    installed = re.search(r"^Successfully installed (.+)$", pip_output, re.MULTILINE)
    after = dict(item.rsplit("-", 1) for item in installed.group(1).split()) if installed else {}
    changes = {}
    for name, version in after.items():
        key = _canonical(name)
        if before.get(key) != version:
            changes[key] = (before.get(key), version)
    return changes


def report_install(pip_output: str) -> None:
    """Print what pip installed and whether the session must restart (only if it replaced a package)."""
    changes = pip_changes(pip_output)
    listed = ", ".join(f"{name} {old or '(new)'} -> {new}" for name, (old, new) in sorted(changes.items()))
    print("pip installed:", listed or "nothing (the course was already installed)")
    if any(old is not None for old, _ in changes.values()):
        print("A package already installed was changed: restart the session (Runtime > Restart session).")
    else:
        print("No package that Colab had was changed: no restart needed.")
