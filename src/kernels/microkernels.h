/* microkernels.h: the C half of the kernels (included by _sepconv.pyx).
 *
 * The micro-kernel and the channels_last depthwise register block, written
 * with GCC/Clang vector extensions (see the design block of _sepconv.pyx for
 * why), the OpenMP shim, and the scratch allocator's poisoning.
 *
 * Which instruction-set level this compile is for comes from setup.py, which
 * takes it from the one table, src/sepconv/_isa.py:
 *   SEPCONV_LEVEL      the level's name (baseline, avx2, avx512)
 *   SEPCONV_VEC_BYTES  vector width the vector types are declared with
 *   SEPCONV_MR         micro-kernel rows (accumulator tile MR x 2 vectors)
 *   SEPCONV_DW_ROWS    steps per depthwise register block (divides MR)
 *   SEPCONV_DW_TAPS    taps whose weights a stride-1 depthwise block keeps in
 *                      registers at once (0: the block reloads its inputs per tap)
 *   SEPCONV_GEMM_QUARTERS  1: a last partial panel of filters is computed in
 *                      quarters of NR (half vectors), 0: in halves
 *   SEPCONV_ROWS_OUTER 1: the last KC block into rows of y that are not
 *                      whole lines runs row block by row block
 *   SEPCONV_TAIL_PAIRS 1: a one-vector last panel of filters runs two row
 *                      blocks a call (SEPCONV_MR2 = 2 x MR rows)
 *   SEPCONV_GEMM_UNROLL times the micro-kernels' loop over k is unrolled
 *   SEPCONV_DEBUG      1 in SEPCONV_DEBUG=1 builds: poisoned scratch
 * The source never looks at __AVX2__/__FMA__ itself: MSVC, for one, defines
 * __AVX2__ for /arch:AVX2 but never __FMA__.  A compile without these
 * macros (a stray direct build) gets the portable baseline.
 */
#ifndef SEPCONV_MICROKERNELS_H
#define SEPCONV_MICROKERNELS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#define SEPCONV_OPENMP 1
#else
static int omp_get_max_threads(void) { return 1; }
#define SEPCONV_OPENMP 0
#endif

#ifndef SEPCONV_LEVEL
#define SEPCONV_LEVEL baseline
#define SEPCONV_VEC_BYTES 16
#define SEPCONV_MR 6
#define SEPCONV_DW_ROWS 2
#endif
#ifndef SEPCONV_DW_TAPS
#define SEPCONV_DW_TAPS 0
#endif
#ifndef SEPCONV_GEMM_QUARTERS
#define SEPCONV_GEMM_QUARTERS 0
#endif
#ifndef SEPCONV_ROWS_OUTER
#define SEPCONV_ROWS_OUTER 0
#endif
#ifndef SEPCONV_TAIL_PAIRS
#define SEPCONV_TAIL_PAIRS 0
#endif
#ifndef SEPCONV_GEMM_UNROLL
#define SEPCONV_GEMM_UNROLL 1
#endif
#ifndef SEPCONV_DEBUG
#define SEPCONV_DEBUG 0
#endif
#define SEPCONV_STRINGIFY_(word) #word
#define SEPCONV_STRINGIFY(word) SEPCONV_STRINGIFY_(word)
#define SEPCONV_ISA SEPCONV_STRINGIFY(SEPCONV_LEVEL)
/* Before the micro-kernels' loop over k: GCC's (and Clang's) unroll pragma
   where the level's ISA table asks for it, nothing elsewhere (the loop as
   the compiler makes it). */
#if SEPCONV_GEMM_UNROLL > 1
#define SEPCONV_K_UNROLL _Pragma(SEPCONV_STRINGIFY(GCC unroll SEPCONV_GEMM_UNROLL))
#else
#define SEPCONV_K_UNROLL
#endif

/* The same pragma for loops written once for every compiler (others
   unroll as they see fit). */
#if defined(__GNUC__) || defined(__clang__)
#define SEPCONV_UNROLL_8 _Pragma("GCC unroll 8")
#else
#define SEPCONV_UNROLL_8
#endif

#if SEPCONV_MR % SEPCONV_DW_ROWS != 0
#error "SEPCONV_DW_ROWS must divide SEPCONV_MR (see src/sepconv/_isa.py)"
#endif
#if SEPCONV_DW_TAPS != 0 && SEPCONV_DW_TAPS != 4
#error "SEPCONV_DW_TAPS must be 0 or 4: the depthwise groups after the last full one are written for 4"
#endif

/* Whether a channels_last depthwise block of these taps, stride and
   dilation sums its taps through the tap-reuse path (NAME##_reuse below);
   the input staging rule (_stage_pays in _sepconv.pyx) asks too. */
#define SEPCONV_DW_REUSES(taps, stride, dilation)                             \
    (SEPCONV_DW_TAPS != 0 && (stride) == 1 && (dilation) == 1 &&              \
     (taps) >= SEPCONV_DW_TAPS + 3)

/* NR is two vectors wide. */
#define SEPCONV_NR_F32 (2 * SEPCONV_VEC_BYTES / 4)
#define SEPCONV_NR_F64 (2 * SEPCONV_VEC_BYTES / 8)
#define SEPCONV_NR_MAX SEPCONV_NR_F32
/* The kernels' own pass length over the inputs: the raw forward entry
   points and the backward's pass over the filters.  A plan's forward pass
   takes the rule's kc instead (sepconv.tiling.forward_kc: all the inputs
   up to 1024 in one pass). */
#define SEPCONV_KC 256

/* Kernel names state their contract, as XNNPACK's do: operation, dtype,
   register tile (rows x vectors) and level, e.g. sepconv_f32_gemm_8x2v__avx512
   or sepconv_f64_dwconv_6x2v__avx2.  Profilers and debuggers show these. */
#define SEPCONV_PASTE_(a, b, c, d) a##b##c##d
#define SEPCONV_PASTE(a, b, c, d) SEPCONV_PASTE_(a, b, c, d)
#define SEPCONV_F32_GEMM SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR, x2v__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR, x2v__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_ROW SEPCONV_PASTE(sepconv_f32_gemm_, 1, x2v_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_ROW SEPCONV_PASTE(sepconv_f64_gemm_, 1, x2v_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_HALF SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR, x1v__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_HALF SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR, x1v__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_ROW_HALF SEPCONV_PASTE(sepconv_f32_gemm_, 1, x1v__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_ROW_HALF SEPCONV_PASTE(sepconv_f64_gemm_, 1, x1v__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_HALF_STORE SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR, x1v_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_HALF_STORE SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR, x1v_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_ROW_HALF_STORE SEPCONV_PASTE(sepconv_f32_gemm_, 1, x1v_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_ROW_HALF_STORE SEPCONV_PASTE(sepconv_f64_gemm_, 1, x1v_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_3Q SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR, x1hv__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_3Q SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR, x1hv__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_ROW_3Q SEPCONV_PASTE(sepconv_f32_gemm_, 1, x1hv__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_ROW_3Q SEPCONV_PASTE(sepconv_f64_gemm_, 1, x1hv__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_Q SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR, xhv__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_Q SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR, xhv__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_ROW_Q SEPCONV_PASTE(sepconv_f32_gemm_, 1, xhv__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_ROW_Q SEPCONV_PASTE(sepconv_f64_gemm_, 1, xhv__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_3Q_STORE SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR, x1hv_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_3Q_STORE SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR, x1hv_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_ROW_3Q_STORE SEPCONV_PASTE(sepconv_f32_gemm_, 1, x1hv_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_ROW_3Q_STORE SEPCONV_PASTE(sepconv_f64_gemm_, 1, x1hv_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_Q_STORE SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR, xhv_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_Q_STORE SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR, xhv_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_ROW_Q_STORE SEPCONV_PASTE(sepconv_f32_gemm_, 1, xhv_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_ROW_Q_STORE SEPCONV_PASTE(sepconv_f64_gemm_, 1, xhv_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_STORE SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR, x2v_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_STORE SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR, x2v_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F32_DWCONV SEPCONV_PASTE(sepconv_f32_dwconv_, SEPCONV_DW_ROWS, x2v__, SEPCONV_LEVEL)
#define SEPCONV_F64_DWCONV SEPCONV_PASTE(sepconv_f64_dwconv_, SEPCONV_DW_ROWS, x2v__, SEPCONV_LEVEL)
#define SEPCONV_F32_DWCONV_HALF SEPCONV_PASTE(sepconv_f32_dwconv_, SEPCONV_DW_ROWS, x1v__, SEPCONV_LEVEL)
#define SEPCONV_F64_DWCONV_HALF SEPCONV_PASTE(sepconv_f64_dwconv_, SEPCONV_DW_ROWS, x1v__, SEPCONV_LEVEL)
#define SEPCONV_F32_DWCONV_NARROW SEPCONV_PASTE(sepconv_f32_dwconv_, SEPCONV_DW_ROWS, xhv__, SEPCONV_LEVEL)
#define SEPCONV_F64_DWCONV_NARROW SEPCONV_PASTE(sepconv_f64_dwconv_, SEPCONV_DW_ROWS, xhv__, SEPCONV_LEVEL)
#define SEPCONV_F32_DWCONV_FLAT SEPCONV_PASTE(sepconv_f32_dwconv_, flat, _v__, SEPCONV_LEVEL)
#define SEPCONV_F64_DWCONV_FLAT SEPCONV_PASTE(sepconv_f64_dwconv_, flat, _v__, SEPCONV_LEVEL)
#define SEPCONV_F32_DWCONV_FLAT_TABLE SEPCONV_PASTE(sepconv_f32_dwconv_, flat, _v_table__, SEPCONV_LEVEL)
#define SEPCONV_F64_DWCONV_FLAT_TABLE SEPCONV_PASTE(sepconv_f64_dwconv_, flat, _v_table__, SEPCONV_LEVEL)
#define SEPCONV_F32_DWCONV_FEW SEPCONV_PASTE(sepconv_f32_dwconv_, SEPCONV_DW_ROWS, xc__, SEPCONV_LEVEL)
#define SEPCONV_F64_DWCONV_FEW SEPCONV_PASTE(sepconv_f64_dwconv_, SEPCONV_DW_ROWS, xc__, SEPCONV_LEVEL)
#define SEPCONV_F32_DWCONV_CF SEPCONV_PASTE(sepconv_f32_dwconv_cf_, SEPCONV_DW_ROWS, x2v__, SEPCONV_LEVEL)
#define SEPCONV_F64_DWCONV_CF SEPCONV_PASTE(sepconv_f64_dwconv_cf_, SEPCONV_DW_ROWS, x2v__, SEPCONV_LEVEL)
/* The same block with the taps at given offsets (strided channels_first). */
#define SEPCONV_F32_DWCONV_CF_AT SEPCONV_PASTE(sepconv_f32_dwconv_cf_at_, SEPCONV_DW_ROWS, x2v__, SEPCONV_LEVEL)
#define SEPCONV_F64_DWCONV_CF_AT SEPCONV_PASTE(sepconv_f64_dwconv_cf_at_, SEPCONV_DW_ROWS, x2v__, SEPCONV_LEVEL)

/* Scratch memory: ``raw`` comes from malloc(bytes + 64); the scratch starts
   at the first cache line inside it.  Debug builds fill the ``bytes`` with
   all-ones bytes, a NaN both as float and as double, so an element that no
   loop writes and some loop reads turns the outputs that depend on it into
   NaN every time, not only when the heap happens to hold garbage. */
static inline void* sepconv_scratch(void* raw, size_t bytes) {
    void* aligned;
    if (raw == NULL) return NULL;
    aligned = (void*)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
#if SEPCONV_DEBUG
    memset(aligned, 0xFF, bytes);
#else
    (void)bytes;
#endif
    return aligned;
}

/* Ask the cache for rows [first, last) of a (rows x row_bytes) array ahead
   of their use: one prefetch per 64-byte line.  The depthwise loop of a
   tile whose input is not in L2 waits on its lines (Zen 4, 8 x 2048 x 64
   float32, 3 taps: 245 us per sequence against 179 us with the input in
   L2); prefetching two blocks ahead measured 1935 -> 1885 us there, and
   within 0.6% either way on four other shapes. */
static inline void sepconv_prefetch_rows(const void* base, Py_ssize_t row_bytes,
                                         Py_ssize_t first, Py_ssize_t last) {
#if defined(__GNUC__) || defined(__clang__)
    const char* p = (const char*)base + first * row_bytes;
    const char* end = (const char*)base + last * row_bytes;
    for (; p < end; p += 64) __builtin_prefetch(p, 0, 3);
#else
    (void)base; (void)row_bytes; (void)first; (void)last;
#endif
}

/* Prefetch up to ``lines`` 64-byte lines from p on (none at or past end)
   and return where the next call should go on.  A thread spreads the next
   work item's input over the micro-kernel calls of the current one, which
   leave load slots free, so that the item's depthwise loop finds its input
   in cache.  Locality 2 (prefetcht1): lines a whole tile ahead should not
   push the current tile out of L1; on Zen 4 it measured the same as
   prefetcht0 within the noise. */
static inline const char* sepconv_prefetch_ahead(const char* p, const char* end,
                                                 Py_ssize_t lines) {
#if defined(__GNUC__) || defined(__clang__)
    for (; lines > 0 && p < end; --lines, p += 64) __builtin_prefetch(p, 0, 2);
#else
    (void)end;
    p += 64 * lines;
#endif
    return p;
}

/* Ask for the lines that a storing micro-kernel's ``rows`` rows of
   ``bytes`` each (``row_bytes`` apart) will be written to, before its sum
   starts (the caller does this when the output is too large to stay in
   cache from one call to the next; see _forward).  Without it the MR x 2
   vector stores at the end of the call wait for their lines from L3 or
   memory with the store queue full (Zen 4: long_b1 and s4k8_b8 1.3x the
   time).  With ``shared_first``, a row that starts inside a line skips
   that line: the call just before (the panel to its left) asked for it
   and is still storing into it, and asking again cost misaligned outputs
   up to 9% (s4k8_b8 at 16 mod 64, float32 AVX-512: 1.11x the aligned
   time with the second request, 1.03x without). */
static inline void sepconv_prefetch_out(const void* out, Py_ssize_t row_bytes,
                                        int rows, int bytes, int shared_first) {
#if defined(__GNUC__) || defined(__clang__)
    const char* p = (const char*)out;
    for (int i = 0; i < rows; ++i, p += row_bytes) {
        const char* q = p;
        const char* end = p + bytes;
        if (shared_first && ((uintptr_t)p & 63) != 0)
            q = (const char*)(((uintptr_t)p | 63) + 1);
        for (; q < end; q += 64) __builtin_prefetch(q, 1, 3);
        __builtin_prefetch(end - 1, 1, 3);
    }
#else
    (void)out; (void)row_bytes; (void)rows; (void)bytes; (void)shared_first;
#endif
}

/* The micro-kernel: an MR x (2 vectors) tile of accumulators.  Written
   with GCC/Clang vector extensions, which lower to the vector width of
   the level being compiled; plain loops left the tile's fate to the
   compiler's scalar-replacement heuristics, and float64 (and AVX2)
   builds fell to ~4 GFLOP/s.  Loads and stores go through memcpy, which
   compiles to unaligned vector moves.

   Two entry points: NAME accumulates into C (rows c_row apart); STORE
   (named ..._minmax__level, XNNPACK's word for a fused clamp)
   ends the sum (``first`` as for NAME, partial sums read from C) and
   writes act(acc + bias) to OUT (rows out_row apart) instead, so the last
   block of a tile goes straight to the layer's output with no second pass
   over it.  bias_mode: 0 none, 1 one per column (bias[0..NR)), 2 one per
   row (bias[0..MR)).  act: SEPCONV_ACT_* below, the activations with no
   transcendental function (others are applied by the caller afterwards,
   in place).  The epilogue's arithmetic is exactly the scalar store's
   (one rounding for the bias add; NaN and -0.0 kept as v < 0 ? ... : v
   keeps them), so the result is bitwise the same either way. */
enum { SEPCONV_ACT_LINEAR = 0, SEPCONV_ACT_RELU = 1, SEPCONV_ACT_RELU6 = 2,
       SEPCONV_ACT_LEAKY_RELU = 3 };
#if defined(__GNUC__) || defined(__clang__)
typedef float sepconv_vf __attribute__((vector_size(SEPCONV_VEC_BYTES)));
typedef double sepconv_vd __attribute__((vector_size(SEPCONV_VEC_BYTES)));
typedef float sepconv_vf_half __attribute__((vector_size(SEPCONV_VEC_BYTES / 2)));
typedef double sepconv_vd_half __attribute__((vector_size(SEPCONV_VEC_BYTES / 2)));
typedef int32_t sepconv_vfi __attribute__((vector_size(SEPCONV_VEC_BYTES)));
typedef int64_t sepconv_vdi __attribute__((vector_size(SEPCONV_VEC_BYTES)));
typedef int32_t sepconv_vfi_half __attribute__((vector_size(SEPCONV_VEC_BYTES / 2)));
typedef int64_t sepconv_vdi_half __attribute__((vector_size(SEPCONV_VEC_BYTES / 2)));

/* act(v) on a vector, lane by lane as the scalar epilogue does it.  GCC's C
   front end has no vector ?:, so selects are masks. */
#define SEPCONV_DEFINE_ACT(NAME, T, VT, VI)                                  \
static inline VT NAME(VT v, int act) {                                       \
    const VT zero = {0};                                                     \
    if (act == SEPCONV_ACT_RELU) {                                           \
        return (VT)((VI)v & ~(VI)(v < zero));                                \
    } else if (act == SEPCONV_ACT_RELU6) {                                   \
        VT six = zero + (T)6;                                                \
        VI big;                                                              \
        v = (VT)((VI)v & ~(VI)(v < zero));                                   \
        big = (VI)(v > six);                                                 \
        return (VT)(((VI)v & ~big) | ((VI)six & big));                       \
    } else if (act == SEPCONV_ACT_LEAKY_RELU) {                              \
        VI negative = (VI)(v < zero);                                        \
        VT scaled = v * (T)0.2;                                              \
        return (VT)(((VI)scaled & negative) | ((VI)v & ~negative));          \
    }                                                                        \
    return v;                                                                \
}
SEPCONV_DEFINE_ACT(sepconv_act_vf, float, sepconv_vf, sepconv_vfi)
SEPCONV_DEFINE_ACT(sepconv_act_vd, double, sepconv_vd, sepconv_vdi)
SEPCONV_DEFINE_ACT(sepconv_act_vf_half, float, sepconv_vf_half, sepconv_vfi_half)
SEPCONV_DEFINE_ACT(sepconv_act_vd_half, double, sepconv_vd_half, sepconv_vdi_half)

/* put(out, v, n): the first n lanes of v (0 < n <= lanes) to out, nothing
   past them: the last, partial panel of filters stored straight into the
   layer's output, whose row ends there (the next row, or the end of the
   array).  AVX-512 stores under a lane mask (masked-off lanes neither
   write nor fault), AVX2 in whole 16-, 8- and 4-byte pieces, other levels
   lane by lane. */
#if SEPCONV_VEC_BYTES >= 32 && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif
#if SEPCONV_VEC_BYTES == 64 && (defined(__x86_64__) || defined(__i386__))
static inline void sepconv_put_vf(float* out, sepconv_vf v, int n) {
    _mm512_mask_storeu_ps(out, (__mmask16)((1u << n) - 1u), (__m512)v);
}
static inline void sepconv_put_vf_half(float* out, sepconv_vf_half v, int n) {
    _mm256_mask_storeu_ps(out, (__mmask8)((1u << n) - 1u), (__m256)v);
}
static inline void sepconv_put_vd(double* out, sepconv_vd v, int n) {
    _mm512_mask_storeu_pd(out, (__mmask8)((1u << n) - 1u), (__m512d)v);
}
static inline void sepconv_put_vd_half(double* out, sepconv_vd_half v, int n) {
    _mm256_mask_storeu_pd(out, (__mmask8)((1u << n) - 1u), (__m256d)v);
}
#elif SEPCONV_VEC_BYTES == 32 && (defined(__x86_64__) || defined(__i386__))
/* AVX2's masked store (vmaskmovps) is a long microcoded sequence on AMD
   cores; pieces store the same lanes.  Zen 3, 1 thread, bench/ab.py
   against the masked store, out at 16 mod 64: 18 filters (a last panel
   of 2) 0.79-0.92x the time, 73, 17 and 19 filters 0.95-0.97x, 124 and
   265 0.93x; 100 filters (a half-vector panel of 4) and the named cases
   0.99-1.01x. */
static inline void sepconv_put_vf_half(float* out, sepconv_vf_half v, int n) {
    __m128 q = (__m128)v;
    if (n >= 4) {
        _mm_storeu_ps(out, q);
        return;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64*)out, q);
        q = _mm_movehl_ps(q, q);
        out += 2;
        n -= 2;
    }
    if (n) _mm_store_ss(out, q);
}
static inline void sepconv_put_vf(float* out, sepconv_vf v, int n) {
    __m256 a = (__m256)v;
    if (n >= 4) {
        _mm_storeu_ps(out, _mm256_castps256_ps128(a));
        sepconv_put_vf_half(out + 4, (sepconv_vf_half)_mm256_extractf128_ps(a, 1), n - 4);
        return;
    }
    sepconv_put_vf_half(out, (sepconv_vf_half)_mm256_castps256_ps128(a), n);
}
static inline void sepconv_put_vd(double* out, sepconv_vd v, int n) {
    __m256d a = (__m256d)v;
    __m128d q = _mm256_castpd256_pd128(a);
    if (n >= 2) {
        _mm_storeu_pd(out, q);
        q = _mm256_extractf128_pd(a, 1);
        out += 2;
        n -= 2;
    }
    if (n >= 2) _mm_storeu_pd(out, q);
    else if (n) _mm_store_sd(out, q);
}
static inline void sepconv_put_vd_half(double* out, sepconv_vd_half v, int n) {
    out[0] = v[0];   /* two lanes */
    if (n > 1) out[1] = v[1];
}
#else
#define SEPCONV_DEFINE_PUT(NAME, T, VT)                                       \
static inline void NAME(T* out, VT v, int n) {                               \
    for (int j = 0; j < n; ++j) out[j] = v[j];                               \
}
SEPCONV_DEFINE_PUT(sepconv_put_vf, float, sepconv_vf)
SEPCONV_DEFINE_PUT(sepconv_put_vf_half, float, sepconv_vf_half)
SEPCONV_DEFINE_PUT(sepconv_put_vd, double, sepconv_vd)
SEPCONV_DEFINE_PUT(sepconv_put_vd_half, double, sepconv_vd_half)
#endif

/* STORE: ROWS rows (MR, or 1 for the rows of a tile's last partial block)
   x COLS columns: a vector of type VLO, then (HI) one of type VHI: two full
   vectors, or for the last panel of filters one full and one half vector,
   one vector, or one half vector (see below). */
#define SEPCONV_DEFINE_STORE(STORE, ROWS, COLS, HI, T, VLO, VHI, ACTLO, ACTHI, PUTLO, PUTHI) \
static inline void STORE(Py_ssize_t kc, const T* a, Py_ssize_t a_row,          \
                         Py_ssize_t a_col, const T* b, Py_ssize_t b_row,      \
                         const T* c, Py_ssize_t c_row, int first,             \
                         T* out, Py_ssize_t out_row, const T* bias,           \
                         int bias_mode, int act, int cols) {                  \
    enum { LANES = sizeof(VLO) / sizeof(T) };  /* where the VHI part starts */ \
    VLO lo[ROWS];                                                              \
    VHI hi[ROWS];                                                              \
    _Pragma("GCC unroll 16")                                                   \
    for (int i = 0; i < ROWS; ++i) {                                           \
        lo[i] = (VLO){0}; hi[i] = (VHI){0};                                    \
        if (!first) {                                                          \
            memcpy(&lo[i], c + i * c_row, sizeof(VLO));                        \
            if (HI) memcpy(&hi[i], c + i * c_row + LANES, sizeof(VHI));        \
        }                                                                      \
    }                                                                          \
    SEPCONV_K_UNROLL                                                           \
    for (Py_ssize_t k = 0; k < kc; ++k) {                                      \
        VLO b0;                                                                \
        VHI b1 = {0};                                                          \
        memcpy(&b0, b + k * b_row, sizeof(VLO));                               \
        if (HI) memcpy(&b1, b + k * b_row + LANES, sizeof(VHI));               \
        _Pragma("GCC unroll 16")                                               \
        for (int i = 0; i < ROWS; ++i) {                                       \
            T s = a[i * a_row + k * a_col]; /* splat by vector*scalar */       \
            lo[i] += b0 * s;                                                   \
            if (HI) hi[i] += b1 * s;                                           \
        }                                                                      \
    }                                                                          \
    if (bias_mode == 1) {                                                      \
        VLO b0;                                                                \
        VHI b1 = {0};                                                          \
        memcpy(&b0, bias, sizeof(VLO));                                        \
        if (HI) memcpy(&b1, bias + LANES, sizeof(VHI));                        \
        _Pragma("GCC unroll 16")                                               \
        for (int i = 0; i < ROWS; ++i) { lo[i] += b0; hi[i] += b1; }           \
    } else if (bias_mode == 2) {                                               \
        _Pragma("GCC unroll 16")                                               \
        for (int i = 0; i < ROWS; ++i) { lo[i] += bias[i]; hi[i] += bias[i]; } \
    }                                                                          \
    if (act != SEPCONV_ACT_LINEAR) {                                           \
        _Pragma("GCC unroll 16")                                               \
        for (int i = 0; i < ROWS; ++i) {                                       \
            lo[i] = ACTLO(lo[i], act);                                         \
            hi[i] = ACTHI(hi[i], act);                                         \
        }                                                                      \
    }                                                                          \
    if (cols >= (int)(COLS)) {                                                 \
        _Pragma("GCC unroll 16")                                               \
        for (int i = 0; i < ROWS; ++i) {                                       \
            memcpy(out + i * out_row, &lo[i], sizeof(VLO));                    \
            if (HI) memcpy(out + i * out_row + LANES, &hi[i], sizeof(VHI));    \
        }                                                                      \
    } else if (HI && cols > LANES) {                                           \
        _Pragma("GCC unroll 16")                                               \
        for (int i = 0; i < ROWS; ++i) {                                       \
            memcpy(out + i * out_row, &lo[i], sizeof(VLO));                    \
            PUTHI(out + i * out_row + LANES, hi[i], cols - LANES);             \
        }                                                                      \
    } else {                                                                   \
        _Pragma("GCC unroll 16")                                               \
        for (int i = 0; i < ROWS; ++i) PUTLO(out + i * out_row, lo[i], cols);  \
    }                                                                          \
}
#else
/* Other compilers: the same computation as plain loops. */
#define SEPCONV_DEFINE_STORE(STORE, ROWS, COLS, HI, T, VLO, VHI, ACTLO, ACTHI, PUTLO, PUTHI) \
static inline void STORE(Py_ssize_t kc, const T* a, Py_ssize_t a_row,          \
                         Py_ssize_t a_col, const T* b, Py_ssize_t b_row,      \
                         const T* c, Py_ssize_t c_row, int first,             \
                         T* out, Py_ssize_t out_row, const T* bias,           \
                         int bias_mode, int act, int cols) {                  \
    const int nr = cols < (int)(COLS) ? cols : (int)(COLS);                    \
    for (int i = 0; i < ROWS; ++i)                                             \
        for (int j = 0; j < nr; ++j) {                                         \
            T acc = first ? (T)0 : c[i * c_row + j];                           \
            for (Py_ssize_t k = 0; k < kc; ++k)                                \
                acc += a[i * a_row + k * a_col] * b[k * b_row + j];            \
            if (bias_mode == 1) acc += bias[j];                                \
            else if (bias_mode == 2) acc += bias[i];                           \
            if (act == SEPCONV_ACT_RELU) acc = acc < 0 ? (T)0 : acc;           \
            else if (act == SEPCONV_ACT_RELU6) {                               \
                acc = acc < 0 ? (T)0 : acc; acc = acc > 6 ? (T)6 : acc; }      \
            else if (act == SEPCONV_ACT_LEAKY_RELU) acc = acc < 0 ? (T)0.2 * acc : acc; \
            out[i * out_row + j] = acc;                                        \
        }                                                                      \
}
#endif

/* NAME: MR rows accumulated into C (the storing kernel with C as output). */
#define SEPCONV_DEFINE_MICRO(NAME, STORE, T)                                  \
static inline void NAME(Py_ssize_t kc, const T* a, Py_ssize_t a_row,          \
                        Py_ssize_t a_col, const T* b, Py_ssize_t b_row,       \
                        T* c, Py_ssize_t c_row, int first) {                  \
    STORE(kc, a, a_row, a_col, b, b_row, c, c_row, first, c, c_row,           \
          NULL, 0, SEPCONV_ACT_LINEAR, (int)SEPCONV_NR_MAX);                   \
}

SEPCONV_DEFINE_STORE(SEPCONV_F32_GEMM_STORE, SEPCONV_MR, SEPCONV_NR_F32, 1, float, sepconv_vf, sepconv_vf,
                     sepconv_act_vf, sepconv_act_vf, sepconv_put_vf, sepconv_put_vf)
SEPCONV_DEFINE_STORE(SEPCONV_F64_GEMM_STORE, SEPCONV_MR, SEPCONV_NR_F64, 1, double, sepconv_vd, sepconv_vd,
                     sepconv_act_vd, sepconv_act_vd, sepconv_put_vd, sepconv_put_vd)
SEPCONV_DEFINE_MICRO(SEPCONV_F32_GEMM, SEPCONV_F32_GEMM_STORE, float)
SEPCONV_DEFINE_MICRO(SEPCONV_F64_GEMM, SEPCONV_F64_GEMM_STORE, double)

/* One row of the storing kernel, for the last rows of a tile that do not
   fill an MR block (a stream's push of one step computes one row, not MR):
   each element is the same chain of multiply-adds, in the same order, as in
   the MR-row kernel, so the bits are the same. */
SEPCONV_DEFINE_STORE(SEPCONV_F32_GEMM_ROW, 1, SEPCONV_NR_F32, 1, float, sepconv_vf, sepconv_vf,
                     sepconv_act_vf, sepconv_act_vf, sepconv_put_vf, sepconv_put_vf)
SEPCONV_DEFINE_STORE(SEPCONV_F64_GEMM_ROW, 1, SEPCONV_NR_F64, 1, double, sepconv_vd, sepconv_vd,
                     sepconv_act_vd, sepconv_act_vd, sepconv_put_vd, sepconv_put_vd)

/* R rows (1 or 2) across P panels of filters at once (P = 4 or 2), storing
   as the row kernel does (c read unless first; bias_mode 0 or 1; out's
   panels, like c's and the bias's, NR apart; rows a_row, c_row and out_row
   apart; the packed panels b_panel apart).  A row is one chain of
   multiply-adds per vector; the one-panel row kernel has two, so it waits on
   the FMA latency (4 cycles on Zen 3 and 4) with the pipes mostly idle, and
   the rows past a tile's last MR block took a panel at a time.  R x P panels
   keep 2RP chains in flight, and two rows share each load of the weights
   (which come from L2 once the panels outgrow L1).  Each element's chain is
   the row kernel's, in the same order: the same bits. */
#define SEPCONV_ROW_PANELS_NAME(T, R, P) SEPCONV_PASTE(sepconv_##T##_gemm_, R, x##P##v_minmax__, SEPCONV_LEVEL)
#if defined(__GNUC__) || defined(__clang__)
#define SEPCONV_DEFINE_ROW_PANELS(NAME, R, P, T, VT, ACT)                     \
static inline void NAME(Py_ssize_t kc, const T* a, Py_ssize_t a_row,          \
                        Py_ssize_t a_col, const T* b, Py_ssize_t b_row,       \
                        Py_ssize_t b_panel, const T* c, Py_ssize_t c_row,     \
                        int first, T* out, Py_ssize_t out_row, const T* bias, \
                        int bias_mode, int act) {                              \
    enum { LANES = sizeof(VT) / sizeof(T) };                                   \
    VT acc[R][2 * (P)];                                                        \
    _Pragma("GCC unroll 16")                                                   \
    for (int i = 0; i < (R); ++i)                                              \
        _Pragma("GCC unroll 16")                                               \
        for (int j = 0; j < 2 * (P); ++j) {                                    \
            acc[i][j] = (VT){0};                                               \
            if (!first) memcpy(&acc[i][j], c + i * c_row + j * LANES, sizeof(VT)); \
        }                                                                      \
    SEPCONV_K_UNROLL                                                           \
    for (Py_ssize_t k = 0; k < kc; ++k) {                                      \
        _Pragma("GCC unroll 16")                                               \
        for (int p = 0; p < (P); ++p) {                                        \
            VT b0, b1;                                                         \
            memcpy(&b0, b + p * b_panel + k * b_row, sizeof(VT));              \
            memcpy(&b1, b + p * b_panel + k * b_row + LANES, sizeof(VT));      \
            _Pragma("GCC unroll 16")                                           \
            for (int i = 0; i < (R); ++i) {                                    \
                T s = a[i * a_row + k * a_col];                                \
                acc[i][2 * p] += b0 * s;                                       \
                acc[i][2 * p + 1] += b1 * s;                                   \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    _Pragma("GCC unroll 16")                                                   \
    for (int i = 0; i < (R); ++i) {                                            \
        _Pragma("GCC unroll 16")                                               \
        for (int j = 0; j < 2 * (P); ++j) {                                    \
            if (bias_mode == 1) {                                              \
                VT bv;                                                         \
                memcpy(&bv, bias + j * LANES, sizeof(VT));                     \
                acc[i][j] += bv;                                               \
            }                                                                  \
            if (act != SEPCONV_ACT_LINEAR) acc[i][j] = ACT(acc[i][j], act);    \
            memcpy(out + i * out_row + j * LANES, &acc[i][j], sizeof(VT));     \
        }                                                                      \
    }                                                                          \
}
#else
#define SEPCONV_DEFINE_ROW_PANELS(NAME, R, P, T, VT, ACT)                     \
static inline void NAME(Py_ssize_t kc, const T* a, Py_ssize_t a_row,          \
                        Py_ssize_t a_col, const T* b, Py_ssize_t b_row,       \
                        Py_ssize_t b_panel, const T* c, Py_ssize_t c_row,     \
                        int first, T* out, Py_ssize_t out_row, const T* bias, \
                        int bias_mode, int act) {                              \
    const int nr = 2 * SEPCONV_VEC_BYTES / (int)sizeof(T);                     \
    for (int i = 0; i < (R); ++i)                                              \
        for (int p = 0; p < (P); ++p)                                          \
            for (int j = 0; j < nr; ++j) {                                     \
                T acc = first ? (T)0 : c[i * c_row + p * nr + j];              \
                for (Py_ssize_t k = 0; k < kc; ++k)                            \
                    acc += a[i * a_row + k * a_col] * b[p * b_panel + k * b_row + j]; \
                if (bias_mode == 1) acc += bias[p * nr + j];                   \
                if (act == SEPCONV_ACT_RELU) acc = acc < 0 ? (T)0 : acc;       \
                else if (act == SEPCONV_ACT_RELU6) {                           \
                    acc = acc < 0 ? (T)0 : acc; acc = acc > 6 ? (T)6 : acc; }  \
                else if (act == SEPCONV_ACT_LEAKY_RELU) acc = acc < 0 ? (T)0.2 * acc : acc; \
                out[i * out_row + p * nr + j] = acc;                           \
            }                                                                  \
}
#endif
#define SEPCONV_F32_GEMM_R1P4 SEPCONV_ROW_PANELS_NAME(f32, 1, 8)
#define SEPCONV_F64_GEMM_R1P4 SEPCONV_ROW_PANELS_NAME(f64, 1, 8)
#define SEPCONV_F32_GEMM_R1P2 SEPCONV_ROW_PANELS_NAME(f32, 1, 4)
#define SEPCONV_F64_GEMM_R1P2 SEPCONV_ROW_PANELS_NAME(f64, 1, 4)
#define SEPCONV_F32_GEMM_R2P2 SEPCONV_ROW_PANELS_NAME(f32, 2, 4)
#define SEPCONV_F64_GEMM_R2P2 SEPCONV_ROW_PANELS_NAME(f64, 2, 4)
SEPCONV_DEFINE_ROW_PANELS(SEPCONV_F32_GEMM_R1P4, 1, 4, float, sepconv_vf, sepconv_act_vf)
SEPCONV_DEFINE_ROW_PANELS(SEPCONV_F64_GEMM_R1P4, 1, 4, double, sepconv_vd, sepconv_act_vd)
SEPCONV_DEFINE_ROW_PANELS(SEPCONV_F32_GEMM_R1P2, 1, 2, float, sepconv_vf, sepconv_act_vf)
SEPCONV_DEFINE_ROW_PANELS(SEPCONV_F64_GEMM_R1P2, 1, 2, double, sepconv_vd, sepconv_act_vd)
SEPCONV_DEFINE_ROW_PANELS(SEPCONV_F32_GEMM_R2P2, 2, 2, float, sepconv_vf, sepconv_act_vf)
SEPCONV_DEFINE_ROW_PANELS(SEPCONV_F64_GEMM_R2P2, 2, 2, double, sepconv_vd, sepconv_act_vd)

/* The same two shapes one vector wide, storing and accumulating into C
   (NAME's contract), for the last panel of filters when it is at most half
   full (72 filters at AVX-512 float32: panels of 32, 32 and 8): the packed
   panel is still NR wide (its rows b_row = NR apart), these read its first
   half.  Each element's chain is the one of the two-vector kernels, so the
   bits are the same. */
SEPCONV_DEFINE_STORE(SEPCONV_F32_GEMM_HALF_STORE, SEPCONV_MR, SEPCONV_NR_F32 / 2, 0, float, sepconv_vf,
                     sepconv_vf, sepconv_act_vf, sepconv_act_vf, sepconv_put_vf, sepconv_put_vf)
SEPCONV_DEFINE_STORE(SEPCONV_F64_GEMM_HALF_STORE, SEPCONV_MR, SEPCONV_NR_F64 / 2, 0, double, sepconv_vd,
                     sepconv_vd, sepconv_act_vd, sepconv_act_vd, sepconv_put_vd, sepconv_put_vd)
SEPCONV_DEFINE_STORE(SEPCONV_F32_GEMM_ROW_HALF_STORE, 1, SEPCONV_NR_F32 / 2, 0, float, sepconv_vf,
                     sepconv_vf, sepconv_act_vf, sepconv_act_vf, sepconv_put_vf, sepconv_put_vf)
SEPCONV_DEFINE_STORE(SEPCONV_F64_GEMM_ROW_HALF_STORE, 1, SEPCONV_NR_F64 / 2, 0, double, sepconv_vd,
                     sepconv_vd, sepconv_act_vd, sepconv_act_vd, sepconv_put_vd, sepconv_put_vd)
SEPCONV_DEFINE_MICRO(SEPCONV_F32_GEMM_HALF, SEPCONV_F32_GEMM_HALF_STORE, float)
SEPCONV_DEFINE_MICRO(SEPCONV_F64_GEMM_HALF, SEPCONV_F64_GEMM_HALF_STORE, double)
SEPCONV_DEFINE_MICRO(SEPCONV_F32_GEMM_ROW_HALF, SEPCONV_F32_GEMM_ROW_HALF_STORE, float)
SEPCONV_DEFINE_MICRO(SEPCONV_F64_GEMM_ROW_HALF, SEPCONV_F64_GEMM_ROW_HALF_STORE, double)

/* PAIR: the one-vector shape over two row blocks (2 x MR rows) at once, for
   levels whose ISA table sets tail_pairs (AVX2): MR one-vector chains (6)
   are fewer than two 4-cycle FMA pipes need (8), 2 x MR are enough; 12
   accumulators + 1 B vector + 1 broadcast fit 16 registers.  The same
   chains, so the same bits.  Elsewhere the names stand for the MR-row
   kernels and are never called. */
#if SEPCONV_TAIL_PAIRS
#define SEPCONV_F32_GEMM_PAIR SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR2, x1v__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_PAIR SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR2, x1v__, SEPCONV_LEVEL)
#define SEPCONV_F32_GEMM_PAIR_STORE SEPCONV_PASTE(sepconv_f32_gemm_, SEPCONV_MR2, x1v_minmax__, SEPCONV_LEVEL)
#define SEPCONV_F64_GEMM_PAIR_STORE SEPCONV_PASTE(sepconv_f64_gemm_, SEPCONV_MR2, x1v_minmax__, SEPCONV_LEVEL)
SEPCONV_DEFINE_STORE(SEPCONV_F32_GEMM_PAIR_STORE, 2 * SEPCONV_MR, SEPCONV_NR_F32 / 2, 0, float, sepconv_vf,
                     sepconv_vf, sepconv_act_vf, sepconv_act_vf, sepconv_put_vf, sepconv_put_vf)
SEPCONV_DEFINE_STORE(SEPCONV_F64_GEMM_PAIR_STORE, 2 * SEPCONV_MR, SEPCONV_NR_F64 / 2, 0, double, sepconv_vd,
                     sepconv_vd, sepconv_act_vd, sepconv_act_vd, sepconv_put_vd, sepconv_put_vd)
SEPCONV_DEFINE_MICRO(SEPCONV_F32_GEMM_PAIR, SEPCONV_F32_GEMM_PAIR_STORE, float)
SEPCONV_DEFINE_MICRO(SEPCONV_F64_GEMM_PAIR, SEPCONV_F64_GEMM_PAIR_STORE, double)
#else
#define SEPCONV_F32_GEMM_PAIR SEPCONV_F32_GEMM_HALF
#define SEPCONV_F64_GEMM_PAIR SEPCONV_F64_GEMM_HALF
#define SEPCONV_F32_GEMM_PAIR_STORE SEPCONV_F32_GEMM_HALF_STORE
#define SEPCONV_F64_GEMM_PAIR_STORE SEPCONV_F64_GEMM_HALF_STORE
#endif

/* Narrower still, for levels whose ISA table sets gemm_quarters (AVX-512):
   a last panel of filters at most three quarters full takes one full and
   one half vector (120 filters at float32: panels of 32, 32, 32 and 24), one
   at most a quarter full a half vector (72 filters: 32, 32 and 8).  On Zen 4
   a 256-bit FMA takes half the issue slots of a 512-bit one, so the panel
   costs a quarter (or a half) less (measured: README); Sapphire Rapids
   issues either in one port slot, so there it should cost the same (not
   measured).  The same chains, so the same bits.  The kernels used
   accumulate into C: that panel goes through the C tile. */
SEPCONV_DEFINE_STORE(SEPCONV_F32_GEMM_3Q_STORE, SEPCONV_MR, SEPCONV_NR_F32 * 3 / 4, 1, float, sepconv_vf,
                     sepconv_vf_half, sepconv_act_vf, sepconv_act_vf_half, sepconv_put_vf, sepconv_put_vf_half)
SEPCONV_DEFINE_STORE(SEPCONV_F64_GEMM_3Q_STORE, SEPCONV_MR, SEPCONV_NR_F64 * 3 / 4, 1, double, sepconv_vd,
                     sepconv_vd_half, sepconv_act_vd, sepconv_act_vd_half, sepconv_put_vd, sepconv_put_vd_half)
SEPCONV_DEFINE_STORE(SEPCONV_F32_GEMM_ROW_3Q_STORE, 1, SEPCONV_NR_F32 * 3 / 4, 1, float, sepconv_vf,
                     sepconv_vf_half, sepconv_act_vf, sepconv_act_vf_half, sepconv_put_vf, sepconv_put_vf_half)
SEPCONV_DEFINE_STORE(SEPCONV_F64_GEMM_ROW_3Q_STORE, 1, SEPCONV_NR_F64 * 3 / 4, 1, double, sepconv_vd,
                     sepconv_vd_half, sepconv_act_vd, sepconv_act_vd_half, sepconv_put_vd, sepconv_put_vd_half)
SEPCONV_DEFINE_STORE(SEPCONV_F32_GEMM_Q_STORE, SEPCONV_MR, SEPCONV_NR_F32 / 4, 0, float, sepconv_vf_half,
                     sepconv_vf_half, sepconv_act_vf_half, sepconv_act_vf_half, sepconv_put_vf_half, sepconv_put_vf_half)
SEPCONV_DEFINE_STORE(SEPCONV_F64_GEMM_Q_STORE, SEPCONV_MR, SEPCONV_NR_F64 / 4, 0, double, sepconv_vd_half,
                     sepconv_vd_half, sepconv_act_vd_half, sepconv_act_vd_half, sepconv_put_vd_half, sepconv_put_vd_half)
SEPCONV_DEFINE_STORE(SEPCONV_F32_GEMM_ROW_Q_STORE, 1, SEPCONV_NR_F32 / 4, 0, float, sepconv_vf_half,
                     sepconv_vf_half, sepconv_act_vf_half, sepconv_act_vf_half, sepconv_put_vf_half, sepconv_put_vf_half)
SEPCONV_DEFINE_STORE(SEPCONV_F64_GEMM_ROW_Q_STORE, 1, SEPCONV_NR_F64 / 4, 0, double, sepconv_vd_half,
                     sepconv_vd_half, sepconv_act_vd_half, sepconv_act_vd_half, sepconv_put_vd_half, sepconv_put_vd_half)
SEPCONV_DEFINE_MICRO(SEPCONV_F32_GEMM_3Q, SEPCONV_F32_GEMM_3Q_STORE, float)
SEPCONV_DEFINE_MICRO(SEPCONV_F64_GEMM_3Q, SEPCONV_F64_GEMM_3Q_STORE, double)
SEPCONV_DEFINE_MICRO(SEPCONV_F32_GEMM_ROW_3Q, SEPCONV_F32_GEMM_ROW_3Q_STORE, float)
SEPCONV_DEFINE_MICRO(SEPCONV_F64_GEMM_ROW_3Q, SEPCONV_F64_GEMM_ROW_3Q_STORE, double)
SEPCONV_DEFINE_MICRO(SEPCONV_F32_GEMM_Q, SEPCONV_F32_GEMM_Q_STORE, float)
SEPCONV_DEFINE_MICRO(SEPCONV_F64_GEMM_Q, SEPCONV_F64_GEMM_Q_STORE, double)
SEPCONV_DEFINE_MICRO(SEPCONV_F32_GEMM_ROW_Q, SEPCONV_F32_GEMM_ROW_Q_STORE, float)
SEPCONV_DEFINE_MICRO(SEPCONV_F64_GEMM_ROW_Q, SEPCONV_F64_GEMM_ROW_Q_STORE, double)

/* One register block of the channels_last depthwise loop: DW_ROWS steps
   x VECS (2, or 1 for a remainder of at most one vector) vectors of
   channels, summed over every tap in order, skipping taps outside the
   input.  Input step p (0 <= p < steps) is the row at
   x + (p - origin) * ldx: the caller's array (origin 0, ldx the channel
   count) or a 64-byte aligned copy of the rows a tile reads.  x points at
   channel cb, w at the weights of tap 0 for these channels, d at the first
   output row. */
#if defined(__GNUC__) || defined(__clang__)
/* The end of every depthwise block: DW_ROWS rows of VECS accumulator
   vectors each (lo, then hi) written to d, rows ld apart. */
#define SEPCONV_DW_STORE_VECS(d, ld, lo, hi, VT, LANES, VECS)                 \
    do {                                                                       \
        _Pragma("GCC unroll 8")                                                \
        for (int r_ = 0; r_ < SEPCONV_DW_ROWS; ++r_) {                         \
            memcpy((d) + r_ * (ld), &(lo)[r_], sizeof(VT));                    \
            if ((VECS) == 2) memcpy((d) + r_ * (ld) + (LANES), &(hi)[r_], sizeof(VT)); \
        }                                                                      \
    } while (0)
#define SEPCONV_DW_STORE(d, ld, lo, hi, VT, LANES) SEPCONV_DW_STORE_VECS(d, ld, lo, hi, VT, LANES, 2)

/* NAME##_taps (stride 1, dilation 1, every tap inside): the block's sums
   over ``n`` taps (a constant once inlined, at most SEPCONV_DW_TAPS) from
   tap 0 of xk and wk on.  Row r's tap t reads input row r + t, so each of
   the DW_ROWS + n - 1 input rows is loaded once and multiplied by the
   weights of every tap that meets it, held in registers: per tap and row,
   (DW_ROWS + n - 1) / n loads where the per-tap loop below makes one per
   multiply-add.  For a fixed row the taps still come in order (t = j - r
   grows with the input row j), so every sum is the same chain of
   multiply-adds and the same bits.  Needs 2 x DW_ROWS accumulators, 2 x n
   weights and 2 inputs in registers: 26 of AVX-512's 32 at 8 rows and 4
   taps.  Zen 4, 8 x 2-vector blocks on data in cache: 33 taps 80 -> 95
   GFLOP/s, 9 taps 62 -> 68, 7 taps +0-17%, 5 taps +5%, 4 taps (one group)
   6-9% slower; whole calls (bench/ab.py, 1 thread): quartz_b8 and
   quartz_b1 (33 taps) -3%, long_b1 (9) -2.4%, audio_b1 (9) -1%, c100_b4
   (7) -1%, thru_b32 and c40_b1 (5) 0 and +1%.  Used from 7 taps on. */
#if SEPCONV_DW_TAPS
#define SEPCONV_DEFINE_DW_TAPS(NAME, T, VT, VECS)                             \
static inline __attribute__((always_inline)) void NAME##_taps(                \
        const T* xk, Py_ssize_t ldx, const T* wk, Py_ssize_t width,           \
        VT* lo, VT* hi, const int n) {                                         \
    enum { LANES = SEPCONV_VEC_BYTES / sizeof(T) };                            \
    VT w0[SEPCONV_DW_TAPS], w1[SEPCONV_DW_TAPS];                               \
    _Pragma("GCC unroll 8")                                                    \
    for (int t = 0; t < n; ++t) {                                              \
        memcpy(&w0[t], wk + t * width, sizeof(VT));                            \
        if (VECS == 2) memcpy(&w1[t], wk + t * width + LANES, sizeof(VT));     \
    }                                                                          \
    _Pragma("GCC unroll 16")                                                   \
    for (int j = 0; j < SEPCONV_DW_ROWS + n - 1; ++j) {                        \
        VT x0, x1 = (VT){0};                                                   \
        memcpy(&x0, xk + j * ldx, sizeof(VT));                                 \
        if (VECS == 2) memcpy(&x1, xk + j * ldx + LANES, sizeof(VT));          \
        _Pragma("GCC unroll 8")                                                \
        for (int t = n - 1; t >= 0; --t) {                                     \
            const int r = j - t;                                               \
            if (r >= 0 && r < SEPCONV_DW_ROWS) {                               \
                lo[r] += x0 * w0[t];                                           \
                if (VECS == 2) hi[r] += x1 * w1[t];                            \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}                                                                              \
static inline void NAME##_reuse(const T* x, Py_ssize_t ldx, const T* w,       \
                                Py_ssize_t width, Py_ssize_t taps,            \
                                T* d, Py_ssize_t ld) {                        \
    enum { LANES = SEPCONV_VEC_BYTES / sizeof(T) };                            \
    VT lo[SEPCONV_DW_ROWS], hi[SEPCONV_DW_ROWS];                               \
    Py_ssize_t k = 0;                                                          \
    _Pragma("GCC unroll 8")                                                    \
    for (int r = 0; r < SEPCONV_DW_ROWS; ++r) { lo[r] = (VT){0}; hi[r] = (VT){0}; } \
    for (; k + SEPCONV_DW_TAPS <= taps; k += SEPCONV_DW_TAPS)                  \
        NAME##_taps(x + k * ldx, ldx, w + k * width, width, lo, hi, SEPCONV_DW_TAPS); \
    switch (taps - k) {  /* the last taps, in a smaller group */               \
    case 3: NAME##_taps(x + k * ldx, ldx, w + k * width, width, lo, hi, 3); break; \
    case 2: NAME##_taps(x + k * ldx, ldx, w + k * width, width, lo, hi, 2); break; \
    case 1: NAME##_taps(x + k * ldx, ldx, w + k * width, width, lo, hi, 1); break; \
    default: break;                                                            \
    }                                                                          \
    SEPCONV_DW_STORE_VECS(d, ld, lo, hi, VT, LANES, VECS);                    \
}
#define SEPCONV_DW_REUSE(NAME, x, ldx, w, width, taps, stride, dilation, d, ld) \
    if (SEPCONV_DW_REUSES(taps, stride, dilation)) {                          \
        NAME##_reuse(x, ldx, w, width, taps, d, ld);                           \
        return;                                                                \
    }
#else
#define SEPCONV_DEFINE_DW_TAPS(NAME, T, VT, VECS)
#define SEPCONV_DW_REUSE(NAME, x, ldx, w, width, taps, stride, dilation, d, ld)
#endif

/* NAME##_inside: every row's every tap inside the input, so no test per
   row and tap. */
#define SEPCONV_DEFINE_DW_BLOCK(NAME, T, VT, VECS)                            \
SEPCONV_DEFINE_DW_TAPS(NAME, T, VT, VECS)                                     \
static inline void NAME##_inside(const T* x, Py_ssize_t ldx, const T* w,      \
                                 Py_ssize_t width, Py_ssize_t taps,           \
                                 Py_ssize_t stride, Py_ssize_t dilation,      \
                                 T* d, Py_ssize_t ld) {                       \
    enum { LANES = SEPCONV_VEC_BYTES / sizeof(T) };                            \
    SEPCONV_DW_REUSE(NAME, x, ldx, w, width, taps, stride, dilation, d, ld)    \
    VT lo[SEPCONV_DW_ROWS], hi[SEPCONV_DW_ROWS];                               \
    _Pragma("GCC unroll 8")                                                    \
    for (int r = 0; r < SEPCONV_DW_ROWS; ++r) { lo[r] = (VT){0}; hi[r] = (VT){0}; } \
    const T* row[SEPCONV_DW_ROWS];                                             \
    _Pragma("GCC unroll 8")                                                    \
    for (int r = 0; r < SEPCONV_DW_ROWS; ++r) row[r] = x + r * stride * ldx;   \
    const Py_ssize_t tap_step = dilation * ldx;                                \
    for (Py_ssize_t k = 0; k < taps; ++k) {                                    \
        const Py_ssize_t off = k * tap_step;                                   \
        VT w0, w1 = (VT){0};                                                   \
        memcpy(&w0, w + k * width, sizeof(VT));                                \
        if (VECS == 2) memcpy(&w1, w + k * width + LANES, sizeof(VT));         \
        _Pragma("GCC unroll 8")                                                \
        for (int r = 0; r < SEPCONV_DW_ROWS; ++r) {                            \
            VT x0, x1;                                                         \
            memcpy(&x0, row[r] + off, sizeof(VT));                             \
            lo[r] += x0 * w0;                                                  \
            if (VECS == 2) {                                                   \
                memcpy(&x1, row[r] + off + LANES, sizeof(VT));                 \
                hi[r] += x1 * w1;                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    SEPCONV_DW_STORE_VECS(d, ld, lo, hi, VT, LANES, VECS);                    \
}                                                                              \
static inline void NAME(const T* x, Py_ssize_t steps, Py_ssize_t ldx,         \
                        Py_ssize_t origin,                                    \
                        const T* w, Py_ssize_t width, Py_ssize_t taps,        \
                        Py_ssize_t stride, Py_ssize_t dilation,               \
                        Py_ssize_t first_pos, T* d, Py_ssize_t ld) {          \
    enum { LANES = SEPCONV_VEC_BYTES / sizeof(T) };                            \
    const Py_ssize_t span = (SEPCONV_DW_ROWS - 1) * stride;                    \
    if (first_pos >= 0 && first_pos + (taps - 1) * dilation + span < steps) {  \
        NAME##_inside(x + (first_pos - origin) * ldx, ldx, w, width, taps,     \
                      stride, dilation, d, ld);                                \
        return;                                                                \
    }                                                                          \
    VT lo[SEPCONV_DW_ROWS], hi[SEPCONV_DW_ROWS];                               \
    _Pragma("GCC unroll 8")                                                    \
    for (int r = 0; r < SEPCONV_DW_ROWS; ++r) { lo[r] = (VT){0}; hi[r] = (VT){0}; } \
    for (Py_ssize_t k = 0; k < taps; ++k) {                                    \
        const Py_ssize_t p0 = first_pos + k * dilation;                        \
        VT w0, w1 = (VT){0};                                                   \
        memcpy(&w0, w + k * width, sizeof(VT));                                \
        if (VECS == 2) memcpy(&w1, w + k * width + LANES, sizeof(VT));         \
        const int inside = p0 >= 0 && p0 + span < steps;                       \
        _Pragma("GCC unroll 8")                                                \
        for (int r = 0; r < SEPCONV_DW_ROWS; ++r) {                            \
            const Py_ssize_t p = p0 + r * stride;                              \
            if (inside || (p >= 0 && p < steps)) {                             \
                VT x0, x1;                                                     \
                memcpy(&x0, x + (p - origin) * ldx, sizeof(VT));               \
                lo[r] += x0 * w0;                                              \
                if (VECS == 2) {                                               \
                    memcpy(&x1, x + (p - origin) * ldx + LANES, sizeof(VT));   \
                    hi[r] += x1 * w1;                                          \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    SEPCONV_DW_STORE_VECS(d, ld, lo, hi, VT, LANES, VECS);                    \
}
/* NARROW: one vector of half the level's width (VT_HALF). */
#define SEPCONV_DEFINE_DW_NARROW(NAME, T, VT_HALF) SEPCONV_DEFINE_DW_BLOCK(NAME, T, VT_HALF, 1)
#else
#define SEPCONV_DEFINE_DW_BLOCK(NAME, T, VT, VECS)                            \
    SEPCONV_DEFINE_DW_PLAIN(NAME, T, (VECS) * SEPCONV_VEC_BYTES / (int)sizeof(T))
#define SEPCONV_DEFINE_DW_NARROW(NAME, T, VT_HALF)                            \
    SEPCONV_DEFINE_DW_PLAIN(NAME, T, SEPCONV_VEC_BYTES / 2 / (int)sizeof(T))
#define SEPCONV_DEFINE_DW_PLAIN(NAME, T, NR)                                  \
static inline void NAME(const T* x, Py_ssize_t steps, Py_ssize_t ldx,         \
                        Py_ssize_t origin,                                    \
                        const T* w, Py_ssize_t width, Py_ssize_t taps,        \
                        Py_ssize_t stride, Py_ssize_t dilation,               \
                        Py_ssize_t first_pos, T* d, Py_ssize_t ld) {          \
    const int nr = (NR);                                                       \
    for (int r = 0; r < SEPCONV_DW_ROWS; ++r)                                  \
        for (int j = 0; j < nr; ++j) {                                         \
            T acc = 0;                                                         \
            for (Py_ssize_t k = 0; k < taps; ++k) {                            \
                Py_ssize_t p = first_pos + k * dilation + r * stride;          \
                if (p >= 0 && p < steps) acc += x[(p - origin) * ldx + j] * w[k * width + j]; \
            }                                                                  \
            d[r * ld + j] = acc;                                               \
        }                                                                      \
}
#endif
SEPCONV_DEFINE_DW_BLOCK(SEPCONV_F32_DWCONV, float, sepconv_vf, 2)
SEPCONV_DEFINE_DW_BLOCK(SEPCONV_F64_DWCONV, double, sepconv_vd, 2)
SEPCONV_DEFINE_DW_BLOCK(SEPCONV_F32_DWCONV_HALF, float, sepconv_vf, 1)
SEPCONV_DEFINE_DW_BLOCK(SEPCONV_F64_DWCONV_HALF, double, sepconv_vd, 1)
/* Half a vector wide, for a layer with fewer channels than one vector
   holds but at least half as many (tiny_b1's 8 at AVX-512 float32: one
   8-lane block instead of the plain loop, whose sum went through memory
   once per tap). */
SEPCONV_DEFINE_DW_NARROW(SEPCONV_F32_DWCONV_NARROW, float, sepconv_vf_half)
SEPCONV_DEFINE_DW_NARROW(SEPCONV_F64_DWCONV_NARROW, double, sepconv_vd_half)

/* The channels_last depthwise block for layers with fewer channels than
   half a vector (the vector blocks above cover everything from there up):
   DW_ROWS steps x ``channels`` channels, every tap of every row inside the
   input, x at the block's first input step.  One scalar sum per row and
   channel, the DW_ROWS rows of a channel side by side, so DW_ROWS chains of
   multiply-adds are in flight and each weight is loaded once per tap, not
   once per row.  Each sum runs over the taps in order, as every other
   block's lanes do. */
#define SEPCONV_DEFINE_DW_FEW(NAME, T)                                        \
static inline void NAME(const T* x, Py_ssize_t ldx, const T* w,               \
                        Py_ssize_t width, Py_ssize_t taps, Py_ssize_t stride, \
                        Py_ssize_t dilation, Py_ssize_t channels,            \
                        T* d, Py_ssize_t ld) {                                \
    const Py_ssize_t row_step = stride * ldx, tap_step = dilation * ldx;      \
    for (Py_ssize_t c = 0; c < channels; ++c) {                                \
        T acc[SEPCONV_DW_ROWS];                                                \
        SEPCONV_UNROLL_8                                                       \
        for (int r = 0; r < SEPCONV_DW_ROWS; ++r) acc[r] = 0;                  \
        for (Py_ssize_t k = 0; k < taps; ++k) {                                \
            const T wk = w[k * width + c];                                     \
            const T* xk = x + k * tap_step + c;                                \
            SEPCONV_UNROLL_8                                                   \
            for (int r = 0; r < SEPCONV_DW_ROWS; ++r)                          \
                acc[r] = acc[r] + xk[r * row_step] * wk;                       \
        }                                                                      \
        SEPCONV_UNROLL_8                                                       \
        for (int r = 0; r < SEPCONV_DW_ROWS; ++r) d[r * ld + c] = acc[r];      \
    }                                                                          \
}
SEPCONV_DEFINE_DW_FEW(SEPCONV_F32_DWCONV_FEW, float)
SEPCONV_DEFINE_DW_FEW(SEPCONV_F64_DWCONV_FEW, double)

/* The same layers at stride 1 with one output per channel, x read where it
   lies (rows exactly ``channels`` long) into d rows as long: then the
   outputs of consecutive steps are one run of n = steps x channels values,
   output j summing x[j + k * tap_step] * w[k, j % channels] over the taps,
   and the run is cut into whole vectors.  The weights of a vector depend on
   where it starts modulo the channel count, so they repeat every P =
   lcm(channels, lanes) values: a table of P weights per tap (TABLE, once per
   tile; at most SEPCONV_FLAT_TABLE values, else the caller takes
   the scalar block), PV = P / lanes vectors (the odd part of the channel
   count: 1, 3, 5 or 7).  The steps of a tile whose taps are all inside the
   input are one run; an edge step's run covers the steps beside it that
   have the same taps inside, from the table row of the first.  Groups of U periods (U x PV
   accumulators, 8 or more chains) run the taps with the PV weight vectors
   in registers; single periods and the last values after them follow.
   Each value is the same chain of multiply-adds over the taps in order as
   in every other block. */
#define SEPCONV_FLAT_TABLE 2048
#if defined(__GNUC__) || defined(__clang__)
#define SEPCONV_DEFINE_DW_FLAT_GROUPS(NAME, T, VT, PV, U)                      \
static inline void NAME(const T* x, Py_ssize_t tap_step, const T* table,       \
                        Py_ssize_t taps, Py_ssize_t groups, T* d) {            \
    enum { LANES = SEPCONV_VEC_BYTES / sizeof(T), P = (PV) * LANES };           \
    for (Py_ssize_t g = 0; g < groups; ++g) {                                   \
        const T* xg = x + g * (U) * P;                                          \
        VT acc[(U) * (PV)];                                                     \
        SEPCONV_UNROLL_8                                                        \
        for (int i = 0; i < (U) * (PV); ++i) acc[i] = (VT){0};                  \
        for (Py_ssize_t k = 0; k < taps; ++k) {                                 \
            VT wv[PV];                                                          \
            const T* xk = xg + k * tap_step;                                    \
            SEPCONV_UNROLL_8                                                    \
            for (int v = 0; v < (PV); ++v)                                      \
                memcpy(&wv[v], table + k * P + v * LANES, sizeof(VT));          \
            SEPCONV_UNROLL_8                                                    \
            for (int u = 0; u < (U); ++u) {                                     \
                SEPCONV_UNROLL_8                                                \
                for (int v = 0; v < (PV); ++v) {                                \
                    VT xv;                                                      \
                    memcpy(&xv, xk + (u * (PV) + v) * LANES, sizeof(VT));       \
                    acc[u * (PV) + v] += xv * wv[v];                            \
                }                                                               \
            }                                                                   \
        }                                                                       \
        SEPCONV_UNROLL_8                                                        \
        for (int i = 0; i < (U) * (PV); ++i)                                    \
            memcpy(d + g * (U) * P + i * LANES, &acc[i], sizeof(VT));           \
    }                                                                           \
}
/* U periods a group: 8 or more accumulators, with the PV weights and an
   input within 16 registers for PV <= 3 (the only PV below 16 lanes). */
#define SEPCONV_FLAT_U(PV) ((PV) == 1 ? 8 : ((PV) == 3 ? 3 : 2))
#define SEPCONV_DEFINE_DW_FLAT(NAME, TABLE, T, VT)                              \
SEPCONV_DEFINE_DW_FLAT_GROUPS(NAME##_p1, T, VT, 1, SEPCONV_FLAT_U(1))                    \
SEPCONV_DEFINE_DW_FLAT_GROUPS(NAME##_p3, T, VT, 3, SEPCONV_FLAT_U(3))                    \
SEPCONV_DEFINE_DW_FLAT_GROUPS(NAME##_p5, T, VT, 5, SEPCONV_FLAT_U(5))                    \
SEPCONV_DEFINE_DW_FLAT_GROUPS(NAME##_p7, T, VT, 7, SEPCONV_FLAT_U(7))                    \
SEPCONV_DEFINE_DW_FLAT_GROUPS(NAME##_p1_once, T, VT, 1, 1)                      \
SEPCONV_DEFINE_DW_FLAT_GROUPS(NAME##_p3_once, T, VT, 3, 1)                      \
SEPCONV_DEFINE_DW_FLAT_GROUPS(NAME##_p5_once, T, VT, 5, 1)                      \
SEPCONV_DEFINE_DW_FLAT_GROUPS(NAME##_p7_once, T, VT, 7, 1)                      \
/* TABLE: the table (taps x P values, row k at table + k * P) into       \
   ``table``; returns P, or 0 when it would not fit SEPCONV_FLAT_TABLE. */   \
static inline Py_ssize_t TABLE(const T* w, Py_ssize_t width,                   \
                                      Py_ssize_t taps, Py_ssize_t channels,    \
                                      T* table) {                              \
    enum { LANES = SEPCONV_VEC_BYTES / sizeof(T) };                             \
    Py_ssize_t pv = channels, p;                                                \
    if (channels <= 0) return 0;                                                \
    while (pv % 2 == 0) pv /= 2;                                                \
    p = pv * LANES;                                                             \
    if (LANES % (channels / pv) != 0 || pv > 7 || taps * p > SEPCONV_FLAT_TABLE) \
        return 0;                                                               \
    for (Py_ssize_t k = 0; k < taps; ++k)                                       \
        for (Py_ssize_t j = 0; j < p; ++j)                                      \
            table[k * p + j] = w[k * width + j % channels];                     \
    return p;                                                                   \
}                                                                               \
/* The run of n outputs from x (tap 0's input of output 0) into d, over   \
   ``taps`` taps whose table rows start at ``table`` (a row k_lo on for a  \
   run that starts at tap k_lo: an edge step's taps inside the input). */  \
static inline void NAME(const T* x, Py_ssize_t tap_step, const T* table,       \
                        Py_ssize_t p, Py_ssize_t taps, Py_ssize_t n, T* d) {   \
    enum { LANES = SEPCONV_VEC_BYTES / sizeof(T) };                             \
    const Py_ssize_t pv = p / LANES;                                            \
    const Py_ssize_t per = SEPCONV_FLAT_U(pv);                                  \
    const Py_ssize_t big = n / (per * p), once = (n % (per * p)) / p;           \
    const Py_ssize_t done = big * per * p;                                      \
    switch (pv) {                                                               \
    case 1: NAME##_p1(x, tap_step, table, taps, big, d);                        \
            NAME##_p1_once(x + done, tap_step, table, taps, once, d + done); break; \
    case 3: NAME##_p3(x, tap_step, table, taps, big, d);                        \
            NAME##_p3_once(x + done, tap_step, table, taps, once, d + done); break; \
    case 5: NAME##_p5(x, tap_step, table, taps, big, d);                        \
            NAME##_p5_once(x + done, tap_step, table, taps, once, d + done); break; \
    default: NAME##_p7(x, tap_step, table, taps, big, d);                       \
            NAME##_p7_once(x + done, tap_step, table, taps, once, d + done); break; \
    }                                                                           \
    for (Py_ssize_t j = done + once * p; j < n; ++j) {                          \
        T acc = 0;                                                              \
        for (Py_ssize_t k = 0; k < taps; ++k)                                   \
            acc = acc + x[j + k * tap_step] * table[k * p + j % p];             \
        d[j] = acc;                                                             \
    }                                                                           \
}
SEPCONV_DEFINE_DW_FLAT(SEPCONV_F32_DWCONV_FLAT, SEPCONV_F32_DWCONV_FLAT_TABLE, float, sepconv_vf)
SEPCONV_DEFINE_DW_FLAT(SEPCONV_F64_DWCONV_FLAT, SEPCONV_F64_DWCONV_FLAT_TABLE, double, sepconv_vd)
#else
/* Without vector types: no table, so never taken (the scalar block does
   these layers). */
#define SEPCONV_DEFINE_DW_FLAT_PLAIN(NAME, TABLE, T)                           \
static inline Py_ssize_t TABLE(const T* w, Py_ssize_t width,                   \
                                      Py_ssize_t taps, Py_ssize_t channels,    \
                                      T* table) {                              \
    (void)w; (void)width; (void)taps; (void)channels; (void)table;             \
    return 0;                                                                   \
}                                                                               \
static inline void NAME(const T* x, Py_ssize_t tap_step, const T* table,       \
                        Py_ssize_t p, Py_ssize_t taps, Py_ssize_t n, T* d) {   \
    (void)x; (void)tap_step; (void)table; (void)p; (void)taps; (void)n; (void)d; \
}
SEPCONV_DEFINE_DW_FLAT_PLAIN(SEPCONV_F32_DWCONV_FLAT, SEPCONV_F32_DWCONV_FLAT_TABLE, float)
SEPCONV_DEFINE_DW_FLAT_PLAIN(SEPCONV_F64_DWCONV_FLAT, SEPCONV_F64_DWCONV_FLAT_TABLE, double)
#endif

/* One register block of the channels_first depthwise loop (stride 1):
   DW_ROWS depthwise channels x 2 vectors of consecutive steps, summed over
   every tap in order.  rows[r] is channel r's input row (steps long), w[k *
   width + r] its tap-k weight, first_pos the input position of the block's
   first step for tap 0.  Taps whose window lies inside the row load two
   vectors; windows across an edge add lane by lane, skipping positions
   outside, with the same multiply-add per lane. */
#if defined(__GNUC__) || defined(__clang__)
/* NAME##_sum: every tap's window lies inside the rows, tap k at row[r] +
   offs[k], or at row[r] + k * dilation without offs (a constant once
   inlined).  A loop of its own, because the lane-by-lane edge path below
   makes GCC keep the accumulators in memory: with it in the same loop the
   block ran at ~25 GFLOP/s on Zen 4 (quartz_b8 channels_first, 33 taps),
   its accumulators spilled to the stack on every tap. */
#define SEPCONV_DEFINE_DW_CF_BLOCK(NAME, T, VT)                               \
static inline __attribute__((always_inline)) void NAME##_sum(                 \
        const T* const* rows, const T* w, Py_ssize_t width, Py_ssize_t taps,   \
        Py_ssize_t dilation, const Py_ssize_t* offs, Py_ssize_t first_pos,     \
        T* d, Py_ssize_t ld) {                                                 \
    enum { LANES = SEPCONV_VEC_BYTES / sizeof(T) };                            \
    VT lo[SEPCONV_DW_ROWS], hi[SEPCONV_DW_ROWS];                               \
    const T* row[SEPCONV_DW_ROWS];                                             \
    _Pragma("GCC unroll 8")                                                    \
    for (int r = 0; r < SEPCONV_DW_ROWS; ++r) {                                \
        lo[r] = (VT){0}; hi[r] = (VT){0}; row[r] = rows[r] + first_pos;        \
    }                                                                          \
    for (Py_ssize_t k = 0; k < taps; ++k) {                                    \
        const Py_ssize_t off = offs ? offs[k] : k * dilation;                  \
        _Pragma("GCC unroll 8")                                                \
        for (int r = 0; r < SEPCONV_DW_ROWS; ++r) {                            \
            VT x0, x1;                                                         \
            const T weight = w[k * width + r];                                 \
            memcpy(&x0, row[r] + off, sizeof(VT));                             \
            memcpy(&x1, row[r] + off + LANES, sizeof(VT));                     \
            lo[r] += x0 * weight;                                              \
            hi[r] += x1 * weight;                                              \
        }                                                                      \
    }                                                                          \
    SEPCONV_DW_STORE(d, ld, lo, hi, VT, LANES);                               \
}                                                                              \
static inline void NAME##_AT(const T* const* rows, const T* w, Py_ssize_t width, \
                             Py_ssize_t taps, const Py_ssize_t* offs,         \
                             Py_ssize_t first_pos, T* d, Py_ssize_t ld) {      \
    NAME##_sum(rows, w, width, taps, 0, offs, first_pos, d, ld);               \
}                                                                              \
static inline void NAME(const T* const* rows, Py_ssize_t steps,               \
                        const T* w, Py_ssize_t width, Py_ssize_t taps,        \
                        Py_ssize_t dilation, Py_ssize_t first_pos,            \
                        T* d, Py_ssize_t ld) {                                \
    enum { LANES = SEPCONV_VEC_BYTES / sizeof(T) };                            \
    if (first_pos >= 0 && first_pos + (taps - 1) * dilation + 2 * LANES <= steps) { \
        NAME##_sum(rows, w, width, taps, dilation, NULL, first_pos, d, ld);    \
        return;                                                                \
    }                                                                          \
    VT lo[SEPCONV_DW_ROWS], hi[SEPCONV_DW_ROWS];                               \
    _Pragma("GCC unroll 8")                                                    \
    for (int r = 0; r < SEPCONV_DW_ROWS; ++r) { lo[r] = (VT){0}; hi[r] = (VT){0}; } \
    for (Py_ssize_t k = 0; k < taps; ++k) {                                    \
        const Py_ssize_t base = first_pos + k * dilation;                      \
        if (base >= 0 && base + 2 * LANES <= steps) {                          \
            _Pragma("GCC unroll 8")                                            \
            for (int r = 0; r < SEPCONV_DW_ROWS; ++r) {                        \
                VT x0, x1;                                                     \
                const T weight = w[k * width + r];                             \
                memcpy(&x0, rows[r] + base, sizeof(VT));                       \
                memcpy(&x1, rows[r] + base + LANES, sizeof(VT));               \
                lo[r] += x0 * weight;                                          \
                hi[r] += x1 * weight;                                          \
            }                                                                  \
        } else {                                                               \
            for (int r = 0; r < SEPCONV_DW_ROWS; ++r) {                        \
                const T weight = w[k * width + r];                             \
                for (int j = 0; j < LANES; ++j) {                              \
                    const Py_ssize_t p0 = base + j, p1 = base + LANES + j;     \
                    if (p0 >= 0 && p0 < steps) lo[r][j] += rows[r][p0] * weight; \
                    if (p1 >= 0 && p1 < steps) hi[r][j] += rows[r][p1] * weight; \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    SEPCONV_DW_STORE(d, ld, lo, hi, VT, LANES);                               \
}
#else
#define SEPCONV_DEFINE_DW_CF_BLOCK(NAME, T, VT)                               \
static inline void NAME(const T* const* rows, Py_ssize_t steps,               \
                        const T* w, Py_ssize_t width, Py_ssize_t taps,        \
                        Py_ssize_t dilation, Py_ssize_t first_pos,            \
                        T* d, Py_ssize_t ld) {                                \
    const int nr = 2 * SEPCONV_VEC_BYTES / (int)sizeof(T);                     \
    for (int r = 0; r < SEPCONV_DW_ROWS; ++r)                                  \
        for (int j = 0; j < nr; ++j) {                                         \
            T acc = 0;                                                         \
            for (Py_ssize_t k = 0; k < taps; ++k) {                            \
                Py_ssize_t p = first_pos + k * dilation + j;                   \
                if (p >= 0 && p < steps) acc += rows[r][p] * w[k * width + r]; \
            }                                                                  \
            d[r * ld + j] = acc;                                               \
        }                                                                      \
}                                                                              \
static inline void NAME##_AT(const T* const* rows, const T* w, Py_ssize_t width, \
                             Py_ssize_t taps, const Py_ssize_t* offs,         \
                             Py_ssize_t first_pos, T* d, Py_ssize_t ld) {      \
    const int nr = 2 * SEPCONV_VEC_BYTES / (int)sizeof(T);                     \
    for (int r = 0; r < SEPCONV_DW_ROWS; ++r)                                  \
        for (int j = 0; j < nr; ++j) {                                         \
            T acc = 0;                                                         \
            for (Py_ssize_t k = 0; k < taps; ++k)                              \
                acc += rows[r][first_pos + offs[k] + j] * w[k * width + r];    \
            d[r * ld + j] = acc;                                               \
        }                                                                      \
}
#endif
/* Deinterleave n * stride consecutive values of src into ``stride``
   phases: out[q * ldo + i] = src[q + stride * i] for q < stride, i < n (the
   strided channels_first depthwise loop's copies).  Strides 2-4 are written
   out with a constant stride, each source value read once, so that the
   compiler vectorizes the interleaved loads (a plain loop copies one value a
   cycle: Zen 3, 8 x 4096 x 64 channels_first at stride 4, 8 taps, the copy
   took 70% of the depthwise loop's time). */
#define SEPCONV_DEFINE_SPLIT(NAME, T)                                         \
static inline void NAME(const T* __restrict src, Py_ssize_t n, Py_ssize_t stride, \
                        T* __restrict out, Py_ssize_t ldo) {                  \
    Py_ssize_t i, q;                                                           \
    switch (stride) {                                                          \
    case 2:                                                                    \
        for (i = 0; i < n; ++i) {                                              \
            out[i] = src[2 * i];                                               \
            out[ldo + i] = src[2 * i + 1];                                     \
        }                                                                      \
        break;                                                                 \
    case 3:                                                                    \
        for (i = 0; i < n; ++i) {                                              \
            out[i] = src[3 * i];                                               \
            out[ldo + i] = src[3 * i + 1];                                     \
            out[2 * ldo + i] = src[3 * i + 2];                                 \
        }                                                                      \
        break;                                                                 \
    case 4:                                                                    \
        for (i = 0; i < n; ++i) {                                              \
            out[i] = src[4 * i];                                               \
            out[ldo + i] = src[4 * i + 1];                                     \
            out[2 * ldo + i] = src[4 * i + 2];                                 \
            out[3 * ldo + i] = src[4 * i + 3];                                 \
        }                                                                      \
        break;                                                                 \
    default:                                                                   \
        for (q = 0; q < stride; ++q)                                           \
            for (i = 0; i < n; ++i) out[q * ldo + i] = src[q + stride * i];    \
    }                                                                          \
}
SEPCONV_DEFINE_SPLIT(sepconv_split_f32, float)
SEPCONV_DEFINE_SPLIT(sepconv_split_f64, double)
/* out[j * ldo + i] = src[i * lds + j] (+ bias[j] with a bias) for i < rows,
   j < cols: a channels_first tile's input window into steps-major rows
   (rows: channels, cols: steps), and a steps x filters C tile into the
   layer's channels_first output (rows: steps, cols: filters, one rounding
   for the bias add as everywhere).  Blocks of 4 x 4 through four-lane
   vectors (two SSE/NEON registers for double where vectors are 16 bytes):
   four row loads, eight shuffles, four row stores; the edges one value at
   a time.  A plain loop compiled to a gather of single values per vector
   (Zen 3: 15% of a 289-step, 214-channel layer's time). */
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define SEPCONV_SHUFFLE 1
#endif
#endif
#ifdef SEPCONV_SHUFFLE
#define SEPCONV_TRANSPOSE_4X4(VT, r0, r1, r2, r3) do {                        \
    VT t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);                       \
    VT t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);                       \
    VT t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);                       \
    VT t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);                       \
    r0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);                          \
    r1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);                          \
    r2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);                          \
    r3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);                          \
} while (0)
#endif
#define SEPCONV_DEFINE_TRANSPOSE(NAME, T, VT4)                                \
static inline void NAME##_one(const T* __restrict src, Py_ssize_t lds,       \
                              Py_ssize_t i, Py_ssize_t j, T* __restrict out,  \
                              Py_ssize_t ldo, const T* bias) {                 \
    out[j * ldo + i] = bias ? src[i * lds + j] + bias[j] : src[i * lds + j];   \
}                                                                              \
static inline void NAME##_block(const T* __restrict src, Py_ssize_t lds,     \
                                Py_ssize_t i0, Py_ssize_t j0,                  \
                                T* __restrict out, Py_ssize_t ldo,             \
                                const T* bias) {                               \
    SEPCONV_TRANSPOSE_BLOCK(T, VT4)                                            \
}                                                                              \
static inline void NAME(const T* __restrict src, Py_ssize_t lds,             \
                        Py_ssize_t rows, Py_ssize_t cols, T* __restrict out,  \
                        Py_ssize_t ldo, const T* bias) {                       \
    Py_ssize_t i0, j0, i, j;                                                   \
    Py_ssize_t rfull = rows - rows % 4, cfull = cols - cols % 4;               \
    /* Along the rows of the side whose rows lie far apart (the caller's     \
       array), four at a time: across them, each block would touch a line   \
       of every row, lines of rows 4 KiB apart share an L1 set, and those   \
       lines were evicted before the next block wrote the rest of them (an  \
       output of 2,048 steps, 64 filters: 1.8x the time). */                  \
    /* The edges (past the last block in either direction) one value at a  \
       time, in the same order. */                                             \
    if (ldo > lds) {                                                           \
        for (j0 = 0; j0 < cfull; j0 += 4)                                      \
            for (i0 = 0; i0 < rfull; i0 += 4)                                  \
                NAME##_block(src, lds, i0, j0, out, ldo, bias);                \
        for (j = 0; j < cols; ++j)                                             \
            for (i = j < cfull ? rfull : 0; i < rows; ++i)                     \
                NAME##_one(src, lds, i, j, out, ldo, bias);                    \
    } else {                                                                   \
        for (i0 = 0; i0 < rfull; i0 += 4)                                      \
            for (j0 = 0; j0 < cfull; j0 += 4)                                  \
                NAME##_block(src, lds, i0, j0, out, ldo, bias);                \
        for (i = 0; i < rows; ++i)                                             \
            for (j = i < rfull ? cfull : 0; j < cols; ++j)                     \
                NAME##_one(src, lds, i, j, out, ldo, bias);                    \
    }                                                                          \
}
#ifdef SEPCONV_SHUFFLE
typedef float sepconv_vf4 __attribute__((vector_size(16)));
typedef double sepconv_vd4 __attribute__((vector_size(32)));
#define SEPCONV_TRANSPOSE_BLOCK(T, VT4)                                       \
    VT4 r0, r1, r2, r3;                                                        \
    memcpy(&r0, src + i0 * lds + j0, sizeof(VT4));                             \
    memcpy(&r1, src + (i0 + 1) * lds + j0, sizeof(VT4));                       \
    memcpy(&r2, src + (i0 + 2) * lds + j0, sizeof(VT4));                       \
    memcpy(&r3, src + (i0 + 3) * lds + j0, sizeof(VT4));                       \
    SEPCONV_TRANSPOSE_4X4(VT4, r0, r1, r2, r3);                                \
    if (bias) {                                                                \
        r0 += bias[j0]; r1 += bias[j0 + 1];                                    \
        r2 += bias[j0 + 2]; r3 += bias[j0 + 3];                                \
    }                                                                          \
    memcpy(out + j0 * ldo + i0, &r0, sizeof(VT4));                             \
    memcpy(out + (j0 + 1) * ldo + i0, &r1, sizeof(VT4));                       \
    memcpy(out + (j0 + 2) * ldo + i0, &r2, sizeof(VT4));                       \
    memcpy(out + (j0 + 3) * ldo + i0, &r3, sizeof(VT4));
#else
#define SEPCONV_TRANSPOSE_BLOCK(T, VT4)                                       \
    for (Py_ssize_t i = i0; i < i0 + 4; ++i)                                   \
        for (Py_ssize_t j = j0; j < j0 + 4; ++j)                               \
            out[j * ldo + i] = bias ? src[i * lds + j] + bias[j] : src[i * lds + j];
#endif
SEPCONV_DEFINE_TRANSPOSE(sepconv_transpose_f32, float, sepconv_vf4)
SEPCONV_DEFINE_TRANSPOSE(sepconv_transpose_f64, double, sepconv_vd4)
SEPCONV_DEFINE_DW_CF_BLOCK(SEPCONV_F32_DWCONV_CF, float, sepconv_vf)
SEPCONV_DEFINE_DW_CF_BLOCK(SEPCONV_F64_DWCONV_CF, double, sepconv_vd)

#endif /* SEPCONV_MICROKERNELS_H */
