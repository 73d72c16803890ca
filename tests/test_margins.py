"""The margins table's arithmetic (`make margins` runs the real thing, under several seeds)."""

import math

from tools import margins
from tools.course import ROOT


def _records(name, values, above=None, below=None):
    return [{"check": name, "value": v, "above": above, "below": below, "mode": "quick", "seed": s}
            for s, v in enumerate(values, start=1)]


def test_rows_give_worst_value_spread_and_margin_ratio():
    rows = margins.summarise(_records("close", [1.1, 1.2, 1.3], above=1.0)
                             + _records("far", [0.1, 0.2, 0.3], below=5.0)
                             + _records("two-sided", [0.5, 0.6, 0.4], above=0.0, below=0.7))
    by_name = {row["check"]: row for row in rows}
    close = by_name["close"]
    assert close["worst"] == 1.1 and math.isclose(close["margin"], 0.1)
    assert math.isclose(close["spread"], 0.1) and math.isclose(close["ratio"], 1.0) and not close["ok"]
    assert by_name["far"]["worst"] == 0.3 and by_name["far"]["ok"]
    assert by_name["two-sided"]["worst"] == 0.6 and math.isclose(by_name["two-sided"]["margin"], 0.1)
    assert rows[-1]["check"] == "far"  # weakest first, the safest last


def test_a_check_that_never_varies_has_infinite_ratio_and_the_table_says_so():
    rows = margins.summarise(_records("fixed", [0.995] * 5, above=0.99))
    assert rows[0]["ratio"] == math.inf and rows[0]["ok"]
    table = margins.markdown(rows, [1, 2, 3, 4, 5], 1.0)
    assert "| fixed | > 0.99 | 0.995 |" in table and "same every seed" in table


def test_a_failed_check_has_a_negative_margin():
    rows = margins.summarise(_records("failed", [0.5, 1.5], above=1.0))
    assert rows[0]["margin"] == -0.5 and not rows[0]["ok"]
    assert "not ok: failed" in margins.markdown(rows, [1, 2], 1.0)
    close = margins.summarise(_records("close", [1.1, 1.2, 1.3], above=1.0))
    assert "not ok: under 3 spreads" in margins.markdown(close, [1, 2, 3], 1.0)
    missed = margins.summarise(_records("ran once", [2.0], above=1.0), n_seeds=5)
    assert "not ok: ran under 1 of 5 seeds" in margins.markdown(missed, [1, 2, 3, 4, 5], 1.0)


def test_a_check_that_fails_the_same_every_seed_or_misses_seeds_is_not_ok():
    assert not margins.summarise(_records("always failed", [0.5] * 5, above=1.0))[0]["ok"]
    assert not margins.summarise(_records("nan", [float("nan")] * 5, above=1.0))[0]["ok"]
    assert not margins.summarise(_records("ran once", [2.0], above=1.0), n_seeds=5)[0]["ok"]
    assert margins.summarise(_records("ran five times", [2.0] * 5, above=1.0), n_seeds=5)[0]["ok"]
    twice_a_seed = _records("parametrized", [2.0] * 5, above=1.0) * 2  # logged by two cases of one test
    assert margins.summarise(twice_a_seed, n_seeds=5)[0]["ok"]
    assert not margins.summarise(_records("ten runs, seeds 1-10", [2.0] * 10, above=1.0), n_seeds=5)[0]["ok"]


def test_bars_in_a_name_do_not_split_the_table():
    table = margins.markdown(margins.summarise(_records("|a - b|", [0.1, 0.2], below=5.0)), [1, 2], 1.0)
    assert "| \\|a - b\\| | < 5 |" in table


def test_remeasured_rows_replace_only_that_notebooks_rows():
    previous = {"seeds": [1, 2], "minutes": 50.0, "pytest_exit_codes": {}, "rows": margins.summarise(
        _records("08 old check", [0.1, 0.2], above=0.0) + _records("06 kept", [1.0, 1.1], above=0.0))}
    new = {"seeds": [1, 2], "minutes": 9.0, "pytest_exit_codes": {1: 0, 2: 0},
           "rows": margins.summarise(_records("08 new check", [0.8, 0.9], above=0.6))}
    merged, note = margins.merge_remeasured(previous, new, ["notebooks/08_cgan"])
    assert sorted(row["check"] for row in merged["rows"]) == ["06 kept", "08 new check"]
    assert merged["minutes"] == 50.0 and "08_cgan were re-measured afterwards" in note and "9 min" in note


def test_remeasured_unit_tests_replace_only_the_unit_tests_rows():
    previous = {"seeds": [1, 2], "minutes": 50.0, "pytest_exit_codes": {}, "rows": margins.summarise(
        _records("k-NN accuracy", [0.9, 0.95], above=0.5) + _records("05 kept", [1.0, 1.1], above=0.0)),
        "remeasured": [{"notebooks": ["08_cgan"], "seeds": [1, 2], "minutes": 14.0, "pytest_exit_codes": {},
                        "note": "then a bound moved from > 1 to > 2"}]}
    new = {"seeds": [1, 2], "minutes": 3.0, "pytest_exit_codes": {1: 0, 2: 0},
           "rows": margins.summarise(_records("precision", [0.8, 0.9], above=0.6))}
    merged, note = margins.merge_remeasured(previous, new, ["tests"])
    assert sorted(row["check"] for row in merged["rows"]) == ["05 kept", "precision"]
    assert "08_cgan were re-measured" in note and "the unit tests were re-measured" in note
    assert "(seeds 1, 2, 14 min); then a bound moved from > 1 to > 2." in note  # a note added by hand
    assert not margins.is_notebook_check("10-fold k-NN") and margins.is_notebook_check("10 new notebook")


def test_every_test_file_that_calls_expect_is_measured():
    measured = margins.statistical_tests()
    assert "tests/test_checks_can_fail.py" in measured and "tests/test_bench.py" in measured
    assert "tests/test_margins.py" not in measured  # it names expect only in this sentence
    assert margins.calls_expect("from helpers.expect import expect\nexpect('x', 1.0, above=0.0)")
    assert not margins.calls_expect("# expect('x', 1.0, above=0.0)\ntext = 'expect(x)'")


def test_what_runs_under_each_seed():
    tests = margins.statistical_tests()
    assert margins.pytest_targets("all") == [*tests, "notebooks"]
    assert margins.pytest_targets("notebooks") == ["notebooks"]
    assert margins.pytest_targets("tests", ["08_cgan"]) == [*tests, "notebooks/08_cgan.ipynb"]
    assert margins.pytest_targets("all", ["08_cgan"]) == ["notebooks/08_cgan.ipynb"]


def test_the_notebooks_run_with_make_tests_nbval_flags_everywhere():
    """The Makefile's NBVAL is the one list: margins and the Colab-like run read it."""
    flags = margins.nbval_flags()
    assert "--nbval-lax" in flags and any(flag.startswith("--nbval-cell-timeout=") for flag in flags)
    assert "$(NBVAL)" in (ROOT / "Makefile").read_text()
    colab = (ROOT / "tests" / "colab" / "run.sh").read_text()
    assert "s/^NBVAL := //p" in colab and "--nbval-" not in colab
