"""Run mode (quick or full), seeding, and the one folder for generated files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import numpy as np

QUICK_ENV = "COURSE_QUICK"
SEED_ENV = "COURSE_SEED"
OUTPUT_ENV = "COURSE_OUTPUT_DIR"
DATA_ENV = "COURSE_DATA_DIR"
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


def by_mode(*, quick: T, full: T) -> T:
    """`quick` in quick mode, `full` otherwise: epochs = by_mode(quick=1, full=30)."""
    return quick if is_quick() else full


def course_seed() -> int:
    """The run's seed: $COURSE_SEED if set (`make margins` varies it), else 42."""
    value = os.environ.get(SEED_ENV, "").strip()
    if not value:
        return DEFAULT_SEED
    if not value.isdigit():
        raise ValueError(f"{SEED_ENV} must be a non-negative integer, got {value!r}")
    return int(value)


def seed_everything(seed: int | None = None, *, deterministic_ops: bool = True) -> int:
    """Seed Python, NumPy, TensorFlow and Keras (with `course_seed()` by default); return the seed.

    deterministic_ops=True also asks TensorFlow for deterministic kernels, for the rest of the process
    (TensorFlow has no way back), so call it once, at the top of a notebook.
    """
    if seed is None:
        seed = course_seed()
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    import keras  # imported here so that config stays cheap to import
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))  # seeds `random`, NumPy's global RNG and tf.random
    if deterministic_ops:
        tf.config.experimental.enable_op_determinism()
    return int(seed)


def project_root() -> Path | None:
    """The course checkout this package lives in, or None when installed elsewhere (e.g. Colab)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def _base_dir(env_var: str, name: str) -> Path:
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser()
    root = project_root()
    return (root if root is not None else Path.cwd()) / name


def output_dir(*parts: str) -> Path:
    """The folder for generated files (outputs/ in the checkout, or $COURSE_OUTPUT_DIR), created."""
    for part in parts:
        if not part or Path(part).is_absolute() or ".." in Path(part).parts:
            raise ValueError(f"output_dir parts must be plain relative names, got {part!r}")
    path = _base_dir(OUTPUT_ENV, "outputs").joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The folder for the cached data set (data/ in the checkout, or $COURSE_DATA_DIR), created."""
    path = _base_dir(DATA_ENV, "data")
    path.mkdir(parents=True, exist_ok=True)
    return path
