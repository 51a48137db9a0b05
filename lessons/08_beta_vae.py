"""Lesson 08: the beta-VAE on shapes: the trade-off, the constrained form, and disentanglement.

Lecture: "Disentangled representations" (each latent sensitive to one generative factor),
"beta-VAE: Constrained objective" (max E_q[log p(x|z)] subject to KL(q || p) < delta),
"Lagrangian form" (beta is the Lagrange multiplier) and "Loss function"
(L = -E_q[log p(x|z)] + beta KL: beta = 1 is the VAE, beta > 1 strengthens the bottleneck).

The data are tinyvae's shapes (16x16 grey images, dSprites-like, 6,912 of them), whose
generating factors are known: shape, scale, rotation, x and y.

What you will see:
  1. the data and their factors;
  2. the trade-off, trained live: short runs with beta 0.5, 1, 4 and 8 (reconstruction
     against KL);
  3. the constrained form, trained live: KL < delta, with beta found by dual ascent;
  4. disentanglement: one model per objective (beta = 1, beta = 4, KL < delta from the
     start, and a KL budget C raised slowly), trained with the benchmark's recipe and
     loaded from reference checkpoints; a table of reconstruction, KL, active latents, KL
     per latent, MIG and FactorVAE score, and the factor each latent follows;
  5. where the KL goes, latent by latent, and why the budget raised slowly separates the
     factors (with the same budget raised quickly, trained live); which factors stay
     entangled;
  6. traversals of the VAE and of the best form, side by side, each row named by the
     factor its latent follows.

Telling factors apart takes far longer training than a lesson can wait for (300 epochs,
3 to 7 minutes per model on one core), so step 4 loads the reference checkpoints in
lessons/reference/ (float16 parameters, about 280 KB each). They are the seed-0 models of
the disentanglement benchmark; this regenerates them (about 12 minutes on 2 cores):

    python benchmarks/disentanglement.py --seeds 0 --jobs 2 --export lessons/reference

Run:   python lessons/08_beta_vae.py [--quick] [--out DIR]
Takes: about 20 seconds on 2 cores (--quick: about 10 seconds, with 2 epochs per live model
       and fewer FactorVAE votes).
"""
# %%
import _common  # noqa: F401  (first: one BLAS thread, before NumPy loads)

import os

import matplotlib.pyplot as plt
import numpy as np

from tinyvae import data, disentanglement, plots
from tinyvae.app import reference
from tinyvae.data import shapes
from tinyvae.losses import kl_per_dimension
from tinyvae.models import VAE
from tinyvae.objectives import Capacity, KLTarget
from tinyvae.train import Trainer

lesson = _common.Lesson("08_beta_vae", __doc__)
REFERENCE = os.path.join(_common.LESSONS, "reference")
OBJECTIVES = ["vae", "beta4", "kl-target", "capacity"]   # the reference checkpoints, 08_<name>.npz
BETAS = [0.5, 1.0, 4.0, 8.0]
EPOCHS = lesson.pick(12, 2)         # live models: 195 steps per epoch
HIDDEN, Z = (256,), 10              # the benchmark's architecture
BATCH, LR = 64, 1e-3
DELTA = 6.0                         # the constraint KL < delta, in nats
VOTES = lesson.pick((800, 400), (200, 100))               # FactorVAE training / evaluation votes

# %% --- 1. the data ---
lesson.step("shapes with known factors")
ds = data.load("shapes", seed=lesson.seed)
x, x_test = ds.x_train, ds.x_test
x_all = np.concatenate([x, x_test])                             # every image, for the MIG
factors_all = np.concatenate([ds.factors_train, ds.factors_test])
names = ds.factor_names
print(f"    {len(x)} training and {len(x_test)} test images of {ds.image_shape}; factors "
      + ", ".join(f"{n} ({s})" for n, s in zip(names, ds.factor_sizes)))
lesson.save(plots.plot_grid(x[:32], ds.image_shape, "training images (white shapes, drawn dark here)", ncols=8),
            "data.png")


def train(beta, objective=None, watch=None):
    """A VAE trained live on x with KL weight beta (or a schedule); its per-epoch losses."""
    model = VAE(ds.D, HIDDEN, Z, beta=beta, rng=np.random.default_rng(lesson.seed))
    trainer = Trainer(model, np.random.default_rng(lesson.seed), BATCH, LR, objective)
    history = []
    for epoch in range(EPOCHS):
        history.append(trainer.train_epoch(x)[0])
        if watch:
            watch(epoch + 1, model, trainer)
    return model, trainer, history


def kl_dims_of(model, images):
    mu, logvar = (np.asarray(a, np.float64) for a in model.encode(images))
    return kl_per_dimension(mu, logvar)                         # (Z,) nats


# %% --- 2. the trade-off ---
lesson.step(f"the trade-off: beta {', '.join(f'{b:g}' for b in BETAS)} ({EPOCHS} epochs each, live)")
rows = []
for beta in BETAS:
    model, trainer, _ = train(beta)
    test = trainer.evaluate(x_test, seed=lesson.seed)
    rows.append([beta, test.recon, test.kl, test.recon + test.kl, int(np.sum(kl_dims_of(model, x_test) > 0.1))])
    lesson.key(**{f"recon_beta{beta:g}": test.recon, f"kl_beta{beta:g}": test.kl})
_common.table(["beta", "recon -E log p(x|z)", "KL(q || p)", "-ELBO", "active latents"], rows,
              ["{:g}", "{:.2f}", "{:.2f}", "{:.2f}", "{}"])
print("    a larger beta buys a smaller KL (a narrower channel through z) with worse reconstructions;")
best = min(rows, key=lambda r: r[3])[0]
print(f"    the best -ELBO belongs to beta = {best:g}" + (": the VAE, which optimises exactly the ELBO."
                                                        if best == 1 else "."))
print("    The reconstruction term is summed over the 256 pixels, so one beta weighs the KL more heavily on")
print("    small images: by Higgins et al.'s normalised beta_norm = beta Z / D, beta = 4 here is beta = 16 on")
print("    32x32 images.")
fig, ax = plt.subplots(figsize=(6.2, 4.0))
ax.plot([r[2] for r in rows], [r[1] for r in rows], "o-", label="beta sweep")
for r in rows:
    ax.annotate(f"beta = {r[0]:g}", (r[2], r[1]), textcoords="offset points", xytext=(6, 4), fontsize=8)
ax.margins(x=0.1, y=0.1)                            # room for the labels inside the frame
ax.set(xlabel="KL(q(z|x) || p(z))  (nats per image, test)",
       ylabel="reconstruction -E_q log p(x|z)  (nats per image, test)")
ax.set_title("the beta-VAE trade-off: rate (KL) against distortion (reconstruction)", fontsize=10)
ax.grid(alpha=0.3)
lesson.save(fig, "tradeoff.png")

# %% --- 3. the constrained form ---
lesson.step(f"the constrained form: maximise E_q log p(x|z) subject to KL < delta = {DELTA:g} nats (live)")
objective = KLTarget(DELTA, eta=0.01, beta=1.0)
model, trainer, history = train(1.0, objective)
for epoch in sorted({1, 2, EPOCHS // 2, EPOCHS}):
    h = history[epoch - 1]
    print(f"    epoch {epoch:3d}: mean KL {h.kl:6.2f} nats, mean beta {h.kl_weight:5.2f}")
test = trainer.evaluate(x_test, seed=lesson.seed)
print("    beta rises while KL > delta and falls while KL < delta (beta <- max(0, beta + eta (KL - delta)));")
print(f"    after {EPOCHS} epochs: beta = {objective.beta:.2f}, test KL {test.kl:.2f} nats (delta = {DELTA:g}), "
      f"reconstruction {test.recon:.2f}")
print("    the beta of the Lagrangian form is not a knob here: the constraint chose it.")
lesson.key(constrained_beta=objective.beta, constrained_kl=test.kl, constrained_recon=test.recon)
epochs = np.arange(1, EPOCHS + 1)
fig, ax = plt.subplots(figsize=(6.2, 4.0))
ax.plot(epochs, [h.kl for h in history], label="KL(q || p), training, nats")
ax.plot(epochs, [h.kl_weight for h in history], label="beta, the Lagrange multiplier")
ax.axhline(DELTA, color="0.3", linestyle=":", label=f"delta = {DELTA:g}")
ax.set(xlabel="epoch", ylabel="nats  /  beta")
ax.set_title(f"constrained form: KL < {DELTA:g} with beta found by dual ascent", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "constrained.png")

# %% --- 4. disentanglement: the benchmark's models ---
lesson.step("disentanglement: one model per objective, trained with the benchmark's recipe (reference checkpoints)")


def describe(model):
    """Test reconstruction and KL, KL per latent, MIG (every image) and FactorVAE score."""
    test = Trainer(model, np.random.default_rng(0)).evaluate(x_test, seed=lesson.seed)
    kl = kl_dims_of(model, x_all)
    mig, details = disentanglement.mig(model.code(x_all), factors_all)
    represent = disentanglement.representation(lambda im: model.code(im), shapes.generate)
    fvae, _ = disentanglement.factorvae_score(represent, ds.factor_sizes, np.random.default_rng(lesson.seed),
                                              n_train=VOTES[0], n_eval=VOTES[1])
    return dict(recon=test.recon, kl=test.kl, kl_dims=kl, active=int(np.sum(kl > 0.1)), mig=mig, fvae=fvae,
                details=details, follows=disentanglement.latent_factor_labels(details, names))


models, results, configs = {}, {}, {}
for name in OBJECTIVES:
    models[name], configs[name] = reference.load(os.path.join(REFERENCE, f"08_{name}.npz"))
    results[name] = describe(models[name])
    cfg = configs[name]
    how = {"vae": "beta = 1", "beta4": "beta = 4"}.get(name) or (
        f"KL < {cfg.kl_target:g} nats from the first step (dual ascent on beta)" if cfg.kl_target is not None else
        f"C raised from 0 to {cfg.capacity:g} nats over {cfg.capacity_steps} steps, gamma {cfg.gamma:g}")
    print(f"    {name:<10} {how}")
print(f"    all: {cfg.epochs} epochs, batch {cfg.batch_size}, Adam {cfg.lr:g}, hidden {cfg.hidden}, Z = {cfg.latent}, "
      f"seed {cfg.seed}")
table_rows = []
for name in OBJECTIVES:
    r = results[name]
    on = np.argsort(-r["kl_dims"])[:r["active"]]
    table_rows.append([name, r["recon"], r["kl"], r["active"], " ".join(f"{r['kl_dims'][j]:.1f}" for j in on),
                       r["mig"], r["fvae"]])
_common.table(["objective", "recon", "KL", "active", "KL per active latent (nats)", "MIG", "FactorVAE"],
              table_rows, ["{}", "{:.2f}", "{:.2f}", "{}", "{}", "{:.3f}", "{:.3f}"])
print("    (recon and KL on the test images; KL per latent, MIG on all 6,912; a latent is active above 0.1 nats)")
best = max(OBJECTIVES[1:], key=lambda n: results[n]["mig"])
KEYS = {"vae": "beta1", "beta4": "beta4", "kl-target": "kl_target", "capacity": "capacity"}
lesson.key(**{f"mig_{KEYS[n]}": results[n]["mig"] for n in OBJECTIVES}, mig_best=results[best]["mig"], best=best,
           **{f"factorvae_{KEYS[n]}": results[n]["fvae"] for n in OBJECTIVES})
print("\n    the factor each active latent follows (MIG's best latent for it, and its normalised gap):")
for name in OBJECTIVES:
    r = results[name]
    on = np.argsort(-r["kl_dims"])[:r["active"]]
    print(f"    {name:<10} " + "; ".join(f"z{j + 1} ({r['kl_dims'][j]:.1f} nats): {r['follows'][j] or '-'}"
                                      for j in on))

# %% --- 5. where the KL goes ---
lesson.step("where the KL goes, latent by latent")
kt, cap, vae, b4 = (results[n] for n in ("kl-target", "capacity", "vae", "beta4"))


def spread(r):
    """How the KL of a model is shared: the share of its largest latents."""
    k = np.sort(r["kl_dims"])[::-1]
    return f"{r['active']} active latents, the largest {k[0]:.1f} nats ({k[0] / k.sum():.0%} of the KL)"


for line in _common.wrap(
        f"The VAE (beta = 1) keeps {vae['kl']:.1f} nats per image: {spread(vae)}. Fixed beta = 4 makes every "
        f"nat cost four times as much, and {b4['kl']:.1f} nats stay: {spread(b4)}; MIG {b4['mig']:.3f} against "
        f"the VAE's {vae['mig']:.3f}. The two KL-controlled models hold the same budget, "
        f"{configs['kl-target'].kl_target:g} nats, and differ only in when they get it. Imposed from the "
        f"first step (kl-target), it is shared out while the encoder is still random: {spread(kt)}, MIG "
        f"{kt['mig']:.3f}. Raised slowly from 0 (capacity), {spread(cap)}, MIG {cap['mig']:.3f}. Burgess et "
        f"al. (2018) explain why: while C is small, the few nats allowed go to the factor that buys the most "
        f"reconstruction per nat, in one latent, and each nat added later is spent against a code that "
        f"already holds that factor, so it goes to a factor that is still missing."):
    print("    " + line)
C_MAX = configs["capacity"].capacity
steps = EPOCHS * int(np.ceil(len(x) / BATCH))
print(f"\n    The same budget raised quickly, live: C from 0 to {C_MAX:g} nats over {steps} steps instead of "
      f"{configs['capacity'].capacity_steps}:")
fast = {}


def watch(epoch, model, trainer):
    if epoch in (1, EPOCHS // 2, EPOCHS):
        kl = kl_dims_of(model, x_all[::4])
        print(f"    epoch {epoch:3d}  C {trainer.objective.capacity_at(trainer.t):5.2f}  KL {kl.sum():5.2f} nats in "
              f"{int(np.sum(kl > 0.1))} active latents: " + " ".join(f"{k:.2f}" for k in np.sort(kl)[::-1] if k > 0.1))
    if epoch == EPOCHS:
        fast["mig"], _ = disentanglement.mig(model.code(x_all), factors_all)


train(1.0, Capacity(C_MAX, steps, gamma=100.0), watch)
print(f"    MIG after the quick ramp: {fast['mig']:.3f} (the slow ramp: {cap['mig']:.3f}).")
lesson.key(mig_fast_ramp=fast["mig"])

entangled = [n for k, n in enumerate(names) if max(results[m]["details"]["gap"][k] for m in OBJECTIVES) < 0.2]
separated = [n for k, n in enumerate(names) if results[best]["details"]["gap"][k] >= 0.5]
print(f"\n    separated by {best} (gap >= 0.5): {', '.join(separated) or 'none'}; "
      f"entangled under every objective (gap < 0.2): {', '.join(entangled) or 'none'}.")
mi = results[best]["details"]["mi"]                             # (Z, K) nats
kx, ky = names.index("x"), names.index("y")
H = results[best]["details"]["entropy"]
print(f"    where x and y went in the {best} model (mutual information in nats; H(x) = {H[kx]:.2f}, "
      f"H(y) = {H[ky]:.2f}):")
for j in np.argsort(-(mi[:, kx] + mi[:, ky]))[:2]:
    print(f"      z{j + 1}: I(z{j + 1}; x) = {mi[j, kx]:.2f}, I(z{j + 1}; y) = {mi[j, ky]:.2f}")
for line in _common.wrap(
        "Why y has half x's range here: when each of two latents knows about both x and y, the position "
        "lives in the plane of the two latents but turned against its axes, and MIG counts it as "
        "entangled. With the same range and steps for x and y, turning that plane changes neither the "
        "reconstruction nor (with equal posterior widths) the KL, so nothing in the loss prefers the axes "
        "(Rolinek et al. 2019: a diagonal posterior makes a VAE pick its directions the way PCA does, and "
        "PCA cannot tell apart two directions of equal variance). With 12 positions for both, the "
        "benchmark's capacity models turned the plane by about 45 degrees in one seed of three; with y on 6 "
        "positions, each of x and y got a latent of its own in every seed (benchmarks/README.md)."):
    print("    " + line)
details = results[best]["details"]
where = "; ".join(f"{names[k]}'s best latent is z{details['best_latent'][k] + 1} "
                  f"({results[best]['follows'][details['best_latent'][k]]}, "
                  f"{results[best]['kl_dims'][details['best_latent'][k]]:.2f} nats)"
                  for k in (names.index("shape"), names.index("rotation")))
for line in _common.wrap(
        "Shape and rotation are hard for every beta-VAE in the literature (on dSprites too): a square, an "
        "ellipse and a heart of one size at one place differ in a few edge pixels, and a rotation step "
        f"moves fewer still, so a nat spent on them buys little reconstruction. In the {best} model, {where}."):
    print("    " + line)

# %% --- 6. traversals ---
lesson.step(f"traversals: the VAE and the best form ({best}) side by side")
x0 = shapes.render(0, 2, 0, 6, 3).reshape(-1)                   # a square of the third size, near the middle
panels = []
for name in ("vae", best):
    r = results[name]
    dims = np.argsort(-r["kl_dims"])[:max(r["active"], 3)]
    panels.append(dict(model=models[name], x0=x0, dims=dims, kl=r["kl_dims"], follows=r["follows"],
                       title=f"{name}: MIG {r['mig']:.2f}, FactorVAE {r['fvae']:.2f}"))
lesson.save(plots.plot_traversals_side_by_side(
    panels, ds.image_shape, title="latent traversals: rows name the factor each latent follows (gap) and its KL"),
    "traversals.png")
print("    each row varies one latent from -2.5 to 2.5 with the others held at the code of one square;")
print("    a row that moves one thing (x, y or the size) alone is a disentangled latent.")

lesson.done()
