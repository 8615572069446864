"""What --tune costs: tuning all seven methods (64 candidates + 16 refinement each) vs the untuned run.

Both run in this process on the same machine, rosenbrock, `all`, the surface's default steps, one
start; medians of --repeats. Goal: tuned / untuned <= 5.

    python benchmarks/tune_cost.py
"""

from __future__ import annotations

import argparse

import trajviz
from timing import median_time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--surface", default="rosenbrock")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    trajviz.run(args.surface, "all", steps=5)  # warm-up: imports and first-call costs
    plain = median_time(lambda: trajviz.run(args.surface, "all"), args.repeats)
    tuned = median_time(lambda: trajviz.run(args.surface, "all", tune=True), args.repeats)
    print(f"{args.surface}, all 7 methods, default steps, medians of {args.repeats}")
    print(f"untuned run: {plain:.2f} s")
    print(f"tuned run  : {tuned:.2f} s  (64 + 16 candidates per method, batched)")
    print(f"ratio      : {tuned / plain:.2f}x  (goal <= 5x)")


if __name__ == "__main__":
    main()
