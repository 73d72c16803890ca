import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import plots
from helpers.data import as_unit_images


def _labels(ax):
    return ax.get_title(), ax.get_xlabel(), ax.get_ylabel()


def test_as_unit_images_accepts_the_common_layouts():
    flat = np.random.default_rng(0).random((3, 784))
    assert as_unit_images(flat).shape == (3, 28, 28)
    assert as_unit_images(flat.reshape(3, 28, 28, 1)).shape == (3, 28, 28)
    assert as_unit_images(np.full((2, 28, 28), 255, np.uint8)).max() == 1.0


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((3, 100)), r"expected \(N, 28, 28\)"),
        (np.full((1, 28, 28), 3.0), r"in \[0, 1\]"),
        (np.full((1, 28, 28), np.nan), "finite"),
        (np.zeros((1, 28, 28), dtype=bool), "uint8 or float"),
    ],
)
def test_as_unit_images_rejects_bad_input(images, message):
    with pytest.raises(ValueError, match=message):
        as_unit_images(images)


def test_tile_places_each_image_in_its_cell():
    images = np.zeros((5, 28, 28))
    images[4] = 1.0
    canvas = plots.tile(images, ncols=3, pad=1)
    assert canvas.shape == (2 * 29 - 1, 3 * 29 - 1)
    assert canvas[29:57, 29:57].min() == 1.0  # image 4 is row 1, column 1
    assert canvas[0:28, 0:28].max() == 0.0


def test_reconstruction_figure_has_rows_labels_and_title(mnist):
    x = mnist[1][0][:12]
    fig = plots.plot_reconstructions(x, x, title="Reconstructions", n=6)
    ax = fig.axes[0]
    assert _labels(ax)[0] == "Reconstructions" and ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["original", "reconstruction"]
    assert ax.images[0].get_array().shape == (2 * 29 - 1, 6 * 29 - 1)


def test_reconstructions_need_matching_counts(mnist):
    x = mnist[1][0]
    with pytest.raises(ValueError, match="originals but"):
        plots.plot_reconstructions(x[:10], x[:9], title="t")
    with pytest.raises(ValueError, match="need at least 10"):
        plots.plot_reconstructions(x[:5], x[:5], title="t")


def test_image_grid_checks_label_counts():
    with pytest.raises(ValueError, match="3 row labels for 2 rows"):
        plots.plot_image_grid(np.zeros((4, 28, 28)), ncols=2, title="t", row_labels=list("abc"))


def test_latent_scatter_colours_each_digit_and_labels_axes():
    rng = np.random.default_rng(0)
    codes, labels = rng.normal(size=(500, 2)), rng.integers(0, 10, 500)
    fig = plots.plot_latent_scatter(codes, labels, title="Latent space", limits=(-4, 4))
    ax = fig.axes[0]
    assert _labels(ax) == ("Latent space", "$z_1$", "$z_2$")
    points = ax.collections[0]  # every point in one layer, in mixed order: no digit hides under another
    assert len(points.get_offsets()) == 500
    colours = {tuple(c) for c in points.get_facecolors()}
    assert len(colours) == 10  # one colour per digit
    first_digits = [int(labels[np.flatnonzero((codes == xy).all(axis=1))[0]])
                    for xy in points.get_offsets()[:30]]
    assert len(set(first_digits)) > 5  # drawn mixed, not digit after digit
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [str(d) for d in range(10)]
    assert ax.get_xlim() == (-4, 4)


def test_latent_scatter_names_each_cluster_where_it_lies():
    """The second channel beside colour: each digit written at the median of its codes."""
    centres = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 10, endpoint=False)]) * 3
    labels = np.repeat(np.arange(10), 50)
    codes = centres[labels] + np.random.default_rng(0).normal(scale=0.2, size=(500, 2))
    ax = plots.plot_latent_scatter(codes, labels, title="t", limits=(-4, 4)).axes[0]
    written = {t.get_text(): t.get_position() for t in ax.texts}  # in data coordinates
    assert sorted(written) == [str(d) for d in range(10)]
    for digit in range(10):
        assert np.hypot(*np.subtract(written[str(digit)], centres[digit])) < 0.2
    far = plots.plot_latent_scatter(codes + 10, labels, title="t", limits=(-4, 4)).axes[0]
    assert not far.texts  # a cluster outside the axes gets no label drawn over the edge
    plt.close("all")


def test_cluster_labels_do_not_cover_each_other_or_a_speck():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 100)
    codes = np.array([[0.0, 0.0], [0.1, 0.0], [2.0, 2.0]])[labels] + rng.normal(scale=0.05, size=(300, 2))
    ax = plots.plot_latent_scatter(codes, labels, title="t", limits=(-4, 4)).axes[0]
    spots = ax.transLimits.transform(np.array([t.get_position() for t in ax.texts]))  # axes fractions
    assert len(spots) >= 2 and "2" in [t.get_text() for t in ax.texts]
    gaps = [np.hypot(*(a - b)) for i, a in enumerate(spots) for b in spots[i + 1:]]
    assert min(gaps) >= 0.06  # 0 and 1 lie 0.0125 apart: one of them moved, or was left out
    moved = {t.get_text(): ax.transLimits.transform(t.get_position()) for t in ax.texts}
    for digit, spot in moved.items():  # each label at most min_gap from its own cluster's median
        median = ax.transLimits.transform(np.median(codes[labels == int(digit)], axis=0))
        assert np.hypot(*(spot - median)) <= 0.06 + 1e-9
    ax.set(xlim=(-1, 3), ylim=(-1, 3))  # zoomed afterwards: the labels stay on their clusters
    assert np.hypot(*np.subtract(dict((t.get_text(), t.get_position()) for t in ax.texts)["2"], (2, 2))) < 0.1
    speck = plots.plot_latent_scatter(codes * 0.01, labels, title="t", limits=(-40, 40)).axes[0]
    assert not speck.texts  # ten labels piled on one spot would hide the cloud and name nothing
    plt.close("all")


@pytest.mark.parametrize(
    ("codes", "labels", "message"),
    [
        (np.zeros((5, 3)), np.zeros(5), r"codes must have shape \(N, 2\)"),
        (np.zeros((5, 2)), np.zeros(4), r"labels must have shape \(5,\)"),
        (np.full((5, 2), np.nan), np.zeros(5), "NaN"),
    ],
)
def test_latent_scatter_rejects_bad_input(codes, labels, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_latent_scatter(codes, labels, title="t")


def test_decode_grid_orders_rows_with_y_pointing_up():
    def decode(points):  # brightness encodes y, so the row order is visible
        return np.repeat((points[:, 1:2] + 1) / 2, 784, axis=1)

    images = plots.decode_grid(decode, np.linspace(-1, 1, 3), np.linspace(-1, 1, 4))
    assert images.shape == (4, 3, 28, 28)
    assert images[0, 0].mean() == pytest.approx(1.0)  # top row: largest y
    assert images[-1, 0].mean() == pytest.approx(0.0)


def test_manifold_figure_and_decode_errors():
    grid = np.linspace(-2, 2, 5)
    fig = plots.plot_manifold(lambda p: np.zeros((len(p), 28, 28)), grid, grid, title="Manifold")
    assert _labels(fig.axes[0]) == ("Manifold", "$z_1$", "$z_2$")
    with pytest.raises(ValueError, match="decode returned 1 images for 25 points"):
        plots.decode_grid(lambda p: np.zeros((1, 28, 28)), grid, grid)
    with pytest.raises(ValueError, match="sigmoid"):
        plots.decode_grid(lambda p: np.full((len(p), 784), -5.0), grid, grid)


def test_history_plot_draws_one_line_per_key():
    history = {"loss": [3.0, 2.0, 1.5], "val_loss": [3.1, 2.2, 1.7]}
    fig = plots.plot_history(history, title="Training")
    ax = fig.axes[0]
    assert _labels(ax) == ("Training", "epoch", "loss")
    assert len(ax.lines) == 2
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError, match="no key"):
        plots.plot_history(history, title="t", keys=["acc"])
    plt.close(fig)


def test_history_curves_differ_in_more_than_colour_and_take_legend_labels():
    history = {"loss": [3.0, 2.0], "val_loss": [3.1, 2.2], "kl": [1.0, 1.1]}
    ax = plots.plot_history(history, title="t", labels={"val_loss": "validation"}).axes[0]
    styles = [(line.get_linestyle(), line.get_marker(), line.get_color()) for line in ax.lines]
    for part in range(3):
        assert len({style[part] for style in styles}) == 3, styles
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss", "validation", "kl"]
    with pytest.raises(ValueError, match=r"labels name curves \['acc'\]"):
        plots.plot_history(history, title="t", labels={"acc": "accuracy"})
    plt.close("all")


def test_a_figure_is_described_by_its_titles_axes_and_legends():
    fig, (left, right) = plt.subplots(1, 2)
    fig.suptitle("Two views")
    left.plot([0, 1], label="training")
    left.legend()
    left.set(title="Loss", xlabel="epoch", ylabel="nats per image")
    right.set(title="Codes", xlabel="$z_1$")
    assert plots.describe_figure(fig) == (
        "Figure: Two views. Panel 1: Loss; x axis: epoch; y axis: nats per image; legend: training. "
        "Panel 2: Codes; x axis: z_1.")
    many, axes = plt.subplots(1, 10)
    for i, ax in enumerate(axes):
        ax.set_title(f"seed {i}")
    assert plots.describe_figure(many).endswith("Panel 8: seed 7. And 2 more panels.")
    plt.close("all")


def test_figures_shown_in_a_kernel_carry_their_alt_text():
    """What a notebook's output holds: the PNG and, in its metadata, the figure's description."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.display_formatter.formatters["image/png"].for_type(
            Figure, lambda fig: b"png")  # what the inline backend registers, in short
        plots._alt_text_in_notebooks()
        fig, ax = plt.subplots()
        ax.set_title("Codes")
        data, metadata = shell.display_formatter.format(fig)
        assert data["image/png"] == b"png" and metadata["image/png"] == {"alt": "Figure: Codes."}
        plots._alt_text_in_notebooks()  # imported twice: described once
        assert shell.display_formatter.format(fig)[1]["image/png"] == {"alt": "Figure: Codes."}
    finally:
        InteractiveShell.clear_instance()
        plt.close("all")
