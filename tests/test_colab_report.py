"""The Colab set-up cell's report reads pip's output: what changed, and whether a restart is needed."""

import pytest

from helpers import colab

FIRST_INSTALL = """\
Collecting git+https://github.com/ae-to-cgan/course.git
Requirement already satisfied: tensorflow>=2.18 in /usr/local/lib/python3.13/dist-packages (2.20.0)
Successfully installed ae-to-cgan-course-0.1.0
"""
REPLACED = """\
  Attempting uninstall: numpy
    Found existing installation: numpy 2.1.3
    Uninstalling numpy-2.1.3:
      Successfully uninstalled numpy-2.1.3
Successfully installed ae-to-cgan-course-0.1.0 numpy-2.3.0
"""


def test_a_first_install_needs_no_restart(capsys):
    assert colab.pip_changes(FIRST_INSTALL) == {"ae-to-cgan-course": (None, "0.1.0")}
    colab.report_install(FIRST_INSTALL)
    out = capsys.readouterr().out
    assert "ae-to-cgan-course (new) -> 0.1.0" in out and "no restart needed" in out


def test_a_replaced_package_asks_for_a_restart(capsys):
    assert colab.pip_changes(REPLACED)["numpy"] == ("2.1.3", "2.3.0")
    colab.report_install(REPLACED)
    assert "numpy 2.1.3 -> 2.3.0" in capsys.readouterr().out.split("\n")[0]
    colab.report_install(REPLACED)
    assert "restart the session" in capsys.readouterr().out


def test_nothing_installed_is_said_plainly(capsys):
    colab.report_install("Requirement already satisfied: ae-to-cgan-course in ./site-packages (0.1.0)\n")
    assert capsys.readouterr().out.startswith("pip installed: nothing")


def test_bad_input_is_refused_clearly():
    with pytest.raises(TypeError, match="pip's standard output as a string"):
        colab.pip_changes(None)
