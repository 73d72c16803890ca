"""The VAE's maths as notebook 03 writes it (the KL's closed form is derived in notebook 04).

Notebooks 04-06 import these instead of copying them. tests/test_vae.py checks that this code and
notebook 03's cells stay the same, statement for statement.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["Sampling", "kl_to_standard_normal", "reconstruction_nats"]


class Sampling(keras.layers.Layer):
    """Draws z = mean + sigma * eps with eps ~ N(0, I): a sample of q(z|x) that gradients flow through."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, mean, log_var):
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps


def reconstruction_nats(x, logits):
    """-log p(x|z) per image, (N, 784) or (N, 28, 28, 1): the Bernoulli negative log-likelihood, summed."""
    nats = ops.binary_crossentropy(x, logits, from_logits=True)  # one value per pixel
    return ops.sum(ops.reshape(nats, (ops.shape(nats)[0], -1)), axis=-1)  # any image shape


def kl_to_standard_normal(mean, log_var):
    """Closed-form KL( N(mean, diag exp(log_var)) || N(0, I) ) per row, summed over the last axis."""
    return 0.5 * ops.sum(ops.square(mean) + ops.exp(log_var) - log_var - 1.0, axis=-1)
