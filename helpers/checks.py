"""Checks for the exercises: call `check_kl(my_kl)` and read what is right or what is wrong.

Each exercise draws test inputs (the same small public cases every time, then random ones), calls the
student's function on them and judges the answers: it recognises the usual mistakes (a missing factor
1/2, a sign, a sum over the wrong axis, swapped targets) and says which one it sees. A passing check
prints a line starting with "✓"; a failing one raises ExerciseError. Functions may use NumPy or
TensorFlow: results are converted with numpy.asarray.

Grading (`make grade`) splits a check in two. In the student's kernel, `answers` only records what the
function returned on inputs drawn from a seed chosen at grading time; in the grader's own process,
which never ran student code, `judge` compares those answers with the reference and picks the message.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LOG2 = float(np.log(2.0))
PUBLIC_SEED = 0  # the random cases of a check in a notebook; grading draws its own
FAULTS = {  # what a function can do instead of answering, and what the student reads
    "not callable": "pass your function itself (e.g. check_kl(my_kl)), not another object",
    "not implemented": "{fn} is not implemented yet: replace the `raise NotImplementedError` line with your "
                       "code.",
    "returned None": "{fn} returned None: did you forget `return`?",
    "not numbers": "{fn} returned something that is not an array of numbers",
    "raised": "{fn} raised an error on the check's inputs: run the check in the notebook to see it",
}

Inputs = tuple[np.ndarray, ...]


class ExerciseError(AssertionError):
    """The function under test gave a wrong answer; the message says how."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its name in messages, the calls a check makes, and how the answers are judged."""

    name: str
    function: str  # the name of the notebook's function, for messages
    draw: Callable[[np.random.Generator], list[Inputs]]  # the public cases first, then random ones
    judge_answers: Callable[[list[Inputs], list[np.ndarray]], str]  # the ✓ message, or ExerciseError


class Fault(Exception):
    """The function did not answer with numbers (one of FAULTS)."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def answer(fn: Callable, args: Inputs) -> np.ndarray:
    """fn's answer on float32 inputs, as float64; raises Fault, or whatever fn raised."""
    if not callable(fn):
        raise Fault("not callable")
    try:
        out = fn(*[np.asarray(a, dtype=np.float32) for a in args])
    except NotImplementedError:
        raise Fault("not implemented") from None
    if out is None:
        raise Fault("returned None")
    try:
        return np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fault("not numbers") from None


def judge(exercise: Exercise, calls: list[Inputs], answers: list[np.ndarray | Fault]) -> str:
    """The ✓ message for right answers to `calls`; raises ExerciseError naming the mistake otherwise."""
    for item in answers:
        if isinstance(item, Fault):
            raise ExerciseError(FAULTS[item.kind].format(fn=exercise.function))
    if len(answers) != len(calls):
        raise ExerciseError(f"{exercise.name}: expected {len(calls)} answers, got {len(answers)}")
    return exercise.judge_answers(calls, answers)


def check(exercise: Exercise, fn: Callable) -> None:
    """Run `fn` on the exercise's cases in this process and print ✓, or raise ExerciseError."""
    calls = exercise.draw(np.random.default_rng(PUBLIC_SEED))
    try:
        answers = [answer(fn, args) for args in calls]
    except Fault as fault:
        raise ExerciseError(FAULTS[fault.kind].format(fn=getattr(fn, "__name__", "your function"))) from None
    print(f"✓ {judge(exercise, calls, answers)}")


def answers(exercise: Exercise, fn: Callable, seed: int) -> list[dict]:
    """What `fn` returns on the cases drawn from `seed`, as JSON-ready records (for grading)."""
    records = []
    for args in exercise.draw(np.random.default_rng(seed)):
        try:
            out = answer(fn, args)
            records.append({"shape": list(out.shape), "float64": base64.b64encode(out.astype("<f8").tobytes())
                            .decode("ascii")})
        except Fault as fault:
            records.append({"fault": fault.kind})
        except Exception:  # the student sees the error by running the check; the grader needs only this
            records.append({"fault": "raised"})
    return records


def _shape(out: np.ndarray, expected: tuple[int, ...], what: str) -> None:
    if out.shape != expected:
        raise ExerciseError(f"expected {what} of shape {expected}, got shape {out.shape}")


def _close(out, expected) -> bool:
    return bool(np.shape(out) == np.shape(expected) and np.allclose(out, expected, rtol=1e-4, atol=1e-4))


def _all_close(outs: list[np.ndarray], expected: list[np.ndarray]) -> bool:
    return all(_close(o, e) for o, e in zip(outs, expected, strict=True))


def _name_the_mistake(name: str, outs: list[np.ndarray], hints: dict[str, list[np.ndarray]]) -> None:
    """Raise ExerciseError with the first hint whose wrong answers match `outs` on every call."""
    for hint, wrong in hints.items():
        if _all_close(outs, wrong):
            raise ExerciseError(f"{name}: {hint}.")


# --------------------------------------------------------------------------- VAE pieces


def _reparameterize_calls(rng: np.random.Generator) -> list[Inputs]:
    mean = np.array([[0.0, 1.0, -2.0], [0.5, 0.0, 3.0]])
    log_var = np.array([[0.0, np.log(4.0), np.log(0.25)], [1.0, -1.0, 0.0]])
    eps = np.array([[1.0, -1.0, 2.0], [0.3, 0.7, -1.5]])
    shape = (int(rng.integers(3, 7)), int(rng.integers(2, 5)))
    drawn = (rng.normal(size=shape), rng.normal(0.0, 1.0, size=shape), rng.normal(size=shape))
    return [(mean, log_var, eps), drawn]


def _judge_reparameterize(calls: list[Inputs], zs: list[np.ndarray]) -> str:
    for (mean, _, _), z in zip(calls, zs, strict=True):
        _shape(z, mean.shape, "z (same shape as mean)")
    sigmas = [np.exp(0.5 * log_var) for _, log_var, _ in calls]
    if _all_close(zs, [m + s * e for (m, _, e), s in zip(calls, sigmas, strict=True)]):
        return "reparameterize: z = mean + exp(log_var / 2) * eps"
    _name_the_mistake("reparameterize", zs, {
        "you multiplied eps by the variance exp(log_var); the standard deviation is exp(log_var / 2)":
            [m + np.exp(v) * e for m, v, e in calls],
        "you used log_var itself as the standard deviation; sigma = exp(log_var / 2)":
            [m + v * e for m, v, e in calls],
        "the mean is missing: z = mean + sigma * eps":
            [s * e for (_, _, e), s in zip(calls, sigmas, strict=True)],
        "eps is missing: z must be random, mean + sigma * eps":
            [m + s for (m, _, _), s in zip(calls, sigmas, strict=True)],
    })
    raise ExerciseError("reparameterize: wrong values. For mean=1, log_var=log 4, eps=-1 expect "
                        f"z = 1 + 2 * (-1) = -1; your function gave {zs[0][0, 1]:.4g}.")


REPARAMETERIZE = Exercise("reparameterize", "reparameterize", _reparameterize_calls, _judge_reparameterize)


def kl_reference(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """KL(N(mean, diag exp(log_var)) || N(0, I)) per row, in NumPy (helpers.vae has the Keras twin)."""
    return 0.5 * np.sum(mean**2 + np.exp(log_var) - log_var - 1.0, axis=-1)


def _kl_calls(rng: np.random.Generator) -> list[Inputs]:
    mean = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, -1.0], [0.0, 0.0]])
    log_var = np.array([[0.0, 0.0], [0.0, 0.0], [np.log(2.0), -0.5], [np.log(4.0), np.log(0.25)]])
    shape = (int(rng.integers(3, 7)), int(rng.integers(3, 6)))
    return [(mean, log_var), (rng.normal(size=shape), rng.normal(0.0, 0.7, size=shape))]


def _judge_kl(calls: list[Inputs], kls: list[np.ndarray]) -> str:
    for (mean, _), kl in zip(calls, kls, strict=True):
        if kl.shape == mean.shape:
            raise ExerciseError("kl: you returned one value per latent dimension; sum over the last axis "
                                "(one KL per example).")
        if kl.shape == ():
            raise ExerciseError("kl: you returned a single number; return one KL per example (sum over the "
                                "last axis only, no mean over the batch).")
        _shape(kl, (len(mean),), "one KL per example")
    expected = [kl_reference(m, v) for m, v in calls]
    if _all_close(kls, expected):
        return "kl: 0.5 * sum(mean^2 + exp(log_var) - log_var - 1) matches the closed form"
    if not _close(kls[0][0], 0.0):
        raise ExerciseError(f"kl: for mean 0 and log_var 0 (q equals the prior) the KL must be 0, "
                            f"got {kls[0][0]:.4g}. Did you forget the '- 1' term?")
    _name_the_mistake("kl", kls, {
        "the factor 1/2 is missing": [2 * e for e in expected],
        "the sign is flipped: a KL divergence is never negative": [-e for e in expected],
        "log_var and exp(log_var) are swapped: the terms are + exp(log_var) - log_var":
            [0.5 * np.sum(m**2 + v - np.exp(v) - 1.0, axis=-1) for m, v in calls],
        "you took the mean over the latent dimensions; the KL sums them":
            [e / m.shape[1] for e, (m, _) in zip(expected, calls, strict=True)],
    })
    raise ExerciseError(f"kl: wrong values. For mean [1, 0], log_var [0, 0] expect 0.5; got {kls[0][1]:.4g}.")


KL = Exercise("kl", "kl_divergence", _kl_calls, _judge_kl)


def _log_bernoulli(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    return x * -np.logaddexp(0.0, -logits) + (1 - x) * -np.logaddexp(0.0, logits)


def _elbo_case(rng: np.random.Generator, images: int) -> Inputs:
    x = (rng.uniform(size=(images, 784)) > 0.7).astype(float)
    logits = rng.normal(0.0, 2.0, size=(images, 784))
    return x, logits, rng.normal(size=(images, 2)), rng.normal(0.0, 0.5, size=(images, 2))


def _elbo_calls(rng: np.random.Generator) -> list[Inputs]:
    return [_elbo_case(np.random.default_rng(0), 3), _elbo_case(rng, int(rng.integers(2, 6)))]


def _judge_elbo(calls: list[Inputs], elbos: list[np.ndarray]) -> str:
    for (x, *_), elbo in zip(calls, elbos, strict=True):
        if elbo.shape == ():
            raise ExerciseError("elbo: you returned a single number; return one ELBO per image (no mean over "
                                "the batch).")
        _shape(elbo, (len(x),), "one ELBO per image")
    log_liks = [_log_bernoulli(x, logits).sum(axis=-1) for x, logits, _, _ in calls]
    kls = [kl_reference(m, v) for _, _, m, v in calls]
    pairs = list(zip(log_liks, kls, strict=True))
    if _all_close(elbos, [ll - kl for ll, kl in pairs]):
        return "elbo: sum over pixels of log p(x|z), minus the closed-form KL"

    def as_probabilities(x, logits):
        p = np.clip(logits, 1e-7, 1)
        return (x * np.log(p) + (1 - x) * np.log(np.clip(1 - logits, 1e-7, 1))).sum(-1)

    _name_the_mistake("elbo", elbos, {
        "the sign is flipped: that is the negative ELBO (the loss); the ELBO itself is log p(x|z) - KL":
            [kl - ll for ll, kl in pairs],
        "the KL term is missing": log_liks,
        "the KL must be subtracted, not added": [ll + kl for ll, kl in pairs],
        "you averaged the log-likelihood over the 784 pixels; the ELBO sums them":
            [ll / 784 - kl for ll, kl in pairs],
        "you used the logits as probabilities: apply the sigmoid first, or use a loss with from_logits=True":
            [as_probabilities(x, a) - kl for (x, a, _, _), kl in zip(calls, kls, strict=True)],
    })
    expected = pairs[0][0] - pairs[0][1]
    raise ExerciseError(f"elbo: wrong values; for the first three images expected {np.round(expected, 2)}, "
                        f"got {np.round(elbos[0], 2)}.")


ELBO = Exercise("elbo", "elbo", _elbo_calls, _judge_elbo)


# --------------------------------------------------------------------------- GAN pieces


def _bce(target: float, logits: np.ndarray) -> np.ndarray:
    return target * np.logaddexp(0.0, -logits) + (1 - target) * np.logaddexp(0.0, logits)


def _scalar(out: np.ndarray, what: str) -> float:
    if out.size != 1:
        raise ExerciseError(f"{what}: return one number (the mean over the batch), got shape {out.shape}.")
    return float(out.reshape(()))


def _discriminator_calls(rng: np.random.Generator) -> list[Inputs]:
    zeros, public = np.zeros((4, 1)), np.random.default_rng(1)
    batch = int(rng.integers(5, 12))
    return [(zeros, zeros), (public.normal(1.0, 2.0, size=(6, 1)), public.normal(-1.0, 2.0, size=(6, 1))),
            (rng.normal(1.0, 2.0, size=(batch, 1)), rng.normal(-1.0, 2.0, size=(batch, 1)))]


def _judge_discriminator_loss(calls: list[Inputs], outs: list[np.ndarray]) -> str:
    name = "discriminator loss"
    at_half, *losses = [_scalar(out, name) for out in outs]
    logits = calls[1:]
    expected = [_bce(1, r).mean() + _bce(0, f).mean() for r, f in logits]
    if _all_close(losses, expected) and _close(at_half, 2 * LOG2):
        return "discriminator loss: real called real, fake called fake; 2 log 2 at D = 1/2"
    if _close(at_half, LOG2):
        raise ExerciseError("discriminator loss: at D = 1/2 it should be 2 log 2 = 1.386, you got log 2: "
                            "is one of the two terms (real or fake) missing?")
    _name_the_mistake(name, losses, {
        "the targets are swapped: real images have target 1, generated ones target 0":
            [_bce(0, r).mean() + _bce(1, f).mean() for r, f in logits],
        "you summed over the batch; take the mean": [_bce(1, r).sum() + _bce(0, f).sum() for r, f in logits],
        "the sign is flipped: the loss is a cross-entropy, positive, to be minimised": [-e for e in expected],
        "you averaged the two terms; L_D is their sum": [e / 2 for e in expected],
    })
    raise ExerciseError(f"discriminator loss: expected {expected[0]:.4f} for the public logits, got "
                        f"{losses[0]:.4f}. The inputs are logits (before the sigmoid).")


DISCRIMINATOR_LOSS = Exercise("discriminator loss", "my_discriminator_loss", _discriminator_calls,
                              _judge_discriminator_loss)


def _generator_calls(rng: np.random.Generator) -> list[Inputs]:
    public = np.random.default_rng(2).normal(-1.0, 2.0, size=(6, 1))
    return [(public,), (rng.normal(-1.0, 2.0, size=(int(rng.integers(5, 12)), 1)),)]


def _judge_generator_loss(calls: list[Inputs], outs: list[np.ndarray]) -> str:
    name = "generator loss"
    losses = [_scalar(out, name) for out in outs]
    fakes = [fake for (fake,) in calls]
    expected = [_bce(1, f).mean() for f in fakes]
    if _all_close(losses, expected):
        return "generator loss: non-saturating, -log D(G(z)), log 2 at D = 1/2"
    _name_the_mistake(name, losses, {
        "that is the saturating loss log(1 - D(G(z))) of the minimax game; use -log D(G(z))":
            [-_bce(0, f).mean() for f in fakes],
        "that is the discriminator's fake term; the generator wants target 1 (real)":
            [_bce(0, f).mean() for f in fakes],
        "the sign is flipped: minimise -log D(G(z))": [-e for e in expected],
        "you summed over the batch; take the mean": [_bce(1, f).sum() for f in fakes],
    })
    raise ExerciseError(f"generator loss: expected {expected[0]:.4f} for the public logits, "
                        f"got {losses[0]:.4f}.")


GENERATOR_LOSS = Exercise("generator loss", "my_generator_loss", _generator_calls, _judge_generator_loss)


# --------------------------------------------------------------------------- what the notebooks call

EXERCISES = {  # the check a notebook's check cell calls -> its exercise (grading looks them up here)
    "check_reparameterize": REPARAMETERIZE,
    "check_kl": KL,
    "check_elbo": ELBO,
    "check_discriminator_loss": DISCRIMINATOR_LOSS,
    "check_generator_loss": GENERATOR_LOSS,
}


def check_reparameterize(fn: Callable) -> None:
    """fn(mean, log_var, eps) must return z = mean + exp(log_var / 2) * eps."""
    check(REPARAMETERIZE, fn)


def check_kl(fn: Callable) -> None:
    """fn(mean, log_var) must return KL(N(mean, diag exp(log_var)) || N(0, I)), one value per row."""
    check(KL, fn)


def check_elbo(fn: Callable) -> None:
    """fn(x, logits, mean, log_var) must return the one-sample ELBO per image: log p(x|z) summed - KL."""
    check(ELBO, fn)


def check_discriminator_loss(fn: Callable) -> None:
    """fn(real_logits, fake_logits) must return mean BCE(1, real) + mean BCE(0, fake), a scalar."""
    check(DISCRIMINATOR_LOSS, fn)


def check_generator_loss(fn: Callable) -> None:
    """fn(fake_logits) must return the non-saturating loss mean(-log D(G(z))) = mean BCE(1, fake)."""
    check(GENERATOR_LOSS, fn)


# --------------------------------------------------------------------------- grading

ANSWERS_MIME = "application/vnd.course.answers+json"  # how a probe cell hands its answers to the grader


def report_answers(check_name: str, fn: Callable, seed: int) -> None:
    """Grading only: display fn's answers to the cases drawn from `seed` (a probe cell calls this)."""
    from IPython.display import display

    display({ANSWERS_MIME: answers(EXERCISES[check_name], fn, seed)}, raw=True)


def decode_answers(records: object, calls: int) -> list[np.ndarray | Fault]:
    """The inverse of `answers`, for records from a process that ran student code: strict, or ValueError."""
    if not isinstance(records, list) or len(records) != calls:
        raise ValueError(f"expected a list of {calls} answers")
    decoded: list[np.ndarray | Fault] = []
    for record in records:
        if isinstance(record, dict) and set(record) == {"fault"} and record["fault"] in FAULTS:
            decoded.append(Fault(record["fault"]))
            continue
        if not (isinstance(record, dict) and set(record) == {"shape", "float64"}):
            raise ValueError("an answer is neither a fault nor an array")
        shape, data = record["shape"], record["float64"]
        if not (isinstance(shape, list) and len(shape) <= 4 and isinstance(data, str)
                and all(type(n) is int and 0 <= n <= 10**6 for n in shape) and math.prod(shape) <= 10**6):
            raise ValueError("an answer's shape or data is malformed")
        raw = base64.b64decode(data, validate=True)
        if len(raw) != 8 * math.prod(shape):
            raise ValueError("an answer's data does not fill its shape")
        decoded.append(np.frombuffer(raw, dtype="<f8").reshape(shape).astype(np.float64))
    return decoded
