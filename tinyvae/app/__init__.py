"""What serves the subject: the ``tinyvae`` command and everything a command needs.

    cli          the ``tinyvae`` command: train, eval, sample, plot, explore, gradcheck
    config       TrainConfig: every setting of a run, checked, saved as config.json
    training     ``tinyvae train``: the Trainer inside a run folder, exact resume, Ctrl-C
    runs         a run folder as one unit: checkpoint, settings and metrics; load_run
    claims       who may write what: one trainer per folder (flock), no overwriting
    memory       the memory a command will need, checked before anything is allocated
    run_figures  which figures a run folder gets
    explore      ``tinyvae explore``: the one-file web page (templates/explorer.html)
    reference    small float16 checkpoints (lesson 08 loads the benchmark's models)
    exercises    ``tinyvae exercises``: the core's hand-derived lines as a course, a student
                 copy of them (make) and its grader (exercises_grade, _checks, _ae, _vae)

Imports point down only: this package uses ``tinyvae.data`` and the core, never the reverse.
"""
