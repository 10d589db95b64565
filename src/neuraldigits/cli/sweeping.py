"""``--jobs N`` and ``--cluster ADDRESS``: the options of the commands that train many seeds.

`digits reproduce` and `digits experiment output-encoding` run independent,
seeded trainings; these options spread them over local processes or a running
Dask scheduler (:mod:`neuraldigits.book.sweep`), with the same results.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..book.sweep import check_address, require
from .common import positive_int


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="run the trainings in N local processes (joblib; the cluster extra); the "
        "results are the same as one after another",
    )
    where.add_argument(
        "--cluster",
        default=None,
        metavar="ADDRESS",
        help="run the trainings on the workers of a running dask.distributed scheduler, "
        "e.g. tcp://10.0.0.5:8786 (the cluster extra; see docs/cluster.md) "
        "(default: this machine)",
    )


def sweep_settings(args: argparse.Namespace) -> dict[str, Any]:
    """``workers`` and ``cluster`` for the library, after checking now (before any data is
    loaded) that what they need is installed."""
    needs = ["joblib"] if args.jobs > 1 or args.cluster else []
    if args.cluster:
        needs.append("distributed")
    for module in needs:
        require(module)
    if args.cluster:
        check_address(args.cluster)
    return {"workers": args.jobs, "cluster": args.cluster}
