"""Maintainer tools (badges, student copies, grading, the book, slides): run from a checkout, not installed.

Students install only `helpers`, what the notebooks import. Everything here rewrites or builds from
the notebooks and is run with `python -m tools.<name>` through the Makefile.
"""
