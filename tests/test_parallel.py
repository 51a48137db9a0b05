"""The data-parallel step: the same training as on one core, up to the rounding of sums over rows."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tinyvae import blas, parallel
from tinyvae.errors import DivergenceError
from tinyvae.models import VAE, Autoencoder, DenoisingAutoencoder
from tinyvae.objectives import Capacity
from tinyvae.optim import SGD, Adam
from tinyvae.parallel import DataParallel, auto_workers
from tinyvae.train import Trainer

D, H, Z = 12, (9,), 3

MODELS = {
    "ae": lambda dtype: Autoencoder(D, H, Z, loss="bce", rng=np.random.default_rng(0), dtype=dtype),
    "dae": lambda dtype: DenoisingAutoencoder(D, H, Z, noise="mask", noise_level=0.3,
                                              rng=np.random.default_rng(0), dtype=dtype),
    "vae": lambda dtype: VAE(D, H, Z, rng=np.random.default_rng(0), dtype=dtype),
    "vae-gaussian": lambda dtype: VAE(D, H, Z, likelihood="gaussian", beta=2.5,
                                      rng=np.random.default_rng(0), dtype=dtype),
}


def data(N, dtype=np.float64, seed=1):
    return np.random.default_rng(seed).random((N, D)).astype(dtype)


def gradient_taken(model, step):
    """The gradient a step applied, read back through SGD with lr 1 and no momentum."""
    before = model.theta.copy()
    step()
    return before - model.theta


def test_use_buffers_moves_the_parameters_and_keeps_their_values():
    model = MODELS["vae"](np.float32)
    before = model.theta.copy()
    theta, grad = np.empty_like(model.theta), np.empty_like(model.grad)
    model.use_buffers(theta, grad)
    assert model.theta is theta and model.grad is grad
    np.testing.assert_array_equal(theta, before)
    theta += 1.0                                      # the layers read the new buffer ...
    np.testing.assert_array_equal(model.encoder.layers[0].params["W"].ravel(),
                                  theta[:model.encoder.layers[0].params["W"].size])
    model.loss_and_grad(data(8, np.float32), eps=np.zeros((8, Z), np.float32))
    assert grad.any()                                 # ... and write their gradients into the other
    twin = MODELS["vae"](np.float32)
    twin.use_buffers(theta, np.zeros_like(grad), copy=False)   # adopt the values already there
    np.testing.assert_array_equal(twin.theta, before + 1.0)


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("N, workers", [(64, 2), (37, 2), (50, 3)])    # equal and unequal blocks
def test_the_split_step_applies_the_gradient_of_the_whole_minibatch(kind, N, workers):
    # float64, so that only the order of the sums differs: the gradients agree to 1e-12
    x = data(N)
    serial, split = MODELS[kind](np.float64), MODELS[kind](np.float64)
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    opt_a = SGD(serial.theta, serial.grad, lr=1.0, momentum=0.0)
    dp = DataParallel(split, SGD(split.theta, split.grad, lr=1.0, momentum=0.0), workers, max_rows=N)
    assert dp.splits(N)
    losses = []
    g_serial = gradient_taken(serial, lambda: (losses.append(serial.loss_and_grad(x, rng=rng_a)), opt_a.step()))
    g_split = gradient_taken(split, lambda: losses.append(dp.step(x, rng_b)))
    np.testing.assert_allclose(g_split, g_serial, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)          # recon, kl, beta, total
    # the noise (eps, the corruption) was drawn exactly as loss_and_grad(x, rng) draws it
    assert rng_a.bit_generator.state == rng_b.bit_generator.state
    dp.close()


def test_float32_training_on_two_workers_follows_one_worker():
    x = data(600, np.float32)
    runs = []
    for workers in (1, 2):
        model = VAE(D, (16,), Z, rng=np.random.default_rng(0))
        trainer = Trainer(model, np.random.default_rng(3), batch_size=60, workers=workers)
        assert trainer.workers == (workers if parallel.supported() else 1)
        runs.append(([trainer.train_epoch(x)[0].total for _ in range(3)], model.theta.copy()))
        trainer.close()
    (loss_1, theta_1), (loss_2, theta_2) = runs
    np.testing.assert_allclose(loss_2, loss_1, rtol=1e-5)
    np.testing.assert_allclose(theta_2, theta_1, rtol=1e-4, atol=1e-5)


def test_a_beta_set_after_the_replicas_were_made_reaches_them():
    x = data(40)
    serial, split = MODELS["vae"](np.float64), MODELS["vae"](np.float64)
    dp = DataParallel(split, SGD(split.theta, split.grad, lr=1.0, momentum=0.0), max_rows=40)
    serial.beta = split.beta = 3.0                    # as a warm-up or KL target would, between steps
    opt = SGD(serial.theta, serial.grad, lr=1.0, momentum=0.0)
    g_serial = gradient_taken(serial, lambda: (serial.loss_and_grad(x, rng=np.random.default_rng(1)), opt.step()))
    g_split = gradient_taken(split, lambda: dp.step(x, np.random.default_rng(1)))
    np.testing.assert_allclose(g_split, g_serial, rtol=1e-10, atol=1e-13)
    dp.close()


@pytest.mark.parametrize("why", ["small minibatch", "capacity objective"])
def test_what_is_not_split_runs_whole_and_bit_for_bit(why):
    N = 10 if why == "small minibatch" else 64          # 10 < 2 workers * MIN_ROWS
    x = data(N, np.float32)
    serial, split = MODELS["vae"](np.float32), MODELS["vae"](np.float32)
    if why == "capacity objective":
        for m in (serial, split):
            Capacity(5.0, 100, gamma=10.0).before_step(m, 3)
    dp = DataParallel(split, Adam(split.theta, split.grad), max_rows=64)
    assert not dp.splits(N)
    opt = Adam(serial.theta, serial.grad)
    a = serial.loss_and_grad(x, rng=np.random.default_rng(2))
    opt.step()
    b = dp.step(x, np.random.default_rng(2))
    assert a == b
    np.testing.assert_array_equal(split.theta, serial.theta)
    dp.close()


def test_a_non_finite_loss_leaves_the_parameters_alone():
    model = MODELS["vae"](np.float32)
    dp = DataParallel(model, Adam(model.theta, model.grad), max_rows=64)
    x = data(64, np.float32)
    x[5, 3] = np.nan
    before = model.theta.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        loss = dp.step(x, np.random.default_rng(0))
    assert not np.isfinite(loss.total)
    np.testing.assert_array_equal(model.theta, before)
    assert dp.optimizer.t == 0
    dp.close()


def test_a_divergence_on_two_workers_is_reported_like_on_one():
    x = data(128, np.float32)
    x[70, 0] = np.inf                                 # in the second worker's rows
    trainer = Trainer(MODELS["vae"](np.float32), np.random.default_rng(0), batch_size=128, workers=2)
    with pytest.raises(DivergenceError, match="step 1"):
        trainer.train_epoch(x)


def test_training_on_workers_gives_blas_its_threads_back():
    before = blas.get_threads()
    trainer = Trainer(MODELS["vae"](np.float32), np.random.default_rng(0), batch_size=32, workers=2)
    trainer.train_epoch(data(64, np.float32))
    assert blas.get_threads() == before


def test_workers_are_chosen_for_wide_models_on_several_cores(monkeypatch):
    monkeypatch.setattr(parallel, "supported", lambda: True)
    mnist_sized, digits_sized = VAE(784, (400,), 20), VAE(64, (400,), 20)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    assert auto_workers(mnist_sized, 128) == 2
    assert auto_workers(mnist_sized, 32) == 1          # 16 rows a core: not worth the hand-shakes
    assert auto_workers(digits_sized, 512) == 1
    monkeypatch.setattr(parallel, "cores", lambda: 1)
    assert auto_workers(mnist_sized, 512) == 1
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    monkeypatch.setattr(parallel, "supported", lambda: False)
    assert auto_workers(mnist_sized, 512) == 1


def test_fewer_than_two_workers_is_refused():
    model = MODELS["ae"](np.float32)
    with pytest.raises(ValueError, match="at least 2"):
        DataParallel(model, Adam(model.theta, model.grad), workers=1)


def test_the_workers_stop_with_close_and_leave_no_file_behind():
    model = MODELS["vae"](np.float32)
    dp = DataParallel(model, Adam(model.theta, model.grad), workers=3, max_rows=64)
    procs = list(dp.procs)
    assert all(p.poll() is None for p in procs)       # running
    shm_before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    dp.close()
    assert [p.wait(timeout=5) for p in procs] == [0, 0]
    if os.path.isdir("/dev/shm"):                     # the shared file never had a name
        assert set(os.listdir("/dev/shm")) <= shm_before


def test_the_workers_end_when_their_parent_dies_without_closing(tmp_path):
    # a parent killed outright (no close, no exit handlers): its workers must not linger
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, numpy as np\n"
        "from tinyvae.models import VAE\nfrom tinyvae.optim import Adam\n"
        "from tinyvae.parallel import DataParallel\n"
        "m = VAE(12, (9,), 3)\n"
        "dp = DataParallel(m, Adam(m.theta, m.grad), max_rows=32)\n"
        "print(dp.procs[0].pid, flush=True)\n"
        "os._exit(9)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 9, out.stderr
    pid = int(out.stdout.split()[0])
    deadline = time.time() + 10
    while time.time() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"    # a zombie has exited
    except FileNotFoundError:
        return False


def test_a_worker_that_dies_is_reported_in_one_line():
    model = MODELS["vae"](np.float32)
    dp = DataParallel(model, Adam(model.theta, model.grad), max_rows=64)
    dp.procs[0].kill()
    dp.procs[0].wait()
    with pytest.raises(parallel.WorkerError, match="worker 1 exited .* --workers 1"):
        dp.step(data(64, np.float32), np.random.default_rng(0))
    dp.close()
