"""Lesson 01: the autoencoder, z = g_phi(x) and x' = f_theta(g_phi(x)), through a bottleneck.

Lecture: "Autoencoders" and "Autoencoder Definition" (the notation, the bottleneck, L_AE
with MSE, and cross-entropy with a sigmoid output for binary-like inputs).

What you will see:
  1. the data: 8x8 digits as rows x in [0, 1]^64;
  2. the encoder g_phi and the decoder f_theta, layer by layer, and the bottleneck Z;
  3. one forward pass with the shape of every array;
  4. the same AE trained with MSE (linear output) and with BCE (sigmoid output), compared
     on the test set in both measures;
  5. the bottleneck: test error as Z grows from 2 to 16.

Run:   python lessons/01_autoencoder.py [--quick] [--out DIR]
Takes: about 3 seconds on 2 cores (--quick: about 1 second, with 15 epochs instead of 100).
"""
# %%
import _common

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import data, plots
from tinyvae.losses import bernoulli_nll, mse
from tinyvae.models import Autoencoder
from tinyvae.train import fit

lesson = _common.Lesson("01_autoencoder", __doc__)
EPOCHS = lesson.pick(100, 15)       # passes over the 1,498 training digits
HIDDEN = (128,)                     # one hidden layer of 128 ReLUs in g_phi and in f_theta
BATCH, LR = 64, 1e-3

# %% --- 1. the data ---
lesson.step("the data: x in [0, 1]^d")
ds = data.load("digits")
x, x_test = ds.x_train, ds.x_test
print(f"    x_train {x.shape} {x.dtype}, x_test {x_test.shape}, values in [{x.min():.0f}, {x.max():.0f}], "
      f"image {ds.image_shape}: d = {ds.D}")

# %% --- 2. the encoder g_phi and the decoder f_theta ---
lesson.step("the encoder g_phi and the decoder f_theta")
Z = 8
ae = Autoencoder(ds.D, HIDDEN, Z, likelihood="bernoulli", rng=np.random.default_rng(lesson.seed))
for name, net in (("g_phi (encoder)", ae.encoder), ("f_theta (decoder)", ae.decoder)):
    parts = [f"{type(layer).__name__}{tuple(layer.params['W'].shape) if 'W' in layer.params else ''}"
             for layer in net.layers]
    print(f"    {name:18s}: " + " -> ".join(parts))
print(f"    bottleneck: Z = {Z} numbers per image instead of d = {ds.D}; "
      f"{ae.theta.size} parameters in one flat vector model.theta")

# %% --- 3. one forward pass ---
lesson.step("one forward pass: x -> z = g_phi(x) -> x' = f_theta(z)")
xb = x[:5]
z = ae.encode(xb)                   # (5, Z)
x_hat = ae.decode(z)                # (5, D): sigmoid of the decoder's logits
print(f"    x {xb.shape} -> z {z.shape} -> x' {x_hat.shape}; an untrained AE: "
      f"squared error {mse(x_hat, xb)[0]:.2f} per image")

# %% --- 4. MSE against BCE ---
lesson.step(f"train with MSE (linear output) and with BCE (sigmoid output), Z = {Z}, {EPOCHS} epochs")


def test_errors(model):
    """Squared error and cross-entropy of the test reconstructions, per image (nats for BCE)."""
    x_hat = np.clip(model.reconstruct(x_test).astype(np.float64), 1e-6, 1 - 1e-6)
    logits = np.log(x_hat) - np.log1p(-x_hat)                  # so both models are scored alike
    return mse(x_hat, x_test)[0], bernoulli_nll(logits, x_test.astype(np.float64))[0]


# the squared error is the Gaussian's negative log-likelihood up to scale and a constant; the
# cross-entropy is the Bernoulli's: the model names each loss by its likelihood
LIKELIHOOD = {"mse": "gaussian", "bce": "bernoulli"}
models, curves, rows = {}, {}, []
for loss in ("mse", "bce"):
    model = Autoencoder(ds.D, HIDDEN, Z, likelihood=LIKELIHOOD[loss], rng=np.random.default_rng(lesson.seed))
    curves[loss] = fit(model, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)
    models[loss] = model
    sq, ce = test_errors(model)
    rows.append([loss.upper(), "linear" if loss == "mse" else "sigmoid", sq, ce])
    lesson.key(**{f"test_sq_error_{loss}": sq, f"test_bce_{loss}": ce})
_common.table(["trained with", "output", "test sq. error", "test BCE"], rows,
              ["{}", "{}", "{:.3f}", "{:.2f}"])
best_sq = min(rows, key=lambda r: r[2])[0]
best_ce = min(rows, key=lambda r: r[3])[0]
print(f"    lowest squared error: the {best_sq} model; lowest BCE: the {best_ce} model"
      + ("; each loss wins at what it optimises." if (best_sq, best_ce) == ("MSE", "BCE") else "."))
print("    On the test digits the two look alike.  BCE treats each pixel as the probability of a")
print("    Bernoulli (the sigmoid keeps x' in [0, 1]), MSE as a real number.")
p = np.clip(x.astype(np.float64), 1e-12, 1 - 1e-12)
floor = float(np.mean(np.sum(-(p * np.log(p) + (1 - p) * np.log1p(-p)), axis=1)))   # entropy of grey pixels
print(f"    BCE on grey levels cannot reach 0: its floor, at x' = x, is the pixels' entropy, {floor:.2f} nats")
n = 10
lesson.save(plots.plot_image_rows(
    [("input x", x_test[:n]), ("MSE, linear out", np.clip(models["mse"].reconstruct(x_test[:n]), 0, 1)),
     ("BCE, sigmoid out", models["bce"].reconstruct(x_test[:n]))],
    ds.image_shape, f"test digits and their reconstructions (Z = {Z})"), "reconstructions.png")
fig, ax = plt.subplots(figsize=(6.2, 4.0))
for k, v in curves.items():
    ax.semilogy(np.arange(1, EPOCHS + 1), [l.recon for l in v], label=f"{k.upper()} (training loss, own units)")
ax.axhline(floor, color="0.3", linestyle=":", label="floor of the BCE at x' = x (the pixels' entropy)")
ax.set(xlabel="epoch", ylabel="training loss per image")
ax.set_title("training: MSE and BCE (each in its own units)", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "training_curves.png")

# %% --- 5. the bottleneck ---
lesson.step("the bottleneck: how much of x gets through Z numbers")
sizes = lesson.pick([2, 4, 8, 16], [2, 8])
errors = []
for Zb in sizes:
    if Zb == Z:
        model = models["bce"]
    else:
        model = Autoencoder(ds.D, HIDDEN, Zb, likelihood="bernoulli", rng=np.random.default_rng(lesson.seed))
        fit(model, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)
    errors.append(test_errors(model)[0])
_common.table(["Z", "test sq. error"], [[Zb, e] for Zb, e in zip(sizes, errors)], ["{}", "{:.3f}"])
print("    a wider bottleneck lets more of x through; Z = d would allow the identity map,")
print("    which is why the bottleneck (or, lesson 03, noise) is what makes z a representation.")
lesson.key(**{f"test_sq_error_Z{Zb}": e for Zb, e in zip(sizes, errors)})
fig, ax = plt.subplots(figsize=(6.2, 4.0))
ax.plot(sizes, errors, "o-", label="BCE autoencoder")
ax.set(xlabel="bottleneck size Z", ylabel="test squared error per image")
ax.set_title("a wider bottleneck reconstructs better", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "bottleneck.png")

lesson.done()
