"""Make every picture and animation of the README: ``python docs/make_gallery.py``.

Everything in docs/gallery/ comes from this script (and so from trajviz itself), at
the size the commands beside them make (1280x720): the default animations (the
commands the README shows), a still of every surface, the noise example, the grid
and dark theme, a swarm, a sweep map and an ``explain`` clip per analogy. The
explorer's screenshot (docs/gallery/explore.png) is taken by its browser test and
the network pictures (docs/gallery/train*) by ``trajviz train`` (see below).

    python docs/make_gallery.py            # everything (several minutes on 2 cores)
    python docs/make_gallery.py --only plots
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import trajviz

OUT = Path(__file__).resolve().parent / "gallery"


def plots():
    for name in trajviz.surfaces.names():
        trajviz.plot(name, opt="all", path=OUT / "surfaces" / f"{name}.png")
    trajviz.plot("rosenbrock", opt="all", path=OUT / "rosenbrock.png")
    trajviz.plot("quadratic", opt="all", layout="grid", theme="dark", path=OUT / "quadratic-grid-dark.png")
    trajviz.plot("himmelblau", opt=["adam", "momentum"], starts=1000, steps=200, path=OUT / "himmelblau-swarm.png")
    trajviz.plot("rosenbrock", opt="all", view="3d", path=OUT / "rosenbrock-3d.png")
    trajviz.sweep("quadratic", "momentum", ["lr=1e-4:1:log:64", "momentum=0:0.99:64"]).save(OUT / "momentum-map.png")


def animations():
    trajviz.animate("rosenbrock", opt="all", path=OUT / "rosenbrock.gif")     # the default command
    trajviz.animate("quadratic", opt="all", path=OUT / "quadratic.gif")
    # the drunk walker and the bad shoes need sways: noise makes every step a sway
    trajviz.animate("quadratic", opt=["sgd", "adagrad", "rmsprop"], noise=10, path=OUT / "noise.gif")
    trajviz.animate("regression", opt=["sgd", "momentum", "adam"], batch_size=16, steps=200,
                    path=OUT / "regression-minibatch.gif")
    trajviz.animate("quadratic", opt=["sgd", "momentum", "adagrad", "adam"], layout="grid", theme="dark",
                    path=OUT / "quadratic-grid-dark.gif")


def clips():
    for method in ("sgd", "momentum", "adagrad", "rmsprop", "adam"):
        trajviz.explain(method, OUT / "explain" / f"{method}.gif")


def network():
    mlp = trajviz.train("mlp")                      # the command's defaults: seed 0, the tutorial's four
    mlp.plot().savefig(OUT / "train-mlp.png")
    mlp.animate(OUT / "train-mlp.gif")
    trajviz.train("classify").plot().savefig(OUT / "train-classify.png")


PARTS = {"plots": plots, "animations": animations, "clips": clips, "network": network}


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
