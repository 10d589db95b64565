"""The CLI's progress bars: drawn on stderr only when a person is watching."""

import io
import sys

from neuraldigits.cli.progress import download_bars, epoch_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bars_when_nobody_is_watching(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert download_bars() is None and epoch_bar(100) is None


def test_the_training_bar_follows_stdout_and_restarts_each_epoch(monkeypatch):
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setattr(sys, "stderr", stderr)
    bar = epoch_bar(100)
    for _ in range(2):  # two epochs
        bar.update(60)
        assert bar.bar is not None and bar.bar.n == 60
        bar.update(40)
        assert bar.bar is None  # a full epoch closes its bar
    assert stderr.getvalue().count("| 0.00/100 [00:00<?, ?img/s]") == 2  # one bar an epoch


def test_download_bars_one_per_file_afresh_when_a_transfer_restarts(monkeypatch):
    stderr = Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    progress = download_bars()
    progress("a.gz", 500, 1000)
    progress("a.gz", 200, 1000)  # started again (another mirror): a new bar
    progress("a.gz", 1000, 1000)
    progress("b.gz", 10, 10)
    text = stderr.getvalue()
    assert text.count("a.gz:   0%") == 2 and text.count("b.gz:   0%") == 1
    assert "?B/s" in text
