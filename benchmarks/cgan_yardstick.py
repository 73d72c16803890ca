"""`make bench PART=cgan-yardstick`: how far one trained CGAN's scores move when only the yardstick does.

No training: it loads the generator that notebook 08 saved in its last full-mode run and scores it
(1) against several draws of the yardstick (seeds 0 to 7: which digits form half B, which training
digits form the fair floor, helpers.scoring.real_digits, and the noise of the samples), on the
validation and on the test split, so that a single run's Fréchet ratio can be read against the
yardstick's own spread; and (2) on the validation split only, with its noise scaled (notebook 06's
temperature, below 1 and above), to see whether recall can be bought with precision. Results go to
benchmarks/cgan_yardstick.json and cgan_yardstick.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from benchmarks.cgan import generator_scores, sampler
from benchmarks.cgan_goals import KEYS
from helpers.classifier import load_classifier
from helpers.config import output_path
from helpers.data import load_mnist, split_validation
from helpers.scoring import real_digits

HERE = Path(__file__).resolve().parent
GENERATOR = ("08_cgan", "full", "cgan_generator.keras")  # under outputs/: notebook 08's full-mode run
YARDSTICK_SEEDS = tuple(range(8))
NOISE_SCALES = (0.8, 1.0, 1.2, 1.4, 1.7, 2.0)
SCALE_SEED = 1  # the yardstick of the noise-scale sweep: validation half B of seed 1, as the tuning runs use


def scaled(generate: Callable, scale: float) -> Callable:
    """generate(noise, labels) with the noise multiplied by `scale` (below 1: a lower temperature)."""
    if not scale > 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return lambda noise, labels: generate(noise * np.float32(scale), labels)


def yardstick_rows(generate: Callable, noise_dim: int, classifier, images, labels, train_images, train_labels,
                   seeds) -> list[dict]:
    """Per yardstick seed: the fair floor, the raw distance and ratio, recall, and the real digits' recall."""
    rows = []
    for seed in seeds:
        reference = real_digits(classifier, train_images, train_labels, images, labels, seed=seed)
        scores = generator_scores(generate, noise_dim, classifier, reference, seed)
        rows.append({"seed": seed, "floor": reference.frechet_train,
                     "frechet": scores["frechet_ratio"] * reference.frechet_train,
                     "frechet_ratio": scores["frechet_ratio"], "recall": scores["recall"],
                     "real_recall": reference.recall_train})
        print(f"  yardstick seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items()
                                                          if k != "seed"), flush=True)
    return rows


def run_yardstick(out: Path, generator_file: Path | None = None) -> dict:
    """Both measurements for `generator_file` (default: notebook 08's full-mode one), written into `out`."""
    generator_file = generator_file or output_path(*GENERATOR)
    if not generator_file.exists():
        raise FileNotFoundError(f"{generator_file} is missing: run notebook 08 in full mode first (`make "
                                "execute NOTEBOOKS=08_cgan`), or score another generator with `python -m "
                                "benchmarks.cgan_yardstick --generator FILE`")
    generator = keras.saving.load_model(generator_file, compile=False)
    noise_dim = generator.input_shape[0][-1]
    (all_images, all_labels), (test_images, test_labels) = load_mnist()
    (train_images, train_labels), (val_images, val_labels) = split_validation(all_images, all_labels)
    classifier = load_classifier()
    generate = sampler(generator)
    splits = {"validation": (val_images, val_labels), "test": (test_images, test_labels)}
    spread = {name: yardstick_rows(generate, noise_dim, classifier, images, labels, train_images,
                                   train_labels, YARDSTICK_SEEDS)
              for name, (images, labels) in splits.items()}
    reference = real_digits(classifier, train_images, train_labels, val_images, val_labels, seed=SCALE_SEED)
    scales = []
    for scale in NOISE_SCALES:
        point = generator_scores(scaled(generate, scale), noise_dim, classifier, reference, SCALE_SEED)
        scales.append({"scale": scale, **{key: point[key] for key in KEYS}})
        print(f"  noise x {scale}: " + ", ".join(f"{k} {scales[-1][k]:.3f}" for k in KEYS), flush=True)
    results = {"date": time.strftime("%Y-%m-%d"), "generator": generator_file.name, "spread": spread,
               "scales": scales, "real_validation": {"precision": reference.precision_train,
                                                     "recall": reference.recall_train}}
    write(results, out)
    return results


def markdown(results: dict) -> str:
    """The spread per split (mean, standard deviation, range) and the noise-scale sweep, as two tables."""
    rows = [f"Measured on {results['date']}: the saved generator {results['generator']}, "
            f"scored against {len(next(iter(results['spread'].values())))} draws of the yardstick (each "
            "draw: which digits form half B, which training digits the fair floor, and the noise of the "
            "samples).", "",
            "| split | | fair floor | Fréchet distance | Fréchet / fair floor | recall "
            "| real digits' recall |",
            "|---|---|---|---|---|---|---|"]
    columns = ("floor", "frechet", "frechet_ratio", "recall", "real_recall")
    for name, draws in results["spread"].items():
        values = np.array([[row[c] for c in columns] for row in draws])
        spread = values.std(axis=0, ddof=1)
        for label, line in (("mean", values.mean(axis=0)), ("standard deviation", spread)):
            rows.append(f"| {name} | {label} | " + " | ".join(f"{v:.2f}" for v in line) + " |")
        ranges = zip(values.min(axis=0), values.max(axis=0), strict=True)
        rows.append(f"| {name} | range | " + " | ".join(f"{lo:.2f} to {hi:.2f}" for lo, hi in ranges) + " |")
    real = results["real_validation"]
    rows += ["", f"The noise scaled (validation half B of seed {SCALE_SEED}; the real training digits' own "
             f"precision and recall there: {real['precision']:.2f} and {real['recall']:.2f}):", "",
             "| noise scale | accuracy | worst digit | Fréchet / fair floor | precision | recall |",
             "|---|---|---|---|---|---|"]
    rows += [f"| {p['scale']:g} | {p['accuracy']:.2%} | {p['worst_digit']:.2%} | {p['frechet_ratio']:.2f} | "
             f"{p['precision']:.2f} | {p['recall']:.2f} |" for p in results["scales"]]
    return "\n".join(rows) + "\n"


def write(results: dict, out: Path) -> None:
    """cgan_yardstick.json and cgan_yardstick.md into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "cgan_yardstick.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "cgan_yardstick.md").write_text(markdown(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", type=Path, help="a saved generator (.keras) other than notebook 08's")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    print(markdown(run_yardstick(args.out, args.generator)))


if __name__ == "__main__":
    main()
