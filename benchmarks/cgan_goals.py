"""`make bench PART=cgan-goals`: notebook 08's conditional GAN against its goals, over several seeds.

Each seed trains the model exactly as notebook 08 does in full mode (its `course-model` cells, its
full-mode epochs and schedule, the 50,000 images of the training split, ResumableTraining's clock)
and is scored after every few epochs on half B of the validation split: the curve that settings may
be chosen by. Test half B is touched once per run, at its end, for the reported figures. Each seed also
draws its own halves (helpers.scoring.real_digits), so the seeds' spread includes the yardstick's. The goals
are helpers.targets.CGAN_GOALS; results go to benchmarks/cgan_goals.json and cgan_goals.md.

`--tune NAME=VALUE ...` overrides names of the course-model cells (FULL_EPOCHS=12, LEARNING_RATE=4e-4)
and scores on the validation split only: the test set plays no part in choosing settings. Tuning
runs go to outputs/cgan_tuning/, and benchmarks/cgan_tuning.md records what they reached.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from benchmarks.cgan import COURSE_NAMES, NOTEBOOK, check_defined, generator_scores, sampler
from helpers.classifier import load_classifier
from helpers.config import output_path
from helpers.data import NUM_CLASSES, load_mnist, make_dataset, split_validation
from helpers.scoring import RealDigits, real_digits
from helpers.targets import CGAN_GOALS
from helpers.training import ResumableTraining
from tools.course import load_course_model
from tools.machine import machine_info

HERE = Path(__file__).resolve().parent
SEEDS = (1, 2, 3)
SCORE_EVERY = 2  # epochs between validation scores (each costs about 10 s, not counted as training)
KEYS = ("accuracy", "worst_digit", "frechet_ratio", "precision", "recall")


def scores(generator, classifier, reference: RealDigits, noise_dim: int, seed: int) -> dict:
    """One sample per label of the reference's half B, from fixed noise: the five scores of the goals."""
    every = generator_scores(sampler(generator), noise_dim, classifier, reference, seed)
    return {key: every[key] for key in KEYS}


def train_one(seed: int, overrides: dict, *, score_test: bool, epochs: int | None = None,
              code: Path | None = None) -> dict:
    """Train notebook 08's model with one seed; its validation curve and, if asked, its final test scores.

    `overrides` replace names of the course-model cells; `code` (a Python file) runs after them, to try a
    changed network or step before it goes into the notebook. A variant that keeps another copy of the
    generator (an average of its weights, say) defines `scored_generator(generator)`, which returns the
    network to score; it is asked at every scoring, so it may return a fresh copy.
    """
    keras.utils.set_random_seed(seed)
    (all_images, all_labels), (test_images, test_labels) = load_mnist()
    (train_images, train_labels), (val_images, val_labels) = split_validation(all_images, all_labels)
    course = load_course_model(NOTEBOOK, extra={"NUM_CLASSES": NUM_CLASSES})
    check_defined(course, COURSE_NAMES)
    course.update(overrides)
    if code is not None:
        exec(compile(code.read_text(), str(code), "exec"), course)
    classifier = load_classifier()
    validation = real_digits(classifier, train_images, train_labels, val_images, val_labels, seed=seed)
    batch, epochs = course["BATCH_SIZE"], epochs or course["FULL_EPOCHS"]
    steps_per_epoch = len(train_images) // batch
    generator, discriminator = course["make_generator"](), course["make_discriminator"]()
    optimizers = [course["make_optimizer"](epochs * steps_per_epoch) for _ in range(2)]
    step = course["make_train_step"](generator, discriminator, *optimizers, seed)
    dataset = make_dataset(train_images, train_labels, batch_size=batch, shuffle=True, seed=0,
                           drop_remainder=True)
    training = ResumableTraining(None, verbose=False)
    curve = []
    scored_generator = course.get("scored_generator", lambda network: network)

    def after_epoch(epoch: int) -> None:
        if epoch % SCORE_EVERY == 0 or epoch == epochs:
            point = {"epoch": epoch, "train_seconds": training.train_seconds,
                     **scores(scored_generator(generator), classifier, validation, course["NOISE_DIM"], seed)}
            curve.append(point)
            print(f"  seed {seed}, epoch {epoch}: {training.train_seconds:.0f} s, "
                  + ", ".join(f"{k} {point[k]:.4g}" for k in KEYS), flush=True)

    training.run(step, dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, after_epoch=after_epoch)
    result = {"seed": seed, "epochs": epochs, "train_seconds": training.train_seconds,
              "validation": curve[-1], "curve": curve,
              "real_validation": {"precision": validation.precision_train, "recall": validation.recall_train}}
    if score_test:
        test = real_digits(classifier, train_images, train_labels, test_images, test_labels, seed=seed)
        result["test"] = scores(scored_generator(generator), classifier, test, course["NOISE_DIM"], seed)
        result["real_test"] = {"precision": test.precision_train, "recall": test.recall_train}
    return result


def goals_met(point: dict, real: dict, train_seconds: float) -> dict[str, bool]:
    """Which of CGAN_GOALS a run meets: its scores, and precision and recall near the real digits' own."""
    g = CGAN_GOALS
    return {"accuracy": point["accuracy"] >= g.accuracy, "worst_digit": point["worst_digit"] >= g.worst_digit,
            "frechet_ratio": point["frechet_ratio"] <= g.frechet_ratio,
            "precision": point["precision"] >= real["precision"] - g.precision_recall_gap,
            "recall": point["recall"] >= real["recall"] - g.precision_recall_gap,
            "train_seconds": train_seconds <= g.train_seconds}


def markdown(results: dict) -> str:
    """A row per seed (test half B), the mean and the worst seed, and which goals are met by every seed."""
    runs, g = results["runs"], CGAN_GOALS
    worst = {"accuracy": min, "worst_digit": min, "frechet_ratio": max, "precision": min, "recall": min}

    def cells(point: dict, seconds: float) -> str:
        return (f"{point['accuracy']:.2%} | {point['worst_digit']:.2%} | {point['frechet_ratio']:.1f}x | "
                f"{point['precision']:.2f} / {point['recall']:.2f} | {seconds / 60:.1f} min")

    m = results["machine"]
    epoch_seconds = np.mean([r["train_seconds"] / r["epochs"] for r in runs])
    rows = [f"Measured on {m['date']} ({m['cores']} CPU cores, {m['cpu']}): notebook 08's model, "
            f"{runs[0]['epochs']} epochs, "
            "trained once per seed and scored once on test half B. An epoch took "
            f"{epoch_seconds:.0f} s on average: the training time is the machine's as much as the model's.",
            "",
            "| seed | conditional accuracy | worst digit | Fréchet / fair floor | precision / recall "
            "| training time |", "|---|---|---|---|---|---|"]
    rows += [f"| {r['seed']} | {cells(r['test'], r['train_seconds'])} |" for r in runs]
    mean = {k: float(np.mean([r["test"][k] for r in runs])) for k in KEYS}
    worst_point = {k: worst[k](r["test"][k] for r in runs) for k in KEYS}
    rows.append(f"| mean | {cells(mean, np.mean([r['train_seconds'] for r in runs]))} |")
    rows.append(f"| worst seed | {cells(worst_point, max(r['train_seconds'] for r in runs))} |")

    def floor(key: str) -> str:  # each seed draws its own half B, so each has its own real digits' figure
        values = sorted({f"{r['real_test'][key] - g.precision_recall_gap:.2f}" for r in runs})
        return "≥ " + "\N{EN DASH}".join(values[:: max(1, len(values) - 1)])

    rows.append(f"| goal | ≥ {g.accuracy:.0%} | ≥ {g.worst_digit:.0%} | ≤ {g.frechet_ratio:.0f}x | "
                f"{floor('precision')} / {floor('recall')} (the real training digits' own, less "
                f"{g.precision_recall_gap}) | ≤ {g.train_seconds / 60:.0f} min |")
    checked = [goals_met(r["test"], r["real_test"], r["train_seconds"]) for r in runs]
    met = {k: all(c[k] for c in checked) for k in checked[0]}
    rows += ["", "Met by every seed: " + (", ".join(k for k, ok in met.items() if ok) or "none")
             + ". Not met: " + (", ".join(k for k, ok in met.items() if not ok) or "none") + "."]
    return "\n".join(rows) + "\n"


def run_goals(seeds: list[int], out: Path, *, epochs: int | None = None) -> dict:
    """Train and score every seed (test half B once each); write cgan_goals.json and .md into `out`."""
    runs = [train_one(seed, {}, score_test=True, epochs=epochs) for seed in seeds]
    results = {"machine": machine_info(), "runs": runs}
    out.mkdir(parents=True, exist_ok=True)
    (out / "cgan_goals.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "cgan_goals.md").write_text(markdown(results))
    return results


def tune(seeds: list[int], settings: list[str], *, epochs: int | None = None,
         code: Path | None = None) -> list[dict]:
    """Train with NAME=VALUE overrides, score on the validation split only; keep the runs in outputs/."""
    overrides = {name: ast.literal_eval(value) for name, _, value in (s.partition("=") for s in settings)}
    runs = [train_one(seed, overrides, score_test=False, epochs=epochs, code=code) for seed in seeds]
    folder = output_path("cgan_tuning")
    folder.mkdir(parents=True, exist_ok=True)
    name = "_".join([*settings, *([code.stem] if code else [])]) or "notebook"
    (folder / f"{name}.json").write_text(json.dumps({"overrides": overrides, "runs": runs}, indent=1) + "\n")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--tune", nargs="*", metavar="NAME=VALUE",
                        help="override course-model names and score on the validation split only")
    parser.add_argument("--epochs", type=int, help="train this many epochs, the schedule over them")
    parser.add_argument("--code", type=Path, help="with --tune: Python run after the course-model cells")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    if args.code is not None and args.tune is None:
        parser.error("--code tries a variant, which only tuning does: add --tune")
    if args.tune is not None:
        runs = tune(args.seeds, args.tune, epochs=args.epochs, code=args.code)
        print(json.dumps([r["validation"] for r in runs], indent=1))
    else:
        print(markdown(run_goals(args.seeds, args.out, epochs=args.epochs)))


if __name__ == "__main__":
    main()
