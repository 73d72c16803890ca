"""A small MNIST CNN, trained once and cached, that scores generated digits (notebooks 06-07).

Its predicted labels measure conditional accuracy; its penultimate layer ("features") gives the
feature vectors for a Fréchet distance between generated and real images, and for their diversity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.config import data_dir
from helpers.data import load_mnist, to_float
from helpers.evaluate import (
    frechet_distance_of_features,
    mean_pairwise_distance,
    per_class_accuracy,
    sharpness,
)
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
    sharpness: float  # evaluate.sharpness of the samples over that of the test images (1 = as sharp)
    diversity_per_class: np.ndarray  # (10,) mean pairwise feature distance within a digit, samples / test

    @property
    def frechet_ratio(self) -> float:
        """Fréchet distance as a multiple of the real-vs-real floor (1 is as good as real data)."""
        return self.frechet / self.frechet_floor

    @property
    def diversity(self) -> float:
        """Mean over digits of the diversity ratio (1 = as varied as real digits, 0 = one image)."""
        return float(np.mean(self.diversity_per_class))

    def as_dict(self) -> dict[str, float | list[float]]:
        """Plain floats and lists, ready for json.dump."""
        return {"accuracy": self.accuracy, "worst_class_accuracy": float(np.min(self.per_class)),
                "per_class": [float(v) for v in self.per_class], "frechet": self.frechet,
                "frechet_floor": self.frechet_floor, "frechet_ratio": self.frechet_ratio,
                "sharpness": self.sharpness, "diversity": self.diversity,
                "diversity_per_class": [float(v) for v in self.diversity_per_class]}

    def report(self, name: str = "samples") -> str:
        """A few readable lines: accuracy, worst digit, Fréchet distance, sharpness and diversity."""
        worst = int(np.argmin(self.per_class))
        least_varied = int(np.argmin(self.diversity_per_class))
        return (f"{name}: conditional accuracy {self.accuracy:.2%}, worst digit {worst} "
                f"({self.per_class[worst]:.2%})\n"
                f"{name}: Fréchet distance {self.frechet:.2f} = {self.frechet_ratio:.1f}x the "
                f"real-vs-real floor {self.frechet_floor:.2f}\n"
                f"{name}: sharpness {self.sharpness:.2f}x and diversity {self.diversity:.2f}x that of real "
                f"digits (least varied: {least_varied}, {self.diversity_per_class[least_varied]:.2f}x)")


def score_samples(classifier, images: np.ndarray, labels: np.ndarray, test_images: np.ndarray,
                  test_labels: np.ndarray, *, seed: int = 0) -> GeneratorScores:
    """Score generated images (N, 28, 28[, 1]) in [0, 1] that were asked to show `labels` (N,).

    The test images are split at random into two halves A and B; the floor is FD(A, B) and the
    samples' distance is FD(samples, B). Give as many samples as half the test set, so that both
    distances carry the same small-sample bias. Sharpness and diversity are ratios to the test images
    (all of them; diversity digit by digit, using `test_labels`).
    """
    labels, test_labels = np.asarray(labels), np.asarray(test_labels)
    for name, values, n in (("labels", labels, len(images)), ("test_labels", test_labels, len(test_images))):
        if values.shape != (n,) or not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{name} must be integers of shape ({n},), got {values.dtype} {values.shape}")
        if values.min() < 0 or values.max() > 9 or np.bincount(values, minlength=10).min() < 2:
            raise ValueError(f"{name} must be digits 0-9 and cover all ten, each at least twice")
    predicted = predict_digits(classifier, images)
    half_a, half_b = np.array_split(np.random.default_rng(seed).permutation(len(test_images)), 2)
    real = classifier_features(classifier, test_images)
    fake = classifier_features(classifier, images)
    real_images, fake_images = to_float(test_images), to_float(images)
    return GeneratorScores(
        accuracy=float(np.mean(predicted == labels)),
        per_class=per_class_accuracy(predicted, labels),
        frechet=frechet_distance_of_features(fake, real[half_b]),
        frechet_floor=frechet_distance_of_features(real[half_a], real[half_b]),
        sharpness=sharpness(fake_images) / sharpness(real_images),
        diversity_per_class=np.array([mean_pairwise_distance(fake[labels == d])
                                      / mean_pairwise_distance(real[test_labels == d]) for d in range(10)]),
    )
