"""Evaluation helpers: the PCA baseline and reconstruction error."""

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

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Project data (N, D) onto the k principal directions: codes (N, k)."""
        return (_as_matrix(x, "x") - self.mean) @ self.components.T

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Map codes (N, k) back to data space (N, D)."""
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != len(self.components):
            k = len(self.components)
            raise ValueError(f"codes must have shape (N, {k}), got {codes.shape}")
        return codes @ self.components + self.mean


def fit_pca(x: np.ndarray, k: int) -> PCA:
    """Fit PCA with k components to data (N, D) through the SVD of the centred data."""
    data = _as_matrix(x, "x")
    if not 1 <= k <= min(data.shape):
        raise ValueError(f"k must be in 1..{min(data.shape)}, got {k}")
    mean = data.mean(axis=0)
    _, singular, vt = np.linalg.svd(data - mean, full_matrices=False)
    return PCA(mean=mean, components=vt[:k], explained_variance=singular[:k] ** 2 / (len(data) - 1))


def reconstruction_mse(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean squared error per pixel between data and its reconstruction (same shapes)."""
    a, b = _as_matrix(x, "x"), _as_matrix(x_hat, "x_hat")
    if a.shape != b.shape:
        raise ValueError(f"x has shape {a.shape} but x_hat has {b.shape} (after flattening)")
    return float(np.mean((a - b) ** 2))
