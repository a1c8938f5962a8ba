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
# # Lesson 17 — Restoration: one generative model, many inverse problems
#
# **Time:** under a minute in fast mode (the default: 3 fills of 4 test images per picture, 4, 8 and 8 test
# images for the measurements of sections 2 to 4 and 64 for section 5, a regression network trained for 10 steps)
# and about 2 minutes in full mode (`MINIGEN_LESSON_MODE=full`: 4 fills of 6 images, 64, 64 and 32 test images
# for sections 2 to 4 and 300 for section 5, a regression network trained for 100 steps) on a 2-core CPU. Both
# modes use MNIST (found through `$MINIGEN_DATA`, `data/` or downloaded), the committed unconditional flow model
# `pretrained/flow-mnist-7858` of lesson 16 with 20 Euler steps, and the evaluator classifier
# `pretrained/classifier-mnist` of lesson 10.
#
# Lessons 14 to 16 trained models that turn noise into digits. This lesson uses one of them, untouched, to undo
# damage: fill in a missing half (**inpainting**), add detail to a 7×7 thumbnail (**super-resolution**), remove
# noise (**denoising**). No retraining: the reverse process is *steered*, at every step, towards images that agree
# with what we observed, and the network fills in the rest so that it looks like a digit. We derive each way of
# steering (replacement, RePaint's resampling, a consistency projection, starting mid-way), check what each one
# guarantees, and end with the question every restorer faces: should the answer be *close* to the truth pixel by
# pixel, or look like a *real* digit? A network trained with the mean squared error answers the first, a
# generative model the second, and we measure both.

# %%
# %matplotlib inline
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np

import minigen
from minigen import baselines, metrics, optim, restoring, viz
from minigen.evaluation import open_evaluator
from minigen.models import diffusion
from minigen.models import restoration as R
from minigen.models.unet import UNet
from minigen.nn import functional as F
from minigen.train import open_run
from course import FAST, ROOT, check, digit_images, exercise_module, fast_or_full, save_figure

print("mode:", "fast" if FAST else "full")
started = time.perf_counter()
STEPS = 20                                                   # Euler steps from noise to data, every restorer here
run = open_run(ROOT / "pretrained" / "flow-mnist-7858")
process = restoring.process_of(run)                          # FlowProcess: levels, noise_to, step, renoise
judge = open_evaluator(ROOT / "pretrained" / "classifier-mnist", "mnist")
images, labels = digit_images("mnist", train=False, n=fast_or_full(64, 300))   # (N, 28, 28) in [0, 1]
clean = images[:, None] * 2 - 1                                                 # (N, 1, 28, 28) in [−1, 1]
print(f"{len(clean)} test images; the model: {type(process).__name__}, levels for {STEPS} steps:",
      np.round(process.levels(STEPS), 2))


def unit(x):
    """[−1, 1] images (N, 1, 28, 28), tensors or arrays → [0, 1] arrays (N, 28, 28) for pictures and the judge."""
    return restoring.to_unit(x.numpy() if hasattr(x, "numpy") else x)[:, 0]


# %% [markdown]
# ## 1. Inpainting by replacement
#
# The flow model (lesson 16) moves between data and noise on straight lines, x_t = (1 − t) x₀ + t ε, and its
# reverse process goes from t = 1 (noise) down to t = 0 (data) in Euler steps x_s = x_t − (t − s) v(x_t, t).
# `FlowProcess` packs what a restorer needs to know about this path:

# %%
print(inspect.getsource(R.FlowProcess))

# %% [markdown]
# `step` takes a noise argument z and ignores it: the Euler step is deterministic. The signature is shared with
# `DiffusionProcess.step`, the DDPM's version, whose DDIM step with η > 0 does use it; the loops below draw z
# anyway, so that their noise stream is the library's.
#
# Every restorer here takes Euler steps, although lesson 16 found Heun closer at equal cost (from about 10
# evaluations on). The steering acts once per step, between two steps; a Heun step evaluates the network twice,
# at x_t and at Euler's guess of x_s, and that guess would need the correction too before the second evaluation.
# Euler keeps one evaluation and one correction per step.
#
# Inpainting observes some pixels y exactly (mask m = 1 on them) and nothing of the others. The simplest steering:
# after each reverse step to level t, overwrite the known pixels,
#
# **x ← m ⊙ noise_to(y, t) + (1 − m) ⊙ x,  noise_to(y, t) = (1 − t) y + t z,  z ~ N(0, I).**
#
# Why noise y first: the network was trained only on images at level t, where *every* pixel carries noise of
# standard deviation t. Pasting the clean y into a state at t = 0.8 would hand it an image of a kind it has never
# seen (part clean, part noise), and its velocity there means nothing. Noised to the current level, the known
# pixels are a genuine sample of what x_t looks like where the image is y, so the state stays on the path the
# network knows, and its prediction for the unknown pixels is pulled towards images that continue y. At the last
# level t = 0 the noise is gone and the known pixels are y exactly.
#
# The whole loop, with the noise drawn in the same order as `models.restoration.inpaint`, so that the two must
# agree to the last bit:

# %%
def inpaint_loop(y, m, steps=STEPS, seed=0, repaint=None, history=None):
    """Replacement inpainting of y (N, 1, 28, 28) (a tensor in [−1, 1]) where the mask m (an array, 1 = known) is
    0; with repaint=(jump, repeats), RePaint's resampling (section 2). Returns (restored, network evaluations).
    ``history``, a list, collects after each reverse step the RMS distance between the network's clean estimate
    x̂₀ and y on the known pixels."""
    rng = np.random.default_rng(seed)
    m = minigen.tensor(np.broadcast_to(m, y.shape).astype(np.float32))

    def noise():
        return minigen.tensor(rng.standard_normal(y.shape, dtype=np.float32))

    levels = process.levels(steps)                                  # 1.0, 0.95, …, 0.0
    order = R.repaint_schedule(len(levels), *repaint) if repaint else list(range(len(levels)))
    x, nfe = noise(), 0                                             # x_1: pure noise (N, 1, 28, 28)
    for a, b in zip(order, order[1:]):
        t, s = levels[a], levels[b]
        if b > a:                                                   # down: one Euler step t → s
            x_next = process.step(x, t, s, noise())
            nfe += 1
            if history is not None:                             # x̂₀ = x_t − t·v (section 2), v = (x_t − x_s)/(t − s)
                x0_hat = x - t * (x - x_next) / (t - s)
                history.append(float(np.sqrt((((x0_hat - y) * m) ** 2).numpy().sum() / m.numpy().sum())))
            x = m * process.noise_to(y, s, noise()) + (1 - m) * x_next
        else:                                                       # up (RePaint): noise back from t to s > t
            x = process.renoise(x, t, s, noise())
    return m * y + (1 - m) * x, nfe


# (1, 1, 28, 28), 1 = known: "bottom" (the bottom half is missing) is 1 on the top half, "center" 0 on the middle 14×14
masks = {"bottom": R.make_mask("bottom", 1, None), "center": R.make_mask("center", 1, None)}
show, K = fast_or_full(4, 6), fast_or_full(3, 4)                   # inputs per picture, restorations per input
with minigen.no_grad():
    y = minigen.tensor(clean[:show] * masks["bottom"])              # (show, 1, 28, 28), unknown pixels 0
    mine, _ = inpaint_loop(y, masks["bottom"], seed=7)
    library = R.inpaint(process, y, masks["bottom"], STEPS, seed=7)
gap = float(np.abs(mine.numpy() - library.numpy()).max())
print(f"hand-written loop against models.restoration.inpaint: largest difference {gap:.2e}")
assert gap < 1e-5

# %% [markdown]
# Each input, restored K times with different noise. The left column is the observation (unknown pixels grey),
# the right one the truth:

# %%
fills, spreads = {}, {}
for name, m in masks.items():
    y = clean[:show] * m                                             # (show, 1, 28, 28)
    fills[name] = restoring.restore(run, "inpaint", y, "replace", STEPS, seed=1,
                                    mask=np.broadcast_to(m, y.shape), samples=K)      # (show, K, 1, 28, 28)
    known = np.broadcast_to(m, y.shape).astype(bool)
    exact = max(float(np.abs(fills[name][:, j][known] - y[known]).max()) for j in range(K))
    spreads[name] = float(fills[name][:, :, 0].std(axis=1)[:, ~known[0, 0]].mean())
    print(f"{name:6s}: known pixels differ from y by at most {exact:.1e}; spread of the {K} fills on the unknown "
          f"pixels: std {spreads[name]:.3f} on [−1, 1], {spreads[name] / 2:.0%} of the range")
    assert exact == 0.0
assert spreads["center"] > spreads["bottom"]
rows = [np.concatenate([restoring.shown("inpaint", clean[:show] * m, np.broadcast_to(m, (show, 1, 28, 28)))[:, None],
                        unit(fills[name].reshape(-1, 1, 28, 28)).reshape(show, K, 28, 28),
                        images[:show, None]], axis=1) for name, m in masks.items()]
viz.interpolation(np.concatenate(rows), title=f"bottom half, then centre: observation | {K} fills | truth")
plt.show()

# %% [markdown]
# The known pixels are y exactly (the last paste is at t = 0, where noise_to(y, 0) = y). The fills differ from
# each other, by a standard deviation (over the fills, averaged over the unknown pixels) of about 12 % of the
# pixel range under the bottom half and about 30 % in the centre, where the strokes are. The model draws *one*
# digit that continues the known part, and another draw may continue it differently (a 7 or a 9? a 3 or a 5?).
# That spread is the honest answer to "what was under the mask": the observation does not decide it. Where the
# fills look unrelated to the known part (a stroke that does not join), the next section helps.

# %% [markdown]
# ## 2. RePaint: going back up to harmonise
#
# Replacement has a weakness. At level t the network sees the known pixels noised *independently* of what it
# made in the unknown region: the two halves are merged by pasting, not generated together. Early on, at high
# noise, that hardly matters; but once the unknown region has committed to a shape, a pasted known region that
# disagrees with it can only be fixed by the few steps that are left.
#
# **RePaint** (Lugmayr et al., 2022) goes back. After a few steps down, it re-noises the merged state up by
# `jump` levels with the forward process (`renoise`: for the flow, from x_s = (1 − s)x₀ + sε, scale by
# a = (1 − t)/(1 − s) and add √(t² − a²s²) fresh noise to reach level t > s), and comes down again. Each pass
# down lets the network see the merged image and produce an x_t in which both parts come from *one* prediction;
# repeating it `repeats` times gives the generated part several chances to agree with the known one. The order
# of levels it visits:

# %%
JUMP, REPEATS = 5, 3
order = R.repaint_schedule(len(process.levels(STEPS)), JUMP, REPEATS)
levels = np.array(process.levels(STEPS))
nfe_repaint = sum(b > a for a, b in zip(order, order[1:]))      # one network evaluation per step down
print(f"replacement: {STEPS} network evaluations; RePaint (jump {JUMP}, repeats {REPEATS}): {nfe_repaint}")
assert nfe_repaint == STEPS + len(range(JUMP, STEPS, JUMP)) * (REPEATS - 1) * JUMP
fig, ax = plt.subplots(figsize=(8, 2.8))
ax.plot(levels[order], ".-", lw=1)
ax.set_xlabel("position in the schedule"), ax.set_ylabel("flow level t")
ax.set_title(f"RePaint's walk: down {JUMP} levels, back up {JUMP}, {REPEATS} times at each stop")
a_first = (1 - levels[0]) / (1 - levels[JUMP])                      # renoise's factor a from t = 0.75 up to t = 1
print(f"first stop: from t = {levels[JUMP]:.2f} back up to t = {levels[0]:.2f}, renoise keeps a = {a_first:.1f} "
      f"of the state: {(REPEATS - 1) * JUMP} of the {nfe_repaint} evaluations start again from fresh noise")
assert a_first == 0.0
plt.show()

# %% [markdown]
# Each stop at a multiple of `jump` is visited `repeats` times, so the cost is STEPS + (stops)·(repeats − 1)·jump
# network evaluations: 2.5× here. The first stop is not a resampling at all: from index 5 (t = 0.75) the walk
# goes back to index 0, t = 1, where renoise's a = (1 − 1)/(1 − 0.75) = 0 keeps nothing of the state and returns
# fresh noise. The first two passes down, 10 of the 50 evaluations, are thrown away; only the stops at t = 0.5
# and t = 0.25 re-harmonise.
#
# What do we buy? Three measures on the centre mask. One needs no truth: how well the network's own clean
# estimate agrees with y *on the known pixels*, logged after every step down (the loop above does). On a straight
# path x_t = (1 − t)x₀ + tε with velocity v = ε − x₀, x_t − t v = (1 − t)x₀ + tε − tε + tx₀ = x₀; with the
# network's v in place of ε − x₀, **x̂₀ = x_t − t·v** is its estimate of the clean image. If the generated region
# fits the known one, the network has no reason to predict anything else there; a disagreement means it is
# fighting the paste. The second is the **PSNR** (peak signal-to-noise ratio) against the truth, the usual
# pixel-by-pixel score of a restoration: for each image, 10·log₁₀(1/MSE) with the mean squared error MSE taken
# on the [0, 1] scale, then averaged over the images (`restoring.psnr`). Higher is closer; every halving of the
# squared error adds 3 dB. The third asks the evaluator classifier of lesson 10
# whether the result is a recognisable digit: its **accuracy** against the true label, and its **uncertain
# share**, the fraction of images whose most probable class gets a probability below 0.9
# (`metrics.uncertain_share`), that is images it cannot read clearly as any digit.
#
# RePaint costs 50 evaluations against replacement's 20, and lesson 16 insisted on comparing samplers at equal
# cost: so replacement with 50 steps, on the same images, is the control.

# %%
n_re = fast_or_full(4, 64)
y_c = minigen.tensor(clean[:n_re] * masks["center"])                 # (n_re, 1, 28, 28)
with minigen.no_grad():
    hist_replace, hist_repaint = [], []
    out_replace, nfe_a = inpaint_loop(y_c, masks["center"], seed=3, history=hist_replace)
    out_repaint, nfe_b = inpaint_loop(y_c, masks["center"], seed=3, repaint=(JUMP, REPEATS), history=hist_repaint)
    out_replace50, nfe_c = inpaint_loop(y_c, masks["center"], steps=nfe_repaint, seed=3)   # the equal-cost control
    check_lib = R.inpaint(process, y_c, masks["center"], STEPS, seed=3, repaint=(JUMP, REPEATS))
print("RePaint loop against the library:", f"{float(np.abs(out_repaint.numpy() - check_lib.numpy()).max()):.1e}")
print(f"network evaluations: replacement {nfe_a}, RePaint {nfe_b}, replacement with {nfe_c} steps {nfe_c}")
print(f"RMS of x̂₀ − y on the known pixels at the last step: replacement {hist_replace[-1]:.3f}, "
      f"RePaint {hist_repaint[-1]:.3f}")
print(f"... averaged over the last {JUMP} steps down: replacement {np.mean(hist_replace[-JUMP:]):.3f}, "
      f"RePaint {np.mean(hist_repaint[-JUMP:]):.3f}")
judged = {}
for name, out in (("replacement", out_replace), ("replacement 50", out_replace50), ("RePaint", out_repaint)):
    _, probs = judge.recipe.predict(unit(out))
    judged[name] = metrics.label_accuracy(probs, labels[:n_re]), metrics.uncertain_share(probs)
    print(f"{name:14s}: PSNR {restoring.psnr(out.numpy(), clean[:n_re]):5.2f} dB, evaluator accuracy "
          f"{judged[name][0]:.0%}, uncertain {judged[name][1]:.0%}")
assert nfe_a == STEPS and nfe_b == nfe_repaint == nfe_c
if not FAST:                                     # 64 images: enough to see RePaint's digits come out right more often
    for control in ("replacement", "replacement 50"):
        assert judged["RePaint"][0] > judged[control][0] and judged["RePaint"][1] < judged[control][1]
assert np.abs(out_repaint.numpy() - check_lib.numpy()).max() < 1e-5

fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(hist_replace, ".-", label="replacement")
ax.plot(hist_repaint, ".-", label=f"RePaint ({JUMP}, {REPEATS})")
ax.set_xlabel("network evaluation"), ax.set_ylabel("RMS(x̂₀ − y) on known pixels"), ax.set_yscale("log")
ax.legend(), ax.set_title("how much the network disagrees with the known pixels")
plt.show()
n_pic = min(n_re, 16)                                                # images shown: 16 (4 in fast mode)
viz.image_panels({"observation": restoring.shown("inpaint", y_c.numpy()[:n_pic],
                                                 np.broadcast_to(masks["center"], (n_pic, 1, 28, 28))),
                  f"replacement ({nfe_a} NFE)": unit(out_replace.numpy()[:n_pic]),
                  f"replacement ({nfe_c} NFE)": unit(out_replace50.numpy()[:n_pic]),
                  f"RePaint ({nfe_b} NFE)": unit(out_repaint.numpy()[:n_pic]),
                  "truth": images[:n_pic]}, nrow=4)
plt.show()

# %% [markdown]
# Whatever the method, the final known pixels are pasted from y (the two loops end with m ⊙ y + (1 − m) ⊙ x), so
# "close" is measured on what the network *predicts* there, which it is free to contradict. It hardly does:
# for both methods x̂₀ stays within a few hundredths of y on the known pixels at the end (RePaint's saw-tooth is
# the network re-seeing a re-noised state; compare the ends, at t ≈ 0). The pasting itself is not where
# replacement goes wrong. The difference is in the hole: with replacement the centre is often a stroke that
# does not belong to any digit, joined to the known strokes but not continuing them, and the evaluator's
# accuracy and certainty show it (with 64 images in full mode, RePaint nearly doubles the accuracy and cuts
# the uncertain share; fast mode's 4 images are too few to say much). Nor is it a matter of cost: in full
# mode, replacement with 50 steps, RePaint's number of evaluations, does little better than with 20 (25 %
# accuracy against 22 %, 50 % uncertain against 52 %, where RePaint reaches 41 % and 28 %). More and finer steps
# of the same procedure do not fix it.
#
# Why does going back up help the hole, when the known pixels agree anyway? Replacement only pastes the known
# pixels in: at each level the network makes the hole once, from a state whose known part was noised
# separately, and once the hole has committed to a shape at high noise, nothing sends it back. RePaint's pass up
# re-noises the *merged* image, so the next pass down makes the hole again from a state in which known part and
# hole are one image: at each noise level the walk revisits, the generated part gets another chance to
# re-harmonise with the known part. The hole is 14×14 of a 28×28 digit, a quarter of the image and most of the
# strokes: hard enough that even RePaint is often wrong, because the observation does not decide the digit.

# %% [markdown]
# ## 3. Super-resolution as a consistency projection
#
# Now y is a (28/r)×(28/r) image whose pixels are the means of r×r blocks of the truth, for a scale factor r
# (`scale` in the code): y = down(x). Not a subset of pixels, so replacement does not apply directly. But the set
# of images consistent with y has a simple shape. Let **P = up ∘ down**: down averages each block, up repeats each
# value r×r times. P is linear, P² = P (down ∘ up is the identity: repeating a value and averaging gives it back),
# and it is symmetric, so it is the orthogonal projection onto block-constant images. Every image splits into
# x = P x + (I − P) x: its block means, and the detail inside each block. Consistency with y fixes the first
# part, P x = up(y), and leaves the second free, so the steering step (ILVR, Choi et al., 2021) replaces the
# first part by the observation's, noised to the current level:
#
# **x ← x − P x + P(noise_to(up y, t)).**
#
# At t = 0 this makes down(x) = down(up y) = y exactly, up to float rounding: the result is a 28×28 image
# whose block means *are* the observation. The network supplies only what P cannot see. The simpler
# **sub-grid** variant treats up(y)'s value at each block's centre pixel as known and inpaints the rest: it pins
# one pixel per block to the block's *mean*, which is not what that pixel was.

# %%
n_sr = fast_or_full(8, 64)
table = {}
results_sr = {}
for scale in (2, 4):
    y_low = R.downsample(minigen.tensor(clean[:n_sr]), scale)                   # (n_sr, 1, 28/scale, 28/scale)
    with minigen.no_grad():
        proj = R.upscale(process, y_low, scale, STEPS, seed=5)                  # (n_sr, 1, 28, 28), not clipped
        sub = R.upscale(process, y_low, scale, STEPS, seed=5, method="subgrid")
    bicubic = baselines.upsample(y_low.numpy(), scale, "bicubic")
    for name, out in (("projection", proj.numpy()), ("sub-grid", sub.numpy()), ("bicubic", bicubic)):
        err = float(np.abs(R.downsample(minigen.tensor(out), scale).numpy() - y_low.numpy()).max())
        _, probs = judge.recipe.predict(unit(np.clip(out, -1, 1)))
        table[scale, name] = (restoring.psnr(np.clip(out, -1, 1), clean[:n_sr]), err,
                              metrics.label_accuracy(probs, labels[:n_sr]))
        print(f"×{scale} {name:10s}: PSNR {table[scale, name][0]:5.2f} dB, max |down(x) − y| {err:.1e}, "
              f"evaluator accuracy {table[scale, name][2]:.0%}")
    results_sr[scale] = (y_low.numpy(), proj.numpy(), sub.numpy(), bicubic)
    assert table[scale, "projection"][1] < 1e-5                # consistent with y to float tolerance
    assert table[scale, "bicubic"][1] > 1e-2                   # bicubic is not
assert table[2, "projection"][0] > table[2, "bicubic"][0]      # ×2: the thumbnail decides the digit
if not FAST:                                                   # ×4, 64 images: the blur scores better
    assert table[4, "bicubic"][0] > table[4, "projection"][0] and table[4, "bicubic"][2] > table[4, "projection"][2]
panels = {}
for scale, (y_low, proj, sub, bicubic) in results_sr.items():
    panels[f"×{scale} input"] = unit(R.upsample(minigen.tensor(y_low[:4]), scale))
    panels[f"×{scale} bicubic"] = unit(bicubic[:4])
    panels[f"×{scale} projection"] = unit(np.clip(proj[:4], -1, 1))
    panels[f"×{scale} sub-grid"] = unit(np.clip(sub[:4], -1, 1))
panels["truth"] = images[:4]
viz.image_panels(panels, nrow=1)
plt.show()

# %% [markdown]
# The projection's results agree with the observation to float rounding (the printed max |down(x) − y|);
# bicubic's do not, it blurs across block boundaries. At ×2 the thumbnail already decides the digit: the
# projection is sharp and beats bicubic on PSNR too. At ×4 (7×7 pixels) it draws a sharp digit whose block
# means are right, while bicubic gives a smooth blob; and in full mode (64 images) bicubic now has the better
# PSNR, and even the better evaluator accuracy (fast mode's 8 images are too few to order them reliably). A 7×7
# thumbnail leaves the digit open, and sharp detail that was not observed is a guess: a wrong guess costs more
# squared error than a blur, and a blur that hedges between candidates is still read as the likelier one. The
# last section is about that trade.
#
# The sub-grid variant fails, and the way it fails says something about replacement. One known pixel per block
# is a sparse mask: at every level the network sees isolated pixels noised like everything else, which look to
# it like noise, and its prediction barely responds to them. The final paste then leaves a dotted pattern on top
# of a digit of the model's own choice (and the pinned values are block means, not what those pixels were).
# Replacement needs known *regions* that the network can read as part of a digit; the projection constrains
# every pixel a little instead of a few pixels fully.

# %% [markdown]
# ## 4. Denoising by starting mid-way
#
# Noisy observation: y = x + σ n, n ~ N(0, I), on the [−1, 1] scale. The flow's state at level t is
# x_t = (1 − t) x + t ε. Scale the observation:
#
# (1 − t) y = (1 − t) x + (1 − t) σ n.
#
# That is *exactly* a draw of x_t, same signal, Gaussian noise of the same standard deviation, when
# (1 − t) σ = t, that is **t = σ/(1 + σ)**. So denoising needs no steering at all: start the reverse process at
# that level, from (1 − t) y, and run it down to 0 (SDEdit, Meng et al., 2022). For DDPM (lesson 14) the same
# argument with x_t = √ᾱ x + √(1 − ᾱ) ε gives √ᾱ σ = √(1 − ᾱ), that is **ᾱ = 1/(1 + σ²)**, starting from √ᾱ y.
#
# Numerically, for σ = 0.5 (t = 1/3): the residual (1 − t)(y − x) should have standard deviation t, and be
# Gaussian like t·ε.

# %%
SIGMA = 0.5
rng = np.random.default_rng(0)
noisy = (clean + SIGMA * rng.standard_normal(clean.shape)).astype(np.float32)          # (N, 1, 28, 28)
t_match, factor = process.start_for_sigma(SIGMA)
residual = factor * noisy - (1 - t_match) * clean                                       # the noise part of x_t
eps = rng.standard_normal(clean.shape)
print(f"flow: start t = σ/(1 + σ) = {t_match:.4f}, factor 1 − t = {factor:.4f}")
print(f"  std of (1 − t)(y − x): {residual.std():.4f}; the noise of x_t has std t = {t_match:.4f}")
print(f"  its kurtosis {np.mean(residual ** 4) / np.mean(residual ** 2) ** 2:.3f} "
      f"(t·ε's: {np.mean(eps ** 4) / np.mean(eps ** 2) ** 2:.3f}; 3 for a Gaussian)")
assert abs(residual.std() - t_match) < 0.01 * t_match
ddpm = R.DiffusionProcess(None)                                 # the schedule alone, no network needed here
level, root_ab = ddpm.start_for_sigma(SIGMA)
ab = ddpm.s.abar(level)
print(f"DDPM: ᾱ = 1/(1 + σ²) = {1 / (1 + SIGMA ** 2):.4f}; nearest step t = {level} has ᾱ = {ab:.4f}, "
      f"√ᾱ·σ = {root_ab * SIGMA:.4f} against √(1 − ᾱ) = {np.sqrt(1 - ab):.4f}")
assert abs(ab - 1 / (1 + SIGMA ** 2)) < 0.01

# %% [markdown]
# What if we start elsewhere? Earlier (smaller t): the state carries more noise than the network expects at that
# level, and it removes only what it thinks is there, so some noise survives. Later (larger t): the scaled
# observation carries *less* noise than level t has, and the network, which assumes t, over-smooths and
# invents; far up it forgets the observation and draws any digit. A sweep of the start level, the same noisy
# images, PSNR against the truth:

# %%
def denoise_from(y, start, seed=0):
    """Run the flow down from level ``start``, from (1 − start)·y (N, 1, 28, 28) tensor; the steps are the part of
    STEPS that lies below ``start`` (``FlowProcess.levels``)."""
    rng = np.random.default_rng(seed)
    x = (1 - start) * y
    levels = process.levels(STEPS, start)
    for a, b in zip(levels, levels[1:]):
        x = process.step(x, a, b, minigen.tensor(rng.standard_normal(y.shape, dtype=np.float32)))
    return x


n_dn = fast_or_full(8, 32)
y_dn = minigen.tensor(noisy[:n_dn])
starts = [0.05, 0.15, 0.25, t_match, 0.45, 0.6, 0.8]
curve, certain = [], []
with minigen.no_grad():
    for start in starts:
        out = np.clip(denoise_from(y_dn, start).numpy(), -1, 1)
        curve.append(restoring.psnr(out, clean[:n_dn]))
        _, probs = judge.recipe.predict(unit(out))
        certain.append(metrics.label_accuracy(probs, labels[:n_dn]))
    lib = R.denoise(process, y_dn, SIGMA, STEPS, seed=0)
    gap = float(np.abs(lib.numpy() - denoise_from(y_dn, t_match).numpy()).max())
print("start level t :", "  ".join(f"{s:6.3f}" for s in starts))
print("PSNR (dB)     :", "  ".join(f"{p:6.2f}" for p in curve))
print("accuracy      :", "  ".join(f"{a:6.0%}" for a in certain))
_, probs = judge.recipe.predict(unit(np.clip(noisy[:n_dn], -1, 1)))
noisy_accuracy = metrics.label_accuracy(probs, labels[:n_dn])
print(f"noisy input: PSNR {restoring.psnr(np.clip(noisy[:n_dn], -1, 1), clean[:n_dn]):.2f} dB, "
      f"accuracy {noisy_accuracy:.0%}; denoise_from(t = σ/(1 + σ)) against models.restoration.denoise: {gap:.1e}")
best = starts[int(np.argmax(curve))]
print(f"best start {best:.3f}, matched {t_match:.3f}")
assert gap < 1e-5
assert abs(best - t_match) <= 0.15 and max(curve) > curve[0] + 1 and max(curve) > curve[-1] + 1
near = [c for s, c in zip(starts, certain) if s <= t_match + 0.15]      # up to a little above the match
assert min(near) == 1.0 and noisy_accuracy == 1.0                      # σ = 0.5 leaves every digit readable
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(starts, curve, "o-")
ax.axvline(t_match, color="0.5", ls="--", label=f"σ/(1 + σ) = {t_match:.3f}")
ax.set_xlabel("start level t"), ax.set_ylabel("PSNR (dB)"), ax.legend()
ax.set_title(f"denoising σ = {SIGMA}: where to start the reverse process")
plt.show()

# %% [markdown]
# The curve rises steeply up to the matched level, is flat between it and a little above, and falls off after:
# too early leaves noise, too late replaces the digit with the model's own. Just above the match the state
# carries a little *less* noise than the network assumes, so it smooths a little more than it should, and
# smoothing costs no PSNR (section 5 explains why squared error likes it). The matched level needs no tuning:
# it follows from σ alone. The evaluator recognises the digit in every restoration started from up to a little
# above the match, and in the noisy input itself (the printed accuracies); started far above it (t = 0.8), the
# model has room to draw a different digit, and now and then does. At σ = 0.5, denoising is not where the
# evaluator tells restorers apart, which is why section 5 uses inpainting.

# %% [markdown]
# ## 5. Perception against distortion
#
# Which restoration is "best"? Take the bottom-half mask and four restorers:
#
# - **replacement** (section 1): one sample of the model, given the top half;
# - **mean fill**: the unknown pixels take the training set's mean image (`baselines.mean_fill`);
# - a **regression network**: the same U-Net body as the flow model, fed the masked image (time input fixed at 0)
#   and trained with the mean squared error to output the clean one; `minigen train regression` trains the same
#   thing (its recipe is `minigen/recipes/regression.py`), here a short hand-written loop;
# - and, for reference, the **truth** itself as far as the evaluator is concerned.
#
# The mean squared error's minimiser is the posterior mean E[x | y]: the average of all the digits that share
# this top half. Any single guess loses when it guesses wrong, so no restorer has a lower mean squared error
# (and so, nearly, no better PSNR: PSNR averages a logarithm per image, which E[x | y] need not maximise
# exactly). But when the top half leaves two digits open, their average is a ghost of both. The generative
# restorer draws one of them: a real-looking digit, which is the wrong one some of the time, and then its pixels
# are far off. Even a perfect sampler of p(x | y) pays a fixed price: its draw and the truth are two independent
# draws from the same posterior, so its expected squared error is twice the posterior variance, that is twice
# the minimum, about 3 dB (10·log₁₀ 2) of PSNR below E[x | y].

# %%
train_images, _ = digit_images("mnist", train=True)
train = train_images[:, None] * 2 - 1                                               # (60000, 1, 28, 28)
bottom = masks["bottom"]
minigen.manual_seed(0)
net = UNet((32, 64, 64), attention=False)                                           # as the flow model's body
opt = optim.Adam(net.parameters(), lr=1e-3)
steps, batch = fast_or_full(10, 100), 32
rng = np.random.default_rng(1)
losses, clock = [], time.perf_counter()
for step in range(steps):
    x = train[rng.integers(0, len(train), batch)]                                   # (B, 1, 28, 28)
    out = net(minigen.tensor(x * bottom), minigen.tensor(np.zeros(batch, np.float32)))
    loss = F.mse_loss(out, minigen.tensor(x))
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
print(f"{steps} steps of batch {batch} in {time.perf_counter() - clock:.0f} s; mean squared error "
      f"{np.mean(losses[:3]):.3f} → {np.mean(losses[-10:]):.3f}")

# %% [markdown]
# Now all restorers on the same N test images, scored with `restoring.score` (the evaluator's accuracy against
# the true label, and the share of images it is unsure of: top probability below 0.9) and the Fréchet distance
# in the evaluator's feature space (FID) to the clean test images. `restoring.score` computes FID only from 500
# images up, since with fewer the estimate is biased upward; this lesson uses fewer (N = 300 in full mode, 64 in
# fast mode), so it computes FID with the same functions (`metrics.gaussian_stats`, `metrics.frechet_distance`),
# and its values are comparable only within this table, not with the README's.

# %%
observed = clean * bottom                                                           # (N, 1, 28, 28)
with minigen.no_grad():
    regressed = np.clip(np.concatenate([net(minigen.tensor(observed[i:i + 100]),
                                            minigen.tensor(np.zeros(len(observed[i:i + 100]), np.float32))).numpy()
                                        for i in range(0, len(observed), 100)]), -1, 1)
clock = time.perf_counter()
generated = restoring.restore(run, "inpaint", observed, "replace", STEPS, seed=2,
                              mask=np.broadcast_to(bottom, observed.shape))[:, 0]   # (N, 1, 28, 28)
print(f"replacement on {len(observed)} images: {time.perf_counter() - clock:.0f} s")
restorers = {"replacement (flow)": generated, "regression (MSE)": regressed,
             "mean fill": baselines.mean_fill(observed, bottom, train.mean(axis=0)), "truth": clean}
test_features, _ = judge.recipe.predict(images)


def fid(images01):
    features, _ = judge.recipe.predict(images01)
    return metrics.fid(features, test_features)


scores = {}
for name, out in restorers.items():
    s = restoring.score(unit(out), labels, judge)                             # accuracy, uncertain share
    s["fid"] = max(fid(unit(out)), 0.0)                                       # the truth's: 0 up to rounding
    s["psnr"] = restoring.psnr(out, clean) if name != "truth" else float("inf")
    scores[name] = s
    print(f"{name:20s} PSNR {s['psnr']:6.2f} dB   accuracy {s['accuracy']:5.1%}   "
          f"uncertain {s['uncertain_share']:5.1%}   FID {s['fid']:7.1f}")
gen, reg, mean = (scores[name] for name in ("replacement (flow)", "regression (MSE)", "mean fill"))
print(f"PSNR of the regression network minus the flow's: {reg['psnr'] - gen['psnr']:.1f} dB "
      f"(a perfect sampler against E[x | y]: {10 * np.log10(2):.1f} dB)")
assert gen["fid"] < reg["fid"] and gen["fid"] < mean["fid"]        # the samples: the most like real digits
assert mean["uncertain_share"] > gen["uncertain_share"]            # the mean image's fill: often no clear digit
if not FAST:                                                       # fast mode trains the network for seconds only
    assert reg["psnr"] > mean["psnr"] > gen["psnr"]                # the MSE network: the least distortion
    assert 2 < reg["psnr"] - gen["psnr"] < 5                       # about the 3 dB of a perfect sampler
    assert reg["fid"] < mean["fid"] and mean["uncertain_share"] > 0.4
    assert reg["accuracy"] > gen["accuracy"]

# %% [markdown]
# Read the table column by column (full mode; fast mode's network has trained for seconds and its FIDs come
# from 64 images, so there only the order of the FID column and the flow against mean fill mean much).
#
# - **PSNR** ranks the regression network first, as the mean squared error promises, then *mean fill*, then the
#   flow's samples. By PSNR, pasting the average training digit under the top half beats drawing a digit. The
#   network's lead over the samples (printed under the table) is of the size of the 3 dB by which a perfect
#   sampler trails E[x | y]; neither of the two is perfect, so that checks the size, not the theory.
# - **FID** ranks them the other way round: the samples' features are distributed most like real digits', the
#   regression network's blurry averages less, the mean fill least.
# - The evaluator's **uncertain share** is where the mean fill shows what it is: nearly half of those images are
#   not clearly any digit, a blur that PSNR scores above real-looking samples. That is what the evaluator sees
#   and PSNR cannot: PSNR compares pixels with *one* truth and rewards hedging, so an image that is no digit at
#   all can score well against every candidate at once.
# - The evaluator's **accuracy** against the true label favours the regression network, and that is not an
#   accident of this model. Say the top half leaves class k with probability p_k. A perfect sampler draws class
#   k with probability p_k, so it is right with probability Σ p_k²; an average dominated by the likeliest
#   candidate is read as that class, right with probability max p_k ≥ Σ p_k². Committing costs accuracy exactly
#   where the observation is ambiguous. The flow's samples lose more than that because the model is not
#   perfect (one in six of its own unconditional samples is uncertain to the evaluator: `pretrained/flow-mnist-7858`'s
#   evaluation files) and, above all, because replacement does not always continue the top half (section 2): a
#   first version of the model, with a quarter of its samples uncertain, restored the bottom half with almost the
#   same accuracy (54.5 % against 53.5 % on 1,000 test images), so the steering, not the model, is what holds
#   these numbers back.
#
# So no method wins every column. The picture puts distortion and perception together: none of these restorers
# reaches the corner of high PSNR *and* low FID. Better networks would move the points, but some trade stays:
# Blau and Michaeli (2018) proved that, for any restorer, below a certain distortion perfect realism (restorations
# distributed exactly like real images) is impossible. The theorem says that the trade exists, not that these
# particular points lie on the best possible curve; a better model or a longer-trained network could come closer
# to it.

# %%
points = [(name, s["psnr"], s["fid"]) for name, s in scores.items() if name != "truth"]
viz.perception_distortion(points, title=f"inpainting the bottom half, {len(clean)} MNIST test images")
plt.show()
fig, axes = plt.subplots(1, 5, figsize=(13, 3.6))
grids = {"observation": restoring.shown("inpaint", observed[:8], np.broadcast_to(bottom, observed[:8].shape)),
         "mean fill": unit(restorers["mean fill"][:8]), "regression (MSE)": unit(regressed[:8]),
         "replacement (flow)": unit(generated[:8]), "truth": images[:8]}
for ax, (name, g) in zip(axes, grids.items()):
    ax.imshow(viz.make_grid(g, nrow=2), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(f"{name}\n" + (f"PSNR {scores[name]['psnr']:.1f} dB, FID {scores[name]['fid']:.0f}"
                                if name in scores and name != "truth" else ""), fontsize=9)
    ax.axis("off")
fig.suptitle("the mean squared error's blurry averages against the model's samples", y=1.06)
save_figure(fig, "17_restoration")
plt.show()

# %% [markdown]
# Which one you want depends on the use. To measure something in the image, trust the regression network's
# average (or average many generative samples, which estimates the same E[x | y]), and treat the spread of the
# samples as the error bar. To show a person a plausible image, take a sample, and know that the part that was
# not observed is invented.
#
# All of this is also a command: `minigen restore RUN --task inpaint --mask bottom --method replace
# --test-images 500` (or `--task upscale --scale 4 --method projection`, `--task denoise --sigma 0.5`, `--method
# repaint`, `--samples 4`, or a baseline such as `--method bicubic`), and `minigen train regression --task inpaint
# --mask bottom` trains the regression network. Without `--method`, inpainting and upscaling use a refinement of
# sections 1 and 3, DDNM: instead of pasting the noised observation into x_t, it corrects the network's estimate
# x̂₀ of the clean image (the consistency step of sections 1 and 3, applied to x̂₀ rather than x_t) and steps on
# from the corrected x̂₀, so the known and the generated pixels share one noise. On 1,000 test images it beat
# replacement and the projection at the same number of network evaluations on every measure;
# `models/restoration.py` derives it and README has the table.
#
# ## 6. Exercises
#
# Your file is `lessons/exercises/lesson17.py`; the reference answers are in `lessons/solutions/lesson17.py`.
# Both functions take and return NumPy arrays (N, C, H, W).
#
# **17.1 Replacement.** Write `replace(x, y_noised, mask)`: m ⊙ y_noised + (1 − m) ⊙ x, the step of section 1
# (noising y is the caller's job). The mask is 1 on known pixels and broadcasts: (H, W), (1, 1, H, W) or
# (N, 1, H, W). The checks compare it with the reference, check that unknown pixels come from x and known ones
# from y_noised for masks of every broadcastable shape, and run `models.restoration.inpaint` against a loop built
# on your function, with a stand-in network.
#
# **17.2 The consistency projection.** Write `project(x, y_low, scale)`: x − up(down(x)) + up(y_low), with down
# the mean of each scale×scale block and up the repetition of each value (section 3). The checks compare it with
# the reference and with `models.restoration.downsample/upsample`, and check the properties that make it a
# projection: down(project(x, y)) = y, project is idempotent, the detail of x that block means cannot see is
# untouched, and `models.restoration.upscale` is a loop of your projections.
#
# Both, against the library, on this lesson's images:

# %%
lesson17 = exercise_module(17)
x_demo, y_demo = clean[:4], clean[4:8]
try:
    checked = f"lessons/{lesson17.__name__.replace('.', '/')}.py"               # the solutions or your exercises
    replaced = lesson17.replace(x_demo, y_demo, bottom)
    print(f"replace from {checked}: top rows from y {np.array_equal(replaced[..., :14, :], y_demo[..., :14, :])}, "
          f"bottom rows from x {np.array_equal(replaced[..., 14:, :], x_demo[..., 14:, :])}")
    y_low = R.downsample(minigen.tensor(y_demo), 4).numpy()                      # (4, 1, 7, 7)
    projected = lesson17.project(x_demo, y_low, 4)
    print(f"project from {checked}: max |down(project(x, y)) − y| = "
          f"{np.abs(R.downsample(minigen.tensor(projected), 4).numpy() - y_low).max():.1e}")
except NotImplementedError as error:
    print("not written yet:", error)

# %% [markdown]
# **Run the checks.** `python -m pytest -m lesson17 tests/test_lesson17.py` runs this lesson's tests against
# the solutions; `MINIGEN_CHECK=exercises python -m pytest -m lesson17 tests/test_lesson17.py` against your file.
# From here: `check(17, "exercises")`.

# %%
check(17)
print(f"lesson 17 ran in {time.perf_counter() - started:.0f} s")
