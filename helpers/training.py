"""The bookkeeping of a custom training loop: epochs, checkpoints, resuming, a progress bar, a history.

The notebooks write the training step (the GradientTape update a student must read); this module
only runs it over the data, epoch after epoch:

    training = ResumableTraining(OUT / "training", config={"batch_size": 128},
                                 encoder=encoder, decoder=decoder, optimizer=optimizer)
    history = training.run(train_step, train_ds, epochs=15, after_epoch=evaluate)

After every epoch the history is written, then a checkpoint; a rerun resumes after the last
completed epoch. Checkpoints live in a folder named after the configuration and the models' weight
shapes, so a rerun with another batch size or another layer width starts afresh instead of resuming
a checkpoint that does not fit.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from helpers.config import display_path
from helpers.progress import Progress

HISTORY_FILE = "history.json"
CHECKPOINTS = "checkpoints"
RESERVED = ("epoch", "seconds")  # columns the loop itself writes in every row


@dataclass
class History:
    """What training recorded: one row per epoch, and one row every `log_every` steps (the curves)."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    steps: list[dict[str, float]] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        """The per-epoch values of one quantity: history["test_elbo"]."""
        if not self.epochs or key not in self.epochs[0]:
            known = sorted(self.epochs[0]) if self.epochs else []
            raise KeyError(f"no per-epoch value {key!r} in the history (it has {known})")
        return [row[key] for row in self.epochs]

    def curve(self, key: str) -> tuple[list[float], list[float]]:
        """(epochs, values) of a per-step quantity, x in fractional epochs: for plotting the curves."""
        if not self.steps or key not in self.steps[0]:
            raise KeyError(f"no per-step value {key!r} in the history")
        return [row["epoch"] for row in self.steps], [row[key] for row in self.steps]

    @property
    def train_seconds(self) -> float:
        """Total training time over the recorded epochs (evaluation and figures excluded)."""
        return float(sum(row["seconds"] for row in self.epochs))

    def to_json(self) -> str:
        """The history as JSON text."""
        return json.dumps({"epochs": self.epochs, "steps": self.steps})

    @classmethod
    def from_json(cls, text: str) -> History:
        """The history saved by to_json."""
        data = json.loads(text)
        return cls(epochs=list(data["epochs"]), steps=list(data["steps"]))


def _floats(output: Any, what: str) -> dict[str, float]:
    """A step's (or a callback's) output as named floats: a scalar loss becomes {"loss": value}."""
    values = {str(k): float(v) for k, v in output.items()} if isinstance(output, Mapping) else {
        "loss": float(output)}
    if clash := [k for k in values if k in RESERVED]:
        raise ValueError(f"{what} returned {clash}: those names are the history's own columns")
    return values


def configuration_key(config: Mapping[str, Any], trackables: Mapping[str, Any]) -> str:
    """A short digest of the configuration and of the models' weight shapes, to name a checkpoint folder."""
    models = {name: obj for name, obj in sorted(trackables.items()) if hasattr(obj, "layers")}
    shapes = {name: [list(map(int, w.shape)) for w in model.weights] for name, model in models.items()}
    text = json.dumps({"config": dict(config), "shapes": shapes}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


class ResumableTraining:
    """Runs a training step over a dataset for a number of epochs, with checkpoints to resume from.

    `folder=None` keeps nothing on disk (no checkpoints, no resuming): for benchmarks and tests.
    """

    def __init__(self, folder: str | Path | None, *, config: Mapping[str, Any] | None = None,
                 fresh_start: bool = False, verbose: bool = True, **trackables: Any) -> None:
        import tensorflow as tf

        if folder is not None and not trackables:
            raise ValueError("name what to checkpoint: ResumableTraining(folder, model=model, optimizer=...)")
        self.config = dict(config or {})
        self.verbose = verbose
        self.epoch_counter = tf.Variable(0, dtype=tf.int64, name="epochs_done", trainable=False)
        self.history = History()
        self.train_seconds = 0.0  # training time so far in this run (callbacks excluded), live during run()
        self.folder = self.manager = None
        if folder is None:
            return
        self.folder = Path(folder) / configuration_key(self.config, trackables)
        if fresh_start and self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "config.json").write_text(json.dumps(self.config, indent=1, default=str))
        checkpoint = tf.train.Checkpoint(**trackables, epochs_done=self.epoch_counter)
        self.manager = tf.train.CheckpointManager(checkpoint, self.folder / CHECKPOINTS, max_to_keep=2)
        if self.manager.latest_checkpoint:
            checkpoint.restore(self.manager.latest_checkpoint)
            done = self.epochs_done
            saved = History.from_json((self.folder / HISTORY_FILE).read_text())
            # The history is written before the checkpoint: it may hold one epoch more.
            self.history = History(epochs=[r for r in saved.epochs if r["epoch"] <= done],
                                   steps=[r for r in saved.steps if r["epoch"] <= done])
            if verbose:
                print(f"Resuming after epoch {done} from {display_path(self.folder)} "
                      "(FRESH_START = True starts over)")

    @property
    def epochs_done(self) -> int:
        """Completed epochs (restored from the checkpoint when resuming)."""
        return int(self.epoch_counter.numpy())

    def run(
        self,
        step: Callable[..., Any],
        dataset: Iterable[Any],
        *,
        epochs: int,
        steps_per_epoch: int | None = None,
        after_epoch: Callable[[int], Mapping[str, float] | None] | None = None,
        after_step: Callable[[int, int], None] | None = None,
        log_every: int | None = None,
    ) -> History:
        """Train until `epochs` epochs are done; return the history.

        step(batch) (or step(*batch) for a tuple batch) returns a loss or a dict of named scalars.
        after_step(epoch, step) runs after every step, after_epoch(epoch) after every epoch, and the
        values it returns join that epoch's row. Their time does not count as training time.
        """
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        if log_every is not None and log_every < 1:
            raise ValueError(f"log_every must be >= 1 or None, got {log_every}")
        if steps_per_epoch is None:
            try:
                steps_per_epoch = len(dataset)  # type: ignore[arg-type]
            except TypeError:  # e.g. a tf.data pipeline of unknown length
                raise ValueError("this dataset has no known length: pass steps_per_epoch=") from None
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        while self.epochs_done < epochs:
            epoch = self.epochs_done + 1
            row = self._train_epoch(step, dataset, epoch, epochs, steps_per_epoch, after_step, log_every)
            if after_epoch is not None:
                extra = _floats(after_epoch(epoch) or {}, "after_epoch")
                if clash := [k for k in extra if k in row]:
                    raise ValueError(f"after_epoch returned {clash}, which the training step also returns")
                row.update(extra)
            self.history.epochs.append(row)
            if self.verbose:
                print(", ".join([f"epoch {epoch}: {row['seconds']:.1f} s"]
                                + [f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "seconds")]))
            self.epoch_counter.assign(epoch)
            if self.manager is not None:
                self._write_history()  # first the history,
                self.manager.save()  # then the checkpoint
        return self.history

    def _write_history(self) -> None:
        path = self.folder / HISTORY_FILE
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(self.history.to_json())
        os.replace(partial, path)  # atomic: a crash never leaves half a history

    def _train_epoch(self, step, dataset, epoch, epochs, steps_per_epoch, after_step, log_every) -> dict:
        batches = itertools.islice(dataset, steps_per_epoch)  # an epoch is steps_per_epoch steps
        bar = Progress(batches, total=steps_per_epoch, desc=f"epoch {epoch}/{epochs}")
        sums: dict[str, float] = {}
        window: list[dict[str, float]] = []
        trained_before, excluded, start, n = self.train_seconds, 0.0, time.perf_counter(), 0
        for n, batch in enumerate(bar, start=1):
            values = _floats(step(*batch) if isinstance(batch, tuple) else step(batch), "the training step")
            paused = time.perf_counter()
            self.train_seconds = trained_before + (paused - start - excluded)  # up to date for after_step
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            window.append(values)
            if len(window) == (log_every or 50):
                means = {k: float(np.mean([w[k] for w in window])) for k in values}
                bar.set_metrics(**means)
                if log_every is not None:
                    self.history.steps.append({"epoch": epoch - 1 + n / steps_per_epoch, **means})
                window = []
            if after_step is not None:
                after_step(epoch, n)
            excluded += time.perf_counter() - paused
        if n != steps_per_epoch:
            raise ValueError(f"the dataset yielded {n} batches in epoch {epoch}, "
                             f"fewer than steps_per_epoch={steps_per_epoch}")
        seconds = time.perf_counter() - start - excluded
        self.train_seconds = trained_before + seconds
        return {"epoch": epoch, "seconds": seconds, **{k: v / n for k, v in sums.items()}}
