"""The notebooks' quick-mode checks catch the bugs they are there for: each bound, read from the
notebook itself, fails for a plausible mistake (an untrained model, labels ignored, a wrong KL)."""

import ast
import contextlib
import json
import os
from unittest import mock

import numpy as np
import pytest

from helpers import scoring
from helpers.config import CHECK_LOG_ENV
from helpers.data import make_dataset, split_validation, stratified_subset, to_float
from helpers.expect import expect
from tools.course import cell_source, course_model_sources, load_course_model, notebook_path, read_notebook


@contextlib.contextmanager
def planted_bug():
    """The check inside must fail; it stays out of `make margins`' log, which holds checks that must pass."""
    with mock.patch.dict(os.environ), pytest.raises(AssertionError):
        os.environ.pop(CHECK_LOG_ENV, None)
        yield


def _code_cell_trees(notebook: str) -> list[ast.Module]:
    """The parsed source of each code cell of `notebook`, in order."""
    cells = read_notebook(notebook_path(notebook))["cells"]
    return [ast.parse(cell_source(c)) for c in cells if c["cell_type"] == "code"]


def notebook_bound(notebook: str, check: str, side: str, mode: str = "quick") -> float:
    """The `above=`/`below=` bound that notebook's expect(check, ...) uses in that mode."""
    for tree in _code_cell_trees(notebook):
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "expect"
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value == check):
                bound = next(k.value for k in node.keywords if k.arg == side)
                if isinstance(bound, ast.Call):  # by_mode(quick=..., full=...)
                    bound = next(k.value for k in bound.keywords if k.arg == mode)
                return float(ast.literal_eval(bound))
    raise ValueError(f"{notebook}: no expect({check!r}, ...) call")


def notebook_constant(notebook: str, name: str) -> object:
    """The literal a code cell of `notebook` assigns to `name` (alone, or in a tuple: `K, N = 200, 1000`)."""
    for tree in _code_cell_trees(notebook):
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
                both_tuples = isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
                pairs = zip(target.elts, value.elts, strict=True) if both_tuples else [(target, value)]
                for t, v in pairs:
                    if isinstance(t, ast.Name) and t.id == name:
                        return ast.literal_eval(v)
    raise ValueError(f"{notebook}: no literal assigned to {name}")


def test_expect_raises_with_the_numbers(monkeypatch):
    monkeypatch.delenv(CHECK_LOG_ENV, raising=False)  # made-up checks: nothing for `make margins`
    assert expect("x", 2.0, above=1.0, below=3.0) is None  # a cell ending with a check shows nothing
    with pytest.raises(AssertionError, match=r"x = 0.5, expected above 1$"):
        expect("x", 0.5, above=1.0)
    with pytest.raises(AssertionError, match=r"x = 4, expected above 1 and below 3$"):
        expect("x", 4.0, above=1.0, below=3.0)
    with pytest.raises(AssertionError, match=r"not a finite number \(expected above 0\)"):
        expect("x", float("nan"), above=0.0)
    with pytest.raises(ValueError, match="give a bound"):
        expect("x", 1.0)


def test_an_untrained_conv_vae_fails_notebook_05s_elbo_check(mnist):
    course = load_course_model(notebook_path("05_conv_vae"))
    encoder, decoder = course["make_encoder"](2), course["make_decoder"](2)
    test_ds = make_dataset(mnist[1][0][:1000], batch_size=500, binarize=True)
    untrained = course["make_evaluator"](encoder, decoder)(test_ds)
    bound = notebook_bound("05_conv_vae", "05 final test ELBO (nats per image)", "above")
    with planted_bug():
        expect("untrained conv VAE, test ELBO", untrained, above=bound)


@pytest.mark.slow  # trains a VAE for an epoch
def test_a_missing_or_doubled_log_k_fails_notebook_05s_iwae_check(mnist, seed):
    import keras

    notebook = notebook_path("05_conv_vae")
    course = load_course_model(notebook)
    keras.utils.set_random_seed(seed)
    (train_images, train_labels), (val_images, _) = split_validation(*mnist[0])
    train_images, _ = stratified_subset(train_images, train_labels, 12_000, seed=seed)  # quick mode's epoch
    encoder, decoder = course["make_encoder"](2), course["make_decoder"](2)
    step = course["make_train_step"](encoder, decoder, keras.optimizers.Adam(course["LEARNING_RATE"]))
    for x in make_dataset(train_images, batch_size=course["BATCH_SIZE"], shuffle=True, seed=seed,
                          binarize=True, drop_remainder=True):
        step(x)
    k, n_images = (notebook_constant("05_conv_vae", name) for name in ("K", "N_IWAE"))
    x_val = to_float(val_images[:n_images], binarize=True)
    source = next(s for s in course_model_sources(notebook) if "def iwae_bound" in s)
    assert source.count(" - np.log(k)") == 1

    def gap(planted):  # IWAE - ELBO on the same images, with the notebook's -log K replaced by `planted`
        namespace = dict(course)
        exec(source.replace(" - np.log(k)", planted), namespace)
        estimate = namespace["iwae_estimate"]
        return estimate(encoder, decoder, x_val, k) - estimate(encoder, decoder, x_val, 1)

    check = "05 IWAE bound - ELBO on the same images, smallest over latent sizes"
    above, below = (notebook_bound("05_conv_vae", check, side) for side in ("above", "below"))
    expect("the notebook's IWAE - ELBO", gap(" - np.log(k)"), above=above, below=below)
    for bug, planted in (("no -log K", ""), ("-log K twice", " - 2 * np.log(k)")):
        with planted_bug():
            expect(f"IWAE with {bug} - ELBO", gap(planted), above=above, below=below)


@pytest.mark.parametrize(("notebook", "name"), [("06_conditional_vae", "06 conditional VAE"),
                                                ("08_cgan", "08 conditional GAN")])
def test_a_generator_that_ignores_its_label_fails_the_accuracy_check(brief_classifier, reference, mnist,
                                                                     notebook, name):
    (x_train, _), _ = mnist
    images = x_train[:len(reference.labels)]  # real digits, but not the ones asked for
    scores = scoring.score_generator(brief_classifier, images, reference.labels, reference)
    with planted_bug():
        expect("label ignored, conditional accuracy", scores.accuracy,
               above=notebook_bound(notebook, f"{name}, conditional accuracy", "above"))


@pytest.mark.parametrize(("notebook", "name"), [("06_conditional_vae", "06 conditional VAE"),
                                                ("08_cgan", "08 conditional GAN")])
def test_noise_fails_the_frechet_check(brief_classifier, reference, notebook, name):
    noise = np.random.default_rng(0).uniform(size=(len(reference.labels), 28, 28)).astype("float32")
    scores = scoring.score_generator(brief_classifier, noise, reference.labels, reference)
    with planted_bug():
        expect("noise, Fréchet distance / fair floor", scores.frechet_ratio,
               below=notebook_bound(notebook, f"{name}, Fréchet distance / fair floor", "below"))


@pytest.mark.parametrize("bug", ["missing 1/2", "flipped sign of log_var", "standard deviation for variance"])
def test_a_wrong_closed_form_kl_fails_notebook_04s_monte_carlo_check(bug):
    rng = np.random.default_rng(0)  # notebook 04's q, with its number of samples
    mean, log_var = rng.normal(size=4), rng.normal(scale=0.7, size=4)
    z = mean + np.exp(0.5 * log_var) * rng.normal(size=(200_000, 4))
    log_q = -0.5 * (((z - mean) ** 2) / np.exp(log_var) + log_var + np.log(2 * np.pi))
    log_p = -0.5 * (z**2 + np.log(2 * np.pi))
    log_ratio = (log_q - log_p).sum(axis=1)
    kl_se = log_ratio.std() / np.sqrt(len(log_ratio))
    wrong = {"missing 1/2": np.sum(mean**2 + np.exp(log_var) - log_var - 1.0),
             "flipped sign of log_var": 0.5 * np.sum(mean**2 + np.exp(log_var) + log_var - 1.0),
             "standard deviation for variance": 0.5 * np.sum(mean**2 + np.exp(0.5 * log_var) - log_var - 1.0)}
    right = 0.5 * np.sum(mean**2 + np.exp(log_var) - log_var - 1.0)
    check = "04 KL, |Monte Carlo - closed form| in standard errors"
    bound = notebook_bound("04_elbo", check, "below")
    expect("right KL", abs(log_ratio.mean() - right) / kl_se, below=bound)
    with planted_bug():
        expect(f"KL with {bug}", abs(log_ratio.mean() - wrong[bug]) / kl_se, below=bound)


def test_every_check_is_logged_for_make_margins(monkeypatch, tmp_path):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("COURSE_CHECK_LOG", str(log))
    monkeypatch.setenv("COURSE_SEED", "3")
    monkeypatch.setenv("COURSE_QUICK", "1")
    expect("a", 1.5, above=1.0)
    with pytest.raises(AssertionError):
        expect("b", 0.5, above=1.0, below=2.0)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records == [
        {"check": "a", "value": 1.5, "above": 1.0, "below": None, "mode": "quick", "seed": 3},
        {"check": "b", "value": 0.5, "above": 1.0, "below": 2.0, "mode": "quick", "seed": 3},
    ]


def test_a_generator_that_draws_label_minus_5_for_half_the_digits_fails_the_per_digit_check(
        brief_classifier, reference, mnist):
    (x_train, y_train), _ = mnist
    drawn = reference.labels % 5  # asked for d or d + 5 (d < 5), the generator draws d
    rng = np.random.default_rng(0)
    picks = np.array([rng.choice(np.flatnonzero(y_train == d)) for d in drawn])  # real digits stand in
    scores = scoring.score_generator(brief_classifier, x_train[picks], reference.labels, reference)
    expect("labels 5-9 drawn as 0-4, conditional accuracy", scores.accuracy,
           above=notebook_bound("08_cgan", "08 conditional GAN, conditional accuracy", "above"))  # passes
    check = "08 conditional GAN, share of digits drawn at twice chance or better"
    with planted_bug():  # but the per-digit check notices
        expect("labels 5-9 drawn as 0-4, share of digits at twice chance",
               scores.share_of_digits_at_twice_chance, above=notebook_bound("08_cgan", check, "above"))


@pytest.mark.parametrize("bug", ["target 0 for the generated images", "the game's own log(1 - D), minimised"])
def test_a_wrong_generator_loss_fails_notebook_08s_check_at_a_rejected_image(bug):
    import tensorflow as tf

    course = load_course_model(notebook_path("08_cgan"), extra={"NUM_CLASSES": 10})
    wrong = {"target 0 for the generated images": lambda logits: tf.reduce_mean(
                 tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(logits), logits=logits)),
             "the game's own log(1 - D), minimised": lambda logits: tf.reduce_mean(-tf.nn.softplus(logits))}
    zeros, rejected = tf.zeros((8, 1)), tf.fill((8, 1), -2.0)
    if bug.startswith("target 0"):  # at D = 1/2 it gives log 2, as the right loss does: hence logit -2
        assert float(wrong[bug](zeros)) == pytest.approx(np.log(2))
    check = "08 L_G at logit -2 (a rejected image), |L_G - softplus(2)|"
    bound = notebook_bound("08_cgan", check, "below")
    right = float(course["generator_loss"](rejected))
    expect("the notebook's L_G", abs(right - np.logaddexp(0.0, 2.0)), below=bound)
    with planted_bug():
        expect(f"L_G with {bug}", abs(float(wrong[bug](rejected)) - np.logaddexp(0.0, 2.0)), below=bound)


@pytest.mark.parametrize("bug", ["product from s = 0, with a 1", "product from s = 2",
                                 "alpha_bar[t] for step t"])
def test_alpha_bar_one_index_off_fails_notebook_09s_first_step_check(bug):
    betas = np.linspace(1e-4, 0.02, 1000)  # notebook 09's schedule, its chains and its first step
    rng = np.random.default_rng(0)
    x = np.sqrt(1.0 - betas[0]) * np.zeros((2000, 784)) + np.sqrt(betas[0]) * rng.standard_normal((2000, 784))
    variance = x.var(axis=0).mean()
    right = np.cumprod(1.0 - betas)[0]
    wrong = {"product from s = 0, with a 1": np.cumprod(np.r_[1.0, 1.0 - betas])[0],
             "product from s = 2": np.cumprod(1.0 - betas[1:])[0],
             "alpha_bar[t] for step t": np.cumprod(1.0 - betas)[1]}[bug]
    check = "09 diffusion, chains' variance after 1 step / closed form 1 - alpha_bar_1"
    above, below = (notebook_bound("09_judging_generators", check, side) for side in ("above", "below"))
    expect("the right alpha_bar_1", variance / (1 - right), above=above, below=below)
    with planted_bug(), np.errstate(divide="ignore"):
        expect(f"alpha_bar with the {bug}", variance / (1 - wrong), above=above, below=below)


def _notebook_code(notebook: str, marker: str) -> str:
    """The source of the code cell of `notebook` that contains `marker`."""
    cells = read_notebook(notebook_path(notebook))["cells"]
    return next(cell_source(c) for c in cells if c["cell_type"] == "code" and marker in cell_source(c))


@pytest.mark.parametrize("bug", ["log p(z) left out", "the cell area left out"])
def test_a_grid_integral_that_drops_a_term_fails_notebook_04s_normalisation_check(bug):
    import tensorflow as tf
    import tensorflow_probability as tfp

    source = _notebook_code("04_elbo", "def exact_log_px")
    tree = ast.parse(source)
    wanted = [node for node in tree.body if isinstance(node, ast.FunctionDef)
              or (isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "HALF_WIDTH")]
    definitions = "\n\n".join(ast.get_source_segment(source, node) for node in wanted)
    planted = {"log p(z) left out": ("parts.append(log_lik + PRIOR.log_prob(z))", "parts.append(log_lik)"),
               "the cell area left out": ("(total + np.log(area))", "(total)")}[bug]
    assert definitions.count(planted[0]) == 1
    images = (np.random.default_rng(0).random((3, 784)) > 0.5).astype("float32")

    def normalisation(code: str) -> float:  # the notebook's check, on the notebook's functions
        namespace = {"np": np, "tf": tf, "decoder": None,
                     "PRIOR": tfp.distributions.MultivariateNormalDiag(tf.zeros(2), tf.ones(2))}
        exec(code, namespace)
        log_px = namespace["exact_log_px"](images, 480, decode=lambda z: tf.zeros((len(z), 784)))[0]
        return float(np.abs(log_px + 784 * np.log(2)).max())

    bound = notebook_bound("04_elbo", "04 grid integral, |log p(x) + 784 log 2| for a decoder that ignores z",
                           "below")
    expect("the notebook's grid integral", normalisation(definitions), below=bound)
    with planted_bug():
        expect(f"the grid integral with {bug}", normalisation(definitions.replace(*planted)), below=bound)


def test_a_flipped_saturating_loss_fails_notebook_07s_check():
    import tensorflow as tf

    source = _notebook_code("07_gan_2d", "07 saturating loss against mean log(1 - D)")
    line = next(ast.get_source_segment(source, node) for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "saturating")
    fake_logits = tf.constant(np.random.default_rng(0).normal(-4.0, 1.0, (10_000, 1)), tf.float32)  # rejected
    log_one_minus_d = np.log1p(-tf.sigmoid(fake_logits).numpy().astype("float64")).mean()

    def difference(code: str) -> float:
        namespace = {"tf": tf, "fake_logits": fake_logits}
        exec(code, namespace)
        return abs(float(namespace["saturating"]) - log_one_minus_d)

    check = "07 saturating loss against mean log(1 - D) computed apart, |difference|"
    bound = notebook_bound("07_gan_2d", check, "below")
    expect("the notebook's saturating loss", difference(line), below=bound)
    assert line.count("-tf.nn.softplus") == 1
    with planted_bug():
        expect("the saturating loss with its sign flipped", difference(line.replace("-tf.nn.softplus",
                                                                                    "tf.nn.softplus")),
               below=bound)


def test_a_mixture_density_missing_its_log_n_fails_notebook_04s_information_check():
    import tensorflow as tf

    from helpers.vae import kl_to_standard_normal

    source = _notebook_code("04_elbo", "def split_rate")
    definitions = "\n\n".join(ast.get_source_segment(source, node) for node in ast.parse(source).body
                              if isinstance(node, ast.FunctionDef))
    planted = ("- np.log(len(means))", "")
    assert definitions.count(planted[0]) == 1
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(0.0, 1.0, (2000, 2)), np.full((2000, 2), -3.0)], axis=1)

    def information(code: str) -> float:  # the notebook's split of the rate, for an encoder of spread codes
        namespace = {"np": np, "tf": tf, "N_AGG": 2000, "SEED": 0, "x_agg": None,
                     "kl_to_standard_normal": kl_to_standard_normal}
        exec(code, namespace)
        return namespace["split_rate"](lambda x: tf.constant(codes, tf.float32))[1]

    bound = notebook_bound("04_elbo", "04 aggregate posterior, I(x; z)", "above")
    expect("the notebook's I(x; z)", information(definitions), above=bound)
    with planted_bug():
        expect("I(x; z) with a mixture density missing its -log N",
               information(definitions.replace(*planted)), above=bound)
