"""A small MNIST CNN, trained once and cached, that scores generated digits (notebooks 06-07).

Its predicted labels measure conditional accuracy; its penultimate layer ("features") gives the
feature vectors for a Fréchet distance between generated and real images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.config import data_dir
from helpers.data import load_mnist, to_float

CACHE_NAME = "mnist_classifier.keras"
FEATURES_LAYER = "features"


def build_classifier():
    """Two conv blocks and a 128-unit feature layer; outputs logits for the 10 digits."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="image"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1a"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1b"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2a"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2b"),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(0.3, name="dropout"),
            keras.layers.Dense(128, activation="relu", name=FEATURES_LAYER),
            keras.layers.Dense(10, name="logits"),
        ],
        name="mnist_classifier",
    )


def load_classifier(*, path: str | Path | None = None, epochs: int = 4, n_train: int | None = None,
                    seed: int = 0, verbose: bool = True):
    """The cached classifier, trained on MNIST's training set first if there is no cache yet."""
    import keras

    path = Path(path) if path is not None else data_dir() / CACHE_NAME
    if path.exists():
        return keras.models.load_model(path)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_mnist()
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    model = build_classifier()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(to_float(x_train), y_train, epochs=epochs, batch_size=128, verbose=2 if verbose else 0)
    _, accuracy = model.evaluate(to_float(x_test), y_test, verbose=0)
    if verbose:
        print(f"classifier test accuracy {accuracy:.4f}; cached at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return model


def predict_digits(classifier, images: np.ndarray) -> np.ndarray:
    """The classifier's label (0-9) for each image (uint8 or float in [0, 1])."""
    return np.argmax(classifier.predict(to_float(images), verbose=0, batch_size=500), axis=1)


def classifier_features(classifier, images: np.ndarray) -> np.ndarray:
    """Penultimate-layer activations (N, 128), the features for a Fréchet distance."""
    import keras

    extractor = keras.Model(classifier.inputs, classifier.get_layer(FEATURES_LAYER).output)
    return extractor.predict(to_float(images), verbose=0, batch_size=500)
