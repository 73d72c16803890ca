"""The latent explorer's drawing, without a browser."""

import numpy as np
import pytest

from helpers import explorer


def fake_decode(z):
    """A decoder whose image encodes the point: pixel brightness z1, one lit row at height z2."""
    z = np.asarray(z)
    images = np.zeros((len(z), 28, 28), "float32")
    for i, (a, b) in enumerate(z):
        images[i] += np.clip(a / 4, 0, 1)
        images[i, int(np.clip(14 + 3 * b, 0, 27))] = 1.0
    return images


@pytest.fixture
def codes_and_labels():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 2)), rng.integers(0, 10, 300)


def test_decode_point_returns_that_points_image():
    image = explorer.decode_point(fake_decode, (2.0, 1.0))
    assert image.shape == (28, 28)
    np.testing.assert_allclose(image, fake_decode(np.array([[2.0, 1.0]]))[0])


def test_drawing_marks_the_point_and_shows_its_decoding(codes_and_labels):
    codes, labels = codes_and_labels
    fig = explorer.draw_latent_point(fake_decode, (1.5, -0.5), codes, labels, limits=(-3, 3))
    scatter_ax, image_ax = fig.axes[:2]
    marker = scatter_ax.lines[-1]
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == pytest.approx((1.5, -0.5))
    assert scatter_ax.get_xlim() == (-3, 3)
    shown = image_ax.images[0].get_array()
    np.testing.assert_allclose(shown, fake_decode(np.array([[1.5, -0.5]]))[0])
    assert "(1.50, -0.50)" in image_ax.get_title()


def test_redrawing_reuses_the_figure(codes_and_labels):
    codes, labels = codes_and_labels
    fig = explorer.draw_latent_point(fake_decode, (0, 0), codes, labels)
    again = explorer.draw_latent_point(fake_decode, (1, 1), codes, labels, fig=fig)
    assert again is fig and len(fig.axes) == 2  # the old panels were cleared, not stacked


@pytest.mark.parametrize("point", [(1.0,), (1, 2, 3), (np.nan, 0.0), "ab"])
def test_bad_points_are_refused(point, codes_and_labels):
    with pytest.raises(ValueError, match="two finite numbers"):
        explorer.draw_latent_point(fake_decode, point, *codes_and_labels)


def test_a_decoder_returning_the_wrong_count_is_refused():
    with pytest.raises(ValueError, match="returned 2 images"):
        explorer.decode_point(lambda z: np.zeros((2, 28, 28)), (0, 0))


def test_widget_has_two_sliders_and_refuses_bad_limits(codes_and_labels):
    widget = explorer.latent_explorer(fake_decode, *codes_and_labels, limits=(-2, 2))
    sliders = widget.children[0].children
    assert [s.description for s in sliders] == ["z1", "z2"] and sliders[0].max == 2
    sliders[0].value = 1.0  # triggers a redraw without error
    with pytest.raises(ValueError, match="low < high"):
        explorer.latent_explorer(fake_decode, *codes_and_labels, limits=(2, -2))


def test_the_explorer_widget_redraws_when_a_slider_moves(codes_and_labels):
    decoded = []

    def decode(z):
        decoded.append(np.array(z))
        return fake_decode(z)

    widget = explorer.latent_explorer(decode, *codes_and_labels, limits=(-3.0, 3.0))
    sliders = widget.children[0].children
    assert [s.description for s in sliders] == ["z1", "z2"]
    assert (sliders[0].min, sliders[0].max) == (-3.0, 3.0)
    assert len(decoded) == 1 and decoded[0].tolist() == [[0.0, 0.0]]  # drawn once at the start
    sliders[0].value = 1.5
    sliders[1].value = -2.0
    assert [d.tolist() for d in decoded[1:]] == [[[1.5, 0.0]], [[1.5, -2.0]]]


def test_the_still_carries_an_alt_text_saying_what_it_shows(codes_and_labels, monkeypatch):
    monkeypatch.setenv("COURSE_STILL_WIDGETS", "1")
    still = explorer.latent_explorer(fake_decode, *codes_and_labels, title="Codes of the test digits")
    data, metadata = still._repr_mimebundle_()
    assert data["image/png"].startswith(b"\x89PNG")
    alt = metadata["image/png"]["alt"]
    assert alt.startswith("A still of the latent explorer") and "Codes of the test digits" in alt


def test_the_sliders_are_labelled_and_reachable_from_the_keyboard(codes_and_labels):
    """Each slider's label, and a tooltip (its title, read as its description) naming its code number."""
    widget = explorer.latent_explorer(fake_decode, *codes_and_labels)
    sliders = widget.children[0].children
    version_8 = hasattr(sliders[0], "tabbable")  # ipywidgets 8; Colab's 7 names the tooltip otherwise
    tooltips = [s.tooltip if version_8 else s.description_tooltip for s in sliders]
    labels = [s.description for s in sliders]
    assert list(zip(labels, tooltips, strict=True)) == list(explorer.SLIDER_TOOLTIPS.items())
    for slider, tooltip, which in zip(sliders, tooltips, ("first", "second"), strict=True):
        assert tooltip.startswith(f"{slider.description}, the {which} code number")
        assert "arrow keys" in tooltip
        assert not version_8 or slider.tabbable is True
    assert "arrow keys" in explorer.__doc__ and "arrow keys" in explorer.latent_explorer.__doc__
