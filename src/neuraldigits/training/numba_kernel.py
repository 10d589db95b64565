"""Compiled SGD kernels (numba): many mini-batches of the book's training in one call.

The maths is exactly :meth:`Network.backprop` + :meth:`Network.update_mini_batch`,
chapter 1's step or chapter 3's (cross-entropy, L2, momentum: :func:`chapter3`);
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
* **Ink pixels found once.**  :func:`neuraldigits.training.sparse.sparse_rows` lists
  each image's nonzero pixels (CSR form: 3 bytes per MNIST ink pixel) once per
  training run, not once per epoch.
* **Preallocated buffers** for activations and deltas.
* **Whole SIMD vectors.**  Every layer is stored padded with zeros to a multiple
  of :data:`LANES` neurons, so the loops over a layer (30 → 32) run LLVM's
  8-lane × 4 vector code instead of its scalar remainder loop; the padding
  stays exactly zero and changes no sum.
* **σ without libm.**  In float32, e^(−|z|) is a short polynomial
  (:func:`exp_neg`), so σ over a layer vectorises instead of calling ``expf``
  once per neuron.
* **Cache misses hidden.**  Images come in random order, so each one's pixel
  list starts with a cache miss; the next mini-batch's lists are prefetched.
  The sparse loops take several pixels per pass over the hidden layer (fewer
  loop set-ups, fewer loads and stores of the accumulator).

Layers after the first are dense and small; they are plain loops.  Sums are
taken in a different order from the reference path, so results agree to float
rounding, not bit for bit (the tests check this).

Chapter 3's L2 decays every weight every step, w → (1 − ηλ/n) w, which in the
sparse input layer would touch all of w^1 where the gradient touches only the
ink pixels' rows.  So the kernel keeps w^1 = s·``w0t`` with a running scale s
in float64: a step multiplies s by 1 − ηλ/n and subtracts its gradient term
divided by the new s from ``w0t``; z^1 reads each pixel times s.  When s falls
below :data:`RESCALE_BELOW`, and at the end of each call, s is folded back
into ``w0t``.  Momentum's velocities are stepped densely, every one every step.
Chapter 1's step (``rule`` None) is compiled on its own, without any of this.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

# Fused multiply-add only.  Only `_dot` may reorder its sum, which is what
# vectorises it; "reassoc"/"nsz"/"arcp" for the whole kernel were measured and
# gained nothing.  No-NaN/no-inf is not assumed, so a diverging run (huge η)
# behaves like the reference path.
_FASTMATH = {"contract"}


def _jit(fn, fastmath=_FASTMATH):
    """njit with an on-disk cache, so compiling happens once per machine, not per run.

    numba caches next to this file or, when the install is read-only, in the
    user's cache directory (``$NUMBA_CACHE_DIR`` overrides both).  With neither
    writable numba refuses ``cache=True``; we then compile in memory every run.
    """
    # error_model="numpy": x/0 gives inf/nan as in numpy instead of raising, so a
    # division carries no zero test and loops containing one (σ) can vectorise.
    options = dict(fastmath=fastmath, nogil=True, error_model="numpy")
    try:
        return njit(cache=True, **options)(fn)
    except RuntimeError:
        return njit(cache=False, **options)(fn)


# e^(−u) in float32 without a libm call, so that σ over a layer vectorises (numba has
# no vector exp without Intel's SVML): e^(−u) = 2^(−n) e^r, n = round(u log₂e),
# r = n ln 2 − u ∈ [−ln2/2, ln2/2], with Cephes' expf polynomial for e^r and 2^(−n)
# built from its exponent bits; ln 2 is split in two so that n·ln2_hi is exact.
# Measured over [0, 80]: within 1.4 ulp of e^(−u) (numpy's float32 exp: 3.4 ulp).
_LOG2E = np.float32(1.44269504088896341)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
_EXP_POLY = tuple(
    np.float32(c)
    for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
              1.6666665459e-1, 5.0000001201e-1)
)  # fmt: skip
_HALF_F32, _ONE_F32 = np.float32(0.5), np.float32(1)


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE bits are the int32 ``bits`` (a bitcast, free)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.FloatType())

    return types.float32(types.int32), codegen


@intrinsic
def _prefetch(typingctx, array, index):
    """Ask the CPU to start loading ``array[index]``'s cache line (llvm.prefetch): a hint only."""

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, signature.args[0], ary, [args[1]], wraparound=False
        )
        i32 = llvm_ir.IntType(32)
        i8_ptr = llvm_ir.IntType(8).as_pointer()
        fnty = llvm_ir.FunctionType(llvm_ir.VoidType(), [i8_ptr, i32, i32, i32])
        prefetch = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read (0), keep in all cache levels (3), data (1)
        builder.call(prefetch, [builder.bitcast(ptr, i8_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(array, types.intp), codegen


@_jit
def _prefetch_rows(indptr, indices, values, order, start, stop):
    """Prefetch the ink pixels of images ``order[start:stop]``, one hint per cache line.

    The epoch visits images in random order, so each image's pixel list starts
    with a cache miss; hinting the next mini-batch's lists while this one runs
    hides that latency.
    """
    for p in range(start, min(stop, order.shape[0])):
        row = order[p]
        lo, hi = indptr[row], indptr[row + 1]
        if hi > lo:
            for q in range(lo, hi, 64 // indices.itemsize):
                _prefetch(indices, q)
            _prefetch(indices, hi - 1)
            for q in range(lo, hi, 64 // values.itemsize):
                _prefetch(values, q)
            _prefetch(values, hi - 1)


def exp_neg(u):
    """e^(−u) for 0 ≤ u ≤ 80 (σ's clipped argument); in numba, float32 avoids libm."""
    return np.exp(-u)


@overload(exp_neg, jit_options={"fastmath": _FASTMATH, "error_model": "numpy"})
def _exp_neg(u):
    if u != types.float32:
        return lambda u: np.exp(-u)

    def exp_neg_float32(u):
        n = np.int32(u * _LOG2E + _HALF_F32)  # u ≥ 0: truncation rounds
        nf = np.float32(n)
        r = (nf * _LN2_HI - u) + nf * _LN2_LO
        c0, c1, c2, c3, c4, c5 = _EXP_POLY
        p = ((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5
        e_r = p * (r * r) + r + _ONE_F32
        return e_r * _float32_from_bits((np.int32(127) - n) << np.int32(23))

    return exp_neg_float32


def _like(x, like):
    """``x`` in the float type of the scalar ``like`` (float32 or float64)."""
    return type(like)(x)


@overload(_like, jit_options={"fastmath": _FASTMATH, "error_model": "numpy"})
def _like_numba(x, like):
    if like == types.float32:
        return lambda x, like: np.float32(x)
    return lambda x, like: np.float64(x)


@_jit
def _sigmoid(z, one, clip):
    """σ(z) as in :func:`neuraldigits.activations.sigmoid`: stable, |z| clipped at ``clip``.

    ``one`` and ``clip`` carry the dtype, so float32 stays float32.
    """
    e = exp_neg(min(abs(z), clip))
    return (one if z >= 0 else e) / (one + e)


@_jit
def _sigmoid_layer(a, n, one, clip):
    """a[:n] ← σ(a[:n]) for a layer padded to a.shape[0]; the padding stays zero.

    σ is taken over the whole padded row, a whole number of SIMD vectors (no
    branch, no libm call in float32, so the loop vectorises), then the padding is
    put back to zero.
    """
    for i in range(a.shape[0]):
        a[i] = _sigmoid(a[i], one, clip)
    a[n:] = one - one


def _dot_impl(u, v):
    total = u[0] * 0
    for i in range(u.shape[0]):
        total += u[i] * v[i]
    return total


_dot = _jit(_dot_impl, fastmath={"reassoc", "contract", "nsz"})
_dot.__doc__ = "Σ_i u_i v_i for 1-d arrays, summed in whatever order vectorises."


# Layers are stored padded to a multiple of this many entries (zeros), so that
# loops over a layer's neurons run whole SIMD vectors (LLVM vectorises them 8
# float32 lanes × 4 wide and skips the vector code when fewer than that remain).
LANES = 32


def padded(width: int) -> int:
    """``width`` rounded up to a whole number of :data:`LANES`."""
    return -(-width // LANES) * LANES


RESCALE_BELOW = 2.0**-10
"""The input layer's L2 scale s is folded back into its weights when it falls below this:
a pass over all of w^1, at most once per ln(1024)/(ηλ/n) ≈ 6.9 n/(ηλ) steps.  Read by
the caller at each call (the tests lower it to fold often)."""


def chapter3(cross_entropy, decay, momentum, one, layers, velocities=None, rescale_below=None):
    """The ``rule`` argument of :func:`sgd_batches` for chapter 3's step, as
    :meth:`Network.step` takes it.

    ``decay`` ηλ/n (float; L2 off at 0), ``momentum`` μ (0 ≤ μ < 1), ``one`` a 1 of
    the weights' dtype, ``layers`` the number of weight layers; ``velocities``
    ``(v0t, v_weights, v_biases)`` laid out as ``w0t``, ``weights``, ``biases``
    (stepped in place), or None without momentum.  ``rescale_below``: default
    :data:`RESCALE_BELOW`, read now.
    """
    dtype = type(one)
    if rescale_below is None:
        rescale_below = RESCALE_BELOW
    if velocities is None:  # placeholders of the same types: one compiled kernel for all
        empty = np.zeros((0, 0), dtype)
        velocities = (empty, (empty,) * layers, (np.zeros(0, dtype),) * layers)
    v0t, v_weights, v_biases = velocities
    return (
        bool(cross_entropy), float(decay), dtype(decay), dtype(momentum), float(rescale_below),
        v0t, tuple(v_weights), tuple(v_biases),
    )  # fmt: skip


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
    widths,
    w0t,
    weights,
    biases,
    acts,
    deltas,
    rule,
):
    """Run the mini-batches of ``order`` that begin at ``start``, ``start + m``, ... < ``stop``.

    The images come as :func:`.sparse.sparse_rows` of (N, n_0) images; labels (N,)
    ints; order (N,) the epoch's permutation.  ``step`` = η/m, and
    ``last_step`` = η/m' for a final, smaller mini-batch of m' examples.
    Pixels are multiplied by ``scale`` (1/255 for uint8, else 1); ``one`` and
    ``clip`` (σ's clip) are scalars of the weights' dtype, so every sum stays
    in that dtype.

    Layer l+1 has ``widths[l]`` neurons but is stored *padded* with zeros to
    p_(l+1) = :func:`padded` (widths[l]) entries.  Parameters, updated in place:
    ``w0t`` (n_0, p_1) is the input layer's weights *transposed*;
    ``weights[l]`` (n_(l+1), p_l) for l ≥ 1 (entry 0 is unused); ``biases[l]``
    (p_(l+1),).  Buffers ``acts[l]`` and ``deltas[l]`` (m, p_(l+1)) must start
    zeroed.  The padding stays exactly zero (σ is never applied to it, its
    weights and biases are zero and its deltas are zero), so it changes no sum.

    ``rule`` None is chapter 1's step (quadratic cost, no L2, no momentum),
    compiled as its own specialisation: numba drops every ``rule is not None``
    branch from it.  Otherwise it is :func:`chapter3`'s tuple ``(cross_entropy,
    decay, decay in the weights' dtype, μ, RESCALE_BELOW, v0t, v_weights,
    v_biases)``, whose velocities (laid out as the weights) are stepped in place.
    """
    n = order.shape[0]
    n_layers = len(acts)
    zero = one - one
    b0 = biases[0]
    n1 = widths[0]
    cross_entropy = False
    l2_scale = 1.0  # chapter 3's L2 without momentum: w^1 = l2_scale · w0t (module docstring)
    if rule is not None:
        cross_entropy = rule[0]
    for pos in range(start, stop, m):
        mb = min(m, n - pos)
        eta_m = step if mb == m else last_step
        _prefetch_rows(indptr, indices, values, order, pos + m, pos + 2 * m)
        x_scale = scale
        if rule is not None:
            x_scale = _like(scale * l2_scale, one)

        # ---- forward, input layer: z^1 = w^1 x + b^1 over the ink pixels only
        for k in range(mb):
            row = order[pos + k]
            a1 = acts[0][k]
            a1[:] = b0
            # Four pixels per pass over a1: a quarter of the loads and stores of a1,
            # and four times shorter a chain of dependent additions into it.
            lo, hi = indptr[row], indptr[row + 1]
            for q in range(lo, hi - 3, 4):
                x0, x1 = values[q] * x_scale, values[q + 1] * x_scale
                x2, x3 = values[q + 2] * x_scale, values[q + 3] * x_scale
                w_0, w_1 = w0t[indices[q]], w0t[indices[q + 1]]
                w_2, w_3 = w0t[indices[q + 2]], w0t[indices[q + 3]]
                for h in range(a1.shape[0]):
                    a1[h] += (x0 * w_0[h] + x1 * w_1[h]) + (x2 * w_2[h] + x3 * w_3[h])
            for q in range(hi - (hi - lo) % 4, hi):
                x = values[q] * x_scale
                w_j = w0t[indices[q]]
                for h in range(a1.shape[0]):
                    a1[h] += x * w_j[h]
            _sigmoid_layer(a1, n1, one, clip)

        # ---- forward, dense layers: a^(l+1) = σ(w a^l + b)
        for layer in range(1, n_layers):
            w, b = weights[layer], biases[layer]
            for k in range(mb):
                a_in, a_out = acts[layer - 1][k], acts[layer][k]
                for o in range(w.shape[0]):
                    a_out[o] = b[o] + _dot(w[o], a_in)
                _sigmoid_layer(a_out, w.shape[0], one, clip)

        # ---- output error (BP1), quadratic cost: δ^L = (a − y) ⊙ σ′(z^L), σ′ = a(1 − a);
        # cross-entropy: δ^L = a − y
        n_out = widths[n_layers - 1]
        for k in range(mb):
            label = labels[order[pos + k]]
            a_out, d_out = acts[n_layers - 1][k], deltas[n_layers - 1][k]
            for o in range(n_out):
                a = a_out[o]
                y = one if o == label else zero
                if cross_entropy:
                    d_out[o] = a - y
                else:
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
                if rule is not None:  # the row the terms go into: w's, decayed, or v's
                    w_o = _dense_row_before(rule, layer, o, w[o], one)
                total = zero
                for k in range(mb):
                    g = deltas[layer][k, o]
                    total += g
                    a_in = acts[layer - 1][k]
                    g = eta_m * g
                    for i in range(w_o.shape[0]):
                        w_o[i] -= g * a_in[i]
                if rule is None:
                    b[o] -= eta_m * total
                else:
                    _dense_row_after(rule, layer, o, w[o], b, eta_m * total)

        # ---- step the input layer: only the rows of w0t at this batch's ink pixels move
        # (chapter 3: the terms go into w0t, as w^1/s, or with momentum into v0t)
        step_scale = eta_m * scale
        w_terms, b_terms = w0t, b0
        if rule is not None:
            l2_scale, step_scale = _input_before(rule, w0t, eta_m, scale, l2_scale, one)
            if rule[3] != zero:
                w_terms, b_terms = rule[5], rule[7][0]
        for k in range(mb):
            d1 = deltas[0][k]
            for h in range(b0.shape[0]):
                b_terms[h] -= eta_m * d1[h]
            row = order[pos + k]
            # Two pixels (two distinct rows of w0t) per pass over d1: half the loop
            # set-ups and loads of d1.
            lo, hi = indptr[row], indptr[row + 1]
            for q in range(lo, hi - 1, 2):
                x0, x1 = values[q] * step_scale, values[q + 1] * step_scale
                w_0, w_1 = w_terms[indices[q]], w_terms[indices[q + 1]]
                for h in range(d1.shape[0]):
                    d = d1[h]
                    w_0[h] -= x0 * d
                    w_1[h] -= x1 * d
            for q in range(hi - (hi - lo) % 2, hi):
                x = values[q] * step_scale
                w_j = w_terms[indices[q]]
                for h in range(w_j.shape[0]):
                    w_j[h] -= x * d1[h]
        if rule is not None and rule[3] != zero:
            _input_momentum_after(rule, w0t, b0)
    if rule is not None and l2_scale != 1.0:
        _rescale(w0t, l2_scale)  # the caller reads w^1 from w0t


# ---------------------------------------------------------------------- chapter 3's step
# Each takes sgd_batches' ``rule`` (see chapter3()): (cross_entropy, decay, decay in the
# weights' dtype, μ, rescale_below, v0t, v_weights, v_biases).


@_jit
def _rescale(w0t, l2_scale):
    """w0t ← l2_scale · w0t: the input layer's L2 scale folded back in."""
    for i in range(w0t.shape[0]):
        row = w0t[i]
        for h in range(row.shape[0]):
            row[h] = row[h] * l2_scale


@_jit
def _input_before(rule, w0t, eta_m, scale, l2_scale, one):
    """Before a step's terms go into the input layer: ``(l2_scale, step_scale)`` after it.

    Without momentum, L2 scales w^1 = s·w0t by 1 − ηλ/n through s alone (folding
    s into w0t when it falls below ``rescale_below``), and the terms, divided by
    the new s, go into w0t.  With momentum, v ← μv − (ηλ/n) w for all of w^1 and
    the bias velocities v ← μv; the terms then go into v.
    """
    decay, decay_t, mu, rescale_below = rule[1], rule[2], rule[3], rule[4]
    if mu != 0:
        v0t, v_biases = rule[5], rule[7]
        for i in range(w0t.shape[0]):
            v_i, w_i = v0t[i], w0t[i]
            for h in range(v_i.shape[0]):
                v_i[h] = mu * v_i[h] - decay_t * w_i[h]
        vb = v_biases[0]
        for h in range(vb.shape[0]):
            vb[h] *= mu
        return l2_scale, eta_m * scale
    if decay != 0.0:
        l2_scale *= 1.0 - decay
        if l2_scale < rescale_below:
            _rescale(w0t, l2_scale)
            l2_scale = 1.0
    return l2_scale, _like(np.float64(eta_m) * np.float64(scale) / l2_scale, one)


@_jit
def _input_momentum_after(rule, w0t, b0):
    """w^1 ← w^1 + v and b^1 ← b^1 + v_b, once the step's terms are in the velocities."""
    v0t, vb = rule[5], rule[7][0]
    for i in range(w0t.shape[0]):
        v_i, w_i = v0t[i], w0t[i]
        for h in range(w_i.shape[0]):
            w_i[h] += v_i[h]
    for h in range(b0.shape[0]):
        b0[h] += vb[h]


@_jit
def _dense_row_before(rule, layer, o, w_o, one):
    """Row o of dense layer ``layer`` before its terms; returns the row they go into.

    With momentum v_o ← μ v_o, and the terms go into v_o; else w_o ← (1 − ηλ/n) w_o
    (L2: 1 − ηλ/n in the weights' dtype, as :meth:`Network.step` rounds it), and
    into w_o.
    """
    decay_t, mu = rule[2], rule[3]
    if mu != 0:
        v_o = rule[6][layer][o]
        for i in range(v_o.shape[0]):
            v_o[i] *= mu
        return v_o
    if decay_t != 0:
        keep = one - decay_t
        for i in range(w_o.shape[0]):
            w_o[i] *= keep
    return w_o


@_jit
def _dense_row_after(rule, layer, o, w_o, b, term):
    """Row o of dense layer ``layer`` once its terms are in: ``term`` = (η/m) Σ_x δ_o.

    Without momentum b_o ← b_o − term; with it v_o ← v_o − (ηλ/n) w_o, w_o ← w_o + v_o,
    and the bias's v ← μv − term, b_o ← b_o + v.
    """
    decay_t, mu = rule[2], rule[3]
    if mu == 0:
        b[o] -= term
        return
    v_o = rule[6][layer][o]
    if decay_t != 0:
        for i in range(v_o.shape[0]):
            v_o[i] -= decay_t * w_o[i]
    for i in range(w_o.shape[0]):
        w_o[i] += v_o[i]
    v_b = rule[7][layer]
    v_b[o] = mu * v_b[o] - term
    b[o] += v_b[o]
