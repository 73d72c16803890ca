"""Shared fixtures: a headless matplotlib backend and the real (cached) MNIST arrays."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from helpers.config import course_seed
from helpers.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    """The verified MNIST arrays (prepared by `make setup`)."""
    return load_mnist()


@pytest.fixture
def seed():
    """The seed of the statistical tests: $COURSE_SEED (make margins runs them under several)."""
    return course_seed()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")

# tests/colab runs in its own Colab-like environment (make test-colab), not in the course's.
collect_ignore = ["colab"]
