from pathlib import Path

import numpy as np
import pytest

from helpers import config


@pytest.mark.parametrize(
    ("value", "quick"), [("", False), ("0", False), ("1", True), ("true", True)]
)
def test_quick_mode_follows_the_environment(monkeypatch, value, quick):
    monkeypatch.setenv("COURSE_QUICK", value)
    assert config.is_quick() is quick
    assert config.run_context("nb").by_mode(quick="q", full="f") == ("q" if quick else "f")


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

    config.seed_everything(123, deterministic_ops=False)
    first = draw()
    config.seed_everything(123, deterministic_ops=False)
    second = draw()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        config.seed_everything(seed, deterministic_ops=False)


def test_output_path_is_looked_up_under_the_override_and_not_created(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    path = config.output_path("nb01", "frames")
    assert path == tmp_path / "out" / "nb01" / "frames"
    assert not (tmp_path / "out").exists()  # a lookup has no side effects


def test_run_context_reads_mode_seed_and_folder_without_side_effects(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_SEED", "5")
    state = np.random.get_state()  # noqa: NPY002
    run = config.run_context("05_conv_vae")
    assert (run.mode, run.seed, run.quick) == ("quick", 5, True)
    assert run.by_mode(quick="q", full="f") == "q"
    assert run.out == tmp_path / "05_conv_vae" / "quick" and not run.out.exists()
    np.testing.assert_array_equal(np.random.get_state()[1], state[1])  # noqa: NPY002 (nothing reseeded)
    assert run.make_output_dir().is_dir()
    assert "quick mode, seed 5" in str(run)
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert config.run_context("05_conv_vae").out == tmp_path / "05_conv_vae" / "full"
    with pytest.raises(ValueError, match="plain relative names"):
        config.run_context("../elsewhere")


def test_deterministic_ops_are_scoped_to_the_block():
    from tensorflow.python.framework import config as tf_config

    before = tf_config.is_op_determinism_enabled()
    with config.deterministic_ops():
        assert tf_config.is_op_determinism_enabled()
    assert tf_config.is_op_determinism_enabled() == before


def test_mnist_source_is_checked(monkeypatch):
    monkeypatch.delenv("COURSE_MNIST_SOURCE", raising=False)
    assert config.mnist_source() == "any"
    monkeypatch.setenv("COURSE_MNIST_SOURCE", "Registry")
    assert config.mnist_source() == "registry"
    monkeypatch.setenv("COURSE_MNIST_SOURCE", "internet")
    with pytest.raises(ValueError, match="COURSE_MNIST_SOURCE"):
        config.mnist_source()


def test_output_path_defaults_to_the_checkout(monkeypatch):
    monkeypatch.delenv("COURSE_OUTPUT_DIR", raising=False)
    assert config.output_path() == config.project_root() / "outputs"


@pytest.mark.parametrize("part", ["../escape", "/abs", ""])
def test_output_path_refuses_paths_that_leave_it(part):
    with pytest.raises(ValueError, match="plain relative names"):
        config.output_path(part)


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


def test_another_notebooks_context_shares_mode_and_seed(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_QUICK", "1")
    other = config.run_context("08_cgan").of("06_conditional_vae")
    assert other.out == tmp_path / "06_conditional_vae" / "quick" and not other.out.exists()
    assert other.seed == config.course_seed()


def test_display_path_is_relative_inside_the_checkout(tmp_path):
    from helpers.config import display_path, project_root

    inside = project_root() / "outputs" / "x" / "y.gif"
    assert display_path(inside) == str(Path("outputs") / "x" / "y.gif")
    assert display_path(tmp_path / "z.gif") == str(tmp_path / "z.gif")  # outside: unchanged
