"""Lesson 03: the denoising autoencoder: corrupt x, reconstruct the clean x.

Lecture: "Denoising Autoencoder (DAE): Motivation": a plain AE with enough capacity risks
learning the identity map; the DAE corrupts its input, x~ ~ M_D(x~|x) (masking noise,
Gaussian noise, ...), and is trained on L_DAE = (1/n) sum_i (x_i - f_theta(g_phi(x~_i)))^2,
which forces the encoder to learn dependencies among input dimensions.

What you will see:
  1. the two corruptions M_D: masking (pixels set to 0) and additive Gaussian noise;
  2. an AE and two DAEs (one per corruption) with the same wide bottleneck, Z = 32 of 64;
  3. test error against the *clean* digits, from clean and from corrupted inputs: the AE
     copies the corruption through, each DAE removes the one it was trained on;
  4. what that looks like.

Run:   python lessons/03_denoising.py [--quick] [--out DIR]
Takes: about 4 seconds on 2 cores (--quick: about 1 second, with 15 epochs instead of 100).
"""
# %%
import _common

import numpy as np

from tinyvae import data, plots
from tinyvae.losses import mse
from tinyvae.models import Autoencoder, DenoisingAutoencoder
from tinyvae.noise import corrupt
from tinyvae.train import fit

lesson = _common.Lesson("03_denoising", __doc__)
EPOCHS = lesson.pick(100, 15)
HIDDEN, Z = (256,), 32              # a wide bottleneck: half the 64 pixels, room to copy x through
BATCH, LR = 64, 1e-3
NOISES = {"mask": 0.3, "gaussian": 0.3}    # masking rate, Gaussian sigma

# %% --- 1. the corruptions ---
lesson.step("the corruptions x~ ~ M_D(x~|x)")
ds = data.load("digits")
x, x_test = ds.x_train, ds.x_test
rng = np.random.default_rng(lesson.seed + 1)           # the test corruptions, the same for every model
x_test_tilde = {kind: corrupt(x_test, kind, level, rng) for kind, level in NOISES.items()}
for kind, level in NOISES.items():
    what = "each pixel set to 0 with probability" if kind == "mask" else "x + sigma * n, n ~ N(0, I), sigma ="
    print(f"    {kind:8s}: {what} {level}; squared distance from x: "
          f"{mse(x_test_tilde[kind], x_test)[0]:.2f} per image")

# %% --- 2. train an AE and two DAEs ---
lesson.step(f"train an AE and two DAEs, Z = {Z}, {EPOCHS} epochs each")
models = {"AE": Autoencoder(ds.D, HIDDEN, Z, rng=np.random.default_rng(lesson.seed))}
for kind, level in NOISES.items():
    models[f"DAE ({kind})"] = DenoisingAutoencoder(ds.D, HIDDEN, Z, noise=kind, noise_level=level,
                                                   rng=np.random.default_rng(lesson.seed))
for name, model in models.items():
    curve = fit(model, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)
    print(f"    {name:16s} training loss {curve[-1].recon:.2f} per image (squared error, the lecture's L_AE)")

# %% --- 3. test error against the clean digits ---
lesson.step("test squared error against the clean x, per image")


def error(model, x_in):
    """|| x - f(g(x_in)) ||^2 per test image: the reconstruction is always scored against clean x."""
    return mse(model.reconstruct(x_in).astype(np.float64), x_test.astype(np.float64))[0]


inputs = {"clean x": x_test, **{f"{k} x~": v for k, v in x_test_tilde.items()}}
rows = [[name] + [error(model, x_in) for x_in in inputs.values()] for name, model in models.items()]
_common.table(["model"] + list(inputs), rows, ["{}"] + ["{:.3f}"] * len(inputs))
errs = {name: dict(zip(inputs, row[1:])) for name, row in zip(models, rows)}
for kind in NOISES:
    ae, dae = errs["AE"][f"{kind} x~"], errs[f"DAE ({kind})"][f"{kind} x~"]
    print(f"    corrupted test error ({kind} {NOISES[kind]}): AE {ae:.3f}  DAE {dae:.3f}"
          f"   (the DAE's error is {100 * (1 - dae / ae):.0f}% lower)")
    lesson.key(**{f"ae_{kind}": ae, f"dae_{kind}": dae})
print("    on clean inputs the AE is best: it learned to pass x through.  Given x~ it passes the")
print("    corruption through as well; the DAE learned what digits look like instead.")
lesson.key(ae_clean=errs["AE"]["clean x"])

# %% --- 4. what it looks like ---
lesson.step("clean, corrupted, and the two reconstructions")
n = 10
for kind in NOISES:
    dae = models[f"DAE ({kind})"]
    lesson.save(plots.plot_image_rows(
        [("clean x", x_test[:n]), (f"{kind} x~", x_test_tilde[kind][:n]),
         ("AE f(g(x~))", models["AE"].reconstruct(x_test_tilde[kind][:n])),
         ("DAE f(g(x~))", dae.reconstruct(x_test_tilde[kind][:n]))],
        ds.image_shape, f"denoising {kind} noise ({NOISES[kind]}): AE against DAE"), f"denoising_{kind}.png")

lesson.done()
