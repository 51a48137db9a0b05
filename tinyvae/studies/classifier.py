"""A digit classifier from tinyvae's own layers: the judge of whether a decoded image is a digit.

The lecture says that latent points inside an autoencoder's holes "do not decode to valid
data".  To measure that, lesson 02 needs a judge that has never seen the autoencoder: a small
classifier trained on the training digits, asked how sure it is that a decode is *some*
digit.  Its network is the layers' own MLP (:func:`tinyvae.layers.mlp`), Linear and ReLU only,
so that a web page can run the same forward pass from :meth:`Classifier.weights`::

    logits   l = f(x),  f = Linear -> ReLU -> ... -> Linear      (N, D) -> (N, K)
    softmax  p_k = exp(l_k - m) / sum_j exp(l_j - m),  m = max_j l_j           (N, K)
    loss     L = -(1/N) sum_n log p_{y_n}(x_n)                          (cross-entropy)
    gradient dL/dl = (p - onehot(y)) / N                                          (N, K)

(The gradient: log p_y = l_y - log sum_j exp(l_j), so d(-log p_y)/dl_k = p_k - [k = y].)

**Valid.**  One rule, fixed before any decode is judged: an image is a *valid digit* when
the classifier puts at least ``VALID_PROBABILITY`` = 0.9 of its probability on one class,
``max_k p_k(x) >= 0.9``.  Why 0.9: it asks the judge to be nine times surer of its best guess
than of all the others together, which almost every real test digit passes (lesson 02 prints
the share) while a blend of two digits, which splits its probability between them, does not.
Its limit, said plainly: a ReLU classifier can be sure of an image no person would call a
digit (a bold, exaggerated stroke far from every training image), so lesson 02 also measures
the second judge, the distance to the nearest training image (:func:`nearest_image_distance`).

Shapes: ``N`` images, ``D`` pixels, ``H`` hidden units, ``K`` classes.
"""
import numpy as np

from .holes import nearest_distance
from ..layers import Linear, flatten_parameters, mlp
from ..optim import Adam

#: an image is a valid digit when the classifier's top-class probability is at least this
VALID_PROBABILITY = 0.9


# --- 1. the loss --------------------------------------------------------------------------
def softmax(logits):
    """p_k = exp(l_k - m) / sum_j exp(l_j - m), m = max_j l_j: (N, K) -> (N, K).

    Subtracting the row's maximum changes nothing (it cancels) and keeps exp <= 1.
    """
    logits = np.asarray(logits)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))        # (N, K), in (0, 1]
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits, y):
    """-(1/N) sum_n log softmax(l_n)_{y_n} and its gradient (p - onehot(y)) / N.

    Parameters
    ----------
    logits : (N, K)
    y : (N,) int class labels in 0..K-1

    Returns
    -------
    loss : float, nats per example.
    dlogits : (N, K)
    """
    logits = np.asarray(logits)
    N = logits.shape[0]
    rows = np.arange(N)
    shifted = logits - logits.max(axis=1, keepdims=True)            # (N, K), max 0
    log_norm = np.log(np.exp(shifted).sum(axis=1))                  # (N,) log sum_j exp(l_j - m)
    loss = float(np.sum(log_norm - shifted[rows, y]) / N)           # -log p_y = log sum - l_y
    dlogits = softmax(logits)                                       # (N, K) p
    dlogits[rows, y] -= 1.0                                         # p - onehot(y)
    dlogits /= N
    return loss, dlogits


# --- 2. the classifier ------------------------------------------------------------------------
class Classifier:
    """p(y|x) = softmax(f(x)) with f = :func:`tinyvae.layers.mlp` over ``[D, *hidden, K]``.

    All parameters live in one flat vector ``theta`` (gradients in ``grad``), as a model's do,
    so :class:`tinyvae.optim.Adam` trains it.
    """

    def __init__(self, D, hidden=(64,), K=10, rng=None, dtype=np.float32):
        self.D, self.hidden, self.K = int(D), tuple(int(h) for h in hidden), int(K)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.net = mlp([self.D, *self.hidden, self.K], rng, dtype)
        self.theta, self.grad = flatten_parameters([self.net], dtype)

    def logits(self, x):
        """f(x): (N, D) -> (N, K)."""
        return self.net.forward(np.asarray(x, dtype=self.theta.dtype))

    def probabilities(self, x):
        """p(y|x) = softmax(f(x)): (N, D) -> (N, K) float64."""
        return softmax(np.asarray(self.logits(x), dtype=np.float64))

    def loss_and_grad(self, x, y):
        """The cross-entropy of a minibatch ``x`` (N, D) with labels ``y`` (N,); sets ``grad``."""
        loss, dlogits = softmax_cross_entropy(self.logits(x), y)
        self.grad.fill(0)                                            # the layers add into grad
        self.net.backward(dlogits, need_dx=False)
        return loss

    def accuracy(self, x, y):
        """The share of ``x`` whose most probable class is its label ``y``."""
        return float(np.mean(np.argmax(self.logits(x), axis=1) == np.asarray(y)))

    def weights(self):
        """The network as plain lists, in order, for a page that runs it:
        ``[{"W": (D_in, D_out) list, "b": (D_out,) list}, ...]``, with a ReLU between
        consecutive entries and a softmax after the last (``out = x @ W + b``)."""
        return [{"W": layer.params["W"].tolist(), "b": layer.params["b"].tolist()}
                for layer in self.net.layers if isinstance(layer, Linear)]


def train_classifier(x, y, hidden=(64,), epochs=30, batch_size=32, lr=1e-3, seed=0):
    """A :class:`Classifier` trained on images ``x`` (N, D) with labels ``y`` (N,) by Adam on
    shuffled minibatches, its initial weights and the shuffling from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    model = Classifier(x.shape[1], hidden, int(y.max()) + 1, rng)
    optimizer = Adam(model.theta, model.grad, lr=lr)
    for _ in range(epochs):
        perm = rng.permutation(len(x))                               # (N,) this epoch's order
        for start in range(0, len(x), batch_size):
            batch = perm[start:start + batch_size]
            model.loss_and_grad(x[batch], y[batch])
            optimizer.step()
    return model


#: the judge's recipe, lesson 02's and the explorer's: a 64-unit hidden layer, Adam at 3e-3 on
#: batches of 32, for as many examples as 100 epochs of the 1,498 training digits (fewer epochs
#: on a larger data set, the same amount of training)
JUDGE_HIDDEN, JUDGE_LR, JUDGE_EXAMPLES = (64,), 3e-3, 100 * 1498


def judge_epochs(n_train):
    """The epochs of the judge's recipe on ``n_train`` images: JUDGE_EXAMPLES / n_train, at least 1."""
    return max(1, round(JUDGE_EXAMPLES / n_train))


def train_judge(x, y, seed=0):
    """The classifier lesson 02 and the explorer judge decodes with (the recipe above)."""
    return train_classifier(x, y, hidden=JUDGE_HIDDEN, epochs=judge_epochs(len(x)), lr=JUDGE_LR, seed=seed)


# --- 3. the two judges of an image ------------------------------------------------------------
def top_probability(classifier, images):
    """max_k p_k(x): how sure the classifier is of its best guess, (N, D) -> (N,)."""
    return classifier.probabilities(images).max(axis=1)


def is_valid(classifier, images, threshold=VALID_PROBABILITY):
    """The one rule: an image is a valid digit when max_k p_k(x) >= threshold.  (N,) bool."""
    return top_probability(classifier, images) >= threshold


def nearest_image_distance(images, x_train):
    """The Euclidean pixel distance from each image to its nearest training image: (N,).

    images : (N, D);  x_train : (M, D), both with pixels in [0, 1].
    """
    return nearest_distance(images, x_train)
