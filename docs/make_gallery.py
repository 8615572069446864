"""Make every picture and animation of the README: ``python docs/make_gallery.py``.

Everything in docs/gallery/ comes from this script (and so from trajviz itself):
a still plot of every surface with `all`, the default animation on rosenbrock,
beale and quadratic, an `explain` clip per analogy, the tuned rosenbrock, a
sweep map and a swarm. Sizes are kept small: the GIF sizes are part of the show.

    python docs/make_gallery.py            # everything (a few minutes on 2 cores)
    python docs/make_gallery.py --only plots
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import trajviz
from trajviz.render.plot import save_figure

OUT = Path(__file__).resolve().parent / "gallery"


def plots():
    for name in trajviz.surfaces.names():
        fig = trajviz.plot(name, opt="all", size=(960, 540))
        save_figure(fig, OUT / "surfaces" / f"{name}.png")
    save_figure(trajviz.plot("rosenbrock", opt="all", loss_panel=True), OUT / "rosenbrock.png")
    save_figure(trajviz.plot("quadratic:kappa=10,angle=20", opt="all", layout="grid", theme="dark"),
                OUT / "quadratic-grid-dark.png")
    save_figure(trajviz.plot("himmelblau", opt=["adam", "momentum"], starts=1000, steps=200, size=(960, 540)),
                OUT / "himmelblau-swarm.png")
    save_figure(trajviz.plot("rosenbrock", opt="all", steps=300, tune=True), OUT / "rosenbrock-tuned.png")
    from trajviz.sweep import sweep

    sweep("quadratic", "momentum", ["lr=1e-4:1:log:64", "momentum=0:0.99:64"]).save(OUT / "momentum-map.png")


def animations():
    trajviz.animate("rosenbrock", opt="all", path=OUT / "rosenbrock.gif")  # the default command
    trajviz.animate("beale", opt="all", path=OUT / "beale.gif", size=(800, 450))
    trajviz.animate("quadratic:kappa=10,angle=20", opt="all", path=OUT / "quadratic.gif", size=(800, 450))
    trajviz.animate("regression", opt=["sgd", "momentum", "adam"], batch_size=16, steps=200,
                    path=OUT / "regression-minibatch.gif", size=(800, 450))
    trajviz.animate("quadratic", opt=["sgd", "momentum", "adagrad", "adam"], layout="grid", theme="dark",
                    path=OUT / "quadratic-grid-dark.gif", size=(960, 540))


def clips():
    from trajviz.render.explain import explain

    for method in ("sgd", "momentum", "adagrad", "rmsprop", "adam"):
        explain(method, path=OUT / "explain" / f"{method}.gif", size=(960, 540))


PARTS = {"plots": plots, "animations": animations, "clips": clips}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=sorted(PARTS), action="append")
    args = ap.parse_args()
    (OUT / "surfaces").mkdir(parents=True, exist_ok=True)
    (OUT / "explain").mkdir(parents=True, exist_ok=True)
    for name in args.only or list(PARTS):
        t0 = time.perf_counter()
        PARTS[name]()
        print(f"{name}: {time.perf_counter() - t0:.1f} s")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"docs/gallery: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
