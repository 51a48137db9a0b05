"""The course: the lecture's hand-derived lines as exercises, a student copy of them, and its grader.

    catalogue  one record per exercise (number, title, file, statement, hint, derivation);
               the marked solution regions of the lecture's modules; ``tinyvae exercises make``
    checks     what the checks share: the sizes drawn from a seed, the finite differences, the
               named mistakes
    checks_ae  the checks of exercises 1-7 (layers, L_AE, Adam, the DAE's masking)
    checks_vae the checks of exercises 8-15 (the likelihoods, KL, ELBO, reparameterization, the VAE,
               dual ascent)
    grade      ``tinyvae exercises check`` (one copy, one line per exercise) and ``grade`` (a class)
    gradebook  what ``grade`` writes: grades.csv, results.json, feedback/<student>.txt
    remote     the grader's side of a student's process: requests, and only numbers back
    sandbox    the student's process: the student's code, limited, and nothing of the grader's

It reads the lecture's modules (their marked regions, their functions as the reference) and
is read only by the command line (``tinyvae.app``); a student's code runs in a process of its
own (``sandbox``), which imports nothing of tinyvae.
"""
