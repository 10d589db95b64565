"""A progress bar for ``Network.sgd(..., progress=True)``, for notebooks and the REPL.

The library prints nothing unless asked; ``progress=True`` asks.  The bar comes
from ``tqdm.auto``: a widget in Jupyter (with ipywidgets, the ``notebook``
extra), text on stderr anywhere else.  It counts the images trained on, over
all epochs, and shows the last epoch's scores beside it.  ``digits train`` draws
its own bars (:mod:`neuraldigits.cli.progress`), on a terminal only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# sgd's EpochResult; this module sits below network.py, so it cannot import it.
EpochResult = Any


class TrainingBar:
    """One bar over epochs ``first_epoch`` to ``epochs`` − 1, of ``images_per_epoch`` images each.

    ``images_per_epoch`` may be None (a stream of training sets, whose size is
    known once its first epoch is done); ``first_epoch`` > 0 for a resumed run.
    Feed it through :meth:`callbacks`; :meth:`close` when training ends.
    """

    def __init__(
        self,
        epochs: int,
        images_per_epoch: int | None,
        first_epoch: int = 0,
        **tqdm_options: Any,
    ) -> None:
        from tqdm.auto import tqdm

        self.epochs = epochs
        self.remaining = max(epochs - first_epoch, 0)
        self.seen = 0  # images trained on in the current epoch
        total = self.remaining * images_per_epoch if images_per_epoch else None
        options = dict(unit="img", unit_scale=True, leave=True, desc=self._desc(first_epoch))
        self.bar = tqdm(total=total, **(options | tqdm_options))

    def _desc(self, epoch: int) -> str:
        return f"Epoch {epoch} of {self.epochs}"  # numbered from 0, as the book's lines are

    def update(self, images: int) -> None:
        """``images`` more trained on (sgd's ``on_batch``)."""
        self.seen += images
        self.bar.update(images)

    def epoch_done(self, result: EpochResult) -> None:
        """Show the epoch's scores, and learn the epoch size of a stream (sgd's ``callback``)."""
        if self.bar.total is None:
            self.bar.total = self.remaining * self.seen
        self.seen = 0
        scores = [
            f"{name} {100 * score.accuracy:.2f} %"
            for name, score in (("test", result.test), ("validation", result.validation))
            if score is not None
        ]
        if result.epoch + 1 < self.epochs:
            self.bar.set_description(self._desc(result.epoch + 1), refresh=False)
        self.bar.set_postfix_str(", ".join(scores))

    def callbacks(
        self,
        callback: Callable[[EpochResult], None] | None,
        on_batch: Callable[[int], None] | None,
    ) -> tuple[Callable[[EpochResult], None], Callable[[int], None]]:
        """sgd's ``(callback, on_batch)``, with this bar's updates before the given ones."""

        def after_epoch(result: EpochResult) -> None:
            self.epoch_done(result)
            if callback is not None:
                callback(result)

        def after_batch(images: int) -> None:
            self.update(images)
            if on_batch is not None:
                on_batch(images)

        return after_epoch, after_batch

    def close(self, complete: bool = True) -> None:
        """End the bar.  Training that stopped early ends it full, not as a failure;
        training cut short (``complete`` False: an exception, Ctrl-C) ends it where it got."""
        if complete and self.bar.total and self.bar.n < self.bar.total:
            self.bar.total = self.bar.n
        self.bar.close()
