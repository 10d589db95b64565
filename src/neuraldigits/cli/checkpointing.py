"""`digits train`'s checkpoints, ``--resume``, and SIGTERM handled as Ctrl-C.

After every epoch the run's checkpoint (:mod:`neuraldigits.training.checkpoint`)
is written atomically beside the model it will save: ``--out model.npz`` →
``model.ckpt.npz`` (without ``--out``, beside the default model).  A run killed
any way at all (kill -9, power loss) loses at most the epoch in progress:
the same command with ``--resume`` carries on from the checkpoint and ends
exactly as the run would have, to the bit (same seed, settings and data).
The checkpoint holds the best weights so far, so even a run killed after its
last epoch only needs ``--resume`` to save its model.  A finished run marks its
checkpoint so, keeping the settings but no weights.

``--resume`` refuses, in one line, a missing or damaged checkpoint, a finished
run, and other settings or data than the checkpoint's, naming what differs.
Without ``--seed`` it takes the checkpoint's.

SIGTERM (a plain ``kill``, a container stopping) ends the run as Ctrl-C does:
the best model so far is saved and the same message printed; the exit status
is 143 (128 + SIGTERM) instead of Ctrl-C's 130.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import NeuralDigitsError
from ..locations import default_model_path
from ..network import Dataset, Network, SgdState
from ..training import backend_for
from ..training.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_path,
    data_fingerprint,
    load_checkpoint,
    mark_finished,
    save_checkpoint,
)
from ..wording import plural

# Exit statuses: 128 + the signal's number, as a shell reports a process it ended.
INTERRUPTED, TERMINATED = 130, 143

# Settings that may differ between a run and its resumption: the data's description
# names where it was found, which may change; the data themselves are fingerprinted.
_NOT_COMPARED = ("data",)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as for Ctrl-C."""


def add_resume_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resume",
        action="store_true",
        help="carry on an interrupted run from its checkpoint (written beside the model "
        "after every epoch); give the same options as that run",
    )


def exit_status(stop: KeyboardInterrupt) -> int:
    """The exit status of a run stopped by ``stop``: 143 for SIGTERM, 130 for Ctrl-C."""
    return TERMINATED if isinstance(stop, Terminated) else INTERRUPTED


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals; leave SIGTERM as it is
        return

    def terminated(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class RunCheckpoint:
    """The checkpoint of one `digits train` run: resumed from, and written after each epoch."""

    def __init__(self, out: str | None, resume: bool) -> None:
        self.path = checkpoint_path(default_model_path() if out is None else out)
        self.resumed: Checkpoint | None = None
        self.written = 0  # epochs done as of the checkpoint this run last wrote (0: none)
        if resume:
            if not self.path.is_file():
                raise NeuralDigitsError(
                    f"--resume: no checkpoint at {self.path}; a run writes one beside its model "
                    "after every epoch (model.npz → model.ckpt.npz): give that run's --out"
                )
            try:
                self.resumed = load_checkpoint(self.path)
            except CheckpointError as e:
                raise NeuralDigitsError(f"--resume: {e}") from None
            if self.resumed.finished:
                model = self.resumed.metadata.get("model")
                raise NeuralDigitsError(
                    f"--resume: the run of {self.path} has already finished"
                    + (f" and saved its model to {model}" if model else "")
                    + "; nothing to resume (leave out --resume to train afresh)"
                )

    def seed(self, given: int | None) -> int:
        """The run's seed: ``--seed`` if given, else the resumed run's, else a fresh one."""
        if given is not None:
            return given
        seed = None if self.resumed is None else self.resumed.settings.get("seed")
        return seed if isinstance(seed, int) else secrets.randbits(32)

    def begin(
        self, net: Network, tracker: Any, settings: dict[str, Any], data: tuple[Dataset, ...]
    ) -> SgdState | None:
        """Note the run's settings and data; when resuming, check them against the
        checkpoint's and restore ``net`` and ``tracker`` (the CLI's ``_Tracker``):
        return the :class:`SgdState` to carry on from, else None."""
        self.net, self.tracker = net, tracker
        ours = {k: v for k, v in settings.items() if k not in _NOT_COMPARED}
        ours.update(sizes=list(net.sizes), dtype=net.dtype.name,
                    method=backend_for(data[0][0], net.dtype))  # fmt: skip
        self.settings = json.loads(json.dumps(ours))  # as the checkpoint will read them back
        self.data = data_fingerprint(*data)
        if self.resumed is None:
            return None
        differences = self.resumed.differences(self.settings, self.data)
        if differences:
            raise NeuralDigitsError(
                f"--resume: {self.path} is a checkpoint of another run; "
                + "; ".join(differences)
            )
        state = self.resumed.restore(net)
        tracker.history = list(state.history)
        if state.best is not None:  # always, after an epoch with a validation set
            tracker.best = net.copy()
            tracker.best.weights, tracker.best.biases = ([a.copy() for a in arrays]
                                                         for arrays in state.best)  # fmt: skip
            tracker.best_epoch = state.plateau.best_epoch
        tracker.warned = bool(self.resumed.metadata.get("warned", False))
        print(
            f"Resuming from {self.path}: {len(state.history)} of "
            f"{plural(settings['epochs'], 'epoch')} done"
            + (", and the run had stopped" if state.history.stopped else ""),
            flush=True,
        )
        return state

    def after_epoch(self, state: SgdState) -> None:
        """``sgd``'s ``on_epoch_end``: write the checkpoint of the epoch just ended."""
        save_checkpoint(self.path, self.net, state, settings=self.settings, data=self.data,
                        warned=self.tracker.warned)  # fmt: skip
        self.written = state.next_epoch

    def finish(self, model: Any) -> None:
        """The run has saved its model at ``model``: mark the checkpoint finished."""
        if self.written or self.resumed is not None:
            mark_finished(self.path, self.net, settings=self.settings, data=self.data,
                          model=str(model))  # fmt: skip

    def tell_how_to_resume(self) -> None:
        """After an interruption: where the checkpoint is, and how to carry on (stderr)."""
        done = self.written or (self.resumed.next_epoch if self.resumed is not None else 0)
        if done:
            print(
                f"The checkpoint after {plural(done, 'epoch')} is {self.path}: run the same "
                "command with --resume to carry on.",
                file=sys.stderr,
            )
