"""Fresh distortions of the training set every epoch, made in the background.

Distorted copies made once (``digits train --augment 3``) show the network the
same few distortions of each digit every epoch, and cost memory for each copy.
Simard et al. (2003) and Cireşan et al. (2010) instead draw new distortions
every epoch, so the network never sees the same picture twice.  This module
does that without slowing training down: a worker process distorts epoch k + 1
while the network trains on epoch k, on the machine's other core::

    from neuraldigits.images.stream import DistortedEpochs
    from neuraldigits.training import prepare

    with DistortedEpochs(training, seed=1, prepare=prepare) as epochs:
        net.sgd(epochs, 30, 10, 0.1, lmbda=5.0, momentum=0.9, validation_data=validation)

:meth:`Network.sgd <neuraldigits.network.Network.sgd>` takes any object with
``for_epoch(k)``; this one returns epoch k's training set.

* **Every epoch is distorted, epoch 0 too.**  Every epoch is then a sample of
  the same distribution (near-identity distortions included), as in Simard's
  and Cireşan's training; the undistorted originals are never trained on as
  such.  (Validation and test data stay undistorted: they are what the network
  is judged on.)
* **Reproducible.**  Epoch k's distortions depend only on ``(seed, k)`` (they are
  :func:`.augment.augment` with ``np.random.default_rng([seed, k])``), never on
  when the worker ran or which epochs were asked for before; the labels are the
  training set's, in its order.
* **Bounded memory.**  The worker makes an epoch only when asked: the one
  requested, then (once that has been handed over) the next one, and no more.
  Besides the training set it was given, it holds at most one epoch (~40 MB of
  uint8 images for MNIST, plus the listing of ink pixels when ``prepare`` is
  given), never the distortions of all epochs.
* **Prepared where it is made.**  ``prepare`` (pass
  :func:`neuraldigits.training.prepare`; this package may not import it) runs in
  the worker, so the epoch arrives with its ink pixels already listed and the fast
  trainer starts at once.
* **Cleaned up.**  The worker ends on :meth:`close`, at the end of a ``with``
  block (a ``KeyboardInterrupt`` included: the worker ignores Ctrl-C and is
  stopped by its owner), when the stream is garbage-collected, and at exit.  A
  failure in the worker (an exception, or the process dying) raises
  :class:`DistortionWorkerError` in the caller with the cause, never a hang.

The worker is a *spawned* process (a fresh interpreter: safe next to the
trainer's threads, and the same on every platform), so a script that makes a
stream must guard its top level with ``if __name__ == "__main__":`` — as with
any ``multiprocessing`` code — and ``prepare`` must be picklable (a function
defined at a module's top level).  Starting it costs a fraction of a second,
once.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import traceback
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from ..geometry import PIXELS
from .augment import augment

_POLL_SECONDS = 0.2  # how often a waiting caller checks that the worker still lives
_STOP_SECONDS = 2.0  # how long close() lets the worker end on its own before ending it


class DistortionWorkerError(RuntimeError):
    """The background worker could not make an epoch: it raised, or it died."""


class DistortedEpochs:
    """Training sets for ``Network.sgd``, one per epoch: freshly distorted copies of ``training``.

    ``training``: ``(images (N, 784), labels (N,))``, images uint8 (0–255) or floats
    in [0, 1] (turned into uint8 once, here).  ``seed``: a whole number ≥ 0;
    epoch k draws its distortions from ``np.random.default_rng([seed, k])``.
    ``prepare``: an optional picklable callable applied to each epoch's
    ``(images, labels)`` in the worker (``neuraldigits.training.prepare``).
    ``first``: the epoch that will be asked for first (0, or where a resumed
    run carries on), made before it is asked for.

    ``for_epoch(k)`` returns epoch k's ``(images uint8 (N, 784), labels)``, or what
    ``prepare`` made of it.  Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        training: tuple[NDArray, NDArray],
        seed: int,
        *,
        prepare: Callable[[tuple[NDArray, NDArray]], Any] | None = None,
        first: int = 0,
    ) -> None:
        try:
            images, labels = training
        except (TypeError, ValueError):
            raise ValueError("training must be an (images, labels) pair of arrays") from None
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 2 or images.shape[1] != PIXELS:
            raise ValueError(f"expected images of shape (N, {PIXELS}), got {images.shape}")
        if labels.shape != (len(images),):
            raise ValueError(
                f"expected labels of shape ({len(images)},) to match the images, got {labels.shape}"
            )
        if images.dtype != np.uint8:
            images = (images * 255).round().clip(0, 255).astype(np.uint8)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a whole number ≥ 0, not {seed!r}")
        if not isinstance(first, (int, np.integer)) or isinstance(first, bool) or first < 0:
            raise ValueError(f"first must be a whole number ≥ 0, not {first!r}")
        if prepare is not None:
            try:
                pickle.dumps(prepare)
            except Exception as e:
                raise TypeError(
                    "prepare must be picklable, e.g. a function defined at a module's top "
                    f"level such as neuraldigits.training.prepare; {prepare!r} is not ({e})"
                ) from None
        self.seed = int(seed)
        self.size = len(images)
        self._job = (images, labels, self.seed, prepare)
        self._worker: _Worker | None = None
        self._pending: int | None = None  # the epoch the worker is making or holding for us
        self._closed = False
        self._start(first=int(first))  # the first epoch is on its way before anyone asks

    # ------------------------------------------------------------------ the stream

    def for_epoch(self, k: int) -> Any:
        """Epoch k's freshly distorted training set (made in the background); then start k + 1."""
        if self._closed:
            raise ValueError("this DistortedEpochs is closed")
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
            raise ValueError(f"the epoch must be a whole number ≥ 0, not {k!r}")
        k = int(k)
        if self._pending is not None and self._pending != k:
            try:
                self._receive(self._pending)  # not wanted after all: drop it
            except DistortionWorkerError:
                pass  # nor its failure
        if self._worker is None:
            self._start(first=k)
        elif self._pending != k:
            self._request(k)
        data = self._receive(k)
        try:
            self._request(k + 1)  # made while epoch k trains
        except DistortionWorkerError:
            pass  # the worker is gone; asking for epoch k + 1 starts another
        return data

    def close(self) -> None:
        """End the worker (at once, even mid-epoch).  Closing twice is harmless."""
        self._closed = True
        self._stop()

    def __enter__(self) -> DistortedEpochs:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"next epoch {self._pending}"
        return f"DistortedEpochs({self.size:,} images, seed={self.seed}, {state})"

    # ------------------------------------------------------------------ the worker

    def _start(self, first: int) -> None:
        self._worker = _Worker(self._job)
        # Ends the worker when this stream is garbage-collected, or at exit.
        self._finalizer = weakref.finalize(self, self._worker.stop)
        self._request(first)

    def _stop(self) -> None:
        if self._worker is not None:
            self._finalizer.detach()
            self._worker.stop()
            self._worker, self._pending = None, None

    def _request(self, k: int) -> None:
        try:
            self._worker.connection.send(k)
        except OSError:  # the worker has gone
            self._fail(k)
        self._pending = k

    def _receive(self, k: int) -> Any:
        """Epoch k from the worker; on any failure or interruption, no worker is left behind."""
        worker = self._worker
        try:
            while not worker.connection.poll(_POLL_SECONDS):
                if not worker.process.is_alive():
                    self._fail(k)
            reply = worker.connection.recv()
        except DistortionWorkerError:
            raise
        except (EOFError, OSError):
            self._fail(k)
        except BaseException:
            # Interrupted (Ctrl-C) mid-message: the pipe is out of step.  A new
            # worker starts if another epoch is asked for.
            self._stop()
            raise
        self._pending = None
        status, epoch, payload = reply
        if status == "error":
            raise DistortionWorkerError(
                f"distorting epoch {epoch} failed in the background worker: {payload[0]}\n"
                f"(worker traceback)\n{payload[1]}"
            )
        if epoch != k:  # cannot happen: requests are answered in order
            raise DistortionWorkerError(f"the worker sent epoch {epoch} when {k} was due")
        return payload

    def _fail(self, k: int) -> None:
        process = self._worker.process
        process.join(_POLL_SECONDS)  # its exit code, if it is dying
        code = process.exitcode
        self._stop()
        how = "ended" if code is None else f"died (exit code {code})"
        raise DistortionWorkerError(
            f"the background worker {how} while making epoch {k}: killed by a signal, "
            "out of memory, or failed to start (see its messages above)"
        )


class _Worker:
    """The process and our end of its pipe.  ``stop`` is safe to call many times."""

    def __init__(self, job: tuple) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_work, args=(theirs, *job), name="neuraldigits-distortions", daemon=True
        )
        self.process.start()
        self.pid = self.process.pid
        theirs.close()  # so that our reads see EOF if the worker dies
        self.connection = ours

    def stop(self) -> None:
        process, connection = self.process, self.connection
        if connection.closed:
            return
        try:
            connection.send(None)  # "stop", read when it is idle
        except OSError:
            pass
        connection.close()
        process.join(timeout=0 if process.exitcode is not None else 0.05)
        if process.is_alive():
            process.terminate()  # busy with an epoch nobody wants
            process.join(_STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
        process.close()


def _work(connection, images, labels, seed: int, prepare) -> None:
    """The worker's loop: for each epoch k asked for, send back its distorted (prepared) set."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the owner, who stops us
    with threadpool_limits(limits=1, user_api="blas"):  # one core: the other trains
        while True:
            try:
                k = connection.recv()
            except (EOFError, OSError):
                return  # the owner has gone
            if k is None:
                return
            try:
                data = (augment(images, np.random.default_rng([seed, k])), labels)
                reply = ("ok", k, prepare(data) if prepare is not None else data)
            except Exception as e:
                reply = _error(k, e)
            data = None  # hold no epoch but the one being sent
            try:
                try:
                    connection.send(reply)
                except OSError:
                    raise
                except Exception as e:  # could not pickle it: nothing was sent yet
                    connection.send(_error(k, e))
            except OSError:
                return  # the owner has gone
            reply = None  # and none while waiting for the next request


def _error(k: int, e: Exception) -> tuple:
    return "error", k, (f"{type(e).__name__}: {e}", traceback.format_exc())
