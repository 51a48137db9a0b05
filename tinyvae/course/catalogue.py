"""``tinyvae exercises``: the hand-derived lines of the lecture as a course, and a student copy of it.

The lecture's modules mark the lines a student should derive with nbgrader's comment pair, a line
``### BEGIN SOLUTION`` before them and a line ``### END SOLUTION`` after them.  They are
comments, so the package runs exactly as without them.  :data:`CATALOGUE` names
each exercise (numbered in the lecture's order), the functions that hold its regions, and
its statement; ``tinyvae exercises make DIR`` writes a copy of the package to ``DIR/tinyvae``
with each region replaced by the statement and ``raise NotImplementedError("exercise N:
<title>")``, and ``tinyvae exercises check DIR`` grades it (:mod:`.grade`).
A region belongs to the exercise whose function holds it, so a region added to a function
the catalogue does not name is refused (:func:`package_regions`), not silently dropped.
"""
import ast
import os
import shlex
import shutil
import tempfile
import textwrap
from pathlib import Path
from typing import NamedTuple

from ..base.errors import TinyVAEError, UsageError, command
from . import checks_ae as ae, checks_vae as vae

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
#: the source of the package whose solutions a copy is made from, and that grades one
PACKAGE = Path(__file__).resolve().parent.parent
DERIVATIONS = "docs/derivations.md"
#: the file ``make`` leaves in a student's copy, so the lessons know to check its gradients first
COPY_MARK = "STUDENT_COPY.txt"


def is_student_copy(root=PACKAGE):
    """Whether the package at ``root`` is a student's copy (made by ``make``), not the reference."""
    return Path(root, COPY_MARK).exists()


class Exercise(NamedTuple):
    """One exercise, its one record: what a student writes, where, the derivation, the check."""

    number: int
    title: str
    file: str            # the module under tinyvae/, e.g. "layers.py"
    parts: dict          # {qualified name of a function holding a region: what to compute there}
    hint: str            # a step of the derivation, in docs/derivations.md's symbols
    anchor: str          # the section of docs/derivations.md
    check: object        # the check (S, R, K) -> detail, of checks_ae or checks_vae; raises checks.Fail
    points: int = 1      # what a pass is worth in a grade: 2 for a backward pass derived by hand

    @property
    def where(self):
        """The section that derives it, as feedback and statements cite it."""
        return f"{DERIVATIONS}#{self.anchor}"

    @property
    def label(self):
        """"exercise 3: ReLU forward and backward": how the statement's raise, the grader and the
        command line name it (:func:`not_done`, :func:`is_not_done`)."""
        return f"exercise {self.number}: {self.title}"


def not_done(ex):
    """The ``raise`` line a student copy holds in place of each of the exercise's regions."""
    return f'raise NotImplementedError("{ex.label}")'


def is_not_done(err):
    """Whether ``err`` is the NotImplementedError of an unfinished exercise (:func:`not_done`)."""
    return isinstance(err, NotImplementedError) and any(str(err) == ex.label for ex in CATALOGUE)


CATALOGUE = (
    Exercise(1, "Linear forward", "layers.py", {
        "Linear.forward": "Compute out (N, D_out) from x (N, D_in), W = self.params['W'] (D_in, D_out) and "
                          "b = self.params['b'] (D_out,). (self.x = x above keeps x for backward.)"},
        "out[n, j] = sum_i x[n, i] W[i, j] + b[j]: one matrix product, and b added to every row "
        "(NumPy broadcasts (D_out,) over the N rows).", "linear", ae.check_linear_forward),
    Exercise(2, "Linear backward", "layers.py", {
        "Linear.backward": "Given dout (N, D_out), add dW (D_in, D_out) into self.grads['W'] and db (D_out,) "
                           "into self.grads['b'] in place (+=: they are views into the model's one gradient "
                           "buffer), and return dx (N, D_in), or None when need_dx is False. Never write "
                           "into dout."},
        "W[i, j] meets x[n, i] in out[n, j] for every row n, so dW[i, j] = sum_n x[n, i] dout[n, j]; "
        "each gradient has the shape of what it differentiates. The batch mean's 1/N is already in dout.",
        "linear", ae.check_linear_backward, points=2),
    Exercise(3, "ReLU forward and backward", "layers.py", {
        "ReLU.forward": "Compute self.out = max(x, 0) (N, D), keeping on self what backward needs. With "
                        "self.inplace, write the result over x (np.maximum's out=); otherwise leave x as it is.",
        "ReLU.backward": "Return dx (N, D), the gradient with respect to the input x, given dout (N, D)."},
        "out = f(x) elementwise gives dx = dout * f'(x) (Conventions); f' is 1 where x > 0 and 0 elsewhere, "
        "the kink x = 0 included.", "relu", ae.check_relu),
    Exercise(4, "Sigmoid forward and backward", "layers.py", {
        "Sigmoid.forward": "Compute self.out = s(x) = 1 / (1 + exp(-x)) (N, D) in x's dtype, with no overflow "
                           "for any x (float32 overflows exp beyond 88).",
        "Sigmoid.backward": "Return dx (N, D) given dout (N, D)."},
        "the function sigmoid(x) below exponentiates only -|x|; ds/dx can be written with s alone, since "
        "1 - s = exp(-x) / (1 + exp(-x)).", "sigmoid", ae.check_sigmoid),
    Exercise(5, "the squared error L_AE", "losses.py", {
        "mse": "Compute loss = (1/N) sum_n sum_d (x - x_hat)^2, one float, and dx_hat = d loss / d x_hat "
               "(N, D) in x_hat's dtype."},
        "summed over the D pixels and averaged over the N examples: the 1/N enters the gradient once, here.",
        "mse", ae.check_mse),
    Exercise(6, "Adam's step", "optim.py", {
        "Adam.step": "Update the moments self.m (P,), the running mean of g, and self.v (P,), that of g^2; "
                     "correct their bias into m_hat and v_hat (P,); then step theta (P,) in place (it is the "
                     "model's own array). t counts steps from 1; g, b1, b2, lr and eps are set above."},
        "m and v start at 0, so m_t = (1 - b1) sum_k b1^(t-k) g_k has mean (1 - b1^t) E[g]: divide m by "
        "1 - b1^t, and v by 1 - b2^t, to undo that pull towards 0.",
        "adam-the-moments-and-their-bias-correction", ae.check_adam, points=2),
    Exercise(7, "the DAE's masking corruption", "noise.py", {
        "masking": "Return x_tilde (N, D): x with each pixel set to 0 independently with probability rate, in "
                   "x's dtype, drawn from rng (never np.random); leave x itself unchanged."},
        "keep a pixel where a uniform draw u ~ U[0, 1) is >= rate, so P(keep) = 1 - rate; the kept pixels "
        "keep their values (no rescaling, unlike dropout).", "the-daes-masking-corruption", ae.check_masking),
    Exercise(8, "the Bernoulli likelihood's gradient", "losses.py", {
        "bernoulli_nll": "From logits l (N, D) and x (N, D) in [0, 1], compute loss = (1/N) sum -[x log s(l) + "
                         "(1 - x) log(1 - s(l))] (one float) and dlogits = d loss / d l (N, D) in l's dtype, "
                         "finite and exact for any logit (|l| = 40 included); sigmoid(l) above never "
                         "overflows."},
        "write the loss in l: softplus(l) - x l, with softplus(l) = max(l, 0) + log(1 + exp(-|l|)) "
        "(exp only of -|l|); d softplus(l) / dl = sigmoid(l).", "binary-cross-entropy-from-logits", vae.check_bernoulli,
        points=2),
    Exercise(9, "the Gaussian likelihood's gradient", "losses.py", {
        "gaussian_nll": "Compute loss = -(1/N) sum_n log N(x_n; x_hat_n, sigma^2 I) (one float; "
                        "gaussian_log_likelihood above gives each example's log-density) and dx_hat = "
                        "d loss / d x_hat (N, D)."},
        "only ||x - x_hat||^2 / (2 sigma^2) depends on x_hat; with sigma^2 = 1/2 the gradient is the MSE's.",
        "gaussian-negative-log-likelihood", vae.check_gaussian),
    Exercise(10, "the analytic KL and its gradient", "losses.py", {
        "kl_normal_std_normal": "For q = N(mu, diag exp(logvar)), mu and logvar (N, Z), compute kl = (1/N) "
                                "sum_n KL(q_n || N(0, I)) (one float) and its gradients dmu (N, Z) and "
                                "dlogvar (N, Z)."},
        "E_q[log q(z) - log p(z)] per dimension, with var = exp(logvar) = sigma^2 and E_q[z^2] = var + mu^2; "
        "the KL's leading 1/2 stays in both gradients.", "the-kl-divergence-klqzx--n0-i", vae.check_kl,
        points=2),
    Exercise(11, "the ELBO", "objectives.py", {
        "elbo": "Return the ELBO from log_px_z = E_q[log p(x|z)] and kl = KL(q(z|x) || p(z)), arrays (N,) "
                "or floats, in their shape."},
        "log p(x) = ELBO + KL(q(z|x) || p(z|x)) >= ELBO, and a VAE's loss at beta = 1 is -ELBO.", "the-elbo", vae.check_elbo),
    Exercise(12, "the reparameterization's forward", "reparam.py", {
        "reparameterize": "Compute std = sigma (N, Z) from logvar = log sigma^2, and the sample z (N, Z) of "
                          "N(mu, diag sigma^2) from the given noise eps ~ N(0, I) (N, Z)."},
        "logvar is log sigma^2, not log sigma: exp(logvar) is the variance.",
        "the-reparameterization-z--mu--std--eps", vae.check_reparameterize),
    Exercise(13, "the reparameterization's backward", "reparam.py", {
        "reparameterize_backward": "Given dz (N, Z) and the forward's eps and std (N, Z), return dmu and "
                                   "dlogvar (N, Z each); eps is held fixed. Never write into dz."},
        "z = mu + std * eps with std = exp(0.5 * logvar): chain dz through d std / d logvar.",
        "the-reparameterization-z--mu--std--eps", vae.check_reparameterize_backward, points=2),
    Exercise(14, "the VAE's two paths into mu and logvar", "models.py", {
        "VAE.backward": "Fill dh (N, 2Z): its first Z columns with d total / d mu, its last Z with d total / "
                        "d logvar, for total = recon + kl_weight * kl. dmu, dlogvar (N, Z) came back through "
                        "z; dmu_kl, dlogvar_kl (N, Z) are the KL's own gradients."},
        "mu and logvar each reach the loss along two paths, the sample z and the KL: add the two gradients, "
        "the KL's weighted by kl_weight.", "the-whole-model-ae-dae-vae-and-beta-vae", vae.check_vae_backward, points=2),
    Exercise(15, "dual ascent on beta", "objectives.py", {
        "KLTarget.after_step": "After a training step whose KL was loss.kl (nats per example), update "
                               "self.beta, the Lagrange multiplier of KL <= self.delta, by one step of size "
                               "self.eta: it rises while the constraint is broken and never goes below 0."},
        "for F = E_q[log p(x|z)] - beta (KL - delta), dF/dbeta = -(KL - delta); beta takes a step that "
        "lowers F and is then clipped at 0.", "dual-ascent-on-beta", vae.check_dual_ascent),
)


class RegionError(TinyVAEError):
    """Solution markers that are not well formed, or that no exercise of the catalogue claims."""


class Region(NamedTuple):
    """One marked region: 1-based lines of its two markers, their indentation, and its function."""

    file: str
    begin: int
    end: int
    indent: str
    function: str


def find_regions(source, file):
    """Every ``### BEGIN SOLUTION`` / ``### END SOLUTION`` pair of ``source``, checked: paired, not
    nested, equally indented, not empty, and inside a function (its qualified name, "Linear.forward")."""
    regions, opened = [], None
    lines = source.splitlines()
    for i, line in enumerate(lines, 1):
        text = line.strip()
        if text not in (BEGIN, END):
            if text.startswith("#") and ("BEGIN SOLUTION" in text or "END SOLUTION" in text):
                raise RegionError(f"{file} line {i}: write a marker as '{BEGIN}' or '{END}', exactly")
            continue
        indent = line[:len(line) - len(line.lstrip())]
        if text == BEGIN:
            if opened:
                raise RegionError(f"{file} line {i}: {BEGIN} inside the region opened at line {opened[0]}")
            opened = (i, indent)
        else:
            if not opened:
                raise RegionError(f"{file} line {i}: {END} without a {BEGIN} before it")
            if indent != opened[1]:
                raise RegionError(f"{file} lines {opened[0]} and {i}: the two markers are indented differently")
            if not any(s.strip() for s in lines[opened[0]:i - 1]):
                raise RegionError(f"{file} line {opened[0]}: an empty solution region")
            regions.append((opened[0], i, indent))
            opened = None
    if opened:
        raise RegionError(f"{file} line {opened[0]}: {BEGIN} is never closed by {END}")
    spans = _function_spans(ast.parse(source, filename=file))
    out = []
    for begin, end, indent in regions:
        inside = [(b, e, name) for b, e, name in spans if b < begin <= e]   # (END may follow the last statement)
        if not inside:
            raise RegionError(f"{file} line {begin}: a solution region outside every function")
        out.append(Region(file, begin, end, indent, max(inside)[2]))     # the innermost function
    return out


def _function_spans(tree, prefix=""):
    """``[(first line, last line, qualified name)]`` of every function, methods as Class.method."""
    spans = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            spans.append((node.lineno, node.end_lineno, prefix + node.name))
            spans += _function_spans(node, prefix + node.name + ".")
        elif isinstance(node, ast.ClassDef):
            spans += _function_spans(node, prefix + node.name + ".")
    return spans


def package_regions(root=PACKAGE):
    """``{exercise number: [Region, ...]}`` over every module of the package at ``root``, checked
    against :data:`CATALOGUE`: each region belongs to one exercise, each exercise has its regions."""
    by_part = {(ex.file, part): ex for ex in CATALOGUE for part in ex.parts}
    found = {ex.number: [] for ex in CATALOGUE}
    for path in sorted(Path(root).rglob("*.py")):
        file = path.relative_to(root).as_posix()
        for region in find_regions(path.read_text(encoding="utf-8"), file):
            ex = by_part.get((file, region.function))
            if ex is None:
                raise RegionError(f"{file} line {region.begin}: a solution region in {region.function}, "
                                  f"which no exercise of tinyvae/course/catalogue.py names")
            found[ex.number].append(region)
    for ex in CATALOGUE:
        missing = set(ex.parts) - {r.function for r in found[ex.number]}
        if missing:
            raise RegionError(f"exercise {ex.number} ({ex.title}) has no solution region in "
                              f"{ex.file}: {', '.join(sorted(missing))}")
    return found


def statement(ex, function, indent, folder="DIR", width=100):
    """The comment block and the ``raise`` that replace one region of ``ex`` in a student copy
    (``folder``: the copy's folder, as the grading command names it)."""
    wrap = textwrap.TextWrapper(width=max(40, width - len(indent)), initial_indent="# ",
                                subsequent_indent="#   ")
    lines = [f"# Exercise {ex.number}: {ex.title}"]
    lines += wrap.wrap(ex.parts[function])
    lines += wrap.wrap("Hint: " + ex.hint)
    lines += [f"# Derivation: {ex.where}", f"# Grade it: {command('tinyvae', 'exercises', 'check', folder)}",
              not_done(ex)]
    return [indent + line + "\n" for line in lines]


def student_source(source, regions, folder="DIR"):
    """``source`` with each of its regions replaced by the exercise's statement and ``raise``."""
    by_part = {(ex.file, part): ex for ex in CATALOGUE for part in ex.parts}
    lines = source.splitlines(keepends=True)
    out, start = [], 0
    for r in sorted(regions, key=lambda r: r.begin):
        out += lines[start:r.begin - 1]
        out += statement(by_part[(r.file, r.function)], r.function, r.indent, folder)
        start = r.end
    return "".join(out + lines[start:])


def make(dest, root=PACKAGE):
    """Write a student copy of the package at ``root`` to ``dest/tinyvae``; return its regions.

    ``dest`` must not exist (it is never overwritten).  The copy is built in a temporary folder
    beside ``dest`` and renamed into place, so a failure leaves no half-made ``dest``.
    """
    folder, dest = dest, os.path.abspath(dest)
    root = Path(root).resolve()
    if os.path.lexists(dest):
        raise UsageError(f"{dest} already exists; name a new folder (make never writes over one)")
    if Path(dest) == root or root in Path(dest).parents:
        raise UsageError(f"{dest} is inside the package it copies ({root}); name a folder outside it")
    try:
        regions = package_regions(root)
    except RegionError as err:
        raise UsageError(f"cannot make exercises from {root}: {err} (is it a student copy itself?)") from None
    by_file = {}
    for rs in regions.values():
        for r in rs:
            by_file.setdefault(r.file, []).append(r)
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-exercises-", dir=parent)
    try:
        shutil.copytree(root, os.path.join(tmp, "tinyvae"), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for file, rs in by_file.items():
            path = Path(tmp, "tinyvae", file)
            path.write_text(student_source((root / file).read_text(encoding="utf-8"), rs, folder), encoding="utf-8")
        Path(tmp, "tinyvae", COPY_MARK).write_text(
            f"A student's copy of tinyvae, made by {command('tinyvae', 'exercises', 'make', folder)}.\nThe lessons "
            f"check its gradients before they train; {command('tinyvae', 'exercises', 'check', folder)} grades it.\n",
            encoding="utf-8")
        if os.path.lexists(dest):
            raise UsageError(f"{dest} appeared while the copy was made; name a new folder")
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return regions


def exercise_lines(copy_root):
    """``{exercise number: [line of each of its raises]}`` in a student copy's package folder."""
    lines = {ex.number: [] for ex in CATALOGUE}
    for ex in CATALOGUE:
        mark = not_done(ex)
        text = Path(copy_root, ex.file).read_text(encoding="utf-8").splitlines()
        lines[ex.number] = [i for i, line in enumerate(text, 1) if line.strip().startswith(mark)]
    return lines


def make_command(folder):
    """``tinyvae exercises make DIR``: write the copy and say where each exercise is."""
    make(folder)
    root = os.path.join(folder, "tinyvae")
    print(f"wrote a student copy of tinyvae to {root}: {len(CATALOGUE)} exercises, each a "
          f"'raise NotImplementedError' under its statement")
    where = exercise_lines(root)
    for ex in CATALOGUE:
        lines = ", ".join(str(n) for n in where[ex.number])
        print(f"  exercise {ex.number:2d}  {ex.title}  ({ex.file} line {lines})")
    print(f"grade it:            {command('tinyvae', 'exercises', 'check', folder)}")
    where = shlex.quote(os.path.abspath(folder))
    print(f"run it as tinyvae:   PYTHONPATH={where} python lessons/01_autoencoder.py   "
          f"(or PYTHONPATH={where} tinyvae gradcheck)")
    return 0
