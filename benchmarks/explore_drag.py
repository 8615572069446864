"""What a drag costs in the explorer page: re-running and redrawing every method, in Chromium.

Writes the page (`trajviz explore SURFACE`: the classic seven, 500 steps by default), opens it
in headless Chromium at 1280x720 and drags the start with real mouse events along a loop
across the map. For each pointer event the page times its own work (re-running all the
methods, drawing the map and the loss panel, then reading a pixel back so that the drawing
is done, not just queued) and the time since the event was created. Prints the medians and
the file size. Goal: median < 16 ms (one frame at 60 fps), file < 2 MB.

    python benchmarks/explore_drag.py
    python benchmarks/explore_drag.py --surface goldstein_price --drags 400
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trajviz.surfaces as surfaces  # noqa: E402
from trajviz.explore import write_explorer  # noqa: E402
from trajviz.explore.browser import chromium, open_page  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--surface", default="rosenbrock")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--drags", type=int, default=300, help="pointer moves measured (after a warm-up)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "explorer.html"
        write_explorer(path, args.surface, "all", steps=args.steps)
        size = path.stat().st_size
        messages: list[str] = []
        with chromium() as browser:
            page = open_page(browser, path, messages=messages)
            state = page.evaluate("window.trajviz.state")
            (x0, y0), = state["start"]
            lib = "window.trajvizLib.app"
            (xa, xb), (ya, yb) = surfaces.get(args.surface).domain
            here = page.evaluate(f"{lib}.locate({x0}, {y0})")
            page.mouse.move(here["x"], here["y"])
            page.mouse.down()

            def loop(n):
                for k in range(n):
                    a = 2 * math.pi * k / 60
                    x = x0 + 0.25 * (xb - xa) * math.sin(a)
                    y = y0 - 0.2 * (yb - ya) * (1 - math.cos(a))
                    p = page.evaluate(f"{lib}.locate({x}, {y})")
                    page.mouse.move(p["x"], p["y"])

            loop(30)  # warm-up: the JIT compiles the hot loops
            page.evaluate(f"{lib}.bench.on = true; {lib}.bench.samples.length = 0")
            loop(args.drags)
            samples = page.evaluate(f"{lib}.bench.samples")
            page.mouse.up()
        # (the pixel read-backs that make the timing honest trigger Chromium's willReadFrequently hint)
        messages = [m for m in messages if "willReadFrequently" not in m]
        if messages:
            print("console:", *messages, sep="\n  ")

    n = len(samples)
    total = statistics.median(s["total"] for s in samples)
    run = statistics.median(s["run"] for s in samples)
    since = statistics.median(s["sinceEvent"] for s in samples)
    p90 = sorted(s["total"] for s in samples)[int(0.9 * (n - 1))]
    print(f"{args.surface}, the classic seven, {args.steps} steps, one start; {n} drags in headless Chromium, 1280x720")
    print(f"re-run + redraw per drag: median {total:.2f} ms (90th percentile {p90:.2f} ms; goal < 16 ms)")
    print(f"  of which re-running   : median {run:.2f} ms")
    print(f"  event to drawn        : median {since:.2f} ms")
    print(f"file size               : {size / 1024:.0f} KiB ({size:,} bytes; goal < 2 MB)")


if __name__ == "__main__":
    main()
