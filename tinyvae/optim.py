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
    """Adam (Kingma & Ba 2015), the same update as ``torch.optim.Adam`` (equal up to rounding).

    The plain form, with t the step count::

        m <- b1 m + (1 - b1) g              v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t)              v_hat = v / (1 - b2^t)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    What ``step`` runs is the same update with both bias corrections folded into one
    scalar step size, so no corrected copies of m and v are ever made::

        theta <- theta - a_t * m / (sqrt(v) + eps_t),
        a_t = lr sqrt(1 - b2^t) / (1 - b1^t),   eps_t = eps sqrt(1 - b2^t)

    Every vector operation writes into preallocated buffers (``out=``), twelve passes over
    memory in all.  With ``threads > 1`` the flat vector is cut into contiguous slices updated
    in parallel (NumPy releases the GIL inside each operation); the default is one, because
    inside a training step OpenBLAS's own threads are still spinning on the second core
    after each matrix product, and two Adam threads measured slower there, not faster.  ``tests/test_optim.py``
    checks the result against the plain form.  The folding is derived in
    ``docs/derivations.md``, "Adam with the folded bias correction".
    """

    def __init__(self, theta, grad, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, threads=1):
        self.theta, self.grad = theta, grad
        self.lr, self.b1, self.b2, self.eps = float(lr), float(b1), float(b2), float(eps)
        self.m = np.zeros_like(theta)                 # (P,) first moment
        self.v = np.zeros_like(theta)                 # (P,) second moment
        self._tmp = np.empty_like(theta)              # (P,) scratch, so a step allocates nothing
        self.t = 0
        # slices of about equal size; small vectors are not worth a thread
        n = max(1, min(int(threads), theta.size // 65536))
        bounds = np.linspace(0, theta.size, n + 1).astype(int)
        self._slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def step(self):
        self.t += 1
        bc2_sqrt = np.sqrt(1.0 - self.b2 ** self.t)
        a_t = self.lr * bc2_sqrt / (1.0 - self.b1 ** self.t)
        eps_t = self.eps * bc2_sqrt
        if len(self._slices) == 1:
            self._update(self._slices[0], a_t, eps_t)
        else:
            list(_pool().map(lambda s: self._update(s, a_t, eps_t), self._slices))

    def _update(self, s, a_t, eps_t):
        """The update on one slice ``s`` of the flat vectors."""
        b1, b2 = self.b1, self.b2
        g, m, v, tmp, theta = self.grad[s], self.m[s], self.v[s], self._tmp[s], self.theta[s]
        np.subtract(g, m, out=tmp)                    # m <- m + (1 - b1)(g - m) = b1 m + (1 - b1) g
        tmp *= 1.0 - b1
        m += tmp
        np.multiply(g, g, out=tmp)                    # v <- v + (1 - b2)(g^2 - v)
        tmp -= v
        tmp *= 1.0 - b2
        v += tmp
        np.sqrt(v, out=tmp)                           # theta <- theta - a_t m / (sqrt(v) + eps_t)
        tmp += eps_t
        np.divide(m, tmp, out=tmp)
        tmp *= a_t
        theta -= tmp

    def state_dict(self):
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.int64(self.t)}

    def load_state_dict(self, state):
        self.m[...] = state["m"]
        self.v[...] = state["v"]
        self.t = int(state["t"])


_POOL = None


def _pool():
    """One small thread pool shared by every optimizer, made on first use."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tinyvae-adam")
    return _POOL
