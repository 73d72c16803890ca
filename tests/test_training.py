import json
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.training import History, ResumableTraining, configuration_key


def _model(width=3):
    return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(width, name="dense")], name="model")


def _batches(n=4):
    return [np.full((2, 2), i, dtype="float32") for i in range(n)]


def test_runs_every_epoch_and_averages_the_step_outputs():
    calls = []

    def step(x):
        calls.append(float(x[0, 0]))
        return {"loss": float(x[0, 0]), "other": 1.0}

    history = ResumableTraining(None, verbose=False).run(step, _batches(), epochs=3,
                                                        after_epoch=lambda e: {"score": 10.0 * e})
    assert calls == [0.0, 1.0, 2.0, 3.0] * 3
    assert history["epoch"] == [1, 2, 3] and history["score"] == [10.0, 20.0, 30.0]
    assert history["loss"] == [1.5, 1.5, 1.5] and history["other"] == [1.0, 1.0, 1.0]
    with pytest.raises(KeyError, match="no per-epoch value 'nope'"):
        history["nope"]


def test_tuple_batches_are_unpacked_and_scalar_losses_named():
    batches = [(1.0, 2.0), (3.0, 4.0)]
    history = ResumableTraining(None, verbose=False).run(lambda x, y: x + y, batches, epochs=1)
    assert history["loss"] == [5.0]


def test_curves_are_logged_in_fractional_epochs():
    history = ResumableTraining(None, verbose=False).run(lambda x: float(x[0, 0]), _batches(4), epochs=2,
                                                        log_every=2)
    epochs, values = history.curve("loss")
    assert epochs == [0.5, 1.0, 1.5, 2.0] and values == [0.5, 2.5, 0.5, 2.5]


def test_time_in_callbacks_is_not_training_time():
    training = ResumableTraining(None, verbose=False)
    history = training.run(lambda x: 0.0, _batches(4), epochs=1, after_step=lambda e, s: time.sleep(0.5))
    assert history.train_seconds < 1.0  # the four pauses (2 s) are excluded; 1 s allows the bar's first draw
    assert training.train_seconds == pytest.approx(history.train_seconds)


def _trainer(folder, model, optimizer, **config):
    return ResumableTraining(folder, config=config, verbose=False, model=model, optimizer=optimizer)


def _sgd_step(model, optimizer):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(x) ** 2)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return step


def test_a_rerun_resumes_after_the_last_epoch(tmp_path):
    keras.utils.set_random_seed(0)
    model, optimizer = _model(), keras.optimizers.SGD(0.01)
    first = _trainer(tmp_path, model, optimizer, lr=0.01)
    first.run(_sgd_step(model, optimizer), _batches(), epochs=2)
    weights = [w.numpy().copy() for w in model.weights]

    keras.utils.set_random_seed(1)  # other initial weights: the checkpoint must bring back the trained ones
    model2, optimizer2 = _model(), keras.optimizers.SGD(0.01)
    second = _trainer(tmp_path, model2, optimizer2, lr=0.01)
    assert second.epochs_done == 2 and second.history["epoch"] == [1, 2]
    for saved, restored in zip(weights, model2.weights, strict=True):
        np.testing.assert_array_equal(saved, restored.numpy())
    calls = []
    step = _sgd_step(model2, optimizer2)
    history = second.run(lambda x: calls.append(1) or step(x), _batches(), epochs=3)
    assert len(calls) == 4 and history["epoch"] == [1, 2, 3]  # one more epoch, not three


def test_another_configuration_or_shape_starts_afresh(tmp_path):
    model, optimizer = _model(), keras.optimizers.SGD(0.01)
    _trainer(tmp_path, model, optimizer, lr=0.01).run(_sgd_step(model, optimizer), _batches(), epochs=1)
    assert _trainer(tmp_path, _model(), keras.optimizers.SGD(0.01), lr=0.01).epochs_done == 1
    assert _trainer(tmp_path, _model(), keras.optimizers.SGD(0.1), lr=0.1).epochs_done == 0
    assert _trainer(tmp_path, _model(width=4), keras.optimizers.SGD(0.01), lr=0.01).epochs_done == 0
    restarted = ResumableTraining(tmp_path, config={"lr": 0.01}, fresh_start=True, verbose=False,
                                  model=_model(), optimizer=keras.optimizers.SGD(0.01))
    assert restarted.epochs_done == 0 and restarted.history.epochs == []


def test_configuration_key_depends_on_config_and_shapes():
    model = _model()
    key = configuration_key({"a": 1}, {"model": model})
    assert key == configuration_key({"a": 1}, {"model": model})
    assert key != configuration_key({"a": 2}, {"model": model})
    assert key != configuration_key({"a": 1}, {"model": _model(width=5)})


def test_an_epoch_written_to_the_history_but_not_checkpointed_is_dropped(tmp_path):
    model, optimizer = _model(), keras.optimizers.SGD(0.01)
    training = _trainer(tmp_path, model, optimizer, lr=0.01)
    training.run(_sgd_step(model, optimizer), _batches(), epochs=2)
    history_file = training.folder / "history.json"
    saved = json.loads(history_file.read_text())
    saved["epochs"].append({**saved["epochs"][-1], "epoch": 3})  # the run died between the two saves
    history_file.write_text(json.dumps(saved))
    assert _trainer(tmp_path, _model(), keras.optimizers.SGD(0.01), lr=0.01).history["epoch"] == [1, 2]


def test_history_round_trips_through_json():
    history = History(epochs=[{"epoch": 1, "seconds": 2.0, "loss": 3.0}], steps=[{"epoch": 0.5, "loss": 4.0}])
    again = History.from_json(history.to_json())
    assert again == history and again.train_seconds == 2.0


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="name what to checkpoint"):
        ResumableTraining(tmp_path)
    training = ResumableTraining(None, verbose=False)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        training.run(lambda x: 0.0, _batches(), epochs=0)
    with pytest.raises(ValueError, match="log_every"):
        training.run(lambda x: 0.0, _batches(), epochs=1, log_every=0)
    with pytest.raises(ValueError, match="yielded 0 batches"):
        training.run(lambda x: 0.0, [], epochs=1, steps_per_epoch=1)
    with pytest.raises(ValueError, match="no known length"):
        training.run(lambda x: 0.0, iter(_batches()), epochs=1)
    with pytest.raises(ValueError, match="history's own columns"):
        training.run(lambda x: {"seconds": 1.0}, _batches(), epochs=1)
    with pytest.raises(ValueError, match="also returns"):
        training.run(lambda x: 1.0, _batches(), epochs=1, after_epoch=lambda e: {"loss": 2.0})


def test_an_epoch_is_steps_per_epoch_steps_of_a_longer_dataset():
    history = ResumableTraining(None, verbose=False).run(lambda x: float(x[0, 0]), _batches(4), epochs=1,
                                                        steps_per_epoch=2)
    assert history["loss"] == [0.5]


def test_adam_state_is_restored_with_the_weights(tmp_path):
    model, optimizer = _model(), keras.optimizers.Adam(0.01)
    _trainer(tmp_path, model, optimizer, lr=0.01).run(_sgd_step(model, optimizer), _batches(), epochs=2)
    assert int(optimizer.iterations.numpy()) == 8
    model2, optimizer2 = _model(), keras.optimizers.Adam(0.01)
    resumed = _trainer(tmp_path, model2, optimizer2, lr=0.01)
    resumed.run(_sgd_step(model2, optimizer2), _batches(), epochs=3)
    assert int(optimizer2.iterations.numpy()) == 12  # 8 restored + 4 new steps, not 4
    for a, b in zip(optimizer.variables, optimizer2.variables, strict=True):
        assert a.shape == b.shape
