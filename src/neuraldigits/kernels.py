"""Compiled SGD kernels (numba): many mini-batches of chapter 1's training in one call.

The maths is exactly :meth:`Network.backprop` + :meth:`Network.update_mini_batch`;
only the bookkeeping changes, because at m = 10 the book's recipe is dominated
by overhead, not arithmetic:

* **No Python per mini-batch.**  One call runs every mini-batch from ``start``
  to ``stop`` of the epoch's shuffled ``order``, gathering each example's row
  straight from the caller's images (uint8 or float, never copied).
* **Sparse input layer.**  MNIST images are ~81 % background zeros, so
  z^1 = w^1 x + b^1 visits only the ~150 ink pixels of each image, and the
  weight step w^1 → w^1 − (η/m) Σ_x δ^1 xᵀ touches only those pixels' columns.
  For this the input layer's weights are kept transposed, ``w0t`` (n_in, n_1),
  so each pixel's column is one contiguous vector.
* **Ink pixels found once.**  :func:`sparse_rows` lists each image's nonzero
  pixels (CSR form: a few bytes per ink pixel, values kept in the images' own
  dtype) once per training run, not once per epoch.
* **Preallocated buffers** for activations and deltas.

Layers after the first are dense and small; they are plain loops.  Sums are
taken in a different order from the reference path, so results agree to float
rounding, not bit for bit (the tests check this).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Fused multiply-add only.  Not "reassoc" in general: it lets LLVM move the pixel
# scaling x = v/255 into the innermost loop (a division per multiply-add).  Only
# `_dot` may reorder its sum, which is what vectorises it.  No-NaN/no-inf is not
# assumed, so a diverging run (huge η) behaves like the reference path.
_FASTMATH = {"contract"}


def _jit(fn, fastmath=_FASTMATH):
    """njit with an on-disk cache, so compiling happens once per machine, not per run.

    numba caches next to this file or, when the install is read-only, in the
    user's cache directory (``$NUMBA_CACHE_DIR`` overrides both).  With neither
    writable numba refuses ``cache=True``; we then compile in memory every run.
    """
    try:
        return njit(cache=True, fastmath=fastmath, nogil=True)(fn)
    except RuntimeError:
        return njit(cache=False, fastmath=fastmath, nogil=True)(fn)


@_jit
def _sigmoid(z, one, clip):
    """σ(z) as in :func:`neuraldigits.activations.sigmoid`: stable, |z| clipped at ``clip``.

    ``one`` and ``clip`` carry the dtype, so float32 stays float32.
    """
    e = np.exp(-min(abs(z), clip))
    return (one / (one + e)) if z >= 0 else (e / (one + e))


def _dot_impl(u, v):
    total = u[0] * 0
    for i in range(u.shape[0]):
        total += u[i] * v[i]
    return total


_dot = _jit(_dot_impl, fastmath={"reassoc", "contract", "nsz"})
_dot.__doc__ = "Σ_i u_i v_i for 1-d arrays, summed in whatever order vectorises."


def sparse_rows(images):
    """Each row's nonzero entries: ``(indptr (N+1,) int64, indices, values)``.

    Row r's nonzero entries are ``values[indptr[r]:indptr[r+1]]`` at columns
    ``indices[...]``.  Indices are uint16 when the rows are short enough (a
    784-pixel image), values keep the images' dtype (uint8 stays one byte), so
    MNIST costs 3 bytes per ink pixel.
    """
    indptr = np.zeros(len(images) + 1, np.int64)
    _count_nonzero(images, indptr)
    index_dtype = np.uint16 if images.shape[1] <= np.iinfo(np.uint16).max else np.int32
    indices = np.empty(indptr[-1], index_dtype)
    values = np.empty(indptr[-1], images.dtype)
    _fill_nonzero(images, indptr, indices, values)
    return indptr, indices, values


@_jit
def _count_nonzero(images, indptr):
    for r in range(images.shape[0]):
        count = 0
        for j in range(images.shape[1]):
            count += images[r, j] != 0
        indptr[r + 1] = indptr[r] + count


@_jit
def _fill_nonzero(images, indptr, indices, values):
    for r in range(images.shape[0]):
        q = indptr[r]
        for j in range(images.shape[1]):
            if images[r, j] != 0:
                indices[q] = j
                values[q] = images[r, j]
                q += 1


@_jit
def sgd_batches(
    indptr,
    indices,
    values,
    labels,
    order,
    start,
    stop,
    m,
    step,
    last_step,
    scale,
    one,
    clip,
    w0t,
    weights,
    biases,
    acts,
    deltas,
):
    """Run the mini-batches of ``order`` that begin at ``start``, ``start + m``, ... < ``stop``.

    The images come as :func:`sparse_rows` of (N, n_0) images; labels (N,)
    ints; order (N,) the epoch's permutation.  ``step`` = η/m, and
    ``last_step`` = η/m' for a final, smaller mini-batch of m' examples.
    Pixels are divided by ``scale`` (255 for uint8, else 1); ``one`` and
    ``clip`` (σ's clip) are scalars of the weights' dtype, so every sum stays
    in that dtype.  Parameters, updated in place: ``w0t`` (n_0, n_1) is the
    input layer's weights *transposed*; ``weights[l]`` (n_(l+1), n_l) for l ≥ 1
    (entry 0 is unused); ``biases[l]`` (n_(l+1),).  Buffers: ``acts[l]`` and
    ``deltas[l]`` (m, n_(l+1)).
    """
    n = order.shape[0]
    n_layers = len(acts)
    zero = one - one
    b0 = biases[0]
    for pos in range(start, stop, m):
        mb = min(m, n - pos)
        eta_m = step if mb == m else last_step

        # ---- forward, input layer: z^1 = w^1 x + b^1 over the ink pixels only
        for k in range(mb):
            row = order[pos + k]
            a1 = acts[0][k]
            a1[:] = b0
            for q in range(indptr[row], indptr[row + 1]):
                x = values[q] * scale
                w_j = w0t[indices[q]]
                for h in range(a1.shape[0]):
                    a1[h] += x * w_j[h]
            for h in range(a1.shape[0]):
                a1[h] = _sigmoid(a1[h], one, clip)

        # ---- forward, dense layers: a^(l+1) = σ(w a^l + b)
        for layer in range(1, n_layers):
            w, b = weights[layer], biases[layer]
            for k in range(mb):
                a_in, a_out = acts[layer - 1][k], acts[layer][k]
                for o in range(w.shape[0]):
                    a_out[o] = _sigmoid(b[o] + _dot(w[o], a_in), one, clip)

        # ---- output error (BP1), quadratic cost: δ^L = (a − y) ⊙ σ′(z^L), σ′ = a(1 − a)
        for k in range(mb):
            label = labels[order[pos + k]]
            a_out, d_out = acts[n_layers - 1][k], deltas[n_layers - 1][k]
            for o in range(a_out.shape[0]):
                a = a_out[o]
                y = one if o == label else zero
                d_out[o] = (a - y) * (a * (one - a))

        # ---- backward through the dense layers: δ^l = (wᵀ δ^(l+1)) ⊙ σ′(z^l) (BP2),
        # computed with the old w before stepping w and b (BP3, BP4).
        for layer in range(n_layers - 1, 0, -1):
            w, b = weights[layer], biases[layer]
            for k in range(mb):
                d, d_in, a_in = deltas[layer][k], deltas[layer - 1][k], acts[layer - 1][k]
                d_in[:] = zero
                for o in range(w.shape[0]):
                    g = d[o]
                    w_o = w[o]
                    for i in range(w_o.shape[0]):
                        d_in[i] += g * w_o[i]
                for i in range(d_in.shape[0]):
                    d_in[i] *= a_in[i] * (one - a_in[i])
            for o in range(w.shape[0]):
                w_o = w[o]
                total = zero
                for k in range(mb):
                    g = deltas[layer][k, o]
                    total += g
                    a_in = acts[layer - 1][k]
                    g = eta_m * g
                    for i in range(w_o.shape[0]):
                        w_o[i] -= g * a_in[i]
                b[o] -= eta_m * total

        # ---- step the input layer: only the rows of w0t at this batch's ink pixels move
        for k in range(mb):
            d1 = deltas[0][k]
            for h in range(b0.shape[0]):
                b0[h] -= eta_m * d1[h]
            row = order[pos + k]
            for q in range(indptr[row], indptr[row + 1]):
                x = eta_m * (values[q] * scale)
                w_j = w0t[indices[q]]
                for h in range(w_j.shape[0]):
                    w_j[h] -= x * d1[h]
