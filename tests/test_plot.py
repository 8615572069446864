"""Still pictures: the last frame of the race, drawn with real text (vector formats stay vector)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.colors import to_hex

import trajviz
import trajviz.optimizers as O
from trajviz.errors import TrajvizError
from trajviz.options import PlotOptions
from trajviz.render import style as S
from trajviz.render.layers import exit_point
from trajviz.render.plot import plot_result as _plot_result
from trajviz.render.plot import plot_surface as _plot_surface
from trajviz.render.plot import result_png, save_figure

PIL = pytest.importorskip("PIL.Image")


def plot_result(result, ax=None, **options):
    view = {k: options.pop(k) for k in ("xlim", "ylim") if k in options}
    return _plot_result(result, PlotOptions(**options), ax, **view)


def plot_surface(surface, **options):
    return _plot_surface(trajviz.surfaces.get(surface), PlotOptions(**options))


@pytest.fixture(scope="module")
def quad():
    return trajviz.run("quadratic:kappa=10,angle=0", ["sgd", "momentum", "adam"], steps=30)


@pytest.fixture(scope="module")
def saddle():
    # a large step makes SGD leave the saddle within a few dozen steps
    return trajviz.run("saddle", ["sgd:lr=0.3", "adam"], steps=40)


def by_gid(fig, gid):
    return [a for ax in fig.axes for a in [*ax.collections, *ax.lines, *ax.texts] if a.get_gid() == gid]


def texts(fig, prefix):
    return [t for t in [*fig.texts, *(t for ax in fig.axes for t in ax.texts)] if (t.get_gid() or "").startswith(prefix)]


def draw(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


# ---- what is drawn ------------------------------------------------------------------------
def test_lines_are_the_paths_and_heads_their_ends(quad):
    fig = plot_result(quad)
    (lines,) = by_gid(fig, "paths")
    segs = lines.get_segments()
    assert len(segs) == len(quad)
    for seg, trace in zip(segs, quad):
        np.testing.assert_array_equal(seg, trace.path[:, 0])
    (heads,) = by_gid(fig, "heads")
    ends = np.array([t.path[-1, 0] for t in quad])
    np.testing.assert_allclose(heads.get_offsets(), ends, atol=0.02)   # heads sit on the nearest pixel
    dots = [a for ax in fig.axes for a in ax.lines if (a.get_gid() or "").startswith("dots-")]  # one per method
    assert len(dots) == len(quad)
    for d, trace in zip(dots, quad):
        np.testing.assert_array_equal(d.get_xydata(), trace.path[:, 0])  # a dot at every iterate
        assert to_hex(d.get_markerfacecolor()) == to_hex(O.get_entry(trace.name).color)


def test_one_colour_per_method_and_the_same_in_every_picture(quad):
    fig = plot_result(quad)
    (lines,) = by_gid(fig, "paths")
    colours = [to_hex(c) for c in lines.get_colors()]
    assert colours == [O.get_entry(t.name).color.lower() for t in quad]
    assert len(set(colours)) == len(quad)
    other = trajviz.run("beale", ["adam", "sgd"], steps=5)
    fig2 = plot_result(other, theme="dark", layout="grid")
    got = {to_hex(c) for ax in fig2.axes for coll in ax.collections if coll.get_gid() == "paths"
           for c in coll.get_colors()}
    assert got == {O.get_entry(n).color_for(True).lower() for n in ("adam", "sgd")}


def test_each_head_has_its_methods_shape(quad):
    fig = plot_result(quad)
    (heads,) = by_gid(fig, "heads")
    from matplotlib.markers import MarkerStyle

    expected = []
    for t in quad:
        m = MarkerStyle(t.marker)
        expected.append(m.get_path().transformed(m.get_transform()).vertices)
    for path, verts in zip(heads.get_paths(), expected):
        np.testing.assert_allclose(path.vertices, verts)


def test_stars_at_the_minimizers():
    r = trajviz.run("himmelblau", "adam", steps=5)
    fig = plot_result(r, xlim=(-5, 5), ylim=(-5, 5))
    (stars,) = by_gid(fig, "minima")
    assert stars.get_marker() == "*"
    np.testing.assert_allclose(np.sort(stars.get_xydata(), axis=0), np.sort(np.array(r.surface.minima), axis=0))


def test_every_method_is_named_at_its_head_and_at_its_loss_curve(quad):
    fig = plot_result(quad)
    renderer = draw(fig)
    labels = texts(fig, "label:")
    assert sorted(t.get_text() for t in labels) == sorted(t.full_title for t in quad)
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    (heads,) = by_gid(fig, "heads")
    ax = heads.axes
    for px in ax.transData.transform(heads.get_offsets()):
        for b in boxes:
            assert not b.padded(-1).contains(*px)
    losses = texts(fig, "loss-label:")
    assert {t.get_text().split(" ", 1)[1] for t in losses} == {t.full_title for t in quad}


def test_diverged_path_is_drawn_to_where_it_left_the_map(saddle):
    sgd = saddle["sgd:lr=0.3"]
    assert sgd.diverged_at[0] > 0
    fig = plot_result(saddle)
    (lines,) = by_gid(fig, "paths")
    np.testing.assert_array_equal(lines.get_segments()[0], sgd.path[sgd.valid()[:, 0], 0])
    (heads,) = by_gid(fig, "heads")
    ax = heads.axes
    x, y = heads.get_offsets()[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    # the X sits on the map's border, where the path left it
    assert min(abs(x - x0), abs(x - x1), abs(y - y0), abs(y - y1)) < 0.02 * (x1 - x0)


def test_exit_point_is_on_the_border():
    path = np.array([[0.0, 0.0], [0.5, 0.5], [1.5, 3.0]])
    np.testing.assert_allclose(exit_point(path, (-1, 1), (-1, 1)), [0.7, 1.0])
    assert exit_point(path[:2], (-1, 1), (-1, 1)) is None


def test_the_view_frames_the_action(quad):
    fig = plot_result(quad)
    (lines,) = by_gid(fig, "paths")
    ax = lines.axes
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    pts = np.concatenate([t.path[:, 0] for t in quad] + [np.array(quad.surface.minima)])
    assert (pts[:, 0] >= x0).all() and (pts[:, 0] <= x1).all() and (pts[:, 1] >= y0).all() and (pts[:, 1] <= y1).all()
    # and no bigger than the action needs: the paths span most of one side
    span = pts.max(0) - pts.min(0)
    assert max(span[0] / (x1 - x0), span[1] / (y1 - y0)) > 0.6
    # limits given win
    fig2 = plot_result(quad, xlim=(-3, 3), ylim=(-2, 2))
    ax2 = by_gid(fig2, "paths")[0].axes
    assert ax2.get_xlim() == (-3, 3) and ax2.get_ylim() == (-2, 2)


def test_the_frame_is_filled():
    """No empty block larger than ~8% of the 1280x720 default picture."""
    r = trajviz.run("rosenbrock", "all", steps=200)
    fig = plot_result(r)
    draw(fig)
    img = np.asarray(fig.canvas.buffer_rgba())[::8, ::8, :3].astype(int)
    bg = np.array([int(S.THEMES["light"].figure[i:i + 2], 16) for i in (1, 3, 5)])
    empty = (np.abs(img - bg).sum(-1) == 0)
    assert _largest_rectangle(empty) * 64 <= 0.08 * 1280 * 720


def _largest_rectangle(mask: np.ndarray) -> int:
    heights = np.zeros(mask.shape[1], dtype=int)
    best = 0
    for row in mask:
        heights = np.where(row, heights + 1, 0)
        stack = []
        for i, h in enumerate(list(heights) + [0]):
            start = i
            while stack and stack[-1][1] >= h:
                start, hh = stack.pop()
                best = max(best, hh * (i - start))
            stack.append((start, h))
    return best


def test_type_reads_from_the_back_of_the_room(quad):
    """At 1280x720 no text is smaller than 14 pt."""
    fig = plot_result(quad)
    renderer = draw(fig)
    sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_text() and t.get_visible() and t.get_window_extent(renderer).width > 0]
    assert sizes and min(sizes) >= 14 * 0.9 - 1e-9


def test_titles_are_short_and_substitute_the_parameters():
    r = trajviz.run("quadratic:kappa=25,angle=30", "sgd", steps=10)
    fig = plot_result(r)
    title = texts(fig, "title")[0].get_text()
    sub = texts(fig, "subtitle")[0].get_text()
    assert title.startswith("Elongated bowl") and "10 steps" in title
    assert "25 v²" in sub and "30°" in sub and "kappa" not in sub and "\n" not in sub


def test_grid_has_one_map_per_method_and_the_loss_panel_in_the_spare_cell(quad):
    fig = plot_result(quad, layout="grid")
    maps = [a for a in fig.axes if any(c.get_gid() == "paths" for c in a.collections)]
    assert len(maps) == len(quad)
    assert all(a.get_xlim() == maps[0].get_xlim() for a in maps)
    loss = [a for a in fig.axes if a.get_yscale() == "log"]
    assert len(loss) == 1
    renderer = draw(fig)
    heights = {round(a.title.get_window_extent(renderer).height) for a in maps}
    assert len(heights) == 1                                  # titles of even height
    for a in maps:                                            # and none wider than its panel
        assert a.title.get_window_extent(renderer).width <= a.get_window_extent(renderer).width + 2


def test_swarm_is_one_collection_per_method():
    r = trajviz.run("himmelblau", ["sgd", "adam"], starts=60, steps=12)
    fig = plot_result(r, layout="overlay")
    swarms = [c for ax in fig.axes for c in ax.collections if (c.get_gid() or "").startswith("swarm:")]
    assert [c.get_gid() for c in swarms] == ["swarm:sgd", "swarm:adam"]
    for coll, trace in zip(swarms, r):
        assert len(coll.get_segments()) == 60
        np.testing.assert_allclose(coll.get_segments()[7][-1], trace.path[-1, 7])


def test_swarm_defaults_to_grid():
    r = trajviz.run("quadratic", ["sgd", "adam"], starts=30, steps=5)
    fig = plot_result(r)
    owners = {ax for ax in fig.axes for c in ax.collections if (c.get_gid() or "").startswith("swarm:")}
    assert len(owners) == 2


def test_loss_panel_shows_loss_minus_optimum():
    r = trajviz.run("goldstein_price", ["adam"], steps=20)
    fig = plot_result(r)
    (coll,) = by_gid(fig, "losses")
    assert coll.axes.get_yscale() == "log"
    y = coll.get_segments()[0][:, 1]
    np.testing.assert_allclose(y, np.maximum(r["adam"].loss[:, 0] - 3.0, 0), rtol=1e-12, atol=1e-9)


def test_3d_view(quad):
    fig = plot_result(quad, view="3d")
    ax = next(a for a in fig.axes if a.name == "3d")
    line = next(ln for ln in ax.lines if ln.get_gid() == "path:adam:0")
    x, y, _ = line.get_data_3d()
    dense = np.column_stack([x, y])
    np.testing.assert_allclose(dense[::6], quad["adam"].path[:, 0])   # every step, cut in six pieces


def test_dark_theme_colours_figure_axes_and_text(quad):
    dark = S.THEMES["dark"]
    fig = plot_result(quad, theme="dark", grad_field=True)
    assert to_hex(fig.get_facecolor()) == dark.figure.lower()
    ax = by_gid(fig, "paths")[0].axes
    assert to_hex(ax.get_facecolor()) == dark.axes.lower()
    assert to_hex(texts(fig, "title")[0].get_color()) == dark.text.lower()


def test_draws_on_a_given_axes(quad):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert quad.plot(ax=ax) is fig
    assert by_gid(fig, "paths")[0].axes is ax
    fig2 = Figure()
    ax2 = fig2.add_subplot()
    with pytest.raises(TrajvizError, match="figure of its own"):
        quad.plot(ax=ax2, loss_panel=True)


def test_surface_alone():
    fig = trajviz.surfaces.get("beale").plot()
    assert by_gid(fig, "minima")
    fig = plot_surface("x**2 + y**2", view="3d")
    assert any(a.name == "3d" for a in fig.axes)


def test_one_call_form_and_size():
    fig = trajviz.plot("quadratic", "sgd", steps=5, theme="dark", size="640x360")
    assert tuple(round(v) for v in fig.get_size_inches() * fig.dpi) == (640, 360)


def test_render_modules_do_not_import_pyplot():
    code = ("import sys, trajviz; r = trajviz.run('quadratic', 'sgd', steps=3); "
            "r.plot(view='3d'); r.plot(); r._repr_png_(); r.animate(frames=3).last_frame(); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("size, dpi", [("1280x720", None), ("1280x720", 200), ((640, 480), 72)])
def test_png_has_the_requested_pixel_size(quad, tmp_path, size, dpi):
    out = save_figure(plot_result(quad, size=size, dpi=dpi), tmp_path / "p.png")
    with PIL.open(out) as img:
        assert img.size == ((1280, 720) if isinstance(size, str) else size)


def test_svg_and_pdf_are_vector(quad, tmp_path):
    for ext in ("svg", "pdf"):
        out = save_figure(plot_result(quad), tmp_path / f"p.{ext}")
        assert out.stat().st_size > 1000
    svg = (tmp_path / "p.svg").read_text()
    assert svg.count("<path") > 50 and "<image" not in svg.split("</defs>", 1)[-1][:200]


def test_notebook_png(quad):
    assert result_png(quad).startswith(b"\x89PNG")


def test_bad_extension_and_folder(quad, tmp_path):
    for name in ("p.jpg", "p"):
        with pytest.raises(TrajvizError, match="cannot save a picture"):
            save_figure(plot_result(quad), tmp_path / name)
    with pytest.raises(TrajvizError, match="does not exist"):
        save_figure(plot_result(quad), tmp_path / "nope" / "p.png")


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


def test_repeated_method_gets_its_hue_in_another_style():
    r = trajviz.run("quadratic", ["adam:lr=0.1", "adam:lr=0.01"], steps=3)
    styles = S.trace_styles(r)
    a, b = styles["adam:lr=0.1"], styles["adam:lr=0.01"]
    assert a.color == O.get_entry("adam").color and b.color != a.color
    assert b.linestyle != a.linestyle
    assert S.legend_label(r["adam:lr=0.1"]) == "Adam (lr=0.1) - downhill slope and bad shoes"


@pytest.mark.parametrize("text, size", [("1280x720", (1280, 720)), (" 640 X 480 ", (640, 480)),
                                        ((800, 600), (800, 600)), (None, (1280, 720))])
def test_parse_size(text, size):
    assert S.parse_size(text) == size


def test_swarm_loss_quartiles_match_numpy():
    from trajviz.render.layers import quartiles

    rng = np.random.default_rng(1)
    y = rng.random((20, 300))
    y[rng.random(y.shape) < 0.3] = np.nan
    y[3] = np.nan
    q = quartiles(y)
    keep = [i for i in range(20) if i != 3]
    np.testing.assert_allclose(q[:, keep], np.nanquantile(y[keep], [0.25, 0.5, 0.75], axis=1))
    assert np.isnan(q[:, 3]).all()
