"""The Keras examples' "Conditional GAN" (keras-io examples/generative/conditional_gan.py), re-implemented.

The recipe most learners find first, kept as it is: labels one-hot, appended to the generator's
128-D noise and, as 10 extra input channels, to the discriminator's image; the generator
Dense(7*7*138) -> Reshape -> Conv2DTranspose(128, 4, s2) -> Conv2DTranspose(128, 4, s2) ->
Conv2D(1, 7, sigmoid), LeakyReLU(0.2) between; the discriminator Conv2D(64, 3, s2) -> Conv2D(128, 3, s2)
-> GlobalMaxPooling2D -> Dense(1) logit; Adam at 3e-4 for both players, batch size 64, 20 epochs,
binary cross-entropy on logits with the recipe's labels (generated = 1, real = 0), and its step:
first the discriminator on a batch of generated and real images, then the generator on fresh noise,
both with the batch's own labels. Keras 3's `fit` compiles such a step with XLA on the TensorFlow
backend (`jit_compile="auto"`), and so do we.

The label channels: the recipe builds them with `tf.repeat` without an axis, which flattens each
one-hot vector into 784 copies of each entry before the reshape to (28, 28, 10). The label then shows
as a band of about 3 rows, all channels 1, whose height on the image gives the digit, not as constant
planes. `LABEL_LAYOUT = "recipe"` reproduces that; "planes" gives each digit a constant plane.

One difference, for a fair comparison: the recipe trains on the training and the test digits (70,000
images, 1,094 steps per epoch); here it trains on the training split only, so that the test set stays
for scoring, as in the course.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from helpers.data import NUM_CLASSES

BATCH_SIZE = 64
LEARNING_RATE = 3e-4
EPOCHS = 20
RECIPE_STEPS_PER_EPOCH = -(-70_000 // BATCH_SIZE)  # the recipe's data: training and test digits
NOISE_DIM = 128
IMAGE_SIZE = 28
LABEL_LAYOUT = "recipe"  # or "planes": see the module's docstring


def make_generator() -> keras.Model:
    """The recipe's generator: [noise, one-hot label] (138,) -> image (28, 28, 1) in [0, 1]."""
    width = NOISE_DIM + NUM_CLASSES
    return keras.Sequential(
        [
            keras.Input(shape=(width,)),
            keras.layers.Dense(7 * 7 * width),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.Reshape((7, 7, width)),
            keras.layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.Conv2DTranspose(128, 4, strides=2, padding="same"),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.Conv2D(1, 7, padding="same", activation="sigmoid"),
        ],
        name="keras_io_generator",
    )


def make_discriminator() -> keras.Model:
    """The recipe's discriminator: image with 10 label channels (28, 28, 11) -> logit."""
    return keras.Sequential(
        [
            keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1 + NUM_CLASSES)),
            keras.layers.Conv2D(64, 3, strides=2, padding="same"),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.Conv2D(128, 3, strides=2, padding="same"),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.GlobalMaxPooling2D(),
            keras.layers.Dense(1),
        ],
        name="keras_io_discriminator",
    )


def generate(generator: keras.Model, noise: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Images for integer labels (N,) from noise (N, NOISE_DIM)."""
    return generator(tf.concat([noise, tf.one_hot(labels, NUM_CLASSES)], axis=1), training=False)


def label_channels(one_hot: tf.Tensor, layout: str = LABEL_LAYOUT) -> tf.Tensor:
    """The discriminator's extra input channels (N, 28, 28, 10) for one-hot labels (N, 10)."""
    n = tf.shape(one_hot)[0]
    if layout == "recipe":  # the recipe's tf.repeat without an axis: bands of rows
        repeated = tf.repeat(one_hot[:, :, None, None], repeats=[IMAGE_SIZE * IMAGE_SIZE])
        return tf.reshape(repeated, (-1, IMAGE_SIZE, IMAGE_SIZE, NUM_CLASSES))
    if layout == "planes":
        return tf.broadcast_to(one_hot[:, None, None, :], (n, IMAGE_SIZE, IMAGE_SIZE, NUM_CLASSES))
    raise ValueError(f"layout must be 'recipe' or 'planes', got {layout!r}")


def _with_label_channels(images: tf.Tensor, one_hot: tf.Tensor) -> tf.Tensor:
    return tf.concat([images, label_channels(one_hot)], axis=-1)


def make_train_step(generator: keras.Model, discriminator: keras.Model, seed: int):
    """The recipe's step, compiled with XLA as Keras 3's `fit` does: one update of each player, in turn."""
    d_optimizer = keras.optimizers.Adam(LEARNING_RATE)
    g_optimizer = keras.optimizers.Adam(LEARNING_RATE)
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
    noise_seeds = keras.random.SeedGenerator(seed)

    @tf.function(jit_compile=True)
    def train_step(real_images, labels):
        one_hot = tf.one_hot(labels, NUM_CLASSES)
        n = tf.shape(real_images)[0]
        noise = keras.random.normal((n, NOISE_DIM), seed=noise_seeds)
        fake_images = generator(tf.concat([noise, one_hot], axis=1))
        combined = tf.concat([_with_label_channels(fake_images, one_hot),
                              _with_label_channels(real_images, one_hot)], axis=0)
        targets = tf.concat([tf.ones((n, 1)), tf.zeros((n, 1))], axis=0)  # the recipe's: generated = 1
        with tf.GradientTape() as tape:
            d_loss = loss_fn(targets, discriminator(combined))
        d_grads = tape.gradient(d_loss, discriminator.trainable_weights)
        d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_weights, strict=True))

        noise = keras.random.normal((n, NOISE_DIM), seed=noise_seeds)
        with tf.GradientTape() as tape:
            fake_images = generator(tf.concat([noise, one_hot], axis=1))
            logits = discriminator(_with_label_channels(fake_images, one_hot))
            g_loss = loss_fn(tf.zeros((n, 1)), logits)  # "real", in the recipe's labels
        g_grads = tape.gradient(g_loss, generator.trainable_weights)
        g_optimizer.apply_gradients(zip(g_grads, generator.trainable_weights, strict=True))
        return {"d_loss": d_loss, "g_loss": g_loss}

    return train_step, {"generator_optimizer": g_optimizer, "discriminator_optimizer": d_optimizer}
