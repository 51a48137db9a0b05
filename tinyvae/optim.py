"""Hand-written optimizers over one flat parameter vector.

Each optimizer updates ``theta`` (P,) in place from ``grad`` (P,): the flat buffers every
model keeps (:func:`tinyvae.layers.flatten_parameters`).  One vector means a handful of
NumPy calls per step instead of a Python loop over layers.  The state (moments and step
count) is exposed by ``state_dict`` / ``load_state_dict`` for exact resume.
"""
import math

import numpy as np


class SGD:
    """SGD with (heavy-ball) momentum, as PyTorch defines it.

    .. math:: v <- momentum * v + grad;   theta <- theta - lr * v
    """

    def __init__(self, theta, grad, lr=0.01, momentum=0.9):
        self.theta, self.grad = theta, grad
        self.lr, self.momentum = float(lr), float(momentum)
        self.hyperparameters = dict(lr=self.lr, momentum=self.momentum)
        self.v = np.zeros_like(theta)                 # (P,) velocity
        self.t = 0

    def step(self):
        self.t += 1
        self.v *= self.momentum                       # v <- momentum v + grad
        self.v += self.grad
        self.theta -= self.lr * self.v                # theta <- theta - lr v

    def state_dict(self):
        return {"v": self.v.copy(), "t": np.int64(self.t)}

    def load_state_dict(self, state):
        self.v[...] = state["v"]
        self.t = int(state["t"])


class Adam:
    """Adam (Kingma & Ba 2015), the same update as ``torch.optim.Adam`` (equal up to rounding).

    The plain form, with t the step count::

        m <- b1 m + (1 - b1) g              v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t)              v_hat = v / (1 - b2^t)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    What ``step`` runs is the same update written with *discounted sums* instead of the
    moments, and with every scalar folded into two per-step constants::

        M <- b1 M + g                       V <- b2 V + g^2          (M = m / (1 - b1), V = v / (1 - b2))
        theta <- theta - a_t * M / (sqrt(V) + eps_t),
        a_t = lr sqrt(S2_t) / S1_t,   eps_t = eps sqrt(S2_t),   S_t = 1 + b + ... + b^(t-1)

    (m_hat = M / S1_t is the weighted mean of the gradients so far: their discounted sum
    over the sum of the weights.)  That is ten passes over memory per step, every one into a
    preallocated buffer (``out=``).  ``tests/test_optim.py`` checks the result against the
    plain form; ``docs/derivations.md``, "Adam, with the folded bias
    correction", derives it.

    Attributes
    ----------
    m_sum, v_sum : (P,) the discounted sums M and V (``m`` and ``v`` give the moments).
    t : int, steps taken.
    """

    def __init__(self, theta, grad, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.theta, self.grad = theta, grad
        self.lr, self.b1, self.b2, self.eps = float(lr), float(b1), float(b2), float(eps)
        self.hyperparameters = dict(lr=self.lr, b1=self.b1, b2=self.b2, eps=self.eps)
        self.m_sum = np.zeros_like(theta)             # (P,) M = sum_k b1^(t-k) g_k
        self.v_sum = np.zeros_like(theta)             # (P,) V = sum_k b2^(t-k) g_k^2
        self._tmp = np.empty_like(theta)              # (P,) scratch, so a step allocates nothing
        self.t = 0

    @property
    def m(self):
        """The first moment m of the plain form, (1 - b1) M (a new array)."""
        return (1.0 - self.b1) * self.m_sum

    @property
    def v(self):
        """The second moment v of the plain form, (1 - b2) V (a new array)."""
        return (1.0 - self.b2) * self.v_sum

    def folded_constants(self, t):
        """``(a_t, eps_t)``, the step size and epsilon of step t with the bias correction folded in."""
        ### BEGIN SOLUTION
        S1 = (1.0 - self.b1 ** t) / (1.0 - self.b1)   # 1 + b1 + ... + b1^(t-1)
        S2 = (1.0 - self.b2 ** t) / (1.0 - self.b2)
        # Python floats: a NumPy float64 scalar would make ``tmp *= a_t`` a float64 loop that
        # casts every float32 element there and back (NumPy 2's promotion), nearly twice as slow
        return self.lr * math.sqrt(S2) / S1, self.eps * math.sqrt(S2)
        ### END SOLUTION

    def step(self):
        """One update of ``theta`` from ``grad``."""
        self.t += 1
        a_t, eps_t = self.folded_constants(self.t)
        g, M, V, tmp, theta = self.grad, self.m_sum, self.v_sum, self._tmp, self.theta
        ### BEGIN SOLUTION
        M *= self.b1                                  # M <- b1 M + g
        M += g
        np.multiply(g, g, out=tmp)                    # V <- b2 V + g^2
        V *= self.b2
        V += tmp
        np.sqrt(V, out=tmp)                           # theta <- theta - a_t M / (sqrt(V) + eps_t)
        tmp += eps_t
        np.divide(M, tmp, out=tmp)
        tmp *= a_t
        theta -= tmp
        ### END SOLUTION

    def state_dict(self):
        return {"m_sum": self.m_sum.copy(), "v_sum": self.v_sum.copy(), "t": np.int64(self.t)}

    def load_state_dict(self, state):
        self.m_sum[...] = state["m_sum"]
        self.v_sum[...] = state["v_sum"]
        self.t = int(state["t"])
