"""The command line: ``minigen demo | bench``."""

from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    from . import demo
    from .runs import new_run_dir

    out = new_run_dir(args.out)
    params, losses, x, y = demo.train(steps=args.steps, seed=args.seed, device=args.device)
    acc = demo.accuracy(params, x, y, args.device)
    picture = out / "spirals.png"
    demo.plot(params, losses, x, y, picture, args.device)
    print(f"final loss {losses[-1]:.4f}, training accuracy {acc:.1%}; picture written to {picture}")
    return 0


def _bench(args) -> int:
    try:
        from . import bench
    except ImportError:
        print("minigen bench: the benchmark module is not available yet", file=sys.stderr)
        return 1
    bench.run(device=args.device, workloads=args.workloads or None, repeats=args.repeats)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minigen", description="minigen: a small deep-learning library")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train a small network on two spirals with the engine; write a PNG")
    demo.add_argument("--steps", type=int, default=1500)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default="cpu", help="cpu or cuda")
    demo.add_argument("--out", default="runs/demo", help="run directory (a new one if it exists)")
    demo.set_defaults(func=_demo)

    bench = sub.add_parser("bench", help="time the GUIDE workloads W1-W4 (and PyTorch, if importable)")
    bench.add_argument("workloads", nargs="*", help="workload ids, e.g. W1 W2 (default: all available)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda")
    bench.add_argument("--repeats", type=int, default=10)
    bench.set_defaults(func=_bench)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
