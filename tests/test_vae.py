"""helpers.vae is notebook 03's code, and it computes what the formulas say."""

import ast
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow_probability as tfp

from helpers import vae
from helpers.config import project_root

tfd = tfp.distributions
NOTEBOOK_03 = "03_vae.ipynb"


def _without_docstrings(node: ast.AST) -> str:
    node = ast.parse(ast.unparse(node))  # a copy
    for item in ast.walk(node):
        body = getattr(item, "body", None)
        if (isinstance(item, (ast.FunctionDef, ast.ClassDef)) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            item.body = body[1:] or [ast.Pass()]
    return ast.dump(node)


def _definitions(source: str) -> dict[str, ast.AST]:
    return {n.name: n for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.skipif(project_root() is None, reason="needs the course checkout's notebooks")
@pytest.mark.parametrize("name", vae.__all__)
def test_the_helper_is_the_code_notebook_03_teaches(name):
    cells = json.loads((project_root() / "notebooks" / NOTEBOOK_03).read_text())["cells"]
    taught = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            taught.update(_definitions("".join(cell["source"])))
    helper = _definitions(Path(vae.__file__).read_text())
    assert name in taught, f"notebook 03 no longer defines {name}: move the helper with the lesson"
    assert _without_docstrings(helper[name]) == _without_docstrings(taught[name]), (
        f"helpers.vae.{name} and notebook 03's {name} differ: change both, or neither")


def test_kl_matches_tfp_and_is_zero_at_the_prior():
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(5, 3)), rng.normal(scale=0.7, size=(5, 3))
    q = tfd.MultivariateNormalDiag(loc=mean, scale_diag=np.exp(0.5 * log_var))
    prior = tfd.MultivariateNormalDiag(loc=np.zeros(3), scale_diag=np.ones(3))
    np.testing.assert_allclose(np.asarray(vae.kl_to_standard_normal(mean, log_var)),
                               tfd.kl_divergence(q, prior).numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(vae.kl_to_standard_normal(np.zeros((2, 3)), np.zeros((2, 3)))), 0.0)


def test_reconstruction_nats_is_the_bernoulli_negative_log_likelihood():
    rng = np.random.default_rng(1)
    x = (rng.random((4, 784)) > 0.5).astype("float32")
    logits = rng.normal(scale=3.0, size=(4, 784)).astype("float32")
    expected = -tfd.Independent(tfd.Bernoulli(logits=logits), 1).log_prob(x).numpy()
    np.testing.assert_allclose(np.asarray(vae.reconstruction_nats(x, logits)), expected, rtol=1e-5)
    as_images = vae.reconstruction_nats(x.reshape(4, 28, 28, 1), logits.reshape(4, 28, 28, 1))
    np.testing.assert_allclose(np.asarray(as_images), expected, rtol=1e-5)  # summed over every pixel axis


def test_sampling_is_mean_plus_standard_deviation_times_the_noise():
    mean = np.array([[1.0, -2.0], [0.0, 3.0]], dtype="float32")
    log_var = np.log(np.array([[4.0, 0.25], [1.0, 9.0]], dtype="float32"))
    z = keras.ops.convert_to_numpy(vae.Sampling(seed=3)(mean, log_var))
    eps = keras.ops.convert_to_numpy(keras.random.normal((2, 2), seed=keras.random.SeedGenerator(3)))
    np.testing.assert_allclose(z, mean + np.sqrt([[4.0, 0.25], [1.0, 9.0]]) * eps, rtol=1e-6)
