"""Per-epoch frames saved as PNG, assembled into an animated GIF, shown inline in a notebook."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import imageio.v3 as iio
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

FRAME_PATTERN = "frame_{:04d}.png"


def save_frame(fig: Figure, folder: str | Path, index: int, *, dpi: int = 80) -> Path:
    """Save a figure as folder/frame_{index:04d}.png (white background) and close it."""
    if not isinstance(fig, Figure):
        raise ValueError(f"expected a matplotlib Figure, got {type(fig).__name__}")
    if not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index must be a non-negative integer, got {index!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FRAME_PATTERN.format(index)
    fig.savefig(path, dpi=dpi, facecolor="white")
    plt.close(fig)
    return path


def list_frames(folder: str | Path) -> list[Path]:
    """The frame PNGs in a folder, in index order."""
    return sorted(Path(folder).glob("frame_*.png"))


def clear_frames(folder: str | Path) -> None:
    """Delete old frames so that a fresh run does not mix with a previous one."""
    for path in list_frames(folder):
        path.unlink()


def _read_rgb(path: Path) -> np.ndarray:
    image = iio.imread(path)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]


def frames_to_gif(
    frames: Sequence[str | Path] | str | Path,
    gif_path: str | Path,
    *,
    seconds_per_frame: float = 0.5,
    hold_last: float = 2.0,
) -> Path:
    """Assemble PNG frames (a list, or a folder of frame_*.png) into a looping GIF."""
    paths = list_frames(frames) if isinstance(frames, (str, Path)) else [Path(p) for p in frames]
    if not paths:
        raise ValueError(f"no frames to assemble from {frames!r}")
    if seconds_per_frame <= 0 or hold_last < 0:
        raise ValueError("seconds_per_frame must be > 0 and hold_last >= 0")
    images = [_read_rgb(p) for p in paths]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"all frames must have the same size, got {sorted(shapes)}")
    durations = [seconds_per_frame * 1000] * len(images)
    durations[-1] += hold_last * 1000  # linger on the final state
    gif_path = Path(gif_path)
    gif_path.parent.mkdir(parents=True, exist_ok=True)
    duration = durations if len(durations) > 1 else durations[0]  # Pillow wants a number for one
    iio.imwrite(gif_path, np.stack(images), extension=".gif", duration=duration, loop=0)
    return gif_path


def show_gif(gif_path: str | Path, *, alt: str, width: int | None = None):
    """Display a GIF inline, animated in JupyterLab, Colab and saved notebooks (an HTML <img>, data embedded).

    `alt` says what the animation shows, for screen readers and the book site (not its file name).

    IPython's Image(format="gif") is not animated everywhere (and IPython 7, Colab's, cannot embed GIFs),
    while every front end animates an <img> whose source is the GIF's bytes.
    """
    from IPython.display import HTML

    path = Path(gif_path)
    if not path.is_file():
        raise ValueError(f"no GIF at {path}")
    data = path.read_bytes()
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError(f"{path} is not a GIF file")
    if width is not None and (not isinstance(width, (int, np.integer)) or width < 1):
        raise ValueError(f"width must be a positive number of pixels, got {width!r}")
    if not isinstance(alt, str) or len(alt.split()) < 3:
        raise ValueError(f"alt must say in a few words what the animation shows, got {alt!r}")
    size = f' width="{int(width)}"' if width is not None else ""
    encoded = base64.b64encode(data).decode("ascii")
    return HTML(f'<img src="data:image/gif;base64,{encoded}" alt="{html.escape(alt)}"{size}/>')
