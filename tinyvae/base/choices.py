"""The valid choices of a run, listed once.

The command line offers them, :class:`tinyvae.app.config.TrainConfig` checks a run's settings
against them, and the models, the noise and the data loader refuse anything else; all of
them read these tuples, so a new choice is added here and in the code that implements it.
"""

#: the model family (``--model``): autoencoder, denoising autoencoder, VAE (beta-VAE with beta != 1)
MODELS = ("ae", "dae", "vae")

#: the data sets (``--data``): the embedded UCI digits, the two IDX data sets, the procedural shapes
#: (y on half x's range) and their dSprites-like variant with x and y on one range
DATASETS = ("digits", "mnist", "fashion-mnist", "shapes", "shapes-equal")

#: the decoder's likelihood p(x|z) (``--likelihood``)
LIKELIHOODS = ("bernoulli", "gaussian")

#: the likelihood of each model when ``--likelihood`` is not given.  An AE or DAE scores its
#: reconstruction with the Gaussian's negative log-likelihood up to scale and a constant, the
#: lecture's L_AE (the squared error), or with the Bernoulli's, the cross-entropy (BCE); the
#: VAE is Bernoulli, as in pytorch/examples
DEFAULT_LIKELIHOOD = {"ae": "gaussian", "dae": "gaussian", "vae": "bernoulli"}

#: the DAE's corruptions M_D(x~|x) (``--noise``), see :mod:`tinyvae.noise`
NOISES = ("mask", "gaussian", "saltpepper")

#: how pixels in [0, 1] are binarized (``--binarize``), see :mod:`tinyvae.noise`
BINARIZE = ("none", "static", "dynamic")

#: the largest ``--seed``: numpy's generators take any whole number >= 0; this is plenty
SEED_MAX = 2 ** 32 - 1
