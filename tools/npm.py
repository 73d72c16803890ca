"""Pinned JavaScript from the npm registry, installed once into a folder, for the website and the slides.

The book serves MathJax from its own folder and the slides load reveal.js, MathJax, RequireJS and jQuery
by a relative path, so that neither makes a request to the internet. Both ask `install_packages` for
exact versions; it calls npm only when a package is missing or at another version.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path


def installed_version(modules: Path, name: str) -> str | None:
    """The version of package `name` under the node_modules folder `modules`, or None if it is not there."""
    manifest = modules / name / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.is_file() else None


def install_packages(vendor: Path, packages: dict[str, str], needed_by: str) -> Path:
    """Install {name: version} into vendor/node_modules unless those versions are there; returns that folder.

    `needed_by` names what needs them ("`make book`"), for the error when npm is missing.
    """
    modules = vendor / "node_modules"
    if all(installed_version(modules, name) == version for name, version in packages.items()):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"{needed_by} needs npm (Node.js) once, to fetch {', '.join(packages)}: "
                           "install Node.js, e.g. `sudo apt-get install npm`")
    vendor.mkdir(parents=True, exist_ok=True)
    specs = [f"{name}@{version}" for name, version in packages.items()]
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(vendor), *specs],
                   check=True)
    return modules
