"""The README's table of fuzz runs, from the JSON files the fuzz scripts wrote (``--json``).

    python fuzz/table.py model.json idx.json pickle.json picture.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = [
    ("reader", "reader"),
    ("cases", "cases"),
    ("accepted", "accepted"),
    ("refused", "refused (our error, naming the file)"),
    ("uncaught", "uncaught exceptions"),
    ("unnamed", "errors not naming the file"),
    ("hang", "hangs"),
    ("over budget", "over the memory budget"),
    ("budget_mb", "budget (MB of peak RSS)"),
    ("peak_rss_growth_mb", "largest peak RSS growth (MB)"),
    ("slowest_case_s", "slowest case (s)"),
    ("seconds", "time (s)"),
]


def main(paths: list[str]) -> None:
    results = [json.loads(Path(path).read_text()) for path in paths]
    print("| " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for result in results:
        cells = []
        for key, _ in COLUMNS:
            value = result[key]
            cells.append(f"{value:,}" if isinstance(value, int) else str(value))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
