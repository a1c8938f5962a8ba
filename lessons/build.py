"""Rebuild the notebooks from their jupytext sources, with outputs:  python lessons/build.py [01 02 ...]

Each ``lessons/NN_name.py`` (the source of truth: edit that one) is run top to bottom in a fresh kernel, in the
mode ``MINIGEN_LESSON_MODE`` sets, and written to ``lessons/NN_name.ipynb`` with its outputs. With
``MINIGEN_SAVE_FIGURES=1`` the run also refreshes README's pictures in ``lessons/figures/``. No arguments: every
lesson. Needs the ``dev`` extra (jupytext, nbclient, ipykernel).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbclient

LESSONS = Path(__file__).resolve().parent


def build(source: Path) -> float:
    notebook = jupytext.read(source)
    started = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=3600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(LESSONS)}}).execute()
    seconds = time.perf_counter() - started
    jupytext.write(notebook, source.with_suffix(".ipynb"))
    return seconds


def main(argv: list[str]) -> None:
    sources = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
    if argv:
        sources = [s for s in sources if s.name[:2] in {a.zfill(2) for a in argv}]
    for source in sources:
        print(f"{source.name}: {build(source):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
