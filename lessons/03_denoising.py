"""Lesson 03: the denoising autoencoder: corrupt x, reconstruct the clean x.

Lecture: "Denoising Autoencoder (DAE): Motivation": a plain AE with enough capacity risks
learning a trivial identity map; the DAE corrupts its input, x~ ~ M_D(x~|x) (masking noise,
Gaussian noise, ...), and is trained on L_DAE = (1/n) sum_i (x_i - f_theta(g_phi(x~_i)))^2,
which forces the encoder to learn dependencies among input dimensions.

What you will see:
  1. the two corruptions M_D: masking (pixels set to 0) and additive Gaussian noise;
  2. the problem: an overcomplete AE, a bottleneck of Z = 128 numbers for d = 64 pixels,
     trained on clean digits, learns (nearly) the identity map: it reconstructs clean test
     digits almost perfectly, and given a corrupted x~ it hands back x~, noise included.
     A DAE of the same size, trained on L_DAE, removes most of it.  The measure: the error
     against the clean x divided by the input's own, ||f(g(x~)) - x||^2 / ||x~ - x||^2
     (1 = the noise copied whole, 0 = removed);
  3. which noise comes through: the noise along the directions in which the digits vary;
  4. the same measure as the bottleneck narrows from 128 to 8: the AE copies less of the
     noise the less room it has, the DAE copies little at every size;
  5. dependencies among the pixels: hide the bottom half of each test digit and ask each
     model for it back.  The AE has learned no relation between the halves and leaves most
     of the hole empty; a DAE of the same size trained to restore hidden halves (M_D hides
     the top, bottom, left or right half at random) predicts the hidden half from the other
     one, with less error than the training digits' average half (which uses no dependence
     at all);
  6. what it looks like.

Run:   python lessons/03_denoising.py [--quick] [--out DIR] [--seed S]
Takes: about 15 seconds on 2 cores (--quick: about 3 seconds, with 15 epochs instead of 100
and two bottleneck sizes instead of five).
"""
# %%
import _common

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import data
from tinyvae.studies import plots
from tinyvae.losses import mse
from tinyvae.models import Autoencoder, DenoisingAutoencoder
from tinyvae.noise import corrupt
from tinyvae.train import fit

lesson = _common.Lesson("03_denoising", __doc__)
EPOCHS = lesson.pick(100, 15)
HIDDEN, Z = (256,), 128             # overcomplete: Z = 128 numbers for d = 64 pixels
SIZES = lesson.pick([8, 16, 32, 64, 128], [8, 128])     # the bottleneck sizes of step 4
BATCH, LR = 64, 1e-3
NOISES = {"mask": 0.3, "gaussian": 0.3}    # masking rate, Gaussian sigma

# %% --- 1. the corruptions ---
lesson.step("the corruptions x~ ~ M_D(x~|x)")
ds = data.load("digits")
x, x_test = ds.x_train, ds.x_test
x64 = x_test.astype(np.float64)
rng = np.random.default_rng(lesson.seed + 1)           # the test corruptions, the same for every model
x_test_tilde = {kind: corrupt(x_test, kind, level, rng) for kind, level in NOISES.items()}
noise_error = {kind: mse(v.astype(np.float64), x64)[0] for kind, v in x_test_tilde.items()}   # ||x~ - x||^2
for kind, level in NOISES.items():
    what = "each pixel set to 0 with probability" if kind == "mask" else "x + sigma * n, n ~ N(0, I), sigma ="
    print(f"    {kind:8s}: {what} {level}; squared distance from x: {noise_error[kind]:.2f} per image")


def error(model, x_in):
    """||x - f(g(x_in))||^2 per test image: the reconstruction is always scored against clean x."""
    return mse(model.reconstruct(x_in).astype(np.float64), x64)[0]


def noise_copied(model, kind):
    """||f(g(x~)) - x||^2 / ||x~ - x||^2: the share of the corruption's error that comes out."""
    return error(model, x_test_tilde[kind]) / noise_error[kind]


def train_ae(Zb):
    model = Autoencoder(ds.D, HIDDEN, Zb, rng=np.random.default_rng(lesson.seed))
    return model, fit(model, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)


def train_dae(Zb, kind):
    model = DenoisingAutoencoder(ds.D, HIDDEN, Zb, noise=kind, noise_level=NOISES[kind],
                                 rng=np.random.default_rng(lesson.seed))
    return model, fit(model, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)


# %% --- 2. the problem: an overcomplete AE copies its input, noise and all ---
lesson.step(f"an overcomplete AE (Z = {Z} > d = {ds.D}) and two DAEs of the same size, {EPOCHS} epochs each")
models, curves = {}, {}
models["AE"], curves["AE"] = train_ae(Z)
for kind in NOISES:
    models[f"DAE ({kind})"], curves[f"DAE ({kind})"] = train_dae(Z, kind)
for name, curve in curves.items():
    loss = "L_AE = ||x - f(g(x))||^2" if name == "AE" else "L_DAE = ||x - f(g(x~))||^2"
    print(f"    {name:16s} training loss {curve[-1].recon:.3f} per image ({loss}, the lecture's)")
inputs = {"clean x": x_test, **{f"{k} x~": v for k, v in x_test_tilde.items()}}
rows = [[name] + [error(model, x_in) for x_in in inputs.values()]
        + [noise_copied(model, kind) for kind in NOISES] for name, model in models.items()]
print("    test squared error against the clean x, per image, and the share of the noise copied:")
_common.table(["model"] + list(inputs) + [f"copied ({k})" for k in NOISES], rows,
              ["{}"] + ["{:.3f}"] * len(inputs) + ["{:.2f}"] * len(NOISES))
errs = {name: dict(zip(inputs, row[1:])) for name, row in zip(models, rows)}
copied = {name: dict(zip(NOISES, row[1 + len(inputs):])) for name, row in zip(models, rows)}
for kind in NOISES:
    ae, dae = errs["AE"][f"{kind} x~"], errs[f"DAE ({kind})"][f"{kind} x~"]
    print(f"    corrupted test error ({kind} {NOISES[kind]}): AE {ae:.3f}  DAE {dae:.3f}"
          f"   (the DAE's error is {100 * (1 - dae / ae):.0f}% lower)")
    lesson.key(**{f"ae_{kind}": ae, f"dae_{kind}": dae})
print(f"    on clean digits the AE is almost exact ({errs['AE']['clean x']:.3f} per image): it learned the identity.")
print(f"    Given a masked x~ it hands back {copied['AE']['mask']:.0%} of the masking error; the DAE trained on "
      f"masking, {copied['DAE (mask)']['mask']:.0%}:")
print("    it learned what digits look like, and fills the holes in.  Each DAE removes the noise it was trained on"
      + (f";\n    the masking DAE makes Gaussian noise worse ({copied['DAE (mask)']['gaussian']:.2f})."
         if copied["DAE (mask)"]["gaussian"] > 1 else "."))
lesson.key(ae_clean=errs["AE"]["clean x"],
           noise_copied_overcomplete_ae=copied["AE"]["mask"], noise_copied_dae=copied["DAE (mask)"]["mask"],
           noise_copied_overcomplete_ae_gaussian=copied["AE"]["gaussian"],
           noise_copied_dae_gaussian=copied["DAE (gaussian)"]["gaussian"])

# %% --- 3. which noise comes through ---
lesson.step("which noise the AE copies: along the directions in which the digits vary")
# the principal directions of the training digits: the rows of Vt, by decreasing variance
centred = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
_, singular, Vt = np.linalg.svd(centred, full_matrices=False)   # Vt (64, 64)
share = np.cumsum(singular ** 2) / np.sum(singular ** 2)
n = np.random.default_rng(lesson.seed + 2).standard_normal(x_test.shape) * NOISES["gaussian"]   # (299, 64)
parts = {"the 20 directions of most variance": Vt[:20], "the 14 directions of least variance": Vt[50:]}
rows = []
for label, V in parts.items():
    noise = n @ V.T @ V                                          # (299, 64) the noise along those directions
    x_noisy = (x64 + noise).astype(np.float32)
    rows.append([label, mse(noise, 0 * noise)[0], error(models["AE"], x_noisy) / mse(noise, 0 * noise)[0]])
_common.table(["Gaussian noise along", "||x~ - x||^2", "copied by the AE"], rows, ["{}", "{:.2f}", "{:.2f}"])
along = {kind: np.sum(((v.astype(np.float64) - x64) @ Vt[:20].T) ** 2) / np.sum((v.astype(np.float64) - x64) ** 2)
         for kind, v in x_test_tilde.items()}                    # share of ||x~ - x||^2 along the first 20
print(f"    the first 20 directions hold {share[19]:.0%} of the digits' variance, the last 14 "
      f"{1 - share[49]:.2%}: the AE is the identity")
print(f"    where the digits live, not elsewhere.  {along['mask']:.0%} of the masking error lies along the first 20")
print(f"    (it deletes strokes, which moves x the way digits vary), {along['gaussian']:.0%} of the Gaussian noise's:")
print("    so masking comes through more.")
lesson.key(copied_along_most_variance=rows[0][2], copied_along_least_variance=rows[1][2])

# %% --- 4. the bottleneck decides ---
lesson.step(f"the share of the masking noise copied, as the bottleneck Z goes {SIZES[-1]} -> {SIZES[0]}")
sweep = {"AE": [], "DAE (mask)": []}
for Zb in SIZES:
    ae = models["AE"] if Zb == Z else train_ae(Zb)[0]
    dae = models["DAE (mask)"] if Zb == Z else train_dae(Zb, "mask")[0]
    sweep["AE"].append(noise_copied(ae, "mask"))
    sweep["DAE (mask)"].append(noise_copied(dae, "mask"))
_common.table(["Z", "AE copies", "DAE copies"], [[Zb, a, b] for Zb, a, b in zip(SIZES, *sweep.values())],
              ["{}", "{:.2f}", "{:.2f}"])
print(f"    the narrower the bottleneck, the less room to copy: the AE passes {sweep['AE'][-1]:.0%} of the masking "
      f"error at Z = {SIZES[-1]},")
print(f"    {sweep['AE'][0]:.0%} at Z = {SIZES[0]}: still most of it, while the DAE passes {min(sweep['DAE (mask)']):.0%} to "
      f"{max(sweep['DAE (mask)']):.0%} at every size.")
lesson.key(**{f"noise_copied_ae_Z{Zb}": v for Zb, v in zip(SIZES, sweep["AE"])})
fig, ax = plt.subplots(figsize=(6.2, 4.0))
for (name, values), style in zip(sweep.items(), ("o-", "s-")):
    ax.plot(SIZES, values, style, label=f"{name}, trained on {'clean x' if name == 'AE' else 'masked x~'}")
ax.axhline(1, color="0.3", linestyle=":", label="the identity map (x~ out as it came in)")
ax.axvline(ds.D, color="0.6", linestyle="--", linewidth=1, label=f"Z = d = {ds.D}")
ax.set_xscale("log", base=2)
ax.set_xticks(SIZES)
ax.set_xticklabels([str(Zb) for Zb in SIZES])
ax.set_ylim(0, 1.1)
ax.set(xlabel="bottleneck size Z (log scale)", ylabel="||f(g(x~)) - x||² / ||x~ - x||²")
ax.set_title(f"share of the masking noise ({NOISES['mask']}) that comes out, test digits", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="center right")
lesson.save(fig, "noise_copied.png")

# %% --- 5. dependencies among the pixels: restore a hidden half ---
# the four halves of an 8x8 image as boolean masks over the d = 64 pixels: (4, 64)
HALVES = np.zeros((4,) + ds.image_shape, dtype=bool)
HALVES[0, :4], HALVES[1, 4:], HALVES[2, :, :4], HALVES[3, :, 4:] = True, True, True, True
HALVES = HALVES.reshape(4, ds.D)                         # top, bottom, left, right


class HalfMaskDAE(DenoisingAutoencoder):
    """A DAE whose corruption M_D(x~|x) hides one half of the image, chosen at random per image
    (top, bottom, left or right; the pixels set to 0).  Everything else is the DAE's own."""

    def corrupt(self, x, rng):
        hide = HALVES[rng.integers(0, 4, len(x))]             # (N, D) which pixels this x~ loses
        return np.where(hide, 0, x).astype(self.dtype)       # (N, D)


lesson.step(f"dependencies among the pixels: restore the hidden bottom half (Z = {Z})")
half_dae = HalfMaskDAE(ds.D, HIDDEN, Z, rng=np.random.default_rng(lesson.seed))
fit(half_dae, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)
hidden = HALVES[1]                                       # (D,) the bottom half, for every test digit
x_half = np.where(hidden, 0, x_test).astype(np.float32)  # (299, D) x~: the top half only


def hidden_error(x_hat):
    """||x_hat - x||^2 over the hidden pixels only, per test image."""
    return float(np.mean(np.sum((np.asarray(x_hat, np.float64)[:, hidden] - x64[:, hidden]) ** 2, axis=1)))


guesses = {"nothing (the hidden pixels left at 0)": x_half,
           "the training digits' average bottom half": np.broadcast_to(x.mean(axis=0), x_test.shape),
           f"AE, Z = {Z} (trained on clean x)": models["AE"].reconstruct(x_half),
           f"DAE, Z = {Z} (trained on masking noise {NOISES['mask']})": models["DAE (mask)"].reconstruct(x_half),
           f"DAE, Z = {Z} (trained on hidden halves)": half_dae.reconstruct(x_half)}
half_errors = {name: hidden_error(v) for name, v in guesses.items()}
_common.table(["the hidden bottom half filled by", "squared error on it, per image"],
              [[name, e] for name, e in half_errors.items()], ["{}", "{:.3f}"])
e_zero, e_mean, e_ae, e_mask, e_half = half_errors.values()
print(f"    the average half uses nothing of the visible half: {e_mean:.3f}.  The AE leaves the hole almost as it")
print(f"    came ({e_ae:.3f}, against {e_zero:.3f} for the empty half): it learned to copy x, not how the halves "
      "of a digit")
print(f"    go together.  The half-trained DAE restores it with {e_half:.3f}, {100 * (1 - e_half / e_mean):.0f}% "
      "below the average half: it reads")
print("    the bottom from the top, a dependence among the input dimensions that only a corrupted input")
print(f"    teaches.  The pixel-masking DAE ({e_mask:.3f}) was trained on scattered missing pixels, and does "
      + ("no better than the average half" if e_mask >= e_mean else "less well")
      + " when a")
print("    whole half is gone: a DAE learns the dependencies its corruption makes it use.")
lesson.key(hidden_half_error_empty=e_zero, hidden_half_error_average=e_mean, hidden_half_error_ae=e_ae,
           hidden_half_error_dae_mask=e_mask, hidden_half_error_dae_half=e_half)
n = 10
lesson.save(plots.plot_image_rows(
    [("clean x", x_test[:n]), ("x~: bottom hidden", x_half[:n]),
     (f"AE: {e_ae:.2f}", models["AE"].reconstruct(x_half[:n])),
     (f"DAE (mask): {e_mask:.2f}", models["DAE (mask)"].reconstruct(x_half[:n])),
     (f"DAE (halves): {e_half:.2f}", half_dae.reconstruct(x_half[:n]))],
    ds.image_shape, f"the bottom half hidden, then restored (Z = {Z})\nby row: squared error on the hidden half "
    f"per digit (average half {e_mean:.2f})"), "hidden_half.png")

# %% --- 6. what it looks like ---
lesson.step("clean, corrupted, and the two reconstructions")
n = 10
for kind in NOISES:
    dae = models[f"DAE ({kind})"]
    lesson.save(plots.plot_image_rows(
        [("clean x", x_test[:n]), (f"{kind} x~", x_test_tilde[kind][:n]),
         (f"AE, Z = {Z}", models["AE"].reconstruct(x_test_tilde[kind][:n])),
         (f"DAE, Z = {Z}", dae.reconstruct(x_test_tilde[kind][:n]))],
        ds.image_shape, f"{kind} noise ({NOISES[kind]}): the overcomplete AE copies it, the DAE removes it"),
        f"denoising_{kind}.png")

lesson.done()
