"""The CGAN benchmark's reference (the keras-io recipe) and the race's bookkeeping."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import cgan, keras_cgan
from tools.course import load_course_model

pytestmark = pytest.mark.bench  # the benchmarks' own tests: `make test-classroom`, not `make test`


def test_the_recipe_shows_the_label_as_a_band_of_rows_and_planes_as_planes():
    one_hot = tf.one_hot([3, 7], 10)
    recipe = keras_cgan.label_channels(one_hot, "recipe").numpy()
    assert recipe.shape == (2, 28, 28, 10)
    for image, rows in zip(recipe, ([8, 9, 10, 11], [19, 20, 21, 22]), strict=True):
        assert np.flatnonzero(image.sum(axis=(1, 2))).tolist() == rows  # 784 / 10 rows per digit
    planes = keras_cgan.label_channels(one_hot, "planes").numpy()
    assert np.all(planes[0, :, :, 3] == 1) and planes[0].sum() == 28 * 28
    with pytest.raises(ValueError, match="layout"):
        keras_cgan.label_channels(one_hot, "rows")


def test_the_recipe_networks_have_its_shapes_and_size():
    generator, discriminator = keras_cgan.make_generator(), keras_cgan.make_discriminator()
    assert generator.input_shape == (None, 138) and generator.output_shape == (None, 28, 28, 1)
    assert discriminator.input_shape == (None, 28, 28, 11) and discriminator.output_shape == (None, 1)
    # Dense(138 -> 7*7*138), two Conv2DTranspose(128, 4x4), Conv2D(1, 7x7); Conv2D 64 and 128 (3x3), Dense(1)
    assert generator.count_params() == (138 * 6762 + 6762) + (16 * 138 * 128 + 128) + (16 * 128 * 128 + 128) \
        + (49 * 128 + 1)
    assert discriminator.count_params() == (9 * 11 * 64 + 64) + (9 * 64 * 128 + 128) + (128 + 1)


@pytest.mark.slow
def test_a_recipe_step_updates_both_players(mnist):
    generator, discriminator = keras_cgan.make_generator(), keras_cgan.make_discriminator()
    step, optimizers = keras_cgan.make_train_step(generator, discriminator, seed=0)
    (x, y), _ = mnist
    before = [w.numpy().copy() for w in (generator.weights[0], discriminator.weights[0])]
    losses = step(tf.constant(x[:16, ..., None] / 255, tf.float32), tf.constant(y[:16], tf.int32))
    assert np.isfinite(float(losses["d_loss"])) and np.isfinite(float(losses["g_loss"]))
    after = [generator.weights[0].numpy(), discriminator.weights[0].numpy()]
    assert all(not np.allclose(b, a) for b, a in zip(before, after, strict=True))
    assert set(optimizers) == {"generator_optimizer", "discriminator_optimizer"}


def point(seconds, accuracy, frechet, precision=0.8, recall=0.8):
    return {"train_seconds": seconds, "accuracy": accuracy, "worst_digit": accuracy - 0.05,
            "frechet_ratio": frechet, "precision": precision, "recall": recall}


def test_reaching_needs_every_score_at_once():
    target = point(600, 0.9, 3.0)
    assert cgan.reaches(point(0, 0.95, 2.0), target)
    assert not cgan.reaches(point(0, 0.95, 3.5), target)  # Fréchet distance too high
    assert not cgan.reaches(point(0, 0.95, 2.0, recall=0.7), target)
    curve = [point(60, 0.5, 9.0), point(120, 0.92, 3.2), point(180, 0.93, 2.9)]
    assert cgan.first_reach(curve, target) == 180
    assert cgan.first_reach(curve[:2], target) is None
    final = cgan.final_scores([point(1, 0.1, 9.0), point(2, 0.9, 3.0), point(3, 0.8, 4.0),
                               point(4, 0.85, 2.0)])
    assert final["accuracy"] == pytest.approx(0.85) and final["frechet_ratio"] == pytest.approx(3.0)


def test_the_race_is_tabulated_and_drawn(tmp_path):
    curve = [point(60 * i, 0.1 + 0.08 * i, 50.0 / (i + 1)) for i in range(11)]
    reference = [point(60 * i, 0.1 + 0.05 * i, 80.0 / (i + 1)) for i in range(11)]
    results = cgan.summarise({"config": {"budget_seconds": 600.0}, "course": {"curve": curve},
                              "reference": {"curve": reference, "projected_seconds_for_the_recipe": 7200.0}})
    # at 6 min the course's 0.58 and 7.1x first beat the reference's final 0.55 and 8.0x
    assert results["course"]["seconds_to_reference_final"] == 360.0
    assert results["time_ratio"] == pytest.approx(360.0 / 600.0) and not results["reference"]["at_chance"]
    table = cgan.markdown(results)
    row = "| training time to the reference's final scores | 10.0 min (its whole budget) | 6.0 min (0.60x) |"
    assert row in table
    assert "2.0 h" in table and "chance" not in table
    untrained = [point(60 * i, 0.11, 400.0) for i in range(11)]
    flat = cgan.summarise({"config": {"budget_seconds": 600.0}, "course": {"curve": curve},
                           "reference": {"curve": untrained, "projected_seconds_for_the_recipe": 7200.0}})
    assert flat["reference"]["at_chance"] and "less than twice as often as chance" in cgan.markdown(flat)
    assert "at most 1.0 min, its first score (at most 0.10x)" in cgan.markdown(flat)  # reached at once
    cgan.figure(results, tmp_path / "race.png", {"cores": 2})
    assert (tmp_path / "race.png").stat().st_size > 10_000


@pytest.mark.slow
def test_the_course_step_trains_on_the_notebooks_cosine_schedule(mnist):
    course = load_course_model(cgan.NOTEBOOK, extra={"NUM_CLASSES": 10})
    (x, y), _ = mnist
    side = cgan.course_contender(course, x[:256], y[:256], seed=0)
    generator, optimizer = side.networks["generator"], side.networks["generator_optimizer"]
    start = [w.numpy().copy() for w in generator.trainable_weights]
    side.train_for(1e-9)  # one step
    assert side.steps == 1
    assert all(not np.allclose(w.numpy(), s) for w, s in zip(generator.trainable_weights, start, strict=True))
    total = course["FULL_EPOCHS"] * (256 // course["BATCH_SIZE"])
    rate = optimizer.learning_rate  # the schedule's value now: a half cosine from LEARNING_RATE to 0
    expected = course["LEARNING_RATE"] * 0.5 * (1 + np.cos(np.pi * 1 / total))
    assert float(rate) == pytest.approx(expected, rel=1e-5)
    images = side.generate(np.zeros((3, side.noise_dim), "float32"), np.arange(3, dtype="int32"))
    assert images.shape == (3, 28, 28, 1) and images.min() >= 0 and images.max() <= 1


@pytest.mark.slow
def test_the_vae_of_notebook_09_trains_samples_and_reports_its_active_units(mnist, tmp_path):
    course = load_course_model(cgan.CVAE_NOTEBOOK, extra={"NUM_CLASSES": 10})
    (x, y), _ = mnist
    side = cgan.cvae_contender(course, x[:256], y[:256], seed=0, schedule_epochs=3)
    encoder, decoder = side.networks["encoder"], side.networks["decoder"]
    assert encoder.output_shape == [(None, side.noise_dim), (None, side.noise_dim)]
    assert decoder.output_shape == (None, 28, 28, 1)  # logits: the generator's architecture, no sigmoid
    start = [w.numpy().copy() for w in (*encoder.trainable_weights, *decoder.trainable_weights)]
    side.train_for(1e-9)  # one step moves every weight of both networks
    after = [w.numpy() for w in (*encoder.trainable_weights, *decoder.trainable_weights)]
    assert side.steps == 1 and all(not np.allclose(a, b) for a, b in zip(start, after, strict=True))
    total = 3 * (256 // course["CVAE_BATCH_SIZE"])  # the GAN's schedule, over 3 epochs of the VAE's batches
    expected = course["CVAE_LEARNING_RATE"] * 0.5 * (1 + np.cos(np.pi * 1 / total))
    assert float(side.networks["optimizer"].learning_rate) == pytest.approx(expected, rel=1e-5)
    kl = cgan.kl_per_dimension(side, x[:64], y[:64])
    assert kl.shape == (side.noise_dim,) and np.all(kl >= 0)
    grid = cgan.sample_grid(side, seed=0)
    assert grid.shape == (10, cgan.SAMPLES_PER_DIGIT, 28, 28) and 0 <= grid.min() and grid.max() <= 1
    cgan.samples_figure({"one": grid, "two": grid}, tmp_path / "samples.png", minutes=10)
    assert (tmp_path / "samples.png").stat().st_size > 10_000


def test_the_vae_decoder_of_notebook_09_has_the_generator_layers_of_notebook_08():
    # The race compares objectives only if 09's decoder stays 08's generator (its input and output aside).
    gan = load_course_model(cgan.NOTEBOOK, extra={"NUM_CLASSES": 10})
    vae = load_course_model(cgan.CVAE_NOTEBOOK, extra={"NUM_CLASSES": 10})

    def layers(model, skip):  # name, kind and output shape of every layer between the inputs and the output
        return [(layer.name, type(layer).__name__, layer.output.shape) for layer in model.layers
                if layer.name not in skip and not isinstance(layer, keras.layers.InputLayer)]

    generator, decoder = gan["make_generator"](), vae["make_conv_decoder"]()
    assert (layers(generator, {"noise_and_label", "up_to_28x28"})
            == layers(decoder, {"code_and_label", "pixel_logits"}))


def test_the_race_table_has_a_column_for_the_vae():
    curve = [point(60 * i, 0.1 + 0.08 * i, 50.0 / (i + 1)) for i in range(11)]
    reference = [point(60 * i, 0.1 + 0.05 * i, 80.0 / (i + 1)) for i in range(11)]
    vae = [{**point(60 * i, 0.1 + 0.085 * i, 200.0 / (i + 1), recall=0.0), "sharpness": 0.5,
            "diversity": 0.4, "style_diversity": 0.7} for i in range(11)]
    results = cgan.summarise({"config": {"budget_seconds": 600.0}, "course": {"curve": curve},
                              "reference": {"curve": reference, "projected_seconds_for_the_recipe": 7200.0},
                              "cvae": {"curve": vae, "code_dim": 16, "active_units": 9}})
    assert results["cvae"]["seconds_to_reference_final"] is None  # its recall never reaches 0.8
    assert results["cvae"]["final"]["style_diversity"] == pytest.approx(0.7)
    table = cgan.markdown(results)
    assert "| conditional accuracy | 55.00% | 82.00% | 86.50% |" in table
    assert "| diversity in style space / real digits' | — | — | 0.70 |" in table  # not scored then
    assert "| training time to the reference's final scores | 10.0 min (its whole budget) " \
           "| 6.0 min (0.60x) | not reached |" in table
    assert "9 of its 16 dimensions" in table
    assert all(line.count("|") == 5 for line in table.splitlines() if line.startswith("|"))


def goals_run(seed, accuracy=0.995, worst=0.98, frechet=1.8, precision=0.85, recall=0.86, seconds=500.0):
    test = {"accuracy": accuracy, "worst_digit": worst, "frechet_ratio": frechet, "precision": precision,
            "recall": recall}
    return {"seed": seed, "epochs": 16, "train_seconds": seconds, "test": test,
            "real_test": {"precision": 0.87, "recall": 0.89}}


def test_the_goals_table_reports_every_seed_the_mean_the_worst_and_what_is_met():
    from benchmarks import cgan_goals

    results = {"machine": {"date": "2026-12-06", "cores": 2, "cpu": "test CPU"},
               "runs": [goals_run(1), goals_run(2, frechet=2.6, recall=0.80), goals_run(3, seconds=700.0)]}
    results["runs"][2]["real_test"] = {"precision": 0.86, "recall": 0.89}  # its own half B's real digits
    table = cgan_goals.markdown(results)
    assert "on 2026-12-06 (2 CPU cores, test CPU): notebook 08's model, 16 epochs" in table
    assert "An epoch took 35 s on average" in table  # (500 + 500 + 700) / 3 / 16
    assert "| 1 | 99.50% | 98.00% | 1.8x | 0.85 / 0.86 | 8.3 min |" in table
    assert "| worst seed | 99.50% | 98.00% | 2.6x | 0.85 / 0.80 | 11.7 min |" in table
    assert "≥ 0.81\N{EN DASH}0.82 / ≥ 0.84" in table  # the real digits' own, less 0.05, per seed
    met, not_met = table.split("Met by every seed: ")[1].split(". Not met: ")
    assert met == "accuracy, worst_digit, precision"
    assert not_met.strip() == "frechet_ratio, recall, train_seconds."


@pytest.mark.slow
def test_tuning_never_scores_on_the_test_set(monkeypatch):
    """Tuning scores on the validation split only; a reported run touches the test set once, at its end."""
    from benchmarks import cgan_goals

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (20_000, 28, 28), dtype=np.uint8)
    labels = np.tile(np.arange(10, dtype=np.uint8), 2_000)
    test_images = rng.integers(0, 255, (1_000, 28, 28), dtype=np.uint8)  # known by its identity
    monkeypatch.setattr(cgan_goals, "load_mnist", lambda: ((images, labels), (test_images, labels[:1_000])))
    seen, real = [], cgan_goals.real_digits

    def recording(classifier, train_images, train_labels, reference_images, *args, **kwargs):
        seen.append(reference_images is test_images)
        return real(classifier, train_images, train_labels, reference_images, *args, **kwargs)

    monkeypatch.setattr(cgan_goals, "real_digits", recording)
    tuned = cgan_goals.train_one(1, {"BATCH_SIZE": 256}, score_test=False, epochs=1)
    assert "test" not in tuned and seen == [False]
    reported = cgan_goals.train_one(1, {"BATCH_SIZE": 256}, score_test=True, epochs=1)
    assert set(reported["test"]) == set(cgan_goals.KEYS) and seen == [False, False, True]


def test_the_noise_is_scaled_and_the_spread_tabled_per_split():
    from benchmarks import cgan_yardstick

    seen = []
    generate = cgan_yardstick.scaled(lambda noise, labels: seen.append(noise) or labels, 1.5)
    assert generate(np.ones((2, 3), "float32"), "labels") == "labels"
    np.testing.assert_allclose(seen[0], 1.5)
    with pytest.raises(ValueError, match="positive"):
        cgan_yardstick.scaled(generate, 0)
    draws = [{"seed": s, "floor": 1.0 + s, "frechet": 4.0, "frechet_ratio": 4.0 / (1.0 + s), "recall": 0.7,
              "real_recall": 0.9} for s in range(3)]
    results = {"date": "today", "generator": "g.keras", "spread": {"validation": draws, "test": draws[:2]},
               "scales": [{"scale": 1.2, "accuracy": 0.99, "worst_digit": 0.97, "frechet_ratio": 3.0,
                           "precision": 0.8, "recall": 0.8}],
               "real_validation": {"precision": 0.88, "recall": 0.89}}
    table = cgan_yardstick.markdown(results)
    assert "| validation | mean | 2.00 | 4.00 | 2.44 | 0.70 | 0.90 |" in table  # floors 1, 2, 3
    assert "| validation | standard deviation | 1.00 | 0.00 |" in table
    assert "| test | range | 1.00 to 2.00 | 4.00 to 4.00 | 2.00 to 4.00 |" in table
    assert "| 1.2 | 99.00% | 97.00% | 3.00 | 0.80 | 0.80 |" in table


def test_each_yardstick_draw_uses_its_seed_for_the_halves_and_the_noise(monkeypatch):
    from types import SimpleNamespace

    from benchmarks import cgan_yardstick

    calls, reference = [], SimpleNamespace(frechet_train=2.0, recall_train=0.9)
    monkeypatch.setattr(cgan_yardstick, "real_digits",
                        lambda *args, seed: calls.append(("halves", seed)) or reference)
    monkeypatch.setattr(cgan_yardstick, "generator_scores", lambda generate, dim, classifier, ref, seed:
                        calls.append(("noise", seed)) or {"frechet_ratio": 3.0, "recall": 0.7})
    rows = cgan_yardstick.yardstick_rows(None, 4, None, None, None, None, None, (0, 5))
    assert calls == [("halves", 0), ("noise", 0), ("halves", 5), ("noise", 5)]
    assert rows[1] == {"seed": 5, "floor": 2.0, "frechet": 6.0, "frechet_ratio": 3.0, "recall": 0.7,
                       "real_recall": 0.9}
