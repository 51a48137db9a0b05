"""The course: the lecture's hand-derived lines as exercises, a student copy of them, and its grader.

    catalogue  one record per exercise (number, title, file, statement, hint, derivation);
               the marked solution regions of the lecture's modules; ``tinyvae exercises make``
    checks     what the checks share: the sizes, the finite differences, the named mistakes
    checks_ae  the checks of exercises 1-9 (layers, L_AE, Adam, the DAE, the likelihoods)
    checks_vae the checks of exercises 10-15 (KL, ELBO, reparameterization, the VAE, dual ascent)
    grade      ``tinyvae exercises check``: grade a copy, one line per exercise

It reads the lecture's modules (their marked regions, their functions as the reference) and
is read only by the command line (``tinyvae.app``).
"""
