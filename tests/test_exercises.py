"""`tinyvae exercises`: the solution regions, the student copy, and the grader's verdicts.

A student's work is simulated by *planting* code in a fresh copy: the ``raise
NotImplementedError("exercise N: ...")`` line of a function is replaced by lines of our own,
a correct answer or a known slip, and the grader must say so in the exercise's one line.
The copy's code runs in a process of its own (tinyvae/course/sandbox.py); what that process
refuses, and a class graded as a whole, are tests/test_grading.py's.
"""
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinyvae.course import catalogue as E
from tinyvae.app.cli import main
from tinyvae.course.checks import draw
from tinyvae.course.grade import EXIT, check

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted({ex.file for ex in E.CATALOGUE})
RAISE = re.compile(r'^(\s*)raise NotImplementedError\("exercise (\d+): ')
K = draw()                                            # the sizes of check's default seed


def grade(folder=None, time_limit=10.0, seed=0):
    """``({exercise number: (verdict, detail)}, exit code, the lines printed)`` of a check."""
    lines = []
    code = check(folder, time_limit=time_limit, seed=seed, out=lines.append)
    verdicts = {}
    for line in lines[:-1]:
        m = re.match(r"exercise (\d+): (.+) \((\S+)\): (pass|fail|not done|error)  (.*)$", line)
        assert m, f"not one verdict line: {line!r}"
        verdicts[int(m.group(1))] = (m.group(4), m.group(5))
    return verdicts, code, lines


def plant(folder, file, function, code):
    """Replace the ``raise`` of ``function`` (a qualified name) in the copy's ``file`` by ``code``."""
    path = Path(folder, "tinyvae", file)
    lines = path.read_text().splitlines(keepends=True)
    spans = E._function_spans(ast.parse("".join(lines)))
    for i, line in enumerate(lines, 1):
        m = RAISE.match(line)
        inside = [(b, e, name) for b, e, name in spans if b < i <= e]
        if m and inside and max(inside)[2] == function:
            body = [m.group(1) + c + "\n" for c in code.strip("\n").splitlines()]
            path.write_text("".join(lines[:i - 1] + body + lines[i:]))
            return
    raise AssertionError(f"no exercise raise in {file}:{function}")


def solve(folder, skip=()):
    """Plant the reference's own solution lines into every function of the copy but those in ``skip``."""
    for regions in E.package_regions().values():
        for r in regions:
            if r.function not in skip:
                lines = (E.PACKAGE / r.file).read_text().splitlines()[r.begin:r.end - 1]
                plant(folder, r.file, r.function, "\n".join(line[len(r.indent):] for line in lines))


@pytest.fixture
def copy(tmp_path):
    folder = tmp_path / "course"
    E.make(folder)
    return folder


def restore(folder, file):
    """Put the reference's file, solutions and all, back into the copy."""
    shutil.copy(E.PACKAGE / file, Path(folder, "tinyvae", file))


# --- the regions ----------------------------------------------------------------------------------
def test_every_marker_pair_is_well_formed_and_belongs_to_one_exercise_in_the_lectures_order():
    regions = E.package_regions()
    numbers = [ex.number for ex in E.CATALOGUE]
    assert numbers == list(range(1, len(numbers) + 1)) and 12 <= len(numbers) <= 16
    for ex in E.CATALOGUE:
        assert {r.function for r in regions[ex.number]} == set(ex.parts)
        assert all(r.file == ex.file for r in regions[ex.number])
    # the lecture's order: the autoencoder's pieces, the DAE, the likelihoods and the KL, the ELBO, the
    # reparameterization, the VAE, the beta-VAE
    order = [E.CATALOGUE[i - 1].title for i in (1, 7, 10, 11, 12, 14, 15)]
    assert order == ["Linear forward", "the DAE's masking corruption", "the analytic KL and its gradient",
                     "the ELBO", "the reparameterization's forward", "the VAE's two paths into mu and logvar",
                     "dual ascent on beta"]


def test_each_record_links_a_lecture_function_to_its_check_and_nothing_else_links_there():
    # from the catalogue's side: each record's file is a module of the lecture, each part a function
    # holding a region there, and its check a check of the course; from the code's side: every region
    # of the package lies in a lecture module and is claimed by exactly one record
    import tinyvae
    regions = E.package_regions()
    claimed = {(r.file, r.function) for rs in regions.values() for r in rs}
    for ex in E.CATALOGUE:
        assert ex.file[:-3] in tinyvae.LECTURE and ex.points >= 1
        assert ex.check.__module__ in ("tinyvae.course.checks_ae", "tinyvae.course.checks_vae")
        assert {(ex.file, part) for part in ex.parts} <= claimed
    assert len({ex.check for ex in E.CATALOGUE}) == len(E.CATALOGUE)
    in_package = {(p.relative_to(E.PACKAGE).as_posix(), r.function) for p in E.PACKAGE.rglob("*.py")
                  for r in E.find_regions(p.read_text(), p.name)}
    assert in_package == claimed


@pytest.mark.parametrize("source, problem", [
    ("def f():\n    ### BEGIN SOLUTION\n    x = 1\n", "never closed"),
    ("def f():\n    x = 1\n    ### END SOLUTION\n", "without a"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n",
     "inside the region"),
    ("def f():\n    ### BEGIN SOLUTION\n    x = 1\n  ### END SOLUTION\n", "indented differently"),
    ("def f():\n    ### BEGIN SOLUTION\n\n    ### END SOLUTION\n    return 1\n", "empty"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "outside every function"),
    ("def f():\n    ## BEGIN SOLUTION\n    x = 1\n", "exactly"),
])
def test_the_marker_checker_refuses_each_malformed_pair(source, problem):
    with pytest.raises(E.RegionError, match=problem):
        E.find_regions(source, "x.py")


def test_a_region_in_a_function_no_exercise_names_is_refused(tmp_path):
    package = tmp_path / "tinyvae"
    shutil.copytree(E.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "extra.py").write_text("def rel_error(a, b):\n    ### BEGIN SOLUTION\n    return a - b\n"
                                      "    ### END SOLUTION\n")
    with pytest.raises(E.RegionError, match="extra.py line 2: a solution region in rel_error, which no exercise"):
        E.package_regions(package)
    (package / "extra.py").unlink()
    layers = package / "layers.py"
    layers.write_text(layers.read_text().replace(E.BEGIN, "# (no marker)", 1).replace(E.END, "# (none)", 1))
    with pytest.raises(E.RegionError, match="exercise 1 .* has no solution region"):
        E.package_regions(package)


@pytest.mark.parametrize("file", FILES)
def test_the_markers_are_comments_so_the_module_is_the_same_program(file):
    source = (E.PACKAGE / file).read_text()
    stripped = "".join(line for line in source.splitlines(keepends=True) if line.strip() not in (E.BEGIN, E.END))
    assert stripped != source
    assert ast.dump(ast.parse(source)) == ast.dump(ast.parse(stripped))


def test_every_hint_points_to_a_section_of_derivations_md():
    text = (ROOT / "docs" / "derivations.md").read_text()
    slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
             for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    assert {ex.anchor for ex in E.CATALOGUE} <= slugs


# --- make -------------------------------------------------------------------------------------------
def test_a_student_copy_holds_no_line_of_any_solution(copy):
    inside, outside = set(), set()
    regions = [r for rs in E.package_regions().values() for r in rs]
    for r in regions:
        lines = (E.PACKAGE / r.file).read_text().splitlines()[r.begin:r.end - 1]
        inside |= {line.strip() for line in lines if line.strip()}
    for path in E.PACKAGE.rglob("*.py"):          # the lines the reference shows outside every region
        marked = [(r.begin, r.end) for r in regions if r.file == path.relative_to(E.PACKAGE).as_posix()]
        outside |= {line.strip() for i, line in enumerate(path.read_text().splitlines(), 1)
                    if not any(b <= i <= e for b, e in marked)}
    # one line of a solution is also given elsewhere (gaussian_log_likelihood's), so it is no secret
    assert inside & outside == {"diff = x_hat - x                                  # (N, D)"}
    solution = inside - outside
    assert len(solution) > 30                     # 34 lines since Adam and the BCE are textbook (issue 30)
    found = [(path.name, line.strip()) for path in Path(copy).rglob("*") if path.suffix in (".py", ".html")
             for line in path.read_text().splitlines() if line.strip() in solution]
    assert found == []
    copied = {p.relative_to(copy / "tinyvae") for p in (copy / "tinyvae").rglob("*") if "__pycache__" not in p.parts}
    package = {p.relative_to(E.PACKAGE) for p in E.PACKAGE.rglob("*") if "__pycache__" not in p.parts}
    assert copied == package | {Path(E.COPY_MARK)}    # the whole package (data files, templates), and its mark


def test_each_exercise_has_its_statement_above_its_raise(copy):
    text = {file: (copy / "tinyvae" / file).read_text().splitlines() for file in FILES}
    for ex in E.CATALOGUE:
        raises = [i for i, line in enumerate(text[ex.file]) if line.strip() ==
                  f'raise NotImplementedError("exercise {ex.number}: {ex.title}")']
        assert len(raises) == len(ex.parts)
        for i in raises:
            above = "\n".join(text[ex.file][i - 9:i])
            assert f"# Exercise {ex.number}: {ex.title}" in above and "Hint: " in above
            assert f"docs/derivations.md#{ex.anchor}" in above


def test_make_refuses_an_existing_folder_in_one_line(tmp_path, capsys):
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    assert main(["exercises", "make", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0]
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


# --- check ------------------------------------------------------------------------------------------
def test_the_reference_passes_every_exercise():
    verdicts, code, lines = grade()
    assert code == 0 and {v for v, _ in verdicts.values()} == {"pass"} and len(verdicts) == len(E.CATALOGUE)


@pytest.mark.slow
def test_a_fresh_copy_is_not_done_everywhere_and_exits_1(copy, capsys):
    verdicts, code, _ = grade(copy)
    assert code == EXIT["not passed"] == 1
    assert all(v == "not done" and "raise NotImplementedError" in d for v, d in verdicts.values())
    assert main(["exercises", "check", str(copy)]) == 1
    assert len(capsys.readouterr().out.splitlines()) == len(E.CATALOGUE) + 1


@pytest.mark.slow
def test_the_solutions_written_back_into_their_places_pass_every_exercise(copy):
    solve(copy)
    assert not any(RAISE.match(line) for file in FILES for line in (copy / "tinyvae" / file).read_text().splitlines())
    verdicts, code, _ = grade(copy)
    assert code == 0 and {v for v, _ in verdicts.values()} == {"pass"}


@pytest.mark.slow
@pytest.mark.parametrize("file", FILES)
def test_restoring_a_files_solutions_passes_exactly_that_files_exercises(copy, file):
    restore(copy, file)
    verdicts, code, _ = grade(copy)
    passed = {n for n, (v, _) in verdicts.items() if v == "pass"}
    assert passed == {ex.number for ex in E.CATALOGUE if ex.file == file}
    assert {v for n, (v, _) in verdicts.items() if n not in passed} == {"not done"}
    assert code == 1


# --- the common mistakes of the issue, each planted alone in a fresh copy ------------------------------
ADAM = "adam-the-moments-and-their-bias-correction"
ADAM_MOMENTS = "self.m = b1 * self.m + (1 - b1) * g\nself.v = b2 * self.v + (1 - b2) * g * g\n"
ADAM_STEP = ("m_hat = self.m / (1 - b1 ** t)\nv_hat = self.v / (1 - b2 ** t)\n"
             "theta -= lr * m_hat / (np.sqrt(v_hat) + eps)")
LINEAR_BACKWARD = ("self.grads['W'] += {dW}\nself.grads['b'] += {db}\n"
                   "return dout @ self.params['W'].T if need_dx else None")
MISTAKES = {
    "a gradient N times too large (the batch mean forgotten)": (
        "losses.py", "mse", "diff = x_hat - x\nloss = float(np.sum(diff * diff) / N)\ndx_hat = 2 * diff", 5,
        f"dx_hat is N = {K.N} times too large: the batch mean's 1/N is missing", "mse"),
    "a KL averaged where it should sum": (
        "losses.py", "kl_normal_std_normal", "var = np.exp(logvar)\nkl = 0.5 * np.mean(mu * mu + var - 1 - logvar)\n"
        "dmu = mu / mu.size\ndlogvar = (var - 1) / (2 * mu.size)", 10,
        f"the KL is Z = {K.Z} times too small: averaged over the Z latents, where the KL sums them",
        "the-kl-divergence-klqzx--n0-i"),
    "a transposed weight gradient": (
        "layers.py", "Linear.backward", LINEAR_BACKWARD.format(dW="dout.T @ self.x", db="dout.sum(axis=0)"), 2,
        "dW is transposed", "linear"),
    "a sign flip": (
        "losses.py", "gaussian_nll", "loss = -float(np.sum(gaussian_log_likelihood(x_hat, x, sigma))) / N\n"
        "dx_hat = (x - x_hat) / (sigma * sigma * N)", 9, "dx_hat has the wrong sign",
        "gaussian-negative-log-likelihood"),
    "a missing 1/2 in the KL": (
        "losses.py", "kl_normal_std_normal", "var = np.exp(logvar)\nkl = np.sum(mu * mu + var - 1 - logvar) / N\n"
        "dmu = 2 * mu / N\ndlogvar = (var - 1) / N", 10, "the KL misses the 1/2", "the-kl-divergence-klqzx--n0-i"),
    "sigma used where log sigma^2 is meant (numpy-ml's bug)": (
        "reparam.py", "reparameterize", "std = np.exp(logvar)\nz = mu + std * eps", 12,
        "exp(logvar) is sigma^2, not sigma (numpy-ml's bug)", "the-reparameterization-z--mu--std--eps"),
    "the bias gradient averaged": (
        "layers.py", "Linear.backward", LINEAR_BACKWARD.format(dW="self.x.T @ dout", db="dout.mean(axis=0)"), 2,
        "db is averaged over the batch", "linear"),
    "the ReLU mask taken from the output's gradient": (
        "layers.py", "ReLU.backward", "return dout * (dout > 0)", 3, "dx takes its mask from dout", "relu"),
    "the ReLU's output used as its mask": (
        "layers.py", "ReLU.backward", "return dout * self.out", 3,
        "dx multiplies dout by the output's values; the derivative is the 0/1 mask", "relu"),
    "Adam without bias correction": (
        "optim.py", "Adam.step", ADAM_MOMENTS + "theta -= lr * self.m / (np.sqrt(self.v) + eps)", 6,
        "are Adam's without the bias correction", ADAM),
    "Adam's moments exchanged (m and v)": (
        "optim.py", "Adam.step", "self.v = b1 * self.v + (1 - b1) * g\nself.m = b2 * self.m + (1 - b2) * g * g\n"
        "m_hat = self.v / (1 - b1 ** t)\nv_hat = self.m / (1 - b2 ** t)\n"
        "theta -= lr * m_hat / (np.sqrt(v_hat) + eps)", 6,
        "m (self.m) holds the other moment: m and v are exchanged", ADAM),
    "Adam's first moment without its (1 - b1)": (
        "optim.py", "Adam.step", ADAM_MOMENTS.replace("(1 - b1) * g", "g") + ADAM_STEP, 6,
        "m (self.m) misses the (1 - b1)", ADAM),
    "the Bernoulli loss through log(sigmoid), lost at large logits": (
        "losses.py", "bernoulli_nll", "s = 1 / (1 + np.exp(-logits))\n"
        "loss = -np.sum(x * np.log(s) + (1 - x) * np.log(1 - s)) / N\ndlogits = (s - x) / N", 8,
        "at logits of +-40", "binary-cross-entropy-from-logits"),
    "the Bernoulli gradient through sigmoid(-l)": (
        "losses.py", "bernoulli_nll",
        "loss = np.sum(np.maximum(logits, 0) - logits * x + np.log(1 + np.exp(-np.abs(logits)))) / N\n"
        "dlogits = (sigmoid(-logits) - x) / N", 8, "dlogits is sigmoid(-l) - x", "binary-cross-entropy-from-logits"),
    "the reparameterization's backward without eps": (
        "reparam.py", "reparameterize_backward", "dmu = dz\ndlogvar = dz * 0.5 * std", 13,
        "dlogvar leaves out eps", "the-reparameterization-z--mu--std--eps"),
    "a KL that writes into mu, the caller's array": (
        "losses.py", "kl_normal_std_normal", "var = np.exp(logvar)\nsq = np.square(mu, out=mu)\n"
        "kl = 0.5 * float(np.sum(sq + var - 1 - logvar)) / N\ndmu = mu / N\ndlogvar = 0.5 * (var - 1) / N", 10,
        "kl_normal_std_normal wrote into mu, which belongs to the caller", "the-kl-divergence-klqzx--n0-i"),
    "a Linear backward that writes into dout": (
        "layers.py", "Linear.backward", "dout *= 1.5\n" + LINEAR_BACKWARD.format(dW="self.x.T @ dout / 1.5",
                                                                                db="dout.sum(axis=0) / 1.5"), 2,
        "Linear.backward wrote into dout, which belongs to the caller", "linear"),
}
#: the other half of an exercise whose mistake is planted in one of its functions: written correctly
PARTNERS = {"ReLU.backward": ("ReLU.forward", "self.out = np.maximum(x, 0)")}


@pytest.mark.slow
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_planted_common_mistake_gets_its_named_feedback_and_its_section(copy, mistake):
    file, function, code, number, named, anchor = MISTAKES[mistake]
    plant(copy, file, function, code)
    if function in PARTNERS:
        plant(copy, file, *PARTNERS[function])
    verdicts, _, _ = grade(copy)
    verdict, detail = verdicts[number]
    assert verdict == "fail" and named in detail and f"(see docs/derivations.md#{anchor})" in detail, detail


def test_the_partners_written_correctly_pass(copy):
    # the correct halves the mistakes above are planted beside, graded with a correct other half
    for function, (partner, code) in PARTNERS.items():
        plant(copy, "layers.py", partner, code)
    plant(copy, "layers.py", "ReLU.backward", "return dout * (self.out > 0)")
    # and the lines the Adam mistakes above change, written as the derivation has them
    plant(copy, "optim.py", "Adam.step", ADAM_MOMENTS + ADAM_STEP)
    verdicts, _, _ = grade(copy)
    assert verdicts[3][0] == verdicts[6][0] == "pass"


def test_the_mistakes_that_span_a_forward_and_its_backward_are_named(copy):
    # the Sigmoid's derivative written with its input x where its output s belongs, and a ReLU mask
    # x >= 0, which passes the gradient at the kink x = 0 (the statement gives it 0; the checks put
    # inputs exactly there)
    plant(copy, "layers.py", "Sigmoid.forward", "self.x = x\nself.out = sigmoid(x)")
    plant(copy, "layers.py", "Sigmoid.backward", "return dout * self.x * (1 - self.x)")
    plant(copy, "layers.py", "ReLU.forward", "self.mask = x >= 0\nself.out = np.maximum(x, 0, out=x if self.inplace "
                                             "else None)")
    plant(copy, "layers.py", "ReLU.backward", "return dout * self.mask")
    verdicts, _, _ = grade(copy)
    assert verdicts[4][0] == "fail" and "dx is written with the input x where the output s belongs" in verdicts[4][1]
    assert verdicts[3][0] == "fail" and "dx passes the gradient at the kink x = 0" in verdicts[3][1]


@pytest.mark.slow
def test_a_syntax_error_names_its_own_file_and_line_in_every_exercise_it_stops(copy):
    solve(copy, skip={"Linear.forward"})
    plant(copy, "layers.py", "Linear.forward", "out = (x @ self.params['W']")
    line = next(i for i, text in enumerate((copy / "tinyvae" / "layers.py").read_text().splitlines(), 1)
                if text.strip() == "out = (x @ self.params['W']")
    verdicts, _, _ = grade(copy)
    for number in (1, 2, 3, 4):
        verdict, detail = verdicts[number]
        assert verdict == "fail" and detail.startswith("layers.py does not import: SyntaxError") and \
            f"(layers.py line {line})" in detail, detail
    # models.py imports layers.py: it says so, and names layers.py's line, not its own
    assert verdicts[14][1].startswith("models.py does not import: SyntaxError") and f"(layers.py line {line})" in \
        verdicts[14][1]
    assert {verdicts[n][0] for n in (5, 6, 7, 8, 9, 10, 12, 13)} == {"pass"}


@pytest.mark.slow
def test_hard_coded_sizes_fail_on_the_teachers_seed(copy):
    # a reshape to check's own batch size passes check's seed and fails a seed the copy cannot know
    plant(copy, "layers.py", "Linear.forward", f"out = x.reshape({K.N}, -1) @ self.params['W'] + self.params['b']")
    assert grade(copy)[0][1][0] == "fail"             # N = 1 is among check's own sizes too
    other = next(seed for seed in range(1, 100) if draw(seed).N != K.N)
    verdict, detail = grade(copy, seed=other)[0][1]
    assert verdict == "fail" and "reshape" in detail


# --- a student's code misbehaving ------------------------------------------------------------------------
@pytest.mark.slow
def test_a_hanging_exercise_times_out_and_the_grader_moves_on(copy):
    plant(copy, "layers.py", "Linear.forward", "while True:\n    pass")
    plant(copy, "layers.py", "Linear.backward",        # a loop that catches every Exception still stops
          "while True:\n    try:\n        pass\n    except Exception:\n        pass")
    restore(copy, "noise.py")                         # a later exercise, done: it is still graded
    verdicts, code, lines = grade(copy, time_limit=0.5)
    for number in (1, 2):
        verdict, detail = verdicts[number]
        assert verdict == "fail" and detail.startswith("did not finish within 0.5 s") and "layers.py line" in detail
    assert verdicts[7][0] == "pass" and len(lines) == len(E.CATALOGUE) + 1
    assert code == 1


def test_code_that_raises_prints_or_returns_the_wrong_shape_gets_one_line_and_the_grader_goes_on(copy):
    plant(copy, "losses.py", "bernoulli_nll", "raise ValueError('not today')")
    plant(copy, "layers.py", "Sigmoid.forward", "print('debugging', x.shape)\nself.out = sigmoid(x)")
    plant(copy, "layers.py", "Sigmoid.backward", "return dout * self.out * (1 - self.out)")
    plant(copy, "reparam.py", "reparameterize", "std = np.exp(0.5 * logvar)\nz = (mu + std * eps).T")
    plant(copy, "objectives.py", "elbo", "import sys\nsys.exit(3)")
    verdicts, code, lines = grade(copy)
    assert len(lines) == len(E.CATALOGUE) + 1
    assert verdicts[8][0] == "fail" and re.fullmatch(r"raised ValueError: not today \(losses.py line \d+\) "
                                                     r"\(see docs/derivations.md#binary-cross-entropy-from-logits\)",
                                                     verdicts[8][1])
    assert verdicts[4][0] == "pass" and "it printed" in verdicts[4][1]
    assert verdicts[12][0] == "fail"
    assert "z has shape (3, 100000), expected (100000, 3); it is transposed" in verdicts[12][1]
    assert verdicts[11][0] == "fail" and verdicts[11][1].startswith("raised SystemExit: 3")
    assert code == 1


# --- the command line and PYTHONPATH ----------------------------------------------------------------------
def run(*argv, env=None, cwd=None):
    """Python in a subprocess; from a folder other than the repository's, whose ./tinyvae ``python -m``
    would put before PYTHONPATH."""
    import os
    import tempfile
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd or tempfile.gettempdir(),
                          env=dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", **(env or {})))


def test_check_refuses_a_folder_that_holds_no_student_copy(tmp_path, capsys):
    assert main(["exercises", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no tinyvae/ package" in err[0] and "tinyvae exercises make" in err[0]


@pytest.mark.slow
def test_pythonpath_runs_the_lessons_and_the_commands_on_the_students_code(copy, tmp_path):
    env = {"PYTHONPATH": str(copy)}
    fresh = run("-m", "tinyvae", "gradcheck", env=env)
    assert fresh.returncode == 1, fresh.stderr
    assert fresh.stderr.strip() == ("tinyvae: error: exercise 1: Linear forward is not done yet; "
                                    "'tinyvae exercises check DIR' grades the copy in DIR")
    lesson = run(str(ROOT / "lessons" / "01_autoencoder.py"), "--quick", "--out", str(tmp_path / "out"), env=env)
    assert lesson.returncode == 1 and lesson.stderr.strip().splitlines() == [
        f"lesson stopped: exercise 1: Linear forward is not done yet, and this lesson needs it; "
        f"'tinyvae exercises check {copy}' says where it is"], lesson.stderr
    assert "--- 1." not in lesson.stdout                    # before any step of the lesson
    # a copy can not grade itself: the grader needs the reference's solutions
    itself = run("-m", "tinyvae", "exercises", "check", str(copy), env=env)
    assert itself.returncode == 2 and "has no solutions to grade against" in itself.stderr
    assert len(itself.stderr.strip().splitlines()) == 1
    for file in FILES:                                # the student has done every exercise
        restore(copy, file)
    which = run("-c", "import tinyvae.layers; print(tinyvae.layers.__file__)", env=env)
    assert which.stdout.strip() == str(copy / "tinyvae" / "layers.py")
    assert run("-m", "tinyvae", "gradcheck", env=env).returncode == 0
    # a wrong Sigmoid backward (written with the input) trains silently in a lesson unless it is
    # checked first: the lesson names the gradient before it trains
    layers = copy / "tinyvae" / "layers.py"
    right = layers.read_text()
    assert right.count("return dout * self.out * (1 - self.out)") == 1
    layers.write_text(right.replace("return dout * self.out * (1 - self.out)", "return dout * self.out * self.out"))
    wrong = run(str(ROOT / "lessons" / "01_autoencoder.py"), "--quick", "--out", str(tmp_path / "out"), env=env)
    assert wrong.returncode == 1 and "--- 1." not in wrong.stdout
    assert wrong.stderr.startswith("lesson stopped: the gradient of Sigmoid disagrees with central differences")
    layers.write_text(right)
    assert run(str(ROOT / "lessons" / "00_gradient_check.py"), "--quick", "--out", str(tmp_path / "out"),
               env=env).returncode == 0
