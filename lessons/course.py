"""What every lesson shares: fast or full mode, the images, the pictures, and the checks at the end.

Fast or full. ``MINIGEN_LESSON_MODE=fast`` (the default) runs every notebook top to bottom on small data in
seconds: that is what CI does. ``MINIGEN_LESSON_MODE=full`` uses the real data (MNIST, found through
``$MINIGEN_DATA``, ``data/`` or a download) and trains for longer; each notebook states at its top how long.

Exercises. Each lesson ends with one or two exercises in ``lessons/exercises/lessonNN.py`` (you edit that file;
the reference solutions are in ``lessons/solutions/lessonNN.py``). ``python -m pytest -m lessonNN`` runs the
lesson's checks. They look at the *solutions* unless ``MINIGEN_CHECK=exercises`` is set, so the test suite is
green before anyone has solved anything; ``check(NN, "exercises")`` runs them on your file from a notebook.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

LESSONS = Path(__file__).resolve().parent
ROOT = LESSONS.parent
FIGURES = LESSONS / "figures"

MODE = os.environ.get("MINIGEN_LESSON_MODE", "fast").strip().lower() or "fast"
if MODE not in ("fast", "full"):
    raise ValueError(f"MINIGEN_LESSON_MODE must be 'fast' or 'full', got {MODE!r}")
FAST = MODE == "fast"
CHECK = os.environ.get("MINIGEN_CHECK", "solutions")


def fast_or_full(fast, full):
    """The value for the current mode: ``steps = fast_or_full(200, 3000)``."""
    return fast if FAST else full


# --- exercises ---------------------------------------------------------------------------------------------
def exercise_module(lesson: int, against: str | None = None, reload: bool = True):
    """The module the checks look at: ``solutions.lessonNN`` (default) or ``exercises.lessonNN``.

    Loaded afresh each call (``reload``), so a notebook cell sees your latest edit without a kernel restart."""
    against = against or CHECK
    if against not in ("solutions", "exercises"):
        raise ValueError(f"MINIGEN_CHECK must be 'solutions' or 'exercises', got {against!r}")
    if str(LESSONS) not in sys.path:
        sys.path.insert(0, str(LESSONS))
    name = f"{against}.lesson{lesson:02d}"
    if reload and name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


# pytest's exit codes other than 0 (all passed) and 1 (some failed): the checks did not run, or ran nothing
PYTEST_TROUBLE = {2: "interrupted (an error while collecting the tests, such as an import error)",
                  3: "an internal error", 4: "a usage error (such as a file that is not there)",
                  5: "no tests collected"}
NEEDED = ("pytest", "hypothesis")         # what the checks import: the `lessons` extra installs them
INSTALL = "pip install -e '.[lessons]'"


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check(lesson: int, against: str | None = None) -> bool:
    """Run this lesson's exercise checks (``pytest -m lessonNN tests/test_lessons.py tests/test_lessonNN.py``)
    and print the summary. True when every check passed, False when some failed.

    ``against="exercises"`` checks your file; the default (or ``$MINIGEN_CHECK``) checks the solutions. When the
    checks cannot run at all (pytest or hypothesis not installed, an error before any test ran, no test
    selected) it raises ``RuntimeError`` with pytest's own words: that is not a failing exercise."""
    against = against or CHECK
    missing = [name for name in NEEDED if not _installed(name)]
    if missing:
        raise RuntimeError(f"the checks need {' and '.join(missing)}, not installed in {sys.executable}: "
                           f"run `{INSTALL}` from the repository root, then run this cell again")
    env = {**os.environ, "MINIGEN_CHECK": against, "PY_COLORS": "0"}        # plain text in a notebook
    # lessons 01-08 keep their checks in tests/test_lessons.py, later lessons in tests/test_lessonNN.py
    files = [str(p.relative_to(ROOT)) for p in [ROOT / "tests" / "test_lessons.py",
                                                  ROOT / "tests" / f"test_lesson{lesson:02d}.py"] if p.exists()]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--color=no",
               "--tb=line", "-m", f"lesson{lesson:02d}", *files]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode == 0:
        print(f"lesson{lesson:02d} checks on lessons/{against}/lesson{lesson:02d}.py: {lines[-1] if lines else ''}")
        return True
    if result.returncode == 1 and lines and " failed" in lines[-1]:   # what failed, one line each (--tb=line)
        print("\n".join(lines))
        print(f"\nNot yet: edit lessons/{against}/lesson{lesson:02d}.py and run this cell again.")
        return False
    why = PYTEST_TROUBLE.get(result.returncode, "it did not run")
    raise RuntimeError("\n".join([
        f"the lesson{lesson:02d} checks could not run: pytest exited with code {result.returncode}, {why}.",
        "command: " + " ".join(command), "--- stdout ---", *result.stdout.splitlines()[-40:],
        "--- stderr ---", *result.stderr.splitlines()[-40:],
        f"(a missing package? `{INSTALL}` installs what the checks need)"]))


# --- data --------------------------------------------------------------------------------------------------
def digit_images(dataset: str = "digits", train: bool = True, n: int | None = None):
    """Images as float32 (N, 28, 28) in [0, 1] and int64 labels (N,).

    ``dataset`` is "digits" (the embedded font digits: no download, made in seconds and cached under data/)
    or "mnist" (found through $MINIGEN_DATA, data/ or a download). ``n`` keeps the first n images."""
    from minigen import data
    if dataset == "digits":
        ds = data.Digits(train=train, n=n)
    elif dataset == "mnist":
        ds = data.MNIST(train=train)
    else:
        raise ValueError(f"unknown dataset {dataset!r}: use 'digits' or 'mnist'")
    images, labels = ds.data[:n], ds.targets[:n]
    return images.astype(np.float32) / np.float32(255), labels


# --- pictures ----------------------------------------------------------------------------------------------
def save_figure(fig, name: str) -> None:
    """Keep a small PNG of ``fig`` for README under lessons/figures/, only when MINIGEN_SAVE_FIGURES=1
    (so running the lessons, as CI does, never rewrites committed files)."""
    if os.environ.get("MINIGEN_SAVE_FIGURES") == "1":
        FIGURES.mkdir(exist_ok=True)
        fig.savefig(FIGURES / f"{name}.png", dpi=60, bbox_inches="tight")


def draw_graph(root, ax=None, title=None):
    """Draw the graph below ``root``: boxes hold each node's label, data and grad; arrows point the way data
    flows. Nodes need ``data``, ``grad``, ``_prev`` (the nodes they were made from), and may have ``label``
    and ``_op`` (the operation that made them)."""
    import matplotlib.pyplot as plt
    order, seen, stack = [], set(), [(root, False)]
    while stack:  # depth-first: every node after the nodes it was made from
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._prev)
    depth = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node._prev), default=-1)
    columns = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    position = {id(n): (d, -i + (len(ns) - 1) / 2) for d, ns in columns.items() for i, n in enumerate(ns)}
    if ax is None:
        _, ax = plt.subplots(figsize=(2.3 * len(columns), 0.6 + 1.1 * max(len(c) for c in columns.values())))
    for node in order:
        x, y = position[id(node)]
        for p in node._prev:
            px, py = position[id(p)]
            ax.annotate("", (x - 0.32, y), (px + 0.32, py), arrowprops=dict(arrowstyle="->", color="0.5"))
        op = getattr(node, "_op", "")
        text = f"{getattr(node, 'label', '') or '·'}" + (f"  [{op}]" if op else "")
        text += f"\ndata {node.data:.3g}\ngrad {node.grad:.3g}"
        ax.text(x, y, text, ha="center", va="center", fontsize=8, family="monospace",
                bbox=dict(boxstyle="round", fc="#e8f0fe" if node._prev else "#fff4d6", ec="0.6"))
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(min(p[1] for p in position.values()) - 0.7, max(p[1] for p in position.values()) + 0.7)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax
