"""`make bench`: the course's conv VAE against the TF tutorial's setup, and the conditional models' scores.

Both models are trained side by side in one run on this machine and scored with the same
estimators: the single-sample test ELBO (nats per image, summed over pixels, mean over the test set)
and an importance-weighted bound. The course model is not copied here: its code is executed from
the notebook cells tagged `course-model` (with notebook 05's batch size, learning rate and epochs),
so the benchmark measures exactly what students read. Training time counts the training steps and
the input pipeline that feeds them (measured by helpers.training), not evaluation.

The second part runs notebooks 06 (conditional VAE) and 08 (conditional GAN) top to bottom in full
mode, in a fresh output folder (so nothing resumes from old checkpoints), or with `--collect` takes
them from the last `make execute`, and collects the scores they save (helpers.scoring: conditional
accuracy, worst digit, Fréchet distance against the fair floor, precision and recall, sharpness,
diversity) and the notebooks' running times. The third (`--part cgan`, benchmarks/cgan.py) races
notebook 08's CGAN against the keras-io recipe and notebook 09's conditional VAE on the same networks. The
fourth (`--part protocol`, benchmarks/protocol.py) scores notebook 05's model under four evaluation protocols
(threshold or dynamic binarisation, for training and for the test set) against its exact likelihood. Results
go to benchmarks/results.json and, as Markdown tables, to benchmarks/results.md (docs/benchmarks.md links
it). `--part` runs one part and keeps the other parts' previous results. Two parts are not part of the
whole and write their own pages: `cgan-goals` (benchmarks/cgan_goals.py) and `cgan-yardstick`
(benchmarks/cgan_yardstick.py).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from benchmarks import reference
from helpers import seed_everything
from helpers.classifier import FEATURE_WIDTH
from helpers.config import output_path
from helpers.data import load_mnist, make_dataset, to_float
from helpers.scoring import STYLE_COMPONENTS
from helpers.targets import CGAN_GOALS, CONV_VAE_TEST_ELBO
from helpers.training import HISTORY_FILE, History, ResumableTraining
from tools.course import load_course_model, notebook_path
from tools.execute import load_timings, run_notebook
from tools.machine import machine_info

NOTEBOOK = notebook_path("05_conv_vae")
CONDITIONAL = {"cvae": "06_conditional_vae", "cgan": "08_cgan"}  # result key: notebook name
CGAN_FIGURE = "cgan_curves.png"  # beside results.md, which shows it
RESULTS_HEADER = ("# Benchmark results\n\nWritten by `make bench` (`benchmarks/bench.py`) into results.json "
                  "and this page; [docs/benchmarks.md](../docs/benchmarks.md) says what each part "
                  "measures.\n\n")

# The course model's batch size, learning rate and epochs come from notebook 05's settings cell.
FULL = {"n_train": 60_000, "n_test": 10_000, "ref_epochs": reference.EPOCHS, "iwae_k": 200,
        "iwae_images": 1000, "evals_per_epoch": 4}
SMOKE = {"n_train": 4096, "n_test": 256, "ref_epochs": 1, "course_epochs": 1, "iwae_k": 5,
         "iwae_images": 32, "evals_per_epoch": 2}


def train_reference(course: dict, cfg: dict, train_images: np.ndarray, test_ds) -> dict:
    """The TF tutorial's model, trained its way (its pipeline, batch 32, Adam 1e-4, plain tf.function)."""
    encoder, decoder = reference.make_encoder(), reference.make_decoder()
    step = reference.make_train_step(encoder, decoder, keras.optimizers.Adam(reference.LEARNING_RATE))
    evaluate = course["make_evaluator"](encoder, decoder)
    initial = evaluate(test_ds)  # untrained: what training must improve on
    history = ResumableTraining(None, verbose=False).run(
        step, reference.make_dataset(train_images), epochs=cfg["ref_epochs"],
        steps_per_epoch=-(-len(train_images) // reference.BATCH_SIZE),
        after_epoch=lambda epoch: {"test_elbo": evaluate(test_ds)})
    for row in history.epochs:
        print(f"reference epoch {row['epoch']}: {row['seconds']:.1f} s, test ELBO {row['test_elbo']:.2f}",
              flush=True)
    return {"models": (encoder, decoder), "seconds": history["seconds"], "test_elbo": history["test_elbo"],
            "initial": initial}


def train_course_to_target(course: dict, cfg: dict, train_images: np.ndarray, test_ds, target: float) -> dict:
    """Notebook 05's model, evaluated a few times per epoch: when does it reach the reference's ELBO?"""
    encoder, decoder = course["make_encoder"](2), course["make_decoder"](2)
    step = course["make_train_step"](encoder, decoder, keras.optimizers.Adam(course["LEARNING_RATE"]))
    evaluate = course["make_evaluator"](encoder, decoder)
    initial = evaluate(test_ds)
    train_ds = make_dataset(train_images, batch_size=cfg["course_batch"], shuffle=True, seed=0,
                            binarize=True, drop_remainder=True)
    steps_per_epoch = len(train_images) // cfg["course_batch"]
    every = max(1, steps_per_epoch // cfg["evals_per_epoch"])
    training, trace, reached = ResumableTraining(None, verbose=False), [], []

    def watch(epoch: int, n: int) -> None:  # evaluation time is not training time
        if not reached and n % every == 0:
            trace.append((training.train_seconds, evaluate(test_ds)))
            if trace[-1][1] >= target:
                reached.append(training.train_seconds)

    def end_of_epoch(epoch: int) -> dict[str, float]:
        elbo = evaluate(test_ds)
        if not reached and elbo >= target:
            reached.append(training.train_seconds)
        return {"test_elbo": elbo}

    history = training.run(step, train_ds, epochs=cfg["course_epochs"], steps_per_epoch=steps_per_epoch,
                           after_step=watch, after_epoch=end_of_epoch)
    for row in history.epochs:
        print(f"course epoch {row['epoch']}: {row['seconds']:.1f} s, test ELBO {row['test_elbo']:.2f}",
              flush=True)
    return {"models": (encoder, decoder), "seconds": history["seconds"], "test_elbo": history["test_elbo"],
            "initial": initial, "trace": trace, "seconds_to_target": reached[0] if reached else None}


def run(smoke: bool = False, seed: int = 0) -> dict:
    """Train the reference, then the course's model, and return the measured figures."""
    course = load_course_model(NOTEBOOK)
    cfg = {"course_epochs": course["FULL_EPOCHS"], **(SMOKE if smoke else FULL),
           "course_batch": course["BATCH_SIZE"], "course_learning_rate": course["LEARNING_RATE"]}
    seed_everything(seed, deterministic_ops=False)
    (train_images, _), (test_images, _) = load_mnist()
    train_images, test_images = train_images[: cfg["n_train"]], test_images[: cfg["n_test"]]
    test_ds = make_dataset(test_images, batch_size=500, binarize=True)
    x_iwae = to_float(test_images[: cfg["iwae_images"]], binarize=True)

    ref = train_reference(course, cfg, train_images, test_ds)
    target = ref["test_elbo"][-1]
    ours = train_course_to_target(course, cfg, train_images, test_ds, target)

    ref_total = sum(ref["seconds"]) * reference.EPOCHS / len(ref["seconds"])
    iwae = {name: course["iwae_estimate"](*side["models"], x_iwae, cfg["iwae_k"])
            for name, side in {"reference": ref, "course": ours}.items()}
    time_to_target = ours["seconds_to_target"]
    ratio = None if time_to_target is None else time_to_target / ref_total
    return {
        "machine": machine_info(),
        "smoke": smoke,
        "config": cfg,
        "reference": {"seconds_per_epoch": float(np.mean(ref["seconds"])), "epochs": cfg["ref_epochs"],
                      "train_seconds_10_epochs": ref_total, "test_elbo": ref["test_elbo"],
                      "initial_test_elbo": ref["initial"], "final_test_elbo": target,
                      "iwae": iwae["reference"]},
        "course": {"seconds_per_epoch": float(np.mean(ours["seconds"])), "epochs": cfg["course_epochs"],
                   "test_elbo": ours["test_elbo"], "initial_test_elbo": ours["initial"],
                   "final_test_elbo": ours["test_elbo"][-1], "seconds_to_reference_elbo": time_to_target,
                   "trace": ours["trace"], "iwae": iwae["course"]},
        "time_ratio_to_reference_elbo": ratio,
        "targets": {f"course_elbo_at_least_{CONV_VAE_TEST_ELBO:g}":
                        ours["test_elbo"][-1] >= CONV_VAE_TEST_ELBO,
                    "time_ratio_at_most_one_third": ratio is not None and ratio <= 1 / 3},
    }


def collect_conditional(output_root: Path, mode: str, seconds: dict[str, float]) -> dict:
    """The scores that notebooks 06 and 08 saved under output_root, with their running times."""
    results = {}
    for key, name in CONDITIONAL.items():
        scores_file = output_root / name / mode / "scores.json"
        if not scores_file.exists():
            raise FileNotFoundError(f"{scores_file} is missing: did notebook {name} run to the end?")
        results[key] = {**json.loads(scores_file.read_text()), "notebook_seconds": seconds[key]}
    histories = sorted((output_root / CONDITIONAL["cgan"] / mode / "training").glob(f"*/{HISTORY_FILE}"))
    if len(histories) != 1:
        raise FileNotFoundError(f"expected one training history of notebook 08 under {output_root}, "
                                f"found {len(histories)}")
    history = History.from_json(histories[0].read_text())
    results["cgan"]["train_seconds"] = history.train_seconds
    results["cgan"]["epochs"] = len(history.epochs)
    goals = CGAN_GOALS
    results["targets"] = {
        f"cgan_accuracy_at_least_{goals.accuracy:.0%}": results["cgan"]["accuracy"] >= goals.accuracy,
        f"cgan_every_digit_at_least_{goals.worst_digit:.0%}":
            results["cgan"]["worst_digit"] >= goals.worst_digit,
        f"cgan_frechet_within_{goals.frechet_ratio:g}x_fair_floor":
            results["cgan"]["frechet_ratio"] <= goals.frechet_ratio,
        f"cgan_training_within_{goals.train_seconds / 60:g}_min":
            results["cgan"]["train_seconds"] <= goals.train_seconds,
    }
    return results


def run_conditional(smoke: bool = False) -> dict:
    """Run notebooks 06 and 08 (full mode, or quick for a smoke run) and collect their scores."""
    mode = "quick" if smoke else "full"
    with tempfile.TemporaryDirectory(prefix="bench-conditional-") as tmp:
        seconds = {}
        for key, name in CONDITIONAL.items():
            seconds[key], _ = run_notebook(notebook_path(name), quick=smoke,  # not saved
                                           output_root=Path(tmp))
            print(f"{name}: {seconds[key]:.0f} s in {mode} mode", flush=True)
        return {"mode": mode, **collect_conditional(Path(tmp), mode, seconds)}


def collect_executed(timings: dict | None = None, output_root: Path | None = None) -> dict:
    """The conditional scores of the last `make execute` in full mode (outputs/), with its recorded times."""
    timings = (timings or load_timings())["full"]
    missing = [name for name in CONDITIONAL.values() if not timings.get(name)]
    if missing:
        raise FileNotFoundError(f"no full-mode time recorded for {', '.join(missing)}: "
                                "run `make execute` first")
    seconds = {key: timings[name][-1]["seconds"] for key, name in CONDITIONAL.items()}
    scores = collect_conditional(output_root or output_path(), "full", seconds)
    return {"mode": "full", "source": "make execute", **scores}


def conditional_markdown(conditional: dict) -> str:
    """The table of the conditional models' scores."""
    v, g = conditional["cvae"], conditional["cgan"]
    mode = conditional.get("mode", "full")
    return "\n".join([
        f"Conditional models, each notebook run top to bottom in {mode} mode"
        f"{' (the last `make execute`)' if conditional.get('source') else ''}; "
        "scored by the course's MNIST classifier with `helpers.scoring`: one sample for each digit of test "
        f"half B. The Fréchet distance uses the classifier's {FEATURE_WIDTH} penultimate features; the fair "
        "floor is the distance to half B of as many training digits with the same labels "
        f"({g['frechet_train']:.2f}); precision and recall (Kynkäänniemi et al., 2019) sit next to those "
        f"of the same training digits ({g['precision_train']:.2f} and {g['recall_train']:.2f}). "
        "Sharpness (neighbouring pixels' squared differences over the "
        "image's energy) and diversity (mean distance between the features of two samples of the same "
        f"digit, and between their projections on that digit's {STYLE_COMPONENTS} leading principal "
        "components, its style space) are ratios to the real test digits: 1 is as sharp, or as varied, "
        "as real handwriting.",
        "",
        "| | conditional VAE (06) | conditional GAN (08) | target for the GAN |",
        "|---|---|---|---|",
        f"| conditional accuracy | {v['accuracy']:.2%} | {g['accuracy']:.2%} "
        f"| at least {CGAN_GOALS.accuracy:.0%} |",
        f"| worst digit's accuracy | {v['worst_digit']:.2%} | {g['worst_digit']:.2%} "
        f"| at least {CGAN_GOALS.worst_digit:.0%} |",
        f"| Fréchet distance (x fair floor) | {v['frechet']:.2f} ({v['frechet_ratio']:.1f}x) "
        f"| {g['frechet']:.2f} ({g['frechet_ratio']:.1f}x) | within {CGAN_GOALS.frechet_ratio:g}x |",
        f"| precision | {v['precision']:.2f} | {g['precision']:.2f} | |",
        f"| recall | {v['recall']:.2f} | {g['recall']:.2f} | |",
        f"| sharpness (x real digits) | {v['sharpness']:.2f}x | {g['sharpness']:.2f}x | |",
        f"| diversity within a digit (x real digits) | {v['diversity']:.2f}x | {g['diversity']:.2f}x | |",
        f"| diversity in style space (x real digits) | {v['style_diversity']:.2f}x "
        f"| {g['style_diversity']:.2f}x | |",
        f"| notebook running time | {v['notebook_seconds'] / 60:.1f} min "
        f"| {g['notebook_seconds'] / 60:.1f} min "
        f"({g['epochs']} epochs, {g['train_seconds'] / 60:.1f} min of training) "
        f"| training within {CGAN_GOALS.train_seconds / 60:g} min |",
        "",
    ])


def markdown(results: dict) -> str:
    """results.md's tables: VAE benchmark, conditional models, CGAN race and protocols, if they were run."""
    from benchmarks import cgan, protocol

    parts = [vae_markdown(results)] if "reference" in results else []
    if "conditional" in results:
        parts.append(conditional_markdown(results["conditional"]))
    if "cgan" in results:
        figures = f"\n![The CGAN race's score curves]({CGAN_FIGURE})\n"  # paths relative to results.md
        if "samples_figure" in results["cgan"]:
            figures += f"\n![The race's final samples]({results['cgan']['samples_figure']})\n"
        parts.append(cgan.markdown(results["cgan"]) + figures)
    if "protocol" in results:
        parts.append(protocol.markdown(results["protocol"]))
    return "\n".join(parts)


def vae_markdown(results: dict) -> str:
    """The table of the VAE benchmark."""
    m, r, c = results["machine"], results["reference"], results["course"]
    k, n = results["config"]["iwae_k"], results["config"]["iwae_images"]
    reach = ("not reached" if c["seconds_to_reference_elbo"] is None else
             f"{c['seconds_to_reference_elbo']:.0f} s ({results['time_ratio_to_reference_elbo']:.2f}x)")
    return "\n".join([
        f"Measured by `make bench` on {m['date']}: {m['cpu']}, {m['cores']} cores, "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}. Training time excludes evaluation.",
        "",
        "| | TF tutorial (reference) | course, notebook 05 |",
        "|---|---|---|",
        f"| seconds per training epoch | {r['seconds_per_epoch']:.1f} | {c['seconds_per_epoch']:.1f} |",
        f"| training time to the reference's final test ELBO ({r['final_test_elbo']:.1f}) "
        f"| {r['train_seconds_10_epochs']:.0f} s ({reference.EPOCHS} epochs) | {reach} |",
        f"| final test ELBO, nats per image (epochs) | {r['final_test_elbo']:.2f} ({r['epochs']}) "
        f"| {c['final_test_elbo']:.2f} ({c['epochs']}) |",
        f"| importance-weighted bound, K = {k}, {n} test images | {r['iwae']:.2f} | {c['iwae']:.2f} |",
        "",
    ])


def write(results: dict, out_dir: Path) -> None:
    """Write results.json and results.md (the tables, under a header)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (out_dir / "results.md").write_text(RESULTS_HEADER + table)
    print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the machinery")
    parser.add_argument("--part", choices=("all", "vae", "conditional", "cgan", "protocol", "cgan-goals",
                                           "cgan-yardstick"),
                        default="all", help="run one part only; the other parts' previous results are kept "
                        "(not part of all: cgan-goals, notebook 08's goals over three seeds, cgan_goals.md; "
                        "cgan-yardstick, its saved generator against several yardsticks, cgan_yardstick.md)")
    parser.add_argument("--collect", action="store_true",
                        help="conditional part: collect the scores of the last full `make execute` from "
                             "outputs/ instead of running notebooks 06 and 08 again")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.part == "cgan-goals":
        from benchmarks import cgan_goals

        out = output_path("bench-smoke") if args.smoke else args.out  # a smoke run leaves the results be
        print(cgan_goals.markdown(cgan_goals.run_goals(list(cgan_goals.SEEDS), out,
                                                       epochs=1 if args.smoke else None)))
        return
    if args.part == "cgan-yardstick":
        from benchmarks import cgan_yardstick

        # No training to shorten: a smoke run is the whole run, written aside from the committed page.
        out = output_path("bench-smoke") if args.smoke else args.out
        print(cgan_yardstick.markdown(cgan_yardstick.run_yardstick(out)))
        return
    previous = args.out / "results.json"
    results = json.loads(previous.read_text()) if args.part != "all" and previous.exists() else {}
    if args.part in ("all", "vae"):
        results.update(run(smoke=args.smoke))
    if args.part in ("all", "conditional"):
        results["conditional"] = collect_executed() if args.collect else run_conditional(smoke=args.smoke)
        results.setdefault("machine", machine_info())
    if args.part in ("all", "cgan"):
        from benchmarks import cgan  # imports notebook 08's model code only when asked

        race, samples = cgan.run_cgan(smoke=args.smoke)
        results["cgan"] = {**race, "machine": machine_info()}
        cgan.figure(results["cgan"], args.out / CGAN_FIGURE, results["cgan"]["machine"])
        cgan.samples_figure(samples, args.out / cgan.SAMPLES_FIGURE,
                            results["cgan"]["config"]["budget_seconds"] / 60)
    if args.part in ("all", "protocol"):
        from benchmarks import protocol

        results["protocol"] = protocol.run_protocol(smoke=args.smoke)
    write(results, args.out)


if __name__ == "__main__":
    main()
