"""neuraldigits.images.stream: fresh distortions every epoch, from a background worker."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import time

import numpy as np
import pytest
from support.data import digits, synthetic_digits

from neuraldigits.images.augment import augment
from neuraldigits.images.stream import DistortedEpochs, DistortionWorkerError
from neuraldigits.network import Network
from neuraldigits.training import PreparedData, prepare

# The worker is spawned: whatever it calls must be importable from this module.


class Recorder:
    """A ``prepare`` that notes in ``directory`` each epoch the worker makes, then passes it on."""

    def __init__(self, directory):
        self.directory = str(directory)

    def __call__(self, data):
        made = len(os.listdir(self.directory))
        open(os.path.join(self.directory, f"{made:03d}"), "w").close()
        return data


def refuse(data):
    raise ValueError("no ink today")


def unpicklable(data):
    return lambda: data  # the worker cannot send this back


def training(n=120, seed=0):
    images, labels = synthetic_digits(n, seed)
    return images.reshape(n, -1), labels


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_epoch_k_depends_only_on_seed_and_k_and_keeps_the_labels():
    data = training()
    with DistortedEpochs(data, 3) as forward, DistortedEpochs(data, 3) as backward:
        ahead = [forward.for_epoch(k) for k in range(3)]
        behind = [backward.for_epoch(k) for k in (2, 0, 1)]  # asked for out of order
        behind = [behind[1], behind[2], behind[0]]
    for k, ((images, labels), (again, labels_again)) in enumerate(zip(ahead, behind)):
        assert images.dtype == np.uint8 and images.shape == data[0].shape
        np.testing.assert_array_equal(images, again)
        np.testing.assert_array_equal(images, augment(data[0], np.random.default_rng([3, k])))
        np.testing.assert_array_equal(labels, data[1])  # the same labels, in the same order
        np.testing.assert_array_equal(labels_again, data[1])
        assert not np.array_equal(images, data[0])  # epoch 0 is distorted too
    assert not np.array_equal(ahead[0][0], ahead[1][0])  # each epoch draws afresh
    assert not np.array_equal(ahead[1][0], ahead[2][0])


def test_another_seed_other_distortions_and_float_images_become_uint8():
    images, labels = digits(60, seed=1, dtype=np.float32)
    with DistortedEpochs((images, labels), 4) as a, DistortedEpochs((images, labels), 5) as b:
        first, second = a.for_epoch(0)[0], b.for_epoch(0)[0]
    pixels = (images * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(first, augment(pixels, np.random.default_rng([4, 0])))
    assert not np.array_equal(first, second)


def test_the_worker_keeps_at_most_one_epoch_ahead(tmp_path):
    made = lambda: len(os.listdir(tmp_path))  # noqa: E731
    with DistortedEpochs(training(), 0, prepare=Recorder(tmp_path)) as epochs:
        wait_for(lambda: made() == 1)  # epoch 0, started before anyone asked
        time.sleep(0.5)
        assert made() == 1  # and not epoch 1: nobody has taken epoch 0 yet
        epochs.for_epoch(0)
        wait_for(lambda: made() == 2)  # epoch 1, made while epoch 0 trains
        time.sleep(0.5)
        assert made() == 2  # never epoch 2 before epoch 1 is taken
        epochs.for_epoch(1)
        wait_for(lambda: made() == 3)
        time.sleep(0.3)
        assert made() == 3


def test_close_ends_the_worker_and_the_stream():
    epochs = DistortedEpochs(training(), 0)
    pid = epochs._worker.pid
    epochs.for_epoch(0)  # the worker is now busy with epoch 1
    epochs.close()
    assert gone(pid)
    epochs.close()  # twice is harmless
    with pytest.raises(ValueError, match="closed"):
        epochs.for_epoch(1)


def test_garbage_collection_ends_the_worker():
    epochs = DistortedEpochs(training(), 0)
    pid = epochs._worker.pid
    del epochs
    gc.collect()
    wait_for(lambda: gone(pid), 10)


def test_an_interrupt_inside_the_with_block_ends_the_worker():
    with pytest.raises(KeyboardInterrupt):
        with DistortedEpochs(training(), 0) as epochs:
            pid = epochs._worker.pid
            epochs.for_epoch(0)
            raise KeyboardInterrupt  # as Ctrl-C would, in the middle of training
    assert gone(pid)


def test_a_failure_in_the_worker_names_its_cause():
    with DistortedEpochs(training(), 0, prepare=refuse) as epochs:
        with pytest.raises(DistortionWorkerError, match="epoch 0.*ValueError: no ink today"):
            epochs.for_epoch(0)
    with DistortedEpochs(training(), 0, prepare=unpicklable) as epochs:
        with pytest.raises(DistortionWorkerError, match="epoch 0 failed.*pickle"):
            epochs.for_epoch(0)


def test_a_dead_worker_raises_at_once_and_a_new_one_takes_over():
    data = training()
    with DistortedEpochs(data, 2) as epochs:
        os.kill(epochs._worker.pid, signal.SIGKILL)
        start = time.monotonic()
        with pytest.raises(DistortionWorkerError, match="died .exit code -9. while making epoch 0"):
            epochs.for_epoch(0)
        assert time.monotonic() - start < 5  # no hang
        images, _ = epochs.for_epoch(1)  # a fresh worker, the same distortions
    np.testing.assert_array_equal(images, augment(data[0], np.random.default_rng([2, 1])))


def test_bad_arguments_are_refused_with_the_reason():
    with pytest.raises(TypeError, match="prepare must be picklable"):
        DistortedEpochs(training(), 0, prepare=lambda data: data)
    with pytest.raises(ValueError, match="seed must be"):
        DistortedEpochs(training(), -1)
    with pytest.raises(ValueError, match="expected images of shape"):
        DistortedEpochs((np.zeros((3, 100), np.uint8), np.zeros(3)), 0)
    with pytest.raises(ValueError, match="labels of shape"):
        DistortedEpochs((np.zeros((3, 784), np.uint8), np.zeros(4)), 0)
    with DistortedEpochs(training(), 0) as epochs:
        with pytest.raises(ValueError, match="epoch must be"):
            epochs.for_epoch(-1)


def test_a_prepared_set_pickles_with_its_listing(monkeypatch):
    data = prepare(digits(50, dtype=np.uint8))
    monkeypatch.setattr(
        "neuraldigits.training.prepared.sparse_rows", lambda images: pytest.fail("listed again")
    )
    copy = pickle.loads(pickle.dumps(data))
    assert isinstance(copy, PreparedData) and copy.prepared
    for before, after in zip((*data, *data.sparse(False)), (*copy, *copy.sparse(False))):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(ValueError, match="read-only"):
        copy[0][0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        copy[1][0] = 1


@pytest.mark.parametrize("method", ["fast", "reference"])
def test_sgd_on_the_stream_trains_as_epoch_by_epoch_on_its_outputs(method):
    data = digits(300, seed=3, dtype=np.uint8)
    settings = dict(lmbda=5.0, momentum=0.9)
    streamed = Network([784, 16, 10], seed=0, cost="cross-entropy", init="scaled")
    by_hand = Network([784, 16, 10], seed=0, cost="cross-entropy", init="scaled")
    with DistortedEpochs(data, 7, prepare=prepare) as epochs:
        history = streamed.sgd(epochs, 3, 10, 0.1, method=method, **settings)
    assert len(history) == 3
    with DistortedEpochs(data, 7) as again:  # unprepared this time: no matter
        for k in range(3):
            by_hand.sgd(again.for_epoch(k), 1, 10, 0.1, method=method, **settings)
    for x, y in zip(streamed.weights + streamed.biases, by_hand.weights + by_hand.biases):
        np.testing.assert_array_equal(x, y)  # bit for bit


def test_an_interrupt_while_waiting_leaves_no_worker_and_the_next_call_recovers(monkeypatch):
    data = training()
    with DistortedEpochs(data, 1) as epochs:
        worker = epochs._worker

        def interrupted():
            raise KeyboardInterrupt  # Ctrl-C half way through a message

        monkeypatch.setattr(worker.connection, "recv", interrupted)
        with pytest.raises(KeyboardInterrupt):
            epochs.for_epoch(0)
        assert gone(worker.pid)
        images, _ = epochs.for_epoch(0)  # a fresh worker, in step again
    np.testing.assert_array_equal(images, augment(data[0], np.random.default_rng([1, 0])))


def test_an_epoch_out_of_turn_drops_the_one_made_ahead():
    data = training()
    with DistortedEpochs(data, 6) as epochs:
        epochs.for_epoch(0)  # epoch 1 is now being made
        images, _ = epochs.for_epoch(5)
        assert "next epoch 6" in repr(epochs)
    np.testing.assert_array_equal(images, augment(data[0], np.random.default_rng([6, 5])))
