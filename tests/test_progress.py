import pytest

from helpers.progress import Progress, format_bar


def test_format_bar_shows_fraction_count_and_metrics():
    text = format_bar(5, 10, desc="epoch 1/3", width=10, elapsed=2.0, metrics={"loss": 151.234})
    assert text == "epoch 1/3 |█████·····| 5/10 2.0s loss=151.2"
    assert format_bar(0, 4, width=4).startswith("|····| 0/4")


@pytest.mark.parametrize(("done", "total"), [(-1, 5), (6, 5), (0, 0)])
def test_format_bar_rejects_impossible_counts(done, total):
    with pytest.raises(ValueError, match="done <= total"):
        format_bar(done, total)


def test_progress_yields_everything_and_prints_one_final_line(capsys):
    bar = Progress(range(7), desc="epoch 2/5")
    seen = []
    for item in bar:
        seen.append(item)
        bar.set_metrics(loss=10.0 - item)
    assert seen == list(range(7))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("epoch 2/5 |") and "7/7" in lines[0]
    assert lines[0].endswith("loss=4")


def test_progress_needs_a_length():
    with pytest.raises(ValueError, match="pass total="):
        Progress(iter([1, 2]))
    with pytest.raises(ValueError, match="total must be"):
        Progress([], total=0)


def test_keras_callback_prints_one_line_per_epoch_with_val_metrics(capsys):
    import keras
    import numpy as np

    from helpers.progress import ProgressBar

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((40, 3), "float32"), np.zeros((40, 1), "float32")
    bar = ProgressBar()
    model.fit(x, y, batch_size=8, epochs=3, validation_data=(x, y), verbose=0, callbacks=[bar])
    lines = capsys.readouterr().out.splitlines()
    assert lines == bar.lines and len(lines) == 3
    assert lines[2].startswith("epoch 3/3 |") and "5/5" in lines[2]
    assert "loss=" in lines[2] and "val_loss=" in lines[2]
