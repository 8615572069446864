"""Colour for everyone: every method colour reads on its theme's background, and the classic
seven stay apart for the common colour vision deficiencies (measured with colour-science)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import trajviz.optimizers as O
from trajviz.colors import contrast
from trajviz.render import style as S

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    colour = pytest.importorskip("colour")

CVD = {"deuteranopia": "Deuteranomaly", "protanopia": "Protanomaly", "tritanopia": "Tritanomaly"}


def _fills(theme) -> list[str]:
    """Every colour of the theme's contour background (its 256-entry colormap)."""
    from matplotlib.colors import to_hex

    cmap = theme.cmap()
    return [to_hex(cmap(i / 255)) for i in range(256)]


def _linear(rgb):
    rgb = np.asarray(rgb, float)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _lab(hex_colour: str, vision: str | None) -> np.ndarray:
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    lin = _linear(rgb)
    if vision is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = np.asarray(colour.blindness.matrix_cvd_Machado2009(CVD[vision], 1.0))
        lin = np.clip(m @ lin, 0, 1)
    xyz = colour.RGB_to_XYZ(lin, colour.RGB_COLOURSPACES["sRGB"], apply_cctf_decoding=False)
    return colour.XYZ_to_Lab(xyz)


def _de2000(a: str, b: str, vision: str | None) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(colour.delta_E(_lab(a, vision), _lab(b, vision), method="CIE 2000"))


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", O.names())
def test_every_method_colour_reads_on_every_fill(theme, name):
    th = S.get_theme(theme)
    color = O.get_entry(name).color_for(th.dark)
    worst = min(contrast(color, f) for f in _fills(th))
    assert worst >= 3.0, f"{name} on {theme}: {worst:.2f}:1"
    assert contrast(color, th.figure) >= 3.0


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("vision", [None, *CVD])
def test_the_classic_seven_stay_apart(theme, vision):
    dark = S.get_theme(theme).dark
    colours = {n: O.get_entry(n).color_for(dark) for n in O.CLASSIC}
    pairs = {(a, b): _de2000(colours[a], colours[b], vision) for a, b in itertools.combinations(O.CLASSIC, 2)}
    worst = min(pairs, key=pairs.get)
    assert pairs[worst] >= 10, f"{worst} under {vision or 'normal vision'}: {pairs[worst]:.1f}"


def test_the_measure_can_fail():
    # two close oranges are < 10 apart, and yellow on white is far below 3:1
    assert _de2000("#D62728", "#2CA02C", "deuteranopia") < 10   # matplotlib's red and green
    assert contrast("#F0E442", "#FFFFFF") < 3


def test_a_second_cue_for_families_sharing_a_hue():
    # momentum and Nesterov are one family in colour: their heads differ in shape
    markers = {n: O.get_entry(n).marker for n in O.CLASSIC}
    # every classic method has its own head shape: the second cue where colours merge
    assert len(set(markers.values())) == len(markers) == 7
    # and none is the X that marks a divergence
    assert "X" not in markers.values()
    dashed = [n for n in O.names() if n not in O.CLASSIC]
    assert all(O.get_entry(n).linestyle != "solid" for n in dashed)


def test_a_registered_optimizer_gets_readable_colours():
    import torch

    e = O.register("test_colours_opt", torch.optim.SGD, replace_existing=True)
    try:
        assert contrast(e.color_for(True), S.get_theme("dark").figure) >= 3.0
        assert e.fallback_lr == pytest.approx(0.001)
    finally:
        O._REGISTRY.pop("test_colours_opt", None)
