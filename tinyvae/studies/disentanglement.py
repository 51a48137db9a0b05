"""Disentanglement metrics: the mutual information gap (MIG) and the FactorVAE score.

The lecture calls a representation disentangled when each latent variable is sensitive
to one generative factor and relatively invariant to the others. Both metrics here put
a number on that, given data whose true factors are known (``tinyvae.data.shapes``):

* :func:`mig` (Chen et al., 2018, "Isolating Sources of Disentanglement in VAEs") asks,
  for each factor, how much more one latent knows about it than any other latent does.
* :func:`factorvae_score` (Kim & Mnih, 2018, "Disentangling by Factorising") fixes one
  factor, lets the rest vary, and asks whether a single latent, always the same one
  for that factor, stops moving.

Both follow the choices of ``disentanglement_lib`` (Locatello et al., 2019), scaled down
so that they run in seconds with NumPy. Mutual information and entropy are in nats.

Shapes: ``N`` examples, ``Z`` latent dimensions, ``K`` factors.

Use with a trained model, where ``encode`` maps images ``(B, D)`` to latent means::

    from tinyvae.data import shapes
    represent = representation(encode, shapes.generate)
    score, details = factorvae_score(represent, shapes.FACTOR_SIZES, rng)
    score, details = mig(encode(data.x_test), data.factors_test)
"""
import numpy as np

from ..kl_decomposition import kl_decomposition
from ..losses import kl_per_dimension


# --- 1. mutual information from histograms ------------------------------------------
def discretize(codes, n_bins=20):
    """Put each latent dimension into ``n_bins`` equal-width bins between its min and max.

    Parameters
    ----------
    codes : (N, Z) array

    Returns
    -------
    bins : (N, Z) int64 array with values in ``0 .. n_bins - 1``; a constant dimension
        falls entirely into bin 0.
    """
    codes = np.asarray(codes, dtype=np.float64)
    lo = codes.min(axis=0)                                        # (Z,)
    width = (codes.max(axis=0) - lo) / n_bins                     # (Z,)
    width = np.where(width > 0, width, 1.0)                       # constant dims: bin 0
    bins = np.floor((codes - lo) / width).astype(np.int64)        # (N, Z)
    return np.minimum(bins, n_bins - 1)                           # the max joins the last bin


def entropy(labels):
    """Entropy of a discrete variable from its samples, in nats.

    .. math:: H(v) = -\\sum_b p(b) \\log p(b)

    Parameters
    ----------
    labels : (N,) integer array
    """
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log(p)))


def mutual_information(a, b):
    """Mutual information of two discrete variables from paired samples, in nats.

    .. math:: I(a; b) = \\sum_{i,j} p(i, j) \\log \\frac{p(i, j)}{p(i)\\, p(j)}

    with the probabilities estimated by counting (the plug-in estimate, as
    ``sklearn.metrics.mutual_info_score`` computes it).

    Parameters
    ----------
    a, b : (N,) integer arrays
    """
    _, a = np.unique(a, return_inverse=True)                      # values -> 0..m_a-1
    _, b = np.unique(b, return_inverse=True)
    m_a, m_b = a.max() + 1, b.max() + 1
    joint = np.bincount(a * m_b + b, minlength=m_a * m_b).reshape(m_a, m_b)
    p_ab = joint / len(a)                                         # (m_a, m_b)
    p_a = p_ab.sum(axis=1, keepdims=True)                         # (m_a, 1)
    p_b = p_ab.sum(axis=0, keepdims=True)                         # (1, m_b)
    seen = p_ab > 0                                               # 0 log 0 = 0
    ratio = p_ab[seen] / (p_a * p_b)[seen]
    return float(max(np.sum(p_ab[seen] * np.log(ratio)), 0.0))   # clip rounding below 0


# --- 2. MIG --------------------------------------------------------------------------
def mig(codes, factors, n_bins=20):
    """Mutual information gap of a representation.

    For each factor ``v_k``, sort the latents by their mutual information with it; the
    gap between the best and the second best, divided by the factor's entropy, is 1
    when one latent alone captures the factor and 0 when two capture it equally:

    .. math:: \\mathrm{MIG} = \\frac{1}{K} \\sum_k \\frac{I(z_{j^{(1)}_k}; v_k) -
              I(z_{j^{(2)}_k}; v_k)}{H(v_k)}

    Each latent is first discretised into ``n_bins`` equal-width bins. The estimate is
    biased upwards by about ``(n_bins - 1)(m_k - 1) / (2N)`` nats for a factor with
    ``m_k`` values, so use a few thousand examples.

    Parameters
    ----------
    codes : (N, Z) array
        Latent means, one row per example; ``Z >= 2``.
    factors : (N, K) integer array
        The true factor indices of the same examples.
    n_bins : int
        Bins per latent dimension (``disentanglement_lib`` uses 20).

    Returns
    -------
    score : float
        Mean normalised gap over the factors that take more than one value.
    details : dict
        ``"mi"`` (Z, K) mutual information matrix in nats; ``"entropy"`` (K,) factor
        entropies; ``"gap"`` (K,) normalised gaps, NaN for skipped factors;
        ``"best_latent"`` (K,) the latent with most information about each factor.
    """
    codes = np.asarray(codes)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(f"mig needs codes (N, Z) and factors (N, K) with the same N; "
                         f"got {codes.shape} and {factors.shape}")
    if codes.shape[1] < 2:
        raise ValueError(f"mig needs at least 2 latent dimensions to take a gap; got {codes.shape[1]}")
    Z, K = codes.shape[1], factors.shape[1]
    bins = discretize(codes, n_bins)                              # (N, Z)
    mi = np.array([[mutual_information(bins[:, j], factors[:, k]) for k in range(K)]
                   for j in range(Z)])                            # (Z, K)
    H = np.array([entropy(factors[:, k]) for k in range(K)])      # (K,)
    top = -np.sort(-mi, axis=0)                                   # (Z, K), best first
    varies = H > 0                                                # a constant factor has H = 0
    if not varies.any():
        raise ValueError("mig needs at least one factor that takes more than one value")
    gap = np.full(K, np.nan)
    gap[varies] = (top[0, varies] - top[1, varies]) / H[varies]   # (K,)
    details = {"mi": mi, "entropy": H, "gap": gap, "best_latent": np.argmax(mi, axis=0)}
    return float(np.mean(gap[varies])), details


def latent_factor_labels(details, factor_names):
    """Name, for each latent, the factors it is MIG's best latent for, with their gaps.

    Parameters
    ----------
    details : dict
        The details :func:`mig` returns.
    factor_names : sequence of K str

    Returns
    -------
    labels : list of Z str, e.g. ``"x 0.83"`` or ``"shape 0.11, scale 0.41"``; ``""`` for a
        latent that is the best latent of no factor.
    """
    labels = [[] for _ in range(details["mi"].shape[0])]
    for name, j, gap in zip(factor_names, details["best_latent"], details["gap"]):
        if np.isfinite(gap):                                      # skipped factors name nothing
            labels[j].append(f"{name} {gap:.2f}")
    return [", ".join(parts) for parts in labels]


# --- 3. the FactorVAE score ----------------------------------------------------------
def representation(encode, render):
    """Join a renderer and an encoder into ``represent(factors) -> codes``.

    Parameters
    ----------
    encode : callable, images (B, D) -> latent means (B, Z)
    render : callable, factors (B, K) -> images (B, ...), e.g. ``shapes.generate``
    """
    def represent(factors):
        images = render(factors)
        return encode(images.reshape(len(images), -1))            # (B, D) -> (B, Z)
    return represent


def grid_representation(codes, factors, factor_sizes):
    """``represent(factors) -> codes`` by lookup, for a data set that holds every factor
    combination once (the shapes): the renderer is deterministic, so the code of any factor
    vector is the code of its image, encoded once.  Millions of votes then cost a gather.

    codes : (N, Z) the codes of the images whose factors are ``factors`` (N, K), N the
    product of ``factor_sizes``.
    """
    sizes = tuple(int(s) for s in factor_sizes)
    table = np.full((int(np.prod(sizes)), np.shape(codes)[1]), np.nan)     # (N, Z)
    table[np.ravel_multi_index(np.asarray(factors).T, sizes)] = codes
    if np.isnan(table).any():
        raise ValueError("grid_representation needs the code of every factor combination")

    def represent(f):
        return table[np.ravel_multi_index(np.asarray(f).T, sizes)]          # (B, Z)
    return represent


def _sample_factors(factor_sizes, n, rng):
    """Draw ``n`` factor vectors, each factor uniform over its values: (n, K) int64."""
    return np.stack([rng.integers(0, size, n) for size in factor_sizes], axis=1)


def _votes(represent, factor_sizes, scale, active, n_votes, batch_size, rng, chunk):
    """Cast ``n_votes`` votes into a (Z, K) table of counts.

    One vote: pick a factor k, draw ``batch_size`` factor vectors that share one value
    of k, represent them, divide each latent's variance over the batch by its variance
    over the data, and vote (argmin over active latents, k).
    """
    K = len(factor_sizes)
    votes = np.zeros((len(scale), K), dtype=np.int64)             # (Z, K)
    active_index = np.flatnonzero(active)
    for start in range(0, n_votes, chunk):
        V = min(chunk, n_votes - start)                           # votes in this chunk
        k = rng.integers(0, K, V)                                 # (V,) the fixed factor
        f = _sample_factors(factor_sizes, V * batch_size, rng).reshape(V, batch_size, K)
        f[np.arange(V), :, k] = f[np.arange(V), :1, k]            # fix factor k per vote
        codes = np.asarray(represent(f.reshape(V * batch_size, K)), dtype=np.float64)
        codes = codes.reshape(V, batch_size, -1) / scale          # (V, B, Z) normalised
        local = codes[:, :, active].var(axis=1, ddof=1)           # (V, Z_active)
        # argmin over the active latents, mapped back to an index among all Z latents
        dim = active_index[np.argmin(local, axis=1)]              # (V,) quietest latent
        np.add.at(votes, (dim, k), 1)
    return votes


def factorvae_score(represent, factor_sizes, rng, n_train=800, n_eval=400,
                    batch_size=64, n_variance=5000, prune_below=0.05, chunk=64, active=None):
    """The FactorVAE disentanglement score: accuracy of a majority-vote classifier.

    1. Draw ``n_variance`` random factor vectors and take each latent's standard
       deviation ``s_j`` over their codes. Latents with ``s_j < prune_below`` have
       collapsed (a VAE switches them off) and take no part.
    2. A vote fixes one factor ``k`` at a random value, draws ``batch_size`` factor
       vectors with that value, and finds the latent that varies least, relative to
       its spread over the data:

       .. math:: j^* = \\arg\\min_j \\mathrm{Var}_{\\text{batch}}(z_j / s_j)

    3. The classifier maps each latent ``j`` to the factor it was most often the
       answer for; the score is its accuracy on ``n_eval`` fresh votes. A perfectly
       disentangled code scores 1; a code blind to the factors scores about ``1 / K``
       (its training accuracy is a little higher: the classifier fits the noise).

    ``disentanglement_lib`` uses 10,000 training and 5,000 evaluation votes; the
    defaults here are smaller so the score runs in seconds, which costs a few points
    of precision (the standard error of an accuracy ``a`` is ``sqrt(a(1-a)/n_eval)``).

    Parameters
    ----------
    represent : callable, factors (B, K) int64 -> codes (B, Z)
        The representation as a function of the factors. For a model, render the
        factors and encode the images: ``representation(encode, shapes.generate)``.
        For a synthetic test, compute the codes from the factors directly.
    factor_sizes : sequence of K ints
        How many values each factor takes.
    rng : numpy.random.Generator
        The source of every random draw.
    n_train, n_eval : int
        Votes used to fit and to score the classifier.
    batch_size : int
        Examples per vote.
    n_variance : int
        Examples used to estimate each latent's spread.
    prune_below : float
        Latents whose standard deviation is below this are ignored (disentanglement_lib's rule).
    active : (Z,) bool, optional
        Which latents take part, given instead of the rule (e.g. the latents whose KL is at
        least 0.01 nats: a dead latent's posterior mean can still wander by more than 0.05).
    chunk : int
        Votes sent to ``represent`` together (``chunk * batch_size`` rows per call).

    Returns
    -------
    score : float
        Evaluation accuracy, in [0, 1]; 0 when every latent has collapsed.
    details : dict
        ``"train_accuracy"``; ``"eval_accuracy"``; ``"votes"`` (Z, K) training vote
        counts; ``"classifier"`` (Z,) the factor each latent predicts; ``"std"`` (Z,)
        the latents' spread; ``"active"`` (Z,) bool, the latents that took part.
    """
    factor_sizes = tuple(int(s) for s in factor_sizes)
    if batch_size < 2:
        raise ValueError(f"factorvae_score needs batch_size >= 2 to take a variance; got {batch_size}")
    # 1. each latent's spread over the data
    codes = np.asarray(represent(_sample_factors(factor_sizes, n_variance, rng)), dtype=np.float64)
    std = codes.std(axis=0, ddof=1)                               # (Z,)
    active = std >= prune_below if active is None else np.asarray(active, bool)   # (Z,)
    if not active.any():
        return 0.0, {"train_accuracy": 0.0, "eval_accuracy": 0.0, "votes": None,
                     "classifier": None, "std": std, "active": active}
    scale = np.where(active, std, 1.0)                            # (Z,) avoids 0 / 0
    # 2. votes, then 3. the majority-vote classifier
    args = (represent, factor_sizes, scale, active)
    votes = _votes(*args, n_train, batch_size, rng, chunk)        # (Z, K)
    classifier = np.argmax(votes, axis=1)                         # (Z,) latent -> factor
    Z = len(std)
    train_accuracy = votes[np.arange(Z), classifier].sum() / votes.sum()
    eval_votes = _votes(*args, n_eval, batch_size, rng, chunk)    # (Z, K)
    eval_accuracy = eval_votes[np.arange(Z), classifier].sum() / eval_votes.sum()
    details = {"train_accuracy": float(train_accuracy), "eval_accuracy": float(eval_accuracy),
               "votes": votes, "classifier": classifier, "std": std, "active": active}
    return float(eval_accuracy), details


# --- 4. every score of a trained model on data with known factors -----------------
#: a latent whose KL, averaged over the data, is below this is dead (nats): it carries nothing
DEAD_KL = 0.01
#: FactorVAE votes as published (Kim & Mnih 2018; disentanglement_lib): training, evaluation
FACTORVAE_VOTES = (10000, 5000)


def disentanglement_scores(model, dataset, seed=0, votes=FACTORVAE_VOTES, decomposition_samples=1000):
    """MIG, the FactorVAE score and the KL decomposition on data with known factors, drawn by
    code (the shapes: every factor combination is one image of the data set).

    The MIG is estimated from the posterior means of *every* image of the data set (train
    and test together, as Chen et al. do): its plug-in bias, about
    ``(n_bins - 1)(m - 1) / 2N`` nats per factor, is then small.  Besides the two scores
    the result names, for each factor, the latent that knows most about it
    (``mig_best_latent``, 0-based) and its normalised gap to the runner-up (``mig_gap``).

    FactorVAE at the published ``votes`` (10,000 / 5,000), codes looked up from the images'
    (:func:`grid_representation`): ``factorvae`` under
    disentanglement_lib's rule (latents with std >= 0.05 vote), ``factorvae_active`` with the
    dead latents (KL < ``DEAD_KL``) dropped instead, and ``active_latents`` their count.
    ``kl_mi``, ``kl_tc``, ``kl_dimwise`` (and ``_se``): the KL's three terms,
    :func:`tinyvae.kl_decomposition.kl_decomposition`.
    """
    x = np.concatenate([dataset.x_train, dataset.x_test])                 # (N, D) every image
    factors = np.concatenate([dataset.factors_train, dataset.factors_test])
    codes = model.code(x)                                                   # (N, Z) mu(x), float64
    mig_score, details = mig(codes, factors)
    try:
        represent = grid_representation(codes, factors, dataset.factor_sizes)
    except ValueError:                                                      # not the full grid: render
        represent = representation(model.code, dataset.render)
    n_train, n_eval = votes
    fvae, fdetails = factorvae_score(represent, dataset.factor_sizes, np.random.default_rng(seed),
                                                     n_train=n_train, n_eval=n_eval)
    out = {"mig": float(mig_score), "factorvae": float(fvae), "factorvae_voting_latents": int(fdetails["active"].sum()),
           "factorvae_votes": [int(n_train), int(n_eval)]}
    if model.kind == "vae":                        # a posterior: dead latents and the KL's three terms
        mu, logvar = (np.asarray(a) for a in model.astype(np.float64).encode(np.asarray(x, np.float64)))
        alive = kl_per_dimension(mu, logvar) >= DEAD_KL                     # (Z,)
        out["factorvae_active"], _ = factorvae_score(
            represent, dataset.factor_sizes, np.random.default_rng(seed), n_train=n_train, n_eval=n_eval, active=alive)
        out["active_latents"] = int(alive.sum())
        parts = kl_decomposition(mu, logvar, np.random.default_rng(seed), n_samples=decomposition_samples)
        out.update({f"kl_{name}{se}": parts[f"{term}{se}"] for name, term in
                    (("mi", "mi"), ("tc", "tc"), ("dimwise", "dimwise_kl")) for se in ("", "_se")})
    return dict(out, factor_names=list(dataset.factor_names),
                mig_gap=[float(g) for g in details["gap"]],
                mig_best_latent=[int(j) for j in details["best_latent"]],
                mig_examples=int(len(x)))
