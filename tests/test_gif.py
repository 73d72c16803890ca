import base64
import re

import imageio.v3 as iio
import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import gif


def _frame(value):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.full((4, 4), value), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"value {value}")
    return fig


def test_frames_become_a_looping_gif_in_order(tmp_path):
    for i, value in enumerate([0.0, 0.5, 1.0]):
        path = gif.save_frame(_frame(value), tmp_path / "frames", i)
        assert path.name == f"frame_{i:04d}.png"
    assert not plt.get_fignums(), "save_frame must close the figure"
    out = gif.frames_to_gif(tmp_path / "frames", tmp_path / "anim.gif", seconds_per_frame=0.2)
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == 3
    centre = frames[:, frames.shape[1] // 2, frames.shape[2] // 2, 0].astype(int)
    assert centre[0] < centre[1] < centre[2]  # dark, grey, white: order kept
    assert iio.immeta(out)["loop"] == 0


def test_clear_frames_removes_old_runs(tmp_path):
    gif.save_frame(_frame(0.0), tmp_path, 0)
    gif.clear_frames(tmp_path)
    assert gif.list_frames(tmp_path) == []


def test_gif_errors_are_explicit(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        gif.frames_to_gif(tmp_path, tmp_path / "a.gif")
    with pytest.raises(ValueError, match="matplotlib Figure"):
        gif.save_frame(np.zeros((2, 2)), tmp_path, 0)
    with pytest.raises(ValueError, match="non-negative"):
        gif.save_frame(_frame(0.0), tmp_path, -1)
    fig_small, fig_big = _frame(0.0), _frame(1.0)
    fig_big.set_size_inches(3, 3)
    paths = [gif.save_frame(fig_small, tmp_path, 0), gif.save_frame(fig_big, tmp_path, 1)]
    with pytest.raises(ValueError, match="same size"):
        gif.frames_to_gif(paths, tmp_path / "a.gif")
    with pytest.raises(ValueError, match="no GIF"):
        gif.show_gif(tmp_path / "missing.gif", alt="a missing animation")


def test_show_gif_is_an_img_tag_holding_the_animated_gif(tmp_path):
    for i, value in enumerate([0.0, 1.0]):
        gif.save_frame(_frame(value), tmp_path, i)
    out = gif.frames_to_gif(tmp_path, tmp_path / "a.gif")
    from IPython.core.formatters import DisplayFormatter  # what a kernel turns an output into

    bundle, _ = DisplayFormatter().format(gif.show_gif(out, alt="two frames, <white> & black", width=300))
    assert set(bundle) == {"text/html", "text/plain"}  # no image/gif: not every front end animates it
    match = re.fullmatch(r'<img src="data:image/gif;base64,([A-Za-z0-9+/=]+)" '
                         r'alt="two frames, &lt;white&gt; &amp; black" width="300"/>', bundle["text/html"])
    assert match is not None, bundle["text/html"][:80]
    assert base64.b64decode(match.group(1)) == out.read_bytes()
    assert iio.imread(base64.b64decode(match.group(1)), index=None, extension=".gif").shape[0] == 2


def test_show_gif_refuses_what_is_not_a_gif(tmp_path):
    (tmp_path / "fake.gif").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(ValueError, match="not a GIF"):
        gif.show_gif(tmp_path / "fake.gif", alt="not an animation")
    gif.save_frame(_frame(0.0), tmp_path, 0)
    with pytest.raises(ValueError, match="positive number of pixels"):
        gif.show_gif(gif.frames_to_gif(tmp_path, tmp_path / "a.gif"), alt="one white frame", width=0)
    with pytest.raises(ValueError, match="alt must say in a few words"):
        gif.show_gif(tmp_path / "a.gif", alt="")
