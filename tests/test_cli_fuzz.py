"""A hypothesis fuzz of the command line: random commands, flags and values, on run folders
damaged at random.

Whatever hypothesis picks, the real ``tinyvae`` command must end with exit code 0, 1, 2 or
130; never print a traceback; fail (if it fails) with exactly one line on stderr; and leave
the run's checkpoint byte for byte as it was, unless the command was a training step on it.
Each example is a subprocess of about a second, so the count is kept small; hypothesis's
database replays any failure it finds first on the next run.
"""
import json
import os
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subprocess_cli import TINY, tinyvae

# every test here runs the real command (or the browser) end to end, a second or more each: the
# battery runs in CI and with --slow, so README's command stays within its stated time
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("TINYVAE_FUZZ_EXAMPLES", 14))

NUMBERS = st.sampled_from(["-1", "0", "1", "2", "16", "0.5", "1e-30", "1e-18", "1e39", "nan", "inf",
                           "99999999999", "x", ""])
EPOCHS = st.sampled_from(["-1", "0", "1", "2", "x"])          # never a long run
NUMERIC_FLAGS = ["--batch-size", "--lr", "--latent", "--hidden", "--beta", "--sigma", "--seed",
                 "--noise-level", "--kl-target", "--capacity", "--warmup-epochs", "--gamma", "--beta-lr"]
CHOICES = {"--model": ["ae", "dae", "vae", "gan"], "--likelihood": ["bernoulli", "gaussian"],
           "--binarize": ["none", "static", "dynamic"], "--noise": ["mask", "gaussian", "saltpepper"]}
JSON_VALUES = st.sampled_from([None, "x", -1, 0, 1e308, [], {}, True, [0], "0.001"])


@st.composite
def train_flags(draw):
    flags = list(TINY)
    for flag in draw(st.lists(st.sampled_from(NUMERIC_FLAGS), max_size=3, unique=True)):
        flags += [flag, draw(NUMBERS)]
    for flag in draw(st.lists(st.sampled_from(sorted(CHOICES)), max_size=2, unique=True)):
        flags += [flag, draw(st.sampled_from(CHOICES[flag]))]
    return flags + ["--epochs", draw(EPOCHS)]


COMMANDS = st.one_of(
    st.tuples(st.just("train"), train_flags()),
    st.tuples(st.just("resume"), st.tuples(EPOCHS)),
    st.tuples(st.just("eval"), st.tuples(NUMBERS, NUMBERS)),                 # --iw-samples, --seed
    st.tuples(st.just("sample"), st.tuples(NUMBERS, st.sampled_from(["", "model.npz", "config.json",
                                                                       "new.png", "."]))),
    st.tuples(st.just("plot"), st.tuples(NUMBERS)),                          # --seed
    st.tuples(st.just("explore"), st.tuples(st.sampled_from(["", "model.npz", "page.html", "."]))),
)

DAMAGE = st.one_of(
    st.just(("none",)),
    st.tuples(st.just("truncate"), st.sampled_from(["model.npz", "config.json", "metrics.jsonl"]),
              st.integers(0, 400)),
    st.tuples(st.just("delete"), st.sampled_from(["model.npz", "config.json", "metrics.jsonl"])),
    st.tuples(st.just("config"), st.sampled_from(["lr", "hidden", "latent", "model", "epochs", "sigma",
                                                  "seed", "data", "beta", "nonsense"]), JSON_VALUES),
    st.tuples(st.just("metrics"), st.sampled_from(['[1]', '{"epoch": null}', "{", '"x"', '{"epoch": 1e9}'])),
    st.tuples(st.just("meta"), st.sampled_from(["epoch", "t", "D", "rng", "objective", "metrics", "config"]),
              JSON_VALUES),
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("fuzz") / "run"
    assert tinyvae("train", *TINY, "--epochs", "2", "--out", run_dir).code == 0
    return run_dir


def _damage(run_dir, damage):
    kind, *what = damage
    if kind == "truncate":
        name, size = what
        path = os.path.join(run_dir, name)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:size])
    elif kind == "delete":
        os.unlink(os.path.join(run_dir, what[0]))
    elif kind == "config":
        path = os.path.join(run_dir, "config.json")
        with open(path) as f:
            config = json.load(f)
        config[what[0]] = what[1]
        with open(path, "w") as f:
            json.dump(config, f)
    elif kind == "metrics":
        with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
            f.write(what[0] + "\n")
    elif kind == "meta":
        path = os.path.join(run_dir, "model.npz")
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
        meta[what[0]] = what[1]
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def _argv(command, args, run_dir, scratch):
    if command == "train":
        return ["train", *args, "--out", os.path.join(scratch, "new")]
    if command == "resume":
        return ["train", "--resume", run_dir, "--epochs", args[0]]
    if command == "eval":
        return ["eval", run_dir, "--iw-samples", args[0], "--seed", args[1]]
    if command == "sample":
        out = ["--out", os.path.join(run_dir, args[1])] if args[1] else []
        return ["sample", run_dir, "-n", args[0], *out]
    if command == "explore":
        return ["explore", run_dir] + (["--out", os.path.join(run_dir, args[0])] if args[0] else [])
    return ["plot", run_dir, "--seed", args[0]]


def _read(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return f.read()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
@given(command=COMMANDS, damage=DAMAGE)
def test_any_command_on_any_damage_ends_cleanly_and_only_training_changes_the_checkpoint(template, command, damage):
    scratch = tempfile.mkdtemp(prefix="tinyvae-fuzz-")
    try:
        run_dir = shutil.copytree(template, os.path.join(scratch, "run"))
        _damage(run_dir, damage)
        before = _read(os.path.join(run_dir, "model.npz"))
        argv = _argv(*command, run_dir, scratch)
        result = tinyvae(*argv)
        assert result.code in (0, 1, 2, 130), (argv, result.err)
        assert "Traceback" not in result.err, (argv, result.err)
        if result.code != 0:
            assert len(result.error_lines) == 1 and result.error_lines[0].startswith("tinyvae"), (argv, result.err)
        if command[0] != "resume":
            assert _read(os.path.join(run_dir, "model.npz")) == before, argv
    finally:
        shutil.rmtree(scratch)
