import numpy as np
import pytest

from helpers import classifier
from helpers.expect import expect


@pytest.fixture(scope="module")
def small_classifier(brief_classifier_path, brief_classifier):
    """The session's brief classifier (2 epochs on 3,000 images) and where it is cached."""
    return brief_classifier_path, brief_classifier


def test_classifier_is_cached_and_reloaded(small_classifier, mnist):
    path, model = small_classifier
    assert path.exists()
    reloaded = classifier.load_classifier(path=path)  # no training: loads the file
    images = mnist[1][0][:50]
    np.testing.assert_array_equal(classifier.predict_digits(model, images),
                                  classifier.predict_digits(reloaded, images))


def test_brief_training_already_beats_chance_by_far(small_classifier, mnist):
    _, model = small_classifier
    (_, _), (x_test, y_test) = mnist
    accuracy = np.mean(classifier.predict_digits(model, x_test[:1000]) == y_test[:1000])
    expect("brief classifier (2 epochs, 3,000 images), test accuracy", accuracy, above=0.75)


def test_features_have_the_penultimate_width(small_classifier, mnist):
    _, model = small_classifier
    features = classifier.classifier_features(model, mnist[1][0][:20])
    assert features.shape == (20, classifier.FEATURE_WIDTH) and np.isfinite(features).all()


def test_bad_input_is_refused(small_classifier):
    _, model = small_classifier
    with pytest.raises(ValueError, match=r"images: expected \(N, 28, 28\)"):
        classifier.predict_digits(model, np.zeros((3, 10, 10)))
    with pytest.raises(ValueError, match="epochs"):
        classifier.load_classifier(path="/nonexistent/dir/x.weights.h5", epochs=0)
    with pytest.raises(ValueError, match=r"must end in \.weights\.h5"):
        classifier.load_classifier(path="/nonexistent/dir/x.keras")


def test_real_images_score_like_real_images(small_classifier, mnist, seed):
    _, model = small_classifier
    (_, _), (x_test, y_test) = mnist
    # 2,500 real digits that the reference halves (2,500 each, from 5,000 others) do not contain, all
    # drawn at random (MNIST's test set is ordered: its second half has other writers than its first).
    # The same distribution and the same sample size: every score should sit at its "real" value.
    order = np.random.default_rng(seed).permutation(len(x_test))
    samples, reference = order[:2500], order[2500:7500]
    scores = classifier.score_samples(model, x_test[samples], y_test[samples], x_test[reference],
                                      y_test[reference], seed=seed)
    assert scores.per_class.shape == (10,) and scores.diversity_per_class.shape == (10,)
    expect("real digits scored as samples, conditional accuracy", scores.accuracy, above=0.8)
    expect("real digits scored as samples, Fréchet distance / floor", scores.frechet_ratio, above=0.2,
           below=2.0)  # about 1 (0.8 to 1.3 over seeds): as close to the reference as the other half
    expect("real digits scored as samples, sharpness / real", scores.sharpness, above=0.9, below=1.1)
    expect("real digits scored as samples, diversity / real", scores.diversity, above=0.85, below=1.15)
    assert set(scores.as_dict()) >= {"accuracy", "worst_class_accuracy", "frechet", "frechet_floor",
                                     "sharpness", "diversity", "diversity_per_class"}
    assert "conditional accuracy" in scores.report("real") and "diversity" in scores.report("real")


def test_wrong_labels_and_noise_score_badly(small_classifier, mnist, seed):
    _, model = small_classifier
    (x_train, y_train), (x_test, y_test) = mnist
    wrong = classifier.score_samples(model, x_train[:1000], (y_train[:1000] + 1) % 10, x_test[:2000],
                                     y_test[:2000])
    expect("real digits with labels shifted by one, conditional accuracy", wrong.accuracy, below=0.2)
    noise = np.random.default_rng(seed).uniform(size=(1000, 28, 28)).astype("float32")
    noisy = classifier.score_samples(model, noise, y_train[:1000], x_test[:2000], y_test[:2000])
    expect("uniform noise, Fréchet distance / floor", noisy.frechet_ratio, above=20)
    expect("uniform noise, sharpness / real", noisy.sharpness, above=1.2)  # pixels jump more than strokes


def test_blur_and_collapse_show_in_sharpness_and_diversity(small_classifier, mnist):
    _, model = small_classifier
    (x_train, y_train), (x_test, y_test) = mnist
    images = x_train[:1000].astype("float32") / 255
    blurred = (images + np.roll(images, 1, axis=1) + np.roll(images, 1, axis=2)) / 3
    scores = classifier.score_samples(model, blurred, y_train[:1000], x_test[:2000], y_test[:2000])
    expect("blurred real digits, sharpness / real", scores.sharpness, below=0.7)
    first_of_each = np.array([np.flatnonzero(y_train == d)[0] for d in range(10)])
    labels = np.repeat(np.arange(10), 50)
    collapsed = classifier.score_samples(model, x_train[first_of_each[labels]], labels, x_test[:2000],
                                         y_test[:2000])
    assert collapsed.diversity == pytest.approx(0.0, abs=1e-6)  # one image per digit: no variety
    assert "least varied" in collapsed.report()


def test_training_is_repeatable_and_leaves_this_process_alone(tmp_path, mnist):
    import random

    before = random.getstate(), np.random.get_state()[1].copy()  # noqa: NPY002 (the global RNG)
    paths = [tmp_path / f"run{i}.weights.h5" for i in (1, 2)]
    models = [classifier.load_classifier(path=p, epochs=1, n_train=512, seed=3, verbose=False) for p in paths]
    assert random.getstate() == before[0]
    np.testing.assert_array_equal(np.random.get_state()[1], before[1])  # noqa: NPY002
    for a, b in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the same seed trains to the same weights
    other = classifier.load_classifier(path=tmp_path / "run3.weights.h5", epochs=1, n_train=512, seed=4,
                                       verbose=False)
    assert not np.array_equal(other.get_weights()[0], models[0].get_weights()[0])


def test_score_samples_refuses_bad_labels(small_classifier, mnist):
    _, model = small_classifier
    images, labels = mnist[1][0][:100], mnist[1][1][:100]
    with pytest.raises(ValueError, match="labels must be integers"):
        classifier.score_samples(model, images, labels.astype(float), images, labels)
    with pytest.raises(ValueError, match="test_labels must be integers of shape"):
        classifier.score_samples(model, images, labels, images, labels[:50])
    with pytest.raises(ValueError, match="cover all of them"):
        classifier.score_samples(model, images, np.zeros(100, dtype=int), images, labels)


def test_an_unloadable_cache_says_what_to_do(tmp_path):
    broken = tmp_path / "clf.weights.h5"
    broken.write_bytes(b"not a keras file")
    with pytest.raises(RuntimeError, match="delete the file to train it again"):
        classifier.load_classifier(path=broken)


def test_share_of_digits_at_twice_chance_counts_digits_not_samples():
    per_class = np.array([1.0, 0.9, 0.2, 0.19, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5])  # 2 of 10 below 2/10
    scores = classifier.GeneratorScores(accuracy=0.5, per_class=per_class, frechet=1.0, frechet_floor=1.0,
                                        sharpness=1.0, diversity_per_class=np.ones(10))
    assert scores.share_of_digits_at_twice_chance == pytest.approx(0.8)  # 0.2 itself counts
