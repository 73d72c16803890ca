"""`expect`: the notebooks' and tests' checks of a measured number against a bound, logged for `make margins`.

A failed check raises AssertionError naming the quantity, its value and the bound. When $COURSE_CHECK_LOG
names a file, every check (passed or not) is appended to it as one JSON line, so that `make margins` can
run the notebooks and tests under several seeds and tabulate how far each value stays from its bound.
"""

from __future__ import annotations

import json
import math

from helpers.config import check_log_path, course_seed, is_quick


def expect(name: str, value: float, *, above: float | None = None, below: float | None = None) -> None:
    """Assert above < value < below (either bound may be omitted).

    It returns nothing, so that a notebook cell ending with a check shows no stray number.
    """
    if above is None and below is None:
        raise ValueError(f"{name}: give a bound, above= or below=")
    value = float(value)
    _log(name, value, above, below)
    wanted = " and ".join(f"{side} {bound:.6g}" for side, bound in (("above", above), ("below", below))
                          if bound is not None)
    if not math.isfinite(value):
        raise AssertionError(f"{name} is {value}, not a finite number (expected {wanted})")
    if (above is not None and not value > above) or (below is not None and not value < below):
        raise AssertionError(f"{name} = {value:.6g}, expected {wanted}")


def _log(name: str, value: float, above: float | None, below: float | None) -> None:
    path = check_log_path()
    if path is None:
        return
    record = {"check": name, "value": value, "above": above, "below": below,
              "mode": "quick" if is_quick() else "full", "seed": course_seed()}
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
