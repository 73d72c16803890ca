"""`make bench PART=cgan`: notebook 08's conditional GAN against the Keras examples' recipe, side by side,
and against notebook 09's conditional convolutional VAE, built from the GAN's own networks.

The three models train on MNIST's training split in the same process, for the same wall-clock budget,
in alternating slices of a minute or so (so that a slow spell of the machine costs all the same). The
two course models share notebook 08's learning-rate schedule (a half cosine to 0 over its full-mode epochs).
The course's models are not copied here: the cells tagged `course-model` are executed (the GAN of
notebook 08's sections 3 and 4, the VAE of notebook 09's section 3), so the benchmark measures exactly what
students read. The reference is benchmarks/keras_cgan.py.

At regular points of each model's training time, training pauses and the generator is scored with
helpers.scoring against half B of the test set, generating exactly that half's labels: conditional
accuracy, worst digit, Fréchet distance as a multiple of the fair floor (training digits against the
same test digits), precision and recall. Scoring time is not training time. The result: both score
curves against training seconds, and the training time the course's model needs to reach all of the
reference's final scores at once, as a share of the reference's time. The VAE answers another
question: with the same networks, time and yardstick, how much of the GAN's lead is its objective?
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from benchmarks import keras_cgan
from helpers.classifier import load_classifier
from helpers.data import NUM_CLASSES, load_mnist, make_dataset, to_float
from helpers.scoring import RealDigits, real_digits, score_generator
from helpers.vae import kl_to_standard_normal
from tools.course import load_course_model, notebook_path

NOTEBOOK = notebook_path("08_cgan")  # the GAN
CVAE_NOTEBOOK = notebook_path("09_judging_generators")  # the VAE on the GAN's networks
FULL = {"budget_seconds": 600.0, "slice_seconds": 60.0}  # each model trains 10 min, scored every minute
SMOKE = {"budget_seconds": 12.0, "slice_seconds": 6.0, "n_train": 4096}
# Scores in which higher is better, and the one in which lower is: "reached" means all at once.
HIGHER_IS_BETTER = ("accuracy", "worst_digit", "precision", "recall")
LOWER_IS_BETTER = ("frechet_ratio",)
REPORTED_ONLY = ("sharpness", "diversity", "style_diversity")  # in the table, not in "reached"
SAMPLES_FIGURE = "cgan_samples.png"
SAMPLES_PER_DIGIT = 8
LEGEND = {"course": "course GAN", "reference": "keras-io GAN", "cvae": "conv CVAE"}
ACTIVE_NATS = 0.01  # a code dimension whose mean KL is below this carries (almost) nothing: inactive


@dataclass
class Contender:
    """One model in the race: its training step, its endless batches, its clock and its scores."""

    name: str
    step: Callable  # (images, labels) -> dict of losses
    batches: Iterator
    generate: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (noise, labels) -> images in [0, 1]
    noise_dim: int
    steps_per_epoch: int
    train_seconds: float = 0.0
    steps: int = 0
    first_step_seconds: float | None = None  # tracing and XLA compilation, counted in train_seconds
    curve: list[dict] = field(default_factory=list)
    networks: dict = field(default_factory=dict)  # by name, for inspection

    def train_for(self, seconds: float) -> None:
        """Take training steps until `seconds` more of training time have passed."""
        end = self.train_seconds + seconds
        while self.train_seconds < end:
            start = time.perf_counter()
            images, labels = next(self.batches)
            losses = self.step(images, labels)
            float(next(iter(losses.values())))  # wait for the step to finish
            self.train_seconds += time.perf_counter() - start
            self.steps += 1
            if self.steps == 1:
                self.first_step_seconds = self.train_seconds


COURSE_NAMES = ("BATCH_SIZE", "FULL_EPOCHS", "NOISE_DIM", "make_generator", "make_discriminator",
                "make_optimizer", "make_train_step")  # notebook 08 must define them
CVAE_NAMES = ("CVAE_BATCH_SIZE", "CVAE_LEARNING_RATE", "CVAE_CODE_DIM", "make_conv_encoder",
              "make_conv_decoder", "make_cvae_train_step")  # and notebook 09 these


def check_defined(course: dict, names: tuple[str, ...], notebook: str = "08") -> None:
    """Fail clearly if the notebook's course-model cells do not define `names`."""
    missing = [name for name in names if name not in course]
    if missing:
        raise ValueError(f"notebook {notebook}'s course-model cells do not define {', '.join(missing)}")


def course_contender(course: dict, train_images: np.ndarray, train_labels: np.ndarray,
                     seed: int) -> Contender:
    """Notebook 08's networks, optimizers and step, built fresh by its course-model cells' functions.

    make_generator() takes [noise, int labels] and gives images in [0, 1]; make_optimizer(total_steps)
    gives an optimizer whose learning rate is scheduled over total_steps (here the notebook's full-mode
    epochs); make_train_step(generator, discriminator, generator_optimizer, discriminator_optimizer,
    seed) returns the step, which takes (images, labels) and returns a dict with "d_loss".
    """
    check_defined(course, COURSE_NAMES)
    generator, discriminator = course["make_generator"](), course["make_discriminator"]()
    batch = course["BATCH_SIZE"]
    total_steps = course["FULL_EPOCHS"] * (len(train_images) // batch)  # the notebook's full-mode schedule
    optimizers = course["make_optimizer"](total_steps), course["make_optimizer"](total_steps)
    step = course["make_train_step"](generator, discriminator, *optimizers, seed)
    dataset = make_dataset(train_images, train_labels, batch_size=batch, shuffle=True, seed=seed,
                           drop_remainder=True).repeat()

    return Contender("course (notebook 08)", step, iter(dataset), sampler(generator), course["NOISE_DIM"],
                     len(train_images) // batch,
                     networks={"generator": generator, "discriminator": discriminator,
                               "generator_optimizer": optimizers[0]})


def cvae_contender(course: dict, train_images: np.ndarray, train_labels: np.ndarray, seed: int,
                   schedule_epochs: int) -> Contender:
    """Notebook 09's conditional conv VAE (section 3): its encoder, decoder and step, built fresh.

    Its learning rate follows the GAN's schedule (notebook 08): from its own rate to 0 along half a cosine
    over `schedule_epochs` epochs of its batches, so that the race compares the objectives, not the rates.
    It samples as notebook 06 does: a code z ~ N(0, I), decoded with the label, the pixels' Bernoulli means.
    """
    check_defined(course, CVAE_NAMES, "09")
    encoder, decoder = course["make_conv_encoder"](), course["make_conv_decoder"]()
    batch = course["CVAE_BATCH_SIZE"]
    rate = keras.optimizers.schedules.CosineDecay(course["CVAE_LEARNING_RATE"],
                                                  decay_steps=schedule_epochs * (len(train_images) // batch))
    optimizer = keras.optimizers.Adam(rate)
    step = course["make_cvae_train_step"](encoder, decoder, optimizer, seed)
    dataset = make_dataset(train_images, train_labels, batch_size=batch, shuffle=True, seed=seed,
                           drop_remainder=True).repeat()

    def generate(code, labels):
        logits = decoder.predict([code, labels], batch_size=500, verbose=0)
        return keras.ops.convert_to_numpy(keras.ops.sigmoid(logits))

    return Contender("conv conditional VAE (notebook 09)", step, iter(dataset), generate,
                     course["CVAE_CODE_DIM"], len(train_images) // batch,
                     networks={"encoder": encoder, "decoder": decoder, "optimizer": optimizer})


def kl_per_dimension(contender: Contender, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The VAE's mean KL(q(z_j | x, y) || N(0, 1)) for each code dimension j, in nats: its active units."""
    mean, log_var = contender.networks["encoder"].predict([to_float(images), labels.astype("int32")],
                                                          batch_size=500, verbose=0)
    per_dimension = kl_to_standard_normal(mean[..., None], log_var[..., None])  # sums over a length-1 axis
    return np.mean(keras.ops.convert_to_numpy(per_dimension), axis=0)


def reference_contender(train_images: np.ndarray, train_labels: np.ndarray, seed: int) -> Contender:
    """The keras-io recipe: its networks, its step, and its input pipeline (a 1,024-image shuffle buffer)."""
    generator, discriminator = keras_cgan.make_generator(), keras_cgan.make_discriminator()
    step, _ = keras_cgan.make_train_step(generator, discriminator, seed)
    dataset = (tf.data.Dataset.from_tensor_slices((to_float(train_images), train_labels.astype("int32")))
               .shuffle(1024, seed=seed).batch(keras_cgan.BATCH_SIZE).repeat())

    def generate(noise, labels):
        return np.concatenate([keras_cgan.generate(generator, noise[i:i + 500], labels[i:i + 500]).numpy()
                               for i in range(0, len(labels), 500)])

    return Contender("keras-io recipe (reference)", step, iter(dataset), generate, keras_cgan.NOISE_DIM,
                     -(-len(train_images) // keras_cgan.BATCH_SIZE))


def sampler(generator: keras.Model) -> Callable:
    """generate(noise, labels) for a Keras generator that takes [noise, int labels]: its images, batched."""
    def generate(noise, labels):
        return generator.predict([noise, labels], batch_size=500, verbose=0)

    return generate


def generator_scores(generate: Callable, noise_dim: int, classifier, reference: RealDigits,
                     seed: int) -> dict:
    """A generator's scores on one sample per label of the reference's half B, from fixed noise."""
    noise = np.random.default_rng(seed).normal(size=(len(reference.labels), noise_dim))
    labels = reference.labels.astype("int32")
    scores = score_generator(classifier, generate(noise.astype("float32"), labels), labels, reference)
    return {"accuracy": scores.accuracy, "worst_digit": scores.worst_digit,
            "frechet_ratio": scores.frechet_ratio, "precision": scores.precision, "recall": scores.recall,
            "sharpness": scores.sharpness, "diversity": scores.diversity,
            "style_diversity": scores.style_diversity}


def score(contender: Contender, classifier, reference: RealDigits, seed: int) -> dict:
    """The contender's scores now, on one sample per label of test half B (fixed noise)."""
    return {"train_seconds": contender.train_seconds, "steps": contender.steps,
            "epochs": contender.steps / contender.steps_per_epoch,
            **generator_scores(contender.generate, contender.noise_dim, classifier, reference, seed)}


def reaches(point: dict, target: dict) -> bool:
    """Whether a score point is at least as good as the target in every score."""
    return (all(point[k] >= target[k] for k in HIGHER_IS_BETTER)
            and all(point[k] <= target[k] for k in LOWER_IS_BETTER))


def race(contenders: list[Contender], classifier, reference: RealDigits, cfg: dict, seed: int) -> None:
    """Train the contenders in alternating slices until each has had the budget; score after each slice."""
    for contender in contenders:
        contender.curve.append(score(contender, classifier, reference, seed))  # untrained
    while any(c.train_seconds < cfg["budget_seconds"] for c in contenders):
        for contender in contenders:
            left = cfg["budget_seconds"] - contender.train_seconds
            if left <= 0:
                continue
            contender.train_for(min(cfg["slice_seconds"], left))
            contender.curve.append(score(contender, classifier, reference, seed))
            p = contender.curve[-1]
            print(f"{contender.name}: {p['train_seconds']:.0f} s, {p['steps']} steps, accuracy "
                  f"{p['accuracy']:.3f}, worst {p['worst_digit']:.3f}, Fréchet {p['frechet_ratio']:.2f}x, "
                  f"precision {p['precision']:.2f}, recall {p['recall']:.2f}", flush=True)


def first_reach(curve: list[dict], target: dict) -> float | None:
    """Training seconds of the first score point at least as good as the target in every score."""
    return next((p["train_seconds"] for p in curve if reaches(p, target)), None)


def final_scores(curve: list[dict], last: int = 3) -> dict:
    """A model's final scores: the median of its last few points (one GAN point is noisy)."""
    keys = [key for key in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER, *REPORTED_ONLY) if key in curve[-1]]
    return {key: float(np.median([p[key] for p in curve[-last:]])) for key in keys}


def run_cgan(smoke: bool = False, seed: int = 0) -> tuple[dict, dict[str, np.ndarray]]:
    """Race notebook 08's CGAN against the keras-io recipe and notebook 09's conv CVAE.

    Returns the curves and summary (for results.json), and each model's final sample grid (for the figure).
    """
    cfg = SMOKE if smoke else FULL
    keras.utils.set_random_seed(seed)
    (all_train, all_labels), (test_images, test_labels) = load_mnist()
    train_images, train_labels = all_train[: cfg.get("n_train")], all_labels[: cfg.get("n_train")]
    classifier = load_classifier()
    reference_digits = real_digits(classifier, all_train, all_labels, test_images, test_labels, seed=seed)
    course = load_course_model(NOTEBOOK, extra={"NUM_CLASSES": NUM_CLASSES})
    cvae_course = load_course_model(CVAE_NOTEBOOK, extra={"NUM_CLASSES": NUM_CLASSES})
    course_side = course_contender(course, train_images, train_labels, seed)
    reference_side = reference_contender(train_images, train_labels, seed)
    cvae_side = cvae_contender(cvae_course, train_images, train_labels, seed, course["FULL_EPOCHS"])
    contenders = [course_side, reference_side, cvae_side]
    race(contenders, classifier, reference_digits, cfg, seed)
    seconds_per_step = reference_side.train_seconds / max(reference_side.steps, 1)
    kl = kl_per_dimension(cvae_side, test_images, test_labels)  # a final measurement: the test set
    samples = {c.name: sample_grid(c, seed) for c in contenders}
    results = summarise({
        "config": {**cfg, "seed": seed, "course_batch": course["BATCH_SIZE"],
                   "schedule_epochs": course["FULL_EPOCHS"], "cvae_batch": cvae_course["CVAE_BATCH_SIZE"],
                   "reference_batch": keras_cgan.BATCH_SIZE, "label_layout": keras_cgan.LABEL_LAYOUT},
        "course": {"curve": course_side.curve, "first_step_seconds": course_side.first_step_seconds},
        "cvae": {"curve": cvae_side.curve, "first_step_seconds": cvae_side.first_step_seconds,
                 "batch": cvae_course["CVAE_BATCH_SIZE"], "code_dim": cvae_course["CVAE_CODE_DIM"],
                 "kl_per_dimension": kl.tolist(), "active_units": int(np.sum(kl > ACTIVE_NATS))},
        "reference": {"curve": reference_side.curve, "first_step_seconds": reference_side.first_step_seconds,
                      "seconds_per_step": seconds_per_step,
                      "projected_seconds_for_the_recipe": seconds_per_step * keras_cgan.RECIPE_STEPS_PER_EPOCH
                      * keras_cgan.EPOCHS},
        "samples_figure": SAMPLES_FIGURE,
    })
    return results, samples


def summarise(results: dict) -> dict:
    """Add what the curves say: final scores, times to the reference's final, their ratio, a chance flag.

    The ratio divides the course's time to reach all of the reference's final scores by the reference's
    whole training time (the time it took to get them), as the VAE benchmark does.
    """
    course, reference = results["course"], results["reference"]
    target = final_scores(reference["curve"])
    course_reach = first_reach(course["curve"], target)
    reference_seconds = reference["curve"][-1]["train_seconds"]
    reference.update(final=target, train_seconds=reference_seconds,
                     seconds_to_its_final=first_reach(reference["curve"], target),
                     at_chance=target["accuracy"] < 2 / NUM_CLASSES)
    course.update(final=final_scores(course["curve"]), seconds_to_reference_final=course_reach)
    if "cvae" in results:  # the VAE of notebook 09, section 3 (absent from older results)
        cvae = results["cvae"]
        cvae.update(final=final_scores(cvae["curve"]),
                    seconds_to_reference_final=first_reach(cvae["curve"], target))
    results["time_ratio"] = None if course_reach is None else course_reach / reference_seconds
    return results


def sample_grid(contender: Contender, seed: int) -> np.ndarray:
    """SAMPLES_PER_DIGIT samples of each digit from fixed noise, (NUM_CLASSES, SAMPLES_PER_DIGIT, 28, 28)."""
    noise = np.random.default_rng(seed + 1).normal(size=(SAMPLES_PER_DIGIT, contender.noise_dim))
    labels = np.repeat(np.arange(NUM_CLASSES, dtype="int32"), SAMPLES_PER_DIGIT)
    images = contender.generate(np.tile(noise, (NUM_CLASSES, 1)).astype("float32"), labels)
    return np.asarray(images).reshape(NUM_CLASSES, SAMPLES_PER_DIGIT, 28, 28)


def samples_figure(samples: dict[str, np.ndarray], path: Path, minutes: float) -> None:
    """Each model's samples at the end of the race, side by side: a row per digit, fixed noise per column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.plots import tile

    fig, axes = plt.subplots(1, len(samples), figsize=(4.2 * len(samples), 5.4))
    for ax, (name, images) in zip(np.atleast_1d(axes), samples.items(), strict=True):
        canvas = tile(images.reshape(-1, 28, 28), ncols=images.shape[1], pad=0)
        ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
        ax.set(title=name, xlabel="sample", ylabel="requested digit", xticks=[],
               yticks=np.arange(NUM_CLASSES) * 28 + 13.5, yticklabels=range(NUM_CLASSES))
    fig.suptitle(f"After {minutes:.0f} min of training each (make bench PART=cgan)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)  # 1,134 px wide for three panels: legible ticks
    plt.close(fig)


def figure(results: dict, path: Path, machine: dict) -> None:
    """The score curves against training minutes, one panel per score, the reference's final as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("accuracy", "conditional accuracy"), ("worst_digit", "worst digit's accuracy"),
              ("frechet_ratio", "Fréchet distance / fair floor"), ("precision", "precision"),
              ("recall", "recall")]
    fig, axes = plt.subplots(1, len(panels), figsize=(19, 3.8))
    sides = [("course", "o-"), ("reference", "s--"), ("cvae", "^-.")]
    for side, style in [(side, style) for side, style in sides if side in results]:
        curve = results[side]["curve"]
        minutes = [p["train_seconds"] / 60 for p in curve]
        for ax, (key, _) in zip(axes, panels, strict=True):
            ax.plot(minutes, [p[key] for p in curve], style, ms=4, label=LEGEND[side])
    for ax, (key, label) in zip(axes, panels, strict=True):
        ax.axhline(results["reference"]["final"][key], color="grey", ls=":", lw=1,
                   label="reference's final")
        ax.set(title=label, xlabel=f"training time (min, {machine['cores']} CPU cores)", ylabel=label)
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("Notebook 08's conditional GAN (course) against the keras-io recipe (reference) and a "
                 "conditional VAE on the GAN's networks, the same training budget")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def markdown(results: dict) -> str:
    """results.md's table: final scores, time to the reference's final scores, the recipe's own budget."""
    c, r = results["course"], results["reference"]
    v = results.get("cvae")  # older results have no VAE
    budget = results["config"]["budget_seconds"] / 60

    def reach(seconds):
        return "not reached" if seconds is None else f"{seconds / 60:.1f} min"

    def row(name, fmt, key=None, cells=None):
        values = cells or [fmt(side["final"][key]) if key in side["final"] else "—"
                           for side in (r, c, v) if side is not None]
        return f"| {name} | " + " | ".join(values) + " |"

    def reach_of(side):  # "at most" when reached at the first score: no finer than the scoring interval
        scored = [p["train_seconds"] for p in side["curve"] if p["train_seconds"] > 0]
        first = bool(scored) and side["seconds_to_reference_final"] == scored[0]
        return first, (f"at most {reach(scored[0])}, its first score" if first
                       else reach(side["seconds_to_reference_final"]))

    ratio = "—" if results["time_ratio"] is None else f"{results['time_ratio']:.2f}x"
    first, course_reach = reach_of(c)
    if first:
        ratio = f"at most {ratio}"
    times = [f"{reach(r['train_seconds'])} (its whole budget)", f"{course_reach} ({ratio})"]
    header, rule = "| | keras-io recipe (reference) | course GAN, notebook 08 |", "|---|---|---|"
    if v is not None:
        times.append(reach_of(v)[1])
        header += f" conditional VAE, {v['code_dim']}-D code, on the GAN's networks |"
        rule += "---|"
    precision_recall = [f"{s['final']['precision']:.2f} / {s['final']['recall']:.2f}"
                        for s in (r, c, v) if s is not None]
    models = "Each model" if v is None else "Each of the three models"
    measured = f"Measured on {results['machine']['date']}. " if "machine" in results else ""
    rows = [f"{measured}{models} trained {budget:.0f} min in the same run (alternating one-minute slices), "
            "scored every minute on one sample for each digit of half of the test set (final: the median "
            "of the last 3 points). The reference is the keras-io recipe (benchmarks/keras_cgan.py).",
            "",
            header,
            rule,
            row("conditional accuracy", "{:.2%}".format, "accuracy"),
            row("worst digit's accuracy", "{:.2%}".format, "worst_digit"),
            row("Fréchet distance / fair floor", "{:.1f}x".format, "frechet_ratio"),
            row("precision / recall", None, cells=precision_recall),
            row("sharpness / real digits'", "{:.2f}".format, "sharpness"),
            row("diversity in style space / real digits'", "{:.2f}".format, "style_diversity"),
            row("training time to the reference's final scores", None, cells=times),
            f"| the recipe's own {keras_cgan.EPOCHS} epochs at this speed | "
            f"{r['projected_seconds_for_the_recipe'] / 3600:.1f} h |" + " |" * (1 if v is None else 2),
            ""]
    if v is not None:
        rows[-1:-1] = ["", f"The VAE's code: {v['active_units']} of its {v['code_dim']} dimensions carry "
                       f"more than {ACTIVE_NATS} nats of KL on average over the test set (active units)."]
    if r.get("at_chance"):
        rows[-1:-1] = ["", f"In {budget:.0f} minutes the recipe draws the requested digit less than twice as "
                        "often as chance: its final scores are those of a generator that has not yet learned "
                        "the labels, so the ratio says only how fast the course's model gets past that"
                        " stage."]
    return "\n".join(rows)
