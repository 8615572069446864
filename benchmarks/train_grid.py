"""Loss-grid evaluation for `trajviz train`: the batched evaluator against point-by-point loops.

The `mlp` scenario (a 1-20-1 ReLU MLP, 1,000 points, float64, CPU): the loss on
a G x G grid of a plane through its parameters, over the whole data set, by

* trajviz: ``Evaluator.plane_losses``, ``vmap(functional_call)`` over chunks of grid points;
* plain loop: for each point, ``vector_to_parameters`` then one forward on the
  whole data set as one tensor (the fastest way to go point by point);
* loss-landscapes (PyPI): ``random_plane(model, Loss(...), steps=G)``, its own
  random plane of the same size through the same model (skipped if not installed);
* Li et al.-style loop: per point, the weights set from the directions as new
  tensors, then the loss accumulated over a DataLoader in batches of 128 (what
  the reference code of "Visualizing the Loss Landscape of Neural Nets" does,
  without MPI). It is timed on a subset of the points and scaled; the script says so.

All in this one process, interleaved (one repeat of each side in turn), medians.
The values of trajviz and of the plain loop are checked to agree (1e-9).

    python benchmarks/train_grid.py                     # 51 and 101, torch's thread count
    python benchmarks/train_grid.py --threads 1
    python benchmarks/train_grid.py --rows 32,100,1000    # the same network on fewer data points
    python benchmarks/train_grid.py --budgets 1,3,6,12,48   # trajviz only, chunk budget in MiB
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings

import numpy as np
import torch

from trajviz.nn import scenarios, train
from trajviz.nn.grid import Evaluator


def plain_loop(model, loss_fn, X, Y, points):
    m = copy.deepcopy(model).eval()
    out = np.empty(len(points))
    with torch.no_grad():
        for i, theta in enumerate(points):
            torch.nn.utils.vector_to_parameters(theta, m.parameters())
            out[i] = loss_fn(m(X), Y).item()
    return out


def li_style_loop(model, loss_fn, X, Y, center, dirs, ab):
    m = copy.deepcopy(model).eval()
    params = list(m.parameters())
    shapes = [p.shape for p in params]

    def split(v):
        return [t.reshape(s) for t, s in zip(torch.split(v, [int(np.prod(s)) for s in shapes]), shapes)]

    c, d1, d2 = split(center), split(dirs[0]), split(dirs[1])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=128, shuffle=False)
    out = np.empty(len(ab))
    with torch.no_grad():
        for i, (a, b) in enumerate(ab):
            for p, w, u, v in zip(params, c, d1, d2):
                p.data = w + a * u + b * v
            total, n = 0.0, 0
            for xb, yb in loader:
                total += loss_fn(m(xb), yb).item() * len(xb)
                n += len(xb)
            out[i] = total / n
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grids", default="51,101")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    ap.add_argument("--li-points", type=int, default=300, help="grid points timed on the Li et al.-style side")
    ap.add_argument("--budgets", default=None, help="MiB list: time trajviz alone at these chunk budgets")
    ap.add_argument("--rows", default="1000", help="data points of the mlp scenario (the default run's plane)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.grids, args.repeats, args.li_points = "21", 1, 20
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        import loss_landscapes
        import loss_landscapes.metrics
    except ImportError:
        loss_landscapes = None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = train("mlp", seed=0, device="cpu")  # the default run: its PCA plane and window
    plane = run.plane
    (x0, x1), (y0, y1) = run.landscape.domain
    center = torch.as_tensor(plane.center)
    dirs = torch.as_tensor(plane.directions)
    print(f"mlp: 1-20-1 ReLU MLP, 61 parameters, float64, CPU, {torch.get_num_threads()} thread(s); "
          f"medians of {args.repeats}; the PCA plane of the default run")
    for rows in (int(r) for r in args.rows.split(",")):
        # the initial weights do not depend on the number of rows (independent sub-seeds)
        sc = scenarios.mlp(seed=0, n=rows)
        print(f"{rows:,} data points")
        compare(args, sc, plane, center, dirs, (x0, x1), (y0, y1), loss_landscapes)


def compare(args, sc, plane, center, dirs, xlim, ylim, loss_landscapes):
    (x0, x1), (y0, y1) = xlim, ylim
    X, Y, loss_fn, model = sc.X, sc.Y, sc.loss_fn, sc.model
    if args.budgets:
        for G in (int(g) for g in args.grids.split(",")):
            a, b = np.meshgrid(np.linspace(x0, x1, G), np.linspace(y0, y1, G))
            for mib in (float(v) for v in args.budgets.split(",")):
                ev = Evaluator(model, loss_fn, X, Y, budget=int(mib * 2**20))
                ev.plane_losses(plane.center, plane.directions, a[:1, :4], b[:1, :4])  # warm-up
                ts = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    ev.plane_losses(plane.center, plane.directions, a, b)
                    ts.append(time.perf_counter() - t0)
                print(f"{G}x{G}  budget {mib:g} MiB  chunk {ev.chunk:>5}  {statistics.median(ts):.3f} s")
        return


    header = f"{'grid':>8} {'trajviz':>9} {'plain loop':>11} {'ratio':>6}"
    if loss_landscapes is not None:
        header += f" {'loss-landscapes':>16} {'ratio':>6}"
    header += f" {'Li et al.-style':>16} {'ratio':>6}"
    print(header)
    for G in (int(g) for g in args.grids.split(",")):
        a, b = np.meshgrid(np.linspace(x0, x1, G), np.linspace(y0, y1, G))
        ab = np.stack([a.ravel(), b.ravel()], 1)
        points = center + torch.as_tensor(ab) @ dirs
        ev = Evaluator(model, loss_fn, X, Y)
        ev.plane_losses(plane.center, plane.directions, a[:1, :4], b[:1, :4])  # warm-up (vmap's first call)
        sub = ab[np.linspace(0, len(ab) - 1, min(args.li_points, len(ab))).astype(int)]
        times = {"trajviz": [], "loop": [], "ll": [], "li": []}
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fast = ev.plane_losses(plane.center, plane.directions, a, b)
            times["trajviz"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            slow = plain_loop(model, loss_fn, X, Y, points)
            times["loop"].append(time.perf_counter() - t0)
            if loss_landscapes is not None:
                metric = loss_landscapes.metrics.Loss(loss_fn, X, Y)
                m = copy.deepcopy(model).eval()
                t0 = time.perf_counter()
                with torch.no_grad():
                    loss_landscapes.random_plane(m, metric, distance=1, steps=G, normalization="filter",
                                                 deepcopy_model=True)
                times["ll"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            li = li_style_loop(model, loss_fn, X, Y, center, dirs, sub)
            times["li"].append((time.perf_counter() - t0) * len(ab) / len(sub))
        np.testing.assert_allclose(fast.ravel(), slow, rtol=1e-9)
        idx = np.linspace(0, len(ab) - 1, len(sub)).astype(int)
        np.testing.assert_allclose(li, slow[idx], rtol=1e-9)
        med = {k: statistics.median(v) for k, v in times.items() if v}
        line = f"{G:>4}x{G:<3} {med['trajviz']:>8.3f}s {med['loop']:>10.3f}s {med['loop'] / med['trajviz']:>5.1f}x"
        if "ll" in med:
            line += f" {med['ll']:>15.3f}s {med['ll'] / med['trajviz']:>5.1f}x"
        line += f" {med['li']:>15.2f}s {med['li'] / med['trajviz']:>5.0f}x"
        print(line + f"   (chunk {ev.chunk} points)")
    print(f"(Li et al.-style: at most {args.li_points} points timed, scaled to the grid)")


if __name__ == "__main__":
    main()
