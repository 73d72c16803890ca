"""`make bench PART=protocol`: one model, four evaluation protocols, and the exact log-likelihood.

A VAE's "nats per image" on MNIST depends on how the pixels were binarised and on the estimator as
much as on the model. This part trains notebook 05's convolutional VAE (its `course-model` cells: 2-D
code, batch size, learning rate, epochs) twice on the same 50,000 training images:

- **threshold**: pixel = 1 if its grey level is above 0.5, the same image every epoch (the course, and
  the TensorFlow tutorial);
- **dynamic**: pixel = 1 with probability equal to its grey level, drawn afresh for every batch
  (Burda et al., 2016, and many papers since).

Each model is scored on two binarisations of all 10,000 test images: thresholded, and one fixed
stochastic draw (seeded). Three estimators: the single-sample ELBO, the importance-weighted bound
L_K with K = 5000 (on the first test images only: K decoder passes per image), and the exact
log p(x) = log of the integral of p(x|z) p(z) over the 2-D code, by the midpoint rule on a grid that is
decoded once, compared with a grid of twice its spacing and widened if posterior mass reaches its edge.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from helpers import seed_everything
from helpers.data import load_mnist, make_dataset, split_validation, to_float
from tools.course import load_course_model, notebook_path
from tools.machine import machine_info

NOTEBOOK = notebook_path("05_conv_vae")  # the model of make bench's VAE part

REFINE_IMAGES = 5  # per test set and model: the images whose log p(x) moved most between the two grids
REFINE_FACTOR = 8  # their refined grid's spacing is the configured grid's divided by this
REFINE_DEPTH = 25.0  # nats below the peak cell: the refined box holds every cell above this
REFINE_MAX_POINTS = 600  # per axis, so that a wide box does not decode for long
# The grid: `grid` points per axis on [-half_width, half_width]^2, checked against `coarse_grid` points.
FULL = {"n_train": 50_000, "n_test": 10_000, "half_width": 7.0, "grid": 560, "coarse_grid": 280,
        "iwae_k": 5000, "iwae_images": 100, "refine_images": REFINE_IMAGES}
SMOKE = {"n_train": 2048, "n_test": 256, "half_width": 16.0, "grid": 160, "coarse_grid": 80, "iwae_k": 5,
         "iwae_images": 256, "epochs": 1, "refine_images": 2}
# (SMOKE's one short epoch leaves posteriors out to |z| of about 10.)
HALF_WIDTH = 6.0  # exact_log_px's default square, [-6, 6]^2: the prior's mass outside is below 1e-7
EDGE_BAND = 0.5  # posterior mass within this distance of the grid's edge is measured
EDGE_LIMIT = 1e-3  # above this share of one image's posterior near the edge, the grid is widened
WIDENING = 1.5  # each widening multiplies the half-width and the points per axis (same spacing)
TRAINING = ("threshold", "dynamic")
TESTING = ("threshold", "stochastic")
TEST_BINARISATION_SEED = 123


def binarise_stochastic(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One Bernoulli draw per pixel with the grey level (in [0, 1]) as its probability, as float32 0/1."""
    grey = np.asarray(grey)
    if not np.issubdtype(grey.dtype, np.floating) or (grey.size and (grey.min() < 0 or grey.max() > 1)):
        raise ValueError("binarise_stochastic expects float grey levels in [0, 1]")
    return (rng.random(grey.shape, dtype=np.float32) < grey).astype(np.float32)


def midpoints(low, high, counts) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints of a counts[0] x counts[1] grid of cells on the box [low, high] (M, 2), float32, and the
    cells' sides."""
    low, high, counts = np.asarray(low, float), np.asarray(high, float), np.asarray(counts)
    sides = (high - low) / counts
    axes = [lo + side * (np.arange(n) + 0.5) for lo, side, n in zip(low, sides, counts, strict=True)]
    z1, z2 = np.meshgrid(*axes, indexing="ij")
    return np.stack([z1.ravel(), z2.ravel()], axis=-1).astype("float32"), sides


def grid(points_per_axis: int, half_width: float = HALF_WIDTH) -> tuple[np.ndarray, float]:
    """Midpoints of a square grid on [-half_width, half_width]^2, shape (points^2, 2), and one cell's area."""
    if points_per_axis < 2:
        raise ValueError(f"points_per_axis must be at least 2, got {points_per_axis}")
    points, sides = midpoints([-half_width] * 2, [half_width] * 2, [points_per_axis] * 2)
    return points, float(np.prod(sides))


def log_joint(decoder, z: np.ndarray):
    """Decode the codes z (M, 2) once; return the function x (N, 784) -> log p(x, z), shape (N, M).

    For Bernoulli pixels, log p(x|z) = x . logits - sum softplus(logits); log p(z) is the standard normal's.
    """
    logits = tf.reshape(decoder(z, training=False), (len(z), -1))
    log_prior = -0.5 * tf.reduce_sum(z**2, axis=1) - np.log(2 * np.pi)
    bias = log_prior - tf.reduce_sum(tf.nn.softplus(logits), axis=1)
    return lambda x: tf.matmul(x, logits, transpose_b=True) + bias


def exact_log_px(decoder, images: dict[str, np.ndarray], points_per_axis: int, chunk: int = 4096,
                 half_width: float = HALF_WIDTH) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """log p(x) of a 2-D Bernoulli VAE by the midpoint rule, for every image of every named set.

    `images` maps a name to binary images (N, 28, 28, 1) or (N, 784). Each chunk of grid points is
    decoded once and used for all sets.
    Returns, per set, log p(x) per image (float64) and each image's share of posterior mass within
    EDGE_BAND of the grid's edge (large values mean the grid is too small).
    """
    flat = {name: tf.constant(np.reshape(x, (len(x), -1)), tf.float32) for name, x in images.items()}
    if decoder.input_shape[-1] != 2:
        raise ValueError(f"exact_log_px integrates over a 2-D code, the decoder takes {decoder.input_shape}")
    z_grid, area = grid(points_per_axis, half_width)
    in_band = np.abs(z_grid).max(axis=1) > half_width - EDGE_BAND
    totals = {name: [] for name in flat}
    bands = {name: [] for name in flat}
    for start in range(0, len(z_grid), chunk):
        joint = log_joint(decoder, z_grid[start : start + chunk])  # each chunk decoded once, for every set
        band = tf.constant(in_band[start : start + chunk])
        for name, x in flat.items():
            log_joint_x = joint(x)  # (images, chunk)
            totals[name].append(tf.reduce_logsumexp(log_joint_x, axis=1))
            bands[name].append(tf.reduce_logsumexp(tf.where(band, log_joint_x, -np.inf), axis=1))
    out = {}
    for name in flat:
        total = tf.reduce_logsumexp(tf.stack(totals[name], axis=1), axis=1)
        band_share = tf.exp(tf.reduce_logsumexp(tf.stack(bands[name], axis=1), axis=1) - total)
        out[name] = ((total.numpy() + np.log(area)).astype("float64"), band_share.numpy())
    return out


def integrate(decoder, tests: dict[str, np.ndarray], cfg: dict) -> tuple[dict, dict, dict]:
    """exact_log_px on the configured grid and on one of twice its spacing, widened (same spacing) until no
    image has more than EDGE_LIMIT of its posterior mass near the edge, at most twice.

    Returns both results and the grid used: {"half_width", "points", "coarse_points"}.
    """
    used = {"half_width": cfg["half_width"], "points": cfg["grid"], "coarse_points": cfg["coarse_grid"]}
    for attempt in range(3):
        exact = exact_log_px(decoder, tests, used["points"], half_width=used["half_width"])
        if max(share.max() for _, share in exact.values()) <= EDGE_LIMIT:
            coarse = exact_log_px(decoder, tests, used["coarse_points"], half_width=used["half_width"])
            return exact, coarse, used
        if attempt < 2:
            used = {"half_width": WIDENING * used["half_width"],
                    "points": round(WIDENING * used["points"]),
                    "coarse_points": round(WIDENING * used["coarse_points"])}
            print(f"posterior mass near the grid's edge: widening it to [-{used['half_width']:g}, "
                  f"{used['half_width']:g}]^2", flush=True)
    raise RuntimeError(f"posterior mass still near the edge of [-{used['half_width']:g}, "
                       f"{used['half_width']:g}]^2 after two widenings")


def log_joint_at(decoder, x: np.ndarray, z: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """log p(x, z) of binary images x (N, 784) at each code z (M, 2), shape (N, M), float64."""
    x = tf.constant(np.reshape(x, (len(x), -1)), tf.float32)
    return np.concatenate([log_joint(decoder, tf.constant(z[start : start + chunk]))(x).numpy()
                           for start in range(0, len(z), chunk)], axis=1).astype("float64")


def refine(decoder, images: np.ndarray, used: dict, factor: int = REFINE_FACTOR) -> list[dict]:
    """log p(x) of each image on a grid `factor` times finer than `used`'s, on the box holding its posterior.

    The box covers every cell of the configured grid whose log p(x, z) is within REFINE_DEPTH nats of the
    largest (the cells left out hold at most their count times e^-REFINE_DEPTH of the peak cell's mass), one
    cell wider on each side; the configured grid is decoded once for all the images. Returns, per image,
    {"refined", "spacing"}: log p(x) and the largest spacing of that grid (REFINE_MAX_POINTS per axis may
    keep it above the target), {"refined_half", "half_spacing"}: the same on a grid with half as many points
    per axis (the refined value's own error's scale), and "box".
    """
    z_grid, area = grid(used["points"], used["half_width"])
    spacing = np.sqrt(area)
    out = []
    for x, on_grid in zip(images, log_joint_at(decoder, images, z_grid), strict=True):
        kept = z_grid[on_grid > on_grid.max() - REFINE_DEPTH]
        low, high = kept.min(axis=0) - 1.5 * spacing, kept.max(axis=0) + 1.5 * spacing
        counts = np.minimum(np.ceil((high - low) * factor / spacing).astype(int), REFINE_MAX_POINTS)
        result = {"box": [low.tolist(), high.tolist()]}
        for key, n in (("", counts), ("_half", np.ceil(counts / 2).astype(int))):
            points, sides = midpoints(low, high, n)
            values = log_joint_at(decoder, x[None], points)[0]
            result["refined" + key] = float(tf.reduce_logsumexp(values).numpy() + np.log(np.prod(sides)))
            result["half_spacing" if key else "spacing"] = float(sides.max())
        out.append(result)
    return out


def train(course: dict, images: np.ndarray, binarisation: str, epochs: int, seed: int) -> tuple:
    """Notebook 05's model and training step, on thresholded or dynamically binarised images."""
    seed_everything(seed, deterministic_ops=False)
    encoder, decoder = course["make_encoder"](2), course["make_decoder"](2)
    step = course["make_train_step"](encoder, decoder, keras.optimizers.Adam(course["LEARNING_RATE"]))
    data = make_dataset(images, batch_size=course["BATCH_SIZE"], shuffle=True, seed=seed,
                        binarize=binarisation == "threshold", drop_remainder=True)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        losses = []
        for x in data:
            if binarisation == "dynamic":  # a fresh draw of every pixel, every time an image is used
                x = binarise_stochastic(x.numpy(), rng)
            losses.append(float(step(x)))
        print(f"{binarisation} binarisation, epoch {epoch}/{epochs}: loss {np.mean(losses):.2f}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return encoder, decoder


def run_protocol(smoke: bool = False, seed: int = 0) -> dict:
    """Train both models, score each on both test binarisations with the three estimators."""
    course = load_course_model(NOTEBOOK)
    cfg = {"epochs": course["FULL_EPOCHS"], **(SMOKE if smoke else FULL)}
    (all_train, all_labels), (test_images, _) = load_mnist()
    (train_images, _), _ = split_validation(all_train, all_labels)  # the validation part stays unused
    train_images, test_images = train_images[: cfg["n_train"]], test_images[: cfg["n_test"]]
    grey = to_float(test_images)
    tests = {"threshold": to_float(test_images, binarize=True),
             "stochastic": binarise_stochastic(grey, np.random.default_rng(TEST_BINARISATION_SEED))}
    n, rows = cfg["iwae_images"], []
    for training in TRAINING:
        encoder, decoder = train(course, train_images, training, cfg["epochs"], seed)
        evaluate = course["make_evaluator"](encoder, decoder)
        start = time.perf_counter()
        exact, coarse, used = integrate(decoder, tests, cfg)
        print(f"grids on [-{used['half_width']:g}, {used['half_width']:g}]^2 decoded and integrated in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        for testing in TESTING:
            x = tests[testing]
            log_px, band_share = exact[testing]
            tf.random.set_seed(seed)
            iwae = course["iwae_estimate"](encoder, decoder, x[:n], cfg["iwae_k"], batch=2)
            elbo = evaluate(tf.data.Dataset.from_tensor_slices(x).batch(500))
            change = np.abs(log_px - coarse[testing][0])
            worst = np.argsort(change)[::-1][: cfg["refine_images"]]  # where the two grids differ most
            refined = [{"image": int(i), "grid": float(log_px[i]), **result}
                       for i, result in zip(worst, refine(decoder, x[worst], used), strict=True)]
            rows.append({"training": training, "testing": testing, "elbo": elbo,
                         "exact": float(log_px.mean()), "exact_first": float(log_px[:n].mean()),
                         "iwae_first": iwae,
                         "grid_change_mean": float(abs(log_px.mean() - coarse[testing][0].mean())),
                         "grid_change_max": float(change.max()),
                         "edge_share": float(band_share.max()), "grid": used, "refined": refined})
            print(rows[-1], flush=True)
    return {"machine": machine_info(), "smoke": smoke, "seed": seed, "config": cfg, "rows": rows,
            "second_seed": second_seed(course, train_images, tests, cfg, seed + 1)}


def second_seed(course: dict, train_images: np.ndarray, tests: dict, cfg: dict, seed: int) -> dict:
    """The first configuration (threshold training) once more from another seed: the spread that a
    difference between two configurations, one run each, must stand out from."""
    encoder, decoder = train(course, train_images, TRAINING[0], cfg["epochs"], seed)
    evaluate = course["make_evaluator"](encoder, decoder)
    exact, _, used = integrate(decoder, tests, cfg)
    scores = {testing: {"elbo": evaluate(tf.data.Dataset.from_tensor_slices(tests[testing]).batch(500)),
                        "exact": float(exact[testing][0].mean()),
                        "edge_share": float(exact[testing][1].max())} for testing in TESTING}
    print({"second seed": seed, **scores}, flush=True)
    return {"seed": seed, "training": TRAINING[0], "scores": scores, "grid": used}


# What each source measured: settings read from its code, figures as the papers report them.
SOURCES = ("TF tutorial `cvae`", "Burda et al. (2016), IWAE", "Davidson et al. (2018), S-VAE",
           "this course (notebook 05)")
LITERATURE = {
    "model": ("conv VAE, 2-D code", "MLP VAE, 50-D code, one stochastic layer", "MLP VAE, d = 2 to 40",
              "conv VAE, 2-D code"),
    "training images": ("60,000, threshold 0.5", "59,600, dynamic binarisation", "dynamic binarisation",
                        "50,000, threshold 0.5"),
    "test binarisation": ("threshold 0.5", "one stochastic draw (seeded)",
                          "stochastic (their example code draws it at evaluation)", "threshold 0.5"),
    "estimator": ("single-sample ELBO, mean of batch means", "L_5000",
                  "importance-weighted estimate (sample count not checked)",
                  "single-sample ELBO; in section 8, L_200 on 1,000 validation images"),
    "test images": ("10,000", "10,000", "10,000 (not checked)", "10,000 (ELBO)"),
    "reported": ("prints its test ELBO every epoch", "L_5000: VAE -86.76; IWAE trained with k = 50: -84.78",
                 "Gaussian VAE, d = 2: -135.73; d = 10: -93.84 (as quoted by a reproduction)",
                 "notebook 05 (50,000 images); the first table's run trained on 60,000"),
}


def literature_markdown() -> str:
    """What the TF tutorial, Burda et al. and Davidson et al. measured, beside the course."""
    rows = [f"| {name} | " + " | ".join(cells) + " |" for name, cells in LITERATURE.items()]
    return "\n".join([
        "What each source measured (settings read from its code, where checked; the published figures):",
        "", "| | " + " | ".join(SOURCES) + " |", "|---" * (len(SOURCES) + 1) + "|", *rows, "",
        "Only figures under the same binarisations and the same estimator compare: the tutorial's "
        "single-sample ELBO with the course's thresholded ELBO (the first table compares them on the same "
        "60,000 training images); the papers' importance-weighted figures with the dynamic / stochastic "
        "row's exact log p(x) or L_5000, never its ELBO. The papers used MLPs and trained far longer; "
        "Burda et al.'s code is 50-D, while Davidson et al.'s d = 2 has the course's code size."])


def test_sets(names: list[str]) -> str:
    """'the threshold test set', or 'the threshold and stochastic test sets'."""
    return f"the {' and '.join(names)} test set" + ("s" if len(names) > 1 else "")


def span(values: list[float]) -> str:
    """A range of values as text, "a to b" (one decimal), or one value if they round alike."""
    low, high = f"{min(values):.1f}", f"{max(values):.1f}"
    return low if low == high else f"{low} to {high}"


def markdown(results: dict) -> str:
    """results.md's tables: the four protocols on the course's model, then what each source measured."""
    cfg, m = results["config"], results["machine"]
    k, n, n_test = cfg["iwae_k"], cfg["iwae_images"], cfg["n_test"]
    grids = sorted({(r["grid"]["points"], r["grid"]["half_width"], r["grid"]["coarse_points"])
                    for r in results["rows"]})
    grid_text = "; ".join(f"{p} x {p} points on [-{w:g}, {w:g}]^2, against {c} x {c}" for p, w, c in grids)
    lines = [
        f"Evaluation protocols, measured by `make bench PART=protocol` on {m['date']} ({m['cpu']}, "
        f"{m['cores']} cores): notebook 05's convolutional VAE (2-D code, {cfg['epochs']} epochs on "
        f"{cfg['n_train']:,} training images), trained once on thresholded and once on dynamically "
        f"binarised images, scored on the {n_test:,} test images binarised two ways. Nats per image "
        f"(higher is better). The exact log p(x) (exact up to the grid's error, below) integrates over a "
        f"grid of codes ({grid_text}); L_{k} uses {k} samples of q per image, on the first {n} test images "
        "only: compare it only with the column beside it, the exact value on the same images. One training "
        f"run per binarisation in the table (both from seed {results.get('seed', 0)}): a difference of a nat "
        "or two between the two models is not established by one run"
        + (", and the threshold configuration was trained once more, from another seed, to measure the "
           "spread (below)." if results.get("second_seed") else "."),
        "",
        f"| trained on | tested on | ELBO (K = 1), all {n_test:,} | exact log p(x), all {n_test:,} "
        f"| exact - ELBO | L_{k}, first {n} | exact, first {n} |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['training']} | {row['testing']} | {row['elbo']:.2f} | {row['exact']:.2f} "
            f"| {row['exact'] - row['elbo']:.2f} | {row['iwae_first']:.2f} | {row['exact_first']:.2f} |")
    rows = results["rows"]
    exact = {(r["training"], r["testing"]): r["exact"] for r in rows}
    by_test = [exact[t, "threshold"] - exact[t, "stochastic"] for t in TRAINING]
    by_training = [abs(exact["threshold", s] - exact["dynamic", s]) for s in TESTING]
    elbo_gap = [r["exact"] - r["elbo"] for r in rows]
    iwae_gap = [r["exact_first"] - r["iwae_first"] for r in rows]
    first_images = [r["exact_first"] - r["exact"] for r in rows]
    ahead = {max(TRAINING, key=lambda t, s=s: exact[t, s]) for s in TESTING}
    leader = (f"the {ahead.pop()}-trained model ahead on both test sets" if len(ahead) == 1
              else "each model ahead on one test set")
    again = results.get("second_seed")
    if again:  # the same configuration from another seed: the spread a one-run difference must beat
        trained, other = again["training"], next(t for t in TRAINING if t != again["training"])
        seeds_apart = [abs(again["scores"][s]["exact"] - exact[trained, s]) for s in TESTING]
        pairs = ", ".join(f"{effect:.1f} against {spread:.1f} on the {s} test set"
                          for s, effect, spread in zip(TESTING, by_training, seeds_apart, strict=True))
        not_larger = [s for s, effect, spread in zip(TESTING, by_training, seeds_apart, strict=True)
                      if effect <= spread]
        behind = [s for s in TESTING  # where the second seed and the first fall on two sides of the other
                  if (again["scores"][s]["exact"] - exact[other, s]) * (exact[trained, s] - exact[other, s])
                  < 0]
        verdict = ("larger on every test set, though a second seed is a small sample of the spread"
                   if not not_larger else
                   f"no larger on {test_sets(not_larger)}, so one run per configuration does not establish "
                   "it")
        seed_text = (f"a second {trained}-trained run (seed {again['seed']}) measures how far two seeds of "
                     f"one configuration lie apart: the binarisation's effect, {pairs}, is {verdict}"
                     + (f"; on {test_sets(behind)} the second seed even falls behind the {other}-trained "
                        "model" if behind else ""))
    else:
        seed_text = ("a difference that one run per configuration cannot separate from seed-to-seed "
                     "variation, which was not measured")
    lines += ["", f"Read it this way: the test set's binarisation moves the exact log p(x) by "
              f"{span(by_test)} nats; the training binarisation by {span(by_training)}, {leader}; "
              f"{seed_text}; the single-sample ELBO is {span(elbo_gap)} nats below the "
              "exact value, and even "
              f"L_{k} is {span(iwae_gap)} nats short of it. The first {n} test images score "
              f"{span(first_images)} nats higher than all {n_test:,}, which is why L_{k} has its own "
              "exact column."]
    refined = [image for r in rows for image in r.get("refined", [])]
    if refined:
        moved = [abs(image["refined"] - image["grid"]) for image in refined]
        settled = max(abs(image["refined"] - image["refined_half"]) for image in refined)
        per_set = len(rows[0]["refined"])
        spacings = [image["spacing"] for image in refined]
        spacing_text = (f"spacing {min(spacings):.1e}" if max(spacings) < 1.01 * min(spacings) else
                        f"spacing {min(spacings):.1e}, up to {max(spacings):.1e} where a wide box met the "
                        f"cap of {REFINE_MAX_POINTS} points per axis")
        own_error = (
            f"Measured where the two grids disagree most: for the {per_set} images of each model and test "
            f"set whose value moved most between them ({len(refined)} in all), a grid {REFINE_FACTOR} times "
            f"finer, on the box that holds each one's posterior ({spacing_text}), moves them by at most "
            f"{max(moved):.2f} nats (by {np.mean(moved):.2f} on average): on these images the table's grid "
            f"is off by that much. A refined grid with half as many points per axis changes them by at most "
            f"{settled:.1e}, the size of the refined values' own error.")
    else:
        own_error = ("The fine grid's own error was not measured: these changes bound it only if halving the "
                     "spacing at least halves the error, which a posterior narrower than a few grid cells "
                     "does not promise, so one image's figure may be off by more.")
    lines += ["", "The grid's error: against a grid of twice the spacing, the mean log p(x) changes by at "
              f"most {max(r['grid_change_mean'] for r in rows):.1e} nats (one image's, by at most "
              f"{max(r['grid_change_max'] for r in rows):.2f}, on the narrowest posteriors). {own_error} "
              "The largest share of one image's posterior mass within "
              f"{EDGE_BAND} of the grid's edge is {max(r['edge_share'] for r in rows):.1e}.",
              "", literature_markdown(), ""]
    return "\n".join(lines)
