"""A logging filter that collapses a flood of one message to a bounded rate.

Under attack a server can log the same line thousands of times a second (an
earlier pad wrote 214 MB of "Too many open files" while 20,100 idle sockets were
open).  :class:`RateLimitFilter` lets ``burst`` records of each message through
per ``interval`` seconds, drops the rest, and says how many it dropped on the
next record of that message it lets through.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..wording import plural


@dataclass
class _Window:
    start: float
    passed: int = 0
    suppressed: int = 0


class RateLimitFilter(logging.Filter):
    """At most ``burst`` records of each message per ``interval`` seconds.

    A message is its logger, level and unformatted text (``record.msg``, the
    first 200 characters), so "Invalid HTTP request received." from many
    clients is one message.  The first record let through after some were
    dropped ends with "[suppressed N similar messages]".  At most ``max_keys``
    messages are tracked (the least recently seen are forgotten), so memory stays
    bounded whatever is logged.  ``clock`` is for tests.
    """

    def __init__(
        self,
        burst: int = 5,
        interval: float = 60.0,
        max_keys: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if burst < 1 or not interval > 0 or max_keys < 1:
            raise ValueError(
                f"burst and max_keys must be at least 1 and interval above 0, "
                f"got {burst}, {max_keys} and {interval}"
            )
        self.burst = burst
        self.interval = interval
        self.max_keys = max_keys
        self.clock = clock
        self._windows: OrderedDict[tuple[str, int, str], _Window] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg)[:200])
        now = self.clock()
        window = self._windows.get(key)
        if window is None or now - window.start >= self.interval:
            suppressed = window.suppressed if window else 0
            window = self._windows[key] = _Window(start=now)
            if suppressed:
                self._note(record, suppressed)
        self._windows.move_to_end(key)
        while len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)
        if window.passed >= self.burst:
            window.suppressed += 1
            return False
        window.passed += 1
        return True

    def _note(self, record: logging.LogRecord, suppressed: int) -> None:
        # Appended to the formatted text, so '%' in it cannot upset the arguments.
        record.msg = record.getMessage() + (
            f" [suppressed {plural(suppressed, 'similar message')} "
            f"in the previous {self.interval:g} s]"
        )
        record.args = None
