"""A latent-space explorer for 2-D models: move two sliders, see the point on the scatter and its decoding.

`draw_latent_point` does the work (decode one point, draw it next to the scatter with the point marked)
and is tested without a browser; `latent_explorer` wraps it in ipywidgets sliders for JupyterLab/Colab.

A saved notebook keeps a widget only as its text ("VBox(children=..."), which is what GitHub, the
course's website and a notebook opened without running show. So `make execute`, which writes the
committed outputs, sets COURSE_STILL_WIDGETS=1, and the explorer then shows a still picture of
itself (its sliders and the decoded digit) instead; run the cell to get the live sliders.

From the keyboard: Tab moves to a slider and the arrow keys move it by one step (0.05 by default);
the figure redraws at once. Each slider is labelled `z1` or `z2` and carries a tooltip saying which code
number it sets (`SLIDER_TOOLTIPS`: ipywidgets puts it in the slider's title, which screen readers read
as its description).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.widgets import Slider

from helpers.config import still_widgets
from helpers.data import as_unit_images
from helpers.plots import describe_figure, plot_latent_scatter

Decoder = Callable[[np.ndarray], np.ndarray]
SLIDER_TOOLTIPS = {
    "z1": "z1, the first code number: where the point is across the scatter (arrow keys move it)",
    "z2": "z2, the second code number: where the point is up the scatter (arrow keys move it)",
}


def _check_point(point) -> np.ndarray:
    try:
        z = np.asarray(point, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        z = np.array([])
    if z.shape != (2,) or not np.isfinite(z).all():
        raise ValueError(f"point must be two finite numbers (z1, z2), got {point!r}")
    return z


def decode_point(decode: Decoder, point) -> np.ndarray:
    """The 28 x 28 image that `decode` (codes (n, 2) -> images) gives for one latent point."""
    z = _check_point(point)
    images = as_unit_images(np.asarray(decode(z[None, :])), name="decoded image")
    if len(images) != 1:
        raise ValueError(f"decode returned {len(images)} images for 1 point")
    return images[0]


def draw_latent_point(decode: Decoder, point, codes: np.ndarray, labels: np.ndarray, *,
                      limits: tuple[float, float] = (-4.0, 4.0), title: str = "Latent space",
                      fig: Figure | None = None) -> Figure:
    """Scatter of the codes with `point` marked, and the decoded image of that point beside it."""
    z = _check_point(point)
    image = decode_point(decode, z)
    if fig is None:
        fig = plt.figure(figsize=(10, 4.6))
    fig.clear()
    scatter_ax, image_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.35, 1]})
    plot_latent_scatter(codes, labels, title=title, ax=scatter_ax, limits=limits, max_points=3000)
    scatter_ax.plot(*z, marker="X", markersize=14, color="black", markeredgecolor="white", zorder=5)
    image_ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    image_ax.set(title=f"decoded at z = ({z[0]:.2f}, {z[1]:.2f})", xticks=[], yticks=[],
                 xlabel="28 x 28 pixels")
    fig.tight_layout()
    return fig


def explorer_still(decode: Decoder, point, codes: np.ndarray, labels: np.ndarray, *,
                   limits: tuple[float, float] = (-4.0, 4.0), title: str = "Latent space") -> Figure:
    """A picture of the explorer at `point`: its two sliders above `draw_latent_point`'s figure."""
    z = _check_point(point)
    fig = draw_latent_point(decode, z, codes, labels, limits=limits, title=title,
                            fig=plt.figure(figsize=(10, 5.4)))
    fig.subplots_adjust(top=0.76)
    for row, (name, value) in enumerate(zip(("z1", "z2"), z, strict=True)):
        slider_ax = fig.add_axes((0.08 + 0.45 * row, 0.86, 0.33, 0.04))
        Slider(slider_ax, name, *limits, valinit=float(value), valfmt="%.2f")
    fig.text(0.5, 0.97, "A still of the explorer: run the cell to move the sliders", ha="center",
             va="top", fontsize=9, style="italic")
    return fig


class ExplorerStill:
    """What a saved notebook shows in the explorer's place: a PNG of `explorer_still` (see module doc)."""

    def __init__(self, figure: Figure):
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        self.alt = "A still of the latent explorer, sliders z1 and z2 at 0. " + describe_figure(figure)
        plt.close(figure)
        self.png = buffer.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None) -> tuple[dict, dict]:
        text = "<latent explorer (a still): run the cell for sliders>"
        return {"image/png": self.png, "text/plain": text}, {"image/png": {"alt": self.alt}}


def _accessible(tooltip: str) -> dict:
    """A slider's tooltip, and its place in the Tab order, as this ipywidgets names them (Colab's is 7)."""
    import ipywidgets as widgets

    if int(widgets.__version__.split(".")[0]) >= 8:
        return {"tooltip": tooltip, "tabbable": True}
    return {"description_tooltip": tooltip}  # ipywidgets 7: a slider is in the Tab order already


def latent_explorer(decode: Decoder, codes: np.ndarray, labels: np.ndarray, *,
                    limits: tuple[float, float] = (-4.0, 4.0), step: float = 0.05,
                    title: str = "Latent space"):
    """Two sliders (z1, z2) that redraw `draw_latent_point` live; display the returned widget.

    The sliders are labelled and work from the keyboard (Tab to one, then the arrow keys): module doc.
    """
    import ipywidgets as widgets
    from IPython.display import display

    low, high = limits
    if not low < high or step <= 0:
        raise ValueError(f"need limits (low, high) with low < high and step > 0, got {limits}, {step}")
    if still_widgets():
        return ExplorerStill(explorer_still(decode, (0.0, 0.0), codes, labels, limits=limits, title=title))
    sliders = [widgets.FloatSlider(value=0.0, min=low, max=high, step=step, description=name,
                                   continuous_update=True, readout_format=".2f", **_accessible(tooltip))
               for name, tooltip in SLIDER_TOOLTIPS.items()]
    output = widgets.Output()

    def redraw(_change=None) -> None:
        with output:
            output.clear_output(wait=True)
            point = [slider.value for slider in sliders]
            fig = draw_latent_point(decode, point, codes, labels, limits=limits, title=title)
            display(fig)
            plt.close(fig)

    for slider in sliders:
        slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(sliders), output])
