"""Shared fixtures: a headless matplotlib backend and the real (cached) MNIST arrays."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from helpers.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    """The verified MNIST arrays (prepared by `make setup`)."""
    return load_mnist()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")

# tests/colab runs in its own Colab-like environment (make test-colab), not in the course's.
collect_ignore = ["colab"]
