"""Hand-written optimizers over one flat parameter vector.

Each optimizer updates ``theta`` (P,) in place from ``grad`` (P,): the flat buffers every
model keeps (:func:`tinyvae.layers.flatten_parameters`).  One vector means a handful of
NumPy calls per step instead of a Python loop over layers.  The state (moments and step
count) is exposed by ``state_dict`` / ``load_state_dict`` for exact resume.
"""
import numpy as np


class SGD:
    """SGD with (heavy-ball) momentum, as PyTorch defines it.

    .. math:: v <- momentum * v + grad;   theta <- theta - lr * v
    """

    def __init__(self, theta, grad, lr=0.01, momentum=0.9):
        self.theta, self.grad = theta, grad
        self.lr, self.momentum = float(lr), float(momentum)
        self.v = np.zeros_like(theta)                 # (P,) velocity
        self.t = 0

    def step(self):
        self.t += 1
        self.v *= self.momentum
        self.v += self.grad
        self.theta -= self.lr * self.v

    def state_dict(self):
        return {"v": self.v.copy(), "t": np.int64(self.t)}

    def load_state_dict(self, state):
        self.v[...] = state["v"]
        self.t = int(state["t"])


class Adam:
    """Adam (Kingma & Ba 2015), numerically identical to ``torch.optim.Adam``.

    The plain form, with t the step count::

        m <- b1 m + (1 - b1) g              v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t)              v_hat = v / (1 - b2^t)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    What ``step`` runs is the same update with both bias corrections folded into one
    scalar step size, so no corrected copies of m and v are made::

        theta <- theta - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    and every vector operation writes into preallocated buffers (``out=``).
    ``tests/test_optim.py`` checks the two forms agree.
    """

    def __init__(self, theta, grad, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.theta, self.grad = theta, grad
        self.lr, self.b1, self.b2, self.eps = float(lr), float(b1), float(b2), float(eps)
        self.m = np.zeros_like(theta)                 # (P,) first moment
        self.v = np.zeros_like(theta)                 # (P,) second moment
        self._tmp = np.empty_like(theta)              # (P,) scratch, so a step allocates nothing
        self.t = 0

    def step(self):
        self.t += 1
        b1, b2, g, m, v, tmp = self.b1, self.b2, self.grad, self.m, self.v, self._tmp
        bc1 = 1.0 - b1 ** self.t
        bc2_sqrt = np.sqrt(1.0 - b2 ** self.t)
        # m <- b1 m + (1 - b1) g
        m *= b1
        np.multiply(g, 1.0 - b1, out=tmp)
        m += tmp
        # v <- b2 v + (1 - b2) g^2
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        # theta <- theta - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
        np.sqrt(v, out=tmp)
        tmp *= 1.0 / bc2_sqrt
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr / bc1
        self.theta -= tmp

    def state_dict(self):
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.int64(self.t)}

    def load_state_dict(self, state):
        self.m[...] = state["m"]
        self.v[...] = state["v"]
        self.t = int(state["t"])
