"""Measurements and figures beyond the lecture's equations, above the lecture's code.

    holes            the hole score: prior draws that land where no training code lies
    classifier       a digit classifier, the nearest training image ("which digit is it")
    precision        improved precision and recall: is a sample inside the real data's k-NN manifold
    disentanglement  MIG, the FactorVAE score, and every score of a model on known factors
    plots            the figures (the only module of the package that imports matplotlib)

They use the lecture's modules (``tinyvae.models``, ``tinyvae.losses``, ...) and the data,
never the reverse; the course and the application stand above them.
"""
