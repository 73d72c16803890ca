"""`make bench`: the course's conv VAE against the TF tutorial's setup, and the conditional models' scores.

Both models are trained side by side in one run on this machine and scored with the same
estimators: the single-sample test ELBO (nats per image, summed over pixels, mean over the test set)
and an importance-weighted bound. The course model is not copied here: its code is executed from
the notebook cells tagged `course-model`, so the benchmark measures exactly what students read.
Training time excludes evaluation.

The second part runs notebooks 06 (conditional VAE) and 07 (conditional GAN) top to bottom in full
mode, in a fresh output folder (so nothing resumes from old checkpoints), and collects the scores they
save: conditional accuracy, worst digit, Fréchet distance against the real-vs-real floor, and the
notebooks' running times. Results go to benchmarks/results.json and results.md, and the Markdown
tables are copied into the README between the bench markers. `--part` runs one part and keeps the
other part's previous results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from benchmarks import reference
from helpers import seed_everything
from helpers.data import load_mnist, make_dataset, to_float

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05_conv_vae.ipynb"
CONDITIONAL = {"cvae": "06_conditional_vae", "cgan": "07_cgan"}  # result key: notebook name
README = ROOT / "README.md"
MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")

FULL = {"n_train": 60_000, "n_test": 10_000, "ref_epochs": reference.EPOCHS, "course_epochs": 15,
        "course_batch": 128, "iwae_k": 200, "iwae_images": 1000, "evals_per_epoch": 4}
SMOKE = {"n_train": 4096, "n_test": 256, "ref_epochs": 1, "course_epochs": 1,
         "course_batch": 128, "iwae_k": 5, "iwae_images": 32, "evals_per_epoch": 2}


def load_course_model(notebook: Path = NOTEBOOK) -> dict:
    """Execute the notebook's cells tagged `course-model` and return their namespace."""
    cells = json.loads(notebook.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells
               if "course-model" in c.get("metadata", {}).get("tags", [])]
    if not sources:
        raise ValueError(f"{notebook} has no cells tagged 'course-model'")
    namespace = {"keras": keras, "np": np, "tf": tf}
    for source in sources:
        exec(compile(source, f"{notebook.name}[course-model]", "exec"), namespace)  # our own code
    return namespace


def machine_info() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "date": dt.date.today().isoformat()}


def _train_epoch(step, dataset) -> float:
    start = time.perf_counter()
    for x in dataset:
        step(x)
    return time.perf_counter() - start


def run(smoke: bool = False, seed: int = 0) -> dict:
    """Train both models and return the measured figures."""
    cfg = SMOKE if smoke else FULL
    course = load_course_model()
    seed_everything(seed, deterministic_ops=False)
    (train_images, _), (test_images, _) = load_mnist()
    train_images, test_images = train_images[: cfg["n_train"]], test_images[: cfg["n_test"]]
    test_ds = make_dataset(test_images, batch_size=500, binarize=True)
    x_iwae = to_float(test_images[: cfg["iwae_images"]], binarize=True)

    # The reference: its own pipeline, batch 32, Adam 1e-4, plain tf.function.
    ref_enc, ref_dec = reference.make_encoder(), reference.make_decoder()
    ref_step = reference.make_train_step(ref_enc, ref_dec, keras.optimizers.Adam(reference.LEARNING_RATE))
    ref_eval = course["make_evaluator"](ref_enc, ref_dec)
    ref_ds = reference.make_dataset(train_images)
    ref_initial = ref_eval(test_ds)  # untrained: what training must improve on
    ref_seconds, ref_elbos = [], []
    for epoch in range(1, cfg["ref_epochs"] + 1):
        ref_seconds.append(_train_epoch(ref_step, ref_ds))
        ref_elbos.append(ref_eval(test_ds))
        print(f"reference epoch {epoch}: {ref_seconds[-1]:.1f} s, test ELBO {ref_elbos[-1]:.2f}", flush=True)
    target = ref_elbos[-1]

    # The course model, evaluated several times per epoch until it reaches the reference's ELBO.
    enc, dec = course["make_encoder"](2), course["make_decoder"](2)
    step = course["make_train_step"](enc, dec, keras.optimizers.Adam(1e-3))
    course_eval = course["make_evaluator"](enc, dec)
    course_initial = course_eval(test_ds)
    train_ds = make_dataset(train_images, batch_size=cfg["course_batch"], shuffle=True, seed=0,
                            binarize=True, drop_remainder=True)
    steps_per_epoch = len(train_images) // cfg["course_batch"]
    chunk = max(1, steps_per_epoch // cfg["evals_per_epoch"])
    course_seconds, course_elbos, trace, time_to_target = [], [], [], None
    trained = 0.0
    for epoch in range(1, cfg["course_epochs"] + 1):
        epoch_time = 0.0
        for i, x in enumerate(train_ds):
            start = time.perf_counter()
            step(x)
            epoch_time += time.perf_counter() - start
            if time_to_target is None and (i + 1) % chunk == 0:
                elbo = course_eval(test_ds)
                trace.append((trained + epoch_time, elbo))
                if elbo >= target:
                    time_to_target = trained + epoch_time
        trained += epoch_time
        course_seconds.append(epoch_time)
        course_elbos.append(course_eval(test_ds))
        if time_to_target is None and course_elbos[-1] >= target:
            time_to_target = trained
        print(f"course epoch {epoch}: {epoch_time:.1f} s, test ELBO {course_elbos[-1]:.2f}", flush=True)

    ref_total = sum(ref_seconds) * reference.EPOCHS / len(ref_seconds)
    iwae = {name: course["iwae_estimate"](e, d, x_iwae, cfg["iwae_k"])
            for name, (e, d) in {"reference": (ref_enc, ref_dec), "course": (enc, dec)}.items()}
    ratio = None if time_to_target is None else time_to_target / ref_total
    return {
        "machine": machine_info(),
        "smoke": smoke,
        "config": cfg,
        "reference": {"seconds_per_epoch": float(np.mean(ref_seconds)), "epochs": cfg["ref_epochs"],
                      "train_seconds_10_epochs": ref_total, "test_elbo": ref_elbos,
                      "initial_test_elbo": ref_initial, "final_test_elbo": target, "iwae": iwae["reference"]},
        "course": {"seconds_per_epoch": float(np.mean(course_seconds)), "epochs": cfg["course_epochs"],
                   "test_elbo": course_elbos, "initial_test_elbo": course_initial,
                   "final_test_elbo": course_elbos[-1],
                   "seconds_to_reference_elbo": time_to_target, "trace": trace, "iwae": iwae["course"]},
        "time_ratio_to_reference_elbo": ratio,
        "targets": {"course_elbo_at_least_-150": course_elbos[-1] >= -150.0,
                    "time_ratio_at_most_one_third": ratio is not None and ratio <= 1 / 3},
    }


def run_notebook(path: Path, *, quick: bool, output_root: Path, timeout: int = 3600) -> float:
    """Execute a notebook with nbclient, outputs under output_root; returns the wall-clock seconds."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in ("COURSE_QUICK", "COURSE_OUTPUT_DIR")}
    os.environ.update(COURSE_QUICK="1" if quick else "0", COURSE_OUTPUT_DIR=str(output_root))
    try:
        start = time.perf_counter()
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        return time.perf_counter() - start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def collect_conditional(output_root: Path, mode: str, seconds: dict[str, float]) -> dict:
    """The scores that notebooks 06 and 07 saved under output_root, with their running times."""
    results = {}
    for key, name in CONDITIONAL.items():
        scores_file = output_root / name / mode / "scores.json"
        if not scores_file.exists():
            raise FileNotFoundError(f"{scores_file} is missing: did notebook {name} run to the end?")
        results[key] = {**json.loads(scores_file.read_text()), "notebook_seconds": seconds[key]}
    history = json.loads((output_root / CONDITIONAL["cgan"] / mode / "history.json").read_text())
    results["cgan"]["train_seconds"] = sum(e["seconds"] for e in history["epochs"])
    results["cgan"]["epochs"] = len(history["epochs"])
    results["targets"] = {
        "cgan_accuracy_at_least_97%": results["cgan"]["accuracy"] >= 0.97,
        "cgan_every_digit_at_least_90%": results["cgan"]["worst_class_accuracy"] >= 0.90,
        "cgan_frechet_within_10x_floor": results["cgan"]["frechet_ratio"] <= 10.0,
        "cgan_notebook_under_15_min": seconds["cgan"] < 15 * 60,
    }
    return results


def run_conditional(smoke: bool = False) -> dict:
    """Run notebooks 06 and 07 (full mode, or quick for a smoke run) and collect their scores."""
    mode = "quick" if smoke else "full"
    with tempfile.TemporaryDirectory(prefix="bench-conditional-") as tmp:
        seconds = {}
        for key, name in CONDITIONAL.items():
            notebook = ROOT / "notebooks" / f"{name}.ipynb"
            seconds[key] = run_notebook(notebook, quick=smoke, output_root=Path(tmp))
            print(f"{name}: {seconds[key]:.0f} s in {mode} mode", flush=True)
        return {"mode": mode, **collect_conditional(Path(tmp), mode, seconds)}


def conditional_markdown(conditional: dict) -> str:
    """The README table of the conditional models' scores."""
    v, g = conditional["cvae"], conditional["cgan"]
    mode = conditional.get("mode", "full")
    return "\n".join([
        f"Conditional models, each notebook run top to bottom in {mode} mode; 500 samples per digit, scored "
        "by the course's MNIST classifier (`helpers.classifier`). The Fréchet distance uses its 128 "
        "penultimate features; the floor is the distance between two halves of the test set "
        f"({g['frechet_floor']:.2f}). Sharpness (neighbouring pixels' squared differences over the "
        "image's energy) and diversity (mean distance between the features of two samples of the same "
        "digit) are ratios to the real test digits: 1 is as sharp, or as varied, as real handwriting.",
        "",
        "| | conditional VAE (06) | conditional GAN (07) | target for the GAN |",
        "|---|---|---|---|",
        f"| conditional accuracy | {v['accuracy']:.2%} | {g['accuracy']:.2%} | at least 97 % |",
        f"| worst digit's accuracy | {v['worst_class_accuracy']:.2%} | {g['worst_class_accuracy']:.2%} "
        "| at least 90 % |",
        f"| Fréchet distance (x floor) | {v['frechet']:.2f} ({v['frechet_ratio']:.1f}x) "
        f"| {g['frechet']:.2f} ({g['frechet_ratio']:.1f}x) | within 10x |",
        f"| sharpness (x real digits) | {v['sharpness']:.2f}x | {g['sharpness']:.2f}x | |",
        f"| diversity within a digit (x real digits) | {v['diversity']:.2f}x | {g['diversity']:.2f}x | |",
        f"| notebook running time | {v['notebook_seconds'] / 60:.1f} min "
        f"| {g['notebook_seconds'] / 60:.1f} min "
        f"({g['epochs']} epochs, {g['train_seconds'] / 60:.1f} min of training) | under 15 min |",
        "",
    ])


def markdown(results: dict) -> str:
    """The README tables: the VAE benchmark, then the conditional models if they were run."""
    parts = [vae_markdown(results)] if "reference" in results else []
    if "conditional" in results:
        parts.append(conditional_markdown(results["conditional"]))
    return "\n".join(parts)


def vae_markdown(results: dict) -> str:
    """The README table of the VAE benchmark."""
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
        f"| {r['train_seconds_10_epochs']:.0f} s (10 epochs) | {reach} |",
        f"| final test ELBO, nats per image (epochs) | {r['final_test_elbo']:.2f} ({r['epochs']}) "
        f"| {c['final_test_elbo']:.2f} ({c['epochs']}) |",
        f"| importance-weighted bound, K = {k}, {n} test images | {r['iwae']:.2f} | {c['iwae']:.2f} |",
        "",
    ])


def write(results: dict, out_dir: Path, readme: Path | None) -> None:
    """Write results.json and results.md, and refresh the README's table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (out_dir / "results.md").write_text(table)
    if readme is not None:
        text = readme.read_text()
        start, end = text.index(MARKERS[0]), text.index(MARKERS[1])
        readme.write_text(text[: start + len(MARKERS[0])] + "\n" + table + text[end:])
    print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run to check the machinery")
    parser.add_argument("--part", choices=("all", "vae", "conditional"), default="all",
                        help="run one part only; the other part's previous results are kept")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    previous = args.out / "results.json"
    results = json.loads(previous.read_text()) if args.part != "all" and previous.exists() else {}
    if args.part in ("all", "vae"):
        results.update(run(smoke=args.smoke))
    if args.part in ("all", "conditional"):
        results["conditional"] = run_conditional(smoke=args.smoke)
        results.setdefault("machine", machine_info())
    write(results, args.out, None if args.smoke else README)


if __name__ == "__main__":
    main()
