"""The course's colours stay apart for people with colour-vision deficiency, as simulated.

Each colour is seen through Machado, Oliveira and Fernandes' (2009) models of protanopia, deuteranopia
and tritanopia (severity 1, applied in linear RGB), and every two colours of the palette must stay at
least MIN_DELTA_E apart in CIELAB (Delta E 1976; about 2.3 is a just-noticeable difference). matplotlib's
tab10, the course's former palette, is the control: two of its colours fall to 4.6 for protanopia.
"""

from __future__ import annotations

import itertools

import matplotlib as mpl
import numpy as np
import pytest

from helpers import plots

MACHADO = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}
VISIONS = ("typical", *MACHADO)
MIN_DELTA_E = 15.0  # Petroff's palette: 17.3 at worst (tritanopia); tab10: 4.6 (protanopia)


def linear_rgb(colour: str) -> np.ndarray:
    srgb = np.asarray(mpl.colors.to_rgb(colour))
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def cielab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB of a linear-RGB colour (sRGB primaries, D65 white)."""
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ np.clip(
        rgb, 0, 1)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def closest_pair(palette, vision: str) -> float:
    """The smallest Delta E between two colours of `palette` as someone with `vision` sees them."""
    simulate = np.eye(3) if vision == "typical" else np.array(MACHADO[vision])
    seen = [simulate @ linear_rgb(c) for c in palette]
    return min(np.linalg.norm(cielab(a) - cielab(b)) for a, b in itertools.combinations(seen, 2))


@pytest.mark.parametrize("vision", VISIONS)
def test_the_course_palette_stays_apart(vision):
    assert len(set(plots.PALETTE)) == 10
    assert closest_pair(plots.PALETTE, vision) >= MIN_DELTA_E


def test_the_measure_fails_tab10_which_the_course_left():
    tab10 = mpl.colormaps["tab10"].colors
    assert closest_pair(tab10, "typical") >= MIN_DELTA_E  # fine for typical vision ...
    assert closest_pair(tab10, "protanopia") < MIN_DELTA_E / 2  # ... not for protanopia
    assert closest_pair(tab10, "deuteranopia") < MIN_DELTA_E / 2


def test_matplotlib_cycles_through_the_course_palette():
    cycle = [mpl.colors.to_hex(c["color"]) for c in mpl.rcParams["axes.prop_cycle"]]
    assert cycle == list(plots.PALETTE)
