"""The TensorFlow "Convolutional Variational Autoencoder" tutorial's configuration, re-implemented.

Binarized MNIST (threshold 0.5), batch 32, Adam 1e-4, 10 epochs, latent size 2, and the tutorial's
networks: Conv2D(32, 3, s2) -> Conv2D(64, 3, s2) -> Flatten -> Dense(2 * latent) for the encoder;
Dense(7*7*32) -> Reshape -> Conv2DTranspose(64, 3, s2) -> Conv2DTranspose(32, 3, s2) ->
Conv2DTranspose(1, 3, s1) logits for the decoder. The loss is the single-sample Monte Carlo ELBO
log p(x|z) + log p(z) - log q(z|x), and the training step is a plain tf.function (no XLA).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

BATCH_SIZE = 32
LEARNING_RATE = 1e-4
EPOCHS = 10
LATENT_DIM = 2


def make_encoder(latent_dim: int = LATENT_DIM) -> keras.Model:
    """The tutorial's inference network: image -> [mean, log-variance]."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
            keras.layers.Conv2D(64, 3, strides=2, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(2 * latent_dim),
        ],
        name="reference_encoder",
    )


def make_decoder(latent_dim: int = LATENT_DIM) -> keras.Model:
    """The tutorial's generative network: z -> Bernoulli logits (28, 28, 1)."""
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            keras.layers.Dense(7 * 7 * 32, activation="relu"),
            keras.layers.Reshape((7, 7, 32)),
            keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same"),
        ],
        name="reference_decoder",
    )


def _log_normal_pdf(sample, mean, logvar):
    log2pi = tf.math.log(2.0 * np.pi)
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + log2pi), axis=1)


def compute_loss(encoder: keras.Model, decoder: keras.Model, x: tf.Tensor) -> tf.Tensor:
    """Negative single-sample ELBO, averaged over the batch, as in the tutorial."""
    mean, logvar = tf.split(encoder(x), num_or_size_splits=2, axis=1)
    z = tf.random.normal(shape=tf.shape(mean)) * tf.exp(logvar * 0.5) + mean
    x_logit = decoder(z)
    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
    logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
    logpz = _log_normal_pdf(z, 0.0, 0.0)
    logqz_x = _log_normal_pdf(z, mean, logvar)
    return -tf.reduce_mean(logpx_z + logpz - logqz_x)


def make_train_step(encoder: keras.Model, decoder: keras.Model, optimizer):
    """The tutorial's training step: a tf.function around one GradientTape update."""
    variables = encoder.trainable_variables + decoder.trainable_variables

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = compute_loss(encoder, decoder, x)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return train_step


def make_dataset(images: np.ndarray, seed: int = 0) -> tf.data.Dataset:
    """The tutorial's input pipeline: binarized float images, shuffled, batches of 32."""
    x = (images[..., None] / 255.0 > 0.5).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed).batch(BATCH_SIZE)
