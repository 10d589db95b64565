/* The C kernel: many mini-batches of the book's SGD in one call, float32.
 *
 * The maths is exactly Network.backprop + Network.update_mini_batch (and the
 * numba kernel in kernels.py); only the bookkeeping differs.  Chapter 1's step
 * (quadratic cost, no λ, no μ) is one instantiation of the loop below, compiled
 * as it always was; chapter 3's variations (cost, L2, momentum: see enum
 * step_mode) are others.  neuraldigits/ckernel.py loads this file with ctypes
 * and documents the arguments; read kernels.py first, this is the same loop
 * written so that a C compiler knows what numba could not tell LLVM:
 *
 *  - Buffers do not overlap (`restrict`), so sums stay in registers instead of
 *    being stored and reloaded after every write through another pointer.
 *  - z^1 = w^1 x + b^1 for a layer of up to 32 hidden neurons is held in
 *    registers (four 8-float vectors, two sets to hide the adds' latency)
 *    while the example's ink pixels stream past; wider layers stream several
 *    pixels per pass over a row kept in the L1 cache.
 *  - Vectors are GCC/clang vector types, so no intrinsics and no ISA is
 *    assumed; the compiler maps them to whatever the build targets.
 *  - With the input layer split by columns, two or more threads can share
 *    each mini-batch without changing a single rounding.
 *
 * Layer l+1 is stored padded with zeros to a multiple of 8 neurons; padding
 * stays exactly zero, so it changes no sum.
 */
/* No Python.h: the kernel is plain C called through ctypes, so it builds
 * where a C compiler is but Python's development headers are not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#define ND_THREADS 1
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#else
#define ND_THREADS 0
#endif

#if defined(_WIN32)
#define ND_EXPORT __declspec(dllexport)
#else
#define ND_EXPORT __attribute__((visibility("default")))
#endif

/* This file is built twice (setup.py): as _ckernel for any CPU, and on x86-64
 * as _ckernel_avx2 (via _ckernel_avx2.c) with AVX2 and FMA; ckernel.py loads
 * the second where nd_cpu_runs_avx2 says the CPU can run it. */

/* GCC notes that 32-byte vectors are passed differently with and without AVX;
 * every function taking one is inlined, so no such call exists. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define INLINE static inline __attribute__((always_inline))

/* 8 floats, loadable from any float address (alignment 4). */
typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef int32_t v8i __attribute__((vector_size(32), aligned(4)));

#define LANES 8
#define MAX_LAYERS 64
/* L2 without momentum keeps the input layer's weights as s·V (see run_share):
 * V is brought back to the true weights once s falls below this. */
#define RESCALE_BELOW (1.0 / 16)
#define MAX_THREADS 8
#ifndef WIDE
#define WIDE 32 /* columns of layer 1 beyond which its loops stream (see sparse_forward) */
#endif
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 20
#endif

INLINE v8 splat(float x) { return (v8){x, x, x, x, x, x, x, x}; }
INLINE v8 load(const float *p) { return *(const v8 *)p; }
INLINE void store(float *p, v8 v) { *(v8 *)p = v; }
INLINE float hsum(v8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}
/* mask ? a : b, for a mask from a vector comparison (all ones or all zeros). */
INLINE v8 blend(v8i mask, v8 a, v8 b) {
    return (v8)(((v8i)a & mask) | ((v8i)b & ~mask));
}

/* σ(z) for 8 lanes, as neuraldigits.activations.sigmoid: stable, |z| clipped
 * at `clip` (≤ 87, so 2^-n below stays a normal float).  e^(-u) is Cephes'
 * expf polynomial, the same as kernels.exp_neg: within 1.4 ulp on [0, 80]. */
INLINE v8 sigmoid8(v8 z, float clip) {
    v8 u = (v8)((v8i)z & 0x7fffffff);                /* |z| */
    u = blend(u > splat(clip), splat(clip), u);      /* NaN stays NaN */
    v8i n = __builtin_convertvector(u * 1.44269504088896341f + 0.5f, v8i);
    v8 nf = __builtin_convertvector(n, v8);
    v8 r = (nf * 0.693359375f - u) + nf * -2.12194440e-4f;
    v8 p = 1.9875691500e-4f * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    v8 e = (p * (r * r) + r + 1.0f) * (v8)((127 - n) << 23);
    return blend(z >= 0, splat(1.0f), e) / (1.0f + e);
}

/* a[:p] ← σ(a[:p]), then the padding a[n:p] back to zero. */
INLINE void sigmoid_layer(float *a, int64_t n, int64_t p, float clip) {
    for (int64_t i = 0; i < p; i += LANES) store(a + i, sigmoid8(load(a + i), clip));
    for (int64_t i = n; i < p; i++) a[i] = 0.0f;
}

/* σ over columns [lo, hi) of a layer of n neurons; its padding columns back to zero. */
INLINE void sigmoid_columns(float *a, int64_t n, int64_t lo, int64_t hi, float clip) {
    for (int64_t i = lo; i < hi; i += LANES) store(a + i, sigmoid8(load(a + i), clip));
    for (int64_t i = n > lo ? n : lo; i < hi; i++) a[i] = 0.0f;
}

/* Zeroed memory on a 64-byte cache line boundary. */
static float *aligned_calloc(size_t bytes) {
    void *p = NULL;
#if defined(_WIN32)
    p = _aligned_malloc(bytes, 64);
#else
    if (posix_memalign(&p, 64, bytes) != 0) p = NULL;
#endif
    if (p) memset(p, 0, bytes);
    return p;
}

static void aligned_free(void *p) {
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}

/* Where the threads of one call wait for each other, twice per mini-batch.
 * The wait is a few hundred nanoseconds, far below what a sleeping lock's
 * wake-up costs, so waiters spin; after SPIN_LIMIT turns (a thread that is not
 * running, e.g. more threads than free cores) they give the core away. */
#define SPIN_LIMIT 4000
#if ND_THREADS
typedef struct {
    atomic_int arrived;
    atomic_int generation;
} barrier;

INLINE void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

INLINE void barrier_wait(barrier *b, int threads) {
    if (threads == 1) return;
    int generation = atomic_load_explicit(&b->generation, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == threads - 1) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&b->generation, generation + 1, memory_order_release);
        return;
    }
    for (int spins = 0; atomic_load_explicit(&b->generation, memory_order_acquire) == generation;)
        if (++spins < SPIN_LIMIT)
            cpu_relax();
        else
            sched_yield();
}
#else
typedef int barrier;
INLINE void barrier_wait(barrier *b, int threads) { (void)b, (void)threads; }
#endif

/* The ink pixels of one image: positions and values (uint8 or float32). */
typedef struct {
    const uint16_t *idx;
    const uint8_t *u8;
    const float *f32;
    int64_t count;
    float scale;
    int is_u8; /* a constant wherever it is read, so each loop is compiled for one type */
} pixels;

INLINE float pixel(const pixels *x, int64_t q) {
    return (x->is_u8 ? (float)x->u8[q] : x->f32[q]) * x->scale;
}

/* out[:8*NV] = b + Σ_q x_q w0t[idx_q, :8*NV], for NV ≤ 4 vectors held in registers.
 * w0t rows are `stride` floats apart, already offset to the block's first column. */
INLINE void sparse_block(const pixels *x, const float *restrict w0t, int64_t stride,
                         const float *restrict b, float *restrict out, const int NV) {
    v8 even[4], odd[4];
    for (int v = 0; v < NV; v++) even[v] = load(b + LANES * v), odd[v] = splat(0.0f);
    int64_t q = 0;
    for (; q + 1 < x->count; q += 2) {
        const float *w_0 = w0t + (int64_t)x->idx[q] * stride;
        const float *w_1 = w0t + (int64_t)x->idx[q + 1] * stride;
        v8 x0 = splat(pixel(x, q)), x1 = splat(pixel(x, q + 1));
        for (int v = 0; v < NV; v++) {
            even[v] += x0 * load(w_0 + LANES * v);
            odd[v] += x1 * load(w_1 + LANES * v);
        }
    }
    if (q < x->count) {
        const float *w_0 = w0t + (int64_t)x->idx[q] * stride;
        v8 x0 = splat(pixel(x, q));
        for (int v = 0; v < NV; v++) even[v] += x0 * load(w_0 + LANES * v);
    }
    for (int v = 0; v < NV; v++) store(out + LANES * v, even[v] + odd[v]);
}

/* w0t[idx_q, :8*NV] -= (step x_q) d[:8*NV] for every ink pixel q. */
INLINE void sparse_step_block(const pixels *x, float step, const float *restrict d,
                              float *restrict w0t, int64_t stride, const int NV) {
    v8 dv[4];
    for (int v = 0; v < NV; v++) dv[v] = load(d + LANES * v);
    int64_t q = 0;
    for (; q + 1 < x->count; q += 2) { /* two rows per pass: fewer loop and address ops */
        float *w_0 = w0t + (int64_t)x->idx[q] * stride, *w_1 = w0t + (int64_t)x->idx[q + 1] * stride;
        v8 s0 = splat(step * pixel(x, q)), s1 = splat(step * pixel(x, q + 1));
        for (int v = 0; v < NV; v++) {
            store(w_0 + LANES * v, load(w_0 + LANES * v) - s0 * dv[v]);
            store(w_1 + LANES * v, load(w_1 + LANES * v) - s1 * dv[v]);
        }
    }
    if (q < x->count) {
        float *w_q = w0t + (int64_t)x->idx[q] * stride;
        v8 s = splat(step * pixel(x, q));
        for (int v = 0; v < NV; v++) store(w_q + LANES * v, load(w_q + LANES * v) - s * dv[v]);
    }
}

/* Columns [lo, hi) of z^1 = w^1 x + b^1 for a wide layer: four pixels per pass
 * over the row out, which stays in the L1 cache. */
INLINE void sparse_forward_wide(const pixels *x, const float *restrict w0t, int64_t p1,
                                const float *restrict b, float *restrict out, int64_t lo,
                                int64_t hi) {
    for (int64_t c = lo; c < hi; c += LANES) store(out + c, load(b + c));
    int64_t q = 0;
    for (; q + 3 < x->count; q += 4) {
        const float *w_0 = w0t + (int64_t)x->idx[q] * p1, *w_1 = w0t + (int64_t)x->idx[q + 1] * p1;
        const float *w_2 = w0t + (int64_t)x->idx[q + 2] * p1, *w_3 = w0t + (int64_t)x->idx[q + 3] * p1;
        v8 x0 = splat(pixel(x, q)), x1 = splat(pixel(x, q + 1));
        v8 x2 = splat(pixel(x, q + 2)), x3 = splat(pixel(x, q + 3));
        for (int64_t c = lo; c < hi; c += LANES)
            store(out + c, load(out + c) + ((x0 * load(w_0 + c) + x1 * load(w_1 + c)) +
                                            (x2 * load(w_2 + c) + x3 * load(w_3 + c))));
    }
    for (; q < x->count; q++) {
        const float *w_q = w0t + (int64_t)x->idx[q] * p1;
        v8 x_q = splat(pixel(x, q));
        for (int64_t c = lo; c < hi; c += LANES) store(out + c, load(out + c) + x_q * load(w_q + c));
    }
}

/* Columns [lo, hi) of z^1 = w^1 x + b^1, over the ink pixels only (w0t is
 * (n_in, p1), the input layer's weights transposed, so a pixel's weights are
 * one row).  Up to WIDE columns, 4, 2 or 1 vectors of sums at a time in
 * registers; a wider layer would pay each pixel's bookkeeping once per 32
 * columns, so it streams instead.  The choice depends on p1 alone, never on
 * how the columns are shared between threads, so neither does the rounding. */
INLINE void sparse_forward(const pixels *x, const float *restrict w0t, int64_t p1,
                           const float *restrict b, float *restrict out, int64_t lo, int64_t hi) {
    if (p1 > WIDE) {
        sparse_forward_wide(x, w0t, p1, b, out, lo, hi);
        return;
    }
    int64_t c = lo;
    for (; c + 4 * LANES <= hi; c += 4 * LANES) sparse_block(x, w0t + c, p1, b + c, out + c, 4);
    for (; c + 2 * LANES <= hi; c += 2 * LANES) sparse_block(x, w0t + c, p1, b + c, out + c, 2);
    for (; c < hi; c += LANES) sparse_block(x, w0t + c, p1, b + c, out + c, 1);
}

/* Columns [lo, hi) of w^1 −= (η/m) δ^1 xᵀ for a wide layer: two rows per pass over d. */
INLINE void sparse_step_wide(const pixels *x, float step, const float *restrict d,
                             float *restrict w0t, int64_t p1, int64_t lo, int64_t hi) {
    int64_t q = 0;
    for (; q + 1 < x->count; q += 2) {
        float *w_0 = w0t + (int64_t)x->idx[q] * p1, *w_1 = w0t + (int64_t)x->idx[q + 1] * p1;
        v8 s0 = splat(step * pixel(x, q)), s1 = splat(step * pixel(x, q + 1));
        for (int64_t c = lo; c < hi; c += LANES) {
            v8 d_c = load(d + c);
            store(w_0 + c, load(w_0 + c) - s0 * d_c);
            store(w_1 + c, load(w_1 + c) - s1 * d_c);
        }
    }
    if (q < x->count) {
        float *w_q = w0t + (int64_t)x->idx[q] * p1;
        v8 s = splat(step * pixel(x, q));
        for (int64_t c = lo; c < hi; c += LANES) store(w_q + c, load(w_q + c) - s * load(d + c));
    }
}

/* Columns [lo, hi) of w^1 −= (η/m) δ^1 xᵀ: only the ink pixels' rows of w0t move. */
INLINE void sparse_step(const pixels *x, float step, const float *restrict d, float *restrict w0t,
                        int64_t p1, int64_t lo, int64_t hi) {
    if (p1 > WIDE) {
        sparse_step_wide(x, step, d, w0t, p1, lo, hi);
        return;
    }
    int64_t c = lo;
    for (; c + 4 * LANES <= hi; c += 4 * LANES) sparse_step_block(x, step, d + c, w0t + c, p1, 4);
    for (; c + 2 * LANES <= hi; c += 2 * LANES) sparse_step_block(x, step, d + c, w0t + c, p1, 2);
    for (; c < hi; c += LANES) sparse_step_block(x, step, d + c, w0t + c, p1, 1);
}

/* sparse_forward and sparse_step compiled on their own, per pixel type, for the
 * chapter 3 modes (see run_share): inlined into their larger loops, which keep
 * more values live, the compiler ran short of registers inside the pixels'
 * loops and reloaded their bounds from the stack on every pixel (measured:
 * 10% slower epochs at 100 hidden neurons).  A call per example costs far less. */
#define NOINLINE static __attribute__((noinline))
NOINLINE void forward_u8(pixels x, const float *restrict w0t, int64_t p1,
                         const float *restrict b, float *restrict out, int64_t lo, int64_t hi) {
    x.is_u8 = 1;
    sparse_forward(&x, w0t, p1, b, out, lo, hi);
}
NOINLINE void forward_f32(pixels x, const float *restrict w0t, int64_t p1,
                          const float *restrict b, float *restrict out, int64_t lo, int64_t hi) {
    x.is_u8 = 0;
    sparse_forward(&x, w0t, p1, b, out, lo, hi);
}
NOINLINE void step_u8(pixels x, float step, const float *restrict d, float *restrict w0t,
                      int64_t p1, int64_t lo, int64_t hi) {
    x.is_u8 = 1;
    sparse_step(&x, step, d, w0t, p1, lo, hi);
}
NOINLINE void step_f32(pixels x, float step, const float *restrict d, float *restrict w0t,
                       int64_t p1, int64_t lo, int64_t hi) {
    x.is_u8 = 0;
    sparse_step(&x, step, d, w0t, p1, lo, hi);
}

INLINE pixels ink(const int64_t *indptr, const uint16_t *indices, const uint8_t *u8,
                  const float *f32, float scale, int64_t row, const int is_u8) {
    int64_t lo = indptr[row];
    pixels x = {indices + lo, is_u8 ? u8 + lo : NULL, is_u8 ? NULL : f32 + lo,
                indptr[row + 1] - lo, scale, is_u8};
    return x;
}

INLINE void prefetch_ink(const int64_t *indptr, const uint16_t *indices, const void *values,
                         int64_t value_size, int64_t row) {
    int64_t lo = indptr[row], hi = indptr[row + 1];
    for (int64_t q = lo; q < hi; q += 32) __builtin_prefetch(indices + q);
    for (int64_t q = lo; q < hi; q += 64 / value_size)
        __builtin_prefetch((const char *)values + q * value_size);
}

/* Everything one call works on: the arguments of nd_sgd_batches (see
 * ckernel.py), the scratch rows acts[l] and deltas[l] (m rows of pads[l]
 * floats), and the barrier the threads meet at. */
typedef struct {
    const int64_t *indptr;
    const uint16_t *indices;
    const uint8_t *values_u8;
    const float *values_f32;
    const int64_t *labels, *order;
    int64_t n, start, stop, m;
    float step, last_step, scale, clip;
    int64_t n_layers;
    const int64_t *widths, *pads;
    float *w0t;
    float *const *weights, *const *biases;
    float *acts[MAX_LAYERS], *deltas[MAX_LAYERS];
    int threads;
    int64_t n_in;               /* rows of w0t (and v0t) */
    int cross_entropy, mode;    /* the step rule: see step_mode */
    float decay, mu;            /* ηλ/n and μ */
    double keep;                /* 1 − ηλ/n, for the scale of w0t (L2 mode) */
    float *v0t;                 /* momentum's velocities, laid out as w0t, weights, biases */
    float *const *v_weights, *const *v_biases;
    barrier meet;
#if ND_THREADS
    atomic_int go; /* helpers start once every thread exists (else none may wait) */
#endif
} job;

/* Columns [0, 8·NV) of δ^(l−1) = (wᵀ δ^l) ⊙ a(1 − a) for one example: d its δ^l
 * (n_out values), w the layer's weights (rows p_in apart) and a_in, d_in its
 * a^(l−1) and δ^(l−1), all offset to the block's first column.  NV ≤ 4 sums
 * stay in registers; each is taken over o in order. */
INLINE void back_block(const float *restrict d, int64_t n_out, const float *restrict w,
                       int64_t p_in, const float *restrict a_in, float *restrict d_in,
                       const int NV) {
    v8 sum[4];
    for (int v = 0; v < NV; v++) sum[v] = splat(0.0f);
    for (int64_t o = 0; o < n_out; o++) {
        v8 g = splat(d[o]);
        for (int v = 0; v < NV; v++) sum[v] += g * load(w + o * p_in + LANES * v);
    }
    for (int v = 0; v < NV; v++) {
        v8 a = load(a_in + LANES * v);
        store(d_in + LANES * v, sum[v] * (a * (1.0f - a)));
    }
}

/* The step every mini-batch takes, as Network.step defines it: a cost and a
 * mode.  Each is a compile-time constant of the loops that read it, so each
 * combination is a loop of its own, and chapter 1's (quadratic, PLAIN) computes
 * exactly what it did before the others existed (the same operations in the
 * same order: the same roundings, bit for bit).
 *
 *  cross_entropy  0: δ^L = (a − y) ⊙ a(1 − a), the quadratic cost (chapter 1);
 *                 1: δ^L = a − y, the cross-entropy cost (chapter 3).
 *  mode  PLAIN:    w → w − (η/m) Σ_x ∂C_x/∂w,  b → b − (η/m) Σ_x δ;
 *        DECAY:    w → (1 − ηλ/n) w − (η/m) Σ_x ∂C_x/∂w (L2; biases never decay);
 *        MOMENTUM: v → μv − (η/m) Σ_x ∂C_x/∂w − (ηλ/n) w,  w → w + v;
 *                  v_b → μ v_b − (η/m) Σ_x δ,  b → b + v_b  (λ may be 0).
 */
enum step_mode { PLAIN = 0, DECAY = 1, MOMENTUM = 2 };

/* Columns [0, 8·NV) of one row w_o of a dense layer's step (see step_mode above):
 * w −= (η/m) Σ_x δ_o aᵀ, after w −= (ηλ/n) w (DECAY), or through its velocity
 * v_o (MOMENTUM).  d_o is δ_o of the first example (the next ones p_out apart),
 * a the first example's a^(l−1) (the next p_in apart).  The NV vectors of
 * weights (or velocities) stay in registers while the mini-batch's terms are
 * subtracted one example at a time. */
INLINE void dense_step_block(float *restrict w_o, const float *restrict d_o, int64_t p_out,
                             const float *restrict a, int64_t p_in, int64_t mb, float eta_m,
                             const int NV, const int mode, float decay, float mu,
                             float *restrict v_o) {
    v8 acc[4];
    if (mode == MOMENTUM)
        for (int v = 0; v < NV; v++)
            acc[v] = splat(mu) * load(v_o + LANES * v) - splat(decay) * load(w_o + LANES * v);
    else
        for (int v = 0; v < NV; v++) acc[v] = load(w_o + LANES * v);
    if (mode == DECAY)
        for (int v = 0; v < NV; v++) acc[v] -= splat(decay) * acc[v];
    for (int64_t k = 0; k < mb; k++) {
        v8 s = splat(eta_m * d_o[k * p_out]);
        for (int v = 0; v < NV; v++) acc[v] -= s * load(a + k * p_in + LANES * v);
    }
    if (mode == MOMENTUM)
        for (int v = 0; v < NV; v++) {
            store(v_o + LANES * v, acc[v]);
            store(w_o + LANES * v, load(w_o + LANES * v) + acc[v]);
        }
    else
        for (int v = 0; v < NV; v++) store(w_o + LANES * v, acc[v]);
}

/* The dense layers for mini-batch examples 0 … mb−1, whose a^1 is in acts[0]:
 * forward, output error, backward down to δ^1, and the dense layers' steps,
 * by the step rule (cross_entropy, mode). */
INLINE void dense_layers_rule(const job *j, int64_t pos, int64_t mb, float eta_m,
                              const int cross_entropy, const int mode) {
    const int64_t last = j->n_layers - 1;
    const int64_t *widths = j->widths, *pads = j->pads;
    /* forward: a^(l+1) = σ(w a^l + b) */
    for (int64_t k = 0; k < mb; k++) {
        for (int64_t l = 1; l <= last; l++) {
            const float *restrict a_in = j->acts[l - 1] + k * pads[l - 1];
            float *restrict a_out = j->acts[l] + k * pads[l];
            const float *restrict w = j->weights[l], *restrict b = j->biases[l];
            for (int64_t o = 0; o < widths[l]; o++) {
                v8 sum = splat(0.0f);
                for (int64_t i = 0; i < pads[l - 1]; i += LANES)
                    sum += load(w + o * pads[l - 1] + i) * load(a_in + i);
                a_out[o] = b[o] + hsum(sum);
            }
            sigmoid_layer(a_out, widths[l], pads[l], j->clip);
        }
    }

    /* output error (BP1): quadratic cost δ^L = (a − y) ⊙ a(1 − a), cross-entropy a − y */
    for (int64_t k = 0; k < mb; k++) {
        const float *a = j->acts[last] + k * pads[last];
        float *d = j->deltas[last] + k * pads[last];
        int64_t label = j->labels[j->order[pos + k]];
        if (cross_entropy)
            for (int64_t o = 0; o < widths[last]; o++) d[o] = a[o] - (o == label ? 1.0f : 0.0f);
        else
            for (int64_t o = 0; o < widths[last]; o++)
                d[o] = (a[o] - (o == label ? 1.0f : 0.0f)) * (a[o] * (1.0f - a[o]));
    }

    /* last to first: δ^(l−1) = (wᵀ δ^l) ⊙ a(1 − a) (BP2) with the old w, then
     * w −= (η/m) Σ_x δ aᵀ (BP4) and b −= (η/m) Σ_x δ (BP3), by the step rule. */
    for (int64_t l = last; l >= 1; l--) {
        float *restrict w = j->weights[l], *restrict b = j->biases[l];
        /* momentum's velocities (other modes never read them: w and b stand in) */
        float *v_w = mode == MOMENTUM ? j->v_weights[l] : w;
        float *v_b = mode == MOMENTUM ? j->v_biases[l] : b;
        const int64_t p_in = pads[l - 1], p_out = pads[l];
        const float *d = j->deltas[l], *a = j->acts[l - 1];
        for (int64_t k = 0; k < mb; k++) {
            int64_t c = 0;
            for (; c + 4 * LANES <= p_in; c += 4 * LANES)
                back_block(d + k * p_out, widths[l], w + c, p_in, a + k * p_in + c,
                           j->deltas[l - 1] + k * p_in + c, 4);
            for (; c < p_in; c += LANES)
                back_block(d + k * p_out, widths[l], w + c, p_in, a + k * p_in + c,
                           j->deltas[l - 1] + k * p_in + c, 1);
        }
        for (int64_t o = 0; o < widths[l]; o++) {
            float *v_o = v_w + o * p_in;
            int64_t c = 0;
            for (; c + 4 * LANES <= p_in; c += 4 * LANES)
                dense_step_block(w + o * p_in + c, d + o, p_out, a + c, p_in, mb, eta_m, 4,
                                 mode, j->decay, j->mu, v_o + c);
            for (; c < p_in; c += LANES)
                dense_step_block(w + o * p_in + c, d + o, p_out, a + c, p_in, mb, eta_m, 1,
                                 mode, j->decay, j->mu, v_o + c);
            float b_sum = 0.0f;
            for (int64_t k = 0; k < mb; k++) b_sum += d[k * p_out + o];
            if (mode == MOMENTUM) {
                v_b[o] = j->mu * v_b[o] - eta_m * b_sum;
                b[o] += v_b[o];
            } else {
                b[o] -= eta_m * b_sum;
            }
        }
    }
}

/* dense_layers_rule, compiled once per step rule. */
static void dense_layers(const job *j, int64_t pos, int64_t mb, float eta_m) {
    switch (j->cross_entropy * 3 + j->mode) {
    case 0: dense_layers_rule(j, pos, mb, eta_m, 0, PLAIN); break;
    case 1: dense_layers_rule(j, pos, mb, eta_m, 0, DECAY); break;
    case 2: dense_layers_rule(j, pos, mb, eta_m, 0, MOMENTUM); break;
    case 3: dense_layers_rule(j, pos, mb, eta_m, 1, PLAIN); break;
    case 4: dense_layers_rule(j, pos, mb, eta_m, 1, DECAY); break;
    default: dense_layers_rule(j, pos, mb, eta_m, 1, MOMENTUM); break;
    }
}

/* Columns [lo, hi) of all n_in rows of w0t (rows p1 apart), times f. */
INLINE void scale_columns(float *restrict w0t, int64_t n_in, int64_t p1, int64_t lo, int64_t hi,
                          float f) {
    for (int64_t i = 0; i < n_in; i++)
        for (int64_t c = lo; c < hi; c += LANES)
            store(w0t + i * p1 + c, splat(f) * load(w0t + i * p1 + c));
}

/* Columns [lo, hi) of all n_in rows of the input layer: v → μv − (ηλ/n) w, w → w + v,
 * momentum's step before the mini-batch's gradient (which the ink rows then take). */
INLINE void momentum_columns(float *restrict w0t, float *restrict v0t, int64_t n_in, int64_t p1,
                             int64_t lo, int64_t hi, float mu, float decay) {
    for (int64_t i = 0; i < n_in; i++)
        for (int64_t c = lo; c < hi; c += LANES) {
            float *w = w0t + i * p1 + c, *v = v0t + i * p1 + c;
            v8 velocity = splat(mu) * load(v) - splat(decay) * load(w);
            store(v, velocity);
            store(w, load(w) + velocity);
        }
}

/* One thread's share of every mini-batch: the input layer's columns [lo, hi)
 * (its part of z^1, σ, and of the w^1 and b^1 steps).  The leader also runs
 * the dense layers, between two barriers, while the others wait: the input
 * layer's step needs δ^1, and the next forward pass the stepped weights.
 *
 * Of the step rule (see step_mode) only `mode` changes the input layer's step
 * (the cost changes δ^L alone, in dense_layers); chapter 1's moves only the
 * ink rows of w0t, and so, in effect, do the others:
 *
 *  - DECAY multiplies every weight by 1 − ηλ/n, which would touch all of w0t
 *    every step.  Instead the true weights are s·V, with V in w0t and the
 *    scalar s in double precision: the decay multiplies s, z^1 reads the
 *    pixels times s, and the gradient's term is divided by the new s.  Every
 *    thread keeps its own s, computed alike, for its own columns.  V is
 *    multiplied back by s (and s set to 1) whenever s falls below
 *    RESCALE_BELOW, so V never grows more than 16-fold, and at the end of the
 *    call, so that w0t holds the true weights between calls.
 *  - MOMENTUM's velocity is dense: every weight moves every step, so
 *    momentum_columns runs over all of the thread's columns, and the ink rows
 *    then take the gradient's term in both v and w. */
INLINE void run_share(job *j, int64_t lo, int64_t hi, int leader, const int is_u8,
                      const int mode) {
    const void *values = is_u8 ? (const void *)j->values_u8 : (const void *)j->values_f32;
    const int64_t value_size = is_u8 ? 1 : 4, p1 = j->pads[0], m = j->m, n = j->n;
    const int64_t *order = j->order;
    /* DECAY: the true w^1 is s × w0t in this thread's columns; z^1 reads x × s */
    double s = 1.0;
    for (int64_t pos = j->start; pos < j->stop; pos += m) {
        int64_t mb = n - pos < m ? n - pos : m;
        float eta_m = mb == m ? j->step : j->last_step;
        const float x_scale = mode == DECAY ? (float)(j->scale * s) : j->scale;
        for (int64_t k = 0; k < mb; k++) {
            /* Examples come in random order, so each one's row pointers, label
             * and pixels start with a cache miss: ask for the row pointers and
             * label 2 × PREFETCH_AHEAD examples ahead, and for the pixels (their
             * row pointers then cached) PREFETCH_AHEAD ahead, one example at a
             * time so the requests never queue up. */
            int64_t ahead = pos + k + PREFETCH_AHEAD;
            if (ahead + PREFETCH_AHEAD < n) {
                __builtin_prefetch(j->indptr + order[ahead + PREFETCH_AHEAD]);
                if (leader) __builtin_prefetch(j->labels + order[ahead + PREFETCH_AHEAD]);
            }
            if (ahead < n) prefetch_ink(j->indptr, j->indices, values, value_size, order[ahead]);

            pixels x = ink(j->indptr, j->indices, j->values_u8, j->values_f32, x_scale,
                           order[pos + k], is_u8);
            float *a1 = j->acts[0] + k * p1;
            if (mode == PLAIN)
                sparse_forward(&x, j->w0t, p1, j->biases[0], a1, lo, hi);
            else if (is_u8)
                forward_u8(x, j->w0t, p1, j->biases[0], a1, lo, hi);
            else
                forward_f32(x, j->w0t, p1, j->biases[0], a1, lo, hi);
            sigmoid_columns(a1, j->widths[0], lo, hi, j->clip);
        }
        barrier_wait(&j->meet, j->threads);
        if (leader) dense_layers(j, pos, mb, eta_m);
        barrier_wait(&j->meet, j->threads);

        float *b0 = j->biases[0];
        float step = eta_m; /* the ink rows' step: η/m on the weights w0t holds */
        if (mode == DECAY) {
            double s_next = s * j->keep;
            if (s_next < RESCALE_BELOW) {
                scale_columns(j->w0t, j->n_in, p1, lo, hi, (float)s_next);
                s_next = 1.0;
            }
            step = (float)((double)eta_m / s_next);
            s = s_next;
        }
        if (mode == MOMENTUM) {
            momentum_columns(j->w0t, j->v0t, j->n_in, p1, lo, hi, j->mu, j->decay);
            for (int64_t h = lo; h < hi; h += LANES)
                store(j->v_biases[0] + h, splat(j->mu) * load(j->v_biases[0] + h));
        }
        /* DECAY: the biases first, so that the ink rows' loop needs fewer registers. */
        if (mode == DECAY)
            for (int64_t k = mb - 1; k >= 0; k--)
                for (int64_t h = lo; h < hi; h += LANES)
                    store(b0 + h, load(b0 + h) - eta_m * load(j->deltas[0] + k * p1 + h));
        /* Last example first: its rows of w0t are the likeliest still in cache. */
        for (int64_t k = mb - 1; k >= 0; k--) {
            const float *d1 = j->deltas[0] + k * p1;
            float *b_moved = mode == MOMENTUM ? j->v_biases[0] : b0;
            if (mode != DECAY)
                for (int64_t h = lo; h < hi; h += LANES)
                    store(b_moved + h, load(b_moved + h) - eta_m * load(d1 + h));
            pixels x = ink(j->indptr, j->indices, j->values_u8, j->values_f32, j->scale,
                           order[pos + k], is_u8);
            if (mode == PLAIN) {
                sparse_step(&x, step, d1, j->w0t, p1, lo, hi);
                continue;
            }
            void (*const step_rows)(pixels, float, const float *, float *, int64_t, int64_t,
                                    int64_t) = is_u8 ? step_u8 : step_f32;
            if (mode == MOMENTUM) step_rows(x, step, d1, j->v0t, p1, lo, hi);
            step_rows(x, step, d1, j->w0t, p1, lo, hi);
        }
        if (mode == MOMENTUM)
            for (int64_t h = lo; h < hi; h += LANES)
                store(b0 + h, load(b0 + h) + load(j->v_biases[0] + h));
    }
    if (mode == DECAY && s != 1.0) scale_columns(j->w0t, j->n_in, p1, lo, hi, (float)s);
}

/* Thread `id` of j->threads: its columns are a near-equal share of whole vectors. */
static void run_thread(job *j, int id) {
    int64_t vectors = j->pads[0] / LANES;
    int64_t lo = LANES * (vectors * id / j->threads);
    int64_t hi = LANES * (vectors * (id + 1) / j->threads);
    int leader = id == 0;
    /* run_share compiled once per image type and mode */
    if (j->values_u8) {
        if (j->mode == PLAIN) run_share(j, lo, hi, leader, 1, PLAIN);
        else if (j->mode == DECAY) run_share(j, lo, hi, leader, 1, DECAY);
        else run_share(j, lo, hi, leader, 1, MOMENTUM);
    } else {
        if (j->mode == PLAIN) run_share(j, lo, hi, leader, 0, PLAIN);
        else if (j->mode == DECAY) run_share(j, lo, hi, leader, 0, DECAY);
        else run_share(j, lo, hi, leader, 0, MOMENTUM);
    }
}

#if ND_THREADS
typedef struct {
    job *j;
    int id;
} helper;

static void *helper_main(void *arg) {
    helper *h = arg;
    while (!atomic_load_explicit(&h->j->go, memory_order_acquire)) sched_yield();
    run_thread(h->j, h->id);
    return NULL;
}
#endif

/* Run the mini-batches of `order` that begin at start, start + m, ... < stop,
 * on `threads` threads (1 … MAX_THREADS; at most one per 8 columns of layer 1).
 * See ckernel.py for every argument; exactly one of values_u8 and values_f32
 * is non-NULL.  The step rule (step_mode): cross_entropy 0 or 1, decay ηλ/n,
 * momentum μ; with μ ≠ 0, v0t, v_weights and v_biases are the velocities,
 * laid out as w0t, weights and biases (else they may be NULL).  Returns 0, or
 * −1 if memory or threads could not be had (then nothing was changed).  The
 * result does not depend on `threads`: each column of z^1 and w^1 is computed
 * by one thread in the same order. */
ND_EXPORT int nd_sgd_batches(
    const int64_t *indptr, const uint16_t *indices, const uint8_t *values_u8,
    const float *values_f32, const int64_t *labels, const int64_t *order, int64_t n,
    int64_t start, int64_t stop, int64_t m, float step, float last_step, float scale,
    float clip, int64_t n_layers, const int64_t *widths, const int64_t *pads, float *w0t,
    float *const *weights, float *const *biases, int64_t threads, int64_t n_in,
    int64_t cross_entropy, double decay, double momentum, float *v0t, float *const *v_weights,
    float *const *v_biases) {
    if (n_layers < 1 || n_layers > MAX_LAYERS || m < 1 || threads < 1) return -1;
    if (momentum != 0.0 && (!v0t || !v_weights || !v_biases)) return -1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads > pads[0] / LANES) threads = pads[0] / LANES;
#if !ND_THREADS
    threads = 1;
#endif
    job j = {indptr, indices, values_u8, values_f32, labels, order, n, start, stop, m,
             step, last_step, scale, clip, n_layers, widths, pads, w0t, weights, biases,
             .threads = (int)threads, .n_in = n_in, .cross_entropy = cross_entropy != 0,
             .mode = momentum != 0.0 ? MOMENTUM : decay != 0.0 ? DECAY : PLAIN,
             .decay = (float)decay, .mu = (float)momentum, .keep = 1.0 - decay, .v0t = v0t,
             .v_weights = v_weights, .v_biases = v_biases};
    /* Scratch rows, each layer's block starting on its own cache line, so that
     * threads writing neighbouring columns never share a line. */
    int64_t total = 0;
    for (int64_t l = 0; l < n_layers; l++) total += 2 * ((m * pads[l] + 15) / 16 * 16);
    float *scratch = aligned_calloc((size_t)total * sizeof(float));
    if (!scratch) return -1;
    float *next = scratch;
    for (int64_t l = 0; l < n_layers; l++) {
        j.acts[l] = next, next += (m * pads[l] + 15) / 16 * 16;
        j.deltas[l] = next, next += (m * pads[l] + 15) / 16 * 16;
    }
    int status = 0;
#if ND_THREADS
    pthread_t ids[MAX_THREADS];
    helper helpers[MAX_THREADS];
    int started = 0;
    for (int t = 1; t < j.threads; t++) {
        helpers[t] = (helper){&j, t};
        if (pthread_create(&ids[t], NULL, helper_main, &helpers[t]) != 0) break;
        started++;
    }
    if (started < j.threads - 1) { /* could not start them all: those that did run nothing */
        j.stop = j.start;
        status = -1;
    }
    atomic_store_explicit(&j.go, 1, memory_order_release);
    run_thread(&j, 0);
    for (int t = 1; t <= started; t++) pthread_join(ids[t], NULL);
#else
    run_thread(&j, 0);
#endif
    aligned_free(scratch);
    return status;
}

/* a[:n] ← σ(a[:n]) for n a multiple of 8, exactly as the kernel computes σ (for tests). */
ND_EXPORT void nd_sigmoid(float *a, int64_t n, float clip) {
    for (int64_t i = 0; i + LANES <= n; i += LANES) store(a + i, sigmoid8(load(a + i), clip));
}

/* 1 if this CPU (and its operating system) runs AVX2 and FMA code, else 0. */
ND_EXPORT int nd_cpu_runs_avx2(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}
