"""When to stop training, and when to lower η: chapter 3's early stopping and η schedule.

Both watch one number after every epoch, the validation accuracy, and count
the epochs since it last improved:

* **early stopping** (``early_stop=N``): stop once N epochs in a row have not
  beaten the best accuracy so far (the book's "no-improvement-in-N" rule);
* **the η schedule** (``eta_schedule=N``): each time N epochs pass without an
  improvement, halve η and count afresh; stop once η has fallen to η₀/128, as
  the book suggests at the end of its "How to choose a neural network's
  hyper-parameters?".

The validation set decides, never the test set: choosing when to stop is
choosing a hyper-parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from .wording import plural

# The book's floor for the schedule: stop when η reaches η₀/128 (seven halvings).
ETA_FLOOR = 128


@dataclass
class Plateau:
    """Tracks the best validation accuracy and applies the two rules above.

    ``early_stop`` and ``eta_schedule`` are patiences in epochs (None: off);
    ``eta`` is the learning rate now, lowered in place by :meth:`update`.
    """

    eta: float
    early_stop: int | None = None
    eta_schedule: int | None = None
    best_accuracy: float = -1.0
    best_epoch: int = -1
    since_best: int = 0

    def __post_init__(self) -> None:
        for name in ("early_stop", "eta_schedule"):
            value = getattr(self, name)
            if value is not None and (int(value) != value or value < 1):
                raise ValueError(f"{name} must be a whole number of epochs ≥ 1, got {value!r}")
        self.eta0 = self.eta

    def update(self, epoch: int, accuracy: float) -> str | None:
        """Record epoch ``epoch``'s validation accuracy; may halve ``eta``.

        Returns why training should stop now (e.g. "no validation improvement
        in 10 epochs"), or None to go on.
        """
        if accuracy > self.best_accuracy:
            self.best_accuracy, self.best_epoch, self.since_best = accuracy, epoch, 0
            return None
        self.since_best += 1
        if self.early_stop is not None and self.since_best >= self.early_stop:
            return f"no validation improvement in {plural(self.since_best, 'epoch')}"
        if self.eta_schedule is not None and self.since_best >= self.eta_schedule:
            self.eta /= 2
            self.since_best = 0
            if self.eta <= self.eta0 / ETA_FLOOR:
                return f"η fell to η₀/{ETA_FLOOR} = {self.eta:g}"
        return None
