"""compare_torch.py: tinyvae's real training path against PyTorch autograd, step by step.

Both sides start from the same weights (tinyvae's ``theta`` copied into ``torch.nn.Linear``),
see the same minibatches and the same eps, and take 200 Adam steps (lr 1e-3, batch 128) in
float32.  tinyvae's side is ``tinyvae.train.Trainer.train_epoch``, the loop ``tinyvae train``
runs (gather by index, ``model.forward``, ``objective.loss``, ``model.backward``,
``Adam.step``); the only thing added is a thin wrapper around ``model.draw_noise`` that records
each eps the model draws from the trainer's Generator, and one around ``Trainer.step`` that
records the step's minibatch and loss.
PyTorch then replays the recorded minibatches and eps with autograd and ``torch.optim.Adam``.

If the per-step losses agree to 1e-4 relative over all 200 steps, the hand-written backward
and the fused Adam compute what autograd and PyTorch's Adam compute: any wrong gradient
entry or optimizer constant would make the two trajectories drift apart within a few steps.

Run (PyTorch is not a tinyvae dependency; see benchmarks/README.md for its venv)::

    benchmarks/.venv-frameworks/bin/python benchmarks/compare_torch.py                  # the test: 784-400-20, float32
    benchmarks/.venv-frameworks/bin/python benchmarks/compare_torch.py --data digits     # 64-400-20 on the embedded digits
    benchmarks/.venv-frameworks/bin/python benchmarks/compare_torch.py --dtype float64   # both sides in float64

The test is the default: the pytorch/examples 784-400-20 VAE on MNIST-shaped grey levels in
float32.  On ``--data digits`` the float32 rounding differences can grow past 1e-4 late in the
200 steps for some seeds (seed 0: 1.7e-4 at step 193; seeds 1-3: 5e-7 to 5e-5).  The
parameters that drift apart most are the first-layer weights of pixels that are non-zero in
only a handful of the 1,498 images (pixel 8: in 7), which Adam moves in full lr-sized steps
on rare, small gradients.  ``--dtype float64`` shows that the two computations are the same
up to rounding: about 1e-15 over the 200 steps, on either data.

It prints the largest relative difference and PASS or FAIL, and exits 1 on FAIL.
This file also holds the PyTorch reference VAE that throughput.py and fidelity_torch.py use.
"""
import argparse
import sys

import numpy as np

TOLERANCE = 1e-4          # largest allowed |loss_tinyvae - loss_torch| / |loss_torch| per step


# --- the PyTorch reference: the pytorch/examples VAE with tinyvae's layout ------------------------
def make_torch_vae(D, H, Z):
    """The pytorch/examples VAE (D-H-Z, ReLU, logits out) as an nn.Module.

    pytorch/examples has two heads fc21 / fc22 (H -> Z each); here they are one
    ``Linear(H, 2Z)`` whose first Z outputs are mu and last Z are logvar, which is the same
    function and matches tinyvae's encoder, so weights can be copied one to one.
    """
    import torch
    from torch import nn
    import torch.nn.functional as F

    class TorchVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.Z = Z
            self.enc1, self.enc2 = nn.Linear(D, H), nn.Linear(H, 2 * Z)
            self.dec1, self.dec2 = nn.Linear(Z, H), nn.Linear(H, D)

        def forward(self, x, eps):
            h = self.enc2(F.relu(self.enc1(x)))                  # (N, 2Z)
            mu, logvar = h[:, :self.Z], h[:, self.Z:]            # (N, Z) each
            z = mu + torch.exp(0.5 * logvar) * eps               # (N, Z)
            return self.dec2(F.relu(self.dec1(z))), mu, logvar   # logits (N, D)

    return TorchVAE()


def torch_loss(logits, x, mu, logvar, beta=1.0):
    """BCE-with-logits summed over D and KL summed over Z, both averaged over the batch.

    This is pytorch/examples' ``loss_function`` divided by the batch size, which is
    tinyvae's convention (nats per example).  Returns (total, recon, kl) tensors.
    """
    import torch
    import torch.nn.functional as F

    N = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / N
    kl = 0.5 * torch.sum(mu * mu + logvar.exp() - 1 - logvar) / N
    return recon + beta * kl, recon, kl


def copy_tinyvae_into_torch(model, net):
    """Copy a tinyvae VAE's weights into ``net``: W (D_in, D_out) -> weight (D_out, D_in)."""
    import torch

    linears = [model.encoder.layers[0], model.encoder.layers[2],
               model.decoder.layers[0], model.decoder.layers[2]]
    with torch.no_grad():
        for layer, lin in zip(linears, [net.enc1, net.enc2, net.dec1, net.dec2]):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.params["W"].T)))
            lin.bias.copy_(torch.from_numpy(layer.params["b"]))


# --- the check -----------------------------------------------------------------------------------
def synthetic_mnist_like(n, D, seed):
    """(n, D) float32 grey levels in [0, 1], mostly near 0 like MNIST (mean about 0.25)."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, D), dtype=np.float32) ** 3).astype(np.float32)


def run_tinyvae(x, hidden, Z, batch_size, lr, seed):
    """One epoch of Trainer over ``x``; returns the model, its initial theta and per-step records.

    The model computes in the dtype of ``x`` (float32 as in training, or float64).  Each
    step's minibatch, eps and loss are recorded as the step takes them.
    """
    from tinyvae.models import VAE
    from tinyvae.train import Trainer

    model = VAE(x.shape[1], hidden, Z, likelihood="bernoulli", rng=np.random.default_rng(seed),
                dtype=x.dtype)
    theta0 = model.theta.copy()
    trainer = Trainer(model, np.random.default_rng(seed + 1), batch_size=batch_size, lr=lr)
    records, drawn = [], []                               # (xb, eps, loss.total) per step
    real_draw_noise, real_step = model.draw_noise, trainer.step

    def recording_draw_noise(xb, rng):                    # the eps of the step
        noise = real_draw_noise(xb, rng)
        drawn.append(noise["eps"].copy())
        return noise

    def recording_step(xb):
        loss = real_step(xb)
        records.append((np.array(xb, copy=True), drawn.pop(), loss.total))
        return loss

    model.draw_noise, trainer.step = recording_draw_noise, recording_step
    trainer.train_epoch(x)
    return model, theta0, records


def run_torch(theta0_model, records, hidden, Z, lr):
    """Replay the records with autograd and torch.optim.Adam; returns the per-step losses."""
    import torch

    torch.set_num_threads(2)
    D = records[0][0].shape[1]
    net = make_torch_vae(D, hidden[0], Z).to(torch.float64 if records[0][0].dtype == np.float64 else torch.float32)
    copy_tinyvae_into_torch(theta0_model, net)
    opt = torch.optim.Adam(net.parameters(), lr=lr)       # b1 0.9, b2 0.999, eps 1e-8 as tinyvae
    losses = []
    for xb, eps, _ in records:
        xt, et = torch.from_numpy(xb), torch.from_numpy(eps)
        opt.zero_grad()
        logits, mu, logvar = net(xt, et)
        loss, _, _ = torch_loss(logits, xt, mu, logvar)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net, np.array(losses)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=("synthetic", "digits"), default="synthetic",
                   help="synthetic: 784-400-20 on MNIST-shaped grey levels (default); digits: 64-400-20")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="float32 as in training (the test); float64 shows what is left once rounding is gone")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("compare_torch.py needs PyTorch; see benchmarks/README.md for the framework venv", file=sys.stderr)
        return 2
    from tinyvae.models import VAE

    hidden, Z, B = (400,), 20, args.batch_size
    n = args.steps * B                                    # one epoch = exactly `steps` minibatches
    if args.data == "synthetic":
        x = synthetic_mnist_like(n, 784, args.seed)
    else:
        from tinyvae import data
        train = data.load("digits").x_train.astype(np.float32)   # (1498, 64)
        x = train[np.arange(n) % train.shape[0]]          # repeat it to fill `steps` minibatches
    x = x.astype(args.dtype)

    model, theta0, records = run_tinyvae(x, hidden, Z, B, args.lr, args.seed)
    start = VAE(x.shape[1], hidden, Z, rng=np.random.default_rng(0), dtype=x.dtype)
    start.theta[...] = theta0
    net, torch_losses = run_torch(start, records, hidden, Z, args.lr)

    ours = np.array([r[2] for r in records])
    rel = np.abs(ours - torch_losses) / np.abs(torch_losses)
    worst = int(np.argmax(rel))
    # the final parameters, for information: how far the two trajectories are apart after all steps
    after = VAE(x.shape[1], hidden, Z, rng=np.random.default_rng(0), dtype=x.dtype)
    after.theta[...] = model.theta
    check = make_torch_vae(x.shape[1], hidden[0], Z).to(next(net.parameters()).dtype)
    copy_tinyvae_into_torch(after, check)
    dtheta = max(float((a - b).detach().abs().max()) for a, b in zip(check.parameters(), net.parameters()))

    print(f"data {args.data}: {x.shape[1]}-{hidden[0]}-{Z} VAE, {len(records)} Adam steps, batch {B}, "
          f"lr {args.lr:g}, {args.dtype}, seed {args.seed}, torch {torch.__version__}")
    for k in (0, 1, 9, 49, 99, len(records) - 1):
        if k < len(records):
            print(f"  step {k + 1:>4}: tinyvae {ours[k]:.6f}  torch {torch_losses[k]:.6f}  rel diff {rel[k]:.2e}")
    print(f"max relative loss difference {rel.max():.3e} (step {worst + 1}); "
          f"max |theta_tinyvae - theta_torch| after the last step {dtheta:.2e}")
    ok = bool(rel.max() <= TOLERANCE) and len(records) == args.steps
    print(f"{'PASS' if ok else 'FAIL'} (tolerance {TOLERANCE:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
