"""The benchmark's machinery on a tiny run (the real figures come from `make bench`)."""

import json
import math

import pytest

from benchmarks import bench


def test_course_model_is_loaded_from_the_notebook():
    namespace = bench.load_course_model()
    for name in ("make_encoder", "make_decoder", "make_train_step", "make_evaluator", "iwae_estimate"):
        assert callable(namespace[name]), name
    encoder = namespace["make_encoder"](2)
    assert encoder.output_shape == (None, 4)


def test_missing_tag_is_an_error(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}}]}))
    with pytest.raises(ValueError, match="course-model"):
        bench.load_course_model(notebook)


def test_smoke_run_writes_consistent_results(tmp_path):
    results = bench.run(smoke=True)
    bench.write(results, tmp_path, readme=None)
    saved = json.loads((tmp_path / "results.json").read_text())
    for side in ("reference", "course"):
        assert saved[side]["seconds_per_epoch"] > 0
        assert -600 < saved[side]["final_test_elbo"] < 0
        assert math.isfinite(saved[side]["iwae"])
    assert saved["machine"]["cores"] >= 1
    assert "| seconds per training epoch |" in (tmp_path / "results.md").read_text()
