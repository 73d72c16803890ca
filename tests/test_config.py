import numpy as np
import pytest

from helpers import config


@pytest.mark.parametrize(
    ("value", "quick"), [("", False), ("0", False), ("1", True), ("true", True)]
)
def test_quick_mode_follows_the_environment(monkeypatch, value, quick):
    monkeypatch.setenv("COURSE_QUICK", value)
    assert config.is_quick() is quick
    assert config.by_mode(quick="q", full="f") == ("q" if quick else "f")


def test_quick_mode_unset_means_full(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    assert config.is_quick() is False


def test_quick_mode_rejects_garbage(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="COURSE_QUICK must be 0 or 1"):
        config.is_quick()


def test_seed_everything_makes_numpy_and_tensorflow_repeatable():
    import tensorflow as tf

    def draw():
        return np.random.rand(3), tf.random.uniform((3,)).numpy()  # noqa: NPY002 (global RNG)

    config.seed_everything(123)
    first = draw()
    config.seed_everything(123)
    second = draw()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        config.seed_everything(seed)


def test_output_dir_is_created_under_the_override(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    path = config.output_dir("nb01", "frames")
    assert path == tmp_path / "out" / "nb01" / "frames"
    assert path.is_dir()


def test_output_dir_defaults_to_the_checkout(monkeypatch):
    monkeypatch.delenv("COURSE_OUTPUT_DIR", raising=False)
    assert config.output_dir() == config.project_root() / "outputs"


@pytest.mark.parametrize("part", ["../escape", "/abs", ""])
def test_output_dir_refuses_paths_that_leave_it(part):
    with pytest.raises(ValueError, match="plain relative names"):
        config.output_dir(part)


def test_the_run_seed_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("COURSE_SEED", raising=False)
    assert config.course_seed() == 42
    monkeypatch.setenv("COURSE_SEED", "7")
    assert config.course_seed() == 7
    assert config.seed_everything(deterministic_ops=False) == 7
    first = np.random.rand(2)  # noqa: NPY002 (the global RNG that seed_everything seeds)
    config.seed_everything(7, deterministic_ops=False)
    np.testing.assert_array_equal(np.random.rand(2), first)  # noqa: NPY002
    monkeypatch.setenv("COURSE_SEED", "seven")
    with pytest.raises(ValueError, match="COURSE_SEED must be a non-negative integer"):
        config.course_seed()
