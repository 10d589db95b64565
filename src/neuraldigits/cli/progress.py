"""Progress bars on stderr, drawn only when a person is watching.

The library reports progress through callbacks (a download's bytes, training's
images); only the CLI draws bars, and only here: tqdm bars that vanish when
done, on stderr, and none at all when the output goes to a file, a pipe or a test.
"""

from __future__ import annotations

import sys
from typing import IO

from ..data.download import Progress


def _bar_maker(watched: IO[str]):
    """A function making a tqdm bar on stderr, or None when ``watched`` is not a terminal."""
    if not watched.isatty():
        return None
    from tqdm import tqdm

    def bar(total: int, unit: str, desc: str | None = None) -> tqdm:
        return tqdm(
            total=total, desc=desc, unit=unit, unit_scale=True, leave=False, file=sys.stderr
        )

    return bar


def download_bars() -> Progress | None:
    """A :data:`~neuraldigits.data.download.Progress` callback drawing one bar per file.

    A file that starts again (a resumed or retried transfer) gets a fresh bar.
    None when stderr is not a terminal.
    """
    new_bar = _bar_maker(sys.stderr)
    if new_bar is None:
        return None
    bars = {}

    def progress(name: str, done: int, total: int) -> None:
        bar = bars.get(name)
        if bar is None or done < bar.n:
            if bar is not None:
                bar.close()
            bar = bars[name] = new_bar(total, "B", desc=name)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress


class EpochBar:
    """A bar over each epoch's ``total`` images, begun afresh when the next epoch starts."""

    def __init__(self, new_bar, total: int) -> None:
        self.new_bar, self.total, self.bar = new_bar, total, None

    def update(self, n: int) -> None:
        """``n`` more images trained on (the ``on_batch`` callback of ``Network.sgd``)."""
        if self.bar is None or self.bar.n >= self.total:
            self.close()
            self.bar = self.new_bar(self.total, "img")
        self.bar.update(n)
        if self.bar.n >= self.total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def epoch_bar(total: int) -> EpochBar | None:
    """The training bar, or None unless stdout is a terminal.

    Watched on stdout, where the epoch lines it runs between are printed: a run
    whose epoch lines go to a file or a pipe draws no bar.
    """
    new_bar = _bar_maker(sys.stdout)
    if new_bar is None:
        return None
    return EpochBar(new_bar, total)
