import numpy as np
import pytest

from helpers import classifier


@pytest.fixture(scope="module")
def small_classifier(tmp_path_factory):
    """A classifier trained briefly (2 epochs on 3,000 images), cached in a temporary folder."""
    path = tmp_path_factory.mktemp("clf") / "clf.keras"
    model = classifier.load_classifier(path=path, epochs=2, n_train=3000, verbose=False)
    return path, model


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
    assert accuracy > 0.8


def test_features_have_the_penultimate_width(small_classifier, mnist):
    _, model = small_classifier
    features = classifier.classifier_features(model, mnist[1][0][:20])
    assert features.shape == (20, 128) and np.isfinite(features).all()


def test_bad_input_is_refused(small_classifier):
    _, model = small_classifier
    with pytest.raises(ValueError, match="expected images shaped"):
        classifier.predict_digits(model, np.zeros((3, 10, 10)))
    with pytest.raises(ValueError, match="epochs"):
        classifier.load_classifier(path="/nonexistent/dir/x.keras", epochs=0)


def test_real_images_score_like_real_images(small_classifier, mnist):
    _, model = small_classifier
    (x_train, y_train), (x_test, _) = mnist
    scores = classifier.score_samples(model, x_train[:1000], y_train[:1000], x_test[:2000])
    assert scores.accuracy > 0.8 and scores.per_class.shape == (10,)
    assert 0.3 < scores.frechet_ratio < 3.0  # real training digits sit at about the floor
    assert set(scores.as_dict()) >= {"accuracy", "worst_class_accuracy", "frechet", "frechet_floor"}
    assert "conditional accuracy" in scores.report("real")


def test_wrong_labels_and_noise_score_badly(small_classifier, mnist):
    _, model = small_classifier
    (x_train, y_train), (x_test, _) = mnist
    wrong = classifier.score_samples(model, x_train[:1000], (y_train[:1000] + 1) % 10, x_test[:2000])
    assert wrong.accuracy < 0.2
    noise = np.random.default_rng(0).uniform(size=(1000, 28, 28)).astype("float32")
    noisy = classifier.score_samples(model, noise, y_train[:1000], x_test[:2000])
    assert noisy.frechet_ratio > 20


def test_score_samples_refuses_bad_labels(small_classifier, mnist):
    _, model = small_classifier
    images = mnist[1][0][:20]
    with pytest.raises(ValueError, match="labels must be integers"):
        classifier.score_samples(model, images, np.zeros(20, dtype=float), images)
    with pytest.raises(ValueError, match="cover all ten"):
        classifier.score_samples(model, images, np.zeros(20, dtype=int), images)
