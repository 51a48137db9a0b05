"""Layers with hand-derived gradients: Linear, ReLU, Sigmoid and Sequential.

The layers are objects that keep state, as numpy-ml's ``neural_nets/layers`` are (not
CS231n's free functions ``affine_forward(x, w, b) -> (out, cache)``, which hand the cache
back to the caller).  One contract, for every layer:

* ``forward(x)`` keeps what ``backward`` needs on the layer itself and returns the output;
* ``backward(dout)`` *adds* into ``self.grads`` and returns ``dx``; it never writes into
  ``dout``, which belongs to the caller.  Whoever runs a backward pass zeroes the gradients
  first (the models do, in ``backward``); adding lets two passes accumulate;
* ``params`` and ``grads`` hold arrays of the same shapes under the same names.

Every layer computes in the dtype of its parameters (float32 for training, float64 for the
finite-difference checks); there is no global precision setting.  The derivations are in
``docs/derivations.md``.

Shapes: ``N`` examples, ``D_in`` inputs and ``D_out`` outputs per example.
"""
import numpy as np


class Layer:
    """Base class: a layer without parameters."""

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)


class Linear(Layer):
    """Affine map ``out = x @ W + b``.

    Initialisation: ``W, b ~ U(-1/sqrt(D_in), +1/sqrt(D_in))``, the default of PyTorch's
    ``nn.Linear`` (and of the pytorch/examples VAE we compare against).  It keeps the
    variance of each output of order 1/3 of the input's, whatever ``D_in`` is.

    Parameters
    ----------
    D_in, D_out : int
        Input and output sizes.
    rng : numpy.random.Generator
        Source of the initial weights.
    dtype : numpy dtype
        float32 for training, float64 for gradient checks.
    """

    def __init__(self, D_in, D_out, rng, dtype=np.float32):
        super().__init__()
        bound = 1.0 / np.sqrt(D_in)
        self.params["W"] = rng.uniform(-bound, bound, (D_in, D_out)).astype(dtype)  # (D_in, D_out)
        self.params["b"] = rng.uniform(-bound, bound, (D_out,)).astype(dtype)       # (D_out,)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["b"] = np.zeros_like(self.params["b"])
        self.x = None

    def forward(self, x):
        """``out = x @ W + b``: (N, D_in) -> (N, D_out)."""
        self.x = x
        ### BEGIN SOLUTION
        out = x @ self.params["W"]                    # (N, D_out)
        out += self.params["b"]
        ### END SOLUTION
        return out

    def backward(self, dout, need_dx=True):
        """dW += x^T dout,  db += sum_n dout,  dx = dout W^T.

        ``need_dx=False`` skips dx (returns None): the first layer of a network has no
        use for the gradient with respect to the data, and it costs a third of the layer.
        """
        ### BEGIN SOLUTION
        self.grads["W"] += self.x.T @ dout            # (D_in, D_out)
        self.grads["b"] += dout.sum(axis=0)           # (D_out,)
        return dout @ self.params["W"].T if need_dx else None   # (N, D_in)
        ### END SOLUTION


class ReLU(Layer):
    """``out = max(x, 0)``; ``dx = dout * [out > 0]`` (the kink at 0 takes gradient 0).

    ``inplace=True`` overwrites ``x`` with the output instead of allocating a new array:
    :func:`mlp` uses it, because there ``x`` is the private output of the Linear before.
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        ### BEGIN SOLUTION
        self.out = np.maximum(x, 0, out=x if self.inplace else None)   # (N, D)
        ### END SOLUTION
        return self.out

    def backward(self, dout):
        ### BEGIN SOLUTION
        return dout * (self.out > 0)                  # [x > 0] = [out > 0]
        ### END SOLUTION


class Sigmoid(Layer):
    """``out = 1 / (1 + exp(-x))``; ``dx = dout * out * (1 - out)``."""

    def forward(self, x):
        ### BEGIN SOLUTION
        self.out = sigmoid(x)
        ### END SOLUTION
        return self.out

    def backward(self, dout):
        ### BEGIN SOLUTION
        return dout * self.out * (1 - self.out)
        ### END SOLUTION


def sigmoid(x):
    """Logistic function without overflow: exp is only ever taken of ``-|x|`` <= 0."""
    e = np.exp(-np.abs(x))                            # in (0, 1]
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sequential(Layer):
    """Layers applied in order; ``backward`` runs them in reverse.

    Its ``params`` and ``grads`` are those of its layers, named ``"<index>.<name>"``
    (``"0.W"``, ``"0.b"``, ``"2.W"``, ...), the same arrays, not copies.
    """

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)
        self._collect()

    def _collect(self):
        self.params = {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                       for k, v in layer.params.items()}
        self.grads = {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                      for k, v in layer.grads.items()}

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout, need_dx=True):
        """Backpropagate ``dout`` through the layers in reverse; ``need_dx=False`` skips the
        first layer's input gradient (see :meth:`Linear.backward`) and returns None."""
        for i in range(len(self.layers) - 1, 0, -1):
            dout = self.layers[i].backward(dout)
        first = self.layers[0]
        return first.backward(dout, need_dx) if isinstance(first, Linear) else first.backward(dout)


def mlp(sizes, rng, dtype=np.float32):
    """``Linear -> ReLU -> ... -> Linear`` through ``sizes = [D_in, H1, ..., D_out]``.

    The last layer has no activation: a VAE encoder outputs (mu, logvar), and a decoder
    outputs logits (Bernoulli) or means (Gaussian).
    """
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(a, b, rng, dtype))
        if i < len(sizes) - 2:
            layers.append(ReLU(inplace=True))             # its input is the Linear's own output
    return Sequential(*layers)


def flatten_parameters(modules, dtype):
    """Move every parameter of ``modules`` into one flat buffer, and every gradient into another.

    Afterwards ``layer.params[name]`` and ``layer.grads[name]`` are *views* into the two
    returned vectors, so the layers read and write them as before, while an optimizer
    updates all parameters with a handful of vector operations (no Python loop over
    arrays) and a checkpoint is a single array.

    Returns
    -------
    theta, grad : (P,) arrays of ``dtype``, P the total number of parameters.
    """
    leaves = [layer for m in modules for layer in (m.layers if isinstance(m, Sequential) else [m])]
    P = sum(p.size for layer in leaves for p in layer.params.values())
    theta = np.empty(P, dtype=dtype)                  # (P,) all parameters
    grad = np.zeros(P, dtype=dtype)                   # (P,) all gradients
    offset = 0
    for layer in leaves:
        for name, p in layer.params.items():
            view = theta[offset:offset + p.size].reshape(p.shape)
            view[...] = p
            layer.params[name] = view
            layer.grads[name] = grad[offset:offset + p.size].reshape(p.shape)
            offset += p.size
    for m in modules:
        if isinstance(m, Sequential):
            m._collect()
    return theta, grad
