"""How a network shows itself: repr, summary(), and sgd's progress bar when asked."""

import io

import numpy as np
import pytest

from neuraldigits.modelfile import _init_of, load, save
from neuraldigits.network import Network
from neuraldigits.progress import TrainingBar


def _data(n=300, n_in=12, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)).astype(np.float32), rng.integers(0, n_out, n)


def test_repr_names_sizes_cost_init_and_dtype():
    net = Network([784, 30, 10], seed=0)
    assert repr(net) == "Network([784, 30, 10], cost='quadratic', init='large', dtype=float32)"
    net = Network([4, 3, 2], dtype=np.float64, cost="cross-entropy", init="scaled")
    assert repr(net) == "Network([4, 3, 2], cost='cross-entropy', init='scaled', dtype=float64)"


def test_summary_counts_every_layers_parameters():
    net = Network([784, 100, 30, 10], seed=0)
    summary = net.summary()
    assert summary.sizes == [784, 100, 30, 10]
    assert [layer.name for layer in summary.layers] == ["input", "hidden 1", "hidden 2", "output"]
    assert [layer.parameters for layer in summary.layers] == [0, 78_500, 3_030, 310]
    counted = sum(w.size + b.size for w, b in zip(net.weights, net.biases))
    assert summary.parameters == counted == 81_840
    assert summary.training is None
    text = str(summary)
    assert repr(summary) == text  # a notebook shows the table, not a dataclass dump
    assert text.splitlines()[0] == (
        "Network([784, 100, 30, 10]): 81,840 parameters, quadratic cost, large init, float32"
    )
    assert "hidden 2       30    3,000      30       3,030" in text
    assert "Trained" not in text
    assert all(line == line.rstrip() for line in text.splitlines())


def test_summary_of_a_saved_model_says_how_it_was_trained(tmp_path):
    net = Network([12, 5, 3], seed=1)
    history = net.sgd(_data(), 2, 10, 3.0, test_data=_data(60, seed=1),
                      validation_data=_data(60, seed=2))  # fmt: skip
    settings = {"epochs": 2, "mini_batch_size": 10, "eta": 3.0, "seed": 0, "lmbda": 0.0,
                "augment": 0, "data": "synthetic data: 300 / 60 / 60 images"}  # fmt: skip
    path = save(net, tmp_path / "m.npz", training=settings, history=list(history), best_epoch=1)
    summary = load(path).summary()
    assert summary.training.epochs_run == 2 and summary.training.best_epoch == 1
    assert summary.training.best_validation == history[1].validation.accuracy
    assert summary.training.test_at_best == history[1].test.accuracy
    text = str(summary)
    # Settings that are off (λ = 0, no augmenting) say nothing; seed 0 is still a seed.
    assert "Trained: 2 epochs, mini-batch size 10, η = 3, seed 0" in text
    assert "λ" not in text and "distorted" not in text
    assert f"saved epoch 1 (validation {100 * history[1].validation.accuracy:.2f} %" in text
    assert "data: synthetic data: 300 / 60 / 60 images" in text
    assert "by neuraldigits " in text


def test_summary_counts_one_epoch_and_one_copy_in_the_singular(tmp_path):
    net = Network([12, 5, 3], seed=1)
    history = net.sgd(_data(), 1, 10, 3.0, validation_data=_data(60, seed=2))
    settings = {"epochs": 1, "early_stop": 1, "eta_schedule": 1, "augment": 1, "seed": 0}
    path = save(net, tmp_path / "m.npz", training=settings, history=list(history), best_epoch=0)
    text = str(load(path).summary())
    assert "Trained: 1 epoch, early stop after 1 epoch without improvement, " in text
    assert "η halved after 1 epoch without improvement, 1 distorted copy, seed 0" in text
    assert "  1 epoch run" in text and "epochs" not in text


def test_progress_bar_draws_and_changes_nothing(capsys):
    training, test = _data(), _data(60, seed=1)
    seen_batches, seen_epochs = [], []
    plain = Network([12, 5, 3], seed=2).sgd(training, 3, 10, 3.0, test_data=test)
    assert capsys.readouterr().err == ""  # the library prints nothing unless asked
    shown = Network([12, 5, 3], seed=2).sgd(
        training, 3, 10, 3.0, test_data=test, progress=True,
        callback=seen_epochs.append, on_batch=seen_batches.append,
    )  # fmt: skip
    assert [r.test for r in shown] == [r.test for r in plain]
    assert [r.epoch for r in seen_epochs] == [0, 1, 2] and sum(seen_batches) == 3 * 300
    err = capsys.readouterr().err
    assert "900/900" in err and f"test {100 * shown[-1].test.accuracy:.2f} %" in err


class _Stream:
    """A stream of training sets (as sgd takes for fresh distortions): its size is unknown ahead."""

    def __init__(self, data):
        self.data = data

    def for_epoch(self, epoch):
        return self.data


def test_progress_bar_learns_a_streams_size_and_ends_full_when_stopped_early():
    out = io.StringIO()
    bar = TrainingBar(4, None, file=out)
    net = Network([12, 5, 3], seed=3)
    callback, on_batch = bar.callbacks(None, None)
    net.sgd(_Stream(_data()), 1, 10, 3.0, callback=callback, on_batch=on_batch)
    assert bar.bar.total == 4 * 300  # learnt from the first epoch
    bar.close()  # after one epoch of four, as early stopping would end it
    assert bar.bar.n == bar.bar.total == 300


def test_progress_bar_is_closed_when_training_is_cut_short(capsys):
    from tqdm.auto import tqdm

    def interrupt(result):
        raise KeyboardInterrupt  # Ctrl-C in a notebook, after the first epoch

    before = set(tqdm._instances)
    with pytest.raises(KeyboardInterrupt) as caught:
        Network([12, 5, 3], seed=2).sgd(_data(), 3, 10, 3.0, progress=True, callback=interrupt)
    # The traceback is kept (as the REPL's sys.last_traceback keeps it), and with it the
    # bar: left open, it would stay in tqdm's list and push every later bar down a line.
    assert caught.tb is not None and not set(tqdm._instances) - before
    assert "300/900" in capsys.readouterr().err  # where it got, not drawn as finished


@pytest.mark.parametrize("progress", [False, True])
def test_progress_with_a_stream(progress, capsys):
    history = Network([12, 5, 3], seed=4).sgd(_Stream(_data()), 2, 10, 3.0, progress=progress)
    assert len(history) == 2
    assert ("600/600" in capsys.readouterr().err) == progress


def test_a_loaded_network_knows_how_its_weights_started(tmp_path):
    net = Network([4, 3, 2], seed=5, init="scaled", cost="cross-entropy")
    assert repr(load(save(net, tmp_path / "m.npz"))) == repr(net)


@pytest.mark.parametrize(
    "meta, init",
    [
        ({"init": "scaled", "training": {"init": "large"}}, "scaled"),  # save's record wins
        ({"training": {"init": "scaled"}}, "scaled"),  # saved before init was recorded
        ({"training": {}}, "large"),
        ({"init": "unknown"}, "large"),
        ({}, "large"),
    ],
)
def test_files_without_an_init_record_take_it_from_their_training_settings(meta, init):
    assert _init_of(meta) == init


def test_progress_of_a_resumed_run_counts_only_the_epochs_left(capsys):
    net, states = Network([12, 5, 3], seed=6), []
    net.sgd(_data(), 1, 10, 3.0, on_epoch_end=states.append)
    history = net.sgd(_data(), 3, 10, 3.0, state=states[-1], progress=True)
    assert [r.epoch for r in history] == [0, 1, 2]
    err = capsys.readouterr().err
    assert "Epoch 1 of 3" in err and "600/600" in err and "900" not in err
