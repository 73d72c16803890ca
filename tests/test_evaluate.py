import math

import numpy as np
import pytest

from helpers import evaluate
from helpers.expect import expect


def test_pca_recovers_a_planar_data_set_exactly():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(10, 2)))[0].T  # 2 orthonormal directions in 10-D
    x = rng.normal(size=(200, 2)) @ basis + 3.0
    pca = evaluate.fit_pca(x, 2)
    np.testing.assert_allclose(pca.decode(pca.encode(x)), x, atol=1e-10)
    assert evaluate.reconstruction_mse(x, pca.decode(pca.encode(x))) < 1e-20
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(2), atol=1e-12)


def test_pca_error_falls_as_components_grow():
    x = np.random.default_rng(1).normal(size=(300, 20)) * np.linspace(3, 0.1, 20)
    errors = [evaluate.reconstruction_mse(x, (p := evaluate.fit_pca(x, k)).decode(p.encode(x)))
              for k in (1, 5, 10, 20)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-20


def test_evaluate_rejects_bad_input():
    x = np.zeros((10, 5))
    with pytest.raises(ValueError, match=r"k must be in 1\.\.5"):
        evaluate.fit_pca(x, 6)
    with pytest.raises(ValueError, match="float data"):
        evaluate.fit_pca(np.zeros((10, 5), np.uint8), 2)
    with pytest.raises(ValueError, match="codes must have shape"):
        evaluate.fit_pca(np.random.default_rng(0).normal(size=(10, 5)), 2).decode(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="after flattening"):
        evaluate.reconstruction_mse(x, np.zeros((10, 4)))


def test_knn_accuracy_separates_clusters_and_mixes(seed):
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    labels = rng.integers(0, 3, 600)
    codes = centres[labels] + rng.normal(size=(600, 2))
    separated = evaluate.knn_accuracy(codes[:300], labels[:300], codes[300:], labels[300:])
    expect("k-NN accuracy on three separated clusters", separated, above=0.98)
    shuffled = rng.permutation(labels)  # labels unrelated to position: about chance (1/3)
    acc = evaluate.knn_accuracy(codes[:300], shuffled[:300], codes[300:], shuffled[300:], k=15)
    expect("k-NN accuracy with shuffled labels (chance 1/3)", acc, above=0.2, below=0.5)


def test_knn_accuracy_rejects_bad_input():
    codes, labels = np.zeros((10, 2)), np.zeros(10, int)
    with pytest.raises(ValueError, match="differ in size"):
        evaluate.knn_accuracy(codes, labels, np.zeros((3, 3)), np.zeros(3, int))
    with pytest.raises(ValueError, match="k must be"):
        evaluate.knn_accuracy(codes, labels, codes, labels, k=11)


def test_empty_cell_fraction_counts_unvisited_cells():
    corner = np.full((50, 2), 0.1)  # every code in the lower-left cell of a 2x2 grid
    assert evaluate.empty_cell_fraction(corner, bins=2, limits=(0, 1)) == 0.75
    uniform = np.random.default_rng(0).uniform(0, 1, size=(5000, 2))
    assert evaluate.empty_cell_fraction(uniform, bins=10, limits=(0, 1)) == 0.0
    with pytest.raises(ValueError, match="low < high"):
        evaluate.empty_cell_fraction(corner, bins=2, limits=(1, 0))


def test_frechet_distance_matches_closed_forms():
    # Identical Gaussians: 0. Diagonal covariances: |dm|^2 + sum (sqrt(a) - sqrt(b))^2.
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + np.eye(5)
    assert evaluate.frechet_distance(np.ones(5), cov, np.ones(5), cov) == pytest.approx(0.0, abs=1e-9)
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    mean_a, mean_b = np.zeros(3), np.array([1.0, 2.0, 0.0])
    expected = 5.0 + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    got = evaluate.frechet_distance(mean_a, np.diag(var_a), mean_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-10)
    # Symmetric in its two arguments, also for non-commuting covariances.
    b = rng.normal(size=(5, 5))
    cov_b = b @ b.T + 0.1 * np.eye(5)
    assert evaluate.frechet_distance(mean_a[:1].repeat(5), cov, np.zeros(5), cov_b) == pytest.approx(
        evaluate.frechet_distance(np.zeros(5), cov_b, mean_a[:1].repeat(5), cov), rel=1e-8)


def test_frechet_distance_of_samples_approaches_the_gaussian_value(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(80_000, 2))
    y = rng.normal([3.0, 0.0], [2.0, 1.0], size=(80_000, 2))
    error = evaluate.frechet_distance_of_features(x, y) / (9.0 + 1.0) - 1
    expect("Fréchet distance of 80,000 Gaussian samples, relative error", abs(error), below=0.03)
    with pytest.raises(ValueError, match="at least 2"):
        evaluate.frechet_distance_of_features(x[:1], y)
    with pytest.raises(ValueError, match="shapes"):
        evaluate.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_per_class_accuracy():
    wanted = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    acc = evaluate.per_class_accuracy(predicted, wanted, n_classes=4)
    np.testing.assert_allclose(acc[:3], [0.5, 2 / 3, 1.0])
    assert np.isnan(acc[3])
    with pytest.raises(ValueError, match="same length"):
        evaluate.per_class_accuracy(predicted[:2], wanted)


def test_sharpness_falls_with_blur_and_ignores_contrast():
    rng = np.random.default_rng(0)
    squares = np.zeros((20, 28, 28))
    for image, (r, c) in zip(squares, rng.integers(4, 20, size=(20, 2)), strict=True):
        image[r : r + 6, c : c + 6] = 1.0  # a 6x6 square: 24 unit jumps over 36 pixels of ink
    assert evaluate.sharpness(squares) == pytest.approx(24 / 36)
    assert evaluate.sharpness(0.3 * squares) == pytest.approx(24 / 36)
    blurred = (squares + np.roll(squares, 1, axis=1) + np.roll(squares, 1, axis=2)) / 3
    assert evaluate.sharpness(blurred) < 0.75 * evaluate.sharpness(squares)
    assert evaluate.sharpness(squares[..., None]) == evaluate.sharpness(squares)
    with pytest.raises(ValueError, match="blank"):
        evaluate.sharpness(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="expected float images"):
        evaluate.sharpness(squares.astype(np.uint8))
    with pytest.raises(ValueError, match="shaped"):
        evaluate.sharpness(squares[0])


def test_mean_pairwise_distance_matches_known_values(seed):
    corners = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # a 3-4-5 triangle
    assert evaluate.mean_pairwise_distance(corners) == pytest.approx((3 + 4 + 5) / 3)
    assert evaluate.mean_pairwise_distance(np.ones((10, 5))) == 0.0
    # For x, y ~ N(0, s^2 I_d) independent, |x - y| / (s sqrt 2) is chi with d degrees of freedom,
    # whose mean is sqrt(2) Gamma((d + 1) / 2) / Gamma(d / 2).
    d, s = 64, 2.0
    chi_mean = np.sqrt(2) * np.exp(math.lgamma((d + 1) / 2) - math.lgamma(d / 2))
    x = np.random.default_rng(seed).normal(scale=s, size=(2000, d))
    error = evaluate.mean_pairwise_distance(x) / (s * np.sqrt(2) * chi_mean) - 1
    expect("mean pairwise distance of Gaussian vectors, relative error", abs(error), below=0.01)
    with pytest.raises(ValueError, match="at least 2"):
        evaluate.mean_pairwise_distance(x[:1])


def _precision_recall_by_brute_force(real, fake, k):
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def share_inside(points, centres, r):
        return np.mean((np.linalg.norm(points[:, None] - centres[None], axis=-1) <= r[None]).any(axis=1))

    return share_inside(fake, real, radii(real)), share_inside(real, fake, radii(fake))


def test_precision_recall_matches_the_definition_whatever_the_chunk():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(120, 5)), rng.normal(0.5, 1.3, size=(90, 5))
    expected = _precision_recall_by_brute_force(real, fake, k=3)
    for chunk in (7, 1000):
        assert evaluate.precision_recall(real, fake, k=3, chunk=chunk) == pytest.approx(expected, abs=1e-12)
    assert 0 < expected[0] < 1 and 0 < expected[1] < 1  # neither share is trivial here


def test_precision_recall_separate_fidelity_from_coverage(seed):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(2000, 8))
    precision, recall = evaluate.precision_recall(real, rng.normal(size=(2000, 8)))
    expect("precision of a second sample of the real distribution", precision, above=0.8)
    expect("recall of a second sample of the real distribution", recall, above=0.8)
    precision, recall = evaluate.precision_recall(real, 0.3 * rng.normal(size=(2000, 8)))
    expect("precision of samples collapsed near the mode", precision, above=0.95)  # each one plausible
    expect("recall of samples collapsed near the mode", recall, below=0.1)  # but most of the data missed
    noisy = rng.normal(size=(2000, 8)) + rng.normal(size=(2000, 8))
    precision, recall = evaluate.precision_recall(real, noisy)
    expect("precision of real samples plus noise", precision, below=0.75)  # noise leaves the data's manifold
    expect("recall of real samples plus noise", recall, above=0.95)


def test_precision_recall_rejects_bad_input():
    x = np.zeros((10, 4))
    with pytest.raises(ValueError, match="same width"):
        evaluate.precision_recall(x, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="k must be"):
        evaluate.precision_recall(x, x, k=10)
    with pytest.raises(ValueError, match="float"):
        evaluate.precision_recall(x.astype(int), x)


def test_nearest_neighbours_match_brute_force_whatever_the_chunk():
    rng = np.random.default_rng(0)
    queries, references = rng.normal(size=(37, 6)), rng.normal(size=(150, 6)) + 3.0  # far from the origin
    brute = np.linalg.norm(queries[:, None] - references[None], axis=-1)
    for chunk in (5, 1000):
        distances, indices = evaluate.nearest_neighbours(queries, references, k=4, chunk=chunk)
        np.testing.assert_array_equal(indices, np.argsort(brute, axis=1)[:, :4])  # nearest first
        np.testing.assert_allclose(distances, np.sort(brute, axis=1)[:, :4], rtol=1e-9)
    distances, indices = evaluate.nearest_neighbours(references[:10], references)
    np.testing.assert_array_equal(indices[:, 0], np.arange(10))  # a point is its own nearest neighbour
    assert np.all(distances < 1e-6)


def test_nearest_neighbours_reject_bad_input():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match="same width"):
        evaluate.nearest_neighbours(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"k must be in 1\.\.4"):
        evaluate.nearest_neighbours(x, x, k=5)
    with pytest.raises(ValueError, match="chunk"):
        evaluate.nearest_neighbours(x, x, chunk=0)
    with pytest.raises(ValueError, match="expected float data"):
        evaluate.nearest_neighbours(x.astype(int), x)
