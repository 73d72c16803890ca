"""The exercise checks accept right answers and name the usual mistakes."""

import json

import numpy as np
import pytest
import tensorflow as tf

from helpers import checks


def bce(target, logits):
    return target * np.logaddexp(0, -logits) + (1 - target) * np.logaddexp(0, logits)


def kl(mean, log_var):
    return 0.5 * np.sum(mean**2 + np.exp(log_var) - log_var - 1, axis=-1)


def log_lik(x, logits):
    return np.sum(-bce(x, logits), axis=-1)


RIGHT = {
    checks.check_reparameterize: lambda mean, log_var, eps: mean + np.exp(0.5 * log_var) * eps,
    checks.check_kl: kl,
    checks.check_elbo: lambda x, logits, mean, log_var: log_lik(x, logits) - kl(mean, log_var),
    checks.check_discriminator_loss: lambda real, fake: bce(1, real).mean() + bce(0, fake).mean(),
    checks.check_generator_loss: lambda fake: bce(1, fake).mean(),
}


@pytest.mark.parametrize("check", RIGHT, ids=lambda c: c.__name__)
def test_right_answers_pass(check, capsys):
    assert check(RIGHT[check]) is None  # nothing for the notebook to echo under the ✓ line
    assert capsys.readouterr().out.startswith("✓")


def test_tensorflow_implementations_pass_too(capsys):
    def tf_discriminator_loss(real, fake):
        real_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(real), logits=real)
        fake_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(fake), logits=fake)
        return tf.reduce_mean(real_loss) + tf.reduce_mean(fake_loss)

    checks.check_discriminator_loss(tf_discriminator_loss)
    checks.check_kl(lambda m, v: 0.5 * tf.reduce_sum(m**2 + tf.exp(v) - v - 1, axis=-1))
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("check", RIGHT, ids=lambda c: c.__name__)
def test_stub_fails_with_a_helpful_message(check):
    def stub(*args):
        raise NotImplementedError("your code here")

    with pytest.raises(checks.ExerciseError, match="not implemented yet"):
        check(stub)


@pytest.mark.parametrize("check", RIGHT, ids=lambda c: c.__name__)
def test_forgotten_return_is_named(check):
    with pytest.raises(checks.ExerciseError, match="returned None"):
        check(lambda *args: None)


MISTAKES = [
    (checks.check_reparameterize, lambda m, v, e: m + np.exp(v) * e, "variance"),
    (checks.check_reparameterize, lambda m, v, e: np.exp(0.5 * v) * e, "mean is missing"),
    (checks.check_reparameterize, lambda m, v, e: m + np.exp(0.5 * v), "eps is missing"),
    (checks.check_kl, lambda m, v: 0.5 * (m**2 + np.exp(v) - v - 1), "per latent dimension"),
    (checks.check_kl, lambda m, v: np.sum(m**2 + np.exp(v) - v - 1, axis=-1), "factor 1/2"),
    (checks.check_kl, lambda m, v: -kl(m, v), "sign"),
    (checks.check_kl, lambda m, v: 0.5 * np.sum(m**2 + np.exp(v) - v, axis=-1), "'- 1'"),
    (checks.check_kl, lambda m, v: np.mean(kl(m, v)), "single number"),
    (checks.check_elbo, lambda x, a, m, v: kl(m, v) - log_lik(x, a), "negative ELBO"),
    (checks.check_elbo, lambda x, a, m, v: log_lik(x, a), "KL term is missing"),
    (checks.check_elbo, lambda x, a, m, v: log_lik(x, a) + kl(m, v), "subtracted"),
    (checks.check_elbo, lambda x, a, m, v: log_lik(x, a) / 784 - kl(m, v), "averaged"),
    (checks.check_discriminator_loss, lambda r, f: bce(0, r).mean() + bce(1, f).mean(), "swapped"),
    (checks.check_discriminator_loss, lambda r, f: bce(1, r).mean(), "missing"),
    (checks.check_discriminator_loss, lambda r, f: bce(1, r).sum() + bce(0, f).sum(), "one number|summed"),
    (checks.check_generator_loss, lambda f: -bce(0, f).mean(), "saturating"),
    (checks.check_generator_loss, lambda f: bce(0, f).mean(), "target 1"),
]


@pytest.mark.parametrize(("check", "wrong", "hint"), MISTAKES, ids=lambda x: x if isinstance(x, str) else "")
def test_usual_mistakes_are_named(check, wrong, hint):
    with pytest.raises(checks.ExerciseError, match=hint):
        check(wrong)


def test_passing_something_else_than_a_function():
    with pytest.raises(checks.ExerciseError, match="pass your function itself"):
        checks.check_kl(0.5)


@pytest.mark.parametrize("check", RIGHT, ids=lambda c: c.__name__)
def test_grading_judges_recorded_answers_like_the_check_does(check):
    exercise = checks.EXERCISES[check.__name__]
    records = checks.answers(exercise, RIGHT[check], seed=12345)
    json.dumps(records)  # what crosses the sandbox's pipe
    calls = exercise.draw(np.random.default_rng(12345))
    assert checks.judge(exercise, calls, checks.decode_answers(records, len(calls))).startswith(exercise.name)
    other = exercise.draw(np.random.default_rng(54321))  # answers to one seed's cases fail another's
    with pytest.raises(checks.ExerciseError):
        checks.judge(exercise, other, checks.decode_answers(records, len(other)))


def test_recorded_faults_give_the_studying_message():
    def stub(mean, log_var):
        raise NotImplementedError

    def broken(mean, log_var):
        raise KeyError("a message the grader must not echo")

    for fn, message in ((stub, "not implemented yet"), (broken, "raised an error")):
        records = checks.answers(checks.KL, fn, seed=1)
        calls = checks.KL.draw(np.random.default_rng(1))
        with pytest.raises(checks.ExerciseError, match=message) as error:
            checks.judge(checks.KL, calls, checks.decode_answers(records, len(calls)))
        assert "must not echo" not in str(error.value)


@pytest.mark.parametrize("records", [
    None, [], [{"fault": "anything I like"}, {"fault": "raised"}],
    [{"shape": [2], "float64": "AAAA"}, {"fault": "raised"}],  # data that does not fill the shape
    [{"shape": [10**7], "float64": ""}, {"fault": "raised"}],
    [{"shape": [1], "float64": "AAAAAAAAAAA=", "message": "✓ trust me"}, {"fault": "raised"}],
])
def test_malformed_answers_are_refused(records):
    with pytest.raises(ValueError):
        checks.decode_answers(records, 2)


def test_the_numpy_kl_reference_matches_the_courses_keras_one():
    from helpers.vae import kl_to_standard_normal

    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    expected = kl_to_standard_normal(mean, log_var)
    np.testing.assert_allclose(checks.kl_reference(mean, log_var), expected, rtol=1e-6)
