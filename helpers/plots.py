"""Figures shared by the notebooks: image grids, latent scatters, manifolds, training curves.

Every function returns the matplotlib Figure; in a notebook, follow the call with plt.show().
Importing this module makes PALETTE matplotlib's colour cycle, so "C0" to "C9" are the course's colours,
and, in a notebook, gives every figure it shows an alt text (`describe_figure`) in the output's metadata,
which the book site puts on the figure's image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.patheffects as path_effects
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from helpers.data import IMAGE_SHAPE, as_unit_images

DIGIT = IMAGE_SHAPE[0]  # pixels per side of an MNIST digit
# Petroff's ten colours (2021, matplotlib's "petroff10" style), chosen to stay apart for the three
# colour-vision deficiencies; tests/test_palette.py measures it. Figures add a second channel as well.
PALETTE = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6", "#a96b59", "#e76300", "#b9ac70", "#717581",
           "#92dadd")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
plt.rcParams["axes.prop_cycle"] = cycler(color=PALETTE)
MAX_PANELS = 8  # described one by one in an alt text; the rest are counted


def describe_figure(fig: Figure) -> str:
    """A text alternative for a figure: its title, then each panel's title, axis labels and legend."""
    panels = []
    for ax in fig.axes:
        parts = [ax.get_title()] if ax.get_title() else []
        parts += [f"{name} axis: {label}" for name, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel()))
                  if label]
        legend = ax.get_legend()
        if legend is not None:
            parts.append("legend: " + ", ".join(t.get_text() for t in legend.get_texts()))
        if parts:
            panels.append("; ".join(parts))
    title = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    if len(panels) == 1:
        text = [f"Figure: {title}." if title else "Figure:", panels[0] + "."]
    else:
        text = [f"Figure: {title}." if title else f"Figure with {len(panels)} panels."]
        text += [f"Panel {i}: {panel}." for i, panel in enumerate(panels[:MAX_PANELS], 1)]
        if len(panels) > MAX_PANELS:
            text.append(f"And {len(panels) - MAX_PANELS} more panels.")
    return " ".join(text).replace("$", "")


def _alt_text_in_notebooks() -> None:
    """In IPython, add describe_figure's text to the metadata of every figure shown as a PNG."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        draw = formatter.lookup_by_type(Figure)
    except KeyError:  # no figure yet: have the backend (inline) register its PNG formatter now, before ours
        plt.switch_backend(plt.get_backend())
        try:
            draw = formatter.lookup_by_type(Figure)
        except KeyError:
            return
    if getattr(draw, "adds_alt_text", False):
        return  # this module was imported before

    def with_alt_text(fig: Figure):
        data = draw(fig)
        data, metadata = data if isinstance(data, tuple) else (data, {})
        return data, {**(metadata or {}), "alt": describe_figure(fig)}

    with_alt_text.adds_alt_text = True
    formatter.for_type(Figure, with_alt_text)


_alt_text_in_notebooks()


def tile(images: np.ndarray, ncols: int, *, pad: int = 1) -> np.ndarray:
    """Tile (N, 28, 28) images into one 2-D canvas of ncols columns, with `pad` blank pixels."""
    x = as_unit_images(images)
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    nrows = -(-len(x) // ncols)
    step = DIGIT + pad
    canvas = np.ones((nrows * step - pad, ncols * step - pad), dtype=np.float32)
    for i, img in enumerate(x):
        r, c = divmod(i, ncols)
        canvas[r * step : r * step + DIGIT, c * step : c * step + DIGIT] = img
    return canvas


def plot_image_grid(
    images: np.ndarray,
    *,
    ncols: int,
    title: str,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    cell_inches: float = 0.6,
) -> Figure:
    """Images in a grid of ncols columns, with optional row/column labels on the axes."""
    x = as_unit_images(images)
    nrows = -(-len(x) // ncols)
    for labels, count, what in ((row_labels, nrows, "row"), (col_labels, ncols, "column")):
        if labels is not None and len(labels) != count:
            raise ValueError(f"{len(labels)} {what} labels for {count} {what}s")
    fig, ax = plt.subplots(figsize=(max(3.0, ncols * cell_inches + 1.2),
                                    max(1.5, nrows * cell_inches + 0.9)))
    ax.imshow(tile(x, ncols), cmap="gray_r", vmin=0, vmax=1)
    centers = lambda n: np.arange(n) * (DIGIT + 1) + DIGIT / 2 - 0.5  # noqa: E731
    ax.set_xticks(centers(ncols) if col_labels is not None else [])
    ax.set_yticks(centers(nrows) if row_labels is not None else [])
    if col_labels is not None:
        ax.set_xticklabels(col_labels)
    if row_labels is not None:
        ax.set_yticklabels(row_labels)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def plot_image_rows(
    rows: Mapping[str, np.ndarray], *, title: str, n: int = 10, xlabel: str = "test image index"
) -> Figure:
    """One labelled row of n images per entry of `rows` (e.g. original, reconstruction)."""
    if not rows:
        raise ValueError("rows must hold at least one named array of images")
    stacked = []
    for name, images in rows.items():
        x = as_unit_images(images, name=name)
        if len(x) < n:
            raise ValueError(f"{name}: need at least {n} images, got {len(x)}")
        stacked.append(x[:n])
    return plot_image_grid(np.concatenate(stacked), ncols=n, title=title,
                           row_labels=list(rows), col_labels=[str(i) for i in range(n)],
                           xlabel=xlabel)


def plot_reconstructions(
    originals: np.ndarray, reconstructions: np.ndarray, *, title: str, n: int = 10
) -> Figure:
    """Originals on the top row, their reconstructions below."""
    if len(originals) != len(reconstructions):
        raise ValueError(f"{len(originals)} originals but {len(reconstructions)} reconstructions")
    return plot_image_rows({"original": originals, "reconstruction": reconstructions},
                           title=title, n=n)


def plot_latent_scatter(
    codes: np.ndarray,
    labels: np.ndarray,
    *,
    title: str,
    ax: Axes | None = None,
    limits: tuple[float, float] | None = None,
    xlabel: str = "$z_1$",
    ylabel: str = "$z_2$",
    max_points: int = 10_000,
) -> Figure:
    """Scatter of 2-D codes coloured by digit label, with a legend; `limits` fixes both axes."""
    codes, labels = np.asarray(codes), np.asarray(labels)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"codes must have shape (N, 2), got {codes.shape}")
    if labels.shape != (len(codes),):
        raise ValueError(f"labels must have shape ({len(codes)},), got {labels.shape}")
    if not np.isfinite(codes).all():
        raise ValueError("codes contain NaN or infinity")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.2, 5.2))
    keep = slice(None) if len(codes) <= max_points else np.linspace(
        0, len(codes) - 1, max_points).astype(int)
    codes, labels = codes[keep], labels[keep]
    order = np.random.default_rng(0).permutation(len(codes))  # mixed, so no digit hides under another
    colors = [PALETTE[int(digit) % 10] for digit in labels[order]]
    ax.scatter(codes[order, 0], codes[order, 1], s=3, alpha=0.6, c=colors, rasterized=True)
    for digit in np.unique(labels):  # legend entries only
        ax.scatter([], [], s=3, color=PALETTE[int(digit) % 10], label=str(digit))
    ax.legend(title="digit", markerscale=4, loc="center left", bbox_to_anchor=(1.0, 0.5),
              frameon=False)
    if limits is not None:
        ax.set_xlim(limits)
        ax.set_ylim(limits)
    label_clusters(ax, codes, labels)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.figure.tight_layout()
    return ax.figure


def label_clusters(ax: Axes, codes: np.ndarray, labels: np.ndarray, *, min_gap: float = 0.06) -> None:
    """Write each digit at the median of its codes: the scatter's classes named without colour.

    Labels stay `min_gap` apart (a fraction of the axes, for the limits set when it is called): one
    that would cover another moves at most `min_gap` from its median, or is left out (the legend still
    names it); a cloud too small to tell its classes apart on these axes gets no labels. The labels are
    placed in data coordinates, so they stay on their clusters if the limits change afterwards.
    """
    to_axes = ax.transLimits  # data -> axes fractions, for the limits now set
    digits = sorted(np.unique(labels), key=lambda d: -np.sum(labels == d))  # the largest cluster first
    medians = {d: to_axes.transform(np.median(codes[labels == d], axis=0)) for d in digits}
    spread = np.ptp(np.array(list(medians.values())), axis=0).max() if len(digits) > 1 else 1.0
    if spread < min_gap:
        return
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    placed = []
    for digit in digits:
        at = medians[digit]
        candidates = [at] + [at + r * np.array([np.cos(a), np.sin(a)]) for r in (0.5 * min_gap, min_gap)
                             for a in angles]
        free = [c for c in candidates if (0.03 <= c).all() and (c <= 0.97).all()
                and all(np.hypot(*(c - other)) >= min_gap for other in placed)]
        if free:
            placed.append(free[0])
            outline = [path_effects.withStroke(linewidth=3, foreground="white")]
            ax.text(*to_axes.inverted().transform(free[0]), str(digit), ha="center", va="center", fontsize=12,
                    fontweight="bold", path_effects=outline)


def decode_grid(
    decode: Callable[[np.ndarray], np.ndarray], grid_x: np.ndarray, grid_y: np.ndarray
) -> np.ndarray:
    """Decode every (x, y) of a 2-D latent grid; returns images (len(grid_y), len(grid_x), 28, 28).

    Row 0 holds the largest y, so the result reads like a plot with y pointing up.
    """
    grid_x, grid_y = np.asarray(grid_x, float), np.asarray(grid_y, float)
    if grid_x.ndim != 1 or grid_y.ndim != 1 or not len(grid_x) or not len(grid_y):
        raise ValueError("grid_x and grid_y must be non-empty 1-D arrays")
    xs, ys = np.meshgrid(grid_x, grid_y[::-1])
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    images = as_unit_images(np.asarray(decode(points)), name="decoded images")
    if len(images) != len(points):
        raise ValueError(f"decode returned {len(images)} images for {len(points)} points")
    return images.reshape(len(grid_y), len(grid_x), DIGIT, DIGIT)


def plot_manifold(
    decode: Callable[[np.ndarray], np.ndarray],
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    *,
    title: str,
    xlabel: str = "$z_1$",
    ylabel: str = "$z_2$",
    ax: Axes | None = None,
) -> Figure:
    """Decoded images over a 2-D latent grid, ticks at the grid coordinates."""
    images = decode_grid(decode, grid_x, grid_y)
    ny, nx = images.shape[:2]
    canvas = images.transpose(0, 2, 1, 3).reshape(ny * DIGIT, nx * DIGIT)
    if ax is None:
        size = min(9.0, max(4.0, 0.42 * max(nx, ny) + 1.5))
        _, ax = plt.subplots(figsize=(size, size))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    step = max(1, nx // 8)
    ax.set_xticks(np.arange(nx)[::step] * DIGIT + DIGIT / 2 - 0.5)
    ax.set_xticklabels([f"{v:.2g}" for v in np.asarray(grid_x)[::step]])
    step = max(1, ny // 8)
    ax.set_yticks(np.arange(ny)[::step] * DIGIT + DIGIT / 2 - 0.5)
    ax.set_yticklabels([f"{v:.2g}" for v in np.asarray(grid_y)[::-1][::step]])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.figure.tight_layout()
    return ax.figure


def plot_history(
    history: Mapping[str, Sequence[float]],
    *,
    title: str,
    keys: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    ax: Axes | None = None,
) -> Figure:
    """Training curves: one line per key of a Keras History.history-like dict, x starting at 1.

    `labels` names curves in the legend (e.g. {"val_loss": "validation"}); a key without one shows as is.
    """
    keys = list(keys) if keys is not None else list(history)
    if not keys:
        raise ValueError("history has no curves to plot")
    unknown = sorted(set(labels or {}) - set(keys))
    if unknown:
        raise ValueError(f"labels name curves {unknown} that are not plotted; plotted: {keys}")
    missing = [k for k in keys if k not in history]
    if missing:
        raise ValueError(f"history has no key(s) {missing}; available: {sorted(history)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, key in enumerate(keys):  # colour, line style and marker: three ways to tell curves apart
        values = np.asarray(history[key], dtype=float)
        if values.ndim != 1 or not len(values):
            raise ValueError(f"history[{key!r}] must be a non-empty sequence of numbers")
        style = "--" if key.startswith("val_") else LINESTYLES[i % len(LINESTYLES)]
        ax.plot(np.arange(1, len(values) + 1), values, style, color=PALETTE[i % len(PALETTE)],
                marker=MARKERS[i % len(MARKERS)], ms=3, label=(labels or {}).get(key, key))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.figure.tight_layout()
    return ax.figure
