"""The instructor's and the maintainer's tools, one module per job: run from a checkout, never installed.

Students install only `helpers`, what the notebooks import. The tools build from the notebooks, rewrite
them or measure them, reading them through `tools.course`, and are run with `python -m tools.<name>`
through the Makefile. ARCHITECTURE.md lists the modules and what each may import.
"""
