"""The common recipe for an optimizer animation, as example scripts and blog posts write it.

One torch.optim loop per optimizer, then matplotlib's FuncAnimation redrawing
the whole picture (filled contours, contour lines, every path, the legend) for
each frame, saved with PillowWriter. ``benchmarks/animate_vs_recipe.py`` times
it against ``trajviz animate``; the learning rates and frame count are the same
as trajviz's (they are passed in by the benchmark).

    python benchmarks/recipe_animation.py OUT.gif [STEPS] [FRAMES] [LRS_JSON]
"""

import json
import sys

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402


def rosenbrock(x, y, a=1.0, b=100.0):
    return (a - x) ** 2 + b * (y - x**2) ** 2


OPTIMIZERS = {
    "SGD": (torch.optim.SGD, {}),
    "Momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "Nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "AdaGrad": (torch.optim.Adagrad, {}),
    "Adadelta": (torch.optim.Adadelta, {}),
    "RMSProp": (torch.optim.RMSprop, {}),
    "Adam": (torch.optim.Adam, {}),
}


def compute_paths(lrs, steps=300, start=(-1.5, 2.5)):
    paths = {}
    for name, (cls, kwargs) in OPTIMIZERS.items():
        xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = cls([xy], lr=lrs[name], **kwargs)
        points = [xy.detach().numpy().copy()]
        for _ in range(steps):
            opt.zero_grad()
            loss = rosenbrock(xy[0], xy[1])
            loss.backward()
            opt.step()
            points.append(xy.detach().numpy().copy())
        paths[name] = np.array(points)
    return paths


def make_animation(paths, out, frames=150, fps=25):
    x = np.linspace(-2, 2, 300)
    y = np.linspace(-1, 3, 300)
    X, Y = np.meshgrid(x, y)
    Z = rosenbrock(X, Y)
    steps = len(next(iter(paths.values()))) - 1
    shown = np.linspace(0, steps, frames).round().astype(int)

    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)

    def update(i):
        ax.clear()
        ax.contourf(X, Y, Z, levels=np.logspace(-3, 3.5, 30), norm=LogNorm(), cmap="viridis")
        ax.contour(X, Y, Z, levels=np.logspace(-3, 3.5, 15), colors="k", linewidths=0.5, alpha=0.3)
        for name, path in paths.items():
            n = shown[i] + 1
            ax.plot(path[:n, 0], path[:n, 1], lw=2, label=name)
            ax.plot(path[n - 1, 0], path[n - 1, 1], "o", color=ax.lines[-1].get_color())
        ax.plot(1, 1, "r*", markersize=15)
        ax.set_xlim(-2, 2)
        ax.set_ylim(-1, 3)
        ax.set_title(f"Rosenbrock, step {shown[i]}")
        ax.legend(loc="upper right")

    anim = FuncAnimation(fig, update, frames=frames)
    anim.save(out, writer=PillowWriter(fps=fps))
    plt.close(fig)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "recipe.gif"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    frames = int(sys.argv[3]) if len(sys.argv) > 3 else 150
    lrs = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {
        "SGD": 7e-4, "Momentum": 5e-4, "Nesterov": 5e-4, "AdaGrad": 0.2, "Adadelta": 10.0, "RMSProp": 0.01,
        "Adam": 0.1}
    paths = compute_paths(lrs, steps)
    make_animation(paths, out, frames)
