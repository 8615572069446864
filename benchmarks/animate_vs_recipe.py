"""trajviz animate against the common recipe, both measured in this run on this machine.

The task: rosenbrock, the seven classic methods (``--opt all``), 300 steps, 150
frames, 800x600 pixels, a looping GIF. The common recipe
(``benchmarks/recipe_animation.py``) is what example scripts do: one
torch.optim loop per optimizer, then matplotlib's FuncAnimation redrawing the
whole picture (filled contours, contour lines, lines, legend) for every frame,
saved by PillowWriter. It uses trajviz's own learning rates (read from the
surface's ``lrs`` and the optimizers' registry defaults), so both sides draw
the same paths.

Measured, as medians of ``--repeats`` runs (the machine is shared and noisy):

(a) rendering and writing, in this process, from paths already computed:
    ``animate_result(result, path, frames=150, size="800x600")`` against the
    recipe's ``make_animation(paths, path)``;
(b) the whole command, as subprocesses, Python start-up and imports included:
    ``trajviz animate rosenbrock --opt all --steps 300 --frames 150 --size 800x600 -o X.gif``
    against ``python benchmarks/recipe_animation.py X.gif``;
(c) the size of the GIFs;
(d) the default command, ``trajviz animate rosenbrock --opt all`` (1280x720), against the start-up
    no tool can avoid: importing torch and matplotlib (Agg, pyplot) and building one torch.optim
    optimizer; runs interleaved, A B C A B C, at least 5 of each, and its GIF's size (goal: under
    1 MB). C is the same start-up ending as the trajviz command ends (``gc.freeze()`` before exit, so
    the interpreter does not walk torch's objects once more: about a second here): the bar's floor
    is the start-up as a script pays it (B); C shows what the start-up alone costs, and how much of
    the ratio the command's quick exit makes. trajviz uses a second core where there is one (the
    run, half the methods, and half the frames, in forked children).

    python benchmarks/animate_vs_recipe.py              # 3 repeats
    python benchmarks/animate_vs_recipe.py --repeats 1  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import recipe_animation as recipe  # noqa: E402

import trajviz  # noqa: E402
from trajviz import optimizers, surfaces  # noqa: E402
from trajviz.options import AnimateOptions  # noqa: E402
from trajviz.render.animate import animate_result  # noqa: E402

STEPS, FRAMES, SIZE = 300, 150, "800x600"
FLOOR = ("import torch, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot; "
         "torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)")
FLOOR_QUICK_EXIT = FLOOR + "; import gc; gc.freeze()"
NAMES = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adagrad": "AdaGrad",
         "adadelta": "Adadelta", "rmsprop": "RMSProp", "adam": "Adam"}


def recipe_lrs() -> dict:
    """trajviz's learning rates on rosenbrock, keyed by the recipe's names."""
    lrs = surfaces.get("rosenbrock").lrs
    out = {}
    for name, label in NAMES.items():
        entry = optimizers.get_entry(name)
        kw = {"momentum": 0.9} if name in ("momentum", "nesterov") else {}
        if name == "nesterov":
            kw["nesterov"] = True
        # the recipe hard-codes its optimizers' other settings; check they are trajviz's defaults
        assert entry.defaults == kw, (name, entry.defaults)
        out[label] = lrs[name]
    return out


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def trajviz_command(out: Path) -> tuple[list[str], str]:
    """The CLI command, or (before the CLI has ``animate``) the same call through the library."""
    exe = shutil.which("trajviz", path=os.path.dirname(sys.executable)) or shutil.which("trajviz")
    cmd = [exe] if exe else [sys.executable, "-m", "trajviz"]
    has_cli = subprocess.run(cmd + ["animate", "--help"], capture_output=True).returncode == 0
    if has_cli:
        cmd += ["animate", "rosenbrock", "--opt", "all", "--steps", str(STEPS), "--frames", str(FRAMES),
                "--size", SIZE, "-o", str(out)]
        return cmd, "trajviz animate rosenbrock --opt all --steps 300 --frames 150 --size 800x600 -o X.gif"
    code = (f"import trajviz; trajviz.animate('rosenbrock', 'all', steps={STEPS}, frames={FRAMES}, "
            f"size='{SIZE}', path={str(out)!r})")
    return [sys.executable, "-c", code], "python -c \"import trajviz; trajviz.animate(...)\"  (no CLI command yet)"


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def fmt(seconds: list[float]) -> str:
    return f"{statistics.median(seconds):7.2f} s  (runs: {', '.join(f'{s:.2f}' for s in seconds)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-command", action="store_true", help="Only (a) and (c).")
    args = ap.parse_args()
    lrs = recipe_lrs()
    tmp = Path(tempfile.mkdtemp(prefix="trajviz-bench-"))
    ours, theirs = tmp / "trajviz.gif", tmp / "recipe.gif"
    try:
        result = trajviz.run("rosenbrock", "all", steps=STEPS)
        paths = recipe.compute_paths(lrs, STEPS)
        for label, name in zip(paths, NAMES):
            # same start, same rates, same torch.optim: the same paths (up to float summation order,
            # which chaotic paths amplify: compare the first hundred steps)
            assert abs(paths[label][:100] - result[name].path[:100, 0]).max() < 1e-6, label
        # warm-up: imports and caches on both sides
        options = AnimateOptions(frames=FRAMES, size=SIZE)
        anim = animate_result(result, options, ours)
        recipe.make_animation(paths, theirs, FRAMES)

        print(f"rosenbrock, --opt all, {STEPS} steps, {FRAMES}-frame budget ({anim.frames} drawn: trajviz stops "
              f"when every head has settled), {SIZE}; medians of {args.repeats}")
        t_ours = timed(lambda: animate_result(result, options, ours), args.repeats)
        t_theirs = timed(lambda: recipe.make_animation(paths, theirs, FRAMES), args.repeats)
        a, b = statistics.median(t_ours), statistics.median(t_theirs)
        print("(a) render + write")
        print(f"    trajviz  {fmt(t_ours)}")
        print(f"    recipe   {fmt(t_theirs)}")
        print(f"    ratio    {b / a:7.1f}x faster   (goal >= 20x)")

        if not args.skip_command:
            cmd_ours, shown = trajviz_command(ours)
            cmd_theirs = [sys.executable, str(HERE / "recipe_animation.py"), str(theirs), str(STEPS), str(FRAMES),
                          json.dumps(lrs)]
            c_ours = [run(cmd_ours) for _ in range(args.repeats)]
            c_theirs = [run(cmd_theirs) for _ in range(args.repeats)]
            a, b = statistics.median(c_ours), statistics.median(c_theirs)
            print("(b) whole command, start-up and imports included")
            print(f"    trajviz  {fmt(c_ours)}   {shown}")
            print(f"    recipe   {fmt(c_theirs)}   python recipe_animation.py")
            print(f"    ratio    {b / a:7.1f}x faster")

        if not args.skip_command:
            default = tmp / "default.gif"
            exe = shutil.which("trajviz", path=os.path.dirname(sys.executable)) or shutil.which("trajviz")
            cmd_default = ([exe] if exe else [sys.executable, "-m", "trajviz"]) + [
                "animate", "rosenbrock", "--opt", "all", "-o", str(default)]
            cmd_floor = [sys.executable, "-c", FLOOR]
            cmd_quick = [sys.executable, "-c", FLOOR_QUICK_EXIT]
            run(cmd_floor)  # warm the file cache
            d_ours, d_floor, d_quick = [], [], []
            for _ in range(max(args.repeats, 5)):
                d_ours.append(run(cmd_default))
                d_floor.append(run(cmd_floor))
                d_quick.append(run(cmd_quick))
            a, b, c = (statistics.median(x) for x in (d_ours, d_floor, d_quick))
            pairs = statistics.median(x / y for x, y in zip(d_ours, d_floor))
            print("(d) the default command against the unavoidable start-up")
            print(f"    trajviz animate rosenbrock --opt all  {fmt(d_ours)}")
            print(f"    import torch, matplotlib; one optimizer  {fmt(d_floor)}")
            print(f"    the same, ending as trajviz ends (gc.freeze)  {fmt(d_quick)}")
            print(f"    ratio    {a / b:7.2f}x the start-up   (goal <= 1.3x; median of the pairs' ratios "
                  f"{pairs:.2f}x)")
            print(f"    ratio    {a / c:7.2f}x the start-up without its teardown")
            print(f"    default GIF {default.stat().st_size / 1024:7.1f} KiB   (goal < 1024 KiB)")

        s_ours, s_theirs = ours.stat().st_size, theirs.stat().st_size
        print("(c) GIF size")
        print(f"    trajviz  {s_ours / 1024:9.1f} KiB")
        print(f"    recipe   {s_theirs / 1024:9.1f} KiB")
        print(f"    ratio    {s_ours / s_theirs:9.3f}       (goal <= 0.25)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
