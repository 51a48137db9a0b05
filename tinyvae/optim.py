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
    their bias correction").  Training runs :class:`FusedAdam`, the same update in fewer
    passes over memory.

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
        """Restore :meth:`state_dict`'s ``m``, ``v``, ``t``, or discounted sums.

        :class:`FusedAdam` (so every checkpoint, old and new) holds ``m_sum`` = M and ``v_sum``
        = V, the sums sum_k b^(t-k) g_k, which are m / (1 - b1) and v / (1 - b2).  They are
        converted here, so such a resume is exact only up to the float32 rounding of that
        conversion (of 1 - b and of the product: two roundings, a relative 1.2e-7 in each
        moment); it is not bit-for-bit the run :class:`FusedAdam` would have continued.
        """
        if "m" in state:
            self.m[...] = state["m"]
            self.v[...] = state["v"]
        else:
            self.m[...] = (1.0 - self.b1) * state["m_sum"]      # m = (1 - b1) M
            self.v[...] = (1.0 - self.b2) * state["v_sum"]      # v = (1 - b2) V
        self.t = int(state["t"])


class FusedAdam:
    """:class:`Adam` in ten passes over preallocated memory: the form the training step runs.

    The same update as :meth:`Adam.step`, written with *discounted sums* in place of the
    moments and every scalar folded into two per-step constants::

        M <- b1 M + g                       V <- b2 V + g^2          (M = m / (1 - b1), V = v / (1 - b2))
        theta <- theta - a_t * M / (sqrt(V) + eps_t),
        a_t = lr sqrt(S2_t) / S1_t,   eps_t = eps sqrt(S2_t),   S_t = 1 + b + ... + b^(t-1)

    (m_hat = M / S1_t: the discounted sum over the sum of its weights.)  Each moment then
    costs two passes instead of three, and no corrected copy is made (``docs/derivations.md``,
    "Adam: the moments and their bias correction").  ``tests/test_optim.py`` checks it against
    :class:`Adam`.  Its state is the sums, ``m_sum``, ``v_sum`` and ``t``, as checkpoints
    have always held them, so a training run and its resume are bit-for-bit what they were.

    Measured gain (benchmarks/README.md, issue 30): the whole training step of the 784-400-20
    VAE on one thread, in one process alternating the two on the same model, ran at 0.84x,
    0.95x and 0.99x of the samples/s with the moments updated in place (twelve passes, the
    fewest :meth:`Adam.step`'s form allows) at B = 32, 128, 512: Adam alone 2.32 ms a step
    against 1.87 ms, whatever the batch size.  The plain :meth:`Adam.step`, which allocates
    its temporaries, is slower still.

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
        """The first moment m of :class:`Adam`, (1 - b1) M (a new array)."""
        return (1.0 - self.b1) * self.m_sum

    @property
    def v(self):
        """The second moment v of :class:`Adam`, (1 - b2) V (a new array)."""
        return (1.0 - self.b2) * self.v_sum

    def folded_constants(self, t):
        """``(a_t, eps_t)``, the step size and epsilon of step t with the bias correction folded in."""
        S1 = (1.0 - self.b1 ** t) / (1.0 - self.b1)   # 1 + b1 + ... + b1^(t-1)
        S2 = (1.0 - self.b2 ** t) / (1.0 - self.b2)
        # Python floats: a NumPy float64 scalar would make ``tmp *= a_t`` a float64 loop that
        # casts every float32 element there and back (NumPy 2's promotion), nearly twice as slow
        return self.lr * math.sqrt(S2) / S1, self.eps * math.sqrt(S2)

    def step(self):
        self.t += 1
        a_t, eps_t = self.folded_constants(self.t)
        g, M, V, tmp, theta = self.grad, self.m_sum, self.v_sum, self._tmp, self.theta
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

    def state_dict(self):
        return {"m_sum": self.m_sum.copy(), "v_sum": self.v_sum.copy(), "t": np.int64(self.t)}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`'s sums, or :class:`Adam`'s moments (M = m / (1 - b1), exact
        only up to the float32 rounding of that conversion)."""
        if "m_sum" in state:
            self.m_sum[...] = state["m_sum"]
            self.v_sum[...] = state["v_sum"]
        else:
            self.m_sum[...] = state["m"] / (1.0 - self.b1)
            self.v_sum[...] = state["v"] / (1.0 - self.b2)
        self.t = int(state["t"])
