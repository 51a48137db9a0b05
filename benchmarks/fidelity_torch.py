"""fidelity_torch.py: does tinyvae train the pytorch/examples VAE as well as PyTorch does? (issue 4)

The set-up of the pytorch/examples VAE: hidden 400, latent 20, Bernoulli decoder on [0, 1]
pixel intensities, Adam lr 1e-3, batch 128, here on the embedded ``digits`` (64 pixels, so
64-400-20; 1,498 train and 299 test images) for as many epochs as ``tinyvae train`` runs on
digits by default (100).  For each seed:

* tinyvae trains through ``tinyvae.train.Trainer`` exactly as ``tinyvae train`` does (one
  Generator seeded with the seed makes the weights, then shuffles and draws eps);
* PyTorch trains the reference model of ``compare_torch.py`` (nn.Linear's default init from
  ``torch.manual_seed(seed)``, a fresh ``randperm`` shuffle each epoch with the last partial
  batch kept, as DataLoader(shuffle=True) does, ``torch.randn`` eps, ``torch.optim.Adam``),
  with the loss BCE-with-logits summed over pixels + KL, averaged over the batch.
  (pytorch/examples sums over the batch instead of averaging; Adam is invariant to that
  scale up to its eps of 1e-8, so the two train alike.)

Both are then scored on the test split, in nats per example (lower is better):

* ``-ELBO own``: each framework's own loss code on the test set, averaged over ``--eval-draws``
  eps draws (the same draws, made by NumPy, for both);
* ``-ELBO`` and ``IW-NLL``: ``tinyvae.evaluate.evaluate_vae`` (float64, K = 200 importance
  samples) applied to both models, the PyTorch weights copied into a tinyvae VAE: one
  yardstick for both.

It prints mean +- sd over the seeds, and the difference of the means in units of its
standard error.  Agreement within noise means tinyvae's loss scaling and gradients give the
same optimisation as autograd's; a gap of several standard errors would point at a bug.

Run (needs the framework venv, see benchmarks/README.md)::

    benchmarks/.venv-frameworks/bin/python benchmarks/fidelity_torch.py [--epochs 100] [--seeds 0 1 2]
"""
import argparse
import statistics
import sys
import time

import numpy as np

from compare_torch import make_torch_vae, torch_loss

H, Z, B, LR = 400, 20, 128, 1e-3


def torch_into_tinyvae(net, D):
    """A tinyvae VAE holding ``net``'s weights: weight (D_out, D_in) -> W (D_in, D_out)."""
    from tinyvae.models import VAE

    model = VAE(D, (H,), Z, likelihood="bernoulli", rng=np.random.default_rng(0))
    linears = [model.encoder.layers[0], model.encoder.layers[2],
               model.decoder.layers[0], model.decoder.layers[2]]
    for layer, lin in zip(linears, [net.enc1, net.enc2, net.dec1, net.dec2]):
        layer.params["W"][...] = lin.weight.detach().numpy().T
        layer.params["b"][...] = lin.bias.detach().numpy()
    return model


def neg_elbo_tinyvae(model, x, eps_draws):
    """tinyvae's own loss on ``x``, averaged over the given eps draws: (-ELBO, recon, KL)."""
    losses = [model.loss_and_grad(x, eps=eps) for eps in eps_draws]
    return tuple(float(np.mean([getattr(l, k) for l in losses])) for k in ("total", "recon", "kl"))


def neg_elbo_torch(net, x, eps_draws):
    """PyTorch's loss on ``x``, averaged over the same eps draws: (-ELBO, recon, KL)."""
    import torch

    xt, out = torch.from_numpy(x), []
    with torch.no_grad():
        for eps in eps_draws:
            logits, mu, logvar = net(xt, torch.from_numpy(eps))
            out.append([float(t) for t in torch_loss(logits, xt, mu, logvar)])
    return tuple(float(v) for v in np.mean(out, axis=0))


def train_tinyvae(x_train, epochs, seed):
    """As ``tinyvae train --seed seed``: one Generator for the weights, the shuffles and eps."""
    from tinyvae.models import VAE
    from tinyvae.train import Trainer

    rng = np.random.default_rng(seed)
    model = VAE(x_train.shape[1], (H,), Z, likelihood="bernoulli", rng=rng)
    trainer = Trainer(model, rng, batch_size=B, lr=LR)
    for _ in range(epochs):
        trainer.train_epoch(x_train)
    return model


def train_torch(x_train, epochs, seed):
    """The pytorch/examples training loop, with the loss averaged over the batch."""
    import torch

    torch.manual_seed(seed)
    net = make_torch_vae(x_train.shape[1], H, Z)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    x = torch.from_numpy(x_train)
    N = x.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(N)
        for start in range(0, N, B):
            xb = x[perm[start:start + B]]
            opt.zero_grad()
            logits, mu, logvar = net(xb, torch.randn(xb.shape[0], Z))
            loss, _, _ = torch_loss(logits, xb, mu, logvar)
            loss.backward()
            opt.step()
    return net


def mean_sd(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main(argv=None):
    from tinyvae import data
    from tinyvae.evaluate import evaluate_vae
    from tinyvae.app.config import DEFAULT_EPOCHS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS["digits"],
                   help=f"default {DEFAULT_EPOCHS['digits']}, as tinyvae train on digits")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--eval-draws", type=int, default=20, help="eps draws averaged for the test -ELBO")
    p.add_argument("--iw-samples", type=int, default=200)
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("fidelity_torch.py needs PyTorch; see benchmarks/README.md for the framework venv", file=sys.stderr)
        return 2
    torch.set_num_threads(1)          # tiny 64-400-20 model: threads only add overhead here

    ds = data.load("digits")
    x_train, x_test = ds.x_train.astype(np.float32), ds.x_test.astype(np.float32)
    eps_rng = np.random.default_rng(12345)
    eps_draws = [eps_rng.standard_normal((x_test.shape[0], Z), dtype=np.float32) for _ in range(args.eval_draws)]
    train_eps = [eps_rng.standard_normal((x_train.shape[0], Z), dtype=np.float32)]   # one draw suffices there
    print(f"digits: {x_train.shape[0]} train / {x_test.shape[0]} test, {x_train.shape[1]}-{H}-{Z} VAE, "
          f"Bernoulli on [0,1], Adam {LR:g}, batch {B}, {args.epochs} epochs, seeds {args.seeds}; "
          f"torch {torch.__version__}")
    print("test split, nats per example (lower is better)")
    rows = {"tinyvae": [], "torch": []}
    for seed in args.seeds:
        for name in ("tinyvae", "torch"):
            t0 = time.perf_counter()
            if name == "tinyvae":
                model = train_tinyvae(x_train, args.epochs, seed)
                own = neg_elbo_tinyvae(model, x_test, eps_draws)
                own_train = neg_elbo_tinyvae(model, x_train, train_eps)
            else:
                net = train_torch(x_train, args.epochs, seed)
                own = neg_elbo_torch(net, x_test, eps_draws)
                own_train = neg_elbo_torch(net, x_train, train_eps)
                model = torch_into_tinyvae(net, x_train.shape[1])
                # the copy must score what the net scores: a check of the weight transfer itself
                copied = neg_elbo_tinyvae(model, x_test, eps_draws[:1])[0]
                direct = neg_elbo_torch(net, x_test, eps_draws[:1])[0]
                assert abs(copied - direct) < 1e-4 * abs(direct), (copied, direct)
            seconds = time.perf_counter() - t0
            ev = evaluate_vae(model, x_test, K=args.iw_samples, seed=0)
            rows[name].append({"own": own[0], "recon": own[1], "kl": own[2], "train": own_train[0],
                               "neg_elbo": ev["neg_elbo"], "iw_nll": ev["iw_nll"], "active": ev["active_units"]})
            print(f"  seed {seed} {name:>7}: -ELBO own {own[0]:7.3f} (recon {own[1]:7.3f}, KL {own[2]:6.3f}) | "
                  f"evaluate_vae -ELBO {ev['neg_elbo']:7.3f}, IW-NLL {ev['iw_nll']:7.3f}, "
                  f"active units {ev['active_units']:2d} | train -ELBO {own_train[0]:7.3f} | {seconds:.1f} s")

    print(f"\n| mean +- sd over {len(args.seeds)} seeds | test -ELBO (own code, {args.eval_draws} draws) | "
          f"test recon | test KL | test -ELBO (evaluate_vae) | test IW-NLL (K={args.iw_samples}) | "
          f"active units | train -ELBO |")
    print("|---|---|---|---|---|---|---|---|")
    keys = ("own", "recon", "kl", "neg_elbo", "iw_nll", "active", "train")
    for name in ("tinyvae", "torch"):
        cells = ["%.2f +- %.2f" % mean_sd([r[k] for r in rows[name]]) for k in keys]
        print(f"| {name} | " + " | ".join(cells) + " |")
    verdicts = []
    for k, label in (("own", "test -ELBO"), ("iw_nll", "test IW-NLL")):
        (m1, s1), (m2, s2) = mean_sd([r[k] for r in rows["tinyvae"]]), mean_sd([r[k] for r in rows["torch"]])
        se = ((s1 ** 2 + s2 ** 2) / len(args.seeds)) ** 0.5
        z = (m1 - m2) / se if se > 0 else float("inf")
        verdicts.append(abs(z) < 3)
        print(f"{label}: tinyvae - torch = {m1 - m2:+.3f} nats ({(m1 - m2) / m2:+.2%}), "
              f"{z:+.1f} standard errors of the difference")
    print("AGREE (within 3 standard errors)" if all(verdicts) else "DIFFER: investigate")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
