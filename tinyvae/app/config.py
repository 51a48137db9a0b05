"""The settings of a run (``tinyvae train``'s flags), checked, and saved as ``RUN_DIR/config.json``."""
import dataclasses
import json
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from .. import choices
from ..choices import SEED_MAX
from ..errors import CheckpointError, UsageError

FLOAT32_MAX = float(np.finfo(np.float32).max)     # training runs in float32: settings must fit

#: default epochs per data set, so that a run without --epochs is a sensible length
DEFAULT_EPOCHS = {"digits": 100, "shapes": 20, "mnist": 10, "fashion-mnist": 10}


@dataclass
class TrainConfig:
    """Every setting of a run; saved as ``RUN_DIR/config.json``.  Names follow pytorch/examples."""

    model: str = "vae"                  # ae | dae | vae
    data: str = "digits"                # digits | mnist | fashion-mnist | shapes
    data_dir: Optional[str] = None
    binarize: str = "none"              # none | static | dynamic
    epochs: Optional[int] = None        # None: DEFAULT_EPOCHS[data]
    batch_size: int = 128
    lr: float = 1e-3
    hidden: List[int] = field(default_factory=lambda: [400])
    latent: int = 20
    likelihood: Optional[str] = None    # bernoulli (BCE for an AE) | gaussian (the squared error for an AE);
    #                                     None: choices.DEFAULT_LIKELIHOOD[model]
    sigma: float = 0.1                  # std of the Gaussian likelihood of a VAE
    beta: float = 1.0
    kl_target: Optional[float] = None   # constrained form: KL < delta, beta by dual ascent
    beta_lr: float = 0.01               # eta of the dual ascent on beta
    capacity: Optional[float] = None    # Burgess et al.: gamma |KL - C|, C annealed 0 -> capacity
    capacity_steps: int = 10000
    gamma: float = 100.0
    warmup_epochs: int = 0              # linear KL warm-up
    noise: str = "mask"                 # mask | gaussian | saltpepper (DAE)
    noise_level: float = 0.3
    seed: int = 0

    def __post_init__(self):
        if self.epochs is None:
            self.epochs = DEFAULT_EPOCHS.get(self.data, 10)
        if self.likelihood is None:
            self.likelihood = choices.DEFAULT_LIKELIHOOD.get(self.model, "bernoulli")
        self.hidden = [int(h) for h in self.hidden]

    def validate(self, where=None):
        """Raise UsageError naming the first bad setting and what it should be.

        ``where`` names the config.json the settings were read from: then a bad value is a
        CheckpointError about that file's setting, not a bad command-line flag.
        """
        def bad(name, why):
            if where:
                raise CheckpointError(f"{where}: setting {name!r} {why}; fix it or train a new run")
            raise UsageError(f"--{name.replace('_', '-')} {why}")

        def clash(why):
            if where:
                raise CheckpointError(f"{where} holds settings that do not go together ({why}); "
                                      f"fix it or train a new run")
            raise UsageError(why)

        listed = {"model": choices.MODELS, "data": choices.DATASETS, "binarize": choices.BINARIZE,
                  "likelihood": choices.LIKELIHOODS, "noise": choices.NOISES}
        for name, allowed in listed.items():
            if getattr(self, name) not in allowed:
                bad(name, f"must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "latent", "capacity_steps"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                bad(name, f"must be a whole number >= 1, not {value!r}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            bad("hidden", f"takes one or more sizes >= 1, not {self.hidden}")
        if not 0 <= self.seed <= SEED_MAX:
            bad("seed", f"must be a whole number from 0 to {SEED_MAX}, not {self.seed}")
        for name in ("lr", "sigma", "beta_lr", "gamma"):
            value = getattr(self, name)
            if not (FLOAT32_MAX > value > 0):
                bad(name, f"must be a number > 0 that float32 can hold (< {FLOAT32_MAX:.3g}), not {value!r}")
        if self.sigma <= FLOAT32_MAX ** -0.5:
            bad("sigma", f"{self.sigma!r} is too small: 1/sigma^2 overflows float32 (max {FLOAT32_MAX:.3g}); "
                         f"use a sigma such as 0.1 (the Gaussian's std in pixel units)")
        for name in ("beta", "noise_level"):
            value = getattr(self, name)
            if not (FLOAT32_MAX > value >= 0):
                bad(name, f"must be a number >= 0 that float32 can hold, not {value!r}")
        if self.noise in ("mask", "saltpepper") and self.noise_level > 1:
            bad("noise_level", f"is a rate for --noise {self.noise}, so it must lie in [0, 1], not {self.noise_level}")
        for name in ("kl_target", "capacity"):
            value = getattr(self, name)
            if value is not None and not (FLOAT32_MAX > value >= 0):
                bad(name, f"must be a number of nats >= 0 that float32 can hold, not {value!r}")
        if self.warmup_epochs < 0:
            bad("warmup_epochs", f"must be >= 0, not {self.warmup_epochs}")
        if self.kl_target is not None and self.capacity is not None:
            clash("--kl-target and --capacity are two different objectives; choose one")
        if self.warmup_epochs and (self.kl_target is not None or self.capacity is not None):
            clash("--warmup-epochs ramps a fixed --beta; it does not combine with --kl-target or --capacity")
        if self.model != "vae" and (self.kl_target is not None or self.capacity is not None):
            clash(f"--kl-target and --capacity need --model vae, not {self.model}")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d, where="config.json"):
        """The settings read back from a run's config.json (``where``), each checked for its type."""
        kinds = {f.name: _KINDS[f.type] for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(kinds))
        if unknown:
            raise CheckpointError(f"{where} has unknown settings {unknown}; was it written by another "
                                  f"version of tinyvae?")
        for name, value in d.items():
            kind = kinds[name]
            if value is None and kind.endswith("?"):
                continue
            if not _IS[kind.rstrip("?")](value):
                raise CheckpointError(f"{where}: setting {name!r} is {json.dumps(value)}, not "
                                      f"{_WANT[kind.rstrip('?')]}; fix it or train a new run")
        return cls(**d)


#: the JSON kind of each field type, and how to check and name it ("?": None allowed too)
_KINDS = {int: "int", float: "float", str: "str", List[int]: "ints",
          Optional[int]: "int?", Optional[float]: "float?", Optional[str]: "str?"}
_IS = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
       "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
       "str": lambda v: isinstance(v, str),
       "ints": lambda v: isinstance(v, list) and bool(v) and all(_IS["int"](h) for h in v)}
_WANT = {"int": "a whole number", "float": "a number", "str": "a string", "ints": "a list of whole numbers"}
