"""A small MNIST CNN, trained once and cached, that scores generated digits (notebooks 06-07).

Its predicted labels measure conditional accuracy; its penultimate layer ("features") gives the
feature vectors for a Fréchet distance between generated and real images, and for their diversity.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.config import data_dir, deterministic_ops, project_root, seed_everything
from helpers.data import NUM_CLASSES, load_mnist, to_float
from helpers.evaluate import (
    frechet_distance_of_features,
    mean_pairwise_distance,
    per_class_accuracy,
    sharpness,
)

# The cache holds the weights only (the architecture is build_classifier), so that any Keras 3 loads it.
CACHE_NAME = "mnist_classifier_v2.weights.h5"  # v2: augmented, batch-normalised, deterministic
FEATURES_LAYER = "features"
FEATURE_WIDTH = 128
EPOCHS = 12
BATCH_SIZE = 128
LEARNING_RATE = 2e-3  # Adam, cosine-decayed to 0 over the training
BN_MOMENTUM = 0.9  # batch-norm statistics settle within ~50 steps (a brief training is usable too)
MAX_SHIFT = 0.1  # random translations of up to 10 % of the image (2.8 pixels) while training


def build_classifier(seed: int = 0):
    """Two conv blocks (5x5, batch norm) and a FEATURE_WIDTH feature layer; outputs logits for the digits."""
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="image"),
            layers.RandomTranslation(MAX_SHIFT, MAX_SHIFT, fill_mode="constant", seed=seed, name="shift"),
            layers.Conv2D(32, 5, use_bias=False, name="conv1"),
            layers.BatchNormalization(momentum=BN_MOMENTUM, name="conv1_bn"),
            layers.ReLU(name="conv1_relu"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(64, 5, use_bias=False, name="conv2"),
            layers.BatchNormalization(momentum=BN_MOMENTUM, name="conv2_bn"),
            layers.ReLU(name="conv2_relu"),
            layers.MaxPooling2D(name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.3, seed=seed, name="dropout1"),
            layers.Dense(FEATURE_WIDTH, activation="relu", name=FEATURES_LAYER),
            layers.Dropout(0.3, seed=seed + 1, name="dropout2"),
            layers.Dense(NUM_CLASSES, name="logits"),
        ],
        name="mnist_classifier",
    )


def train_classifier(path: str | Path, *, epochs: int = EPOCHS, n_train: int | None = None,
                     seed: int = 0) -> float:
    """Train on MNIST's training set, save to `path`, return the test accuracy.

    Seeds every RNG (it is meant for a process of its own: `load_classifier` runs it as
    `python -m helpers.classifier`) and uses TensorFlow's deterministic kernels while it trains.
    """
    import keras

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    seed_everything(seed, deterministic_ops=False)  # weights, dropout, shifts, shuffling (kernels: below)
    (x_train, y_train), (x_test, y_test) = load_mnist()
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    with deterministic_ops():
        model = build_classifier(seed)
        steps = epochs * -(-len(x_train) // BATCH_SIZE)
        schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
        model.compile(optimizer=keras.optimizers.Adam(schedule),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        model.fit(to_float(x_train), y_train, epochs=epochs, batch_size=BATCH_SIZE, shuffle=True, verbose=2)
        _, accuracy = model.evaluate(to_float(x_test), y_test, verbose=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{os.getpid()}.{path.name}")  # a cache is never half written
    model.save_weights(partial)
    os.replace(partial, path)
    return float(accuracy)


def load_classifier(*, path: str | Path | None = None, epochs: int = EPOCHS, n_train: int | None = None,
                    seed: int = 0, verbose: bool = True):
    """The cached classifier; with no cache yet, it is trained first, in a separate process.

    The separate process makes the training repeatable (its own seeds, deterministic ops) and leaves the
    caller's random state and TensorFlow settings untouched.
    """
    path = Path(path) if path is not None else data_dir() / CACHE_NAME
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"the classifier's cache holds Keras weights: its name must end in .weights.h5, "
                         f"got {path.name!r}")
    if not path.exists():
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        _train_in_subprocess(path, epochs=epochs, n_train=n_train, seed=seed, verbose=verbose)
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    try:
        model = build_classifier(seed)
        model.load_weights(path)
        return model
    except (OSError, TypeError, ValueError) as err:  # not a weights file, or another architecture's
        raise RuntimeError(f"cannot load the classifier weights cached at {path} ({err}); delete the "
                           "file to train it again") from err
    finally:  # Keras draws seeds for new layers from Python's RNG: leave the caller's as it was
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002


def _train_in_subprocess(path: Path, *, epochs: int, n_train: int | None, seed: int, verbose: bool) -> None:
    command = [sys.executable, "-m", "helpers.classifier", "--out", str(path), "--epochs", str(epochs),
               "--seed", str(seed)] + (["--n-train", str(n_train)] if n_train is not None else [])
    env = dict(os.environ)
    if project_root() is not None:  # a checkout: make sure the child imports this copy of helpers
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project_root()), os.environ.get("PYTHONPATH")]))
    if verbose:
        print(f"Training the scoring classifier once ({epochs} epochs, cached at {path}) ...", flush=True)
    with tempfile.TemporaryFile("w+") as errors:  # TensorFlow's log lines; shown only if training fails
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env) as process:
            for line in process.stdout:  # one line per epoch, as it ends
                if verbose and (line.startswith(("Epoch", "classifier")) or "accuracy" in line):
                    print(line.rstrip(), flush=True)
        if process.returncode != 0 or not path.exists():
            errors.seek(0)
            raise RuntimeError(f"training the classifier failed:\n{errors.read().strip()[-3000:]}")


def predict_digits(classifier, images: np.ndarray) -> np.ndarray:
    """The classifier's label (0-9) for each image (uint8 or float in [0, 1])."""
    return np.argmax(classifier.predict(to_float(images), verbose=0, batch_size=500), axis=1)


def classifier_features(classifier, images: np.ndarray) -> np.ndarray:
    """Penultimate-layer activations (N, FEATURE_WIDTH), the features for a Fréchet distance."""
    import keras

    extractor = keras.Model(classifier.inputs, classifier.get_layer(FEATURES_LAYER).output)
    return extractor.predict(to_float(images), verbose=0, batch_size=500)


@dataclass(frozen=True)
class GeneratorScores:
    """How well conditional samples match their labels and the real test images."""

    accuracy: float  # share of samples the classifier assigns to the requested label
    per_class: np.ndarray  # (NUM_CLASSES,) that share for each requested digit
    frechet: float  # Fréchet distance of classifier features, samples vs half of the test set
    frechet_floor: float  # the same distance between the two halves of the test set
    sharpness: float  # evaluate.sharpness of the samples over that of the test images (1 = as sharp)
    diversity_per_class: np.ndarray  # (NUM_CLASSES,) mean pairwise feature distance per digit, samples / test

    @property
    def frechet_ratio(self) -> float:
        """Fréchet distance as a multiple of the real-vs-real floor (1 is as good as real data)."""
        return self.frechet / self.frechet_floor

    @property
    def share_of_digits_at_twice_chance(self) -> float:
        """Share of digits classified as requested at least twice as often as chance (1 = every digit)."""
        return float(np.mean(self.per_class >= 2 / len(self.per_class)))

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
        counts = np.bincount(values, minlength=NUM_CLASSES) if values.min() >= 0 else None
        if counts is None or len(counts) > NUM_CLASSES or counts.min() < 2:
            raise ValueError(f"{name} must be digits 0-{NUM_CLASSES - 1} and cover all of them, each at "
                             "least twice")
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
                                      / mean_pairwise_distance(real[test_labels == d])
                                      for d in range(NUM_CLASSES)]),
    )


def main(argv: list[str] | None = None) -> None:
    """`python -m helpers.classifier --out FILE`: train the scoring classifier (what load_classifier runs)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.classifier", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=None, help="where to save it (default: the data cache)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--n-train", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    accuracy = train_classifier(args.out or data_dir() / CACHE_NAME, epochs=args.epochs,
                                n_train=args.n_train, seed=args.seed)
    seconds = time.perf_counter() - start
    print(f"classifier test accuracy {accuracy:.4f}, trained in {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
