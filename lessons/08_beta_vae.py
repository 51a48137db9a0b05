"""Lesson 08: the beta-VAE on shapes: the trade-off, the constrained form, and disentanglement.

Lecture: "Disentangled representations" (each latent sensitive to one generative factor),
"beta-VAE: Constrained objective" (max E_q[log p(x|z)] subject to KL(q || p) < delta),
"Lagrangian form" (beta is the Lagrange multiplier) and "Loss function"
(L = -E_q[log p(x|z)] + beta KL: beta = 1 is the VAE, beta > 1 strengthens the bottleneck).

The data are tinyvae's shapes (32x32, dSprites-like), whose generating factors are known:
shape, scale, rotation, x and y.  To keep this lesson under a minute we use only the
images with rotation index 0 (1,728 images: 3 shapes x 4 scales x 12 x 12 positions;
about 1,550 of them in the training split) and train each model for 1,500 steps.
That is far less than the hundreds of thousands of steps of the beta-VAE paper, so the
MIG values are small and noisy; the trade-off between reconstruction and KL is not.

What you will see:
  1. the data and their factors;
  2. a beta sweep (0.5, 1, 4, 8): a table of reconstruction against KL, the active
     latents, and the MIG (tinyvae.disentanglement.mig);
  3. latent traversals for each beta;
  4. the constrained form KL < delta, with beta found by dual ascent (objectives.KLTarget).

Run:   python lessons/08_beta_vae.py [--quick] [--out DIR]
Takes: about 40 seconds on 2 cores (--quick: about 5 seconds, with 6 epochs per model instead of 60).
"""
# %%
import _common

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import data, disentanglement, plots, shapes
from tinyvae.evaluate import latent_means
from tinyvae.losses import kl_per_dimension
from tinyvae.models import VAE
from tinyvae.objectives import KLTarget
from tinyvae.train import Trainer

lesson = _common.Lesson("08_beta_vae", __doc__)
BETAS = [0.5, 1.0, 4.0, 8.0]
EPOCHS = lesson.pick(60, 6)         # 25 steps per epoch
HIDDEN, Z = (256, 128), 6           # 6 latents for 4 varying factors
BATCH, LR = 64, 2e-3
DELTA = 8.0                         # the constraint KL < delta, in nats

# %% --- 1. the data ---
lesson.step("shapes with known factors (rotation index 0 only)")
ds = data.load("shapes", seed=lesson.seed)
keep_train = ds.factors_train[:, 2] == 0
keep_test = ds.factors_test[:, 2] == 0
x, x_test = ds.x_train[keep_train], ds.x_test[keep_test]
x_all = np.concatenate([x, x_test])                             # every rotation-0 image, for the MIG
factors_all = np.concatenate([ds.factors_train[keep_train], ds.factors_test[keep_test]])
print(f"    {len(x)} training and {len(x_test)} test images of {ds.image_shape}; factors "
      + ", ".join(f"{n} ({s})" for n, s in zip(ds.factor_names, ds.factor_sizes)) + "; rotation held at 0")
lesson.save(plots.plot_grid(x[:32], ds.image_shape, "training images (white shapes, drawn dark here)", ncols=8),
            "data.png")


def train(beta, objective=None):
    """A VAE trained on x with KL weight beta (or a schedule); its per-epoch losses."""
    model = VAE(ds.D, HIDDEN, Z, beta=beta, rng=np.random.default_rng(lesson.seed))
    trainer = Trainer(model, np.random.default_rng(lesson.seed), BATCH, LR, objective)
    history = [trainer.train_epoch(x)[0] for _ in range(EPOCHS)]
    return model, trainer, history


def describe(model, trainer):
    """Test reconstruction and KL, KL per latent, active latents, MIG on every rotation-0 image."""
    test = trainer.evaluate(x_test, seed=lesson.seed)
    mu, logvar = (np.asarray(a, np.float64) for a in model.encode(x_all))
    kl_dims = kl_per_dimension(mu, logvar)
    mig, details = disentanglement.mig(latent_means(model, x_all), factors_all)
    return test, kl_dims, mig, details


# %% --- 2. the beta sweep ---
lesson.step(f"a beta sweep: {', '.join(f'{b:g}' for b in BETAS)} ({EPOCHS} epochs each)")
models, rows, kls = {}, [], {}
for beta in BETAS:
    model, trainer, _ = train(beta)
    test, kl_dims, mig, details = describe(model, trainer)
    models[beta], kls[beta] = model, kl_dims
    rows.append([beta, test.recon, test.kl, test.recon + test.kl, int(np.sum(kl_dims > 0.05)), mig])
    lesson.key(**{f"recon_beta{beta:g}": test.recon, f"kl_beta{beta:g}": test.kl, f"mig_beta{beta:g}": mig})
    print(f"    beta {beta:g}: done; the latent that knows most about each factor: "
          + ", ".join(f"{n} -> z{j + 1}" for n, j, h in zip(ds.factor_names, details["best_latent"],
                                                             details["entropy"]) if h > 0))
_common.table(["beta", "recon -E log p(x|z)", "KL(q || p)", "-ELBO", "active latents", "MIG"], rows,
              ["{:g}", "{:.2f}", "{:.2f}", "{:.2f}", "{}", "{:.3f}"])
print("    a larger beta buys a smaller KL (a narrower channel through z) with worse reconstructions.")
best = min(rows, key=lambda r: r[3])[0]
print(f"    the best -ELBO belongs to beta = {best:g}" + (": the VAE, which optimises exactly the ELBO."
                                                        if best == 1 else "."))
fig, ax = plt.subplots(figsize=(6.2, 4.0))
ax.plot([r[2] for r in rows], [r[1] for r in rows], "o-", label="beta sweep")
for r in rows:
    ax.annotate(f"beta = {r[0]:g}, MIG {r[5]:.2f}", (r[2], r[1]), textcoords="offset points", xytext=(6, 4),
                fontsize=8)
ax.margins(x=0.1, y=0.1)                            # room for the labels inside the frame
ax.set(xlabel="KL(q(z|x) || p(z))  (nats per image, test)",
       ylabel="reconstruction -E_q log p(x|z)  (nats per image, test)")
ax.set_title("the beta-VAE trade-off: rate (KL) against distortion (reconstruction)", fontsize=10)
ax.grid(alpha=0.3)
lesson.save(fig, "tradeoff.png")

# %% --- 3. traversals ---
lesson.step("latent traversals: one latent varied from -2.5 to 2.5, the others at the code of one image")
x0 = shapes.render(0, 2, 0, 6, 6).reshape(-1)   # a square of the third size, near the middle
for beta in BETAS:
    lesson.save(plots.plot_traversals(
        models[beta], x0, ds.image_shape, values=np.linspace(-2.5, 2.5, 9), kl=kls[beta],
        title=f"beta = {beta:g}: latent traversals (rows sorted by KL, most informative first)"),
        f"traversals_beta{beta:g}.png")
print("    rows with KL near 0 do nothing: those latents were switched off, and a larger beta switches")
print("    off more of them.  Whether each remaining latent moves one factor alone is what the MIG")
print("    measures; after this lesson's few seconds of training per model it is still low.")

# %% --- 4. the constrained form ---
lesson.step(f"the constrained form: maximise E_q log p(x|z) subject to KL < delta = {DELTA:g} nats")
objective = KLTarget(DELTA, eta=0.01, beta=1.0)
model, trainer, history = train(1.0, objective)
betas = [h.kl_weight for h in history]                          # beta, the weight of the KL
for epoch in sorted({1, 2, EPOCHS // 4, EPOCHS // 2, EPOCHS}):
    h = history[epoch - 1]
    print(f"    epoch {epoch:3d}: mean KL {h.kl:6.2f} nats, mean beta {h.kl_weight:5.2f}")
test, kl_dims, mig, _ = describe(model, trainer)
print("    beta rises while KL > delta and falls while KL < delta (beta <- max(0, beta + eta (KL - delta)));")
print(f"    after {EPOCHS} epochs: beta = {objective.beta:.2f}, test KL {test.kl:.2f} nats (delta = {DELTA:g}), "
      f"reconstruction {test.recon:.2f}, MIG {mig:.3f}")
print("    the beta of the Lagrangian form is not a knob here: the constraint chose it.")
lesson.key(constrained_beta=objective.beta, constrained_kl=test.kl, constrained_recon=test.recon,
           constrained_mig=mig)
epochs = np.arange(1, EPOCHS + 1)
fig, ax = plt.subplots(figsize=(6.2, 4.0))
ax.plot(epochs, [h.kl for h in history], label="KL(q || p), training, nats")
ax.plot(epochs, betas, label="beta, the Lagrange multiplier")
ax.axhline(DELTA, color="0.3", linestyle=":", label=f"delta = {DELTA:g}")
ax.set(xlabel="epoch", ylabel="nats  /  beta")
ax.set_title(f"constrained form: KL < {DELTA:g} with beta found by dual ascent", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "constrained.png")

lesson.done()
