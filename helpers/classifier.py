"""A small MNIST CNN, trained once and cached, that scores generated digits (notebooks 06, 08 and 09).

Its predicted labels measure conditional accuracy; its penultimate layer ("features") gives the
feature vectors that helpers.scoring compares generated and real digits with.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from helpers.config import data_dir, deterministic_ops, project_root, seed_everything
from helpers.data import NUM_CLASSES, load_mnist, to_float

# The cache holds the weights only (the architecture is build_classifier), so that any Keras 3 loads it.
CACHE_NAME = "mnist_classifier_v2.weights.h5"  # v2: augmented, batch-normalised, deterministic
FEATURES_LAYER = "features"
INFERENCE_BATCH = 500  # images per batch when the classifier predicts
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
    return np.concatenate([extractor.predict(to_float(part), verbose=0, batch_size=INFERENCE_BATCH)
                           for part in _parts(images)])


def features_and_digits(classifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """classifier_features and predict_digits of the same images, in one pass through the classifier."""
    import keras

    outputs = [classifier.get_layer(FEATURES_LAYER).output, classifier.outputs[0]]
    both = keras.Model(classifier.inputs, outputs)
    batches = [both.predict(to_float(part), verbose=0, batch_size=INFERENCE_BATCH) for part in _parts(images)]
    features = np.concatenate([features for features, _ in batches])
    probabilities = np.concatenate([probabilities for _, probabilities in batches])
    return features, np.argmax(probabilities, axis=1)


def _parts(images: np.ndarray, size: int = 10 * INFERENCE_BATCH) -> list[np.ndarray]:
    """Consecutive slices of `images`, so that only one slice at a time is converted to floats."""
    images = np.asarray(images)
    return [images[start:start + size] for start in range(0, max(len(images), 1), size)]


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
