"""A training set prepared once for many ``sgd`` calls: :class:`PreparedData`.

Before its first epoch the fast paths list every image's ink pixels
(:func:`.sparse.sparse_rows`), about 0.2 s for MNIST's 50,000 images, several
times the epoch itself.  A loop of one-epoch ``sgd`` calls (a notebook, a
``partial_fit``, a tuner) would pay that on every call.  Prepare the data
once instead, and pass the result wherever a training set goes::

    data = prepare(training_data)
    for _ in range(30):
        net.sgd(data, 1, 10, 3.0)  # no per-call indexing

It is a *snapshot*: the ink pixels and labels are copied when it is made, and
the fast paths train on that copy, so changing the original arrays later can
never leave them training on stale indexes (prepare again to see the change).
The numpy backend and scoring read the images themselves, through a read-only
view.  Nothing is cached behind your back: without ``prepare`` every call
indexes afresh.

It pickles with its listing, so a set prepared in another process (the
background worker of :class:`neuraldigits.images.stream.DistortedEpochs`)
arrives ready, without listing the ink pixels again.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .sparse import sparse_rows


class PreparedData(tuple):
    """``(images, labels)`` plus the per-data-set work of the fast paths, done once.

    Unpacks like the pair it was made from (images (N, n_in), labels (N,)
    int64, both read-only), so every function that takes a data set takes it.
    """

    prepared = True  # what Network.sgd looks for, to hand it on to the trainer whole

    def __new__(cls, data: tuple[NDArray, NDArray]) -> PreparedData:
        try:
            images, labels = data
        except (TypeError, ValueError):
            raise ValueError("prepare() needs an (images, labels) pair of arrays") from None
        images = np.asarray(images).view()
        images.flags.writeable = False
        labels = np.array(labels)  # a copy: the snapshot's own
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
        labels = labels.astype(np.int64)
        labels.flags.writeable = False
        self = super().__new__(cls, (images, labels))
        self._sparse: dict[bool, tuple[NDArray, NDArray, NDArray]] = {}
        if images.ndim == 2 and images.dtype in (np.uint8, np.float32, np.float64):
            self._sparse[False] = sparse_rows(images)  # the snapshot, taken now
        return self

    def __reduce__(self):
        # Unpickle without __new__, which would list the ink pixels again.
        return _unpickle, (tuple(self), self._sparse)

    def sparse(self, float32_values: bool) -> tuple[NDArray, NDArray, NDArray] | None:
        """The ink pixels as the kernels read them, or None if these images have none listed.

        ``float32_values``: the C kernel reads float images' values as float32.
        """
        if float32_values not in self._sparse and False in self._sparse:
            indptr, indices, values = self._sparse[False]
            self._sparse[True] = indptr, indices, values.astype(np.float32)
        return self._sparse.get(float32_values)


def _unpickle(
    data: tuple[NDArray, NDArray], sparse: dict[bool, tuple[NDArray, NDArray, NDArray]]
) -> PreparedData:
    """A pickled :class:`PreparedData` back as it was: read-only, its listing kept."""
    for array in data:
        array.flags.writeable = False
    self = tuple.__new__(PreparedData, data)
    self._sparse = sparse
    return self


def prepare(training_data: tuple[NDArray, NDArray]) -> PreparedData:
    """The training set ``(images, labels)``, prepared once for many ``sgd`` calls."""
    return PreparedData(training_data)
