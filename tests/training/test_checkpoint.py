"""Checkpoints: a run resumed from any epoch's checkpoint ends exactly as one never stopped."""

from __future__ import annotations

import os

import numpy as np
import pytest
from support.data import digits

from neuraldigits.images.stream import DistortedEpochs
from neuraldigits.network import Network
from neuraldigits.training import ckernel, prepare
from neuraldigits.training.checkpoint import (
    CheckpointError,
    checkpoint_path,
    data_fingerprint,
    load_checkpoint,
    mark_finished,
    save_checkpoint,
)

SIZES = [784, 16, 10]
TRAINING, VALIDATION, TEST = digits(300, seed=1), digits(100, seed=2), digits(100, seed=3)
SETTINGS = {"eta": 3.0, "note": "settings are the caller's"}
DATA = data_fingerprint(TRAINING, VALIDATION, TEST)

# The book's recipe; and chapter 3's with every piece of state sgd carries between
# epochs: velocities, a lowered η, the η-schedule's or early stopping's counters, keep_best.
BOOK = dict(eta=3.0)
SCHEDULE = dict(eta=0.5, lmbda=1.0, momentum=0.7, eta_schedule=1, keep_best=True)
EARLY_STOP = dict(eta=0.5, cost="cross-entropy", momentum=0.5, early_stop=2)
NEEDS_C = pytest.mark.skipif(not ckernel.available(), reason="the C kernel was not built")


def sgd(net, training, epochs, settings, method="fast", **kw):
    settings = dict(settings)
    eta = settings.pop("eta")
    return net.sgd(
        training, epochs, 10, eta, test_data=TEST, validation_data=VALIDATION, method=method,
        **settings, **kw,
    )  # fmt: skip


def run_saving_every_epoch(tmp_path, training, epochs, settings, method="fast"):
    """An uninterrupted run that saves a checkpoint after each epoch k as ``k.npz``."""
    settings = dict(settings)
    net = Network(SIZES, seed=7, cost=settings.pop("cost", "quadratic"))

    def save(state):
        save_checkpoint(tmp_path / f"{state.next_epoch - 1}.npz", net, state, settings=SETTINGS,
                        data=DATA)  # fmt: skip

    return net, sgd(net, training, epochs, settings, method, on_epoch_end=save)


def resume(path, training, epochs, settings, method="fast"):
    """A fresh process's view: a new network, restored from the checkpoint, run to the end."""
    settings = dict(settings)
    # Another seed: everything must come from the file.
    net = Network(SIZES, seed=123, cost=settings.pop("cost", "quadratic"))
    state = load_checkpoint(path).restore(net)
    return net, sgd(net, training, epochs, settings, method, state=state)


def lines(history):
    """The history without its timings, which no two runs share."""
    return [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in history]


def assert_identical(a: Network, b: Network):
    for name in ("weights", "biases", "weight_velocities", "bias_velocities"):
        ours, theirs = getattr(a, name), getattr(b, name)
        assert (ours is None) == (theirs is None), name
        for x, y in zip(ours or [], theirs or []):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name  # to the bit
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize(
    "method, settings, epochs",
    [
        pytest.param("c", BOOK, 4, marks=NEEDS_C),
        ("numpy", BOOK, 3),
        pytest.param("c", SCHEDULE, 12, marks=NEEDS_C),
        pytest.param("c", EARLY_STOP, 12, marks=NEEDS_C),
        ("numpy", SCHEDULE, 12),
    ],
)
def test_resuming_from_any_epoch_gives_the_uninterrupted_run_to_the_bit(
    tmp_path, method, settings, epochs
):
    training = prepare(TRAINING)
    whole, history = run_saving_every_epoch(tmp_path, training, epochs, settings, method)
    if settings is not BOOK:  # the state being tested was really there: it stopped early
        assert history.stopped and len(history) < epochs
    if "eta_schedule" in settings:
        assert min(r.eta for r in history) < settings["eta"]
    for k in range(len(history)):
        net, rest = resume(tmp_path / f"{k}.npz", training, epochs, settings, method)
        assert lines(rest) == lines(history), f"resumed after epoch {k}"
        assert (rest.stopped, rest.best_epoch) == (history.stopped, history.best_epoch)
        assert_identical(net, whole)


def test_resuming_a_stream_of_distorted_epochs_gives_the_uninterrupted_run(tmp_path):
    training = (TRAINING[0][:120], TRAINING[1][:120])
    with DistortedEpochs(training, seed=5, prepare=prepare) as epochs:
        whole, history = run_saving_every_epoch(tmp_path, epochs, 3, BOOK)
    with DistortedEpochs(training, seed=5, prepare=prepare, first=1) as epochs:
        net, rest = resume(tmp_path / "0.npz", epochs, 3, BOOK)
    assert lines(rest) == lines(history)
    assert_identical(net, whole)


def test_a_checkpoint_keeps_its_settings_data_and_metadata(tmp_path):
    net, _ = run_saving_every_epoch(tmp_path, TRAINING, 2, BOOK)
    checkpoint = load_checkpoint(tmp_path / "1.npz")
    assert checkpoint.next_epoch == 2 and not checkpoint.finished
    assert checkpoint.settings == SETTINGS and checkpoint.data == DATA
    assert checkpoint.differences(SETTINGS, DATA) == []
    assert checkpoint.differences({**SETTINGS, "eta": 0.5, "new": 1}, "other") == [
        "eta: 3.0 in the checkpoint, 0.5 now",
        "new: None in the checkpoint, 1 now",
        "data: not the data the checkpoint was trained on (another fingerprint)",
    ]
    with pytest.raises(CheckpointError, match=r"a checkpoint of a \[784, 16, 10\] float32"):
        checkpoint.restore(Network([784, 10]))
    finished = mark_finished(tmp_path / "1.npz", net, settings=SETTINGS, data=DATA, model="m.npz")
    checkpoint = load_checkpoint(finished)
    assert checkpoint.finished and checkpoint.metadata["model"] == "m.npz"
    with pytest.raises(CheckpointError, match="this run has finished"):
        checkpoint.restore(net)


def test_the_fingerprint_sees_every_value_shape_and_dtype():
    images, labels = TRAINING
    changed = images.copy()
    changed[5, 300] += 1e-7
    variants = {
        data_fingerprint((images, labels)),
        data_fingerprint((changed, labels)),
        data_fingerprint((images, labels[::-1])),
        data_fingerprint((images.astype(np.float64), labels)),
        data_fingerprint((images.reshape(-1, 392), labels)),
        data_fingerprint((images, labels), None),
    }
    assert len(variants) == 6


def test_missing_foreign_and_damaged_checkpoints_are_refused_by_name(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint there"):
        load_checkpoint(tmp_path / "nowhere.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match=r"garbage.npz: not a readable checkpoint"):
        load_checkpoint(garbage)
    run_saving_every_epoch(tmp_path, TRAINING, 1, BOOK)
    good = (tmp_path / "0.npz").read_bytes()
    for cut in (len(good) // 3, len(good) - 30):
        truncated = tmp_path / f"cut{cut}.npz"
        truncated.write_bytes(good[:cut])
        with pytest.raises(CheckpointError, match="not a readable checkpoint"):
            load_checkpoint(truncated)
    model = tmp_path / "model.npz"
    np.savez(model, metadata=np.frombuffer(b'{"format": "neuraldigits-model"}', np.uint8))
    with pytest.raises(CheckpointError, match="not a neuraldigits checkpoint"):
        load_checkpoint(model)


def test_a_checkpoint_declaring_more_than_memory_allows_is_refused_before_inflating(
    tmp_path, monkeypatch
):
    run_saving_every_epoch(tmp_path, TRAINING, 1, BOOK)
    assert load_checkpoint(tmp_path / "0.npz").arrays  # within the real budget it loads
    import neuraldigits.training.checkpoint as module

    monkeypatch.setattr(module, "default_budget", lambda: 1000)
    with pytest.raises(CheckpointError, match=r"0.npz: its arrays declare .* over the memory"):
        load_checkpoint(tmp_path / "0.npz")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_or_a_directory_is_refused_as_a_checkpoint_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "pipe.ckpt.npz")  # opening it to read would wait for a writer
    with pytest.raises(CheckpointError, match=r"pipe.ckpt.npz: is a FIFO .*a checkpoint"):
        load_checkpoint(tmp_path / "pipe.ckpt.npz")
    (tmp_path / "dir.ckpt.npz").mkdir()
    with pytest.raises(CheckpointError, match=r"dir.ckpt.npz: is a directory"):
        load_checkpoint(tmp_path / "dir.ckpt.npz")


def test_the_checkpoint_lives_beside_the_model():
    assert checkpoint_path("/a/model.npz").as_posix() == "/a/model.ckpt.npz"
    assert checkpoint_path("run").as_posix() == "run.ckpt.npz"


def test_sgd_refuses_a_state_from_a_run_with_other_stopping_rules(tmp_path):
    run_saving_every_epoch(tmp_path, TRAINING, 1, BOOK)
    net = Network(SIZES, seed=7)
    state = load_checkpoint(tmp_path / "0.npz").restore(net)
    with pytest.raises(ValueError, match="state= comes from a run with eta, early_stop"):
        sgd(net, TRAINING, 3, dict(eta=0.5), state=state)
    with pytest.raises(ValueError, match="state= comes from a run"):
        sgd(net, TRAINING, 3, dict(eta=3.0, early_stop=2), state=state)
