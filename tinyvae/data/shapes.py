"""Shapes: a dSprites-style data set of 16x16 grey images, drawn by code.

Each image shows one white shape on a black background. Five factors of variation
generate it, and every image carries their indices, so disentanglement metrics
(``tinyvae.studies.disentanglement``) can ask which latent follows which factor:

=========  ====  ===========================================================
factor     size  values (in pixels of the 32x32 canvas the shapes are drawn on)
=========  ====  ===========================================================
shape         3  square, ellipse, heart
scale         4  radius of the shape's enclosing circle: 4 to 6.5 px in equal steps
rotation      8  r/8 of the shape's symmetry period (see below)
x            12  centre column 7.75, 9.25, ..., 24.25 px (steps of 1.5 px)
y             6  centre row 12.25, 13.75, ..., 19.75 px (the same steps, half the range);
                 y grows downwards like image rows
=========  ====  ===========================================================

The full factorial grid has 3 * 4 * 8 * 12 * 6 = 6,912 images. :func:`load` uses all
of them and splits them 90/10 into train and test by a seeded permutation.

**The equal-range variant** (``--data shapes-equal``, ``equal_range=True`` below): y takes
x's 12 positions on x's range, as in dSprites, so the grid has 3 * 4 * 8 * 12 * 12 = 13,824
images. It is the harder case (see the next paragraph), kept as a data set of its own so
that a result on ``shapes`` can always be set beside the dSprites-like one.

**Why y has half x's range.** With the same range and steps, x and y would be
interchangeable: turning the (x, y) plane changes neither what a model must reconstruct
nor, for equal posterior widths, the KL, so nothing would make a beta-VAE's two position
latents line up with x and y rather than with any two diagonals. They often did not:
benchmarks/README.md has the measurements (with 12 y positions, the capacity objective
separated x from y in some seeds only; with 6, in every seed tried).

**Rotation and symmetry.** A square looks the same after a quarter turn and an ellipse
after a half turn. dSprites spins every shape through 0..2*pi and accepts that many of
its square and ellipse images repeat. Here rotation index ``r`` turns a shape by
``r / 8`` of *its own* symmetry period instead: steps of 90/8 degrees for the square,
180/8 for the ellipse and 360/8 for the heart. So every factor combination gives a
different image (the tests check this), at the price that one rotation index means a
different angle for each shape.

**How an image is drawn** (vectorised, about 0.1 s for the whole grid):

1. Each shape is an inside-test on the plane, scaled so that every rotation of it fits
   in the unit disc. A centred patch is drawn by evaluating the test on a 4x4 grid of
   sub-pixel points per pixel, and a pixel is on when at least half its points are.
2. The centres sit at 1.5-pixel steps, so a centre's fractional part (its phase) takes
   only two values. One patch is drawn per (shape, scale, rotation, x phase, y phase):
   3 * 4 * 8 * 2 * 2 = 384 patches in all.
3. Each shape is its patch copied into a padded canvas at the centre's whole-pixel
   offset (one fancy-indexed assignment for a whole batch), then cropped to 32x32:
   :func:`draw` returns these binary canvases. Moving a shape two x steps moves its
   canvas by exactly 3 pixels.
4. The image is the canvas averaged over 2x2 blocks (:func:`generate`): 16x16 pixels,
   each the fraction of its four canvas pixels that are on (0, 1/4, 1/2, 3/4 or 1). A
   Bernoulli decoder reads these as probabilities of white.

**Why 16x16.** A quarter of the pixels makes every step of an MLP about four times
cheaper, and it changes what a given beta means. The loss weighs beta nats of KL against
a reconstruction term *summed over pixels*, so the same beta weighs the KL more heavily
against a 256-pixel image than against a 1024-pixel one. Higgins et al. (2017) compare
betas normalised by the input size for this reason, beta_norm = beta Z / D: beta = 4 on
16x16 images is beta_norm = 4 * 10 / 256, the beta_norm of beta = 16 on 32x32 images.
benchmarks/README.md records what the change from 32x32 did to the MIG of beta = 4.

The largest shape at the outermost centre still leaves the outer row and column of the
canvas empty, so no shape is ever clipped.

``python tools/shapes_examples.py`` times the generation and saves an example sheet.
"""
import functools

import numpy as np

from .dataset import Dataset

# --- the factors -------------------------------------------------------------------
CANVAS = 32                                     # shapes are drawn on CANVAS x CANVAS pixels
POOL = 2                                        # then averaged over POOL x POOL blocks
SIZE = CANVAS // POOL                           # images are SIZE x SIZE pixels (16 x 16)
SHAPE_NAMES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
SCALES = np.linspace(4.0, 6.5, 4)               # radius of the enclosing circle, px
N_ROTATIONS = 8
SYMMETRY = (4, 2, 1)                            # square, ellipse, heart: n-fold symmetry
N_X, N_Y = 12, 6                                # y takes half as many positions as x
POSITION_STEP = 1.5                             # pixels between neighbouring centres
POSITIONS_X = CANVAS / 2 + (np.arange(N_X) - (N_X - 1) / 2) * POSITION_STEP
POSITIONS_Y = CANVAS / 2 + (np.arange(N_Y) - (N_Y - 1) / 2) * POSITION_STEP
FACTOR_SIZES = (len(SHAPE_NAMES), len(SCALES), N_ROTATIONS, N_X, N_Y)
#: the equal-range variant (dSprites' layout): y on x's positions
FACTOR_SIZES_EQUAL = (len(SHAPE_NAMES), len(SCALES), N_ROTATIONS, N_X, N_X)

# --- the renderer's settings ---------------------------------------------------------
SUPERSAMPLE = 4                   # sub-pixel points per pixel along each axis
HALF = 8                          # a patch spans HALF pixels either side of the centre
PATCH = 2 * HALF                  # patch side, pixels
CHUNK = 4096                      # images pasted per batch (bounds the canvas memory)

# A centre at column c is drawn as a patch placed at floor(c) plus the phase c - floor(c).
_WHOLE_X = np.floor(POSITIONS_X).astype(np.int64)                    # (12,)
_WHOLE_Y = np.floor(POSITIONS_Y).astype(np.int64)                    # (6,)
PHASES, _PHASE_OF = np.unique(np.concatenate([POSITIONS_X - _WHOLE_X, POSITIONS_Y - _WHOLE_Y]),
                              return_inverse=True)                   # (2,), (18,)
_PHASE_OF_X, _PHASE_OF_Y = _PHASE_OF[:N_X], _PHASE_OF[N_X:]
#: where a y index puts the centre's whole pixel and phase: {equal_range: (whole, phase index)}
_Y_LAYOUT = {False: (_WHOLE_Y, _PHASE_OF_Y), True: (_WHOLE_X, _PHASE_OF_X)}


def factor_sizes(equal_range=False):
    """The number of values of (shape, scale, rotation, x, y): y has 6 or, equal_range, 12."""
    return FACTOR_SIZES_EQUAL if equal_range else FACTOR_SIZES

# Nothing may touch the outer pixels: the centre +- the largest radius stays within
# [1, CANVAS - 1], and the patch reaches one pixel past the largest radius.
for _positions in (POSITIONS_X, POSITIONS_Y):
    assert _positions.min() - SCALES.max() >= 1 and _positions.max() + SCALES.max() <= CANVAS - 1
assert HALF >= SCALES.max() + 1


# --- 1. the shapes as inside-tests ---------------------------------------------------
def _inside(shape, u, v):
    """Whether points ``(u, v)`` lie inside an unrotated shape that fits the unit disc.

    ``u`` points right and ``v`` points up; both are arrays of the same shape.
    """
    if shape == 0:  # square with its corners on the unit circle
        return np.maximum(np.abs(u), np.abs(v)) <= 1 / np.sqrt(2)
    if shape == 1:  # ellipse with semi-axes 1 (along u) and 0.6 (along v)
        return u ** 2 + (v / 0.6) ** 2 <= 1
    # heart: (a^2 + b^2 - 1)^3 - a^2 b^3 <= 0. Its smallest enclosing circle has centre
    # (0, 0.25) and radius 1.25 (found numerically), so map the unit disc onto it.
    a = 1.25 * u
    b = 1.25 * v + 0.25
    return (a ** 2 + b ** 2 - 1) ** 3 - a ** 2 * b ** 3 <= 0


def _patch(shape, scale, rotation, phase_x, phase_y):
    """Draw one centred shape into a (PATCH, PATCH) boolean patch.

    Patch pixel ``(i, j)`` lands on image pixel ``(floor(cy) - HALF + i, floor(cx) -
    HALF + j)`` for a centre ``(cx, cy)`` whose fractional parts are the phases.
    """
    # Sub-pixel points relative to the centre, in pixels: (PATCH * SUPERSAMPLE,)
    t = (np.arange(PATCH * SUPERSAMPLE) + 0.5) / SUPERSAMPLE - HALF
    dx = t - phase_x                                   # right
    dy = t - phase_y                                   # down
    # Unit-disc coordinates, v pointing up: (P*S, P*S) each
    u = dx[None, :] / SCALES[scale]
    v = -dy[:, None] / SCALES[scale]
    # Rotating the shape by theta (counter-clockwise) = testing the points rotated by -theta.
    theta = 2 * np.pi * rotation / (N_ROTATIONS * SYMMETRY[shape])
    c, s = np.cos(theta), np.sin(theta)
    inside = _inside(shape, c * u + s * v, -s * u + c * v)        # (P*S, P*S)
    # Coverage of each pixel = mean over its S x S points; on when at least half.
    coverage = inside.reshape(PATCH, SUPERSAMPLE, PATCH, SUPERSAMPLE).mean(axis=(1, 3))
    return coverage >= 0.5                                        # (P, P)


@functools.lru_cache(maxsize=1)
def _all_patches():
    """Every patch the grid needs: (3, 4, 8, n_phases, n_phases, PATCH, PATCH) bool."""
    n = len(PHASES)
    patches = np.zeros(FACTOR_SIZES[:3] + (n, n, PATCH, PATCH), dtype=bool)
    for index in np.ndindex(*patches.shape[:5]):
        shape, scale, rotation, px, py = index
        patches[index] = _patch(shape, scale, rotation, PHASES[px], PHASES[py])
    patches.setflags(write=False)
    return patches


# --- 2. drawing images for any factor indices ----------------------------------------
def _check_factors(factors, equal_range=False):
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(FACTOR_SIZES):
        raise ValueError(f"factors must have shape (N, {len(FACTOR_SIZES)}) in the order "
                         f"{FACTOR_NAMES}; got shape {factors.shape}")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"factors must be integer indices; got dtype {factors.dtype}")
    sizes = np.array(factor_sizes(equal_range))
    bad = (factors < 0) | (factors >= sizes)
    if bad.any():
        n, k = np.argwhere(bad)[0]                                # the first bad entry
        raise ValueError(f"factor '{FACTOR_NAMES[k]}' must be an index in "
                         f"0..{sizes[k] - 1}; got {int(factors[n, k])} in row {n}")
    return factors.astype(np.int64)


def draw(factors, equal_range=False):
    """Draw the binary canvases for an array of factor indices.

    Parameters
    ----------
    factors : (N, 5) integer array
        Indices of (shape, scale, rotation, x, y); see :func:`factor_sizes` for their ranges.
    equal_range : bool
        y on x's 12 positions (``shapes-equal``) instead of its own 6.

    Returns
    -------
    canvases : (N, 32, 32) bool array
    """
    f = _check_factors(factors, equal_range)                      # (N, 5)
    whole_y, phase_of_y = _Y_LAYOUT[bool(equal_range)]
    patches = _all_patches()
    N = len(f)
    canvases = np.empty((N, CANVAS, CANVAS), dtype=bool)
    ar = np.arange(PATCH)
    for start in range(0, N, CHUNK):
        g = f[start:start + CHUNK]                                # (B, 5)
        B = len(g)
        shape, scale, rotation, x, y = g.T                        # (B,) each
        # Which patch each image uses, and where its top-left corner goes in a canvas
        # padded by HALF on every side (so canvas pixel p is padded pixel p + HALF).
        chosen = patches[shape, scale, rotation, _PHASE_OF_X[x], phase_of_y[y]]   # (B, P, P)
        rows = whole_y[y][:, None, None] + ar[None, :, None]     # (B, P, 1)
        cols = _WHOLE_X[x][:, None, None] + ar[None, None, :]    # (B, 1, P)
        padded = np.zeros((B, CANVAS + 2 * HALF, CANVAS + 2 * HALF), dtype=bool)
        padded[np.arange(B)[:, None, None], rows, cols] = chosen
        canvases[start:start + B] = padded[:, HALF:HALF + CANVAS, HALF:HALF + CANVAS]
    return canvases


def generate(factors, equal_range=False):
    """The (N, 16, 16) float32 images for (N, 5) factor indices, as :func:`draw` takes them:
    each 32x32 canvas averaged over 2x2 blocks, so pixels take values in {0, 1/4, 1/2, 3/4, 1}.
    """
    canvases = draw(factors, equal_range)                                    # (N, 32, 32)
    blocks = canvases.reshape(len(canvases), SIZE, POOL, SIZE, POOL)
    return blocks.mean(axis=(2, 4), dtype=np.float32)            # (N, 16, 16)


def render(shape, scale, rotation, x, y):
    """Draw the image for one set of factor indices (or broadcastable arrays of them).

    Parameters
    ----------
    shape, scale, rotation, x, y : int or integer arrays that broadcast together
        Factor indices; ``shape`` indexes ``SHAPE_NAMES``.

    Returns
    -------
    image : (16, 16) float32 array for scalar indices, else ``broadcast_shape + (16, 16)``
    """
    parts = np.broadcast_arrays(*(np.asarray(a) for a in (shape, scale, rotation, x, y)))
    factors = np.stack([p.reshape(-1) for p in parts], axis=1)   # (N, 5)
    return generate(factors).reshape(parts[0].shape + (SIZE, SIZE))


def factor_grid(equal_range=False):
    """Every factor combination once, in row-major order: (6912, 5) int64 (13,824 equal_range)."""
    grids = np.meshgrid(*(np.arange(n) for n in factor_sizes(equal_range)), indexing="ij")
    return np.stack([g.reshape(-1) for g in grids], axis=1).astype(np.int64)


# --- 3. the data set -----------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _full_grid(equal_range=False):
    """The whole grid, drawn once per process: images (N, 256) and factors (N, 5)."""
    factors = factor_grid(equal_range)                            # (N, 5)
    x = generate(factors, equal_range).reshape(len(factors), SIZE * SIZE)      # (N, 256)
    x.setflags(write=False)
    factors.setflags(write=False)
    return x, factors


def load(seed=0, test_fraction=0.1, equal_range=False):
    """The shapes data set: the full factor grid, split into train and test by ``seed``.

    The images are drawn once per process and cached; each call returns fresh copies,
    so a caller may change its arrays freely.

    Parameters
    ----------
    seed : int
        Seeds the permutation that decides the split (and the order within each part).
    test_fraction : float
        Share of the 6,912 images held out for testing.
    equal_range : bool
        The dSprites-like variant ``shapes-equal``: y on x's range (13,824 images).

    Returns
    -------
    Dataset
        ``x`` is (N, 256) float32 in [0, 1]; ``y`` is the shape index; ``factors`` are
        (N, 5) int64 indices of ``("shape", "scale", "rotation", "x", "y")``.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1; got {test_fraction}")
    x, factors = _full_grid(bool(equal_range))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))                               # (N,)
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return Dataset(
        name="shapes-equal" if equal_range else "shapes",
        x_train=x[train], y_train=factors[train, 0],
        x_test=x[test], y_test=factors[test, 0],
        image_shape=(SIZE, SIZE),
        factors_train=factors[train], factors_test=factors[test],
        factor_names=FACTOR_NAMES,
        factor_sizes=factor_sizes(equal_range),
        render=functools.partial(generate, equal_range=True) if equal_range else generate,
    )

