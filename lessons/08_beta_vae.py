"""Lesson 08: the beta-VAE on shapes: the trade-off, the constrained form, and disentanglement.

Lecture: "Disentangled representations" (each latent sensitive to one generative factor),
"beta-VAE: Constrained objective" (max E_q[log p(x|z)] subject to KL(q || p) <= delta; the lecture writes <),
"Lagrangian form" (beta is the Lagrange multiplier) and "Loss function"
(L = -E_q[log p(x|z)] + beta KL: beta = 1 is the VAE, beta > 1 strengthens the bottleneck).

The data are tinyvae's shapes (16x16 grey images, dSprites-like, 6,912 of them), whose
generating factors are known: shape, scale, rotation, x and y.

What you will see:
  1. the data and their factors;
  2. the trade-off, trained live: short runs with beta 0.5, 1, 4 and 8 (reconstruction
     against KL);
  3. the Lagrangian made concrete, trained live: KL <= delta for four deltas (three below the
     VAE's KL), the beta dual ascent finds for each, and beta as the slope of the
     rate-distortion curve; why the Lagrangian's beta delta drops out of the gradient, and
     the slide's F >= E log p(x|z) - beta KL with the beta delta between its sides measured;
  4. disentanglement: one model per objective (beta = 1, beta = 4, KL <= delta from the
     start, and a KL budget C raised slowly), trained with the benchmark's recipe and
     loaded from reference checkpoints, each evaluated on the train/test split it was
     trained on (seed 0's, whatever --seed says); reconstruction, KL, active latents, KL
     per latent, and two disentanglement scores:
       MIG, the mutual information gap (Chen et al. 2018): for each factor, the mutual
         information of its most informative latent minus that of the second most, divided
         by the factor's entropy (this factor's "gap": 1 when one latent alone carries the
         factor, 0 when two carry it equally); MIG is the mean gap over the five factors;
       FactorVAE score (Kim & Mnih 2018): hold one factor fixed over a batch of 64 images,
         find the latent that varies least (relative to its spread over all images), and
         vote that latent -> that factor; a majority-vote classifier trained on 10,000 votes
         is scored on 5,000 more (1 = every factor has its own latent; chance is 1/5);
     then the KL split into index-code MI, total correlation and dimension-wise KL, and
     the factor each latent follows (MIG's best latent for it, with the gap);
  5. where the KL goes, and the same budget raised quickly, trained live;
  6. traversals of the VAE, of fixed beta = 4 and of the best form, one above the other;
  7. over seeds: MIG per objective on the study's reporting seeds, read from
     lessons/reference/08_study.json (what has finished; the table says if it is incomplete).

The reasons and the literature behind steps 4-6 are in docs/disentanglement.md.

Telling factors apart takes far longer training than a lesson can wait for (58,400 steps,
3 to 7 minutes per model on one core), so step 4 loads the reference checkpoints in
lessons/reference/ (float16 parameters, about 280 KB each), seed-0 models of the
disentanglement benchmark (issue 14), and step 7 reads the study of issue 21, made by:

    python benchmarks/disentanglement.py --data shapes-equal shapes --objectives vae beta4 capacity tcvae \
        --seeds 20 21 22 23 24 --jobs 2 --out study21 --export-study lessons/reference/08_study.json

Run:   python lessons/08_beta_vae.py [--quick] [--out DIR] [--seed S]  (S seeds the live models
       of steps 2, 3 and 5 and their split; step 4's reference models keep their own split)
Takes: about 45 seconds on 2 cores (measured: 32-43 s of CPU with one BLAS thread; --quick: about
       10 seconds, with 2 epochs per live model and fewer FactorVAE votes).
"""
# %%
import _common  # noqa: F401  (first: one BLAS thread, before NumPy loads)

import os

import matplotlib.pyplot as plt
import numpy as np

import json

from tinyvae import data
from tinyvae.studies import disentanglement, plots
from tinyvae.app import reference, runs
from tinyvae.data import shapes
from tinyvae.kl_decomposition import kl_decomposition
from tinyvae.losses import kl_per_dimension
from tinyvae.models import VAE
from tinyvae.objectives import Capacity, FixedBeta, KLTarget
from tinyvae.train import Trainer

lesson = _common.Lesson("08_beta_vae", __doc__)
REFERENCE = os.path.join(_common.LESSONS, "reference")
OBJECTIVES = ["vae", "beta4", "kl-target", "capacity"]   # the reference checkpoints, 08_<name>.npz
BETAS = [0.5, 1.0, 4.0, 8.0]
EPOCHS = lesson.pick(12, 2)         # live models: 195 steps per epoch
HIDDEN, Z = (256,), 10              # the benchmark's architecture
BATCH, LR = 64, 1e-3
DELTAS = [2.0, 3.5, 5.0, 8.0]       # the constraint KL <= delta, in nats: three below the VAE's KL, one above
VOTES = lesson.pick((10000, 5000), (200, 100))            # FactorVAE training / evaluation votes (published: 10,000 / 5,000)
REPORTING_SEEDS = [20, 21, 22, 23, 24]                    # the study's reporting seeds (benchmarks/README.md)

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
    model = VAE(ds.D, HIDDEN, Z, rng=np.random.default_rng(lesson.seed))
    trainer = Trainer(model, np.random.default_rng(lesson.seed), BATCH, LR, objective or FixedBeta(beta))
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

# %% --- 3. the Lagrangian made concrete: a sweep of delta ---
vae_kl = next(r[2] for r in rows if r[0] == 1.0)
lesson.step(f"the constrained form: max E_q log p(x|z) subject to KL <= delta, for delta in "
            f"{', '.join(f'{d:g}' for d in DELTAS)} nats (live; the VAE's KL here is {vae_kl:.2f})")
for line in _common.wrap(
        "The Lagrangian is F = E_q[log p(x|z)] - beta (KL - delta) = -(recon + beta KL) + beta delta. For "
        "the encoder and decoder, beta delta is a constant: it has no gradient in theta or phi, so their "
        "step is the beta-VAE's step on recon + beta KL. delta enters only through beta, which takes a "
        "step of dual ascent after each minibatch: beta <- max(0, beta + eta (KL - delta)). So beta is "
        "not chosen: the constraint chooses it."):
    print("    " + line)
sweep, histories = [], {}
for delta in DELTAS:
    objective = KLTarget(delta, eta=0.01, beta=1.0)
    model, trainer, history = train(1.0, objective)
    test = trainer.evaluate(x_test, seed=lesson.seed)
    beta_found = history[-1].kl_weight               # beta averaged over the last epoch's steps
    sweep.append([delta, beta_found, test.kl, test.recon])
    histories[delta] = history
_common.table(["delta", "beta found", "test KL", "test recon"], sweep, ["{:g}", "{:.2f}", "{:.2f}", "{:.2f}"])
print(f"    delta below the VAE's KL ({vae_kl:.2f} nats) needs beta > 1; above it, beta < 1 makes a nat cheaper and")
print("    lets the KL grow to delta (a delta beyond what the model can use would leave the constraint slack,")
print("    and beta would fall to 0).")
print("    beta is the slope of the rate-distortion curve: one more nat of KL buys beta nats of reconstruction.")
print("    The slope between neighbouring points of the sweep, -(change in recon) / (change in KL), against beta:")
for (d0, b0, k0, r0), (d1, b1, k1, r1) in zip(sweep, sweep[1:]):
    print(f"      delta {d0:g} -> {d1:g}: slope {-(r1 - r0) / (k1 - k0):5.2f}, beta found {b0:.2f} and {b1:.2f}")
lesson.key(delta_sweep=[[float(d), float(b)] for d, b, _, _ in sweep], constrained_beta=sweep[0][1],
           constrained_kl=sweep[0][2], constrained_recon=sweep[0][3])
print("    The lecture's inequality, F = E log p(x|z) - beta (KL - delta)  >=  E log p(x|z) - beta KL, holds because")
print("    beta, delta >= 0: the two sides differ by beta delta.  Measured on these four models (test images,")
print("    nats per image; E log p(x|z) = -recon):")
lagrangian = [[delta, b, b * delta, -recon - b * (kl - delta), -recon - b * kl, b * (kl - delta)]
              for delta, b, kl, recon in sweep]
_common.table(["delta", "beta", "beta delta", "F (left)", "E log p - beta KL (right)", "beta (KL - delta)"],
              lagrangian, ["{:g}", "{:.2f}", "{:.2f}", "{:.2f}", "{:.2f}", "{:+.2f}"])
slack = max(abs(r[5]) for r in lagrangian)
print(f"    beta delta is {min(r[2] for r in lagrangian):.2f} to {max(r[2] for r in lagrangian):.2f} nats: the right "
      "side, the beta-VAE's objective")
print("    -(recon + beta KL), lies that far below F.  Where the constraint is met (KL = delta), F is")
print(f"    E log p(x|z) itself: here |beta (KL - delta)| <= {slack:.2f} nats.")
lesson.key(lagrangian_beta_delta=[r[2] for r in lagrangian], lagrangian_f=[r[3] for r in lagrangian],
           lagrangian_lower_side=[r[4] for r in lagrangian])

fig, ax = plt.subplots(figsize=(7.0, 4.6))
ax.plot([r[2] for r in rows], [r[1] for r in rows], "o-", color="C0", label="fixed beta (loss form)")
for r in rows:
    ax.annotate(f"beta {r[0]:g}", (r[2], r[1]), textcoords="offset points", xytext=(6, 4), fontsize=8, color="C0")
ax.plot([r[2] for r in sweep], [r[3] for r in sweep], "s", color="C3", label="KL <= delta: beta by dual ascent")
span = 0.6                                          # half-length of each tangent, in nats of KL
for delta, beta_found, kl, recon in sweep:
    ax.plot([kl - span, kl + span], [recon + beta_found * span, recon - beta_found * span], color="C3", lw=1.5)
    ax.annotate(f"delta {delta:g}: beta {beta_found:.2f}", (kl, recon), textcoords="offset points",
                xytext=(-8, -14), ha="right", fontsize=8, color="C3")
ax.margins(x=0.15, y=0.1)
ax.set(xlabel="rate: KL(q(z|x) || p(z))  (nats per image, test)",
       ylabel="distortion: -E_q log p(x|z)  (nats per image, test)")
ax.set_title("the rate-distortion curve: each red segment has slope -beta,\nwith beta the multiplier dual ascent "
             "found for that delta", fontsize=10)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
lesson.save(fig, "tradeoff.png")

epochs = np.arange(1, EPOCHS + 1)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 3.8))
for i, delta in enumerate(DELTAS):
    ax1.plot(epochs, [h.kl for h in histories[delta]], color=f"C{i}", label=f"delta = {delta:g}")
    ax1.axhline(delta, color=f"C{i}", linestyle=":")
    ax2.plot(epochs, [h.kl_weight for h in histories[delta]], color=f"C{i}", label=f"delta = {delta:g}")
ax1.set(xlabel="epoch", ylabel="KL(q || p), training mean (nats)", title="the KL settles at delta (dotted)")
ax2.axhline(1.0, color="0.4", linestyle="--", lw=1)
ax2.set(xlabel="epoch", ylabel="beta (no unit)", title="beta, the Lagrange multiplier (dashed: beta = 1)")
for a in (ax1, ax2):
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
fig.suptitle("the constrained form, trained live: dual ascent on beta for each delta", fontsize=11)
fig.tight_layout()
lesson.save(fig, "constrained.png")

# %% --- 4. disentanglement: the benchmark's models ---
lesson.step("disentanglement: one model per objective, trained with the benchmark's recipe (reference checkpoints)")


def describe(model, cfg, own):
    """Test reconstruction and KL on ``own``, the split the model was trained on, KL per latent, MIG
    (every image) and FactorVAE score; every draw seeded by the model's own seed, not --seed."""
    test = Trainer(model, np.random.default_rng(0)).evaluate(own.x_test, seed=cfg.seed)
    kl = kl_dims_of(model, x_all)
    codes = model.code(x_all)                                   # (N, Z) every image: the whole factor grid
    mig, details = disentanglement.mig(codes, factors_all)
    represent = disentanglement.grid_representation(codes, factors_all, ds.factor_sizes)   # codes by lookup
    fvae, _ = disentanglement.factorvae_score(represent, ds.factor_sizes, np.random.default_rng(cfg.seed),
                                              n_train=VOTES[0], n_eval=VOTES[1])
    return dict(recon=test.recon, kl=test.kl, kl_dims=kl, active=int(np.sum(kl > 0.1)), mig=mig, fvae=fvae,
                details=details, follows=disentanglement.latent_factor_labels(details, names))


def seen_in_training(test_factors, train_factors):
    """The share of the test images (by their factors) that are in a training split."""
    sizes = ds.factor_sizes
    return np.mean(np.isin(np.ravel_multi_index(test_factors.T, sizes), np.ravel_multi_index(train_factors.T, sizes)))


models, results, configs, splits = {}, {}, {}, {}
for name in OBJECTIVES:
    path = os.path.join(REFERENCE, f"08_{name}.npz")
    models[name], configs[name] = reference.load(path)
    cfg = configs[name]
    if cfg.seed not in splits:                                  # the split its training run made (runs.load_data)
        splits[cfg.seed] = runs.load_data(cfg, path, D=ds.D)
    results[name] = describe(models[name], cfg, splits[cfg.seed])
    how = {"vae": "beta = 1", "beta4": "beta = 4"}.get(name) or (
        f"KL <= {cfg.kl_target:g} nats from the first step (dual ascent on beta)" if cfg.kl_target is not None else
        f"C raised from 0 to {cfg.capacity:g} nats over {cfg.capacity_steps} steps, gamma {cfg.gamma:g}")
    print(f"    {name:<10} {how}")
print(f"    all: {cfg.epochs} epochs, batch {cfg.batch_size}, Adam {cfg.lr:g}, hidden {cfg.hidden}, Z = {cfg.latent}, "
      f"seed {cfg.seed}")
own = splits[cfg.seed]
print(f"    Each is evaluated on the split it was trained on: shapes split 90/10 by a permutation seeded with its")
print(f"    training seed ({', '.join(sorted({str(c.seed) for c in configs.values()}))}), so its test numbers are on "
      f"{len(own.x_test)} images it never saw ({seen_in_training(own.factors_test, own.factors_train):.0%} seen),")
print(f"    whatever --seed is.  --seed {lesson.seed} split the live models' data" +
      (" the same way." if all(c.seed == lesson.seed for c in configs.values()) else
       f" differently: {seen_in_training(ds.factors_test, own.factors_train):.0%} of\n    its test images are in the "
       "references' training split, so they would be no test of these models."))
print("    MIG (Chen et al. 2018): for each factor, the mutual information of its most informative latent minus")
print("    that of the second most, over the factor's entropy: that factor's gap, 1 when one latent alone carries")
print("    it, 0 when two carry it equally.  MIG is the mean gap over the five factors.")
print("    FactorVAE score (Kim & Mnih 2018): fix one factor over a batch of 64 images, find the latent that varies")
print("    least (relative to its spread over all images; collapsed latents take no part), vote latent -> factor;")
print(f"    a majority-vote classifier trained on {VOTES[0]:,} votes is scored on {VOTES[1]:,} more (chance: 1/5).")
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
           **{f"factorvae_{KEYS[n]}": results[n]["fvae"] for n in OBJECTIVES},
           **{f"reference_recon_{KEYS[n]}": results[n]["recon"] for n in OBJECTIVES},
           **{f"reference_kl_{KEYS[n]}": results[n]["kl"] for n in OBJECTIVES},
           reference_split_seed=cfg.seed, reference_test_seen_in_training=seen_in_training(own.factors_test,
                                                                                            own.factors_train))

print("\n    the KL split three ways (Chen et al. 2018; docs/derivations.md): index-code MI, what z says about")
print("    which image it came from; total correlation, the dependence between latents; dimension-wise KL,")
print("    each latent's marginal against N(0, 1). 2,000 samples scored against all images; nats per image.")
decomposition = {}
for name in OBJECTIVES:
    mu, logvar = (np.asarray(a, np.float64) for a in models[name].astype(np.float64).encode(x_all.astype(np.float64)))
    decomposition[name] = kl_decomposition(mu, logvar, np.random.default_rng(lesson.seed),
                                           n_samples=lesson.pick(2000, 300))
_common.table(["objective", "MI", "TC", "dim-wise KL", "sum", "KL (analytic)"],
              [[n, d["mi"], d["tc"], d["dimwise_kl"], d["mi"] + d["tc"] + d["dimwise_kl"], d["kl"]]
               for n, d in decomposition.items()],
              ["{}", "{:.2f}", "{:.2f}", "{:.2f}", "{:.2f}", "{:.2f}"])
se = max(decomposition[n][f"{t}_se"] for n in OBJECTIVES for t in ("mi", "tc", "dimwise_kl"))
shrunk = [t for t in ("mi", "tc", "dimwise_kl") if decomposition["beta4"][t] < decomposition["vae"][t]]
print(f"    (largest standard error of a term: {se:.2f} nats.) beta = 4 against the VAE: smaller "
      f"{', '.join(shrunk) or 'none'} of the three.")
print(f"    The MI is most of every model's KL ({min(d['mi'] / d['kl'] for d in decomposition.values()):.0%} or more "
      "here): it is what z says about which image it")
print("    came from, what the decoder needs. A beta on the whole KL squeezes it along with the TC, the one term")
print("    about factorising; that is what costs the beta-VAE its reconstruction, and what beta-TCVAE avoids by")
print("    weighting the TC alone (docs/derivations.md).")
lesson.key(kl_decomposition={n: {t: d[t] for t in ("mi", "tc", "dimwise_kl", "kl")} for n, d in decomposition.items()})
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


print(f"    vae (beta = 1): KL {vae['kl']:.1f} nats, {spread(vae)}; MIG {vae['mig']:.3f}")
print(f"    beta4:          KL {b4['kl']:.1f} nats, {spread(b4)}; MIG {b4['mig']:.3f}")
print(f"    kl-target:      KL {kt['kl']:.1f} nats, {spread(kt)}; MIG {kt['mig']:.3f} (budget from the first step)")
print(f"    capacity:       KL {cap['kl']:.1f} nats, {spread(cap)}; MIG {cap['mig']:.3f} (budget raised slowly)")
print("    The same budget, given at once or slowly: why the slow ramp separates factors (Burgess et al. 2018)")
print("    is in docs/disentanglement.md.")
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
details = results[best]["details"]
print("    Why y has half x's range in `shapes`, what happens with equal ranges (`shapes-equal`), and why shape")
print("    and rotation stay entangled: docs/disentanglement.md.")
print("    " + "; ".join(f"{names[k]}'s best latent in {best} is z{details['best_latent'][k] + 1} (gap {details['gap'][k]:.2f})"
                      for k in (names.index("shape"), names.index("rotation"))))

# %% --- 6. traversals ---
lesson.step(f"traversals: the VAE, fixed beta = 4 and the best form ({best}), one above the other")
FACTORS0 = (0, 2, 0, 6, 3)                                      # a square, the third of 4 sizes, unrotated, near the middle
x0 = shapes.render(*FACTORS0).reshape(-1)                       # (D,)
VALUES = np.linspace(-2.5, 2.5, 7)                              # what each traversed latent is set to
others = {n: shapes.render(k, *FACTORS0[1:]).reshape(-1) for k, n in enumerate(shapes.SHAPE_NAMES)}


def nearest_shape(image):
    """The shape (same size and place as x0) nearest ``image`` in summed |pixel difference|, and the distances."""
    d = {n: float(np.abs(image - o).sum()) for n, o in others.items()}
    return min(d, key=d.get), d


print(f"    the input: a {shapes.SHAPE_NAMES[FACTORS0[0]]} (scale 3 of 4, rotation 0, x 7 of 12, y 4 of 6).  At 16x16 "
      "pixels it is a 3x3")
print("    block of white with half-grey edges and quarter-grey corners.  The ellipse of the same size and place")
print(f"    differs from it by {nearest_shape(others['ellipse'])[1]['square']:.2f} in summed |pixel difference|, the heart "
      f"by {nearest_shape(others['heart'])[1]['square']:.2f} (one x step: "
      f"{np.abs(x0 - shapes.render(0, 2, 0, 7, 3).reshape(-1)).sum():.2f}).  Each model's reconstruction (traversals.png):")
names6 = list(dict.fromkeys(("vae", "beta4", best)))
tables, labels, nearest = [], [], []
for name in names6:
    r, model = results[name], models[name]
    dims = np.argsort(-r["kl_dims"])[:max(r["active"], 3)]      # the active latents, most KL first
    z0 = model.code(x0[None])[0]                                 # (Z,) the code of the input
    z = np.tile(z0, (len(dims), len(VALUES), 1))                 # (R, C, Z)
    for row, j in enumerate(dims):
        z[row, :, j] = VALUES
    recon = np.asarray(model.decode(z0[None]), np.float64)[0]    # (D,) the input's reconstruction
    images = np.asarray(model.decode(z.reshape(-1, Z)), np.float64).reshape(len(dims), len(VALUES), -1)
    tables.append(np.concatenate([np.tile(x0, (len(dims), 1, 1)), np.tile(recon, (len(dims), 1, 1)), images], axis=1))
    gaps = r["details"]["gap"]
    labels.append([f"z{j + 1}: " + (", ".join(f"{names[k]} (gap {gaps[k]:.2f})" for k in range(len(names))
                                               if r["details"]["best_latent"][k] == j and np.isfinite(gaps[k]))
                                     or "no factor's best") + f"\nKL {r['kl_dims'][j]:.2f} nats" for j in dims])
    near, d = nearest_shape(recon)
    nearest.append(near)
    print(f"    {name:<10} shape's gap {gaps[names.index('shape')]:.2f}; summed |difference| from the "
          + ", ".join(f"{n} {v:.2f}" for n, v in d.items()))
    lesson.key(**{f"traversal_recon_nearest_{KEYS[name]}": near})
rows6 = [len(t) for t in tables]
fig, axes = plt.subplots(len(tables), 1, figsize=(11.0, 1.3 + 1.05 * sum(rows6)),
                         gridspec_kw=dict(height_ratios=rows6), squeeze=False)
H, W = ds.image_shape
for ax, images, rows, name in zip(axes[:, 0], tables, labels, names6):
    R, C = images.shape[:2]
    ax.imshow(1 - plots.tile(images.reshape(R * C, -1), ds.image_shape, ncols=C), cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks(1 + np.arange(C) * (W + 1) + (W - 1) / 2,
                  ["input", "recon."] + [f"z = {v:+.1f}" for v in VALUES], fontsize=10)
    ax.xaxis.set_ticks_position("top")
    ax.set_yticks(1 + np.arange(R) * (H + 1) + (H - 1) / 2, rows, fontsize=10)
    ax.tick_params(length=0)
    ax.axvline(2 * (W + 1) + 0.5, color="C3", lw=2)               # inputs | traversals
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(f"{name}: MIG {results[name]['mig']:.2f}, FactorVAE {results[name]['fvae']:.2f}", fontsize=12,
                 loc="left", pad=22)
fig.suptitle("latent traversals: each row sets one latent to -2.5 ... 2.5, the others held at the input's code",
             fontsize=12)
same = sorted(set(nearest))
fig.text(0.01, 0.005, "input: a square at 16x16 pixels (3x3 white, grey edges); recon.: the model's reconstruction, "
         "rounder, yet nearer the " + " / ".join(same) + "\nthan the other shapes of that size and place (summed |pixel "
         "difference|).  Row label: the latent, the factors it is MIG's best latent for, with that\nfactor's gap "
         "(1: this latent alone carries the factor; 0: a second latent carries as much), and the latent's KL.",
         fontsize=9, va="bottom")
fig.tight_layout(rect=(0, 0.065, 1, 1))
lesson.save(fig, "traversals.png")
print("    a row that moves one thing (x, y or the size) alone is a disentangled latent. beta = 4 keeps fewer")
print("    latents (each nat costs four times as much) and blurrier shapes (its reconstruction is worse).")

# %% --- 7. over seeds: the study ---
lesson.step("over seeds: MIG of each objective on the reporting seeds (benchmarks/disentanglement.py)")
STUDY = os.path.join(REFERENCE, "08_study.json")
with open(STUDY) as f:
    study = json.load(f)
SETTINGS = [("vae", "beta = 1"), ("beta4", "beta = 4"), ("capacity", "capacity C = 8"), ("tcvae", "beta-TCVAE w = 6")]
DATASETS = ("shapes", "shapes-equal")
reporting = [r for r in study["results"] if r["seed"] in REPORTING_SEEDS]
print(f"    read from {os.path.relpath(STUDY)}, written by:")
print("    python benchmarks/disentanglement.py --data shapes-equal shapes --objectives vae beta4 capacity tcvae \\")
print("        --seeds 20 21 22 23 24 --jobs 2 --out study21 --export-study lessons/reference/08_study.json")
mig_of = {(d, o): [r["mig"] for r in reporting if r["data"] == d and r["objective"] == o]
          for d in DATASETS for o, _ in SETTINGS}
rows7 = []
for d in DATASETS:
    for o, label in SETTINGS:
        m = mig_of[(d, o)]
        rows7.append([d, label, len(m), np.mean(m) if m else np.nan, np.std(m, ddof=1) if len(m) > 1 else np.nan,
                      " ".join(f"{v:.3f}" for v in m) or "not run yet"])
_common.table(["data", "objective", "seeds", "mean MIG", "sd", "per seed"], rows7,
              ["{}", "{}", "{}", "{:.3f}", "{:.3f}", "{}"])
n_done = min(len(v) for v in mig_of.values())
if n_done < len(REPORTING_SEEDS):
    print(f"    INCOMPLETE: the study has not finished; {sum(map(len, mig_of.values()))} of "
          f"{len(DATASETS) * len(SETTINGS) * len(REPORTING_SEEDS)} models are in. Claim only what is here.")
for d in DATASETS:
    one, four = mig_of[(d, "vae")], mig_of[(d, "beta4")]
    if one and four:
        print(f"    {d}: beta = 4 over beta = 1, mean MIG {np.mean(four):.3f} / {np.mean(one):.3f} = "
              f"{np.mean(four) / np.mean(one):.2f}")
print(f"    So step 4's seed-0 models (beta = 4 at {results['beta4']['mig'] / results['vae']['mig']:.1f} times the VAE) "
      "are one draw: over seeds")
print("    beta = 4 lowers the MIG on one data set and raises it on the other. One seed's MIG is not a result.")
print("    Absolute MIG on these shapes is not comparable with dSprites numbers (docs/disentanglement.md).")
lesson.key(mig_by_beta={"1": mig_of[("shapes", "vae")], "4": mig_of[("shapes", "beta4")]},
           mig_by_beta_equal={"1": mig_of[("shapes-equal", "vae")], "4": mig_of[("shapes-equal", "beta4")]})

fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.9), sharey=True)
for ax, d in zip(axes, DATASETS):
    for i, (o, label) in enumerate(SETTINGS):
        m = mig_of[(d, o)]
        ax.plot(np.full(len(m), i) + np.linspace(-0.12, 0.12, len(m)) if m else [], m, "o", color=f"C{i}", alpha=0.7)
        if len(m) > 1:
            ax.errorbar(i + 0.3, np.mean(m), yerr=np.std(m, ddof=1), fmt="s", color=f"C{i}", capsize=4)
        if not m:
            ax.text(i, 0.02, "not run yet", ha="center", fontsize=8, color="0.4")
    ax.set_xticks(range(len(SETTINGS)), [label for _, label in SETTINGS], fontsize=8)
    ax.set(xlabel="objective", title={"shapes": "shapes (y on half x's range)",
                                      "shapes-equal": "shapes-equal (x, y on one range)"}[d])
    ax.set_xlim(-0.6, len(SETTINGS) - 0.2)
    ax.grid(alpha=0.3, axis="y")
axes[0].set_ylabel("MIG (fraction of the factor's entropy)")
top = max([max(v) for v in mig_of.values() if v] + [np.mean(v) + np.std(v, ddof=1) for v in mig_of.values() if len(v) > 1]
          + [0.55])
axes[0].set_ylim(0, top + 0.05)
fig.suptitle("MIG over the reporting seeds 20-24: each seed (dots), mean +- sd (squares)"
             + ("" if n_done == len(REPORTING_SEEDS) else "; the study is incomplete"), fontsize=11)
fig.tight_layout()
lesson.save(fig, "mig_by_beta.png")

lesson.done()
