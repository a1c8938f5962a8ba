# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 13 — The GPU with CuPy
#
# **Time:** about 10 seconds in fast mode (the default: a short training run, and the benchmark with 3 timed
# runs of W1, W2 and W4) and about 3 minutes in full mode (`MINIGEN_LESSON_MODE=full`: a longer training run and
# the whole benchmark, W1–W6 at their full sizes with 10 timed runs each as `minigen bench` does, most of it
# the DCGAN and U-Net steps at under a second a run) on a 2-core CPU. With PyTorch installed the benchmark times
# its twins too (about half as long again). With a GPU, the GPU half adds a few seconds, plus, on the very first run,
# CuPy compiling its kernels (up to a minute; they are cached on disk afterwards).
#
# Every lesson so far ran on the CPU, on NumPy. minigen runs the *same code* on an NVIDIA GPU through
# **CuPy**, a library with NumPy's interface whose arrays live in GPU memory. This lesson looks at what a GPU
# changes (many threads, its own memory, work that is queued rather than done), at how minigen keeps a single
# code path for both (each op asks its input for the array library), at moving tensors and modules, at random
# numbers, at a training loop written once for either device, at timing that tells the truth, and at the
# benchmark table of `minigen bench` on the devices of the machine running this notebook.
#
# This notebook runs everywhere. Without a GPU (CI has none) it says so and skips the GPU half of each cell;
# with CuPy and a GPU it runs both halves and names the GPU.

# %%
# %matplotlib inline
import inspect
import platform
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

import minigen
from minigen import backend, bench, nn, optim
from minigen.demo import spirals
from minigen.nn import functional as F
from minigen.ops import activation, conv, pool
from course import FAST, check, exercise_module, fast_or_full, save_figure


def cpu_name() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name(device: str) -> str:
    """The GPU's name and memory, from the CUDA runtime (through CuPy)."""
    props = backend.cupy.cuda.runtime.getDeviceProperties(int(device.split(":")[1]))
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return f"{name}, {props['totalGlobalMem'] / 2 ** 30:.0f} GiB"


THREADS = bench.thread_settings()
CPU = f"{cpu_name()}, {THREADS['cpus']} cores (NumPy {np.__version__}" + \
    (f", OpenBLAS {THREADS['numpy_openblas']})" if "numpy_openblas" in THREADS else ")")
HAS_GPU = minigen.cuda_is_available()
DEVICE = backend.canonical_device("cuda") if HAS_GPU else "cpu"     # where this notebook trains: 'cuda:0' or 'cpu'
if HAS_GPU:
    GPU = f"{gpu_name(DEVICE)} (CuPy {backend.cupy.__version__})"
else:
    GPU = None
    WHY = "CuPy is not installed" if backend.cupy is None else "CuPy is installed but sees no CUDA GPU"
print("mode:", "fast" if FAST else "full")
print("CPU:", CPU)
print("GPU:", GPU or f"none on this machine ({WHY}); the GPU half of each cell is skipped")

# %% [markdown]
# ## 1. What a GPU changes
#
# A CPU has a few cores (this machine's count is printed above), each fast on its own and good at branchy,
# sequential code. A GPU has thousands of simple threads that run the same instruction on different data: made
# for exactly what networks do, a matrix product or an elementwise operation over millions of numbers. Three
# things follow.
#
# - **Memory on the device.** The GPU computes on its own memory (tens of GB, read at several TB/s). The host's
#   memory is on the other side of a PCIe bus, at tens of GB/s and with a latency of microseconds per copy.
#   So the data moves to the GPU once and stays there: the parameters, the batch, the random numbers. A copy
#   back to the host (`.numpy()`, `.item()`, printing a tensor) is cheap for one number and costly when it
#   happens often.
# - **Work is queued.** Calling a CuPy function *launches a kernel*: Python puts the work in the GPU's queue
#   (a CUDA stream) and returns at once, in a few microseconds, long before the GPU has finished. Kernels in
#   the queue run one after another. Python only waits when it needs a result on the host, or when it asks
#   to (**synchronize**).
# - **Every operation costs a launch.** A few microseconds per kernel is nothing for a 2048×2048 matrix product
#   and everything for an operation on 64 numbers. A tiny network is no faster on a GPU; a convolution over a
#   batch of 64 images is much faster.
#
# The second point makes timing treacherous. Read the clock right after launching and you measure the launch:

# %%
fig, ax = plt.subplots(figsize=(10, 2.6))
kernels = [("matmul", 1.5, "#4c72b0"), ("add", 0.3, "#55a868"), ("relu", 0.4, "#c44e52")]
launch = 0.15                                                        # time Python spends on one launch (schematic)
gpu_free = launch                                                    # the GPU starts once the first launch is done
for i, (name, seconds, colour) in enumerate(kernels):
    ax.broken_barh([(i * launch, launch * 0.95)], (1.6, 0.7), color=colour)        # Python queues the kernel...
    ax.text((i + 0.47) * launch, 1.95, name, ha="center", va="center", fontsize=7, color="white")
    start = max(gpu_free, (i + 1) * launch)
    ax.broken_barh([(start, seconds)], (0.2, 0.7), color=colour, alpha=0.8)       # ...the GPU runs it later
    ax.text(start + seconds / 2, 0.55, name, ha="center", va="center", fontsize=8, color="white")
    gpu_free = start + seconds
launched = len(kernels) * launch
ax.text(launched / 2, 2.5, "3 launches", ha="center", fontsize=8)
ax.broken_barh([(launched, gpu_free - launched)], (1.6, 0.7), color="0.85")
ax.text((launched + gpu_free) / 2, 1.95, "synchronize(): Python waits for the queue to empty", ha="center",
        va="center", fontsize=8)
for x, label, colour in ((launched, "clock read without synchronize", "#c44e52"),
                         (gpu_free, "clock read after synchronize", "#55a868")):
    ax.axvline(x, color=colour, ls="--")
    ax.text(x + 0.02, 3.05, label, color=colour, fontsize=8)
ax.set_yticks([0.55, 1.95], ["GPU", "Python (host)"])
ax.set_ylim(0, 3.4); ax.set_xlim(0, gpu_free + 0.7)
ax.set_xlabel("time (schematic)")
ax.set_title("Kernel launches return at once; the GPU works through its queue later", fontsize=10)
plt.show()

# %% [markdown]
# ## 2. One code, two array libraries
#
# CuPy copies NumPy's interface: `cupy.exp`, `cupy.matmul`, `a.reshape`, `a.sum(axis=1)` behave like their
# NumPy namesakes. So minigen writes each operation once and lets the *array* choose the library. The module
# `minigen/backend.py` is the only file that knows both exist:

# %%
print(inspect.getsource(backend.xp_of))
print(inspect.getsource(backend.array_module))
x = minigen.randn(2, 3)
print(f"x.device {x.device!r} | x.xp is {x.xp.__name__} | x.data is a {type(x.data).__module__}."
      f"{type(x.data).__name__}")

# %% [markdown]
# Every operation follows one rule: **ask the input for its array module (`xp = xp_of(x)`, or `x.xp` for a
# tensor) and never call `numpy` on tensor data.** Here is leaky ReLU, a typical op: `xp.where` is
# `numpy.where` on the CPU and `cupy.where` on a GPU, the same line for both.

# %%
print(inspect.getsource(activation.LeakyReLU))

# %% [markdown]
# Why the rule matters: CuPy refuses to mix. `np.asarray(gpu_array)`, or indexing a NumPy array with a GPU
# array, raises `TypeError: Implicit conversion to a NumPy array is not allowed`, and `gpu_array + np.arange(3)`
# raises `TypeError: Unsupported type <class 'numpy.ndarray'>`: any array made with `np.` meets the GPU's data
# sooner or later. (NumPy's own ufuncs, `np.exp(gpu_array)`, happen to hand the work over to CuPy; code that
# relies on it hides which library runs, and the next `np.` function may not.) The error is the good outcome;
# the bad one is a result quietly made on the host and copied back and forth every step.
#
# NumPy on the host is fine for small *constant* tables computed from shapes, as long as they cross to the device
# once, with `xp.asarray`. Average pooling counts each window's pixels that way:

# %%
print(inspect.getsource(pool._avg_divisor))

# %% [markdown]
# And the heavy lifting? Lesson 04's convolution turns each pass into im2col plus **one matrix product**.
# That product is `xp.matmul`: OpenBLAS on the CPU, cuBLAS on a GPU, where most of a convolution's time goes.

# %%
print(inspect.getsource(conv._matmul))

# %% [markdown]
# ## 3. Moving tensors and modules
#
# `tensor.to("cuda")` (or `.cuda()`) copies a tensor to the GPU, `.to("cpu")` (or `.cpu()`) copies it back, and
# either returns the tensor itself when it is already there. The copy is an operation of the graph: its
# backward copies the gradient back where the input lives. Asking for a GPU that is not there is a clear
# `RuntimeError`, caught here:

# %%
t = minigen.tensor([1.0, 2.0, 3.0], requires_grad=True)
print("t.to('cpu') is t:", t.to("cpu") is t)
try:
    on_gpu = t.to("cuda")
    print("on the GPU:", on_gpu, "| its array module:", on_gpu.xp.__name__)
    (on_gpu * on_gpu).sum().backward()                       # computed on the GPU ...
    print("gradient, back on", t.grad.device, ":", t.grad)    # ... the gradient comes home
except RuntimeError as error:
    print("RuntimeError:", error)

# %% [markdown]
# A module moves all its parameters and buffers at once with `model.to(device)`, in place: the `Parameter`
# objects stay the same, so an optimizer made before the move keeps working. Ops check that their inputs share
# a device and raise a `RuntimeError` naming both devices when they do not; here is the check, in
# `Function.__call__`, which every op goes through:

# %%
model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 2)).to(DEVICE)
print({name: p.device for name, p in model.named_parameters()})
print(inspect.getsource(minigen.Function.__call__).split("outputs = ")[0])
if HAS_GPU:
    try:
        minigen.ones(3) + minigen.ones(3, device=DEVICE)
    except Exception as error:
        print(f"{type(error).__name__}: {error}")

# %% [markdown]
# `.numpy()` and `.item()` copy to the host, through `backend.to_numpy` (CuPy's `asnumpy`). The copy has to
# wait for every kernel queued before it: **each `.numpy()` or `.item()` is a synchronization.**

# %%
print(inspect.getsource(backend.to_numpy))

# %% [markdown]
# ## 4. Random numbers where the tensor lives
#
# `minigen.randn(..., device="cuda")` draws on the GPU, from the GPU's own generator (CuPy's, built on
# cuRAND), instead of drawing on the host and copying. `manual_seed(s)` reseeds one generator per device, so a
# run is repeatable on each device. The CPU's stream (NumPy's PCG64) and the GPU's are different algorithms:
# the same seed gives different numbers on the two, each repeatable.

# %%
print(inspect.getsource(backend.generator))
for device in ["cpu"] + ([DEVICE] if HAS_GPU else []):
    minigen.manual_seed(0)
    first = minigen.randn(4, device=device).numpy()
    minigen.manual_seed(0)
    again = minigen.randn(4, device=device).numpy()
    print(f"{device:7} seed 0: {np.round(first, 3)}  again: {np.round(again, 3)}  same: {np.array_equal(first, again)}")

# %% [markdown]
# One consequence: a layer made with `nn.Linear(...)` draws its initial weights on the CPU, and `.to(device)`
# copies them. A model built and then moved starts from the *same* weights on every device, which the next
# section uses.
#
# ## 5. A training loop written once
#
# Nothing in a training step names a device except the line that puts the data and the model there. Below,
# `train(device, ...)` is lesson 03's spirals network (with wider layers), written once.
#
# One detail matters on a GPU: **reading the loss every step** (`losses.append(loss.item())`) makes Python wait
# for the GPU at every step, so it can never queue the next step while the GPU works on this one. Keeping
# the losses on the device and fetching them in one copy every `read_every` steps lets the queue run ahead.
# (`minigen train` does the same: on a GPU it reads the metrics back only every `log_every` steps.)

# %%
points, classes = spirals(400)


def train(device, steps, read_every):
    """Train the spirals network on ``device``; fetch the losses to the host every ``read_every`` steps.
    Returns the per-step losses and the wall time per step."""
    minigen.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                          nn.Linear(128, 2)).to(device)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    x = minigen.tensor(points, device=device)                           # the data crosses to the device once
    y = minigen.tensor(classes.astype(np.int64), device=device)
    losses, pending = [], []
    bench.synchronize(device)                                          # wait for queued GPU work (section 6)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        pending.append(loss.detach())                                   # still on the device: no waiting
        if step % read_every == 0 or step == steps:
            losses += minigen.stack(pending).numpy().tolist()           # one copy (one wait) for all of them
            pending.clear()
    bench.synchronize(device)
    return losses, (time.perf_counter() - start) / steps


STEPS = fast_or_full(150, 1000)
runs = {}
for device in ["cpu"] + ([DEVICE] if HAS_GPU else []):
    for read_every in (1, 50):
        losses, seconds = train(device, STEPS, read_every)
        runs[device, read_every] = losses, seconds
        print(f"{device:7} losses read every {read_every:2} steps: {seconds * 1e3:6.2f} ms per step, "
              f"loss {losses[0]:.3f} → {losses[-1]:.4f}")
if not HAS_GPU:
    print(f"(no GPU here: {WHY}; on a GPU machine the same function runs there too)")

# %% [markdown]
# On the CPU the two ways of reading the loss cost the same: nothing is queued, there is nothing to wait for.
# On a GPU, reading every step adds a wait and a copy per step. Do not expect this network to be much faster on
# a GPU, if at all: three small layers and Adam make around a hundred small kernels per step, and their launches,
# not the arithmetic, set the pace. The same starting weights on both devices give the same curve, up to
# rounding (cuBLAS and OpenBLAS add in different orders, and the differences grow slowly as training goes on):

# %%
fig, ax = plt.subplots(figsize=(6, 3))
for (device, read_every), (losses, _) in runs.items():
    if read_every == 50:
        ax.plot(losses, label=f"{device} ({CPU.split(' (')[0] if device == 'cpu' else GPU.split(' (')[0]})",
                ls="-" if device == "cpu" else "--")
ax.set_xlabel("step"); ax.set_ylabel("cross-entropy"); ax.legend(fontsize=8)
ax.set_title("one training function, every device here" + ("" if HAS_GPU else " (only the CPU)"), fontsize=10)
plt.show()
if HAS_GPU:
    cpu_losses, gpu_losses = np.array(runs["cpu", 50][0]), np.array(runs[DEVICE, 50][0])
    print(f"largest relative difference CPU vs GPU over the first 20 steps: "
          f"{np.max(np.abs(cpu_losses[:20] - gpu_losses[:20]) / cpu_losses[:20]):.1e}")

# %% [markdown]
# ## 6. Timing that tells the truth
#
# minigen's benchmark synchronizes before starting the clock (so earlier work is not counted) and before
# stopping it (so this call's work is):

# %%
print(inspect.getsource(bench.synchronize))
print(inspect.getsource(bench.timed))

# %% [markdown]
# Two more habits. **Warm up**: the first calls are slow for reasons that have nothing to do with the steady
# state: NumPy touches fresh memory (page faults), CuPy compiles each kernel the first time it meets it (then
# caches it). **Take the median** of several runs, which ignores the odd run slowed down by something else on
# the machine. Here are the first six calls of workload W1 (a convolution, forward and backward) on each device:

# %%
for device in ["cpu"] + ([DEVICE] if HAS_GPU else []):
    step = bench.WORKLOADS["W1"].setup(device).minigen
    print(f"{device:7} W1, first calls (ms):", "  ".join(f"{bench.timed(step, device) * 1e3:.1f}" for _ in range(6)))

# %% [markdown]
# `bench.time_case` adds one more precaution: minigen and PyTorch (when it is installed) take turns in short
# blocks, with a short pause before each block, so both see the same machine.
#
# ## 7. The benchmark: `minigen bench` on this machine
#
# The benchmark's six workloads (lessons 04, 08 and 10 name them by these ids): W1 and W2 are a convolution and a
# transposed convolution, forward and backward; W3 is a whole DCGAN training step (batch 256, lesson 10's
# `arch="5x5"` networks); W4 a VAE training step (batch 128); W5 and W6 a training step and a sampling call of a
# small diffusion U-Net (1.84 M parameters, the kind of network the diffusion lessons train). The CPU run below prints
# what `minigen bench` prints (`bench.run` is the function behind it); on a GPU the same function runs with
# `device="cuda"`, one workload at a time, and the two are put side by side after. Fast mode takes 3 timed runs
# and a 512² matmul for the reference rate, and leaves W3, W5 and W6 out on the CPU (one step takes seconds there);
# full mode is `minigen bench`'s setting (10 runs, 2048² matmul, every workload). `minigen bench` also prints the
# peak memory of each workload, measured in fresh processes; this notebook leaves that column out
# (`memory=False`) to save time. Everything is measured now, on the machine running this notebook.

# %%
SETTINGS = fast_or_full(dict(repeats=3, warmup=1, settle=0.0, matmul_n=512, memory=False),
                        dict(repeats=10, warmup=3, settle=0.3, matmul_n=2048, memory=False))
results = {"cpu": bench.run("cpu", fast_or_full(["W1", "W2", "W4"], list(bench.WORKLOADS)), **SETTINGS)}
if HAS_GPU:  # one workload at a time, so that one failing (reported here) does not lose the others
    results[DEVICE] = []
    for id in bench.WORKLOADS:
        try:
            results[DEVICE] += bench.run(DEVICE, [id], print_fn=None, **SETTINGS)
        except Exception as error:
            print(f"{id} on {DEVICE} failed: {type(error).__name__}: {error}")
    print(f"\n{DEVICE}: {len(results[DEVICE])} of {len(bench.WORKLOADS)} workloads timed; the table below has them")
else:
    print(f"\nno GPU benchmark: {WHY}")

# %% [markdown]
# The same numbers side by side, with the devices named:

# %%
def ms(row, key="ms"):
    """A row's time, in ms (or s from a second up), or a dash where there is none."""
    if not row or not row.get(key):
        return "–"
    return f"{row[key] / 1e3:.2f} s" if row[key] >= 1e3 else f"{row[key]:.1f} ms"


by_id = {device: {row["id"]: row for row in rows} for device, rows in results.items()}
gpu_rows = by_id.get(DEVICE, {}) if HAS_GPU else {}
torch_cpu = any(r["torch_ms"] for r in by_id["cpu"].values())
torch_gpu = any(r["torch_ms"] for r in gpu_rows.values())
header = ["workload", "CPU: minigen"] + (["CPU: PyTorch"] if torch_cpu else []) + ["GPU: minigen"] \
    + (["GPU: PyTorch"] if torch_gpu else []) + ["GPU speed-up"]
lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
for id, spec in bench.WORKLOADS.items():
    cpu, gpu = by_id["cpu"].get(id), gpu_rows.get(id)
    cells = [f"{id} {spec.description}", ms(cpu) if cpu else "full mode only"]
    cells += [ms(cpu, "torch_ms")] if torch_cpu else []
    cells += [ms(gpu) if gpu else ("–" if HAS_GPU else "no GPU")]
    cells += [ms(gpu, "torch_ms")] if torch_gpu else []
    cells += [f"{cpu['ms'] / gpu['ms']:.1f}×" if cpu and gpu else "–"]
    lines.append("| " + " | ".join(cells) + " |")
cpu_ref = results["cpu"][0]["matmul_gflops"]
gpu_ref = f"{results[DEVICE][0]['matmul_gflops']:.0f} GFLOP/s" if gpu_rows else "–"
display(Markdown(f"**CPU:** {CPU}. **GPU:** {GPU or 'none on this machine (' + WHY + ')'}. "
                 f"Medians of {SETTINGS['repeats']} runs, {'fast' if FAST else 'full'} mode; float32 "
                 f"{SETTINGS['matmul_n']}² matmul: CPU {cpu_ref:.0f} GFLOP/s, GPU {gpu_ref}.\n\n" + "\n".join(lines)))

# %%
fig, ax = plt.subplots(figsize=(8, 3.2))
ids = list(bench.WORKLOADS)
bars = [("CPU: minigen", by_id["cpu"], "ms", "#4c72b0"), ("CPU: PyTorch", by_id["cpu"], "torch_ms", "#a1c9f4"),
        ("GPU: minigen", gpu_rows, "ms", "#c44e52"), ("GPU: PyTorch", gpu_rows, "torch_ms", "#ff9f9b")]
bars = [b for b in bars if any(row.get(b[2]) for row in b[1].values())]
height = 0.8 / len(bars)
measured = [rows[i][key] for _, rows, key, _ in bars for i in ids if i in rows and rows[i].get(key)]
for k, (label, rows, key, colour) in enumerate(bars):
    for j, id in enumerate(ids):
        if id in rows and rows[id].get(key):
            ax.barh(j + k * height, rows[id][key], height, color=colour, label=label)
            ax.text(rows[id][key] * 1.05, j + k * height, ms(rows[id], key), va="center", fontsize=7)
            label = None                                                       # one legend entry per bar colour
for j, id in enumerate(ids):
    if not any(id in rows and rows[id].get(key) for _, rows, key, _ in bars):
        ax.text(min(measured) / 2.5, j + 0.4 - height / 2, "not measured in fast mode", va="center", fontsize=8,
                color="0.4")
ax.set_xscale("log"); ax.set_xlim(min(measured) / 3, max(measured) * 4)
ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
ax.set_yticks(np.arange(len(ids)) + 0.4 - height / 2, ids); ax.invert_yaxis()
ax.set_xlabel("milliseconds per step (log scale)")
ax.legend(fontsize=8, loc="lower right")
ax.set_title(f"CPU: {CPU.split(' (')[0]}  |  GPU: {GPU.split(' (')[0] if GPU else 'none here'}", fontsize=9)
save_figure(fig, "13_bench")
plt.show()

# %% [markdown]
# What to expect with a GPU (the speed-up column says what this machine did): the convolutions (W1, W2), the DCGAN step
# (W3) and the U-Net (W5, W6) have enough arithmetic per kernel for the GPU's matrix products to pay off, typically many
# times over a few CPU cores. The VAE step (W4) is small (five linear layers on a batch of 128, and Adam on ten
# parameters: well over a hundred small kernels per step), so on a GPU it is mostly launch overhead, like the spirals
# network above. How close minigen gets to PyTorch on a GPU depends on the work around the products: PyTorch fuses and
# tunes those kernels, minigen launches one CuPy kernel per NumPy-style operation.
#
# ## Exercises
#
# Your file is `lessons/exercises/lesson13.py`; the reference answers are in `lessons/solutions/lesson13.py`.
#
# **13.1 One-hot on any device.** Write `one_hot(labels, num_classes)`: an integer array of any shape →
# float32 array of shape `labels.shape + (num_classes,)`, with a 1 at each label, **on the labels' device**.
# Use `xp = xp_of(labels)` and make new arrays only with `xp`. The checks hand your function a stand-in for a
# CuPy array that, like the real thing, raises `TypeError` when it meets NumPy, so a `np.eye(...)` or
# `np.arange(...)` slipped into your code fails there even on a machine without a GPU.
#
# **13.2 A timer that waits.** Write `median_time(fn, synchronize, repeats, warmup, clock)`: `warmup` untimed
# calls, then the median of `repeats` timed calls, each bracketed correctly by `synchronize()`. The checks
# time a pretend GPU whose work is queued and whose clock moves only when it is told, so forgetting either
# synchronization gives a wrong answer, not just a noisy one. Both, on this lesson's device:

# %%
lesson13 = exercise_module(13)
labels = minigen.tensor([2, 0, 1], device=DEVICE)
encoded = lesson13.one_hot(labels.data, 3)
print(f"one_hot of {labels.tolist()} on {backend.device_of(encoded)}:\n{backend.to_numpy(encoded)}")
step = bench.WORKLOADS["W1"].setup(DEVICE).minigen
seconds = lesson13.median_time(step, lambda: bench.synchronize(DEVICE), repeats=5, warmup=2)
print(f"W1 on {DEVICE}: median {seconds * 1e3:.1f} ms per step")

# %% [markdown]
# **Run the checks.** `python -m pytest -m lesson13` runs this lesson's tests against the solutions;
# `MINIGEN_CHECK=exercises python -m pytest -m lesson13` against your file. From here: `check(13, "exercises")`.

# %%
check(13)
