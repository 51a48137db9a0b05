"""Lesson 01: the autoencoder, z = g_phi(x) and x' = f_theta(g_phi(x)), through a bottleneck.

Lecture: "Autoencoders" and "Autoencoder Definition" (the notation, the bottleneck, L_AE
with MSE, and cross-entropy with a sigmoid output for binary-like inputs).

What you will see:
  1. the data: 8x8 digits as rows x in [0, 1]^64;
  2. the encoder g_phi and the decoder f_theta, layer by layer, and the bottleneck Z;
  3. one forward pass with the shape of every array;
  4. the same AE trained with MSE (linear output) and with BCE (sigmoid output), compared
     on the test set in both measures;
  5. the bottleneck: train and test error as Z grows from 2 to d = 64, where the AE can
     learn the identity map (lesson 03 shows what that costs);
  6. capacity: nothing regularizes an AE, so with a narrow bottleneck but a wide encoder
     and decoder it fits the training digits better than the test digits: the gap between
     test and training error grows with the hidden width.  But the test error still falls
     as the width grows; a gap alone is not yet overfitting;
  7. overfitting, the lecture's: trained on only 100 digits for long, the AE memorizes
     them: its training error goes to about 0 while its test error turns up and rises.
     Printed: the epoch where the test error is lowest and how much it rises after it;
     with every training digit and the same number of updates it keeps falling.

Run:   python lessons/01_autoencoder.py [--quick] [--out DIR] [--seed S]
Takes: about 13 seconds on 2 cores (--quick: about 3 seconds, with fewer epochs and sizes).
"""
# %%
import _common

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import data
from tinyvae.studies import plots
from tinyvae.losses import bernoulli_nll, mse
from tinyvae.models import Autoencoder
from tinyvae.train import Trainer, fit

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
fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.8))
epochs = np.arange(1, EPOCHS + 1)
axes[0].plot(epochs, [l.recon for l in curves["mse"]], color="C0", label="MSE model")
axes[0].set(xlabel="epoch", ylabel="squared error per image (sum over pixels)",
            title="trained with MSE: ||x - x'||²")
axes[1].plot(epochs, [l.recon for l in curves["bce"]], color="C1", label="BCE model")
axes[1].axhline(floor, color="0.3", linestyle=":", label="its floor at x' = x (the pixels' entropy)")
axes[1].set(xlabel="epoch", ylabel="cross-entropy per image (nats)", title="trained with BCE")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.suptitle("training loss per epoch, each loss in its own unit", fontsize=10)
fig.tight_layout()
lesson.save(fig, "training_curves.png")

# %% --- 5. the bottleneck ---
lesson.step("the bottleneck: how much of x gets through Z numbers")
sizes = lesson.pick([2, 4, 8, 16, 64], [2, 8])
rows = []
for Zb in sizes:
    if Zb == Z:
        model = models["bce"]
    else:
        model = Autoencoder(ds.D, HIDDEN, Zb, likelihood="bernoulli", rng=np.random.default_rng(lesson.seed))
        fit(model, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)
    rows.append([Zb, mse(model.reconstruct(x).astype(np.float64), x)[0], test_errors(model)[0]])
_common.table(["Z", "train sq. error", "test sq. error"], rows, ["{}", "{:.3f}", "{:.3f}"])
errors = [r[2] for r in rows]
gap_small, gap_large = rows[0][2] - rows[0][1], rows[-1][2] - rows[-1][1]
print("    a wider bottleneck lets more of x through.  At Z = d nothing forces a representation: the AE")
print("    may learn the identity map, which fits a test digit as well as a training digit: the gap")
print(f"    between test and training error is {gap_large:.3f} at Z = {sizes[-1]}, against {gap_small:.3f} at "
      f"Z = {sizes[0]}.  A wide bottleneck does not")
print("    overfit here; what it costs is shown in lesson 03 (it copies noise through).  Step 6 shows where")
print("    an AE does overfit.")
lesson.key(**{f"test_sq_error_Z{Zb}": e for Zb, e in zip(sizes, errors)})
fig, ax = plt.subplots(figsize=(6.2, 4.0))
ax.plot(sizes, [r[1] for r in rows], "o--", label="training digits")
ax.plot(sizes, errors, "o-", label="test digits")
ax.set_xscale("log", base=2)
ax.set_xticks(sizes)
ax.set_xticklabels([str(Zb) for Zb in sizes])
ax.set(xlabel="bottleneck size Z (log scale)", ylabel="squared error per image")
ax.set_title("a wider bottleneck reconstructs better (BCE autoencoder)", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "bottleneck.png")

# %% --- 6. overfitting ---
Z_FIT = 4                                    # a narrow bottleneck: the capacity is in the layers
WIDTHS = lesson.pick([16, 64, 256, 1024], [16, 512])
EPOCHS_FIT = lesson.pick(200, 30)
lesson.step(f"capacity: Z = {Z_FIT}, hidden width {WIDTHS[0]} to {WIDTHS[-1]}, {EPOCHS_FIT} epochs, "
            "the lecture's L_AE (MSE)")
rows, history = [], {}
for H in WIDTHS:
    model = Autoencoder(ds.D, (H,), Z_FIT, rng=np.random.default_rng(lesson.seed))
    trainer = Trainer(model, np.random.default_rng(lesson.seed), batch_size=BATCH, lr=LR)
    track = []
    for epoch in range(EPOCHS_FIT):
        trainer.train_epoch(x)
        if H in (WIDTHS[0], WIDTHS[-1]):                       # the curves of the smallest and largest
            track.append([mse(model.reconstruct(a).astype(np.float64), a)[0] for a in (x, x_test)])
    history[H] = np.array(track)
    train_err, test_err = (mse(model.reconstruct(a).astype(np.float64), a)[0] for a in (x, x_test))
    rows.append([H, model.theta.size, train_err, test_err, test_err - train_err])
_common.table(["hidden width", "parameters", "train sq. error", "test sq. error", "gap"], rows,
              ["{}", "{:,}", "{:.3f}", "{:.3f}", "{:.3f}"])
gaps = [r[4] for r in rows]
print(f"    {len(x)} training digits, and the widest AE has {rows[-1][1]:,} parameters to fit them.  The training "
      "error falls")
print(f"    faster than the test error as the width grows: the gap grows from {gaps[0]:.3f} to {gaps[-1]:.3f} per image.")
print("    Nothing in L_AE asks the code to be simple or smooth, so capacity buys memorisation.  Yet the")
test_errs = [r[3] for r in rows]
print(f"    test error itself {'falls' if test_errs[-1] < test_errs[0] else 'rises'} with the width "
      f"({test_errs[0]:.3f} -> {test_errs[-1]:.3f}): the wider AE is still the better one on new")
print("    digits.  A gap is not yet overfitting in the lecture's sense; step 7 shows that.")
lesson.key(**{f"train_test_gap_hidden{H}": v for H, v in zip(WIDTHS, gaps)})
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11.0, 3.9))
ax.plot(WIDTHS, [r[2] for r in rows], "o--", color="C0", label="training digits")
ax.plot(WIDTHS, [r[3] for r in rows], "o-", color="C1", label="test digits")
ax.set_xscale("log", base=2)
ax.set_xticks(WIDTHS)
ax.set_xticklabels([str(H) for H in WIDTHS])
ax.set(xlabel="hidden width H (log scale)", ylabel="squared error per image",
       title=f"after {EPOCHS_FIT} epochs (Z = {Z_FIT})")
for H, style in ((WIDTHS[0], ":"), (WIDTHS[-1], "-")):
    ax2.plot(np.arange(1, EPOCHS_FIT + 1), history[H][:, 0], style, color="C0", label=f"H = {H}, training digits")
    ax2.plot(np.arange(1, EPOCHS_FIT + 1), history[H][:, 1], style, color="C1", label=f"H = {H}, test digits")
ax2.set_ylim(0, 1.5 * history[WIDTHS[0]][-1].max())               # the first epochs' large errors cut off
ax2.set(xlabel="epoch", ylabel="squared error per image", title="the gap opens during training")
for a in (ax, ax2):
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
fig.suptitle("capacity: the gap grows with the width while the test error still falls (not yet overfitting)", fontsize=10)
fig.tight_layout()
lesson.save(fig, "capacity_gap.png")


# %% --- 7. overfitting: the test error turns up ---
N_SMALL, H_OF, Z_OF = 100, 256, 8           # 100 training digits; an AE with 36,000 parameters
EPOCHS_OF = lesson.pick(600, 300)           # passes over the 100 digits: 2 updates each (batches of 64)
UPDATES = EPOCHS_OF * -(-N_SMALL // BATCH)  # the same number of updates for the full training set
lesson.step(f"overfitting: {N_SMALL} training digits, H = {H_OF}, Z = {Z_OF}, {EPOCHS_OF} epochs ({UPDATES} updates), "
            "against all of them")
small = x[np.random.default_rng(lesson.seed).permutation(len(x))[:N_SMALL]]     # (100, D)
curves_of = {}
for name, x_fit in ((f"{N_SMALL} digits", small), (f"all {len(x)} digits", x)):
    model = Autoencoder(ds.D, (H_OF,), Z_OF, rng=np.random.default_rng(lesson.seed))
    trainer = Trainer(model, np.random.default_rng(lesson.seed), batch_size=BATCH, lr=LR)
    track = []                                                 # (updates, train error, test error)
    while trainer.t < UPDATES:
        trainer.train_epoch(x_fit)
        track.append([trainer.t] + [mse(model.reconstruct(a).astype(np.float64), a)[0] for a in (x_fit, x_test)])
    curves_of[name] = np.array(track)                         # (epochs, 3)
rows = []
for name, c in curves_of.items():
    best = int(np.argmin(c[:, 2]))
    rows.append([name, len(c), best + 1, c[best, 2], c[-1, 2], c[-1, 2] - c[best, 2], c[-1, 1]])
_common.table(["trained on", "epochs", "best epoch", "lowest test err.", "test err. at end", "rise",
               "train err. at end"], rows, ["{}", "{}", "{}", "{:.3f}", "{:.3f}", "{:+.3f}", "{:.3f}"])
small_row, full_row = rows
print(f"    on {N_SMALL} digits the test error is lowest at epoch {small_row[2]} ({small_row[3]:.3f}) and then rises by "
      f"{small_row[5]:.3f}")
print(f"    ({100 * small_row[5] / small_row[3]:.0f}%) to {small_row[4]:.3f}, while the training error falls to "
      f"{small_row[6]:.3f}: the AE memorizes its {N_SMALL} digits")
print("    and reconstructs new ones worse the longer it trains.  That is the lecture's overfitting.  With all")
print(f"    {len(x)} digits and the same {UPDATES} updates the test error ends {full_row[5]:.3f} above its lowest: "
      "more data is the cure here.")
lesson.key(overfit_best_epoch=small_row[2], overfit_lowest_test_error=small_row[3],
           overfit_test_error_rise=small_row[5], overfit_train_error_end=small_row[6],
           full_set_test_error_rise=full_row[5])
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11.0, 3.9))
c = curves_of[f"{N_SMALL} digits"]
ep = np.arange(1, len(c) + 1)
ax.plot(ep, c[:, 1], "--", color="C0", label=f"its {N_SMALL} training digits")
ax.plot(ep, c[:, 2], "-", color="C1", label=f"the {len(x_test)} test digits")
ax.plot(small_row[2], small_row[3], "v", color="k", markersize=7,
        label=f"lowest test error, epoch {small_row[2]}: {small_row[3]:.3f}")
ax.annotate("", xy=(len(c), small_row[4]), xytext=(len(c), small_row[3]),
            arrowprops=dict(arrowstyle="->", color="C3"))
ax.text(0.97 * len(c), 0.5 * (small_row[3] + small_row[4]), f"+{small_row[5]:.3f}", color="C3", ha="right",
        va="center", fontsize=9)
ax.set_ylim(0, 1.6 * small_row[4])
ax.set(xlabel="epoch (2 updates each)", ylabel="squared error per image",
       title=f"trained on {N_SMALL} digits: the test error turns up")
for name, style in ((f"{N_SMALL} digits", "-"), (f"all {len(x)} digits", "-")):
    cc = curves_of[name]
    color = "C1" if name.startswith(str(N_SMALL)) else "C2"
    ax2.plot(cc[:, 0], cc[:, 2], style, color=color, label=f"test error, trained on {name}")
ax2.set_ylim(0, 1.6 * small_row[4])
ax2.set(xlabel="updates (minibatches of 64)", ylabel="squared error per image",
        title=f"the same {UPDATES} updates: more data, no turn")
for a in (ax, ax2):
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
fig.suptitle(f"overfitting: the training error falls to {small_row[6]:.3f} while the test error rises "
             f"{small_row[5]:.3f} above its lowest (Z = {Z_OF}, H = {H_OF})", fontsize=10)
fig.tight_layout()
lesson.save(fig, "overfitting.png")

lesson.done()
