"""Scores of a conditional generator's samples against real digits, with the same classes on both sides.

`real_digits` prepares, once, what samples are compared with: half B of the test set (stratified,
so both halves hold the same share of each digit), the labels to generate with (B's own, so that the
classes match), and two references for the Fréchet distance: test half A against B (two samples of
the test distribution) and as many *training* digits, of the same classes, against B (what a perfect
generator of the training data would reach: the fair floor). `score_generator` then scores samples:
conditional accuracy, Fréchet distance overall and digit by digit, precision and recall (Kynkäänniemi
et al., 2019: fidelity and coverage, separately), sharpness and diversity.

Diversity is measured twice. The classifier's features are trained to give every 7 the same answer,
so they keep little of a digit's style. The *style space* of a digit keeps it: the leading principal
components of real training digits of that digit, where slant, width and stroke thickness vary most.
It is a linear projection onto a few directions, so pixel noise (spread over all 784 directions)
barely enters it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.classifier import classifier_features, features_and_digits
from helpers.data import NUM_CLASSES, to_float
from helpers.evaluate import (
    PCA,
    fit_pca,
    frechet_distance_of_features,
    mean_pairwise_distance,
    per_class_accuracy,
    precision_recall,
    sharpness,
)

PR_NEIGHBOURS = 3  # k of precision and recall, as in Kynkäänniemi et al.
STYLE_COMPONENTS = 16  # principal components of each digit's style space


@dataclass(frozen=True)
class RealDigits:
    """Real digits to compare samples with; generate one sample for each of `labels`."""

    labels: np.ndarray  # (n,) the digits of test half B: ask the generator for exactly these
    features: np.ndarray  # (n, d) classifier features of test half B
    sharpness: float  # evaluate.sharpness of half B
    frechet_test: float  # Fréchet distance, test half A vs half B
    frechet_train: float  # Fréchet distance, n training digits of B's classes vs half B: the fair floor
    frechet_train_per_class: np.ndarray  # (NUM_CLASSES,) the same within each digit
    precision_train: float  # precision of those training digits against half B: what a perfect model scores
    recall_train: float  # their recall
    diversity_per_class: np.ndarray  # (NUM_CLASSES,) mean pairwise feature distance within each digit
    style_spaces: tuple[PCA, ...]  # (NUM_CLASSES,) each digit's style space, fitted on training digits
    style_diversity_per_class: np.ndarray  # (NUM_CLASSES,) mean pairwise distance within it, half B


def _style_diversity(style_space: PCA, images: np.ndarray) -> float:
    """Mean pairwise distance of images (n, 28, 28[, 1]) in [0, 1] projected onto a digit's style space."""
    return mean_pairwise_distance(style_space.encode(images))


def _per_class_frechet(features: np.ndarray, labels: np.ndarray, real_features: np.ndarray,
                       real_labels: np.ndarray) -> np.ndarray:
    return np.array([frechet_distance_of_features(features[labels == d], real_features[real_labels == d])
                     for d in range(NUM_CLASSES)])


def _check_digits(name: str, labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be integers of shape ({n},), got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise ValueError(f"{name} must be digits 0-{NUM_CLASSES - 1}, got {labels.min()}..{labels.max()}")
    return labels


def real_digits(classifier, train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                test_labels: np.ndarray, *, seed: int = 0) -> RealDigits:
    """Split the test set into stratified halves A and B and measure the references against B."""
    train_labels = _check_digits("train_labels", train_labels, len(train_images))
    test_labels = _check_digits("test_labels", test_labels, len(test_images))
    if np.bincount(test_labels, minlength=NUM_CLASSES).min() < 4:
        raise ValueError("test_labels must hold every digit at least 4 times (2 per half)")
    rng = np.random.default_rng(seed)
    half_a, half_b = [], []
    for d in range(NUM_CLASSES):  # each digit split in two: the halves hold the same share of it
        idx = rng.permutation(np.flatnonzero(test_labels == d))
        half_a.append(idx[: len(idx) // 2])
        half_b.append(idx[len(idx) // 2:])
    half_a, half_b = np.sort(np.concatenate(half_a)), np.sort(np.concatenate(half_b))
    labels = test_labels[half_b]
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    available = np.bincount(train_labels, minlength=NUM_CLASSES)
    if np.any(available < counts):
        d = int(np.argmax(available < counts))
        raise ValueError(f"the training set holds {available[d]} examples of digit {d}, fewer than the "
                         f"{counts[d]} of test half B")
    train_pick = np.empty(len(labels), dtype=int)  # training digits with B's labels, in B's order
    for d in range(NUM_CLASSES):
        train_pick[labels == d] = rng.choice(np.flatnonzero(train_labels == d), counts[d], replace=False)
    test_features = classifier_features(classifier, test_images)
    train_features = classifier_features(classifier, train_images[train_pick])
    features = test_features[half_b]
    precision_train, recall_train = precision_recall(features, train_features, k=PR_NEIGHBOURS)
    train_float, real_float = to_float(train_images[train_pick]), to_float(test_images[half_b])
    real_by_digit = {d: real_float[labels == d] for d in range(NUM_CLASSES)}
    style_spaces = tuple(fit_pca(train_float[labels == d], min(STYLE_COMPONENTS, counts[d] - 1))
                         for d in range(NUM_CLASSES))
    return RealDigits(labels=labels, features=features, sharpness=sharpness(real_float),
                      frechet_test=frechet_distance_of_features(test_features[half_a], features),
                      frechet_train=frechet_distance_of_features(train_features, features),
                      frechet_train_per_class=_per_class_frechet(train_features, labels, features, labels),
                      precision_train=precision_train, recall_train=recall_train,
                      diversity_per_class=np.array([mean_pairwise_distance(features[labels == d])
                                                    for d in range(NUM_CLASSES)]),
                      style_spaces=style_spaces,
                      style_diversity_per_class=np.array([_style_diversity(style_spaces[d], real_by_digit[d])
                                                          for d in range(NUM_CLASSES)]))


@dataclass(frozen=True)
class GeneratorScores:
    """How well conditional samples match their labels and the real digits of a RealDigits."""

    accuracy: float  # share of samples the classifier assigns to the requested label
    per_class: np.ndarray  # (NUM_CLASSES,) that share for each requested digit
    frechet: float  # Fréchet distance of classifier features, samples vs test half B
    frechet_train: float  # the fair floor: training digits of the same classes vs half B
    frechet_per_class: np.ndarray  # (NUM_CLASSES,) Fréchet distance within each digit
    frechet_train_per_class: np.ndarray  # (NUM_CLASSES,) the fair floor within each digit
    precision: float  # share of samples inside the manifold of real features (fidelity)
    recall: float  # share of real digits inside the manifold of the samples' features (coverage)
    precision_train: float  # the same two for real training digits of the same classes: the fair references
    recall_train: float
    sharpness: float  # evaluate.sharpness of the samples over that of half B (1 = as sharp)
    diversity_per_class: np.ndarray  # (NUM_CLASSES,) mean pairwise feature distance, samples / real
    style_diversity_per_class: np.ndarray  # (NUM_CLASSES,) the same in each digit's style space

    @property
    def worst_digit(self) -> float:
        """The lowest conditional accuracy of a digit."""
        return float(np.min(self.per_class))

    @property
    def share_of_digits_at_twice_chance(self) -> float:
        """Share of digits classified as requested at least twice as often as chance (1 = every digit)."""
        return float(np.mean(self.per_class >= 2 / len(self.per_class)))

    @property
    def frechet_ratio(self) -> float:
        """Fréchet distance as a multiple of the fair floor (1 = as close as real training digits)."""
        return self.frechet / self.frechet_train

    @property
    def frechet_ratio_per_class(self) -> np.ndarray:
        """Each digit's Fréchet distance as a multiple of that digit's fair floor."""
        return self.frechet_per_class / self.frechet_train_per_class

    @property
    def diversity(self) -> float:
        """Mean over digits of the diversity ratio (1 = as varied as real digits, 0 = one image)."""
        return float(np.mean(self.diversity_per_class))

    @property
    def style_diversity(self) -> float:
        """Mean over digits of the diversity ratio in each digit's style space (1 = as varied as real)."""
        return float(np.mean(self.style_diversity_per_class))

    def as_dict(self) -> dict[str, float | list[float]]:
        """Plain floats and lists, ready for json.dump."""
        plain = {key: (value.tolist() if isinstance(value, np.ndarray) else float(value))
                 for key, value in self.__dict__.items()}
        return {**plain, "worst_digit": self.worst_digit, "frechet_ratio": self.frechet_ratio,
                "diversity": self.diversity, "style_diversity": self.style_diversity}

    def report(self, name: str = "samples") -> str:
        """A few readable lines: accuracy, Fréchet distance, precision and recall, sharpness, diversity."""
        worst = int(np.argmin(self.per_class))
        least_varied = int(np.argmin(self.diversity_per_class))
        least_style = int(np.argmin(self.style_diversity_per_class))
        within = self.frechet_ratio_per_class
        farthest = int(np.argmax(within))
        return (f"{name}: conditional accuracy {self.accuracy:.2%}, worst digit {worst} "
                f"({self.per_class[worst]:.2%})\n"
                f"{name}: Fréchet distance {self.frechet:.2f} = {self.frechet_ratio:.1f}x the fair floor "
                f"{self.frechet_train:.2f} (training digits vs test digits)\n"
                f"{name}: within each digit, {within.min():.1f}x to {within.max():.1f}x that digit's "
                f"fair floor (farthest: {farthest})\n"
                f"{name}: precision {self.precision:.2f}, recall {self.recall:.2f} (training digits: "
                f"{self.precision_train:.2f} and {self.recall_train:.2f})\n"
                f"{name}: sharpness {self.sharpness:.2f}x and diversity {self.diversity:.2f}x that of real "
                f"digits (least varied: {least_varied}, {self.diversity_per_class[least_varied]:.2f}x)\n"
                f"{name}: diversity in style space {self.style_diversity:.2f}x that of real digits (least "
                f"varied: {least_style}, {self.style_diversity_per_class[least_style]:.2f}x)")


def score_generator(classifier, images: np.ndarray, labels: np.ndarray,
                    reference: RealDigits) -> GeneratorScores:
    """Score samples (N, 28, 28[, 1]) in [0, 1] generated for `labels`, which must be reference.labels."""
    labels = np.asarray(labels)
    if labels.shape != reference.labels.shape:
        raise ValueError(f"generate one sample for each of reference.labels ({len(reference.labels)}), in "
                         f"that order, so that the classes match the real digits: got labels of shape "
                         f"{labels.shape}")
    if not np.array_equal(labels, reference.labels):
        first = int(np.flatnonzero(labels != reference.labels)[0])
        raise ValueError(f"labels must be reference.labels, in that order (the classes must match the real "
                         f"digits): they differ first at index {first} ({labels[first]} vs "
                         f"{reference.labels[first]})")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images for {len(labels)} labels")
    features, predicted = features_and_digits(classifier, images)
    pixels = to_float(images)
    precision, recall = precision_recall(reference.features, features, k=PR_NEIGHBOURS)
    return GeneratorScores(
        accuracy=float(np.mean(predicted == labels)),
        per_class=per_class_accuracy(predicted, labels),
        frechet=frechet_distance_of_features(features, reference.features),
        frechet_train=reference.frechet_train,
        frechet_per_class=_per_class_frechet(features, labels, reference.features, reference.labels),
        frechet_train_per_class=reference.frechet_train_per_class,
        precision=precision,
        recall=recall,
        precision_train=reference.precision_train,
        recall_train=reference.recall_train,
        sharpness=(sharpness(pixels) / reference.sharpness if np.any(images)
                   else float("nan")),  # blank images (a collapsed generator) have no edges to measure
        diversity_per_class=np.array([mean_pairwise_distance(features[labels == d])
                                      / reference.diversity_per_class[d] for d in range(NUM_CLASSES)]),
        style_diversity_per_class=np.array([
            _style_diversity(reference.style_spaces[d], pixels[labels == d])
            / reference.style_diversity_per_class[d] for d in range(NUM_CLASSES)]),
    )
