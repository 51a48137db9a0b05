"""Lesson 07: the variational autoencoder, trained, sampled, and compared with the AE.

Lecture: "Variational Autoencoder" (map x to a distribution, not a point), "VAE:
Intuition", "VAE: Prior, likelihood, posterior" (the generation story: z ~ p(z), then
x ~ p(x|z)), "VAE Architecture", and "ELBO: Why lower bound".

What you will see:
  1. one forward pass in the lecture's words: mu, logvar = encoder(x); z = mu + sigma eps;
     decoder(z); loss = reconstruction + KL;
  2. a VAE with Z = 16 trained on the digits, train and test curves;
  3. the generation story: samples z ~ p(z) decoded, and interpolation between digits; and
     x ~ p(x|z) itself: the Bernoulli decoder's mean E[x|z] (grey: each pixel's probability)
     beside random binary draws from it, with the number of pixels in which two draws from
     the same z differ, against its expected value 2 sum_d p_d (1 - p_d);
  4. the latent space of a 2-D VAE against a 2-D AE trained the same way, with their hole
     scores side by side (lesson 02 draws and measures the holes), and the VAE's manifold;
  5. the test ELBO next to the importance-weighted (IW) estimate of log p(x): the ELBO is
     a lower bound, and the IW bound is tighter;
  6. an explorer page of the Z = 16 VAE to open in your browser: a slider for every latent,
     the plane through the two latents with the most KL.

Run:   python lessons/07_vae.py [--quick] [--out DIR] [--seed S]
Takes: about 5 seconds on 2 cores (--quick: about 3 seconds, with fewer epochs and IW samples).
"""
# %%
import _common

import os

import numpy as np

from tinyvae import data, evaluate
from tinyvae.studies import holes, plots
from tinyvae.app import explore
from tinyvae.losses import kl_per_dimension, log_normal
from tinyvae.models import VAE, Autoencoder
from tinyvae.noise import binarize
from tinyvae.train import Trainer, fit

lesson = _common.Lesson("07_vae", __doc__)
EPOCHS = lesson.pick(100, 15)       # the Z = 16 VAE
EPOCHS_2D = lesson.pick(50, 10)     # the 2-D VAE and AE (the settings of lesson 02)
IW_SAMPLES = lesson.pick(200, 20)   # K of the importance-weighted bound
ds = data.load("digits")
x, x_test = ds.x_train, ds.x_test

# %% --- 1. one forward pass ---
lesson.step("one forward pass, in the lecture's words")
vae = VAE(ds.D, (256,), 16, rng=np.random.default_rng(lesson.seed))
xb = x[:8]
mu, logvar = vae.encode(xb)                                     # (8, 16) each: q(z|x) = N(mu, diag sigma^2)
print(f"    x {xb.shape} -> encoder -> mu {mu.shape}, logvar {logvar.shape}  (q(z|x), not a point)")
print("    z = mu + sigma * eps, eps ~ N(0, I)  ->  decoder -> logits (8, 64) of p(x|z) = Bernoulli")
loss = vae.loss_and_grad(xb, rng=np.random.default_rng(lesson.seed))
print(f"    loss = -E_q log p(x|z) + KL(q(z|x) || p(z)) = {loss.recon:.2f} + {loss.kl:.3f} = {loss.total:.2f} "
      f"nats per digit (untrained)")

# %% --- 2. train ---
lesson.step(f"train a VAE with Z = 16 ({EPOCHS} epochs)")
trainer = Trainer(vae, np.random.default_rng(lesson.seed), batch_size=64, lr=1e-3)
rows = []
for epoch in range(1, EPOCHS + 1):
    train, _ = trainer.train_epoch(x)
    test = trainer.evaluate(x_test, seed=epoch)
    rows.append({"epoch": epoch, "train_recon": train.recon, "train_kl": train.kl,
                 "train_loss": train.recon + train.kl, "test_recon": test.recon, "test_kl": test.kl,
                 "test_loss": test.recon + test.kl})
    if epoch == 1 or epoch % max(1, EPOCHS // 5) == 0:
        print(f"    epoch {epoch:3d}: train recon {train.recon:6.2f} + KL {train.kl:5.2f} = "
              f"-ELBO {rows[-1]['train_loss']:6.2f}   test -ELBO {rows[-1]['test_loss']:6.2f}")
lesson.save(plots.plot_training_curves(rows, "VAE (Z = 16) on the digits"), "training_curves.png")
mu_t, logvar_t = (np.asarray(a, np.float64) for a in vae.encode(x_test))
kl_dims = kl_per_dimension(mu_t, logvar_t)                     # (16,) nats per digit
n_active, var_mu = evaluate.active_units(mu_t)                  # Var over x of mu_j(x), (16,)
_common.table(["latent j", *(str(j) for j in range(1, 17))], [["KL (nats)", *kl_dims], ["Var_x mu_j", *var_mu]],
              ["{}"] + ["{:.3f}"] * 16)
print("    A latent the KL term switched off has q(z_j|x) = p(z_j) for every x.  Two common ways to count")
print("    the others, which need not agree:")
print(f"      KL > 0.05 nats (what the latent costs, tinyvae's figures): {int(np.sum(kl_dims > 0.05))} of 16")
print(f"      Var_x mu_j(x) > 0.01 (Burda et al.'s 'active units', tinyvae eval): {n_active} of 16")
print("    A latent whose mean moves a little with x, with sigma near 1, passes the second and not the")
print("    first: a variance of 0.01 in mu costs only about 0.005 nats of KL.")
lesson.save(plots.plot_kl_per_dimension(kl_dims, "KL(q || p) of each latent dimension, VAE with Z = 16"),
            "kl_per_dimension.png")

# %% --- 3. the generation story ---
lesson.step("generate: z ~ p(z) = N(0, I), then x ~ p(x|z): its mean, and random draws from it")
rng = np.random.default_rng(lesson.seed)
lesson.save(plots.plot_samples(vae.sample(64, rng), ds.image_shape,
                               "VAE (Z = 16): decoded samples z ~ N(0, I)"), "samples.png")
lesson.save(plots.plot_reconstructions(x_test[:10], vae.reconstruct(x_test[:10]), ds.image_shape,
                                       title="test digits (top) and their reconstructions f(mu(x)) (bottom)"),
            "reconstructions.png")
# x ~ p(x|z) is a draw, not the mean: for the Bernoulli decoder each pixel is 1 with probability
# p_d = sigmoid(logit_d), independently given z.  The figures above show E[x|z] = p, as is usual.
N_Z = 2000
p_mean = vae.decode(rng.standard_normal((N_Z, vae.Z), dtype=np.float32)).astype(np.float64)   # (N_Z, D) E[x|z]
draw_1, draw_2 = binarize(p_mean, rng), binarize(p_mean, rng)   # (N_Z, D) two draws x ~ p(x|z) of each z
differ = np.sum(draw_1 != draw_2, axis=1)                       # (N_Z,) pixels in which they differ
expected = np.sum(2 * p_mean * (1 - p_mean), axis=1)            # (N_Z,) E[differ | z] = 2 sum_d p_d (1 - p_d)
differ_se = float(np.std(differ - expected, ddof=1) / np.sqrt(N_Z))
grey = float(np.mean((p_mean > 0.1) & (p_mean < 0.9)))          # share of pixels the decoder is unsure of
print(f"    x ~ p(x|z) for {N_Z} z ~ p(z): two draws of the same z differ in {differ.mean():.2f} of {ds.D} pixels "
      f"(expected 2 sum p(1-p) = {expected.mean():.2f},")
print(f"    standard error {differ_se:.2f}); {grey:.0%} of the mean's pixels lie between 0.1 and 0.9.  The digits' "
      "pixels are grey levels,")
print("    which the Bernoulli likelihood reads as probabilities: its draws are black and white and noisy; the")
print("    mean is the smooth digit that samples.png shows.")
lesson.key(draw_pixels_differing=differ.mean(), draw_pixels_differing_expected=expected.mean(),
           draw_pixels_differing_se=differ_se, mean_image_grey_share=grey)
n = 10
lesson.save(plots.plot_image_rows(
    [("mean E[x|z]", p_mean[:n]), ("draw 1, x ~ p(x|z)", draw_1[:n]), ("draw 2, x ~ p(x|z)", draw_2[:n]),
     ("draw 3, x ~ p(x|z)", binarize(p_mean[:n], rng))], ds.image_shape,
    f"each column one z ~ p(z); top row: the mean p = sigmoid(decoder(z)), grey = unsure;\n"
    f"below: binary draws x ~ Bernoulli(p) (two differ in {differ.mean():.1f} of {ds.D} pixels on average)"),
    "draws_vs_mean.png")
a = [int(np.flatnonzero(ds.y_test == d)[0]) for d in (0, 1, 2, 3, 4)]
b = [int(np.flatnonzero(ds.y_test == d)[0]) for d in (6, 7, 8, 9, 5)]
lesson.save(plots.plot_interpolation(vae, x_test[a], x_test[b], ds.image_shape), "interpolation.png")

# %% --- 4. the latent space: VAE against AE ---
lesson.step(f"a 2-D VAE against a 2-D AE, trained the same way ({EPOCHS_2D} epochs)")
vae2 = VAE(ds.D, (128,), 2, rng=np.random.default_rng(lesson.seed))
ae2 = Autoencoder(ds.D, (128,), 2, likelihood="bernoulli", rng=np.random.default_rng(lesson.seed))
for model in (vae2, ae2):
    fit(model, x, EPOCHS_2D, batch_size=32, lr=3e-3, seed=lesson.seed)
hm_ae = holes.holes_map(ae2, x, bins=lesson.pick(120, 60), seed=lesson.seed)
hm_vae = holes.holes_map(vae2, x, bins=lesson.pick(120, 60), seed=lesson.seed)
print(f"    hole score: AE {hm_ae.score:.3f}  VAE {hm_vae.score:.3f}   (about 0.01 when the codes fill the prior)")
print("    the KL term pulls each q(z|x) towards N(0, I) and keeps it wide, so the VAE's codes cover")
print("    the prior it is sampled from; the AE's codes lie wherever reconstruction put them.  Lesson 02")
print("    draws these holes and measures what decodes inside them.")
lesson.save(plots.plot_latent_scatters(
    [(hm_ae.codes, ds.y_train, "AE: codes g(x)"),
     (vae2.code(x), ds.y_train, "VAE: posterior means mu(x)")],
    "the same digits, encoded by a 2-D AE and a 2-D VAE"), "latent_ae_vs_vae.png")
lesson.save(plots.plot_manifold(vae2, ds.image_shape, n=lesson.pick(15, 8),
                                title="the 2-D VAE's decoder over the plane"), "manifold.png")
lesson.key(hole_score_ae=hm_ae.score, hole_score_vae=hm_vae.score)

# %% --- 5. the ELBO and the IW estimate of log p(x) ---
lesson.step(f"test -ELBO against the importance-weighted -log p(x) (K = {IW_SAMPLES})")
results = {}
for name, model in (("VAE Z = 2", vae2), ("VAE Z = 16", vae)):
    results[name] = evaluate.evaluate_vae(model, x_test, K=IW_SAMPLES, seed=lesson.seed)
_common.table(["model", "-ELBO", f"-log p(x), IW K={IW_SAMPLES}", "gap", "active (Var_x mu > 0.01)"],
              [[n, r["neg_elbo"], r["iw_nll"], r["neg_elbo"] - r["iw_nll"], r["active_units"]]
               for n, r in results.items()], ["{}", "{:.3f}", "{:.3f}", "{:.3f}", "{}"])
# for Z = 2 the integral itself is affordable (lesson 05): the number both estimates aim at
g = np.linspace(-6.0, 6.0, 201)                                               # (n,) grid, step 0.06
h = g[1] - g[0]
z_grid = np.stack([a.ravel() for a in np.meshgrid(g, g)], axis=1)            # (G, 2)
logits = vae2.astype(np.float64).decoder.forward(z_grid)                      # (G, D)
log_joint = (logits @ x_test.T.astype(np.float64) - np.logaddexp(0.0, logits).sum(axis=1)[:, None]
             + log_normal(z_grid, np.zeros(2), np.zeros(2))[:, None])         # (G, N) log p(x|z) p(z)
exact_nll_2d = -float(np.mean(evaluate.log_mean_exp(log_joint, axis=0) + np.log(len(z_grid) * h * h)))
r2 = results["VAE Z = 2"]
print(f"    Z = 2, -log p(x) by the grid sum itself: {exact_nll_2d:.3f}; the IW bound is {r2['iw_nll'] - exact_nll_2d:+.3f}")
print(f"    from it and the -ELBO {r2['neg_elbo'] - exact_nll_2d:+.3f}: -log p(x) <= IW bound <= -ELBO.  The ELBO misses")
print("    log p(x) by KL(q(z|x) || p(z|x)) (lesson 05); averaging K importance weights inside the log")
print("    closes most of that gap, more as K grows.")
r16 = results["VAE Z = 16"]
lesson.key(neg_elbo=r16["neg_elbo"], iw_nll=r16["iw_nll"], neg_elbo_2d=results["VAE Z = 2"]["neg_elbo"],
           iw_nll_2d=results["VAE Z = 2"]["iw_nll"], exact_nll_2d=exact_nll_2d, active_units=r16["active_units"])

# %% --- 6. explore it yourself ---
lesson.step("explore the Z = 16 VAE's latent space in your browser")
path = explore.write_explorer(vae, ds, os.path.join(lesson.out, "explorer.html"), seed=lesson.seed)
print(f"    wrote {path}")
print("    open it in a browser (double-click; it works offline). The plane shows the two latents")
print("    with the most KL; move the other sliders and watch which latents change the digit: the")
print("    fewer nats of KL a latent carries, the less it matters to the decoder.")

lesson.done()
