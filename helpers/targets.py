"""Targets that more than one place checks: a notebook's full-mode asserts and the benchmark's table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GeneratorTargets:
    """What a conditional generator must reach in full mode, scored by helpers.scoring."""

    accuracy: float  # share of samples classified as the digit they were asked to show
    worst_digit: float  # that share for the worst digit
    frechet_ratio: float  # Fréchet distance to test digits, as a multiple of the fair floor (helpers.scoring)
    train_seconds: float | None = None  # training time on 2 CPU cores, where it is a target
    precision_recall_gap: float | None = None  # how far below the real digits' own they may be, if a target


# Notebook 08 asserts these after a full run: a model that misses them did not learn.
CGAN = GeneratorTargets(accuracy=0.97, worst_digit=0.90, frechet_ratio=8.0)
# The goals the CGAN benchmark reports as met or not (make bench), stricter than the asserts.
CGAN_GOALS = GeneratorTargets(accuracy=0.99, worst_digit=0.97, frechet_ratio=2.0, train_seconds=600.0,
                              precision_recall_gap=0.05)
CONV_VAE_TEST_ELBO = -150.0  # notebook 05, full mode: the least test ELBO (nats per image)
