"""The finite-difference checker: every hand-derived gradient against central differences.

The numerical derivative of a scalar f at x, one coordinate i at a time, in float64::

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)         error O(h^2)

A layer maps arrays to arrays, so it is checked through the scalar ``f(x) = sum(layer(x) * G)``
with a *random* upstream gradient G (the CS231n trick): its gradient is exactly what
``backward(G)`` returns, and a random G exercises every row of the Jacobian at once.

The error reported is relative to the size of the gradient::

    rel_error(a, b) = max|a - b| / max(1e-8, max(|a| + |b|))

(maximum over all entries, so one entry that happens to be near zero does not blow it up).
In float64 a correct gradient scores about 1e-9 to 1e-11; a wrong one scores near 1.
See ``docs/derivations.md`` for the derivations it checks, and ``lessons/00_gradient_check.py``.
"""
import numpy as np

from . import layers as L
from . import losses
from .models import VAE, Autoencoder, DenoisingAutoencoder
from .iwae import IWAE
from .kl_decomposition import total_correlation_mws
from .objectives import TCVAE, Capacity, FixedBeta, KLTarget, step_loss
from .reparam import reparameterize, reparameterize_backward

#: a model or layer gradient passes when its relative error is at most this
TOLERANCE = 1e-6


def rel_error(a, b):
    """max|a - b| / max(1e-8, max(|a| + |b|)), over all entries."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def numerical_gradient(f, x, h=1e-6):
    """Central differences of the scalar ``f()`` with respect to the array ``x``, in place.

    ``x`` is perturbed one entry at a time and restored; ``f`` must read it (it is usually a
    parameter array of the model that ``f`` evaluates).
    """
    if x.dtype != np.float64:
        raise TypeError("finite differences need float64; convert with model.astype(np.float64)")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)     # views
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def check_layer(layer, x, rng, h=1e-6):
    """Relative errors of ``dx`` and of each parameter gradient of ``layer`` at ``x``.

    Returns ``{"x": err, "W": err, ...}``.
    """
    x = np.array(x, dtype=np.float64)
    out = layer.forward(x)
    G = rng.standard_normal(out.shape)               # random upstream gradient
    for g in layer.grads.values():
        g.fill(0)
    G_before = G.copy()
    dx = layer.backward(G)
    if not np.array_equal(G, G_before):
        raise AssertionError(f"{type(layer).__name__}.backward wrote into dout")
    analytic = {name: g.copy() for name, g in layer.grads.items()}

    def f():
        return float(np.sum(layer.forward(x) * G))

    errors = {"x": rel_error(dx, numerical_gradient(f, x, h))}
    for name, p in layer.params.items():
        errors[name] = rel_error(analytic[name], numerical_gradient(f, p, h))
    return errors


def check_loss(loss_fn, pred, target, h=1e-6):
    """Relative error of the gradient a loss returns, ``loss_fn(pred, target) -> (value, dpred)``."""
    pred = np.array(pred, dtype=np.float64)
    _, dpred = loss_fn(pred, target)
    return rel_error(dpred, numerical_gradient(lambda: loss_fn(pred, target)[0], pred, h))


def check_kl(mu, logvar, h=1e-6):
    """Relative errors of the analytic KL's gradients: ``{"mu": err, "logvar": err}``."""
    mu, logvar = np.array(mu, dtype=np.float64), np.array(logvar, dtype=np.float64)
    _, dmu, dlogvar = losses.kl_normal_std_normal(mu, logvar)

    def f():
        return losses.kl_normal_std_normal(mu, logvar)[0]

    return {"mu": rel_error(dmu, numerical_gradient(f, mu, h)),
            "logvar": rel_error(dlogvar, numerical_gradient(f, logvar, h))}


def check_reparameterization(mu, logvar, eps, rng, h=1e-6):
    """Relative errors of z = mu + exp(logvar/2) * eps's backward, with eps held fixed."""
    mu, logvar = np.array(mu, dtype=np.float64), np.array(logvar, dtype=np.float64)
    eps = np.asarray(eps, dtype=np.float64)
    G = rng.standard_normal(mu.shape)                # random upstream dz
    _, std = reparameterize(mu, logvar, eps)
    dmu, dlogvar = reparameterize_backward(G, eps, std)

    def f():
        return float(np.sum(reparameterize(mu, logvar, eps)[0] * G))

    return {"mu": rel_error(dmu, numerical_gradient(f, mu, h)),
            "logvar": rel_error(dlogvar, numerical_gradient(f, logvar, h))}


def check_model(model, x, h=1e-6, **fixed):
    """Relative error of all of a model's parameter gradients on minibatch ``x``.

    ``fixed`` holds the model's randomness fixed (``eps=`` for a VAE, ``x_tilde=`` for a
    DAE), so the loss is a deterministic function of the parameters; a VAE's may name its
    ``beta`` too.  The model must be
    float64 (``model.astype(np.float64)``).
    """
    model.loss_and_grad(x, **fixed)
    analytic = model.grad.copy()
    numeric = numerical_gradient(lambda: model.loss_and_grad(x, **fixed).total, model.theta, h)
    return rel_error(analytic, numeric)


def check_objective(model, objective, t, x, h=1e-6, **fixed):
    """Relative error of the gradient the trainer takes under ``objective`` at step ``t``:
    ``model.backward(kl_weight, latent_grads)``, with ``(total, kl_weight, latent_grads) =
    step_loss(objective, recon, kl, t, model.latents())`` (the trainer's one code path),
    against central differences of that total (``fixed`` as for :func:`check_model`)."""
    def total():
        recon, kl = model.forward(x, **fixed)
        return step_loss(objective, recon, kl, t, model.latents())

    _, kl_weight, latent_grads = total()
    model.backward(kl_weight, *([] if latent_grads is None else [latent_grads]))
    analytic = model.grad.copy()
    numeric = numerical_gradient(lambda: total()[0], model.theta, h)
    return rel_error(analytic, numeric)


def check_iwae(model, objective, x, eps, h=1e-6):
    """Relative error of the gradient :class:`tinyvae.iwae.IWAE`'s backward sets, -L_K_hat's over all
    of a float64 model's parameters, with its K draws ``eps`` (K, N, Z) held fixed."""
    objective.forward(model, x, eps=eps)
    objective.backward(model)
    analytic = model.grad.copy()
    numeric = numerical_gradient(lambda: objective.forward(model, x, eps=eps).total, model.theta, h)
    return rel_error(analytic, numeric)


def check_total_correlation(z, mu, logvar, dataset_size, h=1e-6):
    """Relative errors of the MWS total correlation's direct gradients (dz, dmu, dlogvar)."""
    z, mu, logvar = (np.array(a, dtype=np.float64) for a in (z, mu, logvar))
    _, dz, dmu, dlogvar = total_correlation_mws(z, mu, logvar, dataset_size)

    def f():
        return total_correlation_mws(z, mu, logvar, dataset_size)[0]

    return {"z": rel_error(dz, numerical_gradient(f, z, h)),
            "mu": rel_error(dmu, numerical_gradient(f, mu, h)),
            "logvar": rel_error(dlogvar, numerical_gradient(f, logvar, h))}


def min_relu_input(model):
    """Smallest |input| of any ReLU in the last forward pass (far from 0 = off the kink)."""
    pre = [prev.x @ prev.params["W"] + prev.params["b"]           # the ReLU's input, recomputed
           for seq in (model.encoder, model.decoder)
           for prev, layer in zip(seq.layers, seq.layers[1:]) if isinstance(layer, L.ReLU)]
    return min((float(np.min(np.abs(p))) for p in pre), default=np.inf)


# --- everything, for `tinyvae gradcheck` ---------------------------------------------------------
def run_all(seed=0):
    """Check every layer, loss, the KL, the reparameterization and every model.

    Returns a list of ``(component, max relative error)`` rows.
    """
    rng = np.random.default_rng(seed)
    f64 = np.float64
    N, D, H, Z = 5, 12, 8, 3
    rows = []

    def layer_row(name, layer, x):
        rows.append((name, max(check_layer(layer, x, rng).values())))

    # ReLU inputs are kept at least 0.1 from the kink at 0, where it has no derivative
    off_kink = rng.uniform(0.1, 2.0, (N, D)) * rng.choice([-1.0, 1.0], (N, D))
    layer_row("Linear", L.Linear(D, H, rng, f64), rng.standard_normal((N, D)))
    layer_row("ReLU", L.ReLU(), off_kink)
    layer_row("Sigmoid", L.Sigmoid(), 3 * rng.standard_normal((N, D)))
    layer_row("Sequential(Linear, ReLU, Linear)",
              L.Sequential(L.Linear(D, H, rng, f64), L.ReLU(), L.Linear(H, 4, rng, f64)),
              rng.standard_normal((N, D)))

    x01 = rng.uniform(0, 1, (N, D))                  # targets in [0, 1]
    pred = rng.standard_normal((N, D))
    rows.append(("MSE loss", check_loss(losses.mse, pred, x01)))
    rows.append(("Gaussian NLL (sigma=0.3)",
                 check_loss(lambda p, t: losses.gaussian_nll(p, t, 0.3), pred, x01)))
    rows.append(("Bernoulli NLL from logits", check_loss(losses.bernoulli_nll, 4 * pred, x01)))

    mu, logvar = rng.standard_normal((N, Z)), 0.5 * rng.standard_normal((N, Z))
    rows.append(("KL(q || N(0, I))", max(check_kl(mu, logvar).values())))
    rows.append(("reparameterization z = mu + sigma*eps",
                 max(check_reparameterization(mu, logvar, rng.standard_normal((N, Z)), rng).values())))

    x = rng.uniform(0, 1, (N, D))
    models = [("AE (BCE)", Autoencoder(D, (H,), Z, likelihood="bernoulli", rng=rng, dtype=f64), {}),
              ("AE (MSE)", Autoencoder(D, (H,), Z, likelihood="gaussian", rng=rng, dtype=f64), {})]
    for kind in ("mask", "gaussian", "saltpepper"):
        dae = DenoisingAutoencoder(D, (H,), Z, noise=kind, noise_level=0.3, rng=rng, dtype=f64)
        models.append((f"DAE ({kind} noise)", dae, {"x_tilde": dae.corrupt(x, rng)}))
    eps = rng.standard_normal((N, Z))
    for name, lik, beta in [("VAE (Bernoulli)", "bernoulli", 1.0), ("VAE (Gaussian)", "gaussian", 1.0),
                            ("beta-VAE (beta=4, Bernoulli)", "bernoulli", 4.0)]:
        vae = VAE(D, (H, H), Z, likelihood=lik, sigma=0.5, rng=rng, dtype=f64)
        models.append((name, vae, {"eps": eps, "beta": beta}))
    for name, model, fixed in models:
        rows.append((f"{name}: all parameters", check_model(model, x, **fixed)))
    # the beta-VAE objectives of tinyvae.objectives, each at one step of its schedule
    for name, objective, t in [("KL warm-up (beta 4, step 3 of 10)", FixedBeta(4.0, warmup_steps=10), 3),
                               ("constrained KL < 2 (beta after dual ascent)", KLTarget(2.0, eta=0.5), 0),
                               ("capacity gamma |KL - C|, C = 0.5", Capacity(1.0, steps=10, gamma=10.0), 5)]:
        vae = VAE(D, (H,), Z, rng=rng, dtype=f64)
        if isinstance(objective, KLTarget):            # take one dual-ascent step on beta first
            objective.after_step(vae.forward_loss(x, eps=eps))
        rows.append((f"{name}: all parameters", check_objective(vae, objective, t, x, eps=eps)))
    # beta-TCVAE: the minibatch-weighted TC's own gradient, then through the whole model
    z_tc = mu + np.exp(0.5 * logvar) * rng.standard_normal((N, Z))
    rows.append(("total correlation (MWS) into z, mu, logvar",
                 max(check_total_correlation(z_tc, mu, logvar, dataset_size=100).values())))
    vae = VAE(D, (H,), Z, rng=rng, dtype=f64)
    rows.append(("beta-TCVAE, TC weight 6 (MWS): all parameters",
                 check_objective(vae, TCVAE(6.0, dataset_size=100), 0, x, eps=eps)))
    # the importance-weighted bound with K = 4 draws per example, as trained and in Burda et al.'s form
    eps_k = rng.standard_normal((4, N, Z))
    for name, lik, analytic in [("IWAE, K = 4 (ELBO + Jensen gap, as trained)", "bernoulli", True),
                                ("IWAE, K = 4 (Burda et al.'s log-mean-exp)", "bernoulli", False),
                                ("IWAE, K = 4, Gaussian (ELBO + Jensen gap)", "gaussian", True)]:
        vae = VAE(D, (H, H), Z, likelihood=lik, sigma=0.5, rng=rng, dtype=f64)
        rows.append((f"{name}: all parameters", check_iwae(vae, IWAE(4, analytic_kl=analytic), x, eps_k)))
    return rows


def format_table(rows):
    """The table `tinyvae gradcheck` prints; its last line is ``max relative error: <e>``."""
    width = max(len(name) for name, _ in rows)
    lines = [f"{'component':<{width}}  max rel. error  ok", "-" * (width + 20)]
    for name, err in rows:
        lines.append(f"{name:<{width}}  {err:14.3e}  {'yes' if err <= TOLERANCE else 'NO'}")
    lines.append(f"max relative error: {max(err for _, err in rows):.3e}")
    return "\n".join(lines)
