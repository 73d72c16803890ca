"""`make execute` writes the measured running times where readers see them (the arithmetic and text only)."""

import pytest

from tools import execute
from tools.course import cell_source, notebook_names, notebook_path, read_notebook


def runs(*seconds):
    machine = {"cpu": "test CPU", "cores": 2}
    return [{"seconds": s, "date": "2026-11-26", "machine": machine} for s in seconds]


def test_minutes_give_a_range_only_when_runs_differ():
    assert execute.minutes(runs(240.0, 246.0)) == f"4.0{execute.DASH}4.1 min"
    assert execute.minutes(runs(240.0, 241.0)) == "4.0 min"
    assert execute.minutes([]) == "not measured yet"


def test_whole_minutes_for_the_readme_round_each_end_of_the_range():
    assert execute.minutes(runs(221.3), decimals=0) == "4 min"
    assert execute.minutes(runs(580.6, 861.6), decimals=0) == f"10{execute.DASH}14 min"
    assert execute.minutes(runs(276.2, 325.4), decimals=0) == "5 min"  # 4.6 and 5.4 both round to 5


def test_record_keeps_the_last_runs():
    kept = runs(*range(execute.KEEP))
    assert [r["seconds"] for r in execute.record(kept, 99.0)] == [*range(1, execute.KEEP), 99.0]


def test_every_notebook_has_a_running_time_line():
    timings = {"full": {n: runs(300.0) for n in notebook_names()},
               "quick": {n: runs(60.0, 90.0) for n in notebook_names()}, "classifier": runs(800.0)}
    for name in notebook_names():
        first = cell_source(read_notebook(notebook_path(name))["cells"][0])
        assert execute.TIME_LINE.search(first), name
        line = execute.time_line(name, timings)
        assert f"1.0{execute.DASH}1.5 min in quick mode, 5.0 min in full mode" in line
        assert ("13.3 min once" in line) == (name in execute.NEEDS_CLASSIFIER)
    unmeasured = {"full": {}, "quick": {}, "classifier": []}
    assert execute.time_line("08_cgan", unmeasured).startswith(
        "*Running time (measured, `make execute`):* not measured yet, "
        f"plus {execute.CLASSIFIER_ESTIMATE} once")
    assert f"**{5 * len(notebook_names()):.0f} min**" in execute.total_sentence(timings)


def test_the_running_time_line_names_the_cores_the_runs_had():
    four = [{**run, "machine": {"cpu": "test CPU", "cores": 4}} for run in runs(100.0)]
    timings = {"full": {"03_vae": four}, "quick": {"03_vae": runs(60.0)}, "classifier": []}
    assert execute.time_line("03_vae", timings).startswith("*Running time on 2 and 4 CPU cores (measured")
    assert execute.TIME_LINE.fullmatch(execute.time_line("03_vae", timings))


def test_the_timings_page_has_every_notebook_the_total_and_the_machines():
    names = notebook_names()
    timings = {"full": {n: runs(120.0) for n in names}, "quick": {n: runs(30.0, 45.0) for n in names},
               "classifier": [], "memory": {"full": {names[0]: [1536]}}}
    page = execute.timings_page(timings)
    for name in names:
        row = next(line for line in page.splitlines() if line.startswith(f"| [{name}]"))
        memory = "not measured yet / 1.5 GB" if name == names[0] else "not measured yet / not measured yet"
        assert row == (f"| [{name}](../notebooks/{name}.ipynb) | 0.5{execute.DASH}0.8 min | 2.0 min "
                       f"| {memory} |")
    assert f"**{2 * len(names)} min**" in page and "on test CPU, 2 cores." in page
    assert "classifier" in page and execute.CLASSIFIER_ESTIMATE in page
    assert execute.timings_page(timings) == page  # the same timings, the same page


def test_the_committed_timings_page_is_what_timings_json_gives():
    assert execute.TIMINGS_PAGE.read_text() == execute.timings_page(execute.load_timings()), (
        "benchmarks/timings.md is out of date: `python -m tools.execute --text-only` rewrites it")


def test_native_log_lines_are_dropped_and_real_warnings_kept():
    import nbformat

    noise = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
             "E0000 00:00:1795745919.278578    2812 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n"
             "I0000 00:00:1795747156.650654    5968 cpu_feature_guard.cc:227] This binary is optimized\n"
             "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with "
             "the appropriate compiler flags.\n")
    warning = "UserWarning: a real warning about your code\n"
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=noise),
                    nbformat.v4.new_output("stream", name="stdout", text="E0000 printed on stdout stays\n"),
                    nbformat.v4.new_output("stream", name="stderr", text=noise + warning)]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    execute.drop_native_log_lines(nb)
    assert [(o.name, o.text) for o in nb.cells[0].outputs] == [("stdout", "E0000 printed on stdout stays\n"),
                                                              ("stderr", warning)]


def test_unknown_notebooks_are_refused():
    with pytest.raises(SystemExit):
        execute.main(["--notebooks", "99_nope", "--text-only"])


def test_peak_memory_is_shown_and_a_notebook_over_binders_limit_must_say_what_to_lower(monkeypatch):
    timings = {"full": {"03_vae": runs(300.0, 310.0)}, "quick": {"03_vae": runs(60.0)}, "classifier": []}
    assert "Peak memory" not in execute.time_line("03_vae", timings)
    execute.record_memory(timings, "full", "03_vae", 1500)
    execute.record_memory(timings, "full", "03_vae", 1400)
    assert execute.gigabytes(execute.peak_memory(timings, "full", "03_vae")) == "1.5 GB"  # the largest
    assert ("*Peak memory (full mode):* 1.5 GB, within what Binder leaves a kernel (1.8 GB)"
            in execute.time_line("03_vae", timings))
    execute.record_memory(timings, "full", "03_vae", 1900)  # under Binder's 2 GB, but the server needs some
    monkeypatch.setattr(execute, "LOWER_MEMORY", {})
    with pytest.raises(ValueError, match="LOWER_MEMORY"):
        execute.time_line("03_vae", timings)
    execute.record_memory(timings, "full", "03_vae", 3000)
    monkeypatch.setattr(execute, "LOWER_MEMORY", {})
    with pytest.raises(ValueError, match="LOWER_MEMORY"):
        execute.time_line("03_vae", timings)
    monkeypatch.setattr(execute, "LOWER_MEMORY", {"03_vae": "set BATCH_SIZE = 64"})
    assert ("2.9 GB, more than Binder leaves a kernel (1.8 GB): set BATCH_SIZE = 64."
            in execute.time_line("03_vae", timings))


@pytest.mark.slow
def test_a_run_measures_the_kernels_peak_memory_and_leaves_no_trace(tmp_path):
    import nbformat

    path = tmp_path / "tiny.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = b\"x\" * (300 * 2**20)")])
    nbformat.write(nb, path)
    ballast = b"y" * (1536 * 2**20)  # a large parent: its memory must not count as the kernel's
    seconds, peak_mib = execute.run_notebook(path, quick=True, output_root=tmp_path, save=True)
    del ballast
    assert 300 < peak_mib < 1200 and seconds > 0  # the 300 MB it allocated, and a bare kernel
    saved = nbformat.read(path, as_version=4)
    assert [c.source for c in saved.cells] == ["x = b\"x\" * (300 * 2**20)"]  # the probe cell is gone
