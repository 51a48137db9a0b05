"""Lesson 02: the holes in an autoencoder's latent space, and what the decoder makes there, measured.

Lecture: "Limitations of Autoencoders": the latent space is not regularized, encoded data
occupy disconnected regions, large empty regions ("holes") appear between them, points in
the holes do not decode to valid data, and sampling often passes through the holes and fails.

Every decode here is judged twice:
  * by a digit classifier trained on the training images (tinyvae.studies.classifier; its test
    accuracy is printed): a decode is *valid* when the classifier gives one digit a
    probability of at least 0.9 (classifier.VALID_PROBABILITY, fixed before any decode was
    judged);
  * by its pixel distance to the nearest training image (Euclidean, pixels in [0, 1]).

A *hole* is what tinyvae.studies.holes calls one: a latent point farther than r from every training
code, r the 99th percentile of the code-to-nearest-code distances.  The AE's "prior" is the
Gaussian fitted to its codes; the VAE's is N(0, I).  A hole is a *gap* when it lies inside the
convex hull of the codes (codes on every side of it) and a *tail* when it lies outside (beyond
every code).

What you will see:
  1. the judge: the classifier, and how it scores real test digits;
  2. an AE and a VAE with a 2-D latent, trained the same way (the AE on the squared error L_AE);
  3. their codes: the AE's form one region per digit with empty space between them;
  4. what the AE's holes are: gaps and tails, by sigma band of the fitted Gaussian;
  5. the AE's decodes of 20,000 draws, judged: in holes against outside, band by band;
  6. sampling: the AE's draws against the VAE's, in 2 and in 8 dimensions;
  7. an explorer page of each 2-D model to open in your browser;
  8. the lecture's five claims, each with the number this run measured.

Run:   python lessons/02_latent_holes.py [--quick] [--out DIR] [--seed S]
Takes: 17-29 seconds on 2 cores shared with other work (--quick: 5-9 seconds, fewer epochs
       and draws).
"""
# %%
import _common

import os

import matplotlib.pyplot as plt
import numpy as np

from tinyvae.studies import classifier, holes, plots
from tinyvae import data
from tinyvae.app import explore
from tinyvae.models import VAE, Autoencoder
from tinyvae.train import fit

lesson = _common.Lesson("02_latent_holes", __doc__)
EPOCHS = lesson.pick(1000, 150)     # the AE's regions pull apart slowly (step 3)
EPOCHS_8 = lesson.pick(300, 100)    # the Z = 8 pair of step 6
HIDDEN, Z = (128,), 2               # a 2-D latent, so that we can look at all of it
BATCH, LR = 32, 3e-3
DRAWS = lesson.pick(20000, 5000)    # prior draws judged (about 1% of them beyond 3 sigma)
BINS = lesson.pick(120, 60)         # cells per side of the maps
PAIRS = lesson.pick(1000, 400)      # pairs of codes whose straight path is checked for holes
BANDS = [(0, 1), (1, 2), (2, 3), (3, np.inf)]   # sigma bands of the prior (Mahalanobis radius)
VALID = classifier.VALID_PROBABILITY


# --- the lesson's geometry: the codes' hull, paths between codes, sigma bands ------------------
def convex_hull(points):
    """The corners of the convex hull of 2-D ``points`` (N, 2), counter-clockwise: (K, 2).
    Andrew's monotone chain: sort by z1, then keep only left turns, below and above."""
    P = sorted(map(tuple, np.asarray(points, dtype=np.float64)))

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()                               # a right turn (or straight): not a corner
            out.append(p)
        return out[:-1]

    return np.array(half(P) + half(P[::-1]))


def inside_hull(z, hull):
    """(M,) bool: z (M, 2) lies inside the counter-clockwise hull (K, 2), left of every edge."""
    a, b = hull, np.roll(hull, -1, axis=0)                                  # (K, 2): edges a -> b
    cross = ((b[:, 0] - a[:, 0]) * (z[:, 1:2] - a[:, 1]) -
             (b[:, 1] - a[:, 1]) * (z[:, 0:1] - a[:, 0]))                   # (M, K)
    return np.all(cross >= 0, axis=1)


def path_crosses_hole(a, b, codes, r):
    """(P,) bool: the straight path from a[i] to b[i] (P, 2 each) passes a point farther than r
    from every code.  Points along it are at most r / 4 apart, so it misses only holes that
    are narrower than that."""
    steps = int(np.ceil(np.max(np.linalg.norm(b - a, axis=1)) / (r / 4))) + 1
    t = np.linspace(0, 1, steps)[None, :, None]                             # (1, S, 1)
    points = (a[:, None] * (1 - t) + b[:, None] * t).reshape(-1, 2)         # (P * S, 2)
    return np.any((holes.nearest_distance(points, codes) > r).reshape(len(a), steps), axis=1)


def largest_piece(codes, r):
    """The share of the codes in the largest connected piece of the land within r of a code.
    Two codes' discs of radius r touch when the codes are at most 2r apart; a piece is a set of
    codes linked by touching discs (grown one ring of neighbours at a time)."""
    d2 = np.sum((codes[:, None] - codes[None]) ** 2, axis=-1)              # (N, N)
    linked = d2 <= (2 * r) ** 2
    piece = np.full(len(codes), -1)
    for start in range(len(codes)):
        if piece[start] < 0:
            piece[start], ring = start, np.array([start])
            while len(ring):
                ring = np.flatnonzero(linked[ring].any(axis=0) & (piece < 0))
                piece[ring] = start
    return np.bincount(piece).max() / len(codes)


def mahalanobis(z, mean, cov):
    """sqrt((z - m)^T S^-1 (z - m)): how many sigmas each z (M, Z) lies from the prior's mean."""
    diff = z - mean
    return np.sqrt(np.sum(diff @ np.linalg.inv(cov) * diff, axis=1))


def map_extent(hm):
    """(lo1, hi1, lo2, hi2): the outer edges of the cells of a holes map."""
    d1, d2 = hm.z1[1] - hm.z1[0], hm.z2[1] - hm.z2[0]
    return (hm.z1[0] - d1 / 2, hm.z1[-1] + d1 / 2, hm.z2[0] - d2 / 2, hm.z2[-1] + d2 / 2)


def sigma_rings(ax, hm, colour):
    """The prior's 1, 2 and 3 sigma contours on ``ax``."""
    cs = ax.contour(hm.z1, hm.z2, hm.prior_radius, levels=[1, 2, 3], colors=colour, linewidths=0.8,
                    linestyles=["-", "--", ":"])
    ax.clabel(cs, fmt={1: "1σ", 2: "2σ", 3: "3σ"}, fontsize=8)


def judge_draws(model, judge, x, n, seed):
    """A model's hole score and its n prior draws, decoded and judged: a dict of (n,) arrays."""
    result = holes.model_hole_score(model, x, n=n, seed=seed)
    decoded = model.decode(result.z)                                        # (n, D)
    p = classifier.top_probability(judge, decoded)                          # (n,)
    return dict(result=result, decoded=decoded, p=p, valid=p >= VALID,
                distance=classifier.nearest_image_distance(decoded, x))


# %% --- 1. the judge ---
lesson.step("the judge: a digit classifier trained on the training images")
ds = data.load("digits")
x = ds.x_train
judge = classifier.train_judge(x, ds.y_train, seed=lesson.seed)   # 64 hidden units, 100 epochs, Adam 3e-3
accuracy = judge.accuracy(ds.x_test, ds.y_test)
test_valid = classifier.is_valid(judge, ds.x_test).mean()
test_distance = np.median(classifier.nearest_image_distance(ds.x_test, x))
print(f"    a {ds.D}-64-10 MLP (Linear, ReLU, Linear, softmax), trained on the cross-entropy:")
print(f"    test accuracy {accuracy:.3f} on {len(ds.x_test)} digits it never saw")
print(f"    valid = top-class probability >= {VALID}: {100 * test_valid:.1f}% of the real test digits pass")
print(f"    a real test digit lies a median {test_distance:.2f} (pixel distance) from its nearest training image")
lesson.key(classifier_test_accuracy=accuracy, valid_test_digits=test_valid,
           nn_distance_test_digits=test_distance)

# %% --- 2. train an AE and a VAE ---
lesson.step(f"train an AE (squared error L_AE) and a VAE with a {Z}-D latent ({EPOCHS} epochs each)")
ae = Autoencoder(ds.D, HIDDEN, Z, likelihood="gaussian", rng=np.random.default_rng(lesson.seed))
curve = fit(ae, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)
vae = VAE(ds.D, HIDDEN, Z, rng=np.random.default_rng(lesson.seed))
curve_vae = fit(vae, x, EPOCHS, batch_size=BATCH, lr=LR, seed=lesson.seed)
print(f"    AE: squared error {curve[0].recon:.2f} -> {curve[-1].recon:.2f} per image")
print(f"    VAE: -ELBO {curve_vae[0].total:.2f} -> {curve_vae[-1].total:.2f} nats per image "
      f"(KL {curve_vae[-1].kl:.2f})")
rec = ae.reconstruct(ds.x_test)
rec_valid = classifier.is_valid(judge, rec).mean()
rec_distance = np.median(classifier.nearest_image_distance(rec, x))
print(f"    the AE's reconstructions of the test digits (decodes where the decoder was trained): "
      f"{100 * rec_valid:.1f}% valid,")
print(f"    median distance {rec_distance:.2f}")
lesson.key(valid_reconstructions_ae=rec_valid, nn_distance_reconstructions_ae=rec_distance)

# %% --- 3. the codes ---
lesson.step("the codes: one region per digit, and the space between them")
hm_ae = holes.holes_map(ae, x, bins=BINS, n_prior=DRAWS, seed=lesson.seed)
hm_vae = holes.holes_map(vae, x, bins=BINS, n_prior=DRAWS, seed=lesson.seed)
codes, r = hm_ae.codes, hm_ae.radius                                        # (N, 2), float
rng = np.random.default_rng(lesson.seed)
i, j = rng.integers(0, len(codes), (2, 8 * PAIRS))                         # candidate pairs
cross = {}
for name, keep in (("different", ds.y_train[i] != ds.y_train[j]),
                   ("same", (ds.y_train[i] == ds.y_train[j]) & (i != j))):
    cross[name] = path_crosses_hole(codes[i[keep][:PAIRS]], codes[j[keep][:PAIRS]], codes, r).mean()
piece = largest_piece(codes, r)
print(f"    nothing in L_AE places the AE's codes: their mean is ({codes[:, 0].mean():.2f}, "
      f"{codes[:, 1].mean():.2f}), their standard deviations")
print(f"    ({codes[:, 0].std():.2f}, {codes[:, 1].std():.2f}): wherever reconstruction put them "
      "(the VAE's KL pulls its codes towards N(0, I)).")
print(f"    hole radius r = {r:.3f}.  Of {PAIRS} straight paths between the codes of two different digits,")
print(f"    {100 * cross['different']:.0f}% cross a hole; of {PAIRS} between two codes of the same digit, "
      f"{100 * cross['same']:.0f}%.")
if cross["different"] > 2 * cross["same"]:
    print("    The digits' regions have empty space between them.", end="")
else:
    print("    Paths between digits cross holes hardly more often than paths within one.", end="")
print(f"  The land within r of a code is one piece\n    holding {100 * piece:.0f}% of the codes, tied "
      "together by the codes of the few ambiguous digits that lie\n    between the regions: "
      f"{'not disconnected in the strict sense' if piece > 0.9 else 'it falls apart into pieces'}.")
lesson.key(path_crosses_hole_different_digits=cross["different"], path_crosses_hole_same_digit=cross["same"],
           largest_piece_ae=piece)
hull = convex_hull(codes)                                                   # (K, 2)

fig, axes = plt.subplots(1, 2, figsize=(13.6, 6.6))
for ax, hm, prior, labels_hull in ((axes[0], hm_ae, "the Gaussian fitted to the codes", hull),
                                   (axes[1], hm_vae, "the prior N(0, I)", None)):
    ext = map_extent(hm)
    overlay = np.zeros(hm.hole.shape + (4,))
    overlay[hm.hole] = plots.HOLE_RGBA
    ax.imshow(overlay, origin="lower", extent=ext, interpolation="nearest")
    for digit in range(10):
        at = ds.y_train == digit
        ax.scatter(hm.codes[at, 0], hm.codes[at, 1], s=4, color=plt.cm.tab10(digit), label=f"digit {digit}")
    sigma_rings(ax, hm, "k")
    if labels_hull is not None:
        closed = np.vstack([labels_hull, labels_hull[:1]])
        ax.plot(closed[:, 0], closed[:, 1], color="0.35", lw=1.0, ls="-.", label="convex hull of the codes")
    ax.set(xlim=ext[:2], ylim=ext[2:], xlabel="z1", ylabel="z2", aspect="equal")
    kind = "z = g(x)" if hm.kind == "AE" else "z ~ q(z|x)"
    ax.set_title(f"{hm.kind}: codes {kind} of the training digits, hole score {hm.score:.3f}\n"
                 f"red: holes (farther than r = {hm.radius:.3f} from every code)\n"
                 f"black: {prior}, 1, 2, 3σ", fontsize=9)
handles, labels = axes[0].get_legend_handles_labels()
fig.legend(handles, labels, fontsize=7, loc="center right", markerscale=2.5)
fig.suptitle(f"paths between two different digits' AE codes cross a hole {100 * cross['different']:.0f}% of "
             f"the time, within one digit {100 * cross['same']:.0f}%", fontsize=10)
fig.subplots_adjust(left=0.05, right=0.86, wspace=0.15, top=0.84)
lesson.save(fig, "codes_and_holes.png")

# %% --- 4. what the holes are ---
lesson.step("what the AE's holes are: gaps between the regions, and tails of the fitted Gaussian")
ae_draws = judge_draws(ae, judge, x, DRAWS, lesson.seed)                   # the draws holes_map used
z, in_hole = ae_draws["result"].z, ae_draws["result"].in_hole              # (M, 2), (M,)
radius = mahalanobis(z, ae_draws["result"].mean, ae_draws["result"].cov)   # (M,) in sigmas
band = np.searchsorted([hi for _, hi in BANDS[:-1]], radius, side="right")  # (M,) index into BANDS
gap = inside_hull(z, hull)                                                  # (M,) inside the hull
tail = in_hole & ~gap
names = [f"{lo}-{hi} sigma" if np.isfinite(hi) else f"> {lo} sigma" for lo, hi in BANDS]
rows = []
for k, name in enumerate(names):
    at = band == k
    rows.append([name, at.sum(), in_hole[at].mean() if at.any() else np.nan,
                 gap[at & in_hole].mean() if (at & in_hole).any() else np.nan])
rows.append(["all", len(z), in_hole.mean(), gap[in_hole].mean()])
_common.table(["band of the fitted Gaussian", "draws", "share in a hole", "of those, gaps"], rows,
              ["{}", "{}", "{:.3f}", "{:.2f}"])
print(f"    {100 * in_hole.mean():.1f}% of the {len(z)} draws land in a hole (the hole score): "
      f"{100 * gap[in_hole].mean():.0f}% of them in gaps between")
inner, outer = in_hole & (radius < 1), in_hole & (radius >= 2)
print(f"    the regions (inside the codes' hull), {100 * tail.sum() / in_hole.sum():.0f}% in tails beyond "
      "every code.  Within 1 sigma", end="")
print(f" {100 * gap[inner].mean():.0f}% of the\n    holes are gaps;" if inner.any() else " there are no holes;\n   ",
      end="")
print(f" past 2 sigma {100 * gap[outer].mean():.0f}% are: there the fitted Gaussian reaches past the codes.")
lesson.key(hole_score_ae=hm_ae.score, hole_radius_ae=r, hole_gap_share_ae=gap[in_hole].mean(),
           hole_share_by_band_ae=[float(row[2]) for row in rows[:-1]])

# %% --- 5. judging every decode ---
lesson.step(f"the AE's decodes of the {len(z)} draws, judged: in holes against outside")
p, valid, dist = ae_draws["p"], ae_draws["valid"], ae_draws["distance"]   # (M,) each


def judged(mask):
    """[draws, share valid, median top-class probability, median distance] of the AE draws in ``mask``."""
    if not mask.any():
        return [0, np.nan, np.nan, np.nan]
    return [int(mask.sum()), valid[mask].mean(), np.median(p[mask]), np.median(dist[mask])]


rows = [["in a hole", *judged(in_hole)], ["  in a gap", *judged(in_hole & gap)],
        ["  in a tail", *judged(tail)], ["not in a hole", *judged(~in_hole)]]
for k, name in enumerate(names):
    rows += [[f"{name}, in a hole", *judged((band == k) & in_hole)],
             [f"{name}, not in a hole", *judged((band == k) & ~in_hole)]]
_common.table(["AE decodes", "draws", "valid", "median p", "median distance"], rows,
              ["{}", "{}", "{:.3f}", "{:.3f}", "{:.2f}"])
print(f"    in a hole {100 * valid[in_hole].mean():.0f}% of the decodes are valid, outside "
      f"{100 * valid[~in_hole].mean():.0f}% (real test digits {100 * test_valid:.0f}%); the median distance")
print(f"    is {np.median(dist[in_hole]):.2f} in a hole, {np.median(dist[~in_hole]):.2f} outside "
      f"(real test digits {test_distance:.2f}).")
both = [k for k in range(len(BANDS)) if ((band == k) & in_hole).any() and ((band == k) & ~in_hole).any()]
farther = sum(judged((band == k) & in_hole)[3] > judged((band == k) & ~in_hole)[3] for k in both)
less_valid = sum(judged((band == k) & in_hole)[1] < judged((band == k) & ~in_hole)[1] for k in both)
print(f"    Band by band (the {len(both)} bands with draws in and out of holes): hole decodes are farther in "
      f"{farther}, less often valid in {less_valid},")
if farther == len(both):
    print("    so it is the hole, not only the distance from the mean, that costs the distance.")
g, t = judged(in_hole & gap), judged(tail)
print(f"    Gaps: {100 * g[1]:.0f}% valid, distance {g[3]:.2f}; tails: {100 * t[1]:.0f}% valid, distance "
      f"{t[3]:.2f}.", end="")
if t[3] > g[3] and t[1] > g[1]:
    print("  Tails decode to exaggerated strokes,\n    far from every real digit, that the classifier can "
          "still be sure of; gaps to blends of the\n    neighbouring digits, which it doubts more often.")
else:
    print()
print(f"    {100 * valid[in_hole].mean():.0f}% of the hole decodes pass the classifier: 'points in holes do not "
      "decode to valid data'")
print("    holds here as a rate (less often valid, farther from every real digit), not for every point.")
lesson.key(valid_in_holes_ae=valid[in_hole].mean(), valid_outside_holes_ae=valid[~in_hole].mean(),
           nn_distance_in_holes_ae=np.median(dist[in_hole]), nn_distance_outside_holes_ae=np.median(dist[~in_hole]),
           valid_in_gaps_ae=judged(in_hole & gap)[1], valid_in_tails_ae=judged(tail)[1],
           nn_distance_in_gaps_ae=judged(in_hole & gap)[3], nn_distance_in_tails_ae=judged(tail)[3])

# the two judges over the whole plane
ext = map_extent(hm_ae)
_, _, centres = holes.cell_centres(ext, BINS)                               # (BINS^2, 2)
grid = ae.decode(centres)                                                   # (BINS^2, D)
grid_p = classifier.top_probability(judge, grid).reshape(BINS, BINS)
grid_d = classifier.nearest_image_distance(grid, x).reshape(BINS, BINS)
fig, axes = plt.subplots(1, 2, figsize=(13.0, 5.6))
for ax, values, label, cmap, vmax in (
        (axes[0], grid_p, "classifier's top-class probability of f(z)", "viridis", 1.0),
        (axes[1], grid_d, "pixel distance from f(z) to the nearest training image", "magma_r",
         3 * test_distance)):                      # 3 times a real test digit's: beyond it, one colour
    im = ax.imshow(values, origin="lower", extent=ext, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
    ax.contour(hm_ae.z1, hm_ae.z2, hm_ae.hole.astype(float), levels=[0.5], colors="red", linewidths=1.0)
    sigma_rings(ax, hm_ae, "w")
    ax.set(xlim=ext[:2], ylim=ext[2:], xlabel="z1", ylabel="z2", aspect="equal")
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, extend="neither" if vmax == 1.0 else "max")
    cb.set_label(label, fontsize=8)
    if vmax == 1.0:                                # the validity threshold on the probability's scale
        cb.ax.axhline(VALID, color="k", lw=1.5)
        cb.set_ticks([0, 0.2, 0.4, 0.6, VALID])
        cb.set_ticklabels(["0", "0.2", "0.4", "0.6", f"{VALID}: valid"])
axes[0].set_title("how sure the classifier is of each decode\nred line: edge of the holes;  white: "
                  "fitted Gaussian 1, 2, 3σ", fontsize=9)
axes[1].set_title("how far each decode is from every training digit\nred line: edge of the holes;  white: "
                  "fitted Gaussian 1, 2, 3σ", fontsize=9)
fig.suptitle("the AE's decoder f(z) over its latent plane, judged twice")
fig.subplots_adjust(left=0.05, right=0.95, wspace=0.35)
lesson.save(fig, "judged_plane.png")
print("    judged_plane.png: the classifier doubts only on thin lines where two digits' regions meet;")
print("    the distance grows towards the tails.")

# the two judges by band, in holes against outside
fig, axes = plt.subplots(1, 2, figsize=(11.6, 4.6))
pos = np.arange(len(BANDS))
for ax, column, label, reference in ((axes[0], 1, "share of decodes judged valid", test_valid),
                                     (axes[1], 3, "median pixel distance to the nearest training image",
                                      test_distance)):
    for offset, where, colour, text in ((-0.2, in_hole, "tab:red", "in a hole"),
                                        (0.2, ~in_hole, "tab:blue", "not in a hole")):
        stats = [judged((band == k) & where) for k in range(len(BANDS))]
        bars = ax.bar(pos + offset, np.nan_to_num([s[column] for s in stats]), 0.38, color=colour, label=text)
        for bar, s in zip(bars, stats):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"n={s[0]}", ha="center",
                    va="bottom", fontsize=7)
    ax.axhline(reference, color="0.3", ls="--", lw=1, label=f"real test digits: {reference:.2f}")
    ax.set_xticks(pos)
    ax.set_xticklabels(names)
    ax.set(xlabel="band of the Gaussian fitted to the codes (Mahalanobis radius)", ylabel=label)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
axes[0].set_ylim(0, 1.18)
axes[0].set_title(f"valid: the classifier's top-class probability >= {VALID}", fontsize=9)
axes[1].set_title("distance: Euclidean, 64 pixels in [0, 1]", fontsize=9)
fig.suptitle(f"the AE's decodes of {len(z)} draws from the fitted Gaussian, by sigma band")
fig.tight_layout()
lesson.save(fig, "quality_by_band.png")

# %% --- 6. sampling: AE against VAE ---
lesson.step("sampling: the AE's draws against the VAE's, judged the same way, in 2 and 8 dimensions")
vae_draws = judge_draws(vae, judge, x, DRAWS, lesson.seed)
print(f"    hole score: AE {hm_ae.score:.3f}  VAE {hm_vae.score:.3f}   (about 0.01 when the codes fill the prior)")
ae8 = Autoencoder(ds.D, HIDDEN, 8, likelihood="gaussian", rng=np.random.default_rng(lesson.seed))
fit(ae8, x, EPOCHS_8, batch_size=BATCH, lr=LR, seed=lesson.seed)
vae8 = VAE(ds.D, HIDDEN, 8, rng=np.random.default_rng(lesson.seed))
fit(vae8, x, EPOCHS_8, batch_size=BATCH, lr=LR, seed=lesson.seed)
sampled = {("AE", 2): ae_draws, ("VAE", 2): vae_draws,
           ("AE", 8): judge_draws(ae8, judge, x, DRAWS, lesson.seed),
           ("VAE", 8): judge_draws(vae8, judge, x, DRAWS, lesson.seed)}
rows = [[f"{kind}, Z = {Zs}", "fitted Gaussian" if kind == "AE" else "N(0, I)", d["result"].score,
         d["valid"].mean(), np.median(d["distance"])] for (kind, Zs), d in sampled.items()]
_common.table(["model", "draws from", "in a hole", "valid", "median distance"], rows,
              ["{}", "{}", "{:.3f}", "{:.3f}", "{:.2f}"])
ae2, vae2, ae8d, vae8d = (sampled[k] for k in (("AE", 2), ("VAE", 2), ("AE", 8), ("VAE", 8)))
print(f"    Z = 2: the AE's draws land in a hole {ae2['result'].score / vae2['result'].score:.0f} times as often "
      f"as the VAE's; {100 * ae2['valid'].mean():.0f}% of them are valid,")
print(f"    against the VAE's {100 * vae2['valid'].mean():.0f}%.  Only {100 * ae2['result'].score:.0f}% of the "
      "AE's draws land in a hole, and the VAE's decodes outside")
print(f"    its holes are valid {100 * vae2['valid'][~vae2['result'].in_hole].mean():.0f}% of the time, the AE's "
      f"{100 * valid[~in_hole].mean():.0f}%.  In two dimensions the Gaussian fitted to")
diff = ae2["valid"].mean() - vae2["valid"].mean()
# "about as often": within 5 points, the largest difference either way over the tuning seeds 10-19
verdict = "about as often as" if abs(diff) <= 0.05 else "more often than" if diff < 0 else "less often than"
print(f"    the codes covers them well: sampling the AE fails {verdict} sampling the VAE.")
print(f"    Z = 8: {100 * ae8d['result'].score:.0f}% of the AE's draws land in a hole (VAE "
      f"{100 * vae8d['result'].score:.0f}%): its codes fill little of the 8-D")
print(f"    Gaussian's volume.  Its samples are {100 * ae8d['valid'].mean():.0f}% valid against the VAE's "
      f"{100 * vae8d['valid'].mean():.0f}%, distance {np.median(ae8d['distance']):.2f} against "
      f"{np.median(vae8d['distance']):.2f}.")
lesson.key(hole_score_vae=hm_vae.score, valid_samples_ae=ae2["valid"].mean(), valid_samples_vae=vae2["valid"].mean(),
           nn_distance_samples_ae=np.median(ae2["distance"]), nn_distance_samples_vae=np.median(vae2["distance"]),
           hole_score_ae_z8=ae8d["result"].score, hole_score_vae_z8=vae8d["result"].score,
           valid_samples_ae_z8=ae8d["valid"].mean(), valid_samples_vae_z8=vae8d["valid"].mean(),
           nn_distance_samples_ae_z8=np.median(ae8d["distance"]),
           nn_distance_samples_vae_z8=np.median(vae8d["distance"]))

fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.4))
pos = np.arange(2)
for ax, label, value, reference in (
        (axes[0], "share of samples judged valid", lambda d: d["valid"].mean(), test_valid),
        (axes[1], "median distance to the nearest training image", lambda d: np.median(d["distance"]),
         test_distance)):
    for offset, kind, colour, text in ((-0.2, "AE", "tab:red", "AE, draws from the Gaussian fitted to its codes"),
                                       (0.2, "VAE", "tab:blue", "VAE, draws from N(0, I)")):
        ds_ = [sampled[(kind, Zs)] for Zs in (2, 8)]
        bars = ax.bar(pos + offset, [value(d) for d in ds_], 0.38, color=colour, label=text)
        for bar, d in zip(bars, ds_):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(),
                    f"{value(d):.2f}\n{100 * d['result'].score:.0f}% in holes", ha="center", va="bottom", fontsize=7,
                    bbox=dict(fc="white", ec="none", alpha=0.8, pad=0.5))
    ax.axhline(reference, color="0.3", ls="--", lw=1,
               label=f"real test digits ({test_valid:.2f} valid, distance {test_distance:.2f})")
    ax.set_xticks(pos)
    ax.set_xticklabels(["Z = 2", "Z = 8"])
    ax.set(xlabel="latent dimensions", ylabel=label)
    ax.set_ylim(0, 1.3 * max(reference, *(value(d) for d in sampled.values())))
    ax.grid(axis="y", alpha=0.3)
handles, labels = axes[0].get_legend_handles_labels()
fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3)
axes[0].set_title(f"valid: the classifier's top-class probability >= {VALID}", fontsize=9)
axes[1].set_title("distance: Euclidean, 64 pixels in [0, 1]", fontsize=9)
fig.suptitle(f"{DRAWS} samples of each model, judged (above each bar: its value, and the share of draws "
             "in a hole)", fontsize=10)
fig.tight_layout(rect=(0, 0.08, 1, 1))
lesson.save(fig, "sampling_ae_vs_vae.png")

# a few draws of each kind, each with its two judgements
show = 10
picks = [("AE draws\nin a hole", np.flatnonzero(in_hole)[:show], ae2),
         ("AE draws\nnot in a hole", np.flatnonzero(~in_hole)[:show], ae2),
         ("VAE draws", np.arange(show), vae2)]
fig, axes = plt.subplots(len(picks), show, figsize=(0.95 * show + 1.6, 1.4 * len(picks) + 0.9))
for row, (name, idx, d) in enumerate(picks):
    for col in range(show):
        ax = axes[row, col]
        ax.set_xticks([])
        ax.set_yticks([])
        if col >= len(idx):
            ax.axis("off")
            continue
        k = idx[col]
        bad = d["p"][k] < VALID
        ax.imshow(1 - d["decoded"][k].reshape(ds.image_shape), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"p {d['p'][k]:.2f}\nd {d['distance'][k]:.2f}", fontsize=7)
        for spine in ax.spines.values():
            spine.set_color("tab:red" if bad else "0.6")
            spine.set_linewidth(2.0 if bad else 0.8)
    axes[row, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
fig.suptitle("decoded draws of the 2-D models (the first of each kind);  p: the classifier's top-class "
             f"probability,\nd: pixel distance to the nearest training image;  red frame: p < {VALID} (not valid)",
             fontsize=9)
fig.tight_layout()
lesson.save(fig, "samples_judged.png")

# %% --- 7. explore it yourself ---
lesson.step("explore the two latent planes in your browser")
for model, name in ((ae, "explorer_ae.html"), (vae, "explorer_vae.html")):
    path = explore.write_explorer(model, ds, os.path.join(lesson.out, name), seed=lesson.seed)
    print(f"    wrote {path}")
print("    open them in a browser (double-click; they work offline) and move the pointer from the")
print("    coloured codes into the red cells, where the decoder was never trained. Compare how much")
print("    of each model's prior rings is red: that share is what the hole score measures.")

# %% --- 8. the lecture's claims, measured ---
lesson.step("the lecture's claims, and what this run measured")
claims = [
    ("not regularized", f"the AE's codes sit where reconstruction put them (std {codes[:, 0].std():.2f}, "
                        f"{codes[:, 1].std():.2f}); the VAE's KL pulls its own towards N(0, I) (step 3)"),
    ("disconnected regions", f"{100 * cross['different']:.0f}% of paths between two digits' codes cross a hole, "
                             f"{100 * cross['same']:.0f}% within one digit; the land within r of a code is one "
                             f"piece holding {100 * piece:.0f}% of them (step 3)"),
    ("holes between samples", f"{100 * hm_ae.score:.1f}% of the fitted Gaussian's draws are in holes, "
                              f"{100 * gap[in_hole].mean():.0f}% of those in gaps, the rest in tails (step 4)"),
    ("holes decode badly", f"valid {100 * valid[in_hole].mean():.0f}% in holes against "
                           f"{100 * valid[~in_hole].mean():.0f}% outside; distance {np.median(dist[in_hole]):.2f} "
                           f"against {np.median(dist[~in_hole]):.2f} (step 5)"),
    ("sampling fails", f"valid samples, Z = 2: AE {100 * ae2['valid'].mean():.0f}%, VAE "
                       f"{100 * vae2['valid'].mean():.0f}%; Z = 8: AE {100 * ae8d['valid'].mean():.0f}%, VAE "
                       f"{100 * vae8d['valid'].mean():.0f}%; distance Z = 8: AE {np.median(ae8d['distance']):.2f}, "
                       f"VAE {np.median(vae8d['distance']):.2f} (step 6)"),
]
for claim, measured in claims:
    lines = _common.wrap(measured, 72)
    print(f"    {claim:>22}: {lines[0]}")
    for line in lines[1:]:
        print(f"    {'':>22}  {line}")

lesson.done()
