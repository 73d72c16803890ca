"""Shared fixtures: a headless matplotlib backend, the real (cached) MNIST arrays, a brief classifier."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from helpers import classifier
from helpers.config import course_seed, data_dir, is_quick
from helpers.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    """The verified MNIST arrays (prepared by `make setup`)."""
    return load_mnist()


@pytest.fixture(scope="session")
def brief_classifier_path(tmp_path_factory):
    """Where a briefly trained scoring classifier (2 epochs on 3,000 images) is cached for the tests."""
    path = tmp_path_factory.mktemp("clf") / "clf.weights.h5"
    classifier.load_classifier(path=path, epochs=2, n_train=3000, seed=course_seed(), verbose=False)
    return path


@pytest.fixture(scope="session")
def brief_classifier(brief_classifier_path):
    """That classifier, loaded (already far better than chance)."""
    return classifier.load_classifier(path=brief_classifier_path, verbose=False)


@pytest.fixture(scope="session")
def course_classifier():
    """The course's own scoring classifier, as cached by `make test` (which prepares it before the suite)."""
    path = data_dir() / classifier.CACHE_NAME
    if not path.exists():
        if is_quick():  # make test: the Makefile trains it first, so a missing cache is a bug
            pytest.fail(f"the scoring classifier is missing ({path}): `make test` should have trained it")
        pytest.skip(f"needs the course's scoring classifier ({path}): run `make test`, which trains it")
    return classifier.load_classifier(path=path, verbose=False)


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


@pytest.fixture(scope="session")
def reference(brief_classifier, mnist):
    """Test half B's digits and the fair floors, under the brief classifier, as 06, 08 and 09 score."""
    from helpers.scoring import real_digits

    (x_train, y_train), (x_test, y_test) = mnist
    return real_digits(brief_classifier, x_train, y_train, x_test, y_test, seed=0)


TRAINED_FIXTURES = {"brief_classifier", "brief_classifier_path", "course_classifier", "reference"}


def pytest_collection_modifyitems(items):
    """A test that needs a trained classifier is slow (the brief one trains for about 25 s): `make unit`
    leaves it out. Other slow tests carry @pytest.mark.slow themselves."""
    for item in items:
        if TRAINED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
