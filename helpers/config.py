"""The run context (quick or full mode, seed, output folder), read from the environment, and seeding.

The one module that reads the course's environment variables (COURSE_*). Reading has no side
effects: nothing is created or seeded until a notebook asks, with `seed_everything(...)` and
`RunContext.make_output_dir()`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

QUICK_ENV = "COURSE_QUICK"
SEED_ENV = "COURSE_SEED"
OUTPUT_ENV = "COURSE_OUTPUT_DIR"
DATA_ENV = "COURSE_DATA_DIR"
MNIST_SOURCE_ENV = "COURSE_MNIST_SOURCE"
CHECK_LOG_ENV = "COURSE_CHECK_LOG"
STILL_WIDGETS_ENV = "COURSE_STILL_WIDGETS"
DEFAULT_SEED = 42

T = TypeVar("T")


def is_quick() -> bool:
    """True when COURSE_QUICK is set to 1/true/yes (quick test mode); unset or 0 means full mode."""
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{QUICK_ENV} must be 0 or 1 (or unset), got {value!r}")


def course_seed() -> int:
    """The run's seed: $COURSE_SEED if set (`make margins` varies it), else 42."""
    value = os.environ.get(SEED_ENV, "").strip()
    if not value:
        return DEFAULT_SEED
    if not value.isdigit():
        raise ValueError(f"{SEED_ENV} must be a non-negative integer, got {value!r}")
    return int(value)


def mnist_source() -> str:
    """Where MNIST may come from on a cache miss: "any" (Keras' download, then the registry) or "registry"."""
    value = os.environ.get(MNIST_SOURCE_ENV, "").strip().lower() or "any"
    if value not in ("any", "registry"):
        raise ValueError(f"{MNIST_SOURCE_ENV} must be 'registry' or unset, got {value!r}")
    return value


def check_log_path() -> Path | None:
    """The file `expect` appends its checks to ($COURSE_CHECK_LOG, set by `make margins`), if any."""
    value = os.environ.get(CHECK_LOG_ENV, "").strip()
    return Path(value) if value else None


def still_widgets() -> bool:
    """True when $COURSE_STILL_WIDGETS is 1: `make execute` asks widgets to show a still picture instead."""
    value = os.environ.get(STILL_WIDGETS_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{STILL_WIDGETS_ENV} must be 0 or 1 (or unset), got {value!r}")
    return value == "1"


def project_root() -> Path | None:
    """The course checkout this package lives in, or None when installed elsewhere (e.g. Colab)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def display_path(path: str | Path) -> str:
    """A path as a notebook's reader should see it: relative to the checkout when inside it."""
    root = project_root()
    try:
        return str(Path(path).resolve().relative_to(root)) if root is not None else str(path)
    except ValueError:
        return str(path)


def _base_dir(env_var: str, name: str) -> Path:
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser()
    root = project_root()
    return (root if root is not None else Path.cwd()) / name


def output_path(*parts: str) -> Path:
    """Where generated files go: outputs/ in the checkout (or $COURSE_OUTPUT_DIR) / parts. Not created."""
    for part in parts:
        if not part or Path(part).is_absolute() or ".." in Path(part).parts:
            raise ValueError(f"output folder names must be plain relative names, got {part!r}")
    return _base_dir(OUTPUT_ENV, "outputs").joinpath(*parts)


def data_dir() -> Path:
    """The folder for cached data (data/ in the checkout, or $COURSE_DATA_DIR). Not created."""
    return _base_dir(DATA_ENV, "data")


@dataclass(frozen=True)
class RunContext:
    """What a notebook's run needs from its environment: its mode, its seed and its output folder."""

    notebook: str  # e.g. "05_conv_vae": the output folder's name
    quick: bool
    seed: int

    @property
    def mode(self) -> str:
        """ "quick" or "full"."""
        return "quick" if self.quick else "full"

    @property
    def out(self) -> Path:
        """This run's folder for generated files: outputs/<notebook>/<mode> (see make_output_dir)."""
        return output_path(self.notebook, self.mode)

    def by_mode(self, *, quick: T, full: T) -> T:
        """`quick` in quick mode, `full` otherwise."""
        return quick if self.quick else full

    def of(self, notebook: str) -> RunContext:
        """The same run (mode and seed) for another notebook: where that notebook's outputs are."""
        output_path(notebook)  # checks the name
        return RunContext(notebook=notebook, quick=self.quick, seed=self.seed)

    def make_output_dir(self) -> Path:
        """Create this run's output folder (and its parents) and return it."""
        self.out.mkdir(parents=True, exist_ok=True)
        return self.out

    def __str__(self) -> str:
        root = project_root()
        out = self.out.relative_to(root) if root is not None and self.out.is_relative_to(root) else self.out
        return f"{self.notebook}: {self.mode} mode, seed {self.seed}, outputs in {out}"


def run_context(notebook: str) -> RunContext:
    """Read the mode ($COURSE_QUICK) and seed ($COURSE_SEED) of a run of `notebook`; creates nothing."""
    output_path(notebook)  # checks the name
    return RunContext(notebook=notebook, quick=is_quick(), seed=course_seed())


def _check_seed(seed: object) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def seed_everything(seed: int | None = None, *, deterministic_ops: bool) -> int:
    """Seed Python, NumPy, TensorFlow and Keras (with `course_seed()` by default); return the seed.

    deterministic_ops=True also turns on TensorFlow's deterministic kernels for the rest of the process
    (slower, reproducible): a notebook asks for it once, at the top. For one block of code, pass
    False and put `with deterministic_ops():` around the block.
    """
    seed = course_seed() if seed is None else _check_seed(seed)
    import keras  # imported here so that config stays cheap to import
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # seeds `random`, NumPy's global RNG and tf.random
    # Start TensorFlow's device platforms now, so that their one-time log lines (such as "failed call to
    # cuInit" on a machine without a GPU) land in the set-up cell, not in a later cell that nbval checks.
    tf.config.list_physical_devices()
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
    return seed


@contextmanager
def deterministic_ops() -> Iterator[None]:
    """TensorFlow's deterministic kernels inside the block only; the previous setting is restored."""
    from tensorflow.python.framework import config as tf_config  # the public API cannot switch it off

    was_on = tf_config.is_op_determinism_enabled()
    tf_config.enable_op_determinism()
    try:
        yield
    finally:
        if not was_on:
            tf_config.disable_op_determinism()
