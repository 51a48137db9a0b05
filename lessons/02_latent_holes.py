"""Lesson 02: the holes in an autoencoder's latent space, made visible and measured.

Lecture: "Limitations of Autoencoders": the latent space is not regularized, encoded data
occupy disconnected regions, large empty regions ("holes") appear between them, points in
the holes do not decode to valid data, and sampling often passes through the holes.

What you will see:
  1. an AE with a 2-D bottleneck trained on the digits;
  2. its codes, coloured by digit: clumps and streaks with empty space between them;
  3. the decoder over the whole plane: what lives between the clumps;
  4. the holes map: where the codes are, where they are not, and decodes from the holes;
  5. "sampling" an AE from the Gaussian fitted to its codes: the draws that land in holes;
  6. the hole score (tinyvae.holes) of the AE against a VAE trained the same way;
  7. an explorer page of each model (tinyvae.app.explore) to open in your browser: move the
     pointer into the holes and watch the decoder fail.

The hole score is the fraction of prior draws whose nearest training code is farther than
the 99th percentile of code-to-nearest-code distances (about 0.01 when the codes fill the
prior).  The AE's "prior" is the Gaussian fitted to its codes; the VAE's is N(0, I).

Run:   python lessons/02_latent_holes.py [--quick] [--out DIR]
Takes: about 3 seconds on 2 cores (--quick: about 2 seconds, with 10 epochs instead of 50).
"""
# %%
import _common

import os

import numpy as np

from tinyvae import data, holes, plots
from tinyvae.app import explore
from tinyvae.models import VAE, Autoencoder
from tinyvae.train import fit

lesson = _common.Lesson("02_latent_holes", __doc__)
EPOCHS = lesson.pick(50, 10)
HIDDEN, Z = (128,), 2               # a 2-D latent, so that we can look at all of it
BATCH, LR = 32, 3e-3

# %% --- 1. train ---
lesson.step(f"train an AE with a {Z}-D bottleneck ({EPOCHS} epochs)")
ds = data.load("digits")
x = ds.x_train
ae = Autoencoder(ds.D, HIDDEN, Z, likelihood="bernoulli", rng=np.random.default_rng(lesson.seed))
curve = fit(ae, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)
print(f"    reconstruction (BCE) {curve[0].recon:.2f} -> {curve[-1].recon:.2f} nats per image")

# %% --- 2. the codes ---
lesson.step("the codes z = g_phi(x) of the training digits")
codes = holes.training_codes(ae, x, np.random.default_rng(lesson.seed))      # (N, 2)
nn = holes.nearest_distance(codes, codes, exclude_self=True)                # (N,)
r = holes.hole_radius(codes)
print(f"    codes span z1 in [{codes[:, 0].min():.1f}, {codes[:, 0].max():.1f}], "
      f"z2 in [{codes[:, 1].min():.1f}, {codes[:, 1].max():.1f}]")
print(f"    distance from a code to its nearest neighbour: median {np.median(nn):.3f}, "
      f"99th percentile r = {r:.3f} (the hole radius)")
print("    nothing in the AE's loss asks the codes to fill the plane, or to stay near the origin.")
lesson.save(plots.plot_latent_scatter(codes, ds.y_train, f"AE codes of the training digits (Z = {Z})"),
            "latent_codes.png")

# %% --- 3. the decoder over the plane ---
lesson.step("the decoder over the plane, between the clumps too")
mean, std = codes.mean(axis=0), codes.std(axis=0)
lesson.save(plots.plot_manifold(ae, ds.image_shape, n=lesson.pick(15, 8), mean=mean, std=std,
                                title="the AE's decoder over the plane", quantiles_of="fitted Gaussian"),
            "manifold_ae.png")
print("    tiles between clumps decode to blends of neighbouring digits, and tiles past the codes")
print("    to exaggerated ones: the decoder was never trained on those z.")

# %% --- 4. the holes map ---
lesson.step("the holes map: cells no code reaches")
hm_ae = holes.holes_map(ae, x, bins=lesson.pick(120, 60), seed=lesson.seed)
print(f"    a cell is a hole when its centre is farther than r = {hm_ae.radius:.3f} from every code")
print(f"    holes hold {100 * hm_ae.hole_fraction:.0f}% of the fitted Gaussian's mass on the grid")

# %% --- 5. sampling an AE ---
lesson.step("sampling: decode draws from the Gaussian fitted to the codes")
result = holes.model_hole_score(ae, x, seed=lesson.seed)
n = 64
samples = ae.decode(result.z[:n])
print(f"    {int(result.in_hole[:n].sum())} of these {n} draws landed in a hole (framed in red)")
lesson.save(plots.plot_samples(samples, ds.image_shape,
                               "AE 'samples': z from the Gaussian fitted to its codes (red: in a hole)",
                               highlight=result.in_hole[:n]), "samples_ae.png")

# %% --- 6. the hole score: AE against VAE ---
lesson.step("the hole score of the AE against a VAE trained the same way")
vae = VAE(ds.D, HIDDEN, Z, rng=np.random.default_rng(lesson.seed))
fit(vae, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)
hm_vae = holes.holes_map(vae, x, bins=lesson.pick(120, 60), seed=lesson.seed)
print(f"    hole score: AE {hm_ae.score:.3f}  VAE {hm_vae.score:.3f}   "
      f"(about 0.01 when the codes fill the prior)")
print("    the VAE's KL term pulls every q(z|x) towards N(0, I), so its codes fill the prior it is")
print("    sampled from; the AE's codes are wherever reconstruction put them.")
lesson.save(plots.plot_holes_map([hm_ae, hm_vae], ds.image_shape, ["AE", "VAE"]), "holes_map.png")
lesson.key(hole_score_ae=hm_ae.score, hole_score_vae=hm_vae.score, hole_radius_ae=hm_ae.radius)

# %% --- 7. explore it yourself ---
lesson.step("explore the two latent planes in your browser")
for model, name in ((ae, "explorer_ae.html"), (vae, "explorer_vae.html")):
    path = explore.write_explorer(model, ds, os.path.join(lesson.out, name), seed=lesson.seed)
    print(f"    wrote {path}")
print("    open them in a browser (double-click; they work offline) and move the pointer from the")
print("    coloured codes into the red cells, where the decoder was never trained. Compare how much")
print("    of each model's prior rings is red: that share is what the hole score measures.")

lesson.done()
