"""The settings of a run (``tinyvae train``'s flags), checked, and saved as ``RUN_DIR/config.json``."""
import dataclasses
import math
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from . import choices
from .errors import UsageError

#: default epochs per data set, so that a run without --epochs is a sensible length
DEFAULT_EPOCHS = {"digits": 100, "shapes": 20, "mnist": 10, "fashion-mnist": 10}

#: settings older versions wrote to config.json that no longer mean anything; they are ignored
#: on load ("workers": the data-parallel processes of tinyvae 0.1's --workers, now gone)
RETIRED = ("workers",)


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
    likelihood: Optional[str] = None    # bernoulli (BCE for an AE) | gaussian (MSE for an AE);
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

    def validate(self):
        """Raise UsageError naming the first bad setting and what it should be."""
        def bad(flag, why):
            raise UsageError(f"--{flag} {why}")

        listed = {"model": choices.MODELS, "data": choices.DATASETS, "binarize": choices.BINARIZE,
                  "likelihood": choices.LIKELIHOODS, "noise": choices.NOISES}
        for name, allowed in listed.items():
            if getattr(self, name) not in allowed:
                bad(name, f"must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "latent", "capacity_steps"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                bad(name.replace("_", "-"), f"must be a whole number >= 1, not {value!r}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            bad("hidden", f"takes one or more sizes >= 1, not {self.hidden}")
        for name in ("lr", "sigma", "beta_lr", "gamma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                bad(name.replace("_", "-"), f"must be a finite number > 0, not {value!r}")
        for name in ("beta", "noise_level"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                bad(name.replace("_", "-"), f"must be a finite number >= 0, not {value!r}")
        if self.noise in ("mask", "saltpepper") and self.noise_level > 1:
            bad("noise-level", f"is a rate for --noise {self.noise}, so it must lie in [0, 1], not {self.noise_level}")
        for name in ("kl_target", "capacity"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                bad(name.replace("_", "-"), f"must be a finite number of nats >= 0, not {value!r}")
        if self.warmup_epochs < 0:
            bad("warmup-epochs", f"must be >= 0, not {self.warmup_epochs}")
        if self.kl_target is not None and self.capacity is not None:
            raise UsageError("--kl-target and --capacity are two different objectives; choose one")
        if self.warmup_epochs and (self.kl_target is not None or self.capacity is not None):
            raise UsageError("--warmup-epochs ramps a fixed --beta; it does not combine with "
                             "--kl-target or --capacity")
        if self.model != "vae" and (self.kl_target is not None or self.capacity is not None):
            raise UsageError(f"--kl-target and --capacity need --model vae, not {self.model}")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        d = {k: v for k, v in d.items() if k not in RETIRED}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise UsageError(f"config.json has unknown settings {sorted(unknown)}; was it written "
                             f"by another version of tinyvae?")
        return cls(**d)
