"""Lesson 00: the finite-difference checker, the tool every later lesson trusts.

Lecture: no slide of its own.  Every model of the lecture (AE, DAE, VAE, beta-VAE) is
trained by backpropagation, and tinyvae writes each backward pass by hand
(``docs/derivations.md``).  This lesson shows how we know they are right.

What you will see:
  1. a central difference (f(x + h) - f(x - h)) / 2h against an exact derivative, and why
     its error is U-shaped in h: truncation (~h^2) on the right, rounding (~eps/h) on the left;
  2. why the checks run in float64 (in float32 the best error is about 1e-5, eps^(2/3), not
     1e-10, so it cannot tell tinyvae's tolerance of 1e-6 from an error);
  3. a layer checked through a random upstream gradient G (the CS231n trick);
  4. a planted bug, caught;
  5. every layer, loss and model of tinyvae at once (``tinyvae gradcheck``).

Run:   python lessons/00_gradient_check.py [--quick] [--out DIR] [--seed S]
Takes: about 1 second on 2 cores (--quick: the same, with fewer steps h; nothing to train).
"""
# %%
import _common

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import gradcheck
from tinyvae.layers import Linear, sigmoid

lesson = _common.Lesson("00_gradient_check", __doc__)
rng = np.random.default_rng(lesson.seed)

# %% --- 1. a central difference against the exact derivative ---
lesson.step("central differences: the error is U-shaped in h")
# f(x) = sum(sigmoid(x) * G), whose exact gradient is G * s * (1 - s) with s = sigmoid(x)
x64 = rng.standard_normal(20)                                   # (20,)
G = rng.standard_normal(20)                                     # (20,) a random upstream gradient
hs = np.logspace(-1, -12, lesson.pick(23, 12))


def central_difference(x, h):
    """(f(x + h e_i) - f(x - h e_i)) / 2h for every i, in the dtype of x (no float64 upcast)."""
    g = np.empty_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (np.sum(sigmoid(xp) * G.astype(x.dtype)) - np.sum(sigmoid(xm) * G.astype(x.dtype))) / (2 * h)
    return g


exact = G * sigmoid(x64) * (1 - sigmoid(x64))
errors = {}
for dtype in (np.float64, np.float32):
    x = x64.astype(dtype)
    errors[np.dtype(dtype).name] = np.array([gradcheck.rel_error(central_difference(x, dtype(h)), exact)
                                             for h in hs])
for name, err in errors.items():
    best = int(np.argmin(err))
    print(f"    {name}: best relative error {err[best]:.1e} at h = {hs[best]:.0e}; "
          f"at h = 1e-1 it is {err[0]:.1e} (truncation), at h = {hs[-1]:.0e} {err[-1]:.1e} (rounding)")
lesson.key(best_error_float64=errors["float64"].min(), best_error_float32=errors["float32"].min())
fig, ax = plt.subplots(figsize=(6.2, 4.0))
for name, err in errors.items():
    ax.loglog(hs, np.maximum(err, 1e-17), "o-", label=name)
ax.axhline(gradcheck.TOLERANCE, color="0.3", linestyle=":", label="tinyvae's tolerance 1e-6")
ax.set(xlabel="step h", ylabel="relative error of the central difference")
ax.set_title("central differences: truncation error ~h^2 (right), rounding error ~eps/h (left)", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "error_vs_h.png")

# %% --- 2. why float64 ---
lesson.step("why the checks run in float64")
for name in errors:
    eps = np.finfo(name).eps
    print(f"    {name}: machine epsilon {eps:.1e}; the two errors, h^2 and eps/h, balance at h ~ eps^(1/3) = "
          f"{eps ** (1 / 3):.0e},")
    print(f"             where the error is ~ eps^(2/3) = {eps ** (2 / 3):.0e}; measured best: "
          f"{errors[name].min():.0e}")
print(f"    tinyvae's tolerance is {gradcheck.TOLERANCE:g}: below what float32 can resolve, so a float32 check "
      "could not tell")
print("    a right gradient from one that is slightly wrong.  gradcheck.numerical_gradient refuses float32 arrays.")

# %% --- 3. a layer, through a random upstream gradient ---
lesson.step("a Linear layer checked through a random upstream gradient G")
# f(x) = sum(layer(x) * G) has gradient exactly backward(G): one scalar checks the whole Jacobian
layer = Linear(6, 4, rng, np.float64)
err = gradcheck.check_layer(layer, rng.standard_normal((5, 6)), rng)
for name, e in err.items():
    print(f"    d{name}: relative error {e:.1e}")
lesson.key(linear_error=max(err.values()))


# %% --- 4. a planted bug ---
class LinearAveragesBiasGradient(Linear):
    """A planted bug: db = mean over the batch of dout, where the right db is the sum."""

    def backward(self, dout, need_dx=True):
        dx = super().backward(dout, need_dx)
        self.grads["b"] *= 1.0 / dout.shape[0]       # the bug: divides the summed db by N
        return dx


lesson.step("a planted bug: db = mean(dout) instead of sum(dout)")
err = gradcheck.check_layer(LinearAveragesBiasGradient(6, 4, rng, np.float64), rng.standard_normal((5, 6)), rng)
for name, e in err.items():
    print(f"    d{name}: relative error {e:.1e}  {'<- caught' if e > gradcheck.TOLERANCE else 'ok'}")
lesson.key(planted_bug_error=err["b"])

# %% --- 5. everything ---
lesson.step("every layer, loss and model of tinyvae (tinyvae gradcheck)")
rows = gradcheck.run_all(seed=lesson.seed)
print("\n".join("    " + line for line in gradcheck.format_table(rows).splitlines()))
lesson.key(max_rel_error=max(e for _, e in rows))

lesson.done()
