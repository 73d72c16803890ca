"""A small MNIST CNN, trained once and cached, that scores generated digits (notebooks 06-07).

Its predicted labels measure conditional accuracy; its penultimate layer ("features") gives the
feature vectors for a Fréchet distance between generated and real images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.config import data_dir
from helpers.data import load_mnist, to_float
from helpers.evaluate import frechet_distance_of_features, per_class_accuracy
from helpers.progress import ProgressBar

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
    callbacks = [ProgressBar()] if verbose else []
    model.fit(to_float(x_train), y_train, epochs=epochs, batch_size=128, verbose=0, callbacks=callbacks)
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


@dataclass(frozen=True)
class GeneratorScores:
    """How well conditional samples match their labels and the real test images."""

    accuracy: float  # share of samples the classifier assigns to the requested label
    per_class: np.ndarray  # (10,) that share for each requested digit
    frechet: float  # Fréchet distance of classifier features, samples vs half of the test set
    frechet_floor: float  # the same distance between the two halves of the test set

    @property
    def frechet_ratio(self) -> float:
        """Fréchet distance as a multiple of the real-vs-real floor (1 is as good as real data)."""
        return self.frechet / self.frechet_floor

    def as_dict(self) -> dict[str, float | list[float]]:
        """Plain floats and lists, ready for json.dump."""
        return {"accuracy": self.accuracy, "worst_class_accuracy": float(np.min(self.per_class)),
                "per_class": [float(v) for v in self.per_class], "frechet": self.frechet,
                "frechet_floor": self.frechet_floor, "frechet_ratio": self.frechet_ratio}

    def report(self, name: str = "samples") -> str:
        """A few readable lines: accuracy, worst digit and Fréchet distance against its floor."""
        worst = int(np.argmin(self.per_class))
        return (f"{name}: conditional accuracy {self.accuracy:.2%}, worst digit {worst} "
                f"({self.per_class[worst]:.2%})\n"
                f"{name}: Fréchet distance {self.frechet:.2f} = {self.frechet_ratio:.1f}x the "
                f"real-vs-real floor {self.frechet_floor:.2f}")


def score_samples(classifier, images: np.ndarray, labels: np.ndarray, test_images: np.ndarray,
                  *, seed: int = 0) -> GeneratorScores:
    """Score generated images (N, 28, 28[, 1]) in [0, 1] that were asked to show `labels` (N,).

    The test images are split at random into two halves A and B; the floor is FD(A, B) and the
    samples' distance is FD(samples, B). Give as many samples as half the test set, so that both
    distances carry the same small-sample bias.
    """
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers of shape ({len(images)},), "
                         f"got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() > 9 or len(np.unique(labels)) < 10:
        raise ValueError("labels must be digits 0-9 and cover all ten")
    if len(test_images) < 4:
        raise ValueError(f"need at least 4 test images, got {len(test_images)}")
    predicted = predict_digits(classifier, images)
    half_a, half_b = np.array_split(np.random.default_rng(seed).permutation(len(test_images)), 2)
    real = classifier_features(classifier, test_images)
    fake = classifier_features(classifier, images)
    return GeneratorScores(
        accuracy=float(np.mean(predicted == labels)),
        per_class=per_class_accuracy(predicted, labels),
        frechet=frechet_distance_of_features(fake, real[half_b]),
        frechet_floor=frechet_distance_of_features(real[half_a], real[half_b]),
    )
