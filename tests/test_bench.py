"""The benchmark's machinery on a tiny run (the real figures come from `make bench`)."""

import json
import math

import pytest

from benchmarks import bench
from helpers.config import course_seed
from helpers.expect import expect
from helpers.targets import CGAN_GOALS
from helpers.training import History
from tools.course import ROOT, load_course_model

pytestmark = pytest.mark.bench  # the benchmarks' own tests: `make test-classroom`, not `make test`

# Least gain of the smoke run's single epoch over the untrained model (make margins measures the spread).
# Over 5 seeds: reference 175 to 210 nats (sd 13), course 256 to 313 (sd 24); untrained: about 0.
SMOKE_GAIN = {"reference": 100.0, "course": 150.0}


def test_course_model_is_loaded_from_the_notebook():
    namespace = load_course_model(bench.NOTEBOOK)
    for name in ("make_encoder", "make_decoder", "make_train_step", "make_evaluator", "iwae_estimate"):
        assert callable(namespace[name]), name
    encoder = namespace["make_encoder"](2)
    assert encoder.output_shape == (None, 4)


def test_missing_tag_is_an_error(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}}]}))
    with pytest.raises(ValueError, match="course-model"):
        load_course_model(notebook)


@pytest.mark.slow
def test_smoke_run_trains_both_models_and_writes_consistent_results(tmp_path):
    results = bench.run(smoke=True, seed=course_seed())
    bench.write(results, tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    for side in ("reference", "course"):
        gain = saved[side]["final_test_elbo"] - saved[side]["initial_test_elbo"]
        expect(f"bench smoke run, {side}: test ELBO gained by one epoch on 4,096 images (nats)", gain,
               above=SMOKE_GAIN[side])  # the training step trains
    assert math.isfinite(saved["course"]["iwae"]) and math.isfinite(saved["reference"]["iwae"])
    assert "| seconds per training epoch |" in (tmp_path / "results.md").read_text()


def test_the_committed_results_page_is_what_results_json_gives():
    """results.md is only ever written from results.json: nobody edits the tables by hand."""
    folder = ROOT / "benchmarks"
    results = json.loads((folder / "results.json").read_text())
    assert (folder / "results.md").read_text() == bench.RESULTS_HEADER + bench.markdown(results)
    for figure in (bench.CGAN_FIGURE, results["cgan"]["samples_figure"]):
        assert f"]({figure})" in (folder / "results.md").read_text() and (folder / figure).is_file()


def _fake_scores(accuracy, worst, frechet, sharpness, floor=1.2):
    return {"accuracy": accuracy, "worst_digit": worst, "per_class": [accuracy] * 10,
            "frechet": frechet, "frechet_train": floor, "frechet_ratio": frechet / floor,
            "precision": 0.7, "recall": 0.6, "precision_train": 0.8, "recall_train": 0.8,
            "sharpness": sharpness, "diversity": 0.9, "diversity_per_class": [0.9] * 10,
            "style_diversity": 0.7, "style_diversity_per_class": [0.7] * 10}


def test_conditional_scores_are_collected_and_tabulated(tmp_path):
    for name, scores in (("06_conditional_vae", _fake_scores(0.98, 0.95, 90.0, 0.44)),
                         ("08_cgan", _fake_scores(0.995, 0.5, 60.0, 0.93))):
        folder = tmp_path / name / "full"
        folder.mkdir(parents=True)
        (folder / "scores.json").write_text(json.dumps(scores))
    history = History(epochs=[{"epoch": e, "seconds": 40.0, "accuracy": 0.9} for e in (1, 2, 3)])
    (tmp_path / "08_cgan" / "full" / "training" / "a1b2c3").mkdir(parents=True)
    (tmp_path / "08_cgan" / "full" / "training" / "a1b2c3" / "history.json").write_text(history.to_json())

    collected = bench.collect_conditional(tmp_path, "full", {"cvae": 200.0, "cgan": 1000.0})
    assert collected["cgan"]["train_seconds"] == 120.0 and collected["cgan"]["epochs"] == 3
    assert list(collected["targets"].values()) == [True, False, False, True]  # 99.5%, 50%, 50x, 120 s
    assert list(collected["targets"]) == [
        f"cgan_accuracy_at_least_{CGAN_GOALS.accuracy:.0%}",
        f"cgan_every_digit_at_least_{CGAN_GOALS.worst_digit:.0%}",
        f"cgan_frechet_within_{CGAN_GOALS.frechet_ratio:g}x_fair_floor",
        f"cgan_training_within_{CGAN_GOALS.train_seconds / 60:g}_min"]
    table = bench.markdown({"conditional": {"mode": "full", **collected}})
    assert "| conditional accuracy | 98.00% | 99.50% |" in table
    assert "(75.0x)" in table and "(50.0x)" in table and "16.7 min" in table
    assert "| sharpness (x real digits) | 0.44x | 0.93x |" in table
    assert "| precision | 0.70 | 0.70 |" in table
    assert "| diversity in style space (x real digits) | 0.70x | 0.70x |" in table


def test_scores_of_the_last_make_execute_are_collected_with_its_times(tmp_path):
    for name in ("06_conditional_vae", "08_cgan"):
        (tmp_path / name / "full").mkdir(parents=True)
        (tmp_path / name / "full" / "scores.json").write_text(json.dumps(_fake_scores(0.99, 0.98, 3.0, 1.0)))
    history = History(epochs=[{"epoch": 1, "seconds": 300.0}])
    (tmp_path / "08_cgan" / "full" / "training" / "run").mkdir(parents=True)
    (tmp_path / "08_cgan" / "full" / "training" / "run" / "history.json").write_text(history.to_json())
    runs = {"06_conditional_vae": [{"seconds": 100.0}, {"seconds": 90.0}], "08_cgan": [{"seconds": 500.0}]}
    collected = bench.collect_executed({"full": runs}, tmp_path)
    assert collected["source"] == "make execute" and collected["cvae"]["notebook_seconds"] == 90.0
    assert collected["cgan"]["train_seconds"] == 300.0
    with pytest.raises(FileNotFoundError, match="run `make execute` first"):
        bench.collect_executed({"full": {"08_cgan": runs["08_cgan"]}}, tmp_path)


def test_missing_conditional_scores_say_which_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="06_conditional_vae"):
        bench.collect_conditional(tmp_path, "full", {"cvae": 1.0, "cgan": 1.0})
