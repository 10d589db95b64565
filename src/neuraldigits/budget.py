"""How much memory loading one file may take, decided before anything is allocated.

Files come from anywhere, and a few bytes can declare gigabytes: an IDX header
saying 2.7 million images, a ``.npy`` header saying ``(10**12,)``, a pickle
asking for a huge array.  Every reader works out from the declared shapes what
it would hold *after* conversion (float32 pixels take four times their bytes)
and refuses, naming the file, when that exceeds the budget.

The default budget is half the memory available now, at most
:data:`MAX_DEFAULT_BUDGET`; callers pass their own (``memory_budget=``) to
load larger data on a large machine or to keep a test small.
"""

from __future__ import annotations

import os

from .wording import plural

# More than any data set or model this library is for needs (MNIST as float32:
# 0.3 GB; EMNIST's largest split: 3.2 GB with its raw bytes).
MAX_DEFAULT_BUDGET = 4 << 30
# When the available memory cannot be read (not Linux), assume this much.
_FALLBACK_AVAILABLE = 8 << 30


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (Linux's MemAvailable), or a guess."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f.read(1 << 16).splitlines():
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return _FALLBACK_AVAILABLE


def default_budget() -> int:
    """Half the memory available now, at most :data:`MAX_DEFAULT_BUDGET` bytes."""
    return min(available_memory() // 2, MAX_DEFAULT_BUDGET)


def resolve(budget: int | None) -> int:
    """``budget`` bytes, or the default when None; refuses a negative or non-integer one."""
    if budget is None:
        return default_budget()
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise ValueError(f"memory_budget must be a whole number of bytes >= 0, got {budget!r}")
    return budget


def describe(n_bytes: int) -> str:
    """``n_bytes`` for a message: "3.2 GB", "512.0 MB", "12 bytes"."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return plural(n_bytes, "byte")
