"""The application: the ``tinyvae`` command and everything a command needs.

    cli          the ``tinyvae`` command: train, eval, sample, plot, explore, gradcheck, exercises
    config       TrainConfig: every setting of a run, its default and help stated once, checked,
                 saved as config.json
    training     ``tinyvae train``: the Trainer inside a run folder, exact resume, Ctrl-C
    runs         a run folder as one unit: checkpoint, settings and metrics; load_run
    claims       who may write what: one trainer per folder (flock), no overwriting
    memory       the memory a command will need, checked before anything is allocated
    terminal     signals, Ctrl-C and the one-line failure a command ends with
    run_figures  which figures a run folder gets
    explore      ``tinyvae explore``: the one-file web page (templates/explorer.html)
    explore_data what the page holds: codes, decoder, holes map, judge, compactly encoded
    reference    small float16 checkpoints (lesson 08 loads the benchmark's models)

The top of the house: it uses the course (``tinyvae exercises``), the studies, the data and
the lecture, and nothing imports it.
"""
