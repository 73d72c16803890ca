#!/usr/bin/env bash
# `make test-colab`: the course in a Colab-like runtime. Python 3.13 (from pyenv) with the packages of Colab's
# published freeze; the course installed by the notebooks' own set-up cell from a git URL (the checkout's
# committed HEAD); every notebook of that commit run in quick mode under nbval from a folder outside the checkout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
COLAB_PYTHON=3.13                                         # Colab's Python (see the freeze's README)
FREEZE=$(ls "$HERE"/pip-freeze-*.txt | sort | tail -n 1)  # the newest published freeze kept here
NBVAL=nbval==0.11.0                                       # the test tool, the one thing Colab does not have
read -ra NBVAL_FLAGS <<< "$(sed -n 's/^NBVAL := //p' "$ROOT/Makefile")"  # make test's, so the runs compare
VENV=${COLAB_VENV:-$ROOT/.venv-colab}

if command -v pyenv >/dev/null && version=$(pyenv latest "$COLAB_PYTHON" 2>/dev/null); then
  PYTHON="$(pyenv root)/versions/$version/bin/python$COLAB_PYTHON"
elif PYTHON=$(command -v "python$COLAB_PYTHON"); then
  version=$("$PYTHON" -c 'import platform; print(platform.python_version())')
else
  echo "test-colab needs Python $COLAB_PYTHON, Colab's: install it with pyenv (pyenv install $COLAB_PYTHON)"
  exit 1
fi
if ! git -C "$ROOT" diff --quiet HEAD -- helpers notebooks tests pyproject.toml; then
  echo "Note: test-colab runs the committed HEAD (the set-up cell installs from git); uncommitted changes are not tested."
fi

# The environment, rebuilt only when the freeze, the package list, this script or the Python release change.
stamp=$(cat "$FREEZE" "$HERE/runtime.txt" "$0" <(echo "$version") | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.colab-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "Building $VENV: Python $version with Colab's packages from $(basename "$FREEZE")"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  grep -E '^[A-Za-z0-9._-]+==' "$FREEZE" > "$VENV/constraints.txt"  # name==version lines: pip's constraints
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$VENV/constraints.txt" pip
  "$VENV/bin/python" -m pip install --quiet -c "$VENV/constraints.txt" -r "$HERE/runtime.txt"
  # Colab ships some packages without all their dependencies (IPython without jedi, for one): remove
  # what pip added beyond the freeze, so that the environment is Colab's as published.
  extra=$("$VENV/bin/python" - "$VENV/constraints.txt" <<'PY'
import re, sys
from importlib import metadata
canonical = lambda name: re.sub(r"[-_.]+", "-", name).lower()
frozen = {canonical(line.split("==")[0]) for line in open(sys.argv[1])}
print(" ".join(sorted({d.metadata["Name"] for d in metadata.distributions()
                       if canonical(d.metadata["Name"]) not in frozen | {"pip"}})))
PY
)
  if [ -n "$extra" ]; then "$VENV/bin/python" -m pip uninstall --quiet --yes $extra; fi
  # nbval needs pytest, jupyter_client, nbformat and ipykernel, which Colab has, and coverage, which it does not.
  "$VENV/bin/python" -m pip install --quiet --no-deps "$NBVAL" coverage
  echo "$stamp" > "$VENV/.colab-stamp"
fi
"$VENV/bin/python" -m pip uninstall --quiet --yes ae-to-cgan-course 2>/dev/null || true  # a new session

export COURSE_PIP_URL="git+file://$ROOT"   # what the set-up cell installs (in Colab: from GitHub)
export PYTHONPATH="$HERE/standin"           # `import google.colab` works, as in Colab
export COURSE_QUICK=1
export COLAB_FREEZE="$VENV/constraints.txt"
# MNIST offline (Colab: Keras' download) and the scoring classifier's cached weights, from the checkout's
# data/ (`make test-colab` prepares both). Colab trains the classifier on first use with the same code,
# which the classifier's unit tests below run on Colab's versions.
export COURSE_DATA_DIR="$ROOT/data"
CONTENT=$(mktemp -d "${TMPDIR:-/tmp}/colab-content.XXXXXX")  # Colab's /content: outside the checkout
trap 'rm -rf "$CONTENT"' EXIT
git -C "$ROOT" archive HEAD notebooks tests | tar -x -C "$CONTENT"  # the commit that pip installs
cp "$CONTENT"/notebooks/[0-9][0-9]_*.ipynb "$CONTENT"/
cd "$CONTENT"
PYTEST=("$VENV/bin/python" -m pytest -c "$HERE/pytest.ini" --rootdir "$CONTENT")

echo "== Colab-like run: $("$VENV/bin/python" --version), $(basename "$FREEZE"), in $CONTENT"
"${PYTEST[@]}" "$HERE/test_colab_runtime.py" -k "not still_at"   # installs the course (set-up cell)
MPLBACKEND=Agg "${PYTEST[@]}" tests/test_gif.py tests/test_progress.py tests/test_explorer.py \
  tests/test_classifier.py
"$VENV/bin/python" -m pip uninstall --quiet --yes ae-to-cgan-course  # the first notebook installs it again
"${PYTEST[@]}" ./[0-9][0-9]_*.ipynb "${NBVAL_FLAGS[@]}"
"${PYTEST[@]}" "$HERE/test_colab_runtime.py" -k "still_at"      # nothing the notebooks did changed Colab
