"""The C kernel (``_ckernel.c``): the book's SGD in float32, many mini-batches per call.

The same loop as the numba kernel (:mod:`neuraldigits.training.numba_kernel`) — same maths,
same order of examples — written in C, where the compiler knows that buffers
do not overlap and keeps each example's hidden-layer sums in registers while
its ink pixels stream past.  It can run on several threads
(``$NEURALDIGITS_THREADS``), which split the first hidden layer's columns, so
the result does not depend on how many run.  setup.py builds it at install
time when a C compiler is present (twice on x86-64: for any CPU, and for CPUs
with AVX2 and FMA); it is called through :mod:`ctypes`.  Without it, training
uses numba or numpy.

The arguments of :func:`sgd_batches`, in the kernel's layout:

* ``sparse``: the images' ink pixels, ``(indptr (N+1,) int64, indices uint16,
  values uint8 or float32)`` as from :func:`neuraldigits.training.sparse.sparse_rows`;
  values are multiplied by ``scale`` (1/255 for uint8).
* ``labels`` (N,) int64; ``order`` int64, the epoch's permutation (or any
  sequence of image numbers).  The mini-batches are ``order[pos : pos + m]``
  for pos = start, start + m, … < stop, stepped by η/m (``step``) or, for a
  smaller last one, η/m' (``last_step``).
  ``clip`` is σ's clip (:data:`neuraldigits.activations.SIGMOID_CLIP`).
* ``widths`` (L,) int64, the neurons of layers 1…L; ``pads``, the same padded
  with zeros to multiples of :data:`LANES`.
* ``w0t`` (n_in, pads[0]), the input layer's weights transposed;
  ``weights[l]`` (widths[l], pads[l−1]) for l ≥ 1 (entry 0 unused);
  ``biases[l]`` (pads[l],).  C-contiguous float32, updated in place; the
  padding must be zero and stays zero.  :func:`aligned_zeros` makes arrays
  that start on a cache line, so that threads sharing w0t's rows by columns
  share as few lines as the row width allows.
* The step rule, as :meth:`neuraldigits.network.Network.step` defines it:
  ``cost`` "quadratic" (δ^L = (a − y) ⊙ a(1 − a), chapter 1) or "cross-entropy"
  (δ^L = a − y); ``decay`` ηλ/n (L2: w → (1 − ηλ/n) w − (η/m) Σ ∂C_x/∂w,
  biases not decayed); ``momentum`` μ in [0, 1), with ``velocities``
  ``(v0t, v_weights, v_biases)`` laid out as ``w0t``, ``weights``, ``biases``
  and updated in place (v → μv − (η/m) Σ ∂C_x/∂w − (ηλ/n) w, w → w + v; biases
  without the decay term).  The defaults are chapter 1's step, which the
  kernel computes exactly as it did before the others existed.  With L2 and
  no momentum the kernel keeps the input layer's weights as a scalar times
  ``w0t`` while it runs, so that a step moves only the ink pixels' rows; ``w0t``
  holds the true weights again when it returns.

Training uses the AVX2+FMA build where the CPU runs it, else the baseline one
(:func:`variant`); :func:`builds` lists every build this machine runs, and
``variant=`` makes :func:`sgd_batches` or :func:`sigmoid` use a given one, so
that tests can check each (their roundings differ: FMA contracts a·b + c).
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os

import numpy as np
from numpy.typing import NDArray

from ..errors import SettingError

# Layers are padded to whole 8-float vectors (zeros), so the C loops never need
# a scalar remainder.
LANES = 8

_P, _I, _F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
_D = ctypes.c_double
_ARGTYPES = [_P, _P, _P, _P, _P, _P, _I, _I, _I, _I, _F, _F, _F, _F, _I, _P, _P, _P, _P, _P, _I]
_ARGTYPES += [_I, _I, _D, _D, _P, _P, _P]  # n_in, then the step rule: cost, decay, μ, velocities

# The costs the kernel computes δ^L for, by name (neuraldigits.costs), and the flag it reads.
COSTS = {"quadratic": 0, "cross-entropy": 1}


def padded(width: int) -> int:
    """``width`` rounded up to a whole number of :data:`LANES`."""
    return -(-width // LANES) * LANES


def _load(module: str) -> ctypes.CDLL | None:
    spec = importlib.util.find_spec(f"{__package__}.{module}")
    if spec is None or not spec.origin:
        return None
    try:
        return ctypes.CDLL(spec.origin)
    except OSError:
        return None


# The builds setup.py makes, by name: the module of each.  The first runs on any CPU.
_BUILDS = {"baseline": "_ckernel", "AVX2+FMA": "_ckernel_avx2"}


@functools.cache
def _build(name: str) -> ctypes.CDLL | None:
    """The build ``name``, loaded with its functions' types, or None if it is not here."""
    library = _load(_BUILDS[name])
    if library is None:
        return None
    library.nd_sgd_batches.argtypes = _ARGTYPES
    library.nd_sgd_batches.restype = ctypes.c_int
    library.nd_sigmoid.argtypes = [_P, _I, _F]
    library.nd_sigmoid.restype = None
    return library


@functools.cache
def builds() -> tuple[str, ...]:
    """The builds this machine has and its CPU runs, "baseline" first; () if none was built.

    "AVX2+FMA" is listed only where the CPU (by CPUID) runs AVX2 and FMA code, so it is
    never loaded elsewhere.  Training uses the last; tests run every one.
    """
    baseline = _build("baseline")
    if baseline is None:
        return ()
    if baseline.nd_cpu_runs_avx2() and _build("AVX2+FMA") is not None:
        return ("baseline", "AVX2+FMA")
    return ("baseline",)


@functools.cache
def _library() -> tuple[ctypes.CDLL, str] | None:
    """The build training uses and its name: the last of :func:`builds`."""
    runnable = builds()
    return (_build(runnable[-1]), runnable[-1]) if runnable else None


def _chosen(variant: str | None) -> ctypes.CDLL:
    """The build named ``variant`` (one of :func:`builds`); for None, the one training uses."""
    if variant is not None:
        if variant not in builds():
            raise ValueError(f"no C kernel build {variant!r} runs here; these do: {builds()}")
        return _build(variant)
    found = _library()
    if found is None:
        raise RuntimeError("the C kernel was not built (no C compiler when installing)")
    return found[0]


def available() -> bool:
    """Whether the C kernel was built at install time and loads."""
    return _library() is not None


def variant() -> str | None:
    """Which build runs here: "AVX2+FMA", "baseline", or None if none was built."""
    found = _library()
    return found[1] if found else None


def default_threads(hidden: int) -> int:
    """How many threads train a first hidden layer of ``hidden`` neurons: one, unless
    ``$NEURALDIGITS_THREADS`` asks for more (at most one per 8 of its columns, and 8).

    Threads meet twice per mini-batch, so they pay only where each has real
    cores to itself: on the 2-vCPU machine of benchmarks/README.md two threads
    took 0.8–1.3× the time of one, so one is the default.
    """
    requested = requested_threads()
    if requested is None:
        return 1
    return max(1, min(requested, padded(hidden) // LANES, 8))


def requested_threads() -> int | None:
    """``$NEURALDIGITS_THREADS`` as a whole number ≥ 1, or None when unset.

    Raises :class:`SettingError` for any other value; the CLI calls this when a
    command starts, so a typo is reported before minutes of loading data.
    """
    setting = os.environ.get("NEURALDIGITS_THREADS", "").strip()
    if not setting:
        return None
    if not setting.isdigit() or int(setting) < 1:
        raise SettingError(f"NEURALDIGITS_THREADS must be a whole number ≥ 1, not {setting!r}")
    return int(setting)


def aligned_zeros(shape: tuple[int, ...]) -> NDArray[np.float32]:
    """A zeroed C-contiguous float32 array starting on a 64-byte cache line."""
    count = int(np.prod(shape))
    raw = np.zeros(count + 16, np.float32)
    start = (-raw.ctypes.data % 64) // 4
    return raw[start : start + count].reshape(shape)


def sigmoid(
    z: NDArray[np.float32], clip: float = 80.0, *, variant: str | None = None
) -> NDArray[np.float32]:
    """σ(z) as the kernel computes it (its own float32 e^(−|z|), no libm), for checking it.

    ``variant`` names the build (one of :func:`builds`); None: the one training uses.
    """
    library = _chosen(variant)
    a = aligned_zeros((padded(z.size),))
    a[: z.size] = z.ravel()
    library.nd_sigmoid(a.ctypes.data, a.size, ctypes.c_float(clip))
    return a[: z.size].reshape(z.shape).copy()


def _address(array: NDArray, dtype) -> int:
    if array.dtype != dtype or not array.flags.c_contiguous:
        raise TypeError(f"the C kernel needs C-contiguous {np.dtype(dtype)}, not {array.dtype}")
    return array.ctypes.data


def sgd_batches(
    sparse: tuple[NDArray, NDArray, NDArray],
    labels: NDArray,
    order: NDArray,
    start: int,
    stop: int,
    m: int,
    step: float,
    last_step: float,
    scale: float,
    clip: float,
    widths: NDArray,
    pads: NDArray,
    w0t: NDArray,
    weights: list[NDArray],
    biases: list[NDArray],
    threads: int = 1,
    *,
    cost: str = "quadratic",
    decay: float = 0.0,
    momentum: float = 0.0,
    velocities: tuple[NDArray, list[NDArray], list[NDArray]] | None = None,
    variant: str | None = None,
) -> None:
    """Run the mini-batches that begin at ``start``, ``start + m``, … < ``stop`` (see above).

    ``cost``, ``decay``, ``momentum`` and ``velocities``: the step rule (see above).
    ``variant`` names the build (one of :func:`builds`); None: the one training uses.
    """
    library = _chosen(variant)
    if cost not in COSTS:
        raise ValueError(f"the C kernel knows the costs {', '.join(COSTS)}, not {cost!r}")
    if not (decay >= 0 and 0 <= momentum < 1):
        raise ValueError(f"need decay ≥ 0 and 0 ≤ momentum < 1; got {decay}, {momentum}")
    v_addresses = [None, None, None]
    if momentum:
        if velocities is None:
            raise ValueError("momentum needs the velocities")
        v0t, v_weights, v_biases = velocities
        if len(v_weights) != len(weights) or len(v_biases) != len(biases):
            raise ValueError("need a velocity for every layer's weights and biases")
        for v, p in zip((v0t, *v_weights[1:], *v_biases), (w0t, *weights[1:], *biases)):
            if v.shape != p.shape:
                raise ValueError(f"a velocity of shape {v.shape} for parameters of {p.shape}")
        v_addresses = [
            _address(v0t, np.float32),
            (ctypes.c_void_p * len(pads))(0, *(_address(v, np.float32) for v in v_weights[1:])),
            (ctypes.c_void_p * len(pads))(*(_address(v, np.float32) for v in v_biases)),
        ]
    indptr, indices, values = sparse
    n = len(indptr) - 1
    if len(labels) != n or not 0 <= start <= stop <= len(order):
        raise ValueError("need a label per image and 0 ≤ start ≤ stop ≤ len(order)")
    if len(order) and not (0 <= order.min() and order.max() < n):
        raise ValueError(f"order holds image numbers outside 0…{n - 1}")
    u8 = values.dtype == np.uint8
    values_address = _address(values, np.uint8 if u8 else np.float32)
    pointers = ctypes.c_void_p * len(pads)
    weight_ptrs = pointers(0, *(_address(w, np.float32) for w in weights[1:]))
    bias_ptrs = pointers(*(_address(b, np.float32) for b in biases))
    status = library.nd_sgd_batches(
        _address(indptr, np.int64), _address(indices, np.uint16),
        values_address if u8 else None, None if u8 else values_address,
        _address(labels, np.int64), _address(order, np.int64), len(order),
        start, stop, m, step, last_step, scale, clip, len(pads),
        _address(widths, np.int64), _address(pads, np.int64), _address(w0t, np.float32),
        weight_ptrs, bias_ptrs, threads, w0t.shape[0], COSTS[cost], decay, momentum,
        *v_addresses,
    )  # fmt: skip
    if status != 0:
        raise MemoryError("the C kernel could not get memory or threads for its scratch")
