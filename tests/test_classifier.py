"""The digit classifier that judges lesson 02's decodes: its gradients against central
differences, its softmax against the textbook formula, the weights a page would run, and the
facts its docstring states (it learns the digits; a blend of two digits is valid less often)."""
import numpy as np
from hypothesis import assume, given, settings, strategies as st

from tinyvae.studies import classifier
from tinyvae.studies.classifier import Classifier, softmax, softmax_cross_entropy
from tinyvae.data import load
from tinyvae.gradcheck import TOLERANCE, check_loss, numerical_gradient, rel_error

LOSS_TOL = 1e-7
seeds = st.integers(0, 2**32 - 1)


# --- the loss and its hand-derived gradient ---------------------------------------------------------
@settings(deadline=None, max_examples=40)
@given(N=st.integers(1, 8), K=st.integers(2, 10), scale=st.floats(0.1, 8.0), seed=seeds)
def test_softmax_cross_entropy_gradient_matches_central_differences(N, K, scale, seed):
    rng = np.random.default_rng(seed)
    logits, y = scale * rng.standard_normal((N, K)), rng.integers(0, K, N)
    # the gradient (p - onehot(y)) / N: when it is nearly 0 everywhere it sinks below the
    # central difference's rounding error (about 1e-16 |L| / h), and no relative error is small
    p = softmax(logits)
    assume(np.max(np.abs(p - np.eye(K)[y])) > 1e-2)
    assert check_loss(softmax_cross_entropy, logits, y) < LOSS_TOL


@settings(deadline=None, max_examples=30)
@given(N=st.integers(1, 6), K=st.integers(2, 6), seed=seeds)
def test_softmax_and_loss_equal_the_textbook_formulas(N, K, seed):
    rng = np.random.default_rng(seed)
    logits, y = 3 * rng.standard_normal((N, K)), rng.integers(0, K, N)
    e = np.exp(logits)                                          # no overflow at this scale
    np.testing.assert_allclose(softmax(logits), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    textbook = -np.mean(np.log(e[np.arange(N), y] / e.sum(axis=1)))
    assert abs(softmax_cross_entropy(logits, y)[0] - textbook) < 1e-12 * max(1.0, textbook)


def test_softmax_cross_entropy_is_finite_and_exact_for_huge_logits():
    # exp(1e4) overflows; subtracting the row's maximum keeps every exp <= 1
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]])
    p = softmax(logits)
    np.testing.assert_allclose(p, [[1, 0, 0], [0, 0.5, 0.5]], atol=1e-300)
    loss, dlogits = softmax_cross_entropy(logits, np.array([1, 1]))
    # example 1: -log p_1 = 1e4 exactly (log-sum-exp is 1e4, l_1 = 0); example 2: log 2
    assert abs(loss - (1e4 + np.log(2)) / 2) < 1e-9
    assert np.all(np.isfinite(dlogits))


# --- the whole network ----------------------------------------------------------------------------
@settings(deadline=None, max_examples=20)
@given(N=st.integers(1, 6), D=st.integers(1, 6), H=st.integers(1, 6), K=st.integers(2, 5), seed=seeds)
def test_classifier_parameter_gradients_match_central_differences(N, D, H, K, seed):
    rng = np.random.default_rng(seed)
    model = Classifier(D, (H,), K, rng=rng, dtype=np.float64)
    x, y = rng.standard_normal((N, D)), rng.integers(0, K, N)
    first = model.net.layers[0]
    pre = x @ first.params["W"] + first.params["b"]             # the ReLU's input
    assume(np.min(np.abs(pre)) > 1e-3)                          # off the kink, where central differences hold
    model.loss_and_grad(x, y)
    analytic = model.grad.copy()
    numeric = numerical_gradient(lambda: softmax_cross_entropy(model.logits(x), y)[0], model.theta)
    assert rel_error(analytic, numeric) < TOLERANCE


def test_weights_run_as_plain_linear_relu_softmax_give_the_same_probabilities():
    # the contract a web page relies on: out = x @ W + b, ReLU between layers, softmax at the end
    rng = np.random.default_rng(0)
    model = Classifier(7, (5, 4), 3, rng=rng)
    x = rng.uniform(0, 1, (9, 7)).astype(np.float32)
    h = x.astype(np.float64)
    layers = model.weights()
    assert [np.shape(w["W"]) for w in layers] == [(7, 5), (5, 4), (4, 3)]
    for k, w in enumerate(layers):
        h = h @ np.array(w["W"]) + np.array(w["b"])
        if k < len(layers) - 1:
            h = np.maximum(h, 0)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    # float32 network against a float64 replay: agreement to float32 rounding (~1e-7 relative)
    np.testing.assert_allclose(model.probabilities(x), e / e.sum(axis=1, keepdims=True), atol=1e-5)


# --- the judge on the digits -------------------------------------------------------------------------
def test_classifier_trained_on_the_digits_names_unseen_test_digits():
    ds = load("digits")
    judge = classifier.train_classifier(ds.x_train, ds.y_train, hidden=(64,), epochs=100, lr=3e-3, seed=3)
    # 0.957-0.970 on seeds 10-19; 299 test digits give a standard error of about 0.011, so 0.93
    # is three standard errors below the lowest seen
    assert judge.accuracy(ds.x_test, ds.y_test) > 0.93
    p = classifier.top_probability(judge, ds.x_test)
    np.testing.assert_array_equal(classifier.is_valid(judge, ds.x_test), p >= classifier.VALID_PROBABILITY)
    # the docstring's reason for the rule: real digits pass far more often than 50/50 blends of
    # two different digits (measured about 0.95 against 0.60 on seeds 3, 10, 11; the share of
    # 600 blends has a standard error of 0.02, so a margin of 0.2 is more than 7 of them)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(ds.x_test), (2, 2000))
    keep = ds.y_test[i] != ds.y_test[j]
    blends = 0.5 * (ds.x_test[i[keep][:600]] + ds.x_test[j[keep][:600]])
    assert classifier.is_valid(judge, ds.x_test).mean() > classifier.is_valid(judge, blends).mean() + 0.2


def test_nearest_image_distance_is_zero_on_training_images_and_matches_brute_force():
    rng = np.random.default_rng(0)
    train, images = rng.uniform(0, 1, (30, 8)), rng.uniform(0, 1, (11, 8))
    brute = np.sqrt(((images[:, None] - train[None]) ** 2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(classifier.nearest_image_distance(images, train), brute, atol=1e-12)
    np.testing.assert_allclose(classifier.nearest_image_distance(train[:5], train), 0.0, atol=1e-7)
