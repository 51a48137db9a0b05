"""`tinyvae gradcheck`: every component at or below 1e-6, and the checker can fail."""
import subprocess
import sys

import numpy as np

from tinyvae import gradcheck
from tinyvae.layers import Linear


def test_tinyvae_gradcheck_runs_and_exits_zero():
    proc = subprocess.run([sys.executable, "-m", "tinyvae", "gradcheck"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("max relative error: ")
    assert float(lines[-1].split(": ")[1]) <= 1e-6
    names = proc.stdout
    for component in ["Linear", "ReLU", "Sigmoid", "MSE", "Bernoulli", "KL", "reparameterization",
                      "AE (BCE)", "DAE (mask", "DAE (gaussian", "DAE (saltpepper", "VAE (Bernoulli)",
                      "VAE (Gaussian)", "beta-VAE (beta=4", "IWAE, K = 4 (ELBO + Jensen gap, as trained)",
                      "IWAE, K = 4 (Burda et al.'s log-mean-exp)"]:
        assert component in names, component


class WrongLinear(Linear):
    """A Linear whose backward forgets the transpose's scale: a planted bug."""

    def backward(self, dout):
        dx = super().backward(dout)
        return 1.01 * dx


def test_the_checker_catches_a_wrong_backward():
    rng = np.random.default_rng(0)
    errors = gradcheck.check_layer(WrongLinear(4, 3, rng, np.float64), rng.standard_normal((5, 4)), rng)
    assert errors["x"] > 1e-3
    assert errors["W"] < 1e-7


def test_numerical_gradient_refuses_float32():
    import pytest
    with pytest.raises(TypeError):
        gradcheck.numerical_gradient(lambda: 0.0, np.zeros(3, np.float32))
