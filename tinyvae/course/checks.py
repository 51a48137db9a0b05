"""The checks of ``tinyvae exercises``: tools shared by every exercise's check.

A check runs the student's function (in the student's process, :mod:`.remote`) next to the
reference ``R`` (the installed package, here), in float64, on sizes drawn from a seed
(:func:`draw`): N examples, D pixels, H hidden units and Z latents, odd and pairwise different
(3 to 15), so that each common mistake leaves its own fingerprint: a gradient N times too large,
a transposed weight gradient, a missing 1/2.  The seed is the teacher's (``tinyvae exercises
grade --seed S``), so a copy cannot know the sizes and inputs it will be graded on; ``check``
uses :data:`DEFAULT_SEED`.  Besides the drawn sizes the checks run N = 1, square layers
(D_in = D_out, where a transposed weight gradient has the right shape), inputs exactly at ReLU's
kink and extreme logits.  A mistake is *recognised* when the student's result equals, to
rounding, what the mistake computes; its feedback then names it and the grader adds the
section of ``docs/derivations.md`` that derives the right result (the exercise's own, from its
record in :mod:`.catalogue`).

Tolerances, from an analysis rather than from a run:

* ``SAME = 1e-9``: the student's float64 result against the reference's.  Both evaluate the
  same formula in a few float64 operations, possibly in another order or algebraic form
  (``tanh`` for the sigmoid), which moves the result by a few ulps (1e-16 relative); 1e-9
  leaves six orders of magnitude for the conditioning of these small sums, and every mistake
  listed here moves the result by 1e-2 or more.
* :data:`tinyvae.gradcheck.TOLERANCE` (1e-6): a hand-written gradient against central
  differences of the student's own value, as ``tinyvae gradcheck`` judges every gradient.
"""
from typing import NamedTuple

import numpy as np

from .. import gradcheck

SAME = 1e-9
#: the seed of ``tinyvae exercises check`` (a student's self-check); a teacher's grade draws its own
DEFAULT_SEED = 0


class Draw(NamedTuple):
    """The sizes of one grading, and its random inputs: ``K.rng(k)`` is the k-th stream."""

    seed: int
    N: int
    D: int
    H: int
    Z: int

    def rng(self, k):
        return np.random.default_rng([self.seed, k])


def draw(seed=DEFAULT_SEED):
    """The sizes N, D, H, Z of a grading with ``seed``: odd, pairwise different, from 3 to 15 (so
    no size is 1 or 2, and each factor mistake names one size)."""
    rng = np.random.default_rng([seed, 2024])
    N, D, H, Z = (int(v) for v in rng.choice(np.arange(3, 16, 2), size=4, replace=False))
    return Draw(int(seed), N, D, H, Z)


class Fail(Exception):
    """A check's verdict 'fail'; ``str`` is the one-line detail shown to the student."""


def results(value, names):
    """``value`` unpacked into ``len(names)`` results, or a Fail naming what was expected."""
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        got = f"a tuple of {len(value)}" if isinstance(value, (tuple, list)) else type(value).__name__
        raise Fail(f"returned {got}; expected ({', '.join(names)})")
    return value


def array(name, value, shape, dtype=np.float64):
    """``value`` as an array of ``shape`` and ``dtype``, finite, or a Fail that says what is off."""
    if value is None:
        raise Fail(f"{name} is None; compute it and return it")
    a = np.asarray(value)
    if a.shape != tuple(shape):
        flipped = len(shape) == 2 and a.shape == tuple(shape)[::-1]
        raise Fail(f"{name} has shape {a.shape}, expected {tuple(shape)}"
                   + ("; it is transposed" if flipped else ""))
    if a.dtype != dtype:
        raise Fail(f"{name} is {a.dtype} for {np.dtype(dtype).name} inputs; keep the inputs' dtype (training runs "
                   f"in float32: multiply by Python floats, not by float64 arrays)")
    if not np.all(np.isfinite(a)):
        raise Fail(f"{name} holds {'nan' if np.isnan(a).any() else 'inf'}")
    return a


def number(name, value):
    """``value`` as one finite float, or a Fail (a loss of shape (N,) is the usual slip)."""
    if np.ndim(value) != 0:
        raise Fail(f"{name} has shape {np.shape(value)}; it is one number: sum over the pixels and average "
                   f"over the batch")
    value = float(value)
    if not np.isfinite(value):
        raise Fail(f"{name} is {value}")
    return value


def factor_mistakes(sizes):
    """``[(factor, what it means)]`` of the slips that scale a whole result, for ``sizes`` such
    as ``{"N": 5, "D": 7}``; each also with a flipped sign."""
    named = [(2.0, "is twice too large (a factor 2 too many, or a ½ missing)"),
             (0.5, "is half what it should be (a factor 2 missing)")]
    why = {"N": ("the batch mean's 1/N is missing", "averaged over the batch where it should sum, or divided "
                 "by N twice"),
           "D": ("the D pixels are counted twice", "averaged over the D pixels, where the loss sums them"),
           "Z": ("the Z latents are counted twice", "averaged over the Z latents, where the KL sums them")}
    for key, size in sizes.items():
        large, small = why[key]
        named += [(float(size), f"is {key} = {size} times too large: {large}"),
                  (1.0 / size, f"is {key} = {size} times too small: {small}")]
    return named + [(-f, "has the wrong sign and " + t) for f, t in named] + [(-1.0, "has the wrong sign")]


def same(a, b):
    """Whether ``a`` and ``b`` have one shape and agree to :data:`SAME`."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.isfinite(b))) and gradcheck.rel_error(a, b) <= SAME


def agree(name, got, want, mistakes=(), sizes=None):
    """The relative error of ``got`` against ``want``, or a Fail that names the mistake it matches:
    first the exercise's own ``mistakes`` ``[(what it is, what it computes)]``, then a whole-result
    factor of ``sizes`` (:func:`factor_mistakes`)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    err = gradcheck.rel_error(got, want)
    if err <= SAME:
        return err
    for words, wrong in mistakes:
        if same(got, wrong):
            raise Fail(f"{name} {words}")
    scale = float(np.vdot(got, want) / max(np.vdot(want, want), 1e-300))
    if gradcheck.rel_error(got, scale * want) <= SAME:
        for factor, words in factor_mistakes(sizes or {}):
            if abs(scale - factor) <= 1e-6 * abs(factor):
                raise Fail(f"{name} {words}")
        raise Fail(f"{name} is {scale:.4g} times what it should be")
    raise Fail(f"{name} differs from the reference (relative error {err:.1e})")


def differences(S, fn, args, wrt, scalar, h=1e-6):
    """Central differences ``{i: gradient}`` of ``scalar(fn(*args))`` with respect to each float64
    array ``args[i]``, i in ``wrt``, as :func:`tinyvae.gradcheck.numerical_gradient` takes them;
    ``fn`` is the student's, and all its calls go in one request (:meth:`.remote.Student.map`)."""
    calls = []
    for i in wrt:
        for j in range(np.size(args[i])):
            for step in (h, -h):
                moved = np.array(args[i], dtype=np.float64)
                moved.reshape(-1)[j] += step
                calls.append((tuple(args[:i]) + (moved,) + tuple(args[i + 1:]), {}))
    values = iter(scalar(v) for v in S.map(fn, calls))
    grads = {}
    for i in wrt:
        g = np.zeros(np.shape(args[i]))
        for j in range(g.size):
            g.reshape(-1)[j] = (next(values) - next(values)) / (2 * h)
        grads[i] = g
    return grads


def by_differences(err, what):
    """Pass ``err`` (a gradient against central differences) or Fail with it."""
    if err > gradcheck.TOLERANCE:
        raise Fail(f"{what} disagree with central differences (max relative error {err:.1e} > "
                   f"{gradcheck.TOLERANCE:.0e})")
    return err


def layer_differences(S, layer, x, rng):
    """The student's ``dx`` of ``layer`` (parameterless) at ``x`` against central differences of
    ``sum(layer.forward(x) * G)``, G a random upstream gradient (the CS231n trick)."""
    G = rng.standard_normal(np.shape(layer.forward(x.copy())))
    dx = layer.backward(G)
    numeric = differences(S, layer.forward, (x,), [0], lambda out: float(np.sum(np.asarray(out) * G)))[0]
    return by_differences(gradcheck.rel_error(dx, numeric), "the gradients")


def loss_differences(S, loss_fn, pred, target, *rest):
    """The gradient a loss returns, ``loss_fn(pred, target, *rest) -> (value, dpred)``, against
    central differences of its value."""
    dpred = loss_fn(pred, target, *rest)[1]
    numeric = differences(S, loss_fn, (pred, target, *rest), [0], lambda r: float(r[0]))[0]
    return by_differences(gradcheck.rel_error(dpred, numeric), "the returned gradient and the loss")

