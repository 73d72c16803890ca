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


def test_one_pass_gives_the_same_features_and_digits(small_classifier, mnist):
    _, model = small_classifier
    images = mnist[1][0][:300]
    features, digits = classifier.features_and_digits(model, images)
    np.testing.assert_allclose(features, classifier.classifier_features(model, images), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(digits, classifier.predict_digits(model, images))
    assert len(set(digits.tolist())) > 5  # not a constant answer


def test_bad_input_is_refused(small_classifier):
    _, model = small_classifier
    with pytest.raises(ValueError, match=r"images: expected \(N, 28, 28\)"):
        classifier.predict_digits(model, np.zeros((3, 10, 10)))
    with pytest.raises(ValueError, match="epochs"):
        classifier.load_classifier(path="/nonexistent/dir/x.weights.h5", epochs=0)
    with pytest.raises(ValueError, match=r"must end in \.weights\.h5"):
        classifier.load_classifier(path="/nonexistent/dir/x.keras")


@pytest.mark.slow
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


def test_an_unloadable_cache_says_what_to_do(tmp_path):
    broken = tmp_path / "clf.weights.h5"
    broken.write_bytes(b"not a keras file")
    with pytest.raises(RuntimeError, match="delete the file to train it again"):
        classifier.load_classifier(path=broken)
