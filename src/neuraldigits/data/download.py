"""Fetching the four MNIST files from public mirrors, verified and written atomically.

Each file is tried on every mirror in turn.  A transfer goes into a temporary
file beside its destination and is renamed into place only after its size and
SHA-256 match the official file's: a corrupt, truncated or hostile download
leaves nothing behind.  A connection that drops mid-file is resumed with an
HTTP ``Range`` request (or restarted, if the server will not resume); a rerun
skips the files that already verify, so an interrupted download resumes file by
file.  The library reports progress through callbacks; only the CLI draws bars.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..atomic import atomic_write
from ..errors import DataError
from ..locations import default_data_dir
from ..version import __version__
from ..wording import plural
from .idx import UBYTE, read_idx


@dataclass(frozen=True)
class FileSpec:
    """One file to fetch: its name on the mirrors, exact size and SHA-256.

    ``raw_sha256`` is the hash of the uncompressed content, so that a user's
    un-gzipped copy can be recognised as the official file too.
    """

    name: str
    size: int
    sha256: str
    raw_sha256: str | None = None


# The official files (byte-identical on every mirror below), keyed as mnist.FILES.
OFFICIAL: dict[str, FileSpec] = {
    "train_images": FileSpec(
        "train-images-idx3-ubyte.gz",
        9_912_422,
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train_labels": FileSpec(
        "train-labels-idx1-ubyte.gz",
        28_881,
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "test_images": FileSpec(
        "t10k-images-idx3-ubyte.gz",
        1_648_877,
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "test_labels": FileSpec(
        "t10k-labels-idx1-ubyte.gz",
        4_542,
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}

# Well-known public copies, most dependable first.  Any of them may vanish (the
# original site now often refuses downloads), which is why there are several
# and why the hashes, not the hosts, are what we trust.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's tutorials
    "https://raw.githubusercontent.com/fgnt/mnist/master/",  # a GitHub copy
    "http://yann.lecun.com/exdb/mnist/",  # the original site
)
# Space-separated base URLs that replace MIRRORS (a local or company mirror).
MIRRORS_ENV = "NEURALDIGITS_MIRRORS"

_CHUNK = 1 << 16
# A stalled but open connection must not hang a run: each attempt may take at
# most its timeout plus the time the file needs at this (very slow) rate.
_MIN_BYTES_PER_SECOND = 20_000
# Resumptions of one file on one mirror before we give up on that mirror.
_MAX_RESUMES = 3

Progress = Callable[[str, int, int], None]
Log = Callable[[str], None]


class DownloadError(DataError):
    """No mirror delivered a file that verifies.

    ``failures`` lists each attempt as "URL: why it failed", in the order tried.
    """

    def __init__(self, message: str, failures: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


@dataclass(frozen=True)
class Fetched:
    """What :func:`download_mnist` did for one file: ``url`` is None if it was already there."""

    name: str
    path: Path
    url: str | None


def default_mirrors() -> list[str]:
    """``$NEURALDIGITS_MIRRORS`` if set, else the built-in :data:`MIRRORS`."""
    env = os.environ.get(MIRRORS_ENV, "").split()
    return env or list(MIRRORS)


def sha256_of(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_mnist(
    directory: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    files: Mapping[str, FileSpec] = OFFICIAL,
    timeout: float = 30.0,
    progress: Progress | None = None,
    log: Log | None = None,
) -> list[Fetched]:
    """Make sure ``directory`` (default: the cache) holds every file in ``files``, verified.

    Files already present with the right SHA-256 are kept; the others are
    fetched from ``mirrors`` (default :func:`default_mirrors`).  ``progress``
    is called as ``progress(name, bytes_done, bytes_total)``; ``log`` gets one
    line per failed attempt.  Raises :class:`DownloadError`, listing every URL
    tried and why it failed, when some file cannot be had from any mirror.
    """
    directory = Path(directory) if directory is not None else default_data_dir()
    mirrors = list(mirrors) if mirrors is not None else default_mirrors()
    for base in mirrors:
        if not base.startswith(("http://", "https://")):
            raise DownloadError(f"mirror {base!r}: expected an http:// or https:// URL")
    results = []
    for spec in files.values():
        target = directory / spec.name
        if target.is_file() and sha256_of(target) == spec.sha256:
            results.append(Fetched(spec.name, target, None))
            continue
        url = _fetch_verified(spec, target, mirrors, timeout, progress, log)
        results.append(Fetched(spec.name, target, url))
    return results


def _fetch_verified(
    spec: FileSpec,
    target: Path,
    mirrors: Sequence[str],
    timeout: float,
    progress: Progress | None,
    log: Log | None,
) -> str:
    """Fetch ``spec`` into ``target`` from the first mirror that delivers it intact."""
    failures = []
    # One temporary file serves every attempt; it becomes ``target`` only on
    # success, and atomic_write deletes it if we leave by an exception.
    with atomic_write(target) as f:
        for base in mirrors:
            url = base.rstrip("/") + "/" + spec.name
            f.seek(0)
            f.truncate()
            try:
                digest = _transfer(url, f, spec, timeout, progress)
            except _TransferFailed as e:
                failures.append(f"{url}: {e}")
            else:
                if digest == spec.sha256:
                    return url
                failures.append(
                    f"{url}: corrupt, SHA-256 {digest} is not the official {spec.sha256}"
                )
            if log:
                log(f"could not fetch {failures[-1]}")
        raise DownloadError(
            f"could not download {spec.name} into {target.parent} from any of "
            f"{plural(len(mirrors), 'mirror')}:\n  "
            + "\n  ".join(failures or ["(no mirrors given)"]),
            failures,
        )


class _TransferFailed(Exception):
    """One attempt on one mirror failed; the message says why."""


def _transfer(url: str, f: IO[bytes], spec: FileSpec, timeout: float, progress) -> str:
    """Stream ``url`` into ``f``, resuming after dropped connections; return the SHA-256."""
    digest, done, resumes = hashlib.sha256(), 0, 0
    deadline = time.monotonic() + timeout + spec.size / _MIN_BYTES_PER_SECOND
    while True:
        try:
            with _open(url, done, timeout) as response:
                if done and response.status != 206:
                    # The server ignored our Range request: start the file again.
                    f.seek(0)
                    f.truncate()
                    digest, done = hashlib.sha256(), 0
                _check_length(response, done, spec)
                while chunk := _read(response, deadline):
                    done += len(chunk)
                    if done > spec.size:
                        raise _TransferFailed(
                            f"sent more than the official file's {spec.size:,} bytes"
                        )
                    f.write(chunk)
                    digest.update(chunk)
                    if progress:
                        progress(spec.name, done, spec.size)
        except _Dropped as e:
            reason = str(e)
        else:
            if done == spec.size:
                return digest.hexdigest()
            reason = f"connection closed after {done:,} of {spec.size:,} bytes"
        resumes += 1
        if resumes > _MAX_RESUMES or time.monotonic() > deadline:
            raise _TransferFailed(f"{reason}; gave up after {resumes - 1} resumptions")


class _Dropped(Exception):
    """The connection broke mid-transfer: worth resuming."""


def _open(url: str, start: int, timeout: float):
    headers = {"User-Agent": f"neuraldigits/{__version__}"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        raise _TransferFailed(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise _TransferFailed(f"unreachable ({e.reason})") from None
    except (http.client.HTTPException, OSError) as e:
        if start:
            raise _Dropped(f"connection failed while resuming ({e!r})") from None
        raise _TransferFailed(f"connection failed ({e!r})") from None


def _check_length(response, done: int, spec: FileSpec) -> None:
    """Refuse a response that announces the wrong size before reading any of it."""
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and done + int(length) != spec.size:
        raise _TransferFailed(
            f"announces {done + int(length):,} bytes, but the official file has {spec.size:,}"
        )
    if done:
        wanted = f"bytes {done}-"
        if not response.headers.get("Content-Range", "").startswith(wanted):
            raise _TransferFailed(f"answered a resume request with the wrong range ({wanted!r})")


def _read(response, deadline: float) -> bytes:
    if time.monotonic() > deadline:
        raise _TransferFailed("too slow: stalled or under 20 kB/s")
    try:
        return response.read(_CHUNK)
    except (http.client.HTTPException, OSError) as e:
        # IncompleteRead, a reset connection or a read timeout.
        raise _Dropped(f"connection dropped ({type(e).__name__})") from None


@dataclass(frozen=True)
class FileCheck:
    """The verdict on one data file: ``status`` is "official", "readable" or "bad"."""

    path: Path
    status: str
    detail: str


def check_file(path: str | os.PathLike[str], key: str) -> FileCheck:
    """Whether the file at ``path`` is the official MNIST file ``key`` (a mnist.FILES key).

    A file that is not byte-for-byte official (say Fashion-MNIST) is still
    "readable" when it parses as the IDX file it should be; anything else is "bad".
    """
    path = Path(path)
    spec = OFFICIAL[key]
    if sha256_of(path) == spec.sha256:
        return FileCheck(path, "official", "official MNIST file (SHA-256 matches)")
    try:
        array = read_idx(path, ndim=1 if key.endswith("labels") else 3)
    except DataError as e:
        return FileCheck(path, "bad", str(e))
    # The uncompressed content may still be official (un-gzipped or recompressed).
    header = struct.pack(f">HBB{array.ndim}I", 0, UBYTE, array.ndim, *array.shape)
    if hashlib.sha256(header + array.tobytes()).hexdigest() == spec.raw_sha256:
        return FileCheck(path, "official", "official MNIST content (uncompressed SHA-256 matches)")
    return FileCheck(
        path, "readable", f"well-formed IDX of shape {array.shape}, but not the official MNIST file"
    )
