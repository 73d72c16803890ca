"""Checks for the exercises: call `check_kl(my_kl)` and read what is right or what is wrong.

Each check runs the student's function on small cases with known answers, recognises the usual
mistakes (a missing factor 1/2, a sign, a sum over the wrong axis, swapped targets) and says which one
it sees. A passing check prints a line starting with "✓"; a failing one raises ExerciseError.
Functions may use NumPy or TensorFlow: results are converted with numpy.asarray.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LOG2 = float(np.log(2.0))


class ExerciseError(AssertionError):
    """The function under test gave a wrong answer; the message says how."""


def _call(fn: Callable, *args: np.ndarray) -> np.ndarray:
    if not callable(fn):
        raise ExerciseError(f"pass your function itself (e.g. check_kl(my_kl)), not {type(fn).__name__}")
    try:
        out = fn(*[np.asarray(a, dtype=np.float32) for a in args])
    except NotImplementedError:
        raise ExerciseError(f"{fn.__name__} is not implemented yet: replace the "
                            "`raise NotImplementedError` line with your code.") from None
    if out is None:
        raise ExerciseError(f"{fn.__name__} returned None: did you forget `return`?")
    return np.asarray(out, dtype=np.float64)


def _shape(out: np.ndarray, expected: tuple[int, ...], what: str) -> None:
    if out.shape != expected:
        raise ExerciseError(f"expected {what} of shape {expected}, got shape {out.shape}")


def _close(out, expected) -> bool:
    return bool(np.allclose(out, expected, rtol=1e-4, atol=1e-4))


def _passed(message: str) -> None:
    print(f"✓ {message}")


# --------------------------------------------------------------------------- VAE pieces


def check_reparameterize(fn: Callable) -> None:
    """fn(mean, log_var, eps) must return z = mean + exp(log_var / 2) * eps."""
    mean = np.array([[0.0, 1.0, -2.0], [0.5, 0.0, 3.0]])
    log_var = np.array([[0.0, np.log(4.0), np.log(0.25)], [1.0, -1.0, 0.0]])
    eps = np.array([[1.0, -1.0, 2.0], [0.3, 0.7, -1.5]])
    z = _call(fn, mean, log_var, eps)
    _shape(z, mean.shape, "z (same shape as mean)")
    sigma = np.exp(0.5 * log_var)
    if _close(z, mean + sigma * eps):
        return _passed("reparameterize: z = mean + exp(log_var / 2) * eps")
    hints = {
        "you multiplied eps by the variance exp(log_var); the standard deviation is exp(log_var / 2)":
            mean + np.exp(log_var) * eps,
        "you used log_var itself as the standard deviation; sigma = exp(log_var / 2)": mean + log_var * eps,
        "the mean is missing: z = mean + sigma * eps": sigma * eps,
        "eps is missing: z must be random, mean + sigma * eps": mean + sigma,
    }
    for hint, wrong in hints.items():
        if _close(z, wrong):
            raise ExerciseError(f"reparameterize: {hint}.")
    raise ExerciseError("reparameterize: wrong values. For mean=1, log_var=log 4, eps=-1 expect "
                        f"z = 1 + 2 * (-1) = -1; your function gave {z[0, 1]:.4g}.")


def _kl_reference(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    from helpers.vae import kl_to_standard_normal  # the course's own closed form (notebook 03)

    return np.asarray(kl_to_standard_normal(mean, log_var))


def check_kl(fn: Callable) -> None:
    """fn(mean, log_var) must return KL(N(mean, diag exp(log_var)) || N(0, I)), one value per row."""
    mean = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, -1.0], [0.0, 0.0]])
    log_var = np.array([[0.0, 0.0], [0.0, 0.0], [np.log(2.0), -0.5], [np.log(4.0), np.log(0.25)]])
    kl = _call(fn, mean, log_var)
    expected = _kl_reference(mean, log_var)
    if kl.shape == mean.shape:
        raise ExerciseError("kl: you returned one value per latent dimension; sum over the last axis "
                            "(one KL per example).")
    if kl.shape == ():
        raise ExerciseError("kl: you returned a single number; return one KL per example (sum over the "
                            "last axis only, no mean over the batch).")
    _shape(kl, (len(mean),), "one KL per example")
    if _close(kl, expected):
        return _passed("kl: 0.5 * sum(mean^2 + exp(log_var) - log_var - 1) matches the closed form")
    if not _close(kl[0], 0.0):
        raise ExerciseError(f"kl: for mean 0 and log_var 0 (q equals the prior) the KL must be 0, "
                            f"got {kl[0]:.4g}. Did you forget the '- 1' term?")
    hints = {
        "the factor 1/2 is missing": 2 * expected,
        "the sign is flipped: a KL divergence is never negative": -expected,
        "log_var and exp(log_var) are swapped: the terms are + exp(log_var) - log_var":
            0.5 * np.sum(mean**2 + log_var - np.exp(log_var) - 1.0, axis=-1),
        "you took the mean over the latent dimensions; the KL sums them": expected / mean.shape[1],
    }
    for hint, wrong in hints.items():
        if _close(kl, wrong):
            raise ExerciseError(f"kl: {hint}.")
    raise ExerciseError(f"kl: wrong values. For mean [1, 0], log_var [0, 0] expect 0.5; got {kl[1]:.4g}.")


def _log_bernoulli(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    return x * -np.logaddexp(0.0, -logits) + (1 - x) * -np.logaddexp(0.0, logits)


def check_elbo(fn: Callable) -> None:
    """fn(x, logits, mean, log_var) must return the one-sample ELBO per image: log p(x|z) summed - KL."""
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(3, 784)) > 0.7).astype(float)
    logits = rng.normal(0.0, 2.0, size=(3, 784))
    mean, log_var = rng.normal(size=(3, 2)), rng.normal(0.0, 0.5, size=(3, 2))
    elbo = _call(fn, x, logits, mean, log_var)
    if elbo.shape == ():
        raise ExerciseError("elbo: you returned a single number; return one ELBO per image (no mean over "
                            "the batch).")
    _shape(elbo, (3,), "one ELBO per image")
    log_lik = _log_bernoulli(x, logits).sum(axis=-1)
    kl = _kl_reference(mean, log_var)
    if _close(elbo, log_lik - kl):
        return _passed("elbo: sum over pixels of log p(x|z), minus the closed-form KL")
    hints = {
        "the sign is flipped: that is the negative ELBO (the loss); the ELBO itself is log p(x|z) - KL":
            kl - log_lik,
        "the KL term is missing": log_lik,
        "the KL must be subtracted, not added": log_lik + kl,
        "you averaged the log-likelihood over the 784 pixels; the ELBO sums them": log_lik / 784 - kl,
        "you used the logits as probabilities: apply the sigmoid first, or use a loss with from_logits=True":
            (x * np.log(np.clip(logits, 1e-7, 1)) + (1 - x) * np.log(np.clip(1 - logits, 1e-7, 1))).sum(-1)
            - kl,
    }
    for hint, wrong in hints.items():
        if _close(elbo, wrong):
            raise ExerciseError(f"elbo: {hint}.")
    raise ExerciseError(f"elbo: wrong values; expected {np.round(log_lik - kl, 2)}, got {np.round(elbo, 2)}.")


# --------------------------------------------------------------------------- GAN pieces


def _bce(target: float, logits: np.ndarray) -> np.ndarray:
    return target * np.logaddexp(0.0, -logits) + (1 - target) * np.logaddexp(0.0, logits)


def check_discriminator_loss(fn: Callable) -> None:
    """fn(real_logits, fake_logits) must return mean BCE(1, real) + mean BCE(0, fake), a scalar."""
    rng = np.random.default_rng(1)
    zeros = np.zeros((4, 1))
    at_half = _call(fn, zeros, zeros)
    if at_half.size != 1:
        raise ExerciseError(f"discriminator loss: return one number (the mean over the batch), got shape "
                            f"{at_half.shape}.")
    real, fake = rng.normal(1.0, 2.0, size=(6, 1)), rng.normal(-1.0, 2.0, size=(6, 1))
    loss = float(_call(fn, real, fake))
    expected = float(_bce(1, real).mean() + _bce(0, fake).mean())
    if _close(loss, expected) and _close(float(at_half), 2 * LOG2):
        return _passed("discriminator loss: real called real, fake called fake; 2 log 2 at D = 1/2")
    if _close(float(at_half), LOG2):
        raise ExerciseError("discriminator loss: at D = 1/2 it should be 2 log 2 = 1.386, you got log 2: "
                            "is one of the two terms (real or fake) missing?")
    hints = {
        "the targets are swapped: real images have target 1, generated ones target 0":
            _bce(0, real).mean() + _bce(1, fake).mean(),
        "you summed over the batch; take the mean": _bce(1, real).sum() + _bce(0, fake).sum(),
        "the sign is flipped: the loss is a cross-entropy, positive, to be minimised": -expected,
        "you averaged the two terms; L_D is their sum": expected / 2,
    }
    for hint, wrong in hints.items():
        if _close(loss, wrong):
            raise ExerciseError(f"discriminator loss: {hint}.")
    raise ExerciseError(f"discriminator loss: expected {expected:.4f} for these logits, got {loss:.4f}. The "
                        "inputs are logits (before the sigmoid).")


def check_generator_loss(fn: Callable) -> None:
    """fn(fake_logits) must return the non-saturating loss mean(-log D(G(z))) = mean BCE(1, fake)."""
    rng = np.random.default_rng(2)
    fake = rng.normal(-1.0, 2.0, size=(6, 1))
    loss = _call(fn, fake)
    if loss.size != 1:
        raise ExerciseError(f"generator loss: return one number (the mean over the batch), "
                            f"got shape {loss.shape}.")
    loss, expected = float(loss), float(_bce(1, fake).mean())
    if _close(loss, expected):
        return _passed("generator loss: non-saturating, -log D(G(z)), log 2 at D = 1/2")
    hints = {
        "that is the saturating loss log(1 - D(G(z))) of the minimax game; use -log D(G(z))":
            -_bce(0, fake).mean(),
        "that is the discriminator's fake term; the generator wants target 1 (real)": _bce(0, fake).mean(),
        "the sign is flipped: minimise -log D(G(z))": -expected,
        "you summed over the batch; take the mean": _bce(1, fake).sum(),
    }
    for hint, wrong in hints.items():
        if _close(loss, wrong):
            raise ExerciseError(f"generator loss: {hint}.")
    raise ExerciseError(f"generator loss: expected {expected:.4f} for these logits, got {loss:.4f}.")
