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

    With g the gradient and t the step count (1 at the first step)::

        m <- b1 m + (1 - b1) g              v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t)              v_hat = v / (1 - b2^t)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    ``step`` is these five lines as written (``docs/derivations.md``, "Adam: the moments and
    their bias correction").  Training runs :class:`FusedAdam`, the same update on the same
    state in fewer passes over memory.

    Attributes
    ----------
    m, v : (P,) the first and second moments (the running means of g and g^2).
    t : int, steps taken.
    """

    def __init__(self, theta, grad, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.theta, self.grad = theta, grad
        self.lr, self.b1, self.b2, self.eps = float(lr), float(b1), float(b2), float(eps)
        self.hyperparameters = dict(lr=self.lr, b1=self.b1, b2=self.b2, eps=self.eps)
        self.m = np.zeros_like(theta)                 # (P,) first moment, the running mean of g
        self.v = np.zeros_like(theta)                 # (P,) second moment, the running mean of g^2
        self.t = 0

    def step(self):
        """One update of ``theta`` (in place: it is the model's) from ``grad``."""
        self.t += 1
        t, g, theta = self.t, self.grad, self.theta
        b1, b2, lr, eps = self.b1, self.b2, self.lr, self.eps
        ### BEGIN SOLUTION
        self.m = b1 * self.m + (1 - b1) * g           # (P,) m <- b1 m + (1 - b1) g
        self.v = b2 * self.v + (1 - b2) * g * g       # (P,) v <- b2 v + (1 - b2) g^2
        m_hat = self.m / (1 - b1 ** t)                # (P,) bias-corrected: m_hat = m / (1 - b1^t)
        v_hat = self.v / (1 - b2 ** t)                # (P,) v_hat = v / (1 - b2^t)
        theta -= lr * m_hat / (np.sqrt(v_hat) + eps)  # (P,) theta <- theta - lr m_hat / (sqrt(v_hat) + eps)
        ### END SOLUTION

    def state_dict(self):
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.int64(self.t)}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`'s ``m``, ``v``, ``t``; or an old checkpoint's discounted sums.

        Checkpoints written before issue 30 hold ``m_sum`` = M and ``v_sum`` = V, the sums
        sum_k b^(t-k) g_k, which are m / (1 - b1) and v / (1 - b2).  They are converted here, so
        such a resume is exact only up to the float32 rounding of that conversion (of 1 - b and
        of the product: two roundings, a relative 1.2e-7 in each moment); it is not bit-for-bit
        the run the old code would have continued.
        """
        if "m" in state:
            self.m[...] = state["m"]
            self.v[...] = state["v"]
        else:
            self.m[...] = (1.0 - self.b1) * state["m_sum"]      # m = (1 - b1) M
            self.v[...] = (1.0 - self.b2) * state["v_sum"]      # v = (1 - b2) V
        self.t = int(state["t"])


class FusedAdam(Adam):
    """:class:`Adam` with the same state (``m``, ``v``, ``t``, one ``state_dict``), in twelve
    passes over preallocated memory and no new array: the form the training step runs.

    It is equivalent to :meth:`Adam.step`: ``m`` and ``v`` are computed with the same roundings
    (bit-for-bit equal), and the bias correction is folded into two scalars,

        lr * m_hat / (sqrt(v_hat) + eps) = a_t * m / (sqrt(v) + eps_t),
        a_t = lr sqrt(1 - b2^t) / (1 - b1^t),   eps_t = eps sqrt(1 - b2^t),

    so theta differs from Adam's only by rounding (``tests/test_optim.py`` checks both).
    Measured gain (benchmarks/README.md, issue 30): the whole training step of the 784-400-20
    VAE on one thread, with :class:`Adam` in its place, ran at 0.48x, 0.80x and 1.02x of this
    one's samples/s at B = 32, 128 and 512 (a step's Adam costs the same at every batch size;
    the plain form's new (P,) arrays cost most of the difference).
    """

    def __init__(self, theta, grad, **hyperparameters):
        super().__init__(theta, grad, **hyperparameters)
        self._tmp = np.empty_like(theta)              # (P,) scratch, so a step allocates nothing

    def folded_constants(self, t):
        """``(a_t, eps_t)``, the step size and epsilon of step t with the bias correction folded in."""
        c2 = math.sqrt(1.0 - self.b2 ** t)
        # Python floats: a NumPy float64 scalar would make ``tmp *= a_t`` a float64 loop that
        # casts every float32 element there and back (NumPy 2's promotion), nearly twice as slow
        return self.lr * c2 / (1.0 - self.b1 ** t), self.eps * c2

    def step(self):
        self.t += 1
        a_t, eps_t = self.folded_constants(self.t)
        g, m, v, tmp, theta, b1, b2 = self.grad, self.m, self.v, self._tmp, self.theta, self.b1, self.b2
        np.multiply(g, 1 - b1, out=tmp)               # m <- b1 m + (1 - b1) g
        m *= b1
        m += tmp
        np.multiply(g, 1 - b2, out=tmp)               # v <- b2 v + (1 - b2) g g
        tmp *= g
        v *= b2
        v += tmp
        np.sqrt(v, out=tmp)                           # theta <- theta - a_t m / (sqrt(v) + eps_t)
        tmp += eps_t
        np.divide(m, tmp, out=tmp)
        tmp *= a_t
        theta -= tmp
