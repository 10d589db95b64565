"""Images as lists of their ink pixels (CSR), for the kernels that skip background.

MNIST images are ~81 % background zeros.  The compiled kernels visit only the
nonzero pixels of each image, listed once per training run here: row r's
pixels are ``values[indptr[r]:indptr[r+1]]`` at columns ``indices[...]``.
Indices are uint16 when rows are short enough (a 784-pixel image) and values
keep the images' dtype (uint8 stays one byte), so MNIST costs 3 bytes per ink
pixel.  Built a chunk of rows at a time, so a memory-mapped data set is never
read into memory whole, nor copied as floats.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_CHUNK_ROWS = 8192


def sparse_rows(images: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """``(indptr (N+1,) int64, indices, values)`` of the (N, n) ``images``' nonzero entries."""
    n = len(images)
    indptr = np.zeros(n + 1, np.int64)
    for lo in range(0, n, _CHUNK_ROWS):
        block = np.asarray(images[lo : lo + _CHUNK_ROWS])
        np.cumsum(np.count_nonzero(block, axis=1), out=indptr[lo + 1 : lo + 1 + len(block)])
        indptr[lo + 1 : lo + 1 + len(block)] += indptr[lo]
    index_dtype = np.uint16 if images.shape[1] <= np.iinfo(np.uint16).max else np.int32
    indices = np.empty(indptr[-1], index_dtype)
    values = np.empty(indptr[-1], images.dtype)
    for lo in range(0, n, _CHUNK_ROWS):
        block = np.asarray(images[lo : lo + _CHUNK_ROWS])
        flat = np.flatnonzero(block)  # row-major: each row's columns ascending
        where = slice(indptr[lo], indptr[min(lo + _CHUNK_ROWS, n)])
        np.remainder(flat, images.shape[1], out=flat)
        indices[where] = flat
        values[where] = block[block != 0]
    return indptr, indices, values
