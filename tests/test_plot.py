"""Still pictures: assert on what was drawn (artist data), on files, and on global state."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex

import trajviz
from trajviz.errors import TrajvizError
from trajviz.render import style as S
from trajviz.options import PlotOptions
from trajviz.render.plot import plot_result as _plot_result
from trajviz.render.plot import plot_surface as _plot_surface
from trajviz.render.plot import result_png, save_figure
from trajviz.render.scene import exit_point

PIL = pytest.importorskip("PIL.Image")


def plot_result(result, ax=None, **options):
    view = {k: options.pop(k) for k in ("xlim", "ylim") if k in options}
    return _plot_result(result, PlotOptions(**options), ax, **view)


def plot_surface(surface, **options):
    return _plot_surface(trajviz.surfaces.get(surface), PlotOptions(**options))


@pytest.fixture(autouse=True)
def close_figures():
    """Figures here are pyplot-free, but a test that reaches pyplot must not leak windows."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(scope="module")
def quad():
    return trajviz.run("quadratic", ["sgd", "momentum", "adam"], steps=30)


@pytest.fixture(scope="module")
def saddle():
    # a large step makes SGD leave the saddle within a few dozen steps
    return trajviz.run("saddle", ["sgd:lr=0.3", "adam"], steps=40)


def lines_by_gid(fig, prefix):
    return {line.get_gid(): line for ax in fig.axes for line in ax.get_lines()
            if (line.get_gid() or "").startswith(prefix)}


def legend_texts(fig):
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for leg in legends for t in leg.get_texts()]


# ---- what is drawn ------------------------------------------------------------------------
def test_lines_are_the_paths(quad):
    fig = plot_result(quad)
    paths = lines_by_gid(fig, "path:")
    assert len(paths) == len(quad)
    for trace in quad:
        np.testing.assert_array_equal(paths[f"path:{trace.label}:0"].get_xydata(), trace.path[:, 0])
        end = lines_by_gid(fig, f"end:{trace.label}:0")[f"end:{trace.label}:0"]
        np.testing.assert_array_equal(end.get_xydata()[0], trace.path[-1, 0])


def test_one_colour_per_method_and_the_same_in_every_picture(quad):
    fig = plot_result(quad)
    colours = {t.label: to_hex(lines_by_gid(fig, f"path:{t.label}:")[f"path:{t.label}:0"].get_color())
               for t in quad}
    assert len(set(colours.values())) == len(quad)
    other = trajviz.run("beale", ["adam", "sgd"], steps=5)
    fig2 = plot_result(other, theme="dark", layout="grid")
    for label in ("adam", "sgd"):
        line = lines_by_gid(fig2, f"path:{label}:")[f"path:{label}:0"]
        assert to_hex(line.get_color()) == colours[label] == trajviz.optimizers.get_entry(label).color.lower()


def test_stars_at_the_minimizers():
    r = trajviz.run("himmelblau", "adam", steps=5)
    fig = plot_result(r)
    stars = lines_by_gid(fig, "minima")["minima"]
    assert stars.get_marker() == "*"
    np.testing.assert_allclose(np.sort(stars.get_xydata(), axis=0),
                               np.sort(np.array(r.surface.minima), axis=0))


def test_legend_names_methods_and_analogies(quad):
    texts = legend_texts(plot_result(quad))
    assert "SGD - drunk walker" in texts
    assert "Momentum - downhill slope" in texts
    for trace in quad:
        assert any(trace.analogy in t for t in texts)


def test_diverged_path_drawn_to_the_edge_and_named(saddle):
    sgd = saddle["sgd:lr=0.3"]
    step = int(sgd.diverged_at[0])
    assert step > 0
    fig = plot_result(saddle)
    texts = legend_texts(fig)
    assert any(f"diverged at step {step}" in t for t in texts)
    line = lines_by_gid(fig, "path:sgd:lr=0.3:0")["path:sgd:lr=0.3:0"]
    np.testing.assert_array_equal(line.get_xydata(), sgd.path[sgd.valid()[:, 0], 0])
    exit_mark = lines_by_gid(fig, "exit:sgd:lr=0.3:0")["exit:sgd:lr=0.3:0"]
    x, y = exit_mark.get_xydata()[0]
    (x0, x1), (y0, y1) = saddle.surface.domain
    assert np.isclose(abs(y), y1) or np.isclose(abs(x), x1)
    # the view stays on the domain however far the path went
    assert fig.axes[0].get_ylim() == (y0, y1)


def test_exit_point_is_on_the_border():
    path = np.array([[0.0, 0.0], [0.5, 0.5], [1.5, 3.0]])
    np.testing.assert_allclose(exit_point(path, (-1, 1), (-1, 1)), [0.7, 1.0])
    assert exit_point(path[:2], (-1, 1), (-1, 1)) is None


def test_grid_has_one_map_per_method(quad):
    fig = plot_result(quad, layout="grid", loss_panel=True)
    owners = [ax for ax in fig.axes if any((ln.get_gid() or "").startswith("path:") for ln in ax.get_lines())]
    assert len(owners) == len(quad)
    for ax, trace in zip(owners, quad):
        assert [ln.get_gid() for ln in ax.get_lines() if (ln.get_gid() or "").startswith("path:")] == \
            [f"path:{trace.label}:0"]
    # shared axes
    assert all(ax.get_xlim() == owners[0].get_xlim() for ax in owners)


def test_swarm_is_one_collection_per_method():
    r = trajviz.run("himmelblau", ["sgd", "adam"], starts=60, steps=12)
    fig = plot_result(r, layout="overlay")
    swarms = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)
              and (c.get_gid() or "").startswith("swarm:")]
    assert [c.get_gid() for c in swarms] == ["swarm:sgd", "swarm:adam"]
    for coll, trace in zip(swarms, r):
        segs = coll.get_segments()
        assert len(segs) == 60
        np.testing.assert_array_equal(segs[7], trace.path[:, 7])
    method_entries = [t for t in legend_texts(fig) if " - " in t]
    assert len(method_entries) == 2
    assert not lines_by_gid(fig, "path:")


def test_swarm_defaults_to_grid():
    r = trajviz.run("quadratic", ["sgd", "adam"], starts=30, steps=5)
    fig = plot_result(r)
    assert sum(1 for ax in fig.axes for c in ax.collections if (c.get_gid() or "").startswith("swarm:")) == 2
    assert len({ax for ax in fig.axes for c in ax.collections
                if (c.get_gid() or "").startswith("swarm:")}) == 2


def test_loss_panel_shows_loss_minus_optimum():
    r = trajviz.run("goldstein_price", ["adam"], steps=20)
    fig = plot_result(r, loss_panel=True)
    line = lines_by_gid(fig, "loss:adam:0")["loss:adam:0"]
    assert line.axes.get_yscale() == "log"
    expected = np.maximum(r["adam"].loss[:, 0] - 3.0, 1e-300)
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12, atol=1e-9)


def test_3d_view(quad):
    fig = plot_result(quad, view="3d")
    ax = fig.axes[0]
    assert ax.name == "3d"
    line = lines_by_gid(fig, "path:adam:0")["path:adam:0"]
    x, y, _ = line.get_data_3d()
    np.testing.assert_array_equal(np.column_stack([x, y]), quad["adam"].path[:, 0])


def test_dark_theme_colours_figure_axes_and_text(quad):
    dark = S.THEMES["dark"]
    fig = plot_result(quad, theme="dark", grad_field=True)
    assert to_hex(fig.get_facecolor()) == dark.figure.lower()
    assert to_hex(fig.axes[0].get_facecolor()) == dark.axes.lower()
    assert to_hex(fig.legends[0].get_texts()[0].get_color()) == dark.text.lower()


def test_draws_on_a_given_axes(quad):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert quad.plot(ax=ax) is fig
    assert lines_by_gid(fig, "path:")
    assert ax.get_legend() is not None
    fig2 = Figure()
    ax2 = fig2.add_subplot()
    quad.plot(ax=ax2, loss_panel=True)
    assert ax2 not in fig2.axes and len([a for a in fig2.axes if a.get_yscale() == "log"]) == 1


def test_surface_alone():
    fig = trajviz.surfaces.get("beale").plot()
    assert "minima" in lines_by_gid(fig, "minima")
    fig = plot_surface("x**2 + y**2", view="3d")
    assert fig.axes[0].name == "3d"


def test_one_call_form():
    fig = trajviz.plot("quadratic", "sgd", steps=5, theme="dark", size="640x360")
    assert tuple(fig.canvas.get_width_height()) == (640, 360)


def test_nothing_changes_global_state(tmp_path, quad, saddle):
    before = dict(matplotlib.rcParams)
    for options in ({}, {"theme": "dark", "layout": "grid"}, {"view": "3d", "loss_panel": True}):
        save_figure(plot_result(saddle, **options), tmp_path / "a.png")
    assert dict(matplotlib.rcParams) == before


def test_render_modules_do_not_import_pyplot():
    code = ("import sys, trajviz; r = trajviz.run('quadratic', 'sgd', steps=3); "
            "r.plot(view='3d'); r.plot(loss_panel=True); r._repr_png_(); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(_root()))


def _root():
    from pathlib import Path

    return Path(trajviz.__file__).resolve().parent.parent


# ---- files ------------------------------------------------------------------------------------
@pytest.mark.parametrize("size, dpi", [("1280x720", None), ("1280x720", 200), ((800, 600), 72)])
def test_png_has_the_requested_pixel_size(tmp_path, quad, size, dpi):
    out = save_figure(plot_result(quad, size=size, dpi=dpi), tmp_path / "p.png")
    with PIL.open(out) as img:
        assert img.format == "PNG"
        assert img.size == S.parse_size(size)


def test_default_png_is_1280x720(tmp_path, quad):
    with PIL.open(save_figure(plot_result(quad), tmp_path / "p.png")) as img:
        assert img.size == (1280, 720)


def test_svg_and_pdf(tmp_path, quad):
    fig = plot_result(quad)
    assert save_figure(fig, tmp_path / "p.svg").read_text()[:200].lstrip().startswith(("<?xml", "<svg"))
    assert (tmp_path / "P.PDF").exists() is False
    assert save_figure(fig, tmp_path / "p.pdf").read_bytes()[:5] == b"%PDF-"


def test_result_png_bytes(quad):
    data = result_png(quad)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["p.jpg", "p", "p.gif"])
def test_unknown_extension(tmp_path, quad, name):
    with pytest.raises(TrajvizError, match="use one of .png, .svg, .pdf"):
        save_figure(plot_result(quad), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder(tmp_path, quad):
    with pytest.raises(TrajvizError, match="does not exist"):
        save_figure(plot_result(quad), tmp_path / "nope" / "p.png")


def test_failed_write_leaves_nothing_behind(tmp_path, quad, monkeypatch):
    target = tmp_path / "p.png"
    target.write_bytes(b"old")
    fig = plot_result(quad)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", boom)
    with pytest.raises(RuntimeError):
        save_figure(fig, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]
    assert target.read_bytes() == b"old"


# ---- bad options: one clear line -------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    ({"theme": "blue"}, "unknown theme 'blue'"),
    ({"size": "12x"}, "bad size: 12x"),
    ({"size": "10x10"}, "each from 32 to 20000"),
    ({"dpi": 0}, "bad dpi"),
    ({"layout": "stack"}, "unknown layout 'stack'"),
    ({"view": "4d"}, "unknown view '4d'"),
    ({"xlim": (2, 1)}, "bad xlim"),
])
def test_bad_options(quad, options, message):
    with pytest.raises(TrajvizError, match=message) as info:
        plot_result(quad, **options)
    assert "\n" not in str(info.value)


# ---- style -----------------------------------------------------------------------------------------
def test_palette_is_fixed_and_fallback_is_stable():
    O = trajviz.optimizers
    assert O.get("adam").color == O.get_entry("adam").color
    asgd = O.get("torch.optim:ASGD").color
    assert asgd == O.get("torch.optim:ASGD").color in O.FALLBACK_COLORS
    classic = [O.get_entry(n).color for n in O.CLASSIC]
    assert len(set(classic)) == 7


def test_repeated_method_gets_its_hue_in_another_style():
    r = trajviz.run("quadratic", ["adam:lr=0.1", "adam:lr=0.01"], steps=3)
    styles = S.trace_styles(r)
    a, b = styles["adam:lr=0.1"], styles["adam:lr=0.01"]
    assert a.color == trajviz.optimizers.get_entry("adam").color and b.color != a.color
    assert b.linestyle != a.linestyle
    assert S.legend_label(r["adam:lr=0.1"]) == "Adam (lr=0.1) - downhill slope and bad shoes"


@pytest.mark.parametrize("text, size", [("1280x720", (1280, 720)), (" 640 X 480 ", (640, 480)),
                                        ((800, 600), (800, 600)), (None, (1280, 720))])
def test_parse_size(text, size):
    assert S.parse_size(text) == size


def test_swarm_loss_quartiles_match_numpy():
    from trajviz.render.plot import quartiles

    rng = np.random.default_rng(1)
    y = rng.random((20, 300))
    y[rng.random(y.shape) < 0.3] = np.nan
    y[3] = np.nan
    q = quartiles(y)
    keep = [i for i in range(20) if i != 3]
    np.testing.assert_allclose(q[:, keep], np.nanquantile(y[keep], [0.25, 0.5, 0.75], axis=1))
    assert np.isnan(q[:, 3]).all()
