"""`digits data download|info`: get MNIST; see where data is looked for and if it verifies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..data.download import (
    MIRRORS_ENV,
    DownloadError,
    check_file,
    default_mirrors,
    download_mnist,
)
from ..data.mnist import search
from ..data.provenance import overlap
from ..data.sample import LICENCE_PATH, read_sample
from ..data.sources import LoadedData, load_data
from ..errors import DataError, NeuralDigitsError
from ..locations import DATA_ENV, default_data_dir
from ..modelfile import load
from ..network import Dataset, Network
from ..wording import plural
from .common import positive_float, resolve_model
from .console import Console
from .progress import download_bars

HELP = "download MNIST (verified) or show where data is looked for"
DESCRIPTION = (
    HELP + ".\n\n`digits data download` fetches the four official MNIST files, trying each "
    f"mirror in turn\n(or those in ${MIRRORS_ENV}), checks every file's SHA-256 and only then "
    "puts it in place.\n`digits data info` lists the places searched, what each holds and, "
    "with --verify, whether\nthe files are intact."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION", required=True)
    download = actions.add_parser(
        "download",
        help="fetch the four MNIST files, verified, into the cache",
        description="Fetch the four MNIST files from public mirrors, verify their SHA-256 and "
        "write them atomically. Files already present and intact are kept.",
        formatter_class=parser.formatter_class,
    )
    download.add_argument(
        "--dir",
        default=None,
        metavar="DIR",
        help=f"where to put the files (default: the per-user cache, {default_data_dir()})",
    )
    download.add_argument(
        "--mirror",
        action="append",
        default=None,
        metavar="URL",
        help=f"base URL to fetch from instead of the built-in mirrors; repeat for several "
        f"(default: ${MIRRORS_ENV}, else {len(default_mirrors())} well-known public mirrors)",
    )
    download.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="network timeout for each connection and read",
    )
    download.set_defaults(data_run=_run_download)
    info = actions.add_parser(
        "info",
        help="show where data is looked for and what is found there",
        description="List the places searched for MNIST (in order), the files each holds, the "
        "offline sample and the download mirrors.",
        formatter_class=parser.formatter_class,
    )
    info.add_argument(
        "--verify",
        action="store_true",
        help="check every file found: the official MNIST file (SHA-256), another well-formed "
        "IDX file, or bad; exit 1 if any is bad",
    )
    info.set_defaults(data_run=_run_info)


def run(args: argparse.Namespace) -> int:
    return args.data_run(args)


def _run_download(args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else default_data_dir()
    try:
        results = download_mnist(
            directory,
            mirrors=args.mirror,
            timeout=args.timeout,
            progress=None if args.console.quiet else download_bars(),
            log=lambda line: print(f"digits data: {line}", file=sys.stderr, flush=True),
        )
    except DownloadError as e:
        # Each failed attempt was printed as it happened: say the outcome, not the list again.
        headline = str(e).splitlines()[0].rstrip(": ")
        raise DownloadError(f"{headline} (each attempt is listed above)") from None
    for fetched in results:
        how = f"downloaded from {fetched.url}" if fetched.url else "already present"
        args.console.result(f"{fetched.path}: verified, {how}")
    args.console.result(f"MNIST is ready in {directory}")
    return 0


def _run_info(args: argparse.Namespace) -> int:
    say = args.console.result  # every line of the listing is the result
    bad = 0
    say("Data is looked for in these places, in order (the first with all four files wins):")
    places = list(search())
    for number, place in enumerate(places, start=1):
        say(f"  {number}. {place.directory} ({place.why})")
        for key, path in place.found.items():
            line = f"       {path.name}  {path.stat().st_size:,} bytes"
            if args.verify:
                check = check_file(path, key)
                bad += check.status == "bad"
                line += f"  {check.status.upper()}: {check.detail}"
            say(line)
        if not place.exists:
            say("       no such directory")
        elif place.missing:
            say(f"       missing: {', '.join(place.missing)}")
    if not any(place.why == f"${DATA_ENV}" for place in places):
        say(f"  (set ${DATA_ENV} or pass --data DIR to use another directory)")
    try:
        sample = read_sample()
    except DataError as e:
        say(f"Offline sample: not available: {e}")
    else:
        sizes = " / ".join(f"{len(labels):,}" for _, labels in sample.sets.values())
        say(f"Offline sample (used when no MNIST can be found or downloaded): {sample.path}")
        say(f"  {sizes} training / validation / test digits of MNIST, the test digits from its")
        say(f"  test set; CC BY-SA 3.0, attribution and provenance in {LICENCE_PATH.name}")
    say("Download mirrors, tried in order:")
    for mirror in default_mirrors():
        say(f"  {mirror}")
    if bad:
        say(f"{plural(bad, 'file')} failed verification; `digits data download` replaces them")
        return 1
    return 0


def load_for_command(
    path: str | None, dtype: Any = np.float32, console: Console | None = None
) -> LoadedData:
    """:func:`load_data` with the CLI's progress bar and messages; notices go to stderr.

    Every subcommand that takes ``--data`` loads through here, so they all look
    for data the same way (see :func:`~neuraldigits.data.sources.load_data`).
    A notice (the offline sample) is printed even with ``-q``; ``-v`` adds the source.
    """
    quiet = console is not None and console.quiet
    data = load_data(
        path,
        dtype=dtype,
        progress=None if quiet else download_bars(),
        log=None if quiet else lambda line: print(line, file=sys.stderr, flush=True),
    )
    if data.notice:
        print(f"NOTICE: {data.notice}", file=sys.stderr, flush=True)
    if console is not None:
        console.detail(f"data: {data.source}")
    return data


def sample_note(data: LoadedData) -> str | None:
    """The line to print above a table of scores computed on the offline sample; else None.

    Tables cannot tag every row, so they get this line instead: a score on the
    sample's 1,000 test digits must never pass for one on MNIST's 10,000.
    """
    if not data.is_sample:
        return None
    return (
        f"(scores below are on the offline sample: its {len(data.test[1]):,} test digits, from "
        "MNIST's test set, not all 10,000)"
    )


def model_and_test_set(
    model: str | None, data: str | None, command: str, console: Console | None = None
) -> tuple[Network, Dataset]:
    """A model (MODEL as :func:`.common.resolve_model` reads it) and the test set it is scored on.

    Refuses, in one line, a model whose input layer does not match the images.
    """
    net, _, loaded = model_and_data(model, data, command, console)
    return net, loaded.test


def model_and_data(
    model: str | None, data: str | None, command: str, console: Console | None = None
) -> tuple[Network, Path, LoadedData]:
    """:func:`model_and_test_set`, also giving the model's path and the data as loaded
    (its ``source``, and whether it is the sample), for a report of the score.

    Warns on stderr, naming the overlap, when the model's metadata says it was
    trained on some of the images it is about to be scored on.
    """
    path = resolve_model(model, command, console)
    net = load(path)
    loaded = load_for_command(data, console=console)
    test = loaded.test
    if test[0].shape[1] != net.sizes[0]:
        raise NeuralDigitsError(
            f"the model takes {net.sizes[0]} inputs but the data's images have "
            f"{test[0].shape[1]} pixels"
        )
    training = net.metadata.get("training")
    trained_on = training.get("images") if isinstance(training, dict) else None
    warning = overlap(trained_on, loaded.origins.get("test"))
    if warning and console is not None:
        console.warn(warning)
    elif warning:
        print(f"digits {command}: warning: {warning}", file=sys.stderr, flush=True)
    return net, path, loaded
