#!/usr/bin/env bash
# `make test-colab`: the course in a Colab-like runtime. Python 3.13 (found through pyenv) with the packages
# of Colab's published freeze; the course installed by the notebooks' own set-up cell from a git URL (the
# checkout's committed HEAD); every notebook run in quick mode under nbval from a folder outside the checkout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
COLAB_PYTHON=3.13                                       # Colab's Python (see the freeze's README)
FREEZE=$(ls "$HERE"/pip-freeze-*.txt | sort | tail -n 1)  # the newest published freeze kept here
VENV=${COLAB_VENV:-$ROOT/.venv-colab}

command -v pyenv >/dev/null || { echo "test-colab needs pyenv with Python $COLAB_PYTHON"; exit 1; }
version=$(pyenv latest "$COLAB_PYTHON" 2>/dev/null) \
  || { echo "test-colab: pyenv has no Python $COLAB_PYTHON (pyenv install $COLAB_PYTHON)"; exit 1; }
PYTHON="$(pyenv root)/versions/$version/bin/python$COLAB_PYTHON"

# The environment, rebuilt only when the freeze, the package list or this script change.
stamp=$(cat "$FREEZE" "$HERE/runtime.txt" "$0" | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.colab-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "Building $VENV: Python $version with Colab's packages from $(basename "$FREEZE")"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$FREEZE" pip
  "$VENV/bin/python" -m pip install --quiet -c "$FREEZE" -r "$HERE/runtime.txt"
  # Colab ships some packages without all their dependencies (IPython without jedi, for one): remove
  # what pip added beyond the freeze, so that the environment is Colab's as published.
  extra=$("$VENV/bin/python" - "$FREEZE" <<'PY'
import re, sys
from importlib import metadata
canonical = lambda name: re.sub(r"[-_.]+", "-", name).lower()
frozen = {canonical(line.split("==")[0]) for line in open(sys.argv[1]) if "==" in line}
print(" ".join(sorted({d.metadata["Name"] for d in metadata.distributions()
                       if canonical(d.metadata["Name"]) not in frozen | {"pip"}})))
PY
)
  if [ -n "$extra" ]; then "$VENV/bin/python" -m pip uninstall --quiet --yes $extra; fi
  # The test tool, beside Colab's packages: nbval needs pytest, jupyter_client, nbformat and ipykernel,
  # which Colab has, and coverage, which it does not.
  "$VENV/bin/python" -m pip install --quiet --no-deps nbval coverage
  echo "$stamp" > "$VENV/.colab-stamp"
fi
"$VENV/bin/python" -m pip uninstall --quiet --yes ae-to-cgan-course 2>/dev/null || true  # a new session

export COURSE_PIP_URL="git+file://$ROOT"         # what the set-up cell installs (Colab: GitHub)
export PYTHONPATH="$HERE/standin"                 # `import google.colab` works, as in Colab
export COURSE_QUICK=1
export COURSE_DATA_DIR="$ROOT/data"               # MNIST offline (Colab: Keras' download), shared cache
export COLAB_FREEZE="$FREEZE"
export MPLBACKEND=Agg
CONTENT=$(mktemp -d "${TMPDIR:-/tmp}/colab-content.XXXXXX")  # Colab's /content: outside the checkout
trap 'rm -rf "$CONTENT"' EXIT
cp "$ROOT"/notebooks/[0-9][0-9]_*.ipynb "$CONTENT"/
cd "$CONTENT"
PYTEST=("$VENV/bin/python" -m pytest -c "$HERE/pytest.ini" --rootdir "$CONTENT")

echo "== Colab-like run: $("$VENV/bin/python" --version), $(basename "$FREEZE"), in $CONTENT"
"${PYTEST[@]}" "$HERE/test_colab_runtime.py" -k "not still_at"   # installs the course (set-up cell)
"${PYTEST[@]}" "$ROOT/tests/test_gif.py" "$ROOT/tests/test_progress.py" "$ROOT/tests/test_explorer.py"
"${PYTEST[@]}" "$CONTENT"/*.ipynb --nbval-lax --nbval-current-env --nbval-cell-timeout=900
"${PYTEST[@]}" "$HERE/test_colab_runtime.py" -k "still_at"      # nothing the notebooks did changed Colab
