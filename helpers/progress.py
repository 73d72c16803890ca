"""A one-line text progress bar that updates in place in Jupyter and saves cleanly in notebooks.

It redraws a single text output through IPython's display_id, so a live notebook shows it moving,
and a notebook executed by nbconvert/nbval stores only its final state: no widget, no carriage
returns, no wall of lines. Outside IPython it prints the final line once.

`Progress` wraps an iterable (custom training loops); `ProgressBar` is the same bar as a Keras
callback for `fit(..., verbose=0, callbacks=[ProgressBar()])`: one line per epoch, ending with the
epoch's training and validation metrics.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import keras


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def format_bar(done: int, total: int, *, desc: str = "", width: int = 24,
               elapsed: float = 0.0, metrics: dict[str, float] | None = None) -> str:
    """The text of the bar, e.g. 'epoch 3/10 |██████······| 120/469 4.1s loss=151.2'."""
    if total < 1 or not 0 <= done <= total:
        raise ValueError(f"need 0 <= done <= total and total >= 1, got done={done}, total={total}")
    filled = round(width * done / total)
    text = f"{desc} |{'█' * filled}{'·' * (width - filled)}| {done}/{total} {elapsed:.1f}s"
    if metrics:
        text += " " + " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
    return text.strip()


class LiveLine:
    """One line of text that redraws in place in IPython (print once, at the end, elsewhere)."""

    def __init__(self) -> None:
        self._handle = None

    def draw(self, text: str, *, final: bool = False) -> None:
        """Show `text`, replacing what this line showed before."""
        if _in_ipython():
            from IPython.display import Pretty, display

            if self._handle is None:
                self._handle = display(Pretty(text), display_id=True)
            else:
                self._handle.update(Pretty(text))
        elif final:
            print(text, flush=True)


class Progress:
    """Iterate with a progress bar: `for x in (bar := Progress(ds, total=n)): ...`."""

    def __init__(self, iterable: Iterable[Any], *, total: int | None = None, desc: str = "",
                 min_interval: float = 0.5) -> None:
        if total is None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                raise ValueError("pass total= for an iterable without len()") from None
        if total < 1:
            raise ValueError(f"total must be >= 1, got {total}")
        self.iterable, self.total, self.desc = iterable, int(total), desc
        self.min_interval = min_interval
        self.metrics: dict[str, float] = {}
        self.done = 0
        self._start = self._last = 0.0
        self._line = LiveLine()

    def set_metrics(self, **metrics: float) -> None:
        """Values shown after the bar (shown at the next redraw)."""
        self.metrics.update({k: float(v) for k, v in metrics.items()})

    @property
    def text(self) -> str:
        """The bar as it would be drawn now."""
        elapsed = time.perf_counter() - self._start if self._start else 0.0
        return format_bar(min(self.done, self.total), self.total, desc=self.desc,
                          elapsed=elapsed, metrics=self.metrics)

    def _draw(self, final: bool = False) -> None:
        self._line.draw(self.text, final=final)

    def __iter__(self) -> Iterator[Any]:
        self._start = self._last = time.perf_counter()
        self._draw()
        for item in self.iterable:
            yield item
            self.done += 1
            now = time.perf_counter()
            if now - self._last >= self.min_interval:
                self._last = now
                self._draw()
        self._draw(final=True)


class ProgressBar(keras.callbacks.Callback):
    """Keras callback: a one-line bar per epoch with its metrics; use with fit(verbose=0)."""

    def __init__(self, min_interval: float = 0.5) -> None:
        super().__init__()
        self.min_interval = min_interval
        self.lines: list[str] = []  # the final line of every epoch, for inspection

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epochs = self.params.get("epochs") or 1
        self.steps = self.params.get("steps")

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.line, self.done = LiveLine(), 0
        self.desc = f"epoch {epoch + 1}/{self.epochs}"
        self.start = self.last = time.perf_counter()

    def _text(self, logs: dict | None) -> str:
        total = self.steps or max(self.done, 1)
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        return format_bar(min(self.done, total), total, desc=self.desc,
                          elapsed=time.perf_counter() - self.start, metrics=metrics)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.done = batch + 1
        now = time.perf_counter()
        if now - self.last >= self.min_interval:
            self.last = now
            self.line.draw(self._text(logs))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        text = self._text(logs)
        self.lines.append(text)
        self.line.draw(text, final=True)
