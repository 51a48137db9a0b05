"""The settings of a run (``tinyvae train``'s flags), checked, and saved as ``RUN_DIR/config.json``."""
import dataclasses
import inspect
import json
import os
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..base import choices
from ..base.choices import SEED_MAX
from ..base.errors import CheckpointError, UsageError, shown
from ..models import VAE, DenoisingAutoencoder

FLOAT32_MAX = float(np.finfo(np.float32).max)     # training runs in float32: settings must fit
IWAE_MAX = 10 ** 4                                # --iwae K: K * batch rows go through the decoder at each step
#: settings added after runs were saved: absent from a run's settings means not given, and they are
#: written only when given, so every earlier run and reference checkpoint loads as it was saved
LATER = ("iwae",)
EPOCHS_MAX = 10 ** 9                              # a checkpoint's epoch is at most this (runs._check_meta)
WHOLE_MAX = 2 ** 62                               # any other whole number: numpy's int64 and JSON hold it

#: default epochs per data set, so that a run without --epochs is a sensible length
DEFAULT_EPOCHS = {"digits": 100, "shapes": 20, "shapes-equal": 10, "mnist": 10, "fashion-mnist": 10}


def flag(name):
    """The command-line flag of a setting, the one spelling rule: ``beta_lr`` -> ``--beta-lr``."""
    return "--" + name.replace("_", "-")


def _model_default(model, name):
    """The default the lecture's model class gives its argument ``name`` (stated there, once)."""
    return inspect.signature(model).parameters[name].default


def setting(help, default=None, *, applies=None, metavar=None, choices=None):
    """One run setting: its default, its help line and how the command line spells its value.

    ``default`` is the value of a setting every run uses.  A setting that only some runs use
    (a VAE's sigma, a DAE's noise) has ``default=None`` ("not given") and takes ``applies``
    when the run uses it (:data:`DEFAULTS`).  ``tinyvae train --help`` is written from these.
    """
    meta = {"help": help, "metavar": metavar, "choices": choices}
    if applies is not None:
        meta["applies"] = applies
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Every setting of a run, with its default and its help, stated once; saved as
    ``RUN_DIR/config.json``.  Names follow pytorch/examples.

    A setting left at None was not given.  :meth:`validate` refuses a given setting that the
    chosen model and objective would ignore (:meth:`ignored`), then fills the ones that apply
    with their defaults (:data:`DEFAULTS`); the ones that do not apply stay None, and
    config.json shows them as null.
    """

    model: str = setting("the model", "vae", choices=choices.MODELS)
    data: str = setting("the data set", "digits", choices=choices.DATASETS)
    data_dir: Optional[str] = setting("read MNIST / Fashion-MNIST files from DIR instead of downloading (kept "
                                      "as an absolute path, so that any folder finds them)", metavar="DIR")
    binarize: str = setting("none: a Bernoulli on [0, 1] intensities; static or dynamic: 0/1 pixels", "none",
                            choices=choices.BINARIZE)
    epochs: Optional[int] = setting("default: " + ", ".join(f"{n} on {d}" for d, n in DEFAULT_EPOCHS.items()))
    batch_size: int = setting("examples per step", 128)
    lr: float = setting("Adam's learning rate", 1e-3)
    hidden: List[int] = setting("hidden sizes", [400], metavar="H")
    latent: int = setting("latent size", 20, metavar="Z")
    likelihood: Optional[str] = setting(
        "p(x|z), default " + ", ".join(f"{lik} for {m.upper()}" for m, lik in choices.DEFAULT_LIKELIHOOD.items())
        + "; an AE's gaussian is the lecture's L_AE (the squared error), its bernoulli BCE", choices=choices.LIKELIHOODS)
    sigma: Optional[float] = setting("std of a VAE's Gaussian likelihood", applies=_model_default(VAE, "sigma"))
    beta: Optional[float] = setting("weight of the KL (1: the VAE); with --kl-target, beta's start value",
                                    applies=1.0)
    kl_target: Optional[float] = setting("constrained form KL <= DELTA, beta a Lagrange multiplier found by "
                                         "dual ascent", metavar="DELTA")
    beta_lr: Optional[float] = setting("dual-ascent step on beta (--kl-target)", applies=0.01, metavar="ETA")
    capacity: Optional[float] = setting("Burgess et al.: gamma |KL - C(t)|, C raised from 0 to C", metavar="C")
    capacity_steps: Optional[int] = setting("steps to raise C from 0 (--capacity)", applies=10000, metavar="N")
    gamma: Optional[float] = setting("weight of |KL - C| (--capacity)", applies=100.0)
    tc_weight: Optional[float] = setting("beta-TCVAE (Chen et al. 2018): recon + KL + (W - 1) TC, TC by "
                                         "minibatch-weighted sampling", metavar="W")
    iwae: Optional[int] = setting("train on the importance-weighted bound L_K (Burda et al. 2016) with K draws "
                                  "per example; K = 1 is the VAE's ELBO", metavar="K")
    warmup_epochs: Optional[int] = setting("linear KL warm-up of a fixed beta", applies=0, metavar="W")
    noise: Optional[str] = setting("a DAE's corruption", applies=_model_default(DenoisingAutoencoder, "noise"),
                                   choices=choices.NOISES)
    noise_level: Optional[float] = setting("masking rate, or the Gaussian's sigma",
                                           applies=_model_default(DenoisingAutoencoder, "noise_level"))
    seed: int = setting("seeds the initial weights, the split's shuffle and every draw", 0)

    def __post_init__(self):
        if self.epochs is None:
            self.epochs = DEFAULT_EPOCHS.get(self.data, 10)
        if self.likelihood is None:
            self.likelihood = choices.DEFAULT_LIKELIHOOD.get(self.model, "bernoulli")
        self.hidden = [int(h) for h in self.hidden]

    # --- which settings a run uses: the one rule ------------------------------------------------
    def ignored(self):
        """``{setting: (why it is ignored, the fix)}`` for every setting that is given (not None)
        but that this run's model, likelihood, objective or data would not use."""
        vae, form = self.model == "vae", self.objective()
        out = {}

        def ignore(name, why, fix):
            if getattr(self, name) is not None:
                out[name] = (why, fix)

        if not vae:
            for name, what in (("sigma", "the std of the Gaussian likelihood"), ("beta", "the KL's weight"),
                               ("kl_target", "a bound on the KL"), ("beta_lr", "the dual-ascent step of --kl-target"),
                               ("capacity", "the KL's capacity"), ("capacity_steps", "the ramp of --capacity"),
                               ("gamma", "the weight of |KL - C|"), ("warmup_epochs", "a warm-up of the KL"),
                               ("tc_weight", "beta-TCVAE's weight of the total correlation"),
                               ("iwae", "the draws per example of the importance-weighted bound")):
                ignore(name, f"is {what} of a VAE; {_a(self.model)} has none",
                       f"drop {flag(name)}, or train a VAE (--model vae)")
        else:
            if self.likelihood != "gaussian":
                ignore("sigma", f"is the std of a Gaussian likelihood, and this VAE's is {self.likelihood}",
                       "drop --sigma, or add --likelihood gaussian")
            if form == "capacity":
                ignore("beta", "is not used by --capacity (gamma |KL - C| takes the place of beta KL)",
                       "drop --beta, or drop --capacity")
            if form == "tcvae":
                ignore("beta", "is not used by --tc-weight (beta-TCVAE weighs the KL by 1 and its total "
                       "correlation by the TC weight)", "drop --beta, or drop --tc-weight")
            if form == "iwae":
                ignore("beta", "is not used by --iwae (L_K bounds log p(x), in which the KL's weight is 1)",
                       "drop --beta, or drop --iwae")
            if form != "kl_target":
                ignore("beta_lr", "is the dual-ascent step of --kl-target, which is not given",
                       "drop --beta-lr, or add --kl-target DELTA")
            if form != "capacity":
                for name in ("capacity_steps", "gamma"):
                    ignore(name, "belongs to --capacity, which is not given",
                           f"drop {flag(name)}, or add --capacity C")
            if form != "beta":
                ignore("warmup_epochs", f"ramps a fixed --beta, and {flag(form)} sets the KL's weight itself",
                       f"drop --warmup-epochs, or drop {flag(form)}")
        if self.model != "dae":
            for name in ("noise", "noise_level"):
                ignore(name, f"corrupts a DAE's input, and this is {_a(self.model)}",
                       f"drop {flag(name)}, or train a DAE (--model dae)")
        if self.data not in ("mnist", "fashion-mnist"):
            ignore("data_dir", f"is only for mnist and fashion-mnist; {self.data} is built in", "drop --data-dir")
        return out

    def no_effect(self):
        """``{setting: (why it changes nothing, the fix)}`` for every setting that is given and
        would be used, but whose value leaves the run exactly what it would be without it.

        Only a new run is checked for these (:meth:`validate` with ``new``): a run trained before
        a rule was added still loads and resumes."""
        out = {}
        if self.model != "vae":
            return out
        form = self.objective()
        if form == "tcvae" and self.latent == 1:
            out["tc_weight"] = ("weighs the total correlation between the latents, and with --latent 1 there is "
                                "one latent, whose total correlation is 0: the run would be the plain VAE",
                                "drop --tc-weight, or use --latent 2 or more")
        if form == "beta" and self.beta == 0 and self.warmup_epochs:
            out["warmup_epochs"] = ("ramps the KL's weight up to --beta, and --beta 0 has no weight to ramp",
                                    "drop --warmup-epochs, or give --beta > 0")
        if form == "capacity" and self.capacity == 0 and self.capacity_steps is not None:
            out["capacity_steps"] = ("raises the capacity from 0 to --capacity, and --capacity 0 stays at 0",
                                     "drop --capacity-steps, or give --capacity > 0")
        return out

    def objective(self):
        """Which objective weighs a VAE's KL: "beta" (fixed, with warm-up), "kl_target", "capacity"
        or "tcvae" (beta-TCVAE, ``--tc-weight``), or "iwae" (the importance-weighted bound, ``--iwae``)."""
        if self.kl_target is not None:
            return "kl_target"
        if self.capacity is not None:
            return "capacity"
        if self.tc_weight is not None:
            return "tcvae"
        return "iwae" if self.iwae is not None else "beta"

    def applies(self, name):
        """Whether the setting ``name`` is used by this run (given or not)."""
        if name not in DEFAULTS:
            return True
        probe = dataclasses.replace(self, **{name: DEFAULTS[name]})
        return name not in probe.ignored()

    def resolved(self):
        """A copy with every setting that does not apply at its default, for building the model
        (a VAE object carries a sigma and a beta whatever its likelihood and objective)."""
        return dataclasses.replace(self, **{k: v for k, v in DEFAULTS.items() if getattr(self, k) is None})

    def validate(self, where=None, new=False):
        """Check every setting, refuse what the run would ignore, and fill the defaults that apply.

        Raises UsageError naming the first bad setting and what it should be.  ``where`` names
        the file the settings were read from (a run's checkpoint): then a bad value is a
        CheckpointError about that file's setting, not a bad command-line flag.  ``new``: these
        are the flags of a run about to be trained, so a setting that would change nothing
        (:meth:`no_effect`) is refused too.
        """
        def bad(name, why, fix=None):
            if where:
                raise CheckpointError(f"{where}: setting {name!r} {why}; the file is damaged or was written by "
                                      f"another version of tinyvae: train a new run")
            raise UsageError(f"{flag(name)} {why}" + (f"; {fix}" if fix else ""))

        if self.kl_target is not None and self.capacity is not None:
            bad("capacity", "and --kl-target are two different objectives", "choose one of them")
        if self.tc_weight is not None and (self.kl_target is not None or self.capacity is not None):
            bad("tc_weight", f"and {flag(self.objective())} are two different objectives", "choose one of them")
        if self.iwae is not None and self.objective() != "iwae":    # each of those moves away from log p(x)
            other = {"tcvae": "tc_weight"}.get(self.objective(), self.objective())
            bad("iwae", f"tightens a bound on log p(x), and {flag(other)} trains on another objective than "
                "log p(x); the two do not combine", "choose one of them")
        for name, (why, fix) in self.ignored().items():
            bad(name, why, fix)
        if new:
            for name, (why, fix) in self.no_effect().items():
                bad(name, why, fix)
        for name, value in DEFAULTS.items():            # the defaults of the settings that apply
            if getattr(self, name) is None and self.applies(name):
                setattr(self, name, value)

        listed = {"model": choices.MODELS, "data": choices.DATASETS, "binarize": choices.BINARIZE,
                  "likelihood": choices.LIKELIHOODS, "noise": choices.NOISES}
        for name, allowed in listed.items():
            if getattr(self, name) is not None and getattr(self, name) not in allowed:
                bad(name, f"must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "latent", "capacity_steps", "warmup_epochs"):
            value, low, high = getattr(self, name), int(name != "warmup_epochs"), WHOLE_MAX
            high = EPOCHS_MAX if name == "epochs" else WHOLE_MAX
            if value is not None and (not isinstance(value, (int, np.integer)) or not low <= value <= high):
                bad(name, f"must be a whole number from {low} to {high:,}, not {value!r}")
        if not self.hidden or any(not 1 <= h <= WHOLE_MAX for h in self.hidden):
            bad("hidden", f"takes one or more sizes from 1 to {WHOLE_MAX:,}, not {self.hidden}")
        if not 0 <= self.seed <= SEED_MAX:
            bad("seed", f"must be a whole number from 0 to {SEED_MAX}, not {self.seed}")
        for name in ("lr", "sigma", "beta_lr", "gamma"):
            value = getattr(self, name)
            if value is not None and not (FLOAT32_MAX > value > 0):
                bad(name, f"must be a number > 0 that float32 can hold (< {FLOAT32_MAX:.3g}), not {value!r}")
        if self.sigma is not None and self.sigma <= FLOAT32_MAX ** -0.5:
            bad("sigma", f"{self.sigma!r} is too small: 1/sigma^2 overflows float32 (max {FLOAT32_MAX:.3g})",
                "use a sigma such as 0.1 (the Gaussian's std in pixel units)")
        for name in ("beta", "noise_level", "tc_weight"):
            value = getattr(self, name)
            if value is not None and not (FLOAT32_MAX > value >= 0):
                bad(name, f"must be a number >= 0 that float32 can hold, not {value!r}")
        if self.noise in ("mask", "saltpepper") and self.noise_level > 1:
            bad("noise_level", f"is a rate for --noise {self.noise}, so it must lie in [0, 1], not {self.noise_level}")
        for name in ("kl_target", "capacity"):
            value = getattr(self, name)
            if value is not None and not (FLOAT32_MAX > value >= 0):
                bad(name, f"must be a number of nats >= 0 that float32 can hold, not {value!r}")
        if self.iwae is not None and not (isinstance(self.iwae, (int, np.integer)) and 1 <= self.iwae <= IWAE_MAX):
            bad("iwae", f"must be a whole number of draws from 1 to {IWAE_MAX:,}, not {self.iwae!r}")
        if self.data_dir is not None and not where:
            if not self.data_dir.strip():
                bad("data_dir", "needs a folder name")
            self.data_dir = os.path.abspath(os.path.expanduser(self.data_dir))   # eval from elsewhere finds it
        return self

    def to_argv(self, **changes):
        """The ``tinyvae train`` flags that make this run again (with ``changes``): every setting
        that is given and differs from what ``tinyvae train --model M --data D`` would choose."""
        cfg = dataclasses.replace(self, **changes)
        plain, default = TrainConfig(model=cfg.model, data=cfg.data).validate(), TrainConfig()
        argv = []
        for f in dataclasses.fields(cfg):
            value = getattr(cfg, f.name)
            same = value == (getattr(default, f.name) if f.name in ("model", "data") else getattr(plain, f.name))
            if value is not None and not same:
                argv += [flag(f.name), *map(_number, value if isinstance(value, list) else [value])]
        return argv

    def to_dict(self):
        return {k: v for k, v in dataclasses.asdict(self).items() if not (k in LATER and v is None)}

    @classmethod
    def from_dict(cls, d, where="config.json"):
        """The settings read back from a run's checkpoint (``where``), each checked for its type;
        every setting must be there (a null one was not given)."""
        kinds = {f.name: _KINDS[f.type] for f in dataclasses.fields(cls)}
        unknown, missing = sorted(set(d) - set(kinds)), [k for k in kinds if k not in d and k not in LATER]
        if unknown or missing:
            what = f"unknown settings {shown(unknown)}" if unknown else f"no setting {missing[0]!r}"
            raise CheckpointError(f"{where} has {what}; it is damaged or was written by another version of "
                                  f"tinyvae: train a new run")
        for name, value in d.items():
            kind = kinds[name]
            if value is None and kind.endswith("?"):
                continue
            if not _IS[kind.rstrip("?")](value):
                raise CheckpointError(f"{where}: setting {name!r} is {shown(value)}, not "
                                      f"{_WANT[kind.rstrip('?')]}; the file is damaged: train a new run")
        return cls(**d)


#: the value of each setting that applies to a run but was not given (each field's ``applies``)
DEFAULTS = {f.name: f.metadata["applies"] for f in dataclasses.fields(TrainConfig) if "applies" in f.metadata}


def default_text(f):
    """What ``--help`` says a setting defaults to: its default, or the one it takes when it applies."""
    value = f.metadata.get("applies", f.default if f.default is not dataclasses.MISSING else f.default_factory())
    if value is None:
        return ""
    words = " ".join(map(str, value)) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) else value
    return f", default {words}"


def _a(model):
    """"an AE", "a DAE", "a VAE": a model's name as a sentence says it."""
    return f"{'an' if model == 'ae' else 'a'} {str(model).upper()}"


def _number(value):
    """A setting's value as a command-line word; floats in their shortest exact form."""
    return repr(value) if isinstance(value, float) else str(value)


#: the JSON kind of each field type, and how to check and name it ("?": None allowed too)
_KINDS = {int: "int", float: "float", str: "str", List[int]: "ints",
          Optional[int]: "int?", Optional[float]: "float?", Optional[str]: "str?"}
_IS = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
       "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
       "str": lambda v: isinstance(v, str),
       "ints": lambda v: isinstance(v, list) and bool(v) and all(_IS["int"](h) for h in v)}
_WANT = {"int": "a whole number", "float": "a number", "str": "a string", "ints": "a list of whole numbers"}
