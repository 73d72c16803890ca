"""Scores of generated digits against real ones: real digits score as real, and each kind of failure
(wrong labels, added noise, blur, collapse) shows in the score that is there for it."""

import numpy as np
import pytest

from helpers import evaluate, scoring
from helpers.data import to_float
from helpers.expect import expect


def training_digits_for(labels, y_train, seed):
    """Indices of training digits with exactly these labels (a perfect generator's samples)."""
    rng, picked = np.random.default_rng(seed), np.empty(len(labels), dtype=int)
    for d in range(10):
        picked[labels == d] = rng.choice(np.flatnonzero(y_train == d), np.sum(labels == d), replace=False)
    return picked


def test_the_reference_halves_hold_the_same_digits(reference, mnist):
    _, (_, y_test) = mnist
    counts = np.bincount(reference.labels, minlength=10)
    assert np.all(np.abs(2 * counts - np.bincount(y_test, minlength=10)) <= 1)  # half of each digit
    assert reference.features.shape == (len(reference.labels), 128)
    assert reference.frechet_train_per_class.shape == (10,) and np.all(reference.frechet_train_per_class > 0)
    expect("test half A vs B, Fréchet distance / that of training digits vs B",
           reference.frechet_test / reference.frechet_train, below=1.0)  # train and test differ a little


@pytest.mark.slow
def test_real_training_digits_score_like_real_digits(brief_classifier, reference, mnist, seed):
    (x_train, y_train), _ = mnist
    images = x_train[training_digits_for(reference.labels, y_train, seed)]
    scores = scoring.score_generator(brief_classifier, images, reference.labels, reference)
    expect("real training digits as samples, conditional accuracy", scores.accuracy, above=0.8)
    expect("real training digits as samples, Fréchet distance / fair floor", scores.frechet_ratio,
           above=0.5, below=1.5)  # another draw of the same kind of digits: about 1
    expect("real training digits as samples, precision", scores.precision, above=0.6)
    expect("real training digits as samples, recall", scores.recall, above=0.6)
    expect("other training digits vs the reference's, |precision difference|",  # the same population
           abs(scores.precision - reference.precision_train), below=0.1)
    expect("other training digits vs the reference's, |recall difference|",
           abs(scores.recall - reference.recall_train), below=0.1)
    expect("real training digits as samples, sharpness / real", scores.sharpness, above=0.9, below=1.1)
    expect("real training digits as samples, diversity / real", scores.diversity, above=0.85, below=1.15)
    expect("real training digits as samples, style diversity / real", scores.style_diversity,
           above=0.9, below=1.1)
    assert scores.frechet_per_class.shape == (10,) and scores.per_class.shape == (10,)
    assert {"accuracy", "worst_digit", "frechet_ratio", "precision", "recall"} <= set(scores.as_dict())
    assert "precision" in scores.report("real")


@pytest.mark.slow
def test_added_noise_raises_sharpness_but_lowers_precision(course_classifier, mnist, seed):
    (x_train, y_train), (x_test, y_test) = mnist
    reference = scoring.real_digits(course_classifier, x_train, y_train, x_test, y_test, seed=seed)
    rng = np.random.default_rng(seed)
    clean = to_float(x_train[training_digits_for(reference.labels, y_train, seed)])
    noisy = np.clip(clean + rng.normal(0, 0.3, clean.shape), 0, 1).astype("float32")
    clean_scores = scoring.score_generator(course_classifier, clean, reference.labels, reference)
    noisy_scores = scoring.score_generator(course_classifier, noisy, reference.labels, reference)
    expect("noisy real digits, sharpness / that of the clean ones",
           noisy_scores.sharpness / clean_scores.sharpness, above=1.5)  # sharpness alone rewards noise ...
    expect("noisy real digits, precision / that of the clean ones",
           noisy_scores.precision / clean_scores.precision, below=0.75)  # ... precision does not
    expect("noisy real digits, Fréchet distance / fair floor", noisy_scores.frechet_ratio, above=20)


@pytest.mark.slow
def test_wrong_labels_and_collapse_score_badly(brief_classifier, reference, mnist, seed):
    (x_train, y_train), _ = mnist
    picked = training_digits_for((reference.labels + 1) % 10, y_train, seed)  # each digit drawn as d + 1
    wrong = scoring.score_generator(brief_classifier, x_train[picked], reference.labels, reference)
    expect("real digits with labels shifted by one, conditional accuracy", wrong.accuracy, below=0.2)
    first_of_each = np.array([np.flatnonzero(y_train == d)[0] for d in range(10)])
    collapsed = scoring.score_generator(brief_classifier, x_train[first_of_each[reference.labels]],
                                        reference.labels, reference)
    assert collapsed.diversity == pytest.approx(0.0, abs=1e-6)  # one image per digit
    assert collapsed.style_diversity == pytest.approx(0.0, abs=1e-6)
    expect("one image per digit, recall", collapsed.recall, below=0.05)  # covers almost none of the data


@pytest.mark.slow
def test_noise_cannot_raise_style_diversity(brief_classifier, reference, mnist, seed):
    (x_train, y_train), _ = mnist
    rng = np.random.default_rng(seed)
    clean = to_float(x_train[training_digits_for(reference.labels, y_train, seed)])
    noisy = np.clip(clean + rng.normal(0, 0.3, clean.shape), 0, 1).astype("float32")
    clean_scores = scoring.score_generator(brief_classifier, clean, reference.labels, reference)
    noisy_scores = scoring.score_generator(brief_classifier, noisy, reference.labels, reference)
    pixel_spread = [evaluate.mean_pairwise_distance(x[reference.labels == 1]) for x in (clean, noisy)]
    expect("noisy real 1s, pixel-space diversity / that of the clean ones",
           pixel_spread[1] / pixel_spread[0], above=1.2)  # in all 784 pixels, noise looks like variety ...
    expect("noisy real digits, style diversity / that of the clean ones",
           noisy_scores.style_diversity / clean_scores.style_diversity, below=1.0)  # ... not in style space


@pytest.mark.slow
def test_one_handwriting_per_digit_lowers_style_diversity(brief_classifier, reference, mnist, seed):
    (x_train, y_train), _ = mnist
    rng, images = np.random.default_rng(seed), np.empty((len(reference.labels), 28, 28), np.float32)
    for d in range(10):  # the training digits nearest to one random digit: one writer's variations
        digits = to_float(x_train[y_train == d])[..., 0]
        writer = digits[rng.integers(len(digits))]
        nearest = np.argsort(np.sum((digits - writer) ** 2, axis=(1, 2)))[:np.sum(reference.labels == d)]
        images[reference.labels == d] = digits[nearest]
    scores = scoring.score_generator(brief_classifier, images, reference.labels, reference)
    expect("one handwriting per digit, style diversity / real", scores.style_diversity, below=0.85)


def test_bad_input_is_refused(brief_classifier, reference, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    images = x_train[: len(reference.labels)]
    with pytest.raises(ValueError, match="differ first at index"):
        scoring.score_generator(brief_classifier, images, np.sort(reference.labels), reference)
    with pytest.raises(ValueError, match="one sample for each"):
        scoring.score_generator(brief_classifier, images[:10], reference.labels[:10], reference)
    with pytest.raises(ValueError, match="images for"):
        scoring.score_generator(brief_classifier, images[:10], reference.labels, reference)
    with pytest.raises(ValueError, match="digits 0-9"):
        scoring.real_digits(brief_classifier, x_train, y_train, x_test, y_test + 1)
    with pytest.raises(ValueError, match="integers of shape"):
        scoring.real_digits(brief_classifier, x_train, y_train[:10], x_test, y_test)
    with pytest.raises(ValueError, match="integers of shape"):
        scoring.real_digits(brief_classifier, x_train, y_train.astype(float), x_test, y_test)
    few = np.flatnonzero(y_train != 3)[:1000]  # no 3s at all: fewer than half the test set's
    with pytest.raises(ValueError, match="examples of digit"):
        scoring.real_digits(brief_classifier, x_train[few], y_train[few], x_test, y_test)


@pytest.mark.slow
def test_the_fair_floor_compares_training_digits_of_the_same_classes(brief_classifier, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    shifted = scoring.real_digits(brief_classifier, x_train, (y_train + 1) % 10, x_test, y_test, seed=0)
    right = scoring.real_digits(brief_classifier, x_train, y_train, x_test, y_test, seed=0)
    np.testing.assert_array_equal(shifted.labels, right.labels)  # the same test halves
    assert np.all(shifted.frechet_train_per_class > 3 * right.frechet_train_per_class)  # other digits


@pytest.mark.slow
def test_blur_lowers_sharpness(brief_classifier, reference, mnist, seed):
    (x_train, y_train), _ = mnist
    images = to_float(x_train[training_digits_for(reference.labels, y_train, seed)])
    blurred = sum(np.roll(images, (dy, dx), axis=(1, 2)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    scores = scoring.score_generator(brief_classifier, blurred, reference.labels, reference)
    expect("blurred real digits, sharpness / real", scores.sharpness, below=0.7)


def test_share_of_digits_at_twice_chance_counts_digits_not_samples():
    per_class = np.array([1.0, 0.9, 0.2, 0.19, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5])  # 2 of 10 below 2/10
    scores = scoring.GeneratorScores(accuracy=0.5, per_class=per_class, frechet=1.0, frechet_train=1.0,
                                     frechet_per_class=np.ones(10), frechet_train_per_class=np.ones(10),
                                     precision=0.5, recall=0.5, precision_train=0.8, recall_train=0.8,
                                     sharpness=1.0, diversity_per_class=np.ones(10),
                                     style_diversity_per_class=np.ones(10))
    assert scores.share_of_digits_at_twice_chance == pytest.approx(0.8)  # 0.2 itself counts
    assert scores.worst_digit == 0.0 and "training digits: 0.80 and 0.80" in scores.report()
    assert "within each digit, 1.0x to 1.0x" in scores.report()
