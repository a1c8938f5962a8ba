"""minigen's ``cuda`` code paths on a stand-in for CuPy (``tests/fake_cupy.py``), on any machine.

The stand-in's arrays refuse to meet NumPy, so these tests fail when library code computes on device data with
NumPy instead of the array's own module (``xp_of(x)``), draws random numbers with a method CuPy's Generator lacks,
or reads values back to the host inside a training step. Results are compared with the same computation on the
CPU. They say nothing about CuPy's kernels or speed (the "device" arithmetic is NumPy's): a real GPU runs the
whole suite with ``--device cuda``.
"""

import json

import numpy as np
import pytest

import fake_cupy
import minigen
from minigen import backend, bench, data, nn, optim, recipes
from minigen.nn import functional as F
from minigen.serialization import load, save
from minigen.train import train

CUDA = "cuda:0"


@pytest.fixture
def fake(monkeypatch):
    return fake_cupy.install(monkeypatch)


def assert_on_device(*tensors):
    for t in tensors:
        assert isinstance(t.data, fake_cupy.ndarray), f"a {type(t.data).__name__}, not a device array"
        assert t.device == CUDA


# --- The stand-in itself ----------------------------------------------------------------------------------------
def test_the_stand_in_refuses_numpy_as_cupy_does(fake):
    a = minigen.ones(3, device="cuda").data
    for mistake in (lambda: np.asarray(a), lambda: np.exp(a), lambda: np.sum(a), lambda: a + np.ones(3),
                    lambda: np.ones(3) * a, lambda: np.zeros(3)[a.astype("int64")],
                    lambda: fake.maximum(a, np.ones(3))):
        with pytest.raises(TypeError):
            mistake()
    assert isinstance(fake.exp(a), fake_cupy.ndarray) and isinstance(a.sum(), fake_cupy.ndarray)  # 0-d, as CuPy
    rng = backend.generator(CUDA)
    assert not any(hasattr(rng, name) for name in ("permutation", "shuffle", "choice", "normal"))
    reads = fake_cupy.host_reads
    assert float(a.sum()) == 3.0 and fake_cupy.host_reads == reads + 1


def test_xp_of_names_what_it_got():
    assert backend.xp_of(np.zeros(2)) is np and backend.xp_of(np.float32(1)) is np
    with pytest.raises(TypeError, match="got Tensor"):
        backend.xp_of(minigen.zeros(2))


# --- Operations: forward and backward on the device equal the CPU's ---------------------------------------------
_rng = np.random.default_rng(0)


def _normal(*shape):
    return _rng.standard_normal(shape).astype(np.float32)


def _batch_norm(x, w, b):
    stats = minigen.zeros(x.shape[1], device=x.device), minigen.ones(x.shape[1], device=x.device)
    return F.batch_norm(x, *stats, w, b, training=True) + stats[0].sum()  # the running stats are updated too


OPS = {  # name: (function of tensors, its inputs: float arrays require grad, integer arrays are indices)
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
               [_normal(2, 3, 9, 9), _normal(4, 3, 3, 3), _normal(4)]),
    "conv2d groups, dilation": (lambda x, w: F.conv2d(x, w, padding=2, dilation=2, groups=2),
                                [_normal(2, 4, 7, 7), _normal(6, 2, 3, 3)]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=2, output_padding=1),
                         [_normal(2, 4, 5, 5), _normal(4, 3, 5, 5), _normal(3)]),
    "batch_norm": (_batch_norm, [_normal(4, 3, 5, 5), _normal(3), _normal(3)]),
    "linear": (F.linear, [_normal(5, 4), _normal(3, 4), _normal(3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, padding=1), [_normal(2, 3, 8, 8)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False), [_normal(2, 3, 8, 8)]),
    "interpolate nearest": (lambda x: F.interpolate(x, scale_factor=2), [_normal(2, 3, 4, 5)]),
    "interpolate bilinear": (lambda x: F.interpolate(x, size=(7, 3), mode="bilinear"), [_normal(2, 3, 4, 5)]),
    "interpolate nearest 4×5 → 7×3, bilinear aligned ×1.5": (
        lambda x: F.interpolate(x, size=(7, 3)).sum() + F.interpolate(x, scale_factor=1.5, mode="bilinear",
                                                                      align_corners=True), [_normal(2, 3, 4, 5)]),
    "embedding": (lambda w, i: F.embedding(i, w), [_normal(6, 3), np.array([[0, 5, 0], [2, 2, 2]])]),
    "cross_entropy": (F.cross_entropy, [_normal(6, 4), np.array([0, 3, 1, 1, 2, 0])]),
    "nll_loss, ignore_index": (lambda z, t: F.nll_loss(F.log_softmax(z, 1), t, ignore_index=1),
                               [_normal(6, 4), np.array([0, 3, 1, 1, 2, 0])]),
    "bce_with_logits": (F.binary_cross_entropy_with_logits, [_normal(4, 3), _rng.random((4, 3)).astype(np.float32)]),
    "binary_cross_entropy": (lambda z, t: F.binary_cross_entropy(F.sigmoid(z), t),
                             [_normal(4, 3), _rng.random((4, 3)).astype(np.float32)]),
    "mse_loss": (F.mse_loss, [_normal(4, 3), _normal(4, 3)]),
    "activations": (lambda x: F.leaky_relu(x, 0.2) + F.softplus(x) + F.tanh(x) * F.sigmoid(x) + F.relu(x)
                    + F.softmax(x, 1), [_normal(4, 5)]),
    "reductions": (lambda x: x.max(1)[0] + x.var(1) + x.logsumexp(1) + x.amin(1) + x.std(1), [_normal(4, 5)]),
    "indexing": (lambda x, i: x[i, :, 1:3] + x[x > 0].sum() + x[0, :, [1, 1]].sum(),
                 [_normal(3, 4, 5), np.array([2, 0, 2])]),
    "cat, stack, pad": (lambda a, b: F.pad(minigen.cat([a, b], 1), (1, 2)) * minigen.stack([a, b]).sum(),
                        [_normal(2, 3), _normal(2, 3)]),
    "chunk, split": (lambda x: minigen.cat([p * (i + 1) for i, p in enumerate(x.chunk(3, 1))], 1)
                     + minigen.cat([p * (i + 1) for i, p in enumerate(minigen.split(x, [1, 3]))]), [_normal(4, 7)]),
    "elementwise": (lambda a, b: minigen.where(a > b, a, b) ** 2 / (b.abs() + 1) + a.clamp(-0.5, 0.5).exp()
                    + minigen.maximum(a, b) - (a * a + 1).sqrt().neg().mean(), [_normal(4, 3), _normal(4, 3)]),
    "matmul, reshape, permute": (lambda a, b: (a @ b).reshape(2, -1).permute(1, 0).flatten(),
                                 [_normal(2, 3, 4), _normal(4, 5)]),
    "group_norm, layer_norm": (lambda x, w, b: F.group_norm(x, 2, w, b) + F.layer_norm(x, (5, 5)),
                               [_normal(2, 4, 5, 5), _normal(4), _normal(4)]),
    "silu, gelu, erf": (lambda x: F.silu(x) + F.gelu(x) * F.gelu(x, approximate="tanh") + minigen.erf(x),
                        [_normal(4, 5)]),
    "scaled_dot_product_attention": (lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, minigen.tensor(np.tri(3, 4, dtype=bool), device=q.device)) + F.scaled_dot_product_attention(
        q, k, v, is_causal=True), [_normal(2, 3, 4), _normal(2, 4, 4), _normal(2, 4, 2)]),
}


def _run(fn, arrays, device):
    inputs = [minigen.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
    y = fn(*inputs)
    g = minigen.tensor(np.random.default_rng(1).standard_normal(y.shape).astype(np.float32), device=device)
    y.backward(g)
    return y, [x.grad for x in inputs if x.requires_grad]


@pytest.mark.parametrize("name", OPS)
def test_op_forward_and_backward_on_the_device_equal_the_cpu(fake, name):
    fn, arrays = OPS[name]
    y_cpu, grads_cpu = _run(fn, arrays, "cpu")
    y, grads = _run(fn, arrays, "cuda")
    assert_on_device(y, *grads)
    np.testing.assert_allclose(y.detach().numpy(), y_cpu.detach().numpy(), rtol=1e-5, atol=1e-6)
    for g, g_cpu in zip(grads, grads_cpu):     # float32 sums in another order (the CPU's passes split a
        scale = max(1.0, float(np.abs(g_cpu.numpy()).max()))   # weight gradient): absolute error ~ u·Σ|terms|
        np.testing.assert_allclose(g.numpy(), g_cpu.numpy(), rtol=1e-5, atol=1e-6 * scale)


def test_dropout_draws_its_mask_on_the_device(fake):
    x = minigen.ones(200, 10, device="cuda", requires_grad=True)
    y = F.dropout(x, 0.25)
    y.sum().backward()
    assert_on_device(y, x.grad)
    kept = y.detach().numpy() != 0
    assert 0.6 < kept.mean() < 0.9 and np.allclose(y.detach().numpy()[kept], 1 / 0.75)
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


def test_to_and_from_the_device_carries_the_gradient_home(fake):
    t = minigen.tensor([1.0, 2.0, 3.0], requires_grad=True)
    on_gpu = t.to("cuda")
    assert_on_device(on_gpu)
    (on_gpu * on_gpu).sum().backward()
    assert t.grad.device == "cpu" and t.grad.numpy().tolist() == [2.0, 4.0, 6.0]
    assert on_gpu.cpu().device == "cpu" and t.cuda() is not t


# --- Random numbers -------------------------------------------------------------------------------------------
def test_random_tensors_are_drawn_on_the_device_and_repeat_with_the_seed(fake):
    def draw():
        minigen.manual_seed(3)
        return [minigen.randn(2, 3, device="cuda"), minigen.rand(4, device="cuda", dtype="float64"),
                minigen.randint(2, 9, (5,), device="cuda"), minigen.randperm(7, device="cuda")]
    first, again = draw(), draw()
    assert_on_device(*first)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    normal, uniform, ints, perm = (t.numpy() for t in first)
    assert normal.dtype == np.float32 and uniform.dtype == np.float64 and ints.dtype == perm.dtype == np.int64
    assert ((0 <= uniform) & (uniform < 1)).all() and ((2 <= ints) & (ints < 9)).all()
    assert sorted(perm.tolist()) == list(range(7))
    minigen.manual_seed(3)
    assert not np.array_equal(minigen.randn(2, 3).numpy(), normal)   # the CPU's stream is another one
    layers = nn.Linear(4, 3, device="cuda"), nn.Conv2d(2, 3, 3, device="cuda"), nn.Embedding(5, 2, device="cuda")
    assert_on_device(*(p for layer in layers for p in layer.parameters()))   # initialised on the device


def test_rng_state_continues_every_device_stream_exactly(fake, tmp_path):
    minigen.randn(3), minigen.randn(3, device="cuda")
    state = backend.get_rng_state()
    assert set(state) == {"seed", "cpu", CUDA}
    save({"rng": state}, tmp_path / "rng.npz")
    expected = minigen.randn(4).numpy(), minigen.randn(4, device="cuda").numpy()
    for restored in (state, load(tmp_path / "rng.npz")["rng"]):          # device arrays, then NumPy ones
        minigen.manual_seed(99)
        backend.set_rng_state(restored)
        np.testing.assert_array_equal(minigen.randn(4).numpy(), expected[0])
        np.testing.assert_array_equal(minigen.randn(4, device="cuda").numpy(), expected[1])


def test_rng_state_of_a_gpu_without_the_state_attribute_warns(fake, monkeypatch):
    minigen.randn(3, device="cuda")
    monkeypatch.delattr(backend.generator(CUDA).bit_generator, "_state")
    with pytest.warns(UserWarning, match="cannot read"):
        assert CUDA not in backend.get_rng_state()


def test_a_gpu_rng_state_restored_without_the_gpu_warns(fake, monkeypatch):
    minigen.randn(3, device="cuda")
    state = backend.get_rng_state()
    monkeypatch.setattr(backend, "cupy", None)
    with pytest.warns(UserWarning, match="cannot restore cuda:0"):
        backend.set_rng_state(state)


# --- Layers, an optimizer, training ---------------------------------------------------------------------------
def _model():
    # No bias before a batch norm (as usual; the transposed conv's reaches BatchNorm1d through a linear map): its
    # gradient is 0 exactly, so each device's is rounding noise of its own, which Adam, dividing by √v, turns
    # into full-size steps of either sign, and the two runs disagree
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.LeakyReLU(0.2),
                         nn.MaxPool2d(2), nn.ConvTranspose2d(4, 2, 4, 2, 1, bias=False), nn.Flatten(),
                         nn.Linear(2 * 8 * 8, 6, bias=False), nn.BatchNorm1d(6, momentum=None), nn.Linear(6, 3))


def _steps(device, n=3):
    minigen.manual_seed(0)
    model = _model().to(device)                  # weights drawn on the CPU, then moved: the same on each device
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    x = minigen.tensor(rng.standard_normal((5, 1, 8, 8)).astype(np.float32), device=device)
    y = minigen.tensor(rng.integers(0, 3, 5), device=device)
    losses = []
    for _ in range(n):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        losses.append(loss.detach())
    return model, opt, losses


def test_training_steps_stay_on_the_device_and_read_nothing_back(fake):
    cpu_model, _, cpu_losses = _steps("cpu")
    reads = fake_cupy.host_reads
    model, opt, losses = _steps("cuda")
    assert fake_cupy.host_reads == reads, "a training step read a value back from the GPU"
    assert_on_device(*losses, *model.parameters(), *model.buffers())
    for p in model.parameters():
        state = opt.state[id(p)]
        assert isinstance(state["exp_avg"], fake_cupy.ndarray) and isinstance(state["exp_avg_sq"], fake_cupy.ndarray)
    np.testing.assert_allclose(minigen.stack(losses).numpy(), minigen.stack(cpu_losses).numpy(), rtol=1e-4)
    for (name, p), p_cpu in zip(model.state_dict().items(), cpu_model.state_dict().values()):
        np.testing.assert_allclose(p.numpy(), p_cpu.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_optimizer_state_saves_and_loads_onto_the_device(fake, tmp_path):
    model, opt, _ = _steps("cuda", n=1)
    save(opt.state_dict(), tmp_path / "opt.npz")
    again = optim.Adam(model.parameters(), lr=1e-2)
    again.load_state_dict(load(tmp_path / "opt.npz"))
    for p in model.parameters():
        assert isinstance(again.state[id(p)]["exp_avg"], fake_cupy.ndarray)
        np.testing.assert_array_equal(fake.asnumpy(again.state[id(p)]["exp_avg"]),
                                      fake.asnumpy(opt.state[id(p)]["exp_avg"]))


def _recipe(name, **config):
    cls = recipes.get(name)
    base = dict(dataset="digits", seed=0, epochs=1, batch_size=8, limit=None, data_root=None, device="cuda")
    return cls({**cls.defaults, **base, **config}, CUDA)


@pytest.mark.parametrize("name, config", [("ae", dict(latent_dim=2, hidden=[16])),
                                          ("vae", dict(latent_dim=2, hidden=[16])),
                                          ("classifier", dict(width=4)),
                                          ("noisy-classifier", dict(width=4)),
                                          ("dcgan", dict(width=8, ema=0.9)),
                                          ("cgan", dict(width=8)),
                                          ("wgan-gp", dict(width=8))])
def test_recipe_train_step_stays_on_the_device(fake, name, config):
    recipe = _recipe(name, **config)
    x = minigen.rand(8, 1, 28, 28, device="cuda")
    y = minigen.randint(0, 10, (8,), device="cuda")
    reads = fake_cupy.host_reads
    for step in range(5):                    # WGAN-GP's generator moves at step 4
        metrics = recipe.train_step(x, y, step)
    assert fake_cupy.host_reads == reads, f"{name}.train_step read a value back from the GPU"
    assert all(isinstance(v, minigen.Tensor) for v in metrics.values()), metrics
    assert_on_device(*metrics.values(), *(p for m in recipe.modules().values() for p in m.parameters()))


def test_a_run_on_the_device_resumes_exactly(fake, tmp_path):
    """The VAE draws its noise on the device: resuming restores the GPU generator's state too."""
    tiny = dict(dataset="digits", batch_size=50, limit=100, progress=False, latent_dim=2, hidden=[16],
                device="cuda")
    straight = train("vae", epochs=2, out=tmp_path / "straight", **tiny)
    half = train("vae", epochs=1, out=tmp_path / "half", **tiny)
    train("vae", epochs=2, resume=half, progress=False)
    a, b = (load(r / "checkpoint_last.npz") for r in (straight, half))
    assert CUDA in a["rng"]
    for k in a["modules"]["model"]:
        np.testing.assert_array_equal(a["modules"]["model"][k].numpy(), b["modules"]["model"][k].numpy(), err_msg=k)


# --- Waiting for the GPU, and the benchmark ----------------------------------------------------------------------
def test_synchronize_waits_on_the_gpu_only(fake, monkeypatch):
    before = fake_cupy.synchronizations
    backend.synchronize("cpu")
    assert fake_cupy.synchronizations == before
    backend.synchronize("cuda")
    bench.synchronize(CUDA)
    assert fake_cupy.synchronizations == before + 2


def test_bench_has_no_torch_twin_on_a_gpu_torch_cannot_use(fake, monkeypatch):
    class CpuOnlyTorch:  # what a CPU-only PyTorch build answers
        cuda = type("cuda", (), {"is_available": staticmethod(lambda: False)})
        get_num_threads = staticmethod(lambda: 1)
    monkeypatch.setattr(bench.timing, "_torch", lambda: CpuOnlyTorch)
    assert bench.timing.torch_on(CUDA) is None and bench.timing.torch_on("cpu") is CpuOnlyTorch
    rows = bench.run("cuda", workloads=["W4"], repeats=1, warmup=0, settle=0, matmul_n=32, print_fn=None)
    assert rows[0]["torch_ms"] is None and rows[0]["ms"] > 0


# --- Data on the device ------------------------------------------------------------------------------------------
class _InMemory:  # as MNIST and Digits: ``data`` and ``targets``
    def __init__(self, images, labels):
        self.data, self.targets = images, labels

    def __len__(self):
        return len(self.data)


_images = np.random.default_rng(5).integers(0, 256, (23, 8, 8), dtype=np.uint8)  # 5 batches of 5, the last of 3
_labels = np.arange(23) % 10
TRANSFORMS = {"tanh range": data.Compose([data.ToFloat(), data.ScaleTo(-1, 1), data.AddChannel()]),
              "binarize": data.Compose([data.ToFloat(), data.Binarize()])}


@pytest.mark.parametrize("kind", ["data, targets", "arrays"])
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_dataloader_copies_the_dataset_once_and_makes_batches_on_the_device(fake, monkeypatch, kind, transform):
    copies, asarray = [], fake.asarray

    def counted_asarray(a, *args, **kwargs):  # every host → device copy
        if isinstance(a, np.ndarray):
            copies.append((a.shape, a.dtype))
        return asarray(a, *args, **kwargs)
    monkeypatch.setattr(fake, "asarray", counted_asarray, raising=False)

    def two_epochs(device):
        dataset = _InMemory(_images, _labels) if kind == "data, targets" else data.TensorDataset(_images, _labels)
        loader = data.DataLoader(dataset, 5, shuffle=True, seed=3, device=device, transform=TRANSFORMS[transform])
        return [batch for _ in range(2) for batch in loader]
    expected = two_epochs("cpu")
    reads = fake_cupy.host_reads
    batches = two_epochs("cuda")
    assert fake_cupy.host_reads == reads, "making batches read a value back from the GPU"
    assert [(shape, dtype) for shape, dtype in copies if dtype != np.float32] == \
        [((23, 8, 8), np.uint8), ((23,), np.int64), ((23,), np.int64), ((23,), np.int64)]  # data, targets, 2 orders
    noise = [shape for shape, dtype in copies if dtype == np.float32]   # Binarize's, drawn on the host
    assert noise == (([(5, 8, 8)] * 4 + [(3, 8, 8)]) * 2 if transform == "binarize" else [])
    assert len(batches) == len(expected) == 10
    for batch, batch_cpu in zip(batches, expected):
        assert_on_device(*batch)
        for t, t_cpu in zip(batch, batch_cpu):
            assert t.dtype == t_cpu.dtype
            np.testing.assert_array_equal(t.numpy(), t_cpu.numpy())


def test_a_run_on_the_device_averages_every_step_as_the_cpu_does(fake, tmp_path):
    """Every step's metrics are summed on the device and read back once an epoch (and at log steps): the epoch
    averages count all the steps, not only those read back for the log."""
    tiny = dict(dataset="digits", epochs=2, batch_size=20, limit=100, log_every=2, progress=False, latent_dim=2)

    def records(run):
        return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    cpu = records(train("ae", out=tmp_path / "cpu", device="cpu", **tiny))
    gpu = records(train("ae", out=tmp_path / "gpu", device="cuda", **tiny))
    assert [(r["kind"], r["step"]) for r in gpu] == [(r["kind"], r["step"]) for r in cpu]
    assert [r["step"] for r in gpu if r["kind"] == "epoch"] == [5, 10]
    for r, r_cpu in zip(gpu, cpu):
        for key in ("loss", "train_loss", "test_loss"):
            if key in r_cpu:
                np.testing.assert_allclose(r[key], r_cpu[key], rtol=1e-5, err_msg=f"{key} at step {r['step']}")


def test_the_cpus_fast_paths_and_the_devices_plain_ones_agree(fake):
    """On the CPU a 3×3 conv takes the passes of passes.py (on threads), and large SiLU and group norm
    split over threads (minigen/threads.py); on the device the same calls take the plain paths (no NumPy, no
    threads). Both must give the same numbers, forward and backward, to float32 accuracy."""
    from minigen import threads
    from minigen.ops import conv
    x, w = _normal(8, 16, 28, 28), 0.1 * _normal(16, 16, 3, 3)      # 100,352 numbers per activation

    def net(x, w):
        return F.silu(F.group_norm(F.conv2d(x, w, padding=1), 4))

    assert conv.use_passes(x, w, conv.Geometry((1, 1), (1, 1), (1, 1), 1))
    before = threads.num_threads()
    threads.set_num_threads(2)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(threads, "MIN_SPLIT", 0)
            y_cpu, grads_cpu = _run(net, [x, w], "cpu")
            y, grads = _run(net, [x, w], "cuda")
    finally:
        threads.set_num_threads(before)
    assert_on_device(y, *grads)
    np.testing.assert_allclose(y.detach().numpy(), y_cpu.detach().numpy(), rtol=1e-4, atol=1e-5)
    for g, g_cpu in zip(grads, grads_cpu):
        np.testing.assert_allclose(g.numpy(), g_cpu.numpy(), rtol=1e-4, atol=1e-4 * np.abs(g_cpu.numpy()).max())
