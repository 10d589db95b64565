"""The issue's memory reproducers, run under a small address-space limit in a child process.

Each of these once allocated gigabytes from a few bytes.  Here a child caps its
address space (RLIMIT_AS) at what it uses plus 300 MB and runs them all: an
allocation of what the file declares would end in MemoryError there, so each
must be refused with the reader's own error, no MemoryError behind it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = r"""
import gzip, io, json, os, resource, struct, sys, tempfile, zipfile
from pathlib import Path

import numpy as np

from neuraldigits.data.bookpickle import load_book_pickle
from neuraldigits.data.mnist import load_mnist
from neuraldigits.errors import NeuralDigitsError
from neuraldigits.modelfile import load

work = Path(tempfile.mkdtemp())


def npy(header, data=b""):
    text = header.encode() + b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


def model(meta, members=()):
    path = work / "m.npz"
    text = json.dumps({"format": "neuraldigits-model", "format_version": 1, "cost": "quadratic",
                       "dtype": "float32", **meta}).encode()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.npy", npy(f"{{'descr': '|u1', 'fortran_order': False, "
                                       f"'shape': ({len(text)},), }}", text))
        for name, data in members:
            z.writestr(name, data)
    return path


def mnist(n):
    directory = work / "mnist"
    directory.mkdir(exist_ok=True)
    for name, header in (("train-images-idx3-ubyte.gz", struct.pack(">IIII", 0x803, n, 28, 28)),
                         ("train-labels-idx1-ubyte.gz", struct.pack(">II", 0x801, n)),
                         ("t10k-images-idx3-ubyte.gz", struct.pack(">IIII", 0x803, 10, 28, 28)),
                         ("t10k-labels-idx1-ubyte.gz", struct.pack(">II", 0x801, 10))):
        (directory / name).write_bytes(gzip.compress(header))
    return directory


def pickle_file(raw):
    path = work / "p.pkl"
    path.write_bytes(raw)
    return path


def ndarray_call(shape):
    ints = b"".join(b"J" + struct.pack("<i", s) for s in shape)
    return b"cnumpy\nndarray\n(" + ints + b"t\x85R"


one = ndarray_call((1_000_000, 784)) + ndarray_call((1_000_000,)) + b"\x86"
huge_state = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01"
              + b"\x8a\x06" + (10**12).to_bytes(6, "little") + b"\x85"
              + b"cnumpy\ndtype\nU\x02f4K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff"
              + b"\xff\xffK\x00tb\x89U\x00tb.")
cases = {
    "npy shape 10**12": lambda: load(model({"sizes": [4, 3, 2]}, [("weights_0.npy", npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }"))])),
    "sizes of 10**10 weights": lambda: load(model({"sizes": [100_000, 100_000, 10]})),
    "2,739,128 images": lambda: load_mnist(mnist(2_739_128)),
    "numpy.ndarray through REDUCE": lambda: load_book_pickle(
        pickle_file(b"\x80\x02" + one * 3 + b"\x87.")),
    "array state of shape 10**12": lambda: load_book_pickle(pickle_file(b"\x80\x02" + huge_state)),
    "BINBYTES8 of 2**64 - 1": lambda: load_book_pickle(pickle_file(b"\x80\x04\x8e" + b"\xff" * 8)),
}
pages = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
resource.setrlimit(resource.RLIMIT_AS, (pages + (300 << 20),) * 2)
for name, run in cases.items():
    try:
        run()
        print(name, "ACCEPTED")
    except NeuralDigitsError as e:
        context = e.__context__
        while context is not None and not isinstance(context, MemoryError):
            context = context.__context__
        print(name, "MEMORY" if context is not None else "refused", type(e).__name__)
    except MemoryError:
        print(name, "MEMORY")
"""


# /proc/self/statm is Linux's, and macOS does not enforce RLIMIT_AS.
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's RLIMIT_AS")
def test_the_issues_memory_reproducers_are_refused_before_allocating():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 6, done.stdout
    for line in lines:
        assert line.endswith(("refused ModelFileError", "refused DataError")), line
