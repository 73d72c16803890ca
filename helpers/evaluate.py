"""Evaluation helpers: the PCA baseline, errors and distances, and what a generator's samples look like."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected a batch of vectors or images, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name}: expected float data (scale uint8 images first), got {x.dtype}")
    return x.reshape(len(x), -1).astype(np.float64)


@dataclass(frozen=True)
class PCA:
    """Principal component analysis: the best linear autoencoder for squared error."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D), orthonormal rows
    explained_variance: np.ndarray  # (k,)

    def encode(self, x: np.ndarray, *, chunk: int = 8192) -> np.ndarray:
        """Project data (N, D) onto the k principal directions: codes (N, k), `chunk` rows at a time."""
        data = np.asarray(x)
        _as_matrix(data[:1], "x")  # checks the shape and the dtype without copying the whole array
        return np.concatenate([(_as_matrix(data[start:start + chunk], "x") - self.mean) @ self.components.T
                               for start in range(0, max(len(data), 1), chunk)])

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Map codes (N, k) back to data space (N, D)."""
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != len(self.components):
            k = len(self.components)
            raise ValueError(f"codes must have shape (N, {k}), got {codes.shape}")
        return codes @ self.components + self.mean


def fit_pca(x: np.ndarray, k: int, *, chunk: int = 8192) -> PCA:
    """Fit PCA with k components to data (N, D): the top eigenvectors of its covariance matrix.

    The D x D covariance is summed over chunks of rows in float64, so memory stays at a few chunks
    however large N is (an SVD of the whole centred training set needs several copies of it).
    """
    data = np.asarray(x)
    _as_matrix(data[:1], "x")  # checks the shape and the dtype without copying the whole array
    data = data.reshape(len(data), -1)
    if not 1 <= k <= min(data.shape):
        raise ValueError(f"k must be in 1..{min(data.shape)}, got {k}")
    mean = data.mean(axis=0, dtype=np.float64)
    scatter = np.zeros((data.shape[1], data.shape[1]))
    for start in range(0, len(data), chunk):
        block = data[start:start + chunk].astype(np.float64) - mean
        scatter += block.T @ block
    eigenvalues, eigenvectors = np.linalg.eigh(scatter)  # ascending order
    top = np.argsort(eigenvalues)[::-1][:k]
    variance = np.clip(eigenvalues[top], 0.0, None) / (len(data) - 1)
    return PCA(mean=mean, components=eigenvectors[:, top].T, explained_variance=variance)


def reconstruction_mse(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean squared error per pixel between data and its reconstruction (same shapes)."""
    a, b = _as_matrix(x, "x"), _as_matrix(x_hat, "x_hat")
    if a.shape != b.shape:
        raise ValueError(f"x has shape {a.shape} but x_hat has {b.shape} (after flattening)")
    return float(np.mean((a - b) ** 2))


def knn_accuracy(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    *,
    k: int = 5,
    chunk: int = 200,
) -> float:
    """Share of test codes whose k nearest training codes (Euclidean) vote for the right label.

    Neighbours come from `nearest_neighbours`, `chunk` test codes at a time.
    """
    ref, query = _as_matrix(train_codes, "train_codes"), _as_matrix(test_codes, "test_codes")
    ref_labels, query_labels = np.asarray(train_labels), np.asarray(test_labels)
    if ref.shape[1] != query.shape[1]:
        raise ValueError(f"codes differ in size: {ref.shape[1]} vs {query.shape[1]}")
    if ref_labels.shape != (len(ref),) or query_labels.shape != (len(query),):
        raise ValueError("need one label per code")
    if not 1 <= k <= len(ref):
        raise ValueError(f"k must be in 1..{len(ref)}, got {k}")
    _, nearest = nearest_neighbours(query, ref, k=k, chunk=chunk)
    n_classes = int(max(ref_labels.max(), query_labels.max())) + 1
    votes = np.apply_along_axis(np.bincount, 1, ref_labels[nearest], minlength=n_classes)
    return float(np.mean(votes.argmax(1) == query_labels))


def empty_cell_fraction(
    codes: np.ndarray, *, bins: int, limits: tuple[float, float] | tuple[tuple, tuple]
) -> float:
    """Share of the cells of a bins x bins grid over `limits` that contain no 2-D code."""
    codes = np.asarray(codes, dtype=float)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"codes must have shape (N, 2), got {codes.shape}")
    lims = limits if np.ndim(limits) == 2 else (limits, limits)
    if any(lo >= hi for lo, hi in lims):
        raise ValueError(f"each limit must be (low, high) with low < high, got {limits}")
    counts, _, _ = np.histogram2d(codes[:, 0], codes[:, 1], bins=bins, range=lims)
    return float(np.mean(counts == 0))


def _mean_and_covariance(features: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    f = _as_matrix(features, name)
    if len(f) < 2:
        raise ValueError(f"{name}: need at least 2 feature vectors, got {len(f)}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray) -> float:
    """Fréchet distance between N(mean_a, cov_a) and N(mean_b, cov_b).

    |mean_a - mean_b|^2 + tr(cov_a + cov_b - 2 (cov_a^1/2 cov_b cov_a^1/2)^1/2), computed with symmetric
    eigendecompositions, so the matrix square roots are exact for positive semi-definite inputs.
    """
    mean_a, mean_b = np.asarray(mean_a, float), np.asarray(mean_b, float)
    cov_a, cov_b = np.asarray(cov_a, float), np.asarray(cov_b, float)
    d = mean_a.shape[0]
    if mean_b.shape != (d,) or cov_a.shape != (d, d) or cov_b.shape != (d, d):
        raise ValueError(f"shapes must be (d,), (d, d): got {mean_a.shape}, {cov_a.shape}, "
                         f"{mean_b.shape}, {cov_b.shape}")

    def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
        values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
        return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T

    root_a = psd_sqrt(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_term = np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(np.clip(cross, 0, None)).sum()
    return float(np.sum((mean_a - mean_b) ** 2) + max(trace_term, 0.0))


def frechet_distance_of_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (N, d)."""
    return frechet_distance(*_mean_and_covariance(features_a, "features_a"),
                            *_mean_and_covariance(features_b, "features_b"))


def per_class_accuracy(predicted: np.ndarray, wanted: np.ndarray, *, n_classes: int = 10) -> np.ndarray:
    """Share of examples of each wanted class that were predicted as that class (NaN if none)."""
    predicted, wanted = np.asarray(predicted), np.asarray(wanted)
    if predicted.shape != wanted.shape or predicted.ndim != 1:
        raise ValueError(f"need two label vectors of the same length, got {predicted.shape}, {wanted.shape}")
    counts = np.bincount(wanted, minlength=n_classes).astype(float)
    hits = np.bincount(wanted[predicted == wanted], minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / counts, np.nan)


def sharpness(images: np.ndarray) -> float:
    """Squared differences of neighbouring pixels over squared pixel values, summed over images (N, H, W).

    Blur spreads each edge over several pixels, which lowers it; a change of contrast does not.
    """
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or min(x.shape[1:]) < 2:
        raise ValueError(f"expected images shaped (N, H, W) or (N, H, W, 1), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"expected float images (scale uint8 images first), got {x.dtype}")
    x = x.astype(np.float64)
    energy = np.sum(x**2)
    if energy == 0:
        raise ValueError("the images are blank: sharpness is undefined")
    return float((np.sum(np.diff(x, axis=1) ** 2) + np.sum(np.diff(x, axis=2) ** 2)) / energy)


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance between the distinct pairs of feature vectors (N, d): their spread."""
    f = _as_matrix(features, "features")
    if len(f) < 2:
        raise ValueError(f"features: need at least 2 vectors, got {len(f)}")
    f = f - f.mean(axis=0)  # distances do not change; the Gram trick loses less precision
    dist = np.sqrt(_squared_distances(f, f))
    np.fill_diagonal(dist, 0.0)  # a vector and itself are not a pair
    return float(dist.sum() / (len(f) * (len(f) - 1)))


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of a (n, d) and b (m, d): shape (n, m)."""
    return np.clip(np.sum(a**2, axis=1)[:, None] + np.sum(b**2, axis=1)[None, :] - 2 * a @ b.T, 0, None)


def nearest_neighbours(queries: np.ndarray, references: np.ndarray, *, k: int = 1,
                       chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances (n, k) and indices (n, k) of each query's k nearest references, nearest first.

    Candidates are found in float32, without copying float32 references (50,000 MNIST images stay
    157 MB), then the nearest few are re-ranked by their exact float64 distances.
    """
    for name, x in (("queries", queries), ("references", references)):
        _as_matrix(np.asarray(x)[:1], name)  # checks the shape and the dtype without copying
    query = np.asarray(queries).reshape(len(queries), -1)
    ref = np.asarray(references).reshape(len(references), -1)
    ref32 = ref if ref.dtype == np.float32 else ref.astype(np.float32)
    if query.shape[1] != ref.shape[1]:
        raise ValueError(f"queries and references must have the same width, got {query.shape}, {ref.shape}")
    if not 1 <= k <= len(ref):
        raise ValueError(f"k must be in 1..{len(ref)} (the number of references), got {k}")
    if chunk < 1:
        raise ValueError(f"chunk (rows of distances computed at once) must be at least 1, got {chunk}")
    ref_norms = np.einsum("ij,ij->i", ref32, ref32)
    candidates = min(len(ref), k + 8)  # float32 may swap near ties: re-rank a few more exactly
    distances, indices = np.empty((len(query), k)), np.empty((len(query), k), dtype=int)
    for start in range(0, len(query), chunk):
        block = query[start:start + chunk].astype(np.float64)
        d2 = ref_norms[None, :] - 2 * block.astype(np.float32) @ ref32.T  # |q|^2 is the same along a row
        near = np.argpartition(d2, candidates - 1, axis=1)[:, :candidates]
        exact = np.linalg.norm(ref[near].astype(np.float64) - block[:, None], axis=2)
        order = np.argsort(exact, axis=1)[:, :k]
        indices[start:start + chunk] = np.take_along_axis(near, order, axis=1)
        distances[start:start + chunk] = np.take_along_axis(exact, order, axis=1)
    return distances, indices


def _kth_neighbour_radii(points: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point in the same set."""
    radii = np.empty(len(points))
    for start in range(0, len(points), chunk):
        d2 = _squared_distances(points[start:start + chunk], points)
        radii[start:start + chunk] = np.sqrt(np.partition(d2, k, axis=1)[:, k])  # column 0: the point itself
    return radii


def _share_inside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int) -> float:
    """Share of the points that fall inside at least one ball (centre, radius)."""
    inside = [np.any(_squared_distances(points[s:s + chunk], centres) <= radii[None, :] ** 2, axis=1)
              for s in range(0, len(points), chunk)]
    return float(np.mean(np.concatenate(inside)))


def precision_recall(real: np.ndarray, fake: np.ndarray, *, k: int = 3,
                     chunk: int = 1000) -> tuple[float, float]:
    """(precision, recall) of fake vs real feature vectors, (N, d) and (M, d) (Kynkäänniemi et al., 2019).

    Each set's manifold is the union of balls around its points, each reaching to the point's k-th
    nearest *other* point of the same set. Precision is the share of fake points inside the real
    manifold (fidelity); recall is the share of real points inside the fake manifold (coverage). Both
    depend on the set sizes: compare sets of equal size.
    """
    real, fake = _as_matrix(real, "real"), _as_matrix(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake features must have the same width, got {real.shape}, {fake.shape}")
    if not 1 <= k < min(len(real), len(fake)):
        raise ValueError(f"k must be at least 1 and below both set sizes ({len(real)}, {len(fake)}), got {k}")
    if chunk < 1:
        raise ValueError(f"chunk (rows of distances computed at once) must be at least 1, got {chunk}")
    centre = real.mean(axis=0)  # distances do not change; the Gram trick loses less precision
    real, fake = real - centre, fake - centre
    precision = _share_inside(fake, real, _kth_neighbour_radii(real, k, chunk), chunk)
    recall = _share_inside(real, fake, _kth_neighbour_radii(fake, k, chunk), chunk)
    return precision, recall
