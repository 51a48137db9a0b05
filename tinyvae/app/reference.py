"""Reference checkpoints: a trained model's parameters in float16 with its settings, in one small file.

A run folder's ``model.npz`` also holds Adam's moments and the RNG state, so that training
can resume; a model that is only to be *used* (lesson 08 loads the disentanglement
benchmark's models) needs its parameters and its settings alone.  Half precision halves the
file again: a 256-256-10 VAE on 16x16 images is about 280 KB.  Rounding the parameters to
float16 changes each by at most 1 part in 2,000; lesson 08 reports what the loaded models
score, so every number it prints is the number of the file on disk.

    export(run_dir, "lessons/reference/08_vae.npz")      # from a finished run folder
    model, cfg = load("lessons/reference/08_vae.npz")
"""
import json
import os

import numpy as np

from ..base.errors import CheckpointError
from ..models import make_model
from .config import TrainConfig
from .runs import load_checkpoint, load_config


def export(run_dir, path):
    """Write the model of ``run_dir`` to ``path`` as float16 parameters and its config; returns path."""
    arrays, meta = load_checkpoint(run_dir)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    np.savez_compressed(path, theta=arrays["theta"].astype(np.float16), D=meta["D"],
                        config=json.dumps(load_config(run_dir, meta)))
    return path


def load(path):
    """The model a reference checkpoint holds, in float32, and its settings: ``(model, cfg)``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            theta, D, config = f["theta"], int(f["D"]), json.loads(str(f["config"]))
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"reference checkpoint {path} cannot be read ({type(err).__name__}); "
                              f"regenerate it (see its lesson's docstring)") from None
    cfg = TrainConfig.from_dict(config)
    model = make_model(cfg.resolved(), D)          # (a setting the run ignores is null in its config)
    model.theta[...] = theta
    return model, cfg
