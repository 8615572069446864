"""Engine throughput: trajviz's batched run against the naive way, side by side.

The naive way is what most example scripts do: one torch.optim instance per
start point, stepped in a Python loop. Both run the seven classic methods
(`all`) on rosenbrock, float64, on the CPU, in this one process; we report
trajectory-steps per second (starts x steps x optimizers / seconds), medians
of --repeats runs, and the ratio.

    python benchmarks/engine_throughput.py            # N = 1, 1,000, 10,000, 100,000
    python benchmarks/engine_throughput.py --quick    # smaller, for a smoke test

The naive side is timed on a subset of its start points (its cost is linear in
N: one independent optimizer per point) and scaled; the script says so.
"""

from __future__ import annotations

import argparse

import torch

import trajviz
from timing import median_time
from trajviz import optimizers, surfaces


def naive(surface, specs, starts, steps):
    for spec in specs:
        for x0 in starts:
            p = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
            opt = spec.make([p])
            for _ in range(steps):
                opt.zero_grad()
                surface(p).sum().backward()
                opt.step()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--sizes", default="1,1000,10000,100000")
    ap.add_argument("--naive-points", type=int, default=20, help="start points timed on the naive side")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.sizes, args.naive_points, args.repeats = 20, "1,1000", 5, 1
    torch.set_num_threads(max(1, torch.get_num_threads()))
    surface = surfaces.get("rosenbrock")
    specs = optimizers.resolve("all", surface=surface)
    # warm-up: the first torch.optim step imports torch._dynamo; neither side pays it in the timing
    trajviz.run(surface, specs, steps=2, device="cpu")
    naive(surface, specs, [[-1.5, 2.5]], 2)
    k = len(specs)
    print(f"rosenbrock, `all` ({k} optimizers), {args.steps} steps, float64, CPU, "
          f"{torch.get_num_threads()} threads; medians of {args.repeats}")
    print(f"{'N':>8} {'trajviz steps/s':>16} {'naive steps/s':>14} {'ratio':>8}")
    for n in (int(s) for s in args.sizes.split(",")):
        gen = torch.Generator().manual_seed(0)
        starts = (torch.rand(n, 2, generator=gen, dtype=torch.float64) * 0.5 + torch.tensor([-1.5, 2.0])).tolist()
        # record only the start and the end: throughput of the engine, not of host memory
        t_fast = median_time(lambda: trajviz.run(surface, specs, steps=args.steps, start=starts,
                                                 record_every=args.steps, device="cpu"), args.repeats)
        m = min(n, args.naive_points)
        t_naive_subset = median_time(lambda: naive(surface, specs, starts[:m], args.steps), args.repeats)
        t_naive = t_naive_subset * n / m
        work = n * args.steps * k
        fast, slow = work / t_fast, work / t_naive
        note = "" if m == n else f"   (naive timed on {m} points, scaled x{n // m})"
        ratio = fast / slow
        shown = f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.2f}"
        print(f"{n:>8} {fast:>16,.0f} {slow:>14,.0f} {shown:>7}x{note}")


if __name__ == "__main__":
    main()
