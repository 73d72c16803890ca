"""Targets that more than one place checks: a notebook's full-mode asserts and the benchmark's table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GeneratorTargets:
    """What a conditional generator must reach in full mode, scored by helpers.classifier."""

    accuracy: float  # share of samples classified as the digit they were asked to show
    worst_digit: float  # that share for the worst digit
    frechet_ratio: float  # Fréchet distance to real digits, as a multiple of the real-vs-real floor


CGAN = GeneratorTargets(accuracy=0.97, worst_digit=0.90, frechet_ratio=10.0)  # notebook 07
CONV_VAE_TEST_ELBO = -150.0  # notebook 05, full mode: the least test ELBO (nats per image)
