"""The package's plumbing, below the lecture: nothing here is a topic of it.

    errors   one-line errors that name the problem and its fix; the ``tinyvae`` exit codes
    choices  the valid choices of a setting (data sets, noises, objectives), in one place
    atomic   files written whole or not at all, and tinyvae's mark on what it wrote

These leaves import nothing of tinyvae, so every other part may use them.
"""
