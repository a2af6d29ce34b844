# Kernels of sepconv: fused depthwise + pointwise 1-D convolution.
#
# Design
# ======
# What is computed.  For input x with C channels, a depthwise kernel of K
# taps and depth multiplier M, and a pointwise matrix (C*M, F):
#     D[t, j] = sum_k x[t*stride + k*dilation - pad_left, c] * dw[k, c, m]
#     y[t, f] = act(bias[f] + sum_j D[t, j] * pw[j, f])
# with j = c*M + m in Keras's numbering.  Taps that fall outside the input
# are skipped by the loop bounds: there is no padded copy of x, and no
# full-size D is ever formed.
#
# Layout of the packed weights (made once per set of weights by
# sepconv.functional.pack_weights).  Inside the kernels the depthwise
# channel index is permuted to jp = m*C + c so that, for channels_last
# input, the depthwise loop over c reads x and the weights contiguously; the
# pointwise rows are permuted the same way when packed, so the permutation
# costs nothing at run time.
#   [ depthwise (K, C*M) | pointwise panels | bias padded ]
# The pointwise panels are the B (channels_last) or A (channels_first)
# operand of a small matrix product, cut into the strips the micro-kernel
# reads contiguously: (F/NR, C*M, NR) or (F/MR, C*M, MR), zero padded.
# channels_first layouts carry the (F/NR, C*M, NR) strips too, after the
# bias, for tiles of few steps multiplied the other way round
# (_tile_channels_first_rows).
#
# Work split and loop order.  A work item is one (batch, tile of T output
# steps).  For each item a thread
#   1. computes the depthwise tile D (T x C*M) into its own scratch,
#      DW_ROWS steps x NR channels at a time summed over all taps in
#      registers (rows past the end of the sequence are computed but never
#      stored);
#   2. multiplies it by the packed pointwise matrix with an MR x NR
#      register-blocked micro-kernel, kc inputs at a time (the plan's kc:
#      sepconv.tiling.forward_kc, all C*M up to 1024 in one pass), into a
#      per-thread tile C;
#   3. adds the bias, applies a fused activation and writes the valid part
#      of the tile straight into y.
#   channels_last  (y[t, f]): rows of the product are steps, columns filters;
#       D is stored [t][jp], the pointwise strips are (C*M, NR).
#   channels_first (y[f, t]): rows are filters, columns steps;
#       D is stored [jp][t] (steps contiguous, which is also the order the
#       depthwise loop produces them in for this layout), the pointwise
#       strips are (C*M, MR).
# One micro-kernel serves both: acc[i][j] += A[i, k] * B[k, j] with B
# contiguous in j.  MR and NR are compile-time constants per instruction-set
# level (the same source is compiled once per level).  The micro-kernel and
# the channels_last depthwise register block are the only code written in C
# (in the block below, with GCC/Clang vector extensions that lower to the
# level's vector width): as plain Cython loops their accumulator tiles were
# kept in registers by gcc's scalar replacement for float32 AVX-512 only,
# and float64 and AVX2 builds ran at ~4 GFLOP/s.  Everything else is typed
# Cython loops that the compiler vectorises.
#
# Parallelism.  The work items of a forward call are shared out by sepconv's
# own thread pool (threadpool.h): the calling thread and up to n - 1 workers
# claim items one at a time from a shared counter, each with its own
# scratch, and the caller waits only for workers that joined, never for one
# the operating system has not run yet (an OpenMP region's closing barrier
# does wait for it: milliseconds on a shared machine).  The GIL is released
# for the whole call; a call with one useful thread (small problems, see
# sepconv.plan.useful_threads) touches no other thread at all.  Without
# POSIX threads (MSVC), or with SEPCONV_THREADING=openmp, an OpenMP prange
# (dynamic schedule) shares the items instead.
# Each output value is computed by exactly one thread with a summation
# order that depends on neither the tile size nor the thread count (taps in
# order, inputs j in order), so results are bitwise identical for any
# number of threads.  The backward pass (end of file) splits over batch
# elements and reduces per-element partial sums in batch order.
#
# Everything here trusts its arguments: shapes, strides, dtypes and sizes are
# validated in sepconv.functional before a kernel runs.

from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from libc.math cimport exp, expm1, tanh
from libc.stdint cimport uintptr_t
from libc.stddef cimport ptrdiff_t
cimport cython
cimport numpy as cnp
from cpython.object cimport PyObject, PyTypeObject
from cpython.tuple cimport PyTuple_GET_SIZE, PyTuple_GET_ITEM

cnp.import_array()

cdef extern from "microkernels.h":
    int omp_get_max_threads() noexcept nogil
    const int SEPCONV_OPENMP
    const char* SEPCONV_ISA
    const int SEPCONV_DEBUG
    void* sepconv_scratch(void* raw, size_t nbytes) noexcept nogil
    bint SEPCONV_DW_REUSES(Py_ssize_t taps, Py_ssize_t stride, Py_ssize_t dilation) noexcept nogil
    void sepconv_prefetch_rows(const void* base, Py_ssize_t row_bytes, Py_ssize_t first,
                               Py_ssize_t last) noexcept nogil
    const char* sepconv_prefetch_ahead(const char* p, const char* end,
                                       Py_ssize_t lines) noexcept nogil
    void sepconv_prefetch_out(const void* out, Py_ssize_t row_bytes, int rows,
                              int nbytes, int shared_first) noexcept nogil
    enum: SEPCONV_MR
    enum: SEPCONV_NR_F32
    enum: SEPCONV_NR_F64
    enum: SEPCONV_NR_MAX
    enum: SEPCONV_KC
    enum: SEPCONV_VEC_BYTES
    enum: SEPCONV_DW_ROWS
    enum: SEPCONV_DW_TAPS
    enum: SEPCONV_GEMM_QUARTERS
    enum: SEPCONV_ROWS_OUTER
    enum: SEPCONV_TAIL_PAIRS
    enum: SEPCONV_GEMM_UNROLL
    void sepconv_micro_f32 "SEPCONV_F32_GEMM" (Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col,
                           const float* b, Py_ssize_t b_row, float* c, Py_ssize_t c_row,
                           int first) noexcept nogil
    void sepconv_dw_block_f32 "SEPCONV_F32_DWCONV" (const float* x, Py_ssize_t steps, Py_ssize_t ldx,
                              Py_ssize_t origin,
                              const float* w, Py_ssize_t width, Py_ssize_t taps,
                              Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t first_pos,
                              float* d, Py_ssize_t ld) noexcept nogil
    void sepconv_dw_block_f64 "SEPCONV_F64_DWCONV" (const double* x, Py_ssize_t steps, Py_ssize_t ldx,
                              Py_ssize_t origin,
                              const double* w, Py_ssize_t width, Py_ssize_t taps,
                              Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t first_pos,
                              double* d, Py_ssize_t ld) noexcept nogil
    void sepconv_dw_half_f32 "SEPCONV_F32_DWCONV_HALF" (const float* x, Py_ssize_t steps, Py_ssize_t ldx,
                              Py_ssize_t origin,
                              const float* w, Py_ssize_t width, Py_ssize_t taps,
                              Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t first_pos,
                              float* d, Py_ssize_t ld) noexcept nogil
    void sepconv_dw_half_f64 "SEPCONV_F64_DWCONV_HALF" (const double* x, Py_ssize_t steps, Py_ssize_t ldx,
                              Py_ssize_t origin,
                              const double* w, Py_ssize_t width, Py_ssize_t taps,
                              Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t first_pos,
                              double* d, Py_ssize_t ld) noexcept nogil
    void sepconv_dw_narrow_f32 "SEPCONV_F32_DWCONV_NARROW" (const float* x, Py_ssize_t steps,
                              Py_ssize_t ldx, Py_ssize_t origin,
                              const float* w, Py_ssize_t width, Py_ssize_t taps,
                              Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t first_pos,
                              float* d, Py_ssize_t ld) noexcept nogil
    void sepconv_dw_narrow_f64 "SEPCONV_F64_DWCONV_NARROW" (const double* x, Py_ssize_t steps,
                              Py_ssize_t ldx, Py_ssize_t origin,
                              const double* w, Py_ssize_t width, Py_ssize_t taps,
                              Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t first_pos,
                              double* d, Py_ssize_t ld) noexcept nogil
    void sepconv_dw_few_f32 "SEPCONV_F32_DWCONV_FEW" (const float* x, Py_ssize_t ldx,
                              const float* w, Py_ssize_t width, Py_ssize_t taps,
                              Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t channels,
                              float* d, Py_ssize_t ld) noexcept nogil
    void sepconv_dw_few_f64 "SEPCONV_F64_DWCONV_FEW" (const double* x, Py_ssize_t ldx,
                              const double* w, Py_ssize_t width, Py_ssize_t taps,
                              Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t channels,
                              double* d, Py_ssize_t ld) noexcept nogil
    Py_ssize_t sepconv_dw_flat_table_f32 "SEPCONV_F32_DWCONV_FLAT_TABLE" (
        const float* w, Py_ssize_t width, Py_ssize_t taps, Py_ssize_t channels,
        float* table) noexcept nogil
    Py_ssize_t sepconv_dw_flat_table_f64 "SEPCONV_F64_DWCONV_FLAT_TABLE" (
        const double* w, Py_ssize_t width, Py_ssize_t taps, Py_ssize_t channels,
        double* table) noexcept nogil
    void sepconv_dw_flat_f32 "SEPCONV_F32_DWCONV_FLAT" (const float* x, Py_ssize_t tap_step,
                              const float* table, Py_ssize_t p, Py_ssize_t taps, Py_ssize_t n,
                              float* d) noexcept nogil
    void sepconv_dw_flat_f64 "SEPCONV_F64_DWCONV_FLAT" (const double* x, Py_ssize_t tap_step,
                              const double* table, Py_ssize_t p, Py_ssize_t taps,
                              Py_ssize_t n, double* d) noexcept nogil
    const int SEPCONV_FLAT_TABLE
    void sepconv_micro_store_f32 "SEPCONV_F32_GEMM_STORE" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, const float* c, Py_ssize_t c_row, int first, float* out,
        Py_ssize_t out_row, const float* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_micro_store_f64 "SEPCONV_F64_GEMM_STORE" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, const double* c, Py_ssize_t c_row, int first, double* out,
        Py_ssize_t out_row, const double* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_dw_cf_block_f32 "SEPCONV_F32_DWCONV_CF" (
        const float* const* rows, Py_ssize_t steps, const float* w, Py_ssize_t width,
        Py_ssize_t taps, Py_ssize_t dilation, Py_ssize_t first_pos, float* d,
        Py_ssize_t ld) noexcept nogil
    void sepconv_dw_cf_block_f64 "SEPCONV_F64_DWCONV_CF" (
        const double* const* rows, Py_ssize_t steps, const double* w, Py_ssize_t width,
        Py_ssize_t taps, Py_ssize_t dilation, Py_ssize_t first_pos, double* d,
        Py_ssize_t ld) noexcept nogil
    void sepconv_dw_cf_at_f32 "SEPCONV_F32_DWCONV_CF_AT" (
        const float* const* rows, const float* w, Py_ssize_t width, Py_ssize_t taps,
        const Py_ssize_t* offs, Py_ssize_t first_pos, float* d, Py_ssize_t ld) noexcept nogil
    void sepconv_dw_cf_at_f64 "SEPCONV_F64_DWCONV_CF_AT" (
        const double* const* rows, const double* w, Py_ssize_t width, Py_ssize_t taps,
        const Py_ssize_t* offs, Py_ssize_t first_pos, double* d, Py_ssize_t ld) noexcept nogil
    void sepconv_split_f32(const float* src, Py_ssize_t n, Py_ssize_t stride, float* out,
                           Py_ssize_t ldo) noexcept nogil
    void sepconv_split_f64(const double* src, Py_ssize_t n, Py_ssize_t stride, double* out,
                           Py_ssize_t ldo) noexcept nogil
    void sepconv_r1p4_f32 "SEPCONV_F32_GEMM_R1P4" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, Py_ssize_t b_panel, const float* c, Py_ssize_t c_row, int first,
        float* out, Py_ssize_t out_row, const float* bias, int bias_mode, int act) noexcept nogil
    void sepconv_r1p4_f64 "SEPCONV_F64_GEMM_R1P4" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, Py_ssize_t b_panel, const double* c, Py_ssize_t c_row, int first,
        double* out, Py_ssize_t out_row, const double* bias, int bias_mode, int act) noexcept nogil
    void sepconv_r1p2_f32 "SEPCONV_F32_GEMM_R1P2" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, Py_ssize_t b_panel, const float* c, Py_ssize_t c_row, int first,
        float* out, Py_ssize_t out_row, const float* bias, int bias_mode, int act) noexcept nogil
    void sepconv_r1p2_f64 "SEPCONV_F64_GEMM_R1P2" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, Py_ssize_t b_panel, const double* c, Py_ssize_t c_row, int first,
        double* out, Py_ssize_t out_row, const double* bias, int bias_mode, int act) noexcept nogil
    void sepconv_r2p2_f32 "SEPCONV_F32_GEMM_R2P2" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, Py_ssize_t b_panel, const float* c, Py_ssize_t c_row, int first,
        float* out, Py_ssize_t out_row, const float* bias, int bias_mode, int act) noexcept nogil
    void sepconv_r2p2_f64 "SEPCONV_F64_GEMM_R2P2" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, Py_ssize_t b_panel, const double* c, Py_ssize_t c_row, int first,
        double* out, Py_ssize_t out_row, const double* bias, int bias_mode, int act) noexcept nogil
    void sepconv_transpose_f32(const float* src, Py_ssize_t lds, Py_ssize_t rows,
                               Py_ssize_t cols, float* out, Py_ssize_t ldo,
                               const float* bias) noexcept nogil
    void sepconv_transpose_f64(const double* src, Py_ssize_t lds, Py_ssize_t rows,
                               Py_ssize_t cols, double* out, Py_ssize_t ldo,
                               const double* bias) noexcept nogil
    void sepconv_micro_row_f32 "SEPCONV_F32_GEMM_ROW" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, const float* c, Py_ssize_t c_row, int first, float* out,
        Py_ssize_t out_row, const float* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_micro_row_f64 "SEPCONV_F64_GEMM_ROW" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, const double* c, Py_ssize_t c_row, int first, double* out,
        Py_ssize_t out_row, const double* bias, int bias_mode, int act, int cols) noexcept nogil
    # One vector wide (microkernels.h), accumulating as SEPCONV_*_GEMM does;
    # 3q: one and a half vectors, q: half a vector (gemm_quarters levels).
    void sepconv_micro_half_f32 "SEPCONV_F32_GEMM_HALF" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, float* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_half_f64 "SEPCONV_F64_GEMM_HALF" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, double* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_row_half_f32 "SEPCONV_F32_GEMM_ROW_HALF" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, float* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_row_half_f64 "SEPCONV_F64_GEMM_ROW_HALF" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, double* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_3q_f32 "SEPCONV_F32_GEMM_3Q" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, float* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_3q_f64 "SEPCONV_F64_GEMM_3Q" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, double* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_row_3q_f32 "SEPCONV_F32_GEMM_ROW_3Q" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, float* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_row_3q_f64 "SEPCONV_F64_GEMM_ROW_3Q" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, double* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_q_f32 "SEPCONV_F32_GEMM_Q" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, float* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_q_f64 "SEPCONV_F64_GEMM_Q" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, double* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_row_q_f32 "SEPCONV_F32_GEMM_ROW_Q" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, float* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_row_q_f64 "SEPCONV_F64_GEMM_ROW_Q" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, double* c, Py_ssize_t c_row, int first) noexcept nogil
    # The storing kernels of the last panel of filters: cols (fewer than
    # the kernel's columns) are written to out, under a lane mask.
    void sepconv_micro_half_store_f32 "SEPCONV_F32_GEMM_HALF_STORE" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, const float* c, Py_ssize_t c_row, int first, float* out,
        Py_ssize_t out_row, const float* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_micro_3q_store_f32 "SEPCONV_F32_GEMM_3Q_STORE" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, const float* c, Py_ssize_t c_row, int first, float* out,
        Py_ssize_t out_row, const float* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_micro_q_store_f32 "SEPCONV_F32_GEMM_Q_STORE" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, const float* c, Py_ssize_t c_row, int first, float* out,
        Py_ssize_t out_row, const float* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_micro_half_store_f64 "SEPCONV_F64_GEMM_HALF_STORE" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, const double* c, Py_ssize_t c_row, int first, double* out,
        Py_ssize_t out_row, const double* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_micro_3q_store_f64 "SEPCONV_F64_GEMM_3Q_STORE" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, const double* c, Py_ssize_t c_row, int first, double* out,
        Py_ssize_t out_row, const double* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_micro_q_store_f64 "SEPCONV_F64_GEMM_Q_STORE" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, const double* c, Py_ssize_t c_row, int first, double* out,
        Py_ssize_t out_row, const double* bias, int bias_mode, int act, int cols) noexcept nogil
    # The one-vector kernels over two row blocks (tail_pairs levels).
    void sepconv_micro_pair_f32 "SEPCONV_F32_GEMM_PAIR" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, float* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_pair_f64 "SEPCONV_F64_GEMM_PAIR" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, double* c, Py_ssize_t c_row, int first) noexcept nogil
    void sepconv_micro_pair_store_f32 "SEPCONV_F32_GEMM_PAIR_STORE" (
        Py_ssize_t kc, const float* a, Py_ssize_t a_row, Py_ssize_t a_col, const float* b,
        Py_ssize_t b_row, const float* c, Py_ssize_t c_row, int first, float* out,
        Py_ssize_t out_row, const float* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_micro_pair_store_f64 "SEPCONV_F64_GEMM_PAIR_STORE" (
        Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col, const double* b,
        Py_ssize_t b_row, const double* c, Py_ssize_t c_row, int first, double* out,
        Py_ssize_t out_row, const double* bias, int bias_mode, int act, int cols) noexcept nogil
    void sepconv_micro_f64 "SEPCONV_F64_GEMM" (Py_ssize_t kc, const double* a, Py_ssize_t a_row, Py_ssize_t a_col,
                           const double* b, Py_ssize_t b_row, double* c, Py_ssize_t c_row,
                           int first) noexcept nogil

cdef extern from "pycall.h":
    ctypedef PyObject* (*sepconv_vectorcallfunc)(PyObject* callable, PyObject* const* args,
                                                 size_t nargsf, PyObject* kwnames)
    int sepconv_use_vectorcall(PyTypeObject* type, Py_ssize_t offset) except -1
    int sepconv_inherit_vectorcall(PyTypeObject* type, PyTypeObject* base) except -1
    int sepconv_same_call(object callable, PyTypeObject* type)
    object sepconv_call_slot(object callable, PyObject* const* args, size_t nargsf,
                             PyObject* kwnames)
    Py_ssize_t PyVectorcall_NARGS(size_t nargsf)

cdef extern from "threadpool.h":
    const int SEPCONV_POOL
    ctypedef struct sepconv_job:
        void (*run)(void* context, sepconv_job* job) noexcept nogil
        void* context
        ptrdiff_t items
        ptrdiff_t next
        int failed
    ptrdiff_t sepconv_job_next(sepconv_job* job) noexcept nogil
    void sepconv_job_fail(sepconv_job* job) noexcept nogil
    int sepconv_pool_run(sepconv_job* job, int threads) noexcept nogil
    int sepconv_pool_size() noexcept nogil
    void* sepconv_scratch_take(size_t bytes) noexcept nogil
    void sepconv_scratch_give(void* block) noexcept nogil
    size_t sepconv_scratch_kept_bytes() noexcept nogil
    void sepconv_pool_counts(long* shared, long* alone, long* stalls, long* moves,
                             long* pulls) noexcept nogil

ctypedef fused floating:
    float
    double

ISA = SEPCONV_ISA.decode("ascii")
OPENMP = bool(SEPCONV_OPENMP)
MR = SEPCONV_MR
NR = {"float32": SEPCONV_NR_F32, "float64": SEPCONV_NR_F64}
KC = SEPCONV_KC
DW_ROWS = SEPCONV_DW_ROWS
DW_TAPS = SEPCONV_DW_TAPS
GEMM_QUARTERS = bool(SEPCONV_GEMM_QUARTERS)
ROWS_OUTER = bool(SEPCONV_ROWS_OUTER)
TAIL_PAIRS = bool(SEPCONV_TAIL_PAIRS)
GEMM_UNROLL = SEPCONV_GEMM_UNROLL
VEC_BYTES = SEPCONV_VEC_BYTES
DEBUG = bool(SEPCONV_DEBUG)
#: Outputs larger than this (bytes, one call) are prefetched line by line
#: before each storing micro-kernel call writes them (see _forward).
STREAMED_OUTPUT = _STREAMED_OUTPUT

# Activations applied inside the epilogue; anything else is applied by the
# Python side after the kernel.  Keras's default parameters.
FUSED_ACTIVATIONS = {
    "linear": 0, "relu": 1, "relu6": 2, "leaky_relu": 3, "sigmoid": 4,
    "tanh": 5, "silu": 6, "hard_sigmoid": 7, "hard_silu": 8, "elu": 9,
}
cdef enum:
    ACT_LINEAR = 0
    ACT_RELU = 1
    ACT_RELU6 = 2
    ACT_LEAKY_RELU = 3
    ACT_SIGMOID = 4
    ACT_TANH = 5
    ACT_SILU = 6
    ACT_HARD_SIGMOID = 7
    ACT_HARD_SILU = 8
    ACT_ELU = 9


def max_threads():
    """OpenMP's current max thread count (threadpoolctl changes it)."""
    return omp_get_max_threads()


# --------------------------------------------------------------------------
# Epilogue: bias then activation, on one contiguous row of the output.
# The switch is outside the loops so that each loop is a simple vectorisable
# body.
# --------------------------------------------------------------------------
cdef inline void _activate(floating* row, Py_ssize_t n, int code) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v, zero = 0, one = 1, six = 6
    if code == ACT_LINEAR:
        return
    elif code == ACT_RELU:
        for i in range(n):
            v = row[i]
            row[i] = zero if v < zero else v
    elif code == ACT_RELU6:
        for i in range(n):
            v = row[i]
            v = zero if v < zero else v
            row[i] = six if v > six else v
    elif code == ACT_LEAKY_RELU:
        for i in range(n):
            v = row[i]
            row[i] = <floating>0.2 * v if v < zero else v
    elif code == ACT_SIGMOID:
        for i in range(n):
            row[i] = one / (one + <floating>exp(-row[i]))
    elif code == ACT_TANH:
        for i in range(n):
            row[i] = <floating>tanh(row[i])
    elif code == ACT_SILU:
        for i in range(n):
            v = row[i]
            row[i] = v / (one + <floating>exp(-v))
    elif code == ACT_HARD_SIGMOID or code == ACT_HARD_SILU:
        for i in range(n):
            v = row[i] / six + <floating>0.5
            v = zero if v < zero else v
            v = one if v > one else v
            row[i] = v * row[i] if code == ACT_HARD_SILU else v
    elif code == ACT_ELU:
        for i in range(n):
            v = row[i]
            row[i] = <floating>expm1(v) if v < zero else v


cdef inline void _store_row(floating* dst, const floating* src, Py_ssize_t n,
                            const floating* bias, Py_ssize_t bias_step,
                            int use_bias, int code) noexcept nogil:
    # dst[i] = act(src[i] + bias[i * bias_step]); bias_step is 1 along
    # filters (channels_last) or 0 (channels_first: one filter per row).
    cdef Py_ssize_t i
    cdef floating b
    if not use_bias:
        for i in range(n):
            dst[i] = src[i]
    elif bias_step == 0:
        b = bias[0]
        for i in range(n):
            dst[i] = src[i] + b
    else:
        for i in range(n):
            dst[i] = src[i] + bias[i]
    _activate(dst, n, code)


# --------------------------------------------------------------------------
# Micro-kernel: C[MR x nr] (+)= A[MR x kc] * B[kc x nr], B rows contiguous.
# A element (i, k) is at a[i * a_row + k * a_col].  ``first`` starts from
# zero, otherwise from the partial sums already in C (the next KC block), so
# the summation order over k is the same whatever the blocking.
# --------------------------------------------------------------------------
cdef inline void _micro_kernel(Py_ssize_t kc,
                               const floating* a, Py_ssize_t a_row, Py_ssize_t a_col,
                               const floating* b, Py_ssize_t b_row,
                               floating* c, Py_ssize_t c_row,
                               bint first) noexcept nogil:
    if floating is float:
        sepconv_micro_f32(kc, a, a_row, a_col, b, b_row, c, c_row, first)
    else:
        sepconv_micro_f64(kc, a, a_row, a_col, b, b_row, c, c_row, first)


cdef inline void _micro_kernel_store(Py_ssize_t kc,
                                     const floating* a, Py_ssize_t a_row, Py_ssize_t a_col,
                                     const floating* b, Py_ssize_t b_row,
                                     const floating* c, Py_ssize_t c_row, bint first,
                                     floating* out, Py_ssize_t out_row,
                                     const floating* bias, int bias_mode,
                                     int act) noexcept nogil:
    # The last block of a sum: act(acc + bias) straight into the output
    # (bias_mode 0 none, 1 per column, 2 per row).  Activations past
    # leaky_relu are applied by the caller, in place.
    cdef int simple = act if act <= ACT_LEAKY_RELU else ACT_LINEAR
    if floating is float:
        sepconv_micro_store_f32(kc, a, a_row, a_col, b, b_row, c, c_row, first, out, out_row,
                                bias, bias_mode, simple, SEPCONV_NR_F32)
    else:
        sepconv_micro_store_f64(kc, a, a_row, a_col, b, b_row, c, c_row, first, out, out_row,
                                bias, bias_mode, simple, SEPCONV_NR_F64)


cdef inline void _micro_row_store(Py_ssize_t kc, const floating* a, const floating* b,
                                  Py_ssize_t b_row, const floating* c, bint first,
                                  floating* out, const floating* bias, int bias_mode,
                                  int act) noexcept nogil:
    # One row of _micro_kernel_store (a contiguous along k).
    cdef int simple = act if act <= ACT_LEAKY_RELU else ACT_LINEAR
    if floating is float:
        sepconv_micro_row_f32(kc, a, 0, 1, b, b_row, c, 0, first, out, 0, bias, bias_mode,
                              simple, SEPCONV_NR_F32)
    else:
        sepconv_micro_row_f64(kc, a, 0, 1, b, b_row, c, 0, first, out, 0, bias, bias_mode,
                              simple, SEPCONV_NR_F64)


cdef inline void _micro_kernel_half(Py_ssize_t kc, const floating* a, Py_ssize_t a_row,
                                    const floating* b, Py_ssize_t b_row, floating* c,
                                    Py_ssize_t c_row, bint first) noexcept nogil:
    # _micro_kernel one vector wide (a contiguous along k): the first half of
    # a packed panel, for a last panel of filters at most half full.
    if floating is float:
        sepconv_micro_half_f32(kc, a, a_row, 1, b, b_row, c, c_row, first)
    else:
        sepconv_micro_half_f64(kc, a, a_row, 1, b, b_row, c, c_row, first)


cdef inline bint _rows_by_row_kernels(Py_ssize_t rest, Py_ssize_t panels) noexcept nogil:
    # Whether the ``rest`` rows after a tile's last full MR block go through
    # the row kernels (else one more MR block, its rows past the tile
    # summed and never stored), with ``panels`` full panels of filters.  An
    # MR block costs about MR multiply-add cycles per input and panel, rows
    # across 2 or more panels about one per row (_micro_rows_panels keeps 8
    # chains in flight), one panel's row about 2 (its two chains wait on
    # the FMA latency).  Zen 3, AVX2 (MR 6), float32, 1 thread, row calls
    # over one more MR block, 6-12 panels: channels_last 3 rows 0.86x the
    # time, 4 rows 0.87-0.92x, 5 rows 1.00-1.13x; channels_first 4 rows
    # 0.87-0.93x, 5 rows 1.00-1.10x; with one row across 4 panels a call
    # and no pairs (7f56bba), 4-5 rows took 1.22-1.46x.
    if panels >= 2:
        return rest <= SEPCONV_MR - 2
    return 2 * rest < SEPCONV_MR


cdef inline Py_ssize_t _row_group(Py_ssize_t rows, Py_ssize_t panels) noexcept nogil:
    # How many panels of filters the multi-panel row kernels take a call for
    # ``rows`` leftover rows with ``panels`` full panels to go: 4 for a
    # single row, else 2 (the two-row kernel's width); 0 for fewer than 2.
    if rows == 1 and panels >= 4:
        return 4
    return 2 if panels >= 2 else 0


cdef inline void _micro_rows_panels(int rows, Py_ssize_t group, Py_ssize_t kc,
                                    const floating* a, Py_ssize_t a_row, Py_ssize_t a_col,
                                    const floating* b, Py_ssize_t b_panel, const floating* c,
                                    Py_ssize_t c_row, bint first, floating* out,
                                    Py_ssize_t out_row, const floating* bias, int bias_mode,
                                    int act) noexcept nogil:
    # ``rows`` (1 or 2; 2 with a group of 2) rows across ``group`` (4 or 2,
    # _row_group) full panels of filters at once: the row kernel per panel
    # with more chains in flight.  C, out and the bias NR apart per panel,
    # the packed panels b_panel apart.
    cdef int simple = act if act <= ACT_LEAKY_RELU else ACT_LINEAR
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    if rows == 2:
        if floating is float:
            sepconv_r2p2_f32(kc, a, a_row, a_col, b, nr, b_panel, c, c_row, first, out,
                             out_row, bias, bias_mode, simple)
        else:
            sepconv_r2p2_f64(kc, a, a_row, a_col, b, nr, b_panel, c, c_row, first, out,
                             out_row, bias, bias_mode, simple)
    elif group == 4:
        if floating is float:
            sepconv_r1p4_f32(kc, a, a_row, a_col, b, nr, b_panel, c, c_row, first, out,
                             out_row, bias, bias_mode, simple)
        else:
            sepconv_r1p4_f64(kc, a, a_row, a_col, b, nr, b_panel, c, c_row, first, out,
                             out_row, bias, bias_mode, simple)
    else:
        if floating is float:
            sepconv_r1p2_f32(kc, a, a_row, a_col, b, nr, b_panel, c, c_row, first, out,
                             out_row, bias, bias_mode, simple)
        else:
            sepconv_r1p2_f64(kc, a, a_row, a_col, b, nr, b_panel, c, c_row, first, out,
                             out_row, bias, bias_mode, simple)


cdef inline void _micro_row_sum(Py_ssize_t kc, const floating* a, Py_ssize_t a_col,
                                const floating* b, Py_ssize_t b_row, floating* c,
                                bint first) noexcept nogil:
    # One row of _micro_kernel (A element k at a[k * a_col]): the storing
    # row kernel with no bias and no activation, C read (unless first) and
    # written in place.
    if floating is float:
        sepconv_micro_row_f32(kc, a, 0, a_col, b, b_row, c, 0, first, c, 0, c, 0, ACT_LINEAR,
                              SEPCONV_NR_F32)
    else:
        sepconv_micro_row_f64(kc, a, 0, a_col, b, b_row, c, 0, first, c, 0, c, 0, ACT_LINEAR,
                              SEPCONV_NR_F64)


cdef inline void _micro_row_half(Py_ssize_t kc, const floating* a, const floating* b,
                                 Py_ssize_t b_row, floating* c, bint first) noexcept nogil:
    # One row of _micro_kernel_half.
    if floating is float:
        sepconv_micro_row_half_f32(kc, a, 0, 1, b, b_row, c, 0, first)
    else:
        sepconv_micro_row_half_f64(kc, a, 0, 1, b, b_row, c, 0, first)


cdef inline void _micro_kernel_tail(int quarters, Py_ssize_t kc, const floating* a,
                                    Py_ssize_t a_row, const floating* b, Py_ssize_t b_row,
                                    floating* c, Py_ssize_t c_row, bint first) noexcept nogil:
    # The last, partial panel of filters into C, ``quarters`` quarters of NR
    # wide (1, 2 or 3; 4 is _micro_kernel): the first columns of the packed
    # panel, whose rows stay b_row = NR apart.
    if quarters == 2:
        _micro_kernel_half(kc, a, a_row, b, b_row, c, c_row, first)
    elif floating is float:
        if quarters == 3:
            sepconv_micro_3q_f32(kc, a, a_row, 1, b, b_row, c, c_row, first)
        else:
            sepconv_micro_q_f32(kc, a, a_row, 1, b, b_row, c, c_row, first)
    else:
        if quarters == 3:
            sepconv_micro_3q_f64(kc, a, a_row, 1, b, b_row, c, c_row, first)
        else:
            sepconv_micro_q_f64(kc, a, a_row, 1, b, b_row, c, c_row, first)


cdef inline void _micro_row_tail(int quarters, Py_ssize_t kc, const floating* a,
                                 const floating* b, Py_ssize_t b_row, floating* c,
                                 bint first) noexcept nogil:
    # One row of _micro_kernel_tail.
    if quarters == 2:
        _micro_row_half(kc, a, b, b_row, c, first)
    elif floating is float:
        if quarters == 3:
            sepconv_micro_row_3q_f32(kc, a, 0, 1, b, b_row, c, 0, first)
        else:
            sepconv_micro_row_q_f32(kc, a, 0, 1, b, b_row, c, 0, first)
    else:
        if quarters == 3:
            sepconv_micro_row_3q_f64(kc, a, 0, 1, b, b_row, c, 0, first)
        else:
            sepconv_micro_row_q_f64(kc, a, 0, 1, b, b_row, c, 0, first)


cdef inline void _micro_tail_store(int quarters, Py_ssize_t kc, const floating* a,
                                   Py_ssize_t a_row, const floating* b, Py_ssize_t b_row,
                                   const floating* c, Py_ssize_t c_row, bint first,
                                   floating* out, Py_ssize_t out_row, const floating* bias,
                                   int bias_mode, int act, int cols) noexcept nogil:
    # _micro_kernel_store for the last, partial panel of filters, ``quarters``
    # quarters of NR wide (as _micro_kernel_tail), writing its ``cols``
    # columns of out (cols < NR) and nothing past them.
    cdef int simple = act if act <= ACT_LEAKY_RELU else ACT_LINEAR
    if floating is float:
        if quarters == 4:
            sepconv_micro_store_f32(kc, a, a_row, 1, b, b_row, c, c_row, first, out, out_row,
                                    bias, bias_mode, simple, cols)
        elif quarters == 3:
            sepconv_micro_3q_store_f32(kc, a, a_row, 1, b, b_row, c, c_row, first, out,
                                       out_row, bias, bias_mode, simple, cols)
        elif quarters == 2:
            sepconv_micro_half_store_f32(kc, a, a_row, 1, b, b_row, c, c_row, first, out,
                                         out_row, bias, bias_mode, simple, cols)
        else:
            sepconv_micro_q_store_f32(kc, a, a_row, 1, b, b_row, c, c_row, first, out,
                                      out_row, bias, bias_mode, simple, cols)
    else:
        if quarters == 4:
            sepconv_micro_store_f64(kc, a, a_row, 1, b, b_row, c, c_row, first, out, out_row,
                                    bias, bias_mode, simple, cols)
        elif quarters == 3:
            sepconv_micro_3q_store_f64(kc, a, a_row, 1, b, b_row, c, c_row, first, out,
                                       out_row, bias, bias_mode, simple, cols)
        elif quarters == 2:
            sepconv_micro_half_store_f64(kc, a, a_row, 1, b, b_row, c, c_row, first, out,
                                         out_row, bias, bias_mode, simple, cols)
        else:
            sepconv_micro_q_store_f64(kc, a, a_row, 1, b, b_row, c, c_row, first, out,
                                      out_row, bias, bias_mode, simple, cols)


cdef inline void _micro_pair(Py_ssize_t kc, const floating* a, Py_ssize_t a_row,
                             const floating* b, Py_ssize_t b_row, floating* c,
                             Py_ssize_t c_row, bint first, bint store, floating* out,
                             Py_ssize_t out_row, const floating* bias, int bias_mode,
                             int act, int cols) noexcept nogil:
    # The one-vector last panel over two row blocks (tail_pairs levels):
    # into C, or (store) its last KC block into out as _micro_tail_store.
    cdef int simple = act if act <= ACT_LEAKY_RELU else ACT_LINEAR
    if floating is float:
        if store:
            sepconv_micro_pair_store_f32(kc, a, a_row, 1, b, b_row, c, c_row, first, out,
                                         out_row, bias, bias_mode, simple, cols)
        else:
            sepconv_micro_pair_f32(kc, a, a_row, 1, b, b_row, c, c_row, first)
    else:
        if store:
            sepconv_micro_pair_store_f64(kc, a, a_row, 1, b, b_row, c, c_row, first, out,
                                         out_row, bias, bias_mode, simple, cols)
        else:
            sepconv_micro_pair_f64(kc, a, a_row, 1, b, b_row, c, c_row, first)


cdef inline int _tail_quarters(Py_ssize_t filters, Py_ssize_t nr) noexcept nogil:
    # Quarters of NR the last panel of filters needs (1-4): the level's
    # narrowest kernel that covers it (halves only without gemm_quarters),
    # 4 when the panel is full or wider than three quarters.
    cdef Py_ssize_t tail = filters % nr
    cdef Py_ssize_t quarter = nr // 4
    if tail == 0:
        return 4
    if SEPCONV_GEMM_QUARTERS:
        return <int>((tail + quarter - 1) // quarter)
    return 2 if tail <= 2 * quarter else 4


# --------------------------------------------------------------------------
# Depthwise tiles.
# --------------------------------------------------------------------------
cdef inline void _tap_range(Py_ssize_t t0, Py_ssize_t t1, Py_ssize_t offset,
                            Py_ssize_t stride, Py_ssize_t steps,
                            Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    # Steps t in [t0, t1) whose tap position t*stride + offset is inside
    # [0, steps).  offset = k*dilation - pad_left may be negative.
    cdef Py_ssize_t first = 0, last
    if offset < 0:
        first = (-offset + stride - 1) // stride
    if steps - 1 - offset < 0:
        last = 0
    else:
        last = (steps - 1 - offset) // stride + 1
    lo[0] = t0 if first < t0 else first
    hi[0] = t1 if last > t1 else last
    if hi[0] < lo[0]:
        hi[0] = lo[0]


cdef inline void _dw_block(const floating* x, Py_ssize_t steps, Py_ssize_t ldx,
                           Py_ssize_t origin, const floating* w, Py_ssize_t width,
                           Py_ssize_t taps, Py_ssize_t stride, Py_ssize_t dilation,
                           Py_ssize_t first_pos, floating* d, Py_ssize_t ld,
                           bint half) noexcept nogil:
    # The C register block of the dtype (microkernels.h): two vectors of
    # channels wide, or one with ``half``.
    if floating is float:
        if half:
            sepconv_dw_half_f32(x, steps, ldx, origin, w, width, taps, stride, dilation,
                                first_pos, d, ld)
        else:
            sepconv_dw_block_f32(x, steps, ldx, origin, w, width, taps, stride, dilation,
                                 first_pos, d, ld)
    else:
        if half:
            sepconv_dw_half_f64(x, steps, ldx, origin, w, width, taps, stride, dilation,
                                first_pos, d, ld)
        else:
            sepconv_dw_block_f64(x, steps, ldx, origin, w, width, taps, stride, dilation,
                                 first_pos, d, ld)


cdef inline void _dw_narrow(const floating* x, Py_ssize_t steps, Py_ssize_t ldx,
                            Py_ssize_t origin, const floating* w, Py_ssize_t width,
                            Py_ssize_t taps, Py_ssize_t stride, Py_ssize_t dilation,
                            Py_ssize_t first_pos, floating* d, Py_ssize_t ld) noexcept nogil:
    # The block half a vector of channels wide.
    if floating is float:
        sepconv_dw_narrow_f32(x, steps, ldx, origin, w, width, taps, stride, dilation,
                              first_pos, d, ld)
    else:
        sepconv_dw_narrow_f64(x, steps, ldx, origin, w, width, taps, stride, dilation,
                              first_pos, d, ld)


cdef inline Py_ssize_t _stage_stride(Py_ssize_t channels, Py_ssize_t itemsize) noexcept nogil:
    # Row stride (elements) of a staged input tile: channels rounded up to
    # a whole number of 64-byte lines, and to an odd number of them.  Rows
    # an even number of lines apart fall into a fraction of the L1's 64
    # sets: 256 float32 channels (16 lines, 1 KiB) put a depthwise block's
    # 38 input rows (quartz_b8: 6 steps + 32 taps of halo) in 4 sets of 8
    # ways, which hold 32 lines.  17 lines spread them over every set.
    # Zen 3, AVX2, 1 thread, bench/ab.py against 16 lines, float32:
    # quartz_b8 and quartz_b1 0.97, c512_b4 0.97, s4k8_b8 and dm4_s2_b16
    # 0.97, long_b1 and k8same_b2 0.98; float64 quartz_b8 0.94; shapes whose
    # rows were already an odd number of lines are unchanged.
    cdef Py_ssize_t per_line = 64 // itemsize
    cdef Py_ssize_t lines = (channels + per_line - 1) // per_line
    if lines % 2 == 0:
        lines += 1
    return lines * per_line


cdef inline void _stage_window(Py_ssize_t t0, Py_ssize_t rows, Py_ssize_t steps,
                               Py_ssize_t taps, Py_ssize_t stride, Py_ssize_t dilation,
                               Py_ssize_t pad_left, Py_ssize_t* lo,
                               Py_ssize_t* hi) noexcept nogil:
    # Input steps [lo, hi) a tile of `rows` outputs from t0 reads (clipped).
    lo[0] = t0 * stride - pad_left
    hi[0] = (t0 + rows - 1) * stride - pad_left + (taps - 1) * dilation + 1
    if lo[0] < 0:
        lo[0] = 0
    if hi[0] > steps:
        hi[0] = steps
    if hi[0] < lo[0]:
        hi[0] = lo[0]


cdef inline bint _stage_pays(uintptr_t x, Py_ssize_t row_bytes, Py_ssize_t taps,
                             Py_ssize_t mult, Py_ssize_t stride, Py_ssize_t dilation,
                             Py_ssize_t rows, Py_ssize_t window) noexcept nogil:
    # Whether _forward copies each channels_last input tile into aligned
    # scratch (_depthwise_steps_major's ``stage``).  The copy is a pass of
    # its own over the tile's input window, halo included: a load and a
    # store per vector that overlap no arithmetic.  It pays only where the
    # depthwise block loads each input row many times, each load across a
    # line when x is off one: the plain block loads a row mult * taps /
    # stride times; the tap-reuse block (AVX-512's dw_taps, stride and
    # dilation 1, 7 taps or more) about taps / 3 times, too few.  Zen 4, 1
    # thread, x at 16 mod 64, the cost against x on a line, this rule vs
    # the one before (staged from 5 taps up), interleaved in one process:
    # AVX-512 s4k8_b8 (8 taps, stride 4) float32 +18% -> +4%, float64 +12%
    # -> +2%; long_b1 (9) +6% -> +3%, +8% -> +5%; audio_b1 (9) float32 +5%
    # -> +2%; k8same_b2 +8-10% -> +7%; AVX2 s4k8_b8 +13% -> +7%, +8% -> +1%;
    # quartz_b8, quartz_b1 and dm4_s2_b16 (4 x 7 taps at stride 2, still
    # staged) unchanged.  Rows that are not whole lines are no reason to
    # stage: c40_b1 and c100_b4 with x on a line ran 3-5% faster unstaged
    # (the blocks after the last full one start off a line either way).
    # With vectors of 16 bytes (SSE2, NEON) and x on a 16-byte boundary no
    # load crosses a line.
    if x % SEPCONV_VEC_BYTES == 0 and row_bytes % SEPCONV_VEC_BYTES == 0:
        return False
    # Rows shorter than half a vector go through the scalar block or the
    # flat run (_depthwise_steps_major), which load no vector from a row:
    # nothing to align, and the flat run needs the rows where they lie.
    if 2 * row_bytes < SEPCONV_VEC_BYTES:
        return False
    if SEPCONV_DW_REUSES(taps, stride, dilation):
        return False
    # The same count over a tile's own ``window`` of input rows (0: a long
    # tile), for tiles too short or too dilated to load every row of it
    # mult * taps / stride times: one output step of 19 taps at dilation 5
    # read 19 of the 91 rows it copied.  Zen 3, AVX2, x at 16 mod 64,
    # against staging them: 7 x 91 x 294 -> 231 there 0.78x the time, 21
    # taps at dilation 6 (54-step tiles) 0.89x.
    if window > 0 and rows * taps * mult < 12 * window:
        return False
    return mult * taps >= 12 * stride


def stages_input(uintptr_t address, Py_ssize_t row_bytes, Py_ssize_t taps, Py_ssize_t mult,
                 Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t rows=0,
                 Py_ssize_t steps=0):
    """Whether a channels_last input at ``address`` (rows of ``row_bytes``) is
    copied tile by tile into aligned scratch (the kernel's own rule; tests):
    for tiles of ``rows`` output steps over ``steps`` input steps, or for long
    tiles when rows is 0."""
    return bool(_stage_pays(address, row_bytes, taps, mult, stride, dilation, rows,
                            _stage_rows(rows, steps, taps, stride, dilation) if rows else 0))


cdef inline Py_ssize_t _stage_rows(Py_ssize_t rows, Py_ssize_t steps, Py_ssize_t taps,
                                   Py_ssize_t stride, Py_ssize_t dilation) noexcept nogil:
    # Input rows a tile of ``rows`` output steps reads, halo included (at
    # most the whole input).
    cdef Py_ssize_t window = (rows - 1) * stride + (taps - 1) * dilation + 1
    return window if window < steps else steps


cdef inline Py_ssize_t _dw_lead(uintptr_t x, Py_ssize_t channels, Py_ssize_t itemsize,
                                 Py_ssize_t taps, Py_ssize_t stride) noexcept nogil:
    # The first channel whose loads start on a vector boundary, where the
    # depthwise block realigns its channel blocks to it (0: it does not).
    # Rows that are whole vectors but start off a boundary (NumPy puts big
    # arrays 16 bytes past a page) are all off by the same amount, so blocks
    # that start at channel ``lead`` load on boundaries in every row; the
    # channels before it and the last ones take a narrower block each.  That
    # costs up to one vector of multiply-adds per row and two more blocks
    # than blocks from channel 0, so it pays only with 8 vectors of channels
    # or more, each row loaded 5 times or more (taps / stride).  Zen 5, 1
    # thread, x and out at 16 mod 64, new / old, interleaved (bench/ab.py),
    # float32 / float64: quartz_b8 (33 taps, 256 channels) 0.96 / 0.93,
    # quartz_b1 0.93 / 0.92, thru_b32 (5, 128) 0.97 / 0.98, audio_b1 (9,
    # 128) 0.99 / 0.96; but where this rule leaves it out: long_b1 (9, 64)
    # float32 1.01, s4k8_b8 (8 taps, stride 4) 1.01 / 1.02, dil4_b8 (3)
    # 1.02 / 1.02, kws_b1 (3, 64) 1.03 / 1.04.  Vectors of 64 bytes only:
    # with narrower ones at most every other load crosses a line, and at
    # AVX2 (x at 16 mod 64) quartz_b8, audio_b1, long_b1 and thru_b32 came
    # out 0.99-1.00, thru_b32 float32 once 1.035.
    cdef Py_ssize_t lanes = SEPCONV_VEC_BYTES // itemsize
    cdef Py_ssize_t off = <Py_ssize_t>(x % SEPCONV_VEC_BYTES)
    if SEPCONV_VEC_BYTES < 64 or off == 0 or off % itemsize != 0:
        return 0
    if (channels * itemsize) % SEPCONV_VEC_BYTES != 0:
        return 0
    if channels < 8 * lanes or taps < 5 * stride:
        return 0
    return lanes - off // itemsize


def depthwise_lead(uintptr_t address, Py_ssize_t channels, Py_ssize_t itemsize,
                   Py_ssize_t taps, Py_ssize_t stride):
    """The channel at which an unstaged channels_last input at ``address``
    has its depthwise blocks start (0: at channel 0; the kernel's own rule;
    tests)."""
    return _dw_lead(address, channels, itemsize, taps, stride)


cdef inline void _dw_blocks_from_lead(const floating* src, Py_ssize_t steps, Py_ssize_t ldx,
                                      Py_ssize_t origin, const floating* w, Py_ssize_t width,
                                      Py_ssize_t channels, Py_ssize_t lead, Py_ssize_t taps,
                                      Py_ssize_t stride, Py_ssize_t dilation,
                                      Py_ssize_t first_pos, floating* d,
                                      Py_ssize_t ld) noexcept nogil:
    # One block row of one depthwise output group (w and d at its channel
    # 0) with blocks from channel ``lead`` on (_dw_lead): a head over
    # channels [0, lead), two-vector blocks (and one one-vector block) over
    # [lead, channels - lanes + lead), whose loads are all on boundaries, and
    # a tail over the rest.  Head and tail are half a vector wide where that
    # covers them (and half a vector has at least two lanes), one vector
    # otherwise, and overlap the blocks beside them, which give the same
    # bits there (every block sums the same taps in the same order).
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t lanes = nr // 2
    cdef Py_ssize_t lag = lanes - lead
    cdef Py_ssize_t cb = lead
    cdef Py_ssize_t end = channels - lag
    if lanes >= 4 and lead <= lanes // 2:
        _dw_narrow(src, steps, ldx, origin, w, width, taps, stride, dilation, first_pos, d, ld)
    else:
        _dw_block(src, steps, ldx, origin, w, width, taps, stride, dilation, first_pos, d, ld,
                  True)
    while cb + nr <= end:
        _dw_block(src + cb, steps, ldx, origin, w + cb, width, taps, stride, dilation,
                  first_pos, d + cb, ld, False)
        cb += nr
    if cb < end:
        _dw_block(src + cb, steps, ldx, origin, w + cb, width, taps, stride, dilation,
                  first_pos, d + cb, ld, True)
    if lanes >= 4 and lag <= lanes // 2:
        cb = channels - lanes // 2
        _dw_narrow(src + cb, steps, ldx, origin, w + cb, width, taps, stride, dilation,
                   first_pos, d + cb, ld)
    else:
        cb = channels - lanes
        _dw_block(src + cb, steps, ldx, origin, w + cb, width, taps, stride, dilation,
                  first_pos, d + cb, ld, True)


cdef inline void _stage_copy(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                             Py_ssize_t t0, Py_ssize_t rows, Py_ssize_t taps,
                             Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                             floating* stage) noexcept nogil:
    # The channels_last input rows a tile of ``rows`` outputs from t0 reads
    # into ``stage``, each at _stage_stride.
    cdef Py_ssize_t lo, hi, pos
    cdef Py_ssize_t ldx = _stage_stride(channels, sizeof(floating))
    _stage_window(t0, rows, steps, taps, stride, dilation, pad_left, &lo, &hi)
    for pos in range(lo, hi):
        memcpy(stage + (pos - lo) * ldx, x + pos * channels, channels * sizeof(floating))


cdef inline void _stage_transposed(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                                   Py_ssize_t t0, Py_ssize_t rows, Py_ssize_t taps,
                                   Py_ssize_t stride, Py_ssize_t dilation,
                                   Py_ssize_t pad_left, floating* stage) noexcept nogil:
    # The same rows from a channels_first input (x is channels x steps):
    # stage[(pos - lo) * ldx + c] = x[c, pos], the C transpose of the dtype.
    cdef Py_ssize_t lo, hi
    cdef Py_ssize_t ldx = _stage_stride(channels, sizeof(floating))
    _stage_window(t0, rows, steps, taps, stride, dilation, pad_left, &lo, &hi)
    if floating is float:
        sepconv_transpose_f32(x + lo, steps, channels, hi - lo, stage, ldx, NULL)
    else:
        sepconv_transpose_f64(x + lo, steps, channels, hi - lo, stage, ldx, NULL)


cdef inline void _taps_inside(Py_ssize_t pos, Py_ssize_t steps, Py_ssize_t taps,
                              Py_ssize_t dilation, Py_ssize_t* k_lo,
                              Py_ssize_t* k_hi) noexcept nogil:
    # The taps k whose input step pos + k * dilation lies in [0, steps):
    # [k_lo, k_hi), empty when none does.
    k_lo[0] = 0 if pos >= 0 else (-pos + dilation - 1) // dilation
    k_hi[0] = 0 if pos >= steps else (steps - 1 - pos) // dilation + 1
    if k_hi[0] > taps:
        k_hi[0] = taps
    if k_hi[0] < k_lo[0]:
        k_hi[0] = k_lo[0]


cdef inline void _dw_few_rows(const floating* src, Py_ssize_t steps, Py_ssize_t ldx,
                              Py_ssize_t origin, const floating* w, Py_ssize_t width,
                              Py_ssize_t channels, Py_ssize_t taps, Py_ssize_t stride,
                              Py_ssize_t dilation, Py_ssize_t first_pos, floating* d,
                              Py_ssize_t ld) noexcept nogil:
    # One block row of one depthwise output group (w and d at its channel
    # 0) with fewer channels than half a vector: the scalar block where
    # every tap of the block is inside the input, else one sum at a time,
    # in a register, over each row's taps inside ([k_lo, k_hi)).
    cdef Py_ssize_t rr, ch, k, pos, k_lo, k_hi
    cdef floating acc
    cdef floating* drow
    if first_pos >= 0 and (first_pos + (SEPCONV_DW_ROWS - 1) * stride
                           + (taps - 1) * dilation < steps):
        if floating is float:
            sepconv_dw_few_f32(src + (first_pos - origin) * ldx, ldx, w, width, taps, stride,
                               dilation, channels, d, ld)
        else:
            sepconv_dw_few_f64(src + (first_pos - origin) * ldx, ldx, w, width, taps, stride,
                               dilation, channels, d, ld)
        return
    for rr in range(SEPCONV_DW_ROWS):
        drow = d + rr * ld
        pos = first_pos + rr * stride
        _taps_inside(pos, steps, taps, dilation, &k_lo, &k_hi)
        for ch in range(channels):
            acc = 0
            for k in range(k_lo, k_hi):
                acc = acc + src[(pos + k * dilation - origin) * ldx + ch] * w[k * width + ch]
            drow[ch] = acc


cdef bint _dw_flat_runs(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                        const floating* w, Py_ssize_t taps, Py_ssize_t dilation,
                        Py_ssize_t pad_left, Py_ssize_t t0, Py_ssize_t rows,
                        floating* d) noexcept nogil:
    # A tile of a stride-1 layer with fewer channels than half a vector and
    # one output per channel (rows of x and d ``channels`` long) as flat
    # runs (microkernels.h): the steps whose taps are all inside the input
    # in one, each stretch of edge steps with the same taps inside in one.
    # False, with nothing written, when the weights' table does not fit.
    cdef floating table[SEPCONV_FLAT_TABLE]
    cdef Py_ssize_t p, r, end, pos, k_lo, k_hi, lo2, hi2
    cdef const floating* src
    if floating is float:
        p = sepconv_dw_flat_table_f32(w, channels, taps, channels, table)
    else:
        p = sepconv_dw_flat_table_f64(w, channels, taps, channels, table)
    if p == 0:
        return False
    r = 0
    while r < rows:
        pos = t0 + r - pad_left
        _taps_inside(pos, steps, taps, dilation, &k_lo, &k_hi)
        if k_lo == 0 and k_hi == taps:
            # up to the first step whose last tap is outside
            end = steps - (taps - 1) * dilation + pad_left - t0
            end = rows if end > rows else end
        else:
            end = r + 1
            while end < rows:
                _taps_inside(pos + end - r, steps, taps, dilation, &lo2, &hi2)
                if lo2 != k_lo or hi2 != k_hi:
                    break
                end += 1
        src = x + (pos + k_lo * dilation) * channels if k_hi > k_lo else x
        if floating is float:
            sepconv_dw_flat_f32(src, dilation * channels, table + k_lo * p, p, k_hi - k_lo,
                                (end - r) * channels, d + r * channels)
        else:
            sepconv_dw_flat_f64(src, dilation * channels, table + k_lo * p, p, k_hi - k_lo,
                                (end - r) * channels, d + r * channels)
        r = end
    return True


cdef void _depthwise_steps_major(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                                 const floating* dw, Py_ssize_t taps, Py_ssize_t mult,
                                 Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                                 Py_ssize_t t0, Py_ssize_t rows,
                                 floating* d, Py_ssize_t ld,
                                 floating* stage) noexcept nogil:
    # channels_last: x is (steps, channels); d[r, m*C + c] for r < rows (a
    # multiple of DW_ROWS).  Blocks of DW_ROWS steps x NR channels are summed
    # over all taps in registers, so each multiply-add costs one load of x
    # and a share of one load of the weights, and D is written once.
    # Channels past the last full NR block take one more block that ends at
    # the last channel, overlapping the one before: one vector wide when
    # they fit in one vector (c40_b1 at AVX-512 float32: 32 + 16 channels
    # computed, not 32 + 32), two otherwise.  Fewer than NR channels take
    # one-vector blocks, the last ending at the last channel; fewer than one
    # vector but at least half of one (and half a vector of at least two
    # lanes) take half-vector blocks the same way (tiny_b1's 8 channels at
    # AVX-512 float32), and fewer a plain loop.  Either way a value is summed
    # over the taps in order, skipping taps outside the input.
    # With ``stage`` (64-byte aligned), the rows the tile reads, [lo, hi)
    # of _stage_window, are read from there instead, at _stage_stride: the
    # caller copied them (_stage_copy: every vector load aligned, when
    # _stage_pays; _stage_transposed: a channels_first input).  Without it,
    # rows that are whole vectors but start off a vector boundary take blocks
    # realigned to the first channel on one (_dw_lead).
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t lanes = nr // 2
    cdef Py_ssize_t full = channels - channels % nr
    cdef Py_ssize_t rem = channels - full
    cdef Py_ssize_t block, r, m, chunk, cb, lo, hi, first_pos
    cdef Py_ssize_t ldx = channels
    cdef Py_ssize_t origin = 0
    cdef const floating* src = x
    if stage != NULL:
        ldx = _stage_stride(channels, sizeof(floating))
        _stage_window(t0, rows, steps, taps, stride, dilation, pad_left, &lo, &hi)
        origin = lo
        src = stage
    # A block ending at the last channel recomputes some channels of the
    # block before it, with the same taps in the same order, so it writes the
    # same bits there.  The blocks after the full ones, chosen once: tail
    # (ending at the last channel; one vector wide with tail_half) and, for
    # 1-2 vectors of channels, head (one vector from channel 0).
    cdef Py_ssize_t tail = -1, head = -1, narrow = -1
    cdef bint tail_half = rem <= lanes
    if rem > 0 and full > 0:
        tail = channels - (lanes if tail_half else nr)
    elif rem >= lanes:
        tail = channels - lanes
        tail_half = True
        if rem > lanes:
            head = 0
    elif lanes >= 4 and rem >= lanes // 2:
        narrow = channels - lanes // 2   # and one at channel 0 when narrow > 0
    cdef Py_ssize_t reach = (taps - 1) * dilation - pad_left + 1
    cdef Py_ssize_t ahead
    cdef Py_ssize_t lead = 0 if stage != NULL else _dw_lead(<uintptr_t>x, channels,
                                                            sizeof(floating), taps, stride)
    # Fewer channels than half a vector (no vector block above covers
    # them): _dw_few_rows per block row, or at stride 1 with one output per
    # channel, rows read where they lie and written as long, the whole tile
    # as flat runs (_dw_flat_runs) if the weights' table fits.
    cdef bint few = rem > 0 and full == 0 and tail < 0 and narrow < 0 and lead == 0
    if (few and stride == 1 and mult == 1 and stage == NULL and ld == channels):
        if _dw_flat_runs(x, steps, channels, dw, taps, dilation, pad_left, t0, rows, d):
            return
    for block in range(rows // SEPCONV_DW_ROWS):
        r = block * SEPCONV_DW_ROWS
        if stage == NULL and taps < 8:
            # The input rows that the block two blocks on adds to its window
            # (with 8 taps or more each line is read often enough that the
            # prefetches only cost load slots: quartz_b8 +2%).
            ahead = t0 + r + 2 * SEPCONV_DW_ROWS
            lo = (ahead - 1) * stride + reach
            hi = (ahead + SEPCONV_DW_ROWS - 1) * stride + reach
            if lo < 0:
                lo = 0
            if hi > steps:
                hi = steps
            if lo < hi:
                sepconv_prefetch_rows(x, channels * sizeof(floating), lo, hi)
        first_pos = (t0 + r) * stride - pad_left
        for m in range(mult):
            if lead > 0:
                _dw_blocks_from_lead(src, steps, ldx, origin, dw + m * channels, width,
                                     channels, lead, taps, stride, dilation, first_pos,
                                     d + r * ld + m * channels, ld)
                continue
            for chunk in range(full // nr):
                cb = chunk * nr
                _dw_block(src + cb, steps, ldx, origin, dw + m * channels + cb, width, taps,
                          stride, dilation, first_pos, d + r * ld + m * channels + cb, ld,
                          False)
            if head >= 0:
                _dw_block(src, steps, ldx, origin, dw + m * channels, width, taps,
                          stride, dilation, first_pos, d + r * ld + m * channels, ld, True)
            if tail >= 0:
                _dw_block(src + tail, steps, ldx, origin, dw + m * channels + tail, width,
                          taps, stride, dilation, first_pos, d + r * ld + m * channels + tail,
                          ld, tail_half)
            if narrow >= 0:
                _dw_narrow(src, steps, ldx, origin, dw + m * channels, width, taps, stride,
                           dilation, first_pos, d + r * ld + m * channels, ld)
                if narrow > 0:
                    _dw_narrow(src + narrow, steps, ldx, origin, dw + m * channels + narrow,
                               width, taps, stride, dilation, first_pos,
                               d + r * ld + m * channels + narrow, ld)
            if few:
                _dw_few_rows(src, steps, ldx, origin, dw + m * channels, width, channels,
                             taps, stride, dilation, first_pos, d + r * ld + m * channels, ld)


cdef inline void _dw_cf_block(const floating** rows, Py_ssize_t steps, const floating* w,
                              Py_ssize_t width, Py_ssize_t taps, Py_ssize_t dilation,
                              Py_ssize_t first_pos, floating* d, Py_ssize_t ld) noexcept nogil:
    # The C channels_first register block of the dtype (microkernels.h).
    if floating is float:
        sepconv_dw_cf_block_f32(rows, steps, w, width, taps, dilation, first_pos, d, ld)
    else:
        sepconv_dw_cf_block_f64(rows, steps, w, width, taps, dilation, first_pos, d, ld)


cdef inline void _dw_cf_at(const floating** rows, const floating* w, Py_ssize_t width,
                           Py_ssize_t taps, const Py_ssize_t* offs, Py_ssize_t first_pos,
                           floating* d, Py_ssize_t ld) noexcept nogil:
    # The same block with tap k at rows[r] + first_pos + offs[k] (every tap
    # inside the rows): the strided loop's phase-split copies.
    if floating is float:
        sepconv_dw_cf_at_f32(rows, w, width, taps, offs, first_pos, d, ld)
    else:
        sepconv_dw_cf_at_f64(rows, w, width, taps, offs, first_pos, d, ld)


# Longest zero-padded input window (steps) an edge tile of the
# channels_first depthwise loop copies, and the largest staged channels_last
# input tile (bytes); longer ones read the caller's array directly; and
# the output size past which the storing micro-kernel prefetches (_forward);
# scratch of at most _STACK_SCRATCH bytes per participant lives on its stack
# (_participate; pool workers have 1 MiB stacks, OpenMP's and the caller's
# are larger).
# The forward kernel's layouts (sepconv.tiling: LAST, FIRST, FIRST_TRANSPOSED).
cdef enum:
    LAYOUT_LAST = 0
    LAYOUT_FIRST = 1
    LAYOUT_FIRST_TRANSPOSED = 2


cdef enum:
    _MAX_WINDOW = 8192
    _MAX_STAGE = 1 << 20
    _STREAMED_OUTPUT = 1 << 20
    _STACK_SCRATCH = 8192
    _HOLD_GIL_MACS = 1 << 15


cdef inline void _split_phases(const floating** xrows, Py_ssize_t steps, Py_ssize_t stride,
                               Py_ssize_t first, Py_ssize_t phase, floating* buf,
                               const floating** wrows) noexcept nogil:
    # Row jj of a strided channels_first block into buf + jj * stride * phase:
    # phase q at q * phase holds positions first + q + stride * i (i <
    # phase) of xrows[jj], zero outside [0, steps).  The i whose every phase
    # is inside go through the C deinterleave; the others (edge tiles
    # only) one value at a time.
    cdef Py_ssize_t jj, q, i, pos, lo, hi
    cdef floating* out
    cdef const floating* src
    # lo: the first i with first >= 0 (phase 0 inside from there on);
    # hi: one past the last i with first + stride - 1 + stride * i < steps.
    lo = 0 if first >= 0 else (-first + stride - 1) // stride
    hi = (steps - first - stride) // stride + 1 if steps - first - stride >= 0 else 0
    if lo > phase:
        lo = phase
    if hi > phase:
        hi = phase
    if hi < lo:
        hi = lo
    for jj in range(SEPCONV_DW_ROWS):
        src = xrows[jj]
        out = buf + jj * stride * phase
        if hi > lo:
            if floating is float:
                sepconv_split_f32(src + first + stride * lo, hi - lo, stride, out + lo, phase)
            else:
                sepconv_split_f64(src + first + stride * lo, hi - lo, stride, out + lo, phase)
        for q in range(stride):
            for i in range(lo):
                pos = first + q + stride * i
                out[q * phase + i] = src[pos] if 0 <= pos < steps else 0
            for i in range(hi, phase):
                pos = first + q + stride * i
                out[q * phase + i] = src[pos] if 0 <= pos < steps else 0
        wrows[jj] = out


cdef void _depthwise_channels_major(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                                    const floating* dw, Py_ssize_t taps, Py_ssize_t mult,
                                    Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                                    Py_ssize_t t0, Py_ssize_t cols,
                                    floating* d, Py_ssize_t ld) noexcept nogil:
    # channels_first: x is (channels, steps); d[m*C + c, r] for r < cols (a
    # multiple of NR).  Blocks of DW_ROWS channels x NR steps are summed over
    # all taps in registers by the C block (DW_ROWS x 2 independent vector
    # chains hide the FMA latency); channels past the last full block take a
    # plain loop.
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t full = width - width % SEPCONV_DW_ROWS
    cdef const floating* xrows[SEPCONV_DW_ROWS]
    cdef Py_ssize_t block, jp, jj, chunk, tc, k, base, r, lo, hi, rows_here, i
    cdef floating* drow
    cdef const floating* xr
    # A tile at an edge of the sequence reads past it for some taps, which
    # the C block handles lane by lane (about 16x slower per tap: a third of
    # the time of a 33-tap layer).  Instead its input window, zero padded,
    # is copied once per block of rows, and every tap is a vector tap:
    # fma(0, w, acc) == acc exactly for a finite weight (acc is never -0),
    # so the bits are the same as skipping the tap; a block whose weights
    # are not all finite keeps the skipping path.
    cdef Py_ssize_t first = t0 - pad_left
    cdef Py_ssize_t window = cols + (taps - 1) * dilation
    cdef Py_ssize_t inside_lo, inside_hi
    cdef bint padded
    cdef void* window_raw = NULL
    cdef floating* rows_buf = NULL
    cdef const floating* wrows[SEPCONV_DW_ROWS]
    cdef floating v
    # Strided, a tap's steps are ``stride`` apart in the row, so the block's
    # vector loads would be gathers.  Instead each row of a block is first
    # copied split into its ``stride`` phases, zero padded (phase q, of
    # ``phase`` steps, holds input positions first + q + stride * i, first
    # the tile's tap-0 position): output step j's tap k is then phase
    # (k * dilation) % stride at j + (k * dilation) // stride, so every tap
    # loads consecutive steps (offs[k]).  Bits as the zero-padded window's.
    cdef Py_ssize_t phase = cols + ((taps - 1) * dilation) // stride
    cdef Py_ssize_t* offs = NULL
    if stride > 1:
        window = stride * phase
        first = t0 * stride - pad_left
        if full > 0 and window <= _MAX_WINDOW:
            offs = <Py_ssize_t*>malloc(taps * sizeof(Py_ssize_t))
        if offs == NULL:
            full = 0
        else:
            for k in range(taps):
                offs[k] = ((k * dilation) % stride) * phase + (k * dilation) // stride
    if full > 0 and (stride > 1 or first < 0 or first + window > steps) \
            and window <= _MAX_WINDOW:
        window_raw = malloc(SEPCONV_DW_ROWS * window * sizeof(floating) + 64)
        rows_buf = <floating*>sepconv_scratch(window_raw,
                                               SEPCONV_DW_ROWS * window * sizeof(floating))
    inside_lo = 0 if first >= 0 else (-first if -first < window else window)
    inside_hi = steps - first if steps - first < window else window
    if inside_hi < inside_lo:
        inside_hi = inside_lo
    for block in range((width + SEPCONV_DW_ROWS - 1) // SEPCONV_DW_ROWS):
        jp = block * SEPCONV_DW_ROWS
        if jp < full:
            for jj in range(SEPCONV_DW_ROWS):
                xrows[jj] = x + ((jp + jj) % channels) * steps
            padded = rows_buf != NULL
            if padded:
                for k in range(taps):
                    for jj in range(SEPCONV_DW_ROWS):
                        v = dw[k * width + jp + jj]
                        if not (v - v == 0):   # inf or NaN
                            padded = False
            if stride > 1 and padded:
                _split_phases(xrows, steps, stride, first, phase, rows_buf, wrows)
                for chunk in range(cols // nr):
                    _dw_cf_at(wrows, dw + jp, width, taps, offs, chunk * nr,
                              d + jp * ld + chunk * nr, ld)
                continue
            if stride == 1:
                if padded:
                    for jj in range(SEPCONV_DW_ROWS):
                        drow = rows_buf + jj * window
                        for i in range(inside_lo):
                            drow[i] = 0
                        for i in range(inside_lo, inside_hi):
                            drow[i] = xrows[jj][first + i]
                        for i in range(inside_hi, window):
                            drow[i] = 0
                        wrows[jj] = drow
                for chunk in range(cols // nr):
                    tc = t0 + chunk * nr
                    if padded:   # positions relative to the window's first step
                        _dw_cf_block(wrows, window, dw + jp, width, taps, dilation, tc - t0,
                                     d + jp * ld + chunk * nr, ld)
                    else:
                        _dw_cf_block(xrows, steps, dw + jp, width, taps, dilation,
                                     tc - pad_left, d + jp * ld + chunk * nr, ld)
                continue
        # The last, partial block of channels (and a strided block whose
        # weights are not all finite): one row at a time.
        rows_here = width - jp if width - jp < SEPCONV_DW_ROWS else SEPCONV_DW_ROWS
        for jj in range(rows_here):
            drow = d + (jp + jj) * ld
            for r in range(cols):
                drow[r] = 0
            xr = x + ((jp + jj) % channels) * steps
            for k in range(taps):
                _tap_range(t0, t0 + cols, k * dilation - pad_left, stride, steps, &lo, &hi)
                base = k * dilation - pad_left
                for r in range(lo, hi):
                    drow[r - t0] += xr[r * stride + base] * dw[k * width + jp + jj]
    free(window_raw)
    free(offs)


# --------------------------------------------------------------------------
# One work item: (batch b, tile of output steps starting at t0).
# --------------------------------------------------------------------------
cdef void _tile_channels_last(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                              const floating* packed, Py_ssize_t taps, Py_ssize_t mult,
                              Py_ssize_t filters, bint use_bias, int act,
                              Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                              Py_ssize_t t0, Py_ssize_t tile, Py_ssize_t valid,
                              Py_ssize_t kcb, floating* y, floating* d, floating* ctile,
                              floating* stage, const char* pf,
                              const char* pf_end, bint pf_out) noexcept nogil:
    # Blocks of MR valid steps x NR filters inside the output take their
    # last KC block through the storing micro-kernel, straight into y (the
    # last, partial panel of filters under a lane mask, and at tail_pairs
    # levels two row blocks a call when it is one vector wide); the rows
    # past the last full MR block go through the C tile and the scalar
    # epilogue.
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t panels = (filters + nr - 1) // nr
    cdef Py_ssize_t filters_pad = panels * nr
    cdef Py_ssize_t full_panels = filters // nr
    cdef Py_ssize_t full_rows = valid - valid % SEPCONV_MR
    cdef const floating* pw = packed + taps * width
    cdef const floating* bias = pw + panels * width * nr
    cdef Py_ssize_t ld = width
    cdef Py_ssize_t p, rb, kb, kc, r, i, blk, c0, done, group, step, pair
    cdef floating* out
    cdef floating* ytile = y + t0 * filters
    cdef bint last
    # The last panel only as wide as it needs (_tail_quarters).
    cdef int tail_quarters = _tail_quarters(filters, nr)
    cdef bint narrow
    cdef bint pairs = SEPCONV_TAIL_PAIRS and tail_quarters == 2
    cdef Py_ssize_t pf_lines = 0
    cdef Py_ssize_t blocks = tile // SEPCONV_MR
    cdef Py_ssize_t pr
    cdef bint misaligned = ((<uintptr_t>ytile) % 64 != 0
                            or (filters * sizeof(floating)) % 64 != 0)
    cdef bint rows_outer
    # A last, partial block goes through the C tile whole, in MR-row
    # micro-kernel calls (the rows past the output are summed and never
    # read; the depthwise block wrote every row of the tile), when row
    # kernels would cost more (_rows_by_row_kernels): a 1-row call is one
    # chain of dependent multiply-adds per vector, bound by the FMA latency.
    # Before the multi-panel row kernels, from MR / 2 rows on; Zen 5, 1
    # thread, AVX-512, new / old
    # (bench/ab.py), float32 / float64: k8same_b2 (301 steps, 5 rows left)
    # 0.95 / 0.95, s4k8_b8 (1,023 outputs, 7 left) 0.97 / 1.00, c100_b4 (300
    # steps in tiles of 120, 120 and 60: 4 left) 0.98 / 0.98, c40_b1 0.99 /
    # 0.98; c512_b4 (none left) 1.00 / 1.01.  AVX2 (MR 6): 0.98-1.01.
    cdef bint block_rows = not _rows_by_row_kernels(valid - full_rows, full_panels)
    if pf != NULL and full_rows > 0:
        # [pf, pf_end): the next item's input, a share of it prefetched
        # after each micro-kernel call on a full MR block.
        pf_lines = ((pf_end - pf + 63) // 64) // (((width + kcb - 1) // kcb) * panels
                                                 * (full_rows // SEPCONV_MR)) + 1
    if stage != NULL:
        _stage_copy(x, steps, channels, t0, tile, taps, stride, dilation, pad_left, stage)
    _depthwise_steps_major(x, steps, channels, packed, taps, mult, stride, dilation,
                           pad_left, t0, tile, d, ld, stage)
    for blk in range((width + kcb - 1) // kcb):
        kb = blk * kcb
        kc = width - kb if width - kb < kcb else kcb
        last = kb + kc == width
        # Panel by panel, so that a panel of the weights stays in L1 across
        # the tile's rows; but at levels whose ISA table sets rows_outer
        # (AVX2, AVX-512), the last block into rows of y that are not whole
        # 64-byte lines goes row block by row block, so that a line two
        # panels share is written by both within one row block, and the
        # second panel's call does not ask for it again (prefetch_out's
        # shared_first).  Zen 4, 1 thread, x at 16 mod 64, the cost of out
        # at 16 or 48 against out at 0, the two orders switched in one
        # process, three rounds: float32 AVX-512 thru_b32 +4-8% -> 0-4%,
        # s4k8_b8 +1-5% -> -3 to +2%, long_b1, dil4_b8, quartz_b8 and
        # c512_b4 the same within 1%; float64 long_b1 +6-8% -> +3-5%,
        # dil4_b8 +7-8% -> +4-7%, s4k8_b8 0-4% -> -3 to +1%; float32 AVX2 (one
        # round) s4k8_b8 +4% -> +1%, dil4_b8 +6% -> +2%, long_b1 +5% ->
        # +3%.  The penalty itself moves with the VM's state (runs an hour
        # earlier read s4k8_b8 +9-12%).  Each output's sum is the same either
        # way: the order moves whole micro-kernel calls.
        rows_outer = SEPCONV_ROWS_OUTER and last and misaligned
        done = 0
        for pr in range(panels * blocks):
            if rows_outer:
                r = pr // panels
                p = pr - r * panels
            else:
                p = pr // blocks
                r = pr - p * blocks
            narrow = p == full_panels and tail_quarters < 4
            rb = r * SEPCONV_MR
            if rb >= valid:
                continue   # rows past the output: nothing reads them
            if rb >= full_rows and not block_rows:
                # The last, partial block, where row kernels pay
                # (_rows_by_row_kernels): its valid rows one or two at a
                # time (the others are never needed),
                # the last block of the sum of a full panel straight into y;
                # across 4 or 2 panels a call where there are that many
                # (_micro_rows_panels: a stream's one-step push, a short
                # sequence).
                if p < done:
                    continue   # done by the multi-panel row kernels
                group = 0
                if last and p < full_panels:
                    group = full_panels - p
                elif not last and not narrow:
                    group = (full_panels if tail_quarters < 4 else panels) - p
                step = _row_group(valid - rb, group)
                i = rb
                while step > 0 and i < valid:
                    pair = 2 if step == 2 and valid - i >= 2 else 1
                    if last:
                        out = ytile + i * filters + p * nr
                        _micro_rows_panels(pair, step, kc, d + i * ld + kb, ld, 1,
                                           pw + (p * width + kb) * nr, width * nr,
                                           ctile + i * filters_pad + p * nr, filters_pad,
                                           kb == 0, out, filters, bias + p * nr,
                                           1 if use_bias else 0, act)
                        if act > ACT_LEAKY_RELU:
                            _activate(out, step * nr, act)
                            if pair == 2:
                                _activate(out + filters, step * nr, act)
                    else:
                        out = ctile + i * filters_pad + p * nr
                        _micro_rows_panels(pair, step, kc, d + i * ld + kb, ld, 1,
                                           pw + (p * width + kb) * nr, width * nr, out,
                                           filters_pad, kb == 0, out, filters_pad, bias, 0,
                                           ACT_LINEAR)
                    i += pair
                if step > 0:
                    done = p + step
                    continue
                for i in range(rb, valid):
                    if last and p < full_panels:
                        out = ytile + i * filters + p * nr
                        _micro_row_store(kc, d + i * ld + kb, pw + (p * width + kb) * nr,
                                         nr, ctile + i * filters_pad + p * nr, kb == 0,
                                         out, bias + p * nr, 1 if use_bias else 0, act)
                        if act > ACT_LEAKY_RELU:
                            _activate(out, nr, act)
                    elif narrow:
                        _micro_row_tail(tail_quarters, kc, d + i * ld + kb,
                                        pw + (p * width + kb) * nr, nr,
                                        ctile + i * filters_pad + p * nr, kb == 0)
                    else:
                        out = ctile + i * filters_pad + p * nr
                        _micro_row_store(kc, d + i * ld + kb, pw + (p * width + kb) * nr,
                                         nr, out, kb == 0, out, bias, 0, ACT_LINEAR)
                continue
            if pf_lines and rb < full_rows:
                pf = sepconv_prefetch_ahead(pf, pf_end, pf_lines)
            if pairs and narrow and rb < full_rows:
                # Full row blocks 2j and 2j + 1 of a one-vector last panel
                # in one call (tail_pairs); an odd last one goes on below.
                if r % 2:
                    continue   # done with the block before it
                if rb + SEPCONV_MR < full_rows:
                    out = ytile + rb * filters + p * nr
                    _micro_pair(kc, d + rb * ld + kb, ld, pw + (p * width + kb) * nr, nr,
                                ctile + rb * filters_pad + p * nr, filters_pad, kb == 0,
                                last, out, filters, bias + p * nr, 1 if use_bias else 0,
                                act, <int>(filters - p * nr))
                    if last and act > ACT_LEAKY_RELU:
                        for i in range(2 * SEPCONV_MR):
                            _activate(out + i * filters, filters - p * nr, act)
                    continue
            if last and p < full_panels and rb < full_rows:
                # Stored straight into y even when y is misaligned: going
                # through the C tile and copying was measured slower on
                # Zen 4 (kws_b1 +5%, audio_b1 +3%).
                out = ytile + rb * filters + p * nr
                if pf_out:
                    sepconv_prefetch_out(out, filters * sizeof(floating), SEPCONV_MR,
                                         nr * sizeof(floating), rows_outer and p > 0)
                _micro_kernel_store(kc, d + rb * ld + kb, ld, 1,
                                    pw + (p * width + kb) * nr, nr,
                                    ctile + rb * filters_pad + p * nr, filters_pad,
                                    kb == 0, out, filters, bias + p * nr,
                                    1 if use_bias else 0, act)
                if act > ACT_LEAKY_RELU:
                    for i in range(SEPCONV_MR):
                        _activate(out + i * filters, nr, act)
            elif last and rb < full_rows:
                # The last, partial panel of filters, its last block stored
                # straight into y under a lane mask: no pass over the C tile
                # afterwards.
                out = ytile + rb * filters + p * nr
                _micro_tail_store(tail_quarters, kc, d + rb * ld + kb, ld,
                                  pw + (p * width + kb) * nr, nr,
                                  ctile + rb * filters_pad + p * nr, filters_pad, kb == 0,
                                  out, filters, bias + p * nr, 1 if use_bias else 0, act,
                                  <int>(filters - p * nr))
                if act > ACT_LEAKY_RELU:
                    for i in range(SEPCONV_MR):
                        _activate(out + i * filters, filters - p * nr, act)
            elif narrow:
                _micro_kernel_tail(tail_quarters, kc, d + rb * ld + kb, ld,
                                   pw + (p * width + kb) * nr, nr,
                                   ctile + rb * filters_pad + p * nr, filters_pad,
                                   kb == 0)
            else:
                _micro_kernel(kc, d + rb * ld + kb, ld, 1,
                              pw + (p * width + kb) * nr, nr,
                              ctile + rb * filters_pad + p * nr, filters_pad, kb == 0)
    if block_rows:   # the partial block's full panels, from the C tile
        for r in range(full_rows, valid):
            _store_row(ytile + r * filters, ctile + r * filters_pad, full_panels * nr, bias, 1,
                       use_bias, act)
    if full_panels * nr < filters:   # the partial panel's rows past the full blocks
        c0 = full_panels * nr
        for r in range(full_rows, valid):
            _store_row(ytile + r * filters + c0, ctile + r * filters_pad + c0,
                       filters - c0, bias + c0, 1, use_bias, act)


# channels_first tiles the other way round (_tile_channels_first_rows):
# -1 by the rule, 0 never, 1 always (set_cf_rows, for tests and timing).
cdef int _cf_rows_forced = -1


def set_cf_rows(int mode):
    """How the tiles of a channels_first call (tiling.FIRST) are multiplied:
    -1 by the kernel's rule (the default), 0 always filters x steps, 1 always
    steps x filters (the same bits either way; for tests and timing).
    Returns the previous mode."""
    global _cf_rows_forced
    if mode not in (-1, 0, 1):
        raise ValueError(f"set_cf_rows: mode must be -1, 0 or 1, received {mode}")
    previous = _cf_rows_forced
    _cf_rows_forced = mode
    return previous


cdef inline Py_ssize_t _cf_rows_ld(Py_ssize_t tile, Py_ssize_t nr) noexcept nogil:
    # Columns of the depthwise tile D (width x ld) when a channels_first tile
    # is multiplied steps x filters: whole MR row blocks of steps, computed
    # NR steps at a time by the depthwise block.
    cdef Py_ssize_t rows = (tile + SEPCONV_MR - 1) // SEPCONV_MR * SEPCONV_MR
    return (rows + nr - 1) // nr * nr


cdef inline bint _cf_by_rows(Py_ssize_t valid, Py_ssize_t nr) noexcept nogil:
    # Whether a channels_first tile of ``valid`` output steps is multiplied
    # steps x filters (rows of MR steps) rather than filters x steps
    # (columns of NR steps).
    # Rule: fewer steps than one column block (a tile of a short sequence,
    # or the last tile of a long one).  Zen 3, AVX2, float32, 1 thread,
    # interleaved, steps x filters over filters x steps: 1 output step
    # (6 x 41 x 269 -> 86, 11 taps at dilation 4) 0.65x the time, 2 steps
    # (stride 4) 0.77-0.81x; from 17 steps on it was 0.94-1.41x (24 and 66
    # steps 0.94-0.99x, 17 with 5 rows one at a time 1.09x, 300-1000 steps
    # 1.13-1.41x).
    if _cf_rows_forced >= 0:
        return _cf_rows_forced == 1
    return valid < nr


cdef void _tile_channels_first_rows(const floating* x, Py_ssize_t steps,
                                    Py_ssize_t channels, const floating* packed,
                                    Py_ssize_t taps, Py_ssize_t mult, Py_ssize_t filters,
                                    bint use_bias, int act, Py_ssize_t stride,
                                    Py_ssize_t dilation, Py_ssize_t pad_left, Py_ssize_t t0,
                                    Py_ssize_t tile, Py_ssize_t valid, Py_ssize_t kcb,
                                    Py_ssize_t out_steps, floating* y, floating* d,
                                    floating* ctile, floating* stage) noexcept nogil:
    # A channels_first tile the channels_last way round: the product's rows
    # are MR steps (A = D read across its columns: element (t, j) at
    # d[j * ld + t]) and its columns NR filters (the NR strips packed after
    # the bias), into the C tile (steps x filters), then written to y
    # transposed with the bias and activation.  A tile of few steps wastes
    # at most MR - 1 rows instead of NR - 1 columns (one output step: 1 of 6
    # rows computed instead of 1 of 16 columns at AVX2 float32).  With
    # ``stage``, the tile's input window is first transposed there to
    # steps-major rows and the depthwise is the channels_last one, into D as
    # steps x width (element (t, j) at d[t * width + j]).  Every output is
    # the same sum in the same order, so the same bits.
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t mr_panels = (filters + SEPCONV_MR - 1) // SEPCONV_MR
    cdef Py_ssize_t nr_panels = (filters + nr - 1) // nr
    cdef const floating* bias = packed + taps * width + mr_panels * width * SEPCONV_MR
    cdef const floating* pw = bias + mr_panels * SEPCONV_MR
    cdef Py_ssize_t ld = _cf_rows_ld(tile, nr)
    cdef Py_ssize_t ldc = nr_panels * nr
    cdef Py_ssize_t q, r, rb, kb, kc, blk, f, t
    cdef Py_ssize_t rest = valid % SEPCONV_MR
    cdef Py_ssize_t last = valid - rest
    # The steps after the last full row block: row kernels, across 4 or 2
    # panels a call where there are that many (_micro_rows_panels), or one
    # more MR block (rows past valid computed, never stored): the rule of
    # _rows_by_row_kernels.  Zen 3, AVX2, float32, 1 thread, the multi-panel
    # row calls against one panel a call: 2 steps (3 x 16 x 204 -> 180, 11
    # taps, stride 4) 0.72x with one row a call and 0.82x of that with two,
    # 1 step (6 x 41 x 269 -> 86) 0.89x.
    cdef bint whole = rest > 0 and not _rows_by_row_kernels(rest, nr_panels)
    cdef Py_ssize_t rows = last + (SEPCONV_MR if whole else rest)
    # D's element (step t, depthwise channel j) at d[t * a_step + j * a_chan].
    cdef Py_ssize_t a_step = 1, a_chan = ld
    cdef Py_ssize_t dw_rows, done, step, pair
    if stage != NULL:
        dw_rows = (rows + SEPCONV_DW_ROWS - 1) // SEPCONV_DW_ROWS * SEPCONV_DW_ROWS
        _stage_transposed(x, steps, channels, t0, dw_rows, taps, stride, dilation, pad_left,
                          stage)
        _depthwise_steps_major(x, steps, channels, packed, taps, mult, stride, dilation,
                               pad_left, t0, dw_rows, d, width, stage)
        a_step = width
        a_chan = 1
    else:
        _depthwise_channels_major(x, steps, channels, packed, taps, mult, stride, dilation,
                                  pad_left, t0, (rows + nr - 1) // nr * nr, d, ld)
    # Panel by panel, so that a panel of the weights (kc x NR) stays in L1
    # across the tile's row blocks, as channels_last does (row block by row
    # block, every block read all the weights: c512_b4 1.7x the time).
    for blk in range((width + kcb - 1) // kcb):
        kb = blk * kcb
        kc = width - kb if width - kb < kcb else kcb
        done = 0
        for q in range(nr_panels):
            for r in range(last // SEPCONV_MR):
                rb = r * SEPCONV_MR
                _micro_kernel(kc, d + rb * a_step + kb * a_chan, a_step, a_chan,
                              pw + (q * width + kb) * nr, nr, ctile + rb * ldc + q * nr, ldc,
                              kb == 0)
            if rest > 0:   # the steps after the last full row block
                if whole:
                    _micro_kernel(kc, d + last * a_step + kb * a_chan, a_step, a_chan,
                                  pw + (q * width + kb) * nr, nr, ctile + last * ldc + q * nr,
                                  ldc, kb == 0)
                    continue
                if q < done:
                    continue   # done by the multi-panel row kernels
                step = _row_group(rest, nr_panels - q)
                t = last
                while t < valid:
                    pair = 2 if step == 2 and valid - t >= 2 else 1
                    if step == 0:
                        _micro_row_sum(kc, d + t * a_step + kb * a_chan, a_chan,
                                       pw + (q * width + kb) * nr, nr,
                                       ctile + t * ldc + q * nr, kb == 0)
                    else:
                        _micro_rows_panels(pair, step, kc, d + t * a_step + kb * a_chan,
                                           a_step, a_chan, pw + (q * width + kb) * nr,
                                           width * nr, ctile + t * ldc + q * nr, ldc, kb == 0,
                                           ctile + t * ldc + q * nr, ldc, bias, 0, ACT_LINEAR)
                    t += pair
                done = q + (step if step > 0 else 1)
    # y[f, t0 + t] = ctile[t, f] (+ bias[f]), then the activation.
    if floating is float:
        sepconv_transpose_f32(ctile, ldc, valid, filters, y + t0, out_steps,
                              bias if use_bias else NULL)
    else:
        sepconv_transpose_f64(ctile, ldc, valid, filters, y + t0, out_steps,
                              bias if use_bias else NULL)
    for f in range(filters):
        _activate(y + f * out_steps + t0, valid, act)


cdef void _tile_channels_first(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                               const floating* packed, Py_ssize_t taps, Py_ssize_t mult,
                               Py_ssize_t filters, bint use_bias, int act,
                               Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                               Py_ssize_t t0, Py_ssize_t tile, Py_ssize_t valid,
                               Py_ssize_t kcb, Py_ssize_t out_steps,
                               floating* y, floating* d, floating* ctile,
                               bint pf_out) noexcept nogil:
    # As channels_last with the roles swapped: blocks of MR filters x NR
    # valid steps go straight into y (bias per row), the edges through the
    # C tile.
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t panels = (filters + SEPCONV_MR - 1) // SEPCONV_MR
    cdef Py_ssize_t full_panels = filters // SEPCONV_MR
    cdef Py_ssize_t full_cols = valid - valid % nr
    cdef const floating* pw = packed + taps * width
    cdef const floating* bias = pw + panels * width * SEPCONV_MR
    cdef Py_ssize_t ld = tile
    cdef Py_ssize_t p, cb, kb, kc, f, blk, col, i, c0
    cdef floating* out
    cdef bint last
    if _cf_by_rows(valid, nr):
        _tile_channels_first_rows(x, steps, channels, packed, taps, mult, filters, use_bias,
                                  act, stride, dilation, pad_left, t0, tile, valid, kcb,
                                  out_steps, y, d, ctile, NULL)
        return
    _depthwise_channels_major(x, steps, channels, packed, taps, mult, stride, dilation,
                              pad_left, t0, tile, d, ld)
    for blk in range((width + kcb - 1) // kcb):
        kb = blk * kcb
        kc = width - kb if width - kb < kcb else kcb
        last = kb + kc == width
        for col in range(tile // nr):
            cb = col * nr
            for p in range(panels):
                if last and p < full_panels and cb < full_cols:
                    out = y + p * SEPCONV_MR * out_steps + t0 + cb
                    if pf_out:
                        sepconv_prefetch_out(out, out_steps * sizeof(floating), SEPCONV_MR,
                                             nr * sizeof(floating), 0)
                    _micro_kernel_store(kc, pw + (p * width + kb) * SEPCONV_MR, 1, SEPCONV_MR,
                                        d + kb * ld + cb, ld,
                                        ctile + p * SEPCONV_MR * tile + cb, tile, kb == 0,
                                        out, out_steps, bias + p * SEPCONV_MR,
                                        2 if use_bias else 0, act)
                    if act > ACT_LEAKY_RELU:
                        for i in range(SEPCONV_MR):
                            _activate(out + i * out_steps, nr, act)
                else:
                    _micro_kernel(kc, pw + (p * width + kb) * SEPCONV_MR, 1, SEPCONV_MR,
                                  d + kb * ld + cb, ld,
                                  ctile + p * SEPCONV_MR * tile + cb, tile, kb == 0)
    for f in range(filters):
        c0 = full_cols if f < full_panels * SEPCONV_MR else 0
        if c0 < valid:
            _store_row(y + f * out_steps + t0 + c0, ctile + f * tile + c0, valid - c0,
                       bias + f, 0, use_bias, act)


# --------------------------------------------------------------------------
# Entry points.
# --------------------------------------------------------------------------
cdef inline void _run_item(const floating* x, Py_ssize_t x_batch, Py_ssize_t steps,
                           Py_ssize_t channels, const floating* packed, floating* y,
                           Py_ssize_t y_batch, Py_ssize_t out_steps, int layout,
                           Py_ssize_t taps, Py_ssize_t mult, Py_ssize_t filters,
                           bint use_bias, int act, Py_ssize_t stride, Py_ssize_t dilation,
                           Py_ssize_t pad_left, Py_ssize_t tile, Py_ssize_t tiles,
                           Py_ssize_t kcb, Py_ssize_t item, Py_ssize_t next_item,
                           floating* d, floating* ctile,
                           floating* stage, bint pf_out) noexcept nogil:
    cdef Py_ssize_t b = item // tiles
    cdef Py_ssize_t t0 = (item % tiles) * tile
    cdef Py_ssize_t valid = out_steps - t0 if out_steps - t0 < tile else tile
    cdef Py_ssize_t nb, nt0, nvalid, lo, hi
    cdef const char* pf = NULL
    cdef const char* pf_end = NULL
    if next_item >= 0 and layout == LAYOUT_LAST:
        nb = next_item // tiles
        nt0 = (next_item % tiles) * tile
        nvalid = out_steps - nt0 if out_steps - nt0 < tile else tile
        _stage_window(nt0, nvalid, steps, taps, stride, dilation, pad_left, &lo, &hi)
        pf = <const char*>(x + nb * x_batch + lo * channels)
        pf_end = <const char*>(x + nb * x_batch + hi * channels)
    if layout == LAYOUT_FIRST_TRANSPOSED:
        _tile_channels_first_rows(x + b * x_batch, steps, channels, packed, taps, mult,
                                  filters, use_bias, act, stride, dilation, pad_left, t0, tile,
                                  valid, kcb, out_steps, y + b * y_batch, d, ctile, stage)
    elif layout == LAYOUT_FIRST:
        _tile_channels_first(x + b * x_batch, steps, channels, packed, taps, mult, filters,
                             use_bias, act, stride, dilation, pad_left, t0, tile, valid,
                             kcb, out_steps, y + b * y_batch, d, ctile, pf_out)
    else:
        _tile_channels_last(x + b * x_batch, steps, channels, packed, taps, mult, filters,
                            use_bias, act, stride, dilation, pad_left, t0, tile, valid,
                            kcb, y + b * y_batch, d, ctile, stage, pf, pf_end, pf_out)


ctypedef struct ForwardWork:
    # One forward call's arguments, shared by its participants (threadpool.h).
    const void* x
    Py_ssize_t steps, channels, x_batch
    const void* packed
    void* y
    Py_ssize_t out_steps, y_batch
    int layout
    bint use_bias
    Py_ssize_t taps, mult, filters, stride, dilation, pad_left, tile, tiles, kc
    int act
    bint lookahead, prefetch_out
    size_t d_bytes, c_bytes, s_bytes


cdef inline size_t _lines(size_t nbytes) noexcept nogil:
    # nbytes rounded up to whole 64-byte lines.
    return (nbytes + 63) & ~(<size_t>63)


cdef void _participate(ForwardWork* work, sepconv_job* job, floating* dtype_tag) noexcept nogil:
    # One participant: its own scratch, then items until none are left
    # (with work.lookahead, each claimed before the one ahead of it is
    # computed, and its input prefetched meanwhile).  The three scratch
    # arrays are cut from one block, each starting on a 64-byte line; a
    # block that fits in _STACK_SCRATCH bytes is on this thread's stack,
    # which saves a small call (tiny_b1: 16 steps, 8 channels) the
    # allocator's time, about 5% of it; a larger one is the block this
    # thread kept from its last call (sepconv_scratch_take).  Debug builds give each array an
    # allocation of its own instead, so that AddressSanitizer sees a write
    # that runs past the end of one.
    cdef char local[_STACK_SCRATCH + 64]
    cdef size_t d_span = _lines(work.d_bytes)
    cdef size_t c_span = _lines(work.c_bytes)
    cdef size_t total = d_span + c_span + _lines(work.s_bytes)
    cdef void* raw = NULL
    cdef void* c_raw = NULL
    cdef void* s_raw = NULL
    cdef char* block
    cdef floating* d = NULL
    cdef floating* ctile = NULL
    cdef floating* stage = NULL
    cdef ptrdiff_t item, nxt
    if SEPCONV_DEBUG:
        raw = malloc(work.d_bytes + 64)
        c_raw = malloc(work.c_bytes + 64)
        s_raw = malloc(work.s_bytes + 64) if work.s_bytes else NULL
        block = <char*>sepconv_scratch(raw, work.d_bytes)
        d = <floating*>block
        ctile = <floating*>sepconv_scratch(c_raw, work.c_bytes)
        stage = <floating*>sepconv_scratch(s_raw, work.s_bytes)
        if ctile == NULL or (work.s_bytes and stage == NULL):
            block = NULL
    else:
        if total <= _STACK_SCRATCH:
            block = <char*>sepconv_scratch(local, total)
        else:
            raw = sepconv_scratch_take(total + 64)
            block = <char*>sepconv_scratch(raw, total)
        if block != NULL:
            d = <floating*>block
            ctile = <floating*>(block + d_span)
            stage = <floating*>(block + d_span + c_span) if work.s_bytes else NULL
    if block == NULL:
        sepconv_job_fail(job)
    else:
        item = sepconv_job_next(job)
        while item >= 0:
            nxt = sepconv_job_next(job) if work.lookahead else -1
            _run_item(<const floating*>work.x, work.x_batch, work.steps, work.channels,
                      <const floating*>work.packed, <floating*>work.y, work.y_batch,
                      work.out_steps, work.layout, work.taps, work.mult,
                      work.filters, work.use_bias, work.act, work.stride, work.dilation,
                      work.pad_left, work.tile, work.tiles, work.kc, item, nxt,
                      d, ctile, stage, work.prefetch_out)
            item = nxt if work.lookahead else sepconv_job_next(job)
    sepconv_scratch_give(raw)   # frees it unless it is the block this thread keeps
    free(c_raw)
    free(s_raw)


cdef void _participate_f32(void* context, sepconv_job* job) noexcept nogil:
    _participate(<ForwardWork*>context, job, <float*>NULL)


cdef void _participate_f64(void* context, sepconv_job* job) noexcept nogil:
    _participate(<ForwardWork*>context, job, <double*>NULL)


# Which threads run a multi-threaded forward call: sepconv's own pool
# (threadpool.h: the caller never waits for a worker that has not started)
# or an OpenMP loop (the only choice without POSIX threads).
cdef int _use_pool = SEPCONV_POOL


def threading_layer(name=None):
    """The forward pass's threading: 'pool' (sepconv's own) or 'openmp'.

    With ``name``, switch to it first ('pool' needs POSIX threads).  The
    results are the same either way; sepconv.dispatch sets it from
    $SEPCONV_THREADING when it loads a module.
    """
    global _use_pool
    if name is not None:
        if name == "pool" and SEPCONV_POOL:
            _use_pool = 1
        elif name == "openmp":
            _use_pool = 0
        else:
            choices = "'pool' or 'openmp'" if SEPCONV_POOL else "'openmp' (no POSIX threads)"
            raise ValueError(f"SEPCONV_THREADING must be {choices}, received {name!r}")
    return "pool" if _use_pool else "openmp"


def pool_size():
    """Worker threads this module's pool has started (0 before any threaded call)."""
    return sepconv_pool_size()


def scratch_kept():
    """Bytes of forward scratch the calling thread keeps for its next call (0 in
    debug builds, which allocate each call's scratch afresh, and without POSIX
    threads)."""
    return sepconv_scratch_kept_bytes()


def pool_counts():
    """(calls shared with workers, calls run alone after a stall, stalls, workers
    moved off the caller's CPU, workers pulled onto a waiting caller's CPU) so far."""
    cdef long shared, alone, stalls, moves, pulls
    sepconv_pool_counts(&shared, &alone, &stalls, &moves, &pulls)
    return shared, alone, stalls, moves, pulls


cdef int _forward(const floating* x, Py_ssize_t batch, Py_ssize_t steps,
                  Py_ssize_t channels, const floating* packed, floating* y,
                  Py_ssize_t out_steps, int layout, Py_ssize_t taps,
                  Py_ssize_t mult, Py_ssize_t filters, bint use_bias, int act,
                  Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                  Py_ssize_t tile, Py_ssize_t kc, int num_threads,
                  Py_ssize_t x_batch) noexcept nogil:
    # Returns 0, or -1 when scratch memory could not be allocated.  tile
    # output steps make one work item; the pointwise product sums kc inputs
    # per pass over the tile (sepconv.tiling chooses both).  Batch
    # element b's input starts x_batch elements after element b - 1's (the
    # array's own size per element, or a stream buffer's row count times
    # its channels).
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t tiles = (out_steps + tile - 1) // tile
    cdef Py_ssize_t items = batch * tiles
    cdef ForwardWork work
    cdef sepconv_job job
    cdef Py_ssize_t item, window
    cdef size_t rows_c_bytes, stage_bytes
    cdef floating* stage = NULL
    cdef void* s_raw
    cdef floating* d
    cdef floating* ctile
    cdef void* d_raw
    cdef void* c_raw
    cdef int failed = 0
    cdef int* failed_flag = &failed
    cdef bint channels_first = layout != LAYOUT_LAST
    if items <= 0:
        return 0
    work.x = x
    work.steps = steps
    work.channels = channels
    work.x_batch = x_batch
    work.packed = packed
    work.y = y
    work.out_steps = out_steps
    work.y_batch = out_steps * filters
    work.layout = layout
    work.use_bias = use_bias
    work.taps = taps
    work.mult = mult
    work.filters = filters
    work.stride = stride
    work.dilation = dilation
    work.pad_left = pad_left
    work.tile = tile
    work.tiles = tiles
    work.kc = kc
    work.act = act
    work.d_bytes = tile * width * sizeof(floating)
    if channels_first:
        # Room for either way round of a channels_first tile (_cf_by_rows);
        # a transposed tile's D (tile x width) and C tile fit the rows one.
        work.d_bytes = _cf_rows_ld(tile, nr) * width * sizeof(floating)
        work.c_bytes = ((filters + SEPCONV_MR - 1) // SEPCONV_MR) * SEPCONV_MR * tile * sizeof(floating)
        rows_c_bytes = _cf_rows_ld(tile, nr) * ((filters + nr - 1) // nr) * nr * sizeof(floating)
        if work.c_bytes < rows_c_bytes:
            work.c_bytes = rows_c_bytes
    else:
        work.c_bytes = tile * ((filters + nr - 1) // nr) * nr * sizeof(floating)
    # Stage channels_last input tiles in aligned scratch when that pays
    # (_stage_pays).
    work.s_bytes = 0
    # A transposed channels_first call always stages its tiles' input
    # windows, as steps-major rows (without room for them, its tiles are
    # multiplied steps x filters from the channels_first depthwise loop).
    window = _stage_rows(tile, steps, taps, stride, dilation)
    stage_bytes = window * _stage_stride(channels, sizeof(floating)) * sizeof(floating)
    if stage_bytes <= _MAX_STAGE and (
            layout == LAYOUT_FIRST_TRANSPOSED
            or (layout == LAYOUT_LAST
                and _stage_pays(<uintptr_t>x, channels * sizeof(floating), taps, mult, stride,
                                dilation, tile if tile < out_steps else out_steps, window))):
        work.s_bytes = stage_bytes
    # An output larger than this does not stay in a core's cache from one
    # call to the next, so each storing micro-kernel call first asks for
    # the lines it will write.  Measured on Zen 4 (1 MiB of L2 per core),
    # 1 thread, float32 AVX-512 (bench/ab.py): long_b1 (4 MB of output)
    # -18%, dil4_b8 -18%, quartz_b8 -9%, c512_b4 (2 MB) -5%; AVX2 within
    # 1% (its 6 x 1-line stores leave room in the store queue); outputs
    # that stay in cache (kws_b1, audio_b1, c100_b4) +1-2% with it.
    work.prefetch_out = batch * out_steps * filters * sizeof(floating) > _STREAMED_OUTPUT
    if num_threads > items:
        num_threads = <int>items
    # A participant claims its next item before it computes the current
    # one, so that it can prefetch the next item's input (channels_last)
    # while the pointwise product leaves load slots free.  Measured on Zen 4,
    # 1 thread, x aligned / at 16 mod 64 (bench/ab.py): s4k8_b8 -17% / -6%,
    # thru_b32 -10% / -3%, long_b1 -3% / -4%, dil4_b8 -1% / 0 to -3%,
    # quartz_b8 within 1%.  With several threads an item claimed early can
    # leave another thread idle at the end of the call (kws_b1, two items
    # at two threads, ran 1.6x slower: the caller claimed both), so threads
    # look ahead only when there are 32 items or more per thread.
    work.lookahead = num_threads <= 1 or items >= 32 * num_threads
    if num_threads <= 1 or _use_pool:
        # One thread runs without any parallel machinery at all.
        job.run = _participate_f32 if floating is float else _participate_f64
        job.context = &work
        job.items = items
        job.next = 0
        job.failed = 0
        return -sepconv_pool_run(&job, num_threads)
    # The OpenMP loop.  Every thread enters the prange (an OpenMP
    # work-sharing loop must be met by all threads of the team); one whose
    # scratch could not be allocated only raises the flag.
    with parallel(num_threads=num_threads):
        d_raw = malloc(work.d_bytes + 64)
        c_raw = malloc(work.c_bytes + 64)
        s_raw = malloc(work.s_bytes + 64) if work.s_bytes else NULL
        d = <floating*>sepconv_scratch(d_raw, work.d_bytes)
        ctile = <floating*>sepconv_scratch(c_raw, work.c_bytes)
        stage = <floating*>sepconv_scratch(s_raw, work.s_bytes)
        for item in prange(items, schedule="dynamic"):
            if d == NULL or ctile == NULL or (work.s_bytes and stage == NULL):
                failed_flag[0] = 1
            else:
                _run_item(x, work.x_batch, steps, channels, packed, y, work.y_batch,
                          out_steps, layout, taps, mult, filters, use_bias, act,
                          stride, dilation, pad_left, tile, tiles, kc, item, -1, d, ctile,
                          stage, work.prefetch_out)
        free(d_raw)
        free(c_raw)
        free(s_raw)
    return -failed


cdef int _assert_multiple(str what, Py_ssize_t value, Py_ssize_t unit) except -1:
    # Debug builds check the tiling invariants the loops rely on (a tile that
    # is not a multiple of the block leaves scratch rows unwritten).
    # sepconv.tiling computes every size so that they hold by construction.
    if value <= 0 or value % unit != 0:
        raise AssertionError(f"sepconv kernel invariant broken: {what}={value} is not a "
                             f"positive multiple of {unit}")
    return 0


cdef int _forward_views(const floating[:, :, ::1] x, const floating[::1] packed,
                        floating[:, :, ::1] y, bint channels_first, Py_ssize_t taps,
                        Py_ssize_t mult, Py_ssize_t filters, bint use_bias, int act,
                        Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                        Py_ssize_t tile, int num_threads) except -1:
    cdef int status = 0
    if y.shape[0] == 0 or y.shape[1] == 0 or y.shape[2] == 0:
        return 0
    if SEPCONV_DEBUG:
        if channels_first:
            _assert_multiple("tile", tile, SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64)
        else:
            _assert_multiple("tile", tile, SEPCONV_MR)
            _assert_multiple("tile", tile, SEPCONV_DW_ROWS)
    with nogil:
        status = _forward(&x[0, 0, 0], x.shape[0], x.shape[2] if channels_first else x.shape[1],
                          x.shape[1] if channels_first else x.shape[2], &packed[0],
                          &y[0, 0, 0], y.shape[2] if channels_first else y.shape[1],
                          LAYOUT_FIRST if channels_first else LAYOUT_LAST, taps, mult,
                          filters, use_bias, act, stride,
                          dilation, pad_left, tile, SEPCONV_KC, num_threads,
                          x.shape[1] * x.shape[2])
    if status != 0:
        raise MemoryError("sepconv: could not allocate the per-thread scratch tiles")
    return 0


# --------------------------------------------------------------------------
# Bound entry points: a forward kernel bound to one input shape, geometry and
# thread count.  Acquiring three typed memoryviews was most of a small call's
# cost (about 1 us of 1.2); these check the arrays with a few C comparisons
# (exact type, dtype, byte order, shape, layout, sizes, overlap) and pass raw
# pointers.  The checks are the kernel's own guard, not argument validation:
# sepconv.plan and sepconv.arrays validated everything, and a mismatch here
# is an error that says which array broke the contract.
# --------------------------------------------------------------------------
cdef int _serial_only = 0


def mark_serial_only():
    """Run every later call with one thread (sepconv._fork: a child forked after
    threads ran, whose OpenMP pool is gone)."""
    global _serial_only
    _serial_only = 1


cdef inline bint _has_layout(object array, int typenum, const cnp.npy_intp* dims,
                             bint exact) noexcept:
    # An ndarray (exactly, or any subclass) of this dtype in native byte
    # order, C-contiguous and aligned, of shape dims.
    cdef cnp.ndarray view
    cdef cnp.npy_intp* shape
    if exact:
        if not cnp.PyArray_CheckExact(array):
            return False
    elif not cnp.PyArray_Check(array):
        return False
    view = <cnp.ndarray>array
    if cnp.PyArray_TYPE(view) != typenum or cnp.PyArray_NDIM(view) != 3:
        return False
    if not (cnp.PyArray_IS_C_CONTIGUOUS(view) and cnp.PyArray_ISALIGNED(view)
            and cnp.PyArray_ISNOTSWAPPED(view)):
        return False
    shape = cnp.PyArray_DIMS(view)
    return shape[0] == dims[0] and shape[1] == dims[1] and shape[2] == dims[2]


cdef inline bint _writable_apart(cnp.ndarray out, cnp.ndarray x) noexcept:
    # out can be written and its bytes do not overlap x's (both contiguous).
    cdef uintptr_t o0 = <uintptr_t>cnp.PyArray_DATA(out)
    cdef uintptr_t x0 = <uintptr_t>cnp.PyArray_DATA(x)
    cdef uintptr_t o1 = o0 + <uintptr_t>cnp.PyArray_NBYTES(out)
    cdef uintptr_t x1 = x0 + <uintptr_t>cnp.PyArray_NBYTES(x)
    return cnp.PyArray_ISWRITEABLE(out) and (o1 <= x0 or x1 <= o0)


cdef class BoundForward:
    """The forward kernel bound to one input shape, geometry and thread count.

    Made by ``sepconv.plan.ConvSpec.plan`` from validated arguments.
    ``run(x, packed, out)`` runs it on arrays of exactly the planned shapes
    and dtype (C-contiguous, aligned, native byte order; ``out`` writable and
    apart from ``x``; ``packed`` the size this plan's packed weights have)
    and returns ``out``; anything else is a ValueError before the kernel runs.
    """
    cdef readonly tuple input_shape
    cdef readonly tuple output_shape
    cdef readonly int threads
    cdef readonly Py_ssize_t tile
    cdef readonly Py_ssize_t kc
    cdef readonly object dtype
    cdef int typenum
    cdef cnp.npy_intp in_dims[3]
    cdef cnp.npy_intp out_dims[3]
    cdef cnp.npy_intp packed_size
    cdef bint channels_first
    cdef readonly int layout
    cdef bint use_bias
    cdef int act
    cdef Py_ssize_t taps, mult, filters, stride, dilation, pad_left
    cdef readonly bint release_gil  # see __init__

    def __init__(self, dtype, tuple input_shape, tuple output_shape, int layout,
                 Py_ssize_t taps, Py_ssize_t mult, Py_ssize_t filters, bint use_bias,
                 int act, Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                 Py_ssize_t tile, Py_ssize_t kc, int threads, Py_ssize_t packed_size):
        cdef int i
        cdef bint channels_first = layout != LAYOUT_LAST
        if kc <= 0:
            raise ValueError(f"sepconv kernel: kc must be positive, received {kc}")
        if layout not in (LAYOUT_LAST, LAYOUT_FIRST, LAYOUT_FIRST_TRANSPOSED):
            raise ValueError(f"sepconv kernel: layout must be 0, 1 or 2 (sepconv.tiling), "
                             f"received {layout}")
        self.dtype = dtype
        self.typenum = cnp.NPY_FLOAT if dtype == "float32" else cnp.NPY_DOUBLE
        self.input_shape = input_shape
        self.output_shape = output_shape
        for i in range(3):
            self.in_dims[i] = input_shape[i]
            self.out_dims[i] = output_shape[i]
        self.channels_first = channels_first
        self.layout = layout
        self.taps = taps
        self.mult = mult
        self.filters = filters
        self.use_bias = use_bias
        self.act = act
        self.stride = stride
        self.dilation = dilation
        self.pad_left = pad_left
        self.tile = tile
        self.kc = kc
        self.threads = threads
        self.packed_size = packed_size
        # Releasing and taking back the GIL costs about 0.05 us, 5-8% of the
        # smallest calls; a one-thread call of at most _HOLD_GIL_MACS
        # multiply-adds (a few microseconds) keeps it, as NumPy keeps it for
        # short loops.  A call that shares its items always releases it: a
        # worker that lost its core would hold every Python thread up.
        macs = output_shape[0] * (output_shape[2] if channels_first else output_shape[1])
        macs *= (input_shape[1] if channels_first else input_shape[2]) * mult * (taps + filters)
        self.release_gil = macs > _HOLD_GIL_MACS or threads > 1
        if SEPCONV_DEBUG:
            _assert_multiple("tile", tile, (SEPCONV_NR_F32 if self.typenum == cnp.NPY_FLOAT
                                            else SEPCONV_NR_F64) if layout == LAYOUT_FIRST
                             else SEPCONV_MR)
            if layout != LAYOUT_FIRST:
                _assert_multiple("tile", tile, SEPCONV_DW_ROWS)

    cdef bint _packed_ok(self, object packed) noexcept:
        cdef cnp.ndarray view
        if not cnp.PyArray_Check(packed):
            return False
        view = <cnp.ndarray>packed
        return (cnp.PyArray_TYPE(view) == self.typenum and cnp.PyArray_NDIM(view) == 1
                and cnp.PyArray_IS_C_CONTIGUOUS(view) and cnp.PyArray_ISALIGNED(view)
                and cnp.PyArray_ISNOTSWAPPED(view)
                and cnp.PyArray_DIMS(view)[0] == self.packed_size)

    cdef int launch(self, cnp.ndarray x, cnp.ndarray packed, cnp.ndarray out) except -1:
        # The arrays were checked by the caller (run, or Prepared.__call__).
        return self._launch(cnp.PyArray_DATA(x), self.in_dims[1] * self.in_dims[2],
                            packed, out)

    cdef int _kernel(self, const void* xp, Py_ssize_t x_batch, const void* wp, void* yp,
                     Py_ssize_t batch, Py_ssize_t steps, Py_ssize_t channels,
                     Py_ssize_t out_steps, int threads) noexcept nogil:
        if self.typenum == cnp.NPY_FLOAT:
            return _forward(<const float*>xp, batch, steps, channels, <const float*>wp,
                            <float*>yp, out_steps, self.layout, self.taps, self.mult,
                            self.filters, self.use_bias, self.act, self.stride,
                            self.dilation, self.pad_left, self.tile, self.kc, threads,
                            x_batch)
        return _forward(<const double*>xp, batch, steps, channels, <const double*>wp,
                        <double*>yp, out_steps, self.layout, self.taps, self.mult,
                        self.filters, self.use_bias, self.act, self.stride, self.dilation,
                        self.pad_left, self.tile, self.kc, threads, x_batch)

    cdef int _launch(self, void* xp, Py_ssize_t x_batch, cnp.ndarray packed,
                     cnp.ndarray out) except -1:
        cdef int status = 0
        cdef int threads = 1 if _serial_only else self.threads
        cdef Py_ssize_t batch = self.in_dims[0]
        cdef Py_ssize_t steps, channels, out_steps
        cdef void* wp = cnp.PyArray_DATA(packed)
        cdef void* yp = cnp.PyArray_DATA(out)
        if self.channels_first:
            channels, steps, out_steps = self.in_dims[1], self.in_dims[2], self.out_dims[2]
        else:
            steps, channels, out_steps = self.in_dims[1], self.in_dims[2], self.out_dims[1]
        if self.out_dims[0] == 0 or self.out_dims[1] == 0 or self.out_dims[2] == 0:
            return 0
        if self.release_gil:
            with nogil:
                status = self._kernel(xp, x_batch, wp, yp, batch, steps, channels, out_steps,
                                      threads)
        else:
            status = self._kernel(xp, x_batch, wp, yp, batch, steps, channels, out_steps,
                                  threads)
        if status != 0:
            raise MemoryError("sepconv: could not allocate the per-thread scratch tiles")
        return 0

    def run(self, x, packed, out):
        """The kernel on ``x`` into ``out`` with ``packed`` weights; returns ``out``."""
        if not _has_layout(x, self.typenum, self.in_dims, False):
            raise ValueError(f"sepconv kernel: x must be a C-contiguous {self.dtype} array "
                             f"of shape {self.input_shape}")
        if not (_has_layout(out, self.typenum, self.out_dims, False)
                and _writable_apart(<cnp.ndarray>out, <cnp.ndarray>x)):
            raise ValueError(f"sepconv kernel: out must be a writable C-contiguous "
                             f"{self.dtype} array of shape {self.output_shape} apart from x")
        if not self._packed_ok(packed):
            raise ValueError(f"sepconv kernel: packed must be {self.packed_size} "
                             f"{self.dtype} values")
        self.launch(x, packed, out)
        return out

    def run_rows(self, buffer, Py_ssize_t row, packed, out=None):
        """The kernel on rows [row, row + steps) of ``buffer`` (batch, rows, channels),
        C-contiguous, without making a view (streams); ``out`` as for run, made when
        None; returns it.  channels_last bindings only."""
        cdef cnp.ndarray view
        cdef cnp.npy_intp* shape
        if self.channels_first or not cnp.PyArray_Check(buffer):
            raise ValueError("sepconv kernel: run_rows needs a channels_last binding and an "
                             "ndarray buffer")
        view = <cnp.ndarray>buffer
        shape = cnp.PyArray_DIMS(view)
        if not (cnp.PyArray_TYPE(view) == self.typenum and cnp.PyArray_NDIM(view) == 3
                and cnp.PyArray_IS_C_CONTIGUOUS(view) and cnp.PyArray_ISALIGNED(view)
                and cnp.PyArray_ISNOTSWAPPED(view) and shape[0] == self.in_dims[0]
                and shape[2] == self.in_dims[2] and row >= 0
                and row <= shape[1] - self.in_dims[1]):
            raise ValueError(f"sepconv kernel: buffer must be a C-contiguous {self.dtype} "
                             f"array ({self.in_dims[0]}, >= row + {self.in_dims[1]}, "
                             f"{self.in_dims[2]}); row={row}")
        if not self._packed_ok(packed):
            raise ValueError(f"sepconv kernel: packed must be {self.packed_size} "
                             f"{self.dtype} values")
        if out is None:
            out = cnp.PyArray_EMPTY(3, self.out_dims, self.typenum, 0)
        elif not (_has_layout(out, self.typenum, self.out_dims, False)
                  and _writable_apart(<cnp.ndarray>out, view)):
            raise ValueError(f"sepconv kernel: out must be a writable C-contiguous "
                             f"{self.dtype} array of shape {self.output_shape} apart from "
                             f"the buffer")
        self._launch(<char*>cnp.PyArray_DATA(view) + row * shape[2] * cnp.PyArray_ITEMSIZE(view),
                     shape[1] * shape[2], packed, <cnp.ndarray>out)
        return out


def copy_rows(buffer, Py_ssize_t row, chunk):
    """Copy ``chunk`` (batch, steps, channels) into rows [row, row + steps) of ``buffer``
    (batch, rows, channels), both C-contiguous of one dtype; True when done, False
    when the arrays do not fit that (the caller copies another way)."""
    cdef cnp.ndarray dst, src
    cdef cnp.npy_intp* dshape
    cdef cnp.npy_intp* sshape
    cdef Py_ssize_t b, itemsize, rows
    cdef char* dp
    cdef char* sp
    if not (cnp.PyArray_Check(buffer) and cnp.PyArray_Check(chunk)):
        return False
    dst = <cnp.ndarray>buffer
    src = <cnp.ndarray>chunk
    if not (cnp.PyArray_NDIM(dst) == 3 and cnp.PyArray_NDIM(src) == 3
            and cnp.PyArray_TYPE(dst) == cnp.PyArray_TYPE(src)
            and cnp.PyArray_IS_C_CONTIGUOUS(dst) and cnp.PyArray_IS_C_CONTIGUOUS(src)
            and cnp.PyArray_ISNOTSWAPPED(dst) and cnp.PyArray_ISNOTSWAPPED(src)
            and cnp.PyArray_ISWRITEABLE(dst)):
        return False
    dshape = cnp.PyArray_DIMS(dst)
    sshape = cnp.PyArray_DIMS(src)
    if not (dshape[0] == sshape[0] and dshape[2] == sshape[2] and row >= 0
            and row <= dshape[1] - sshape[1]):
        return False
    itemsize = cnp.PyArray_ITEMSIZE(dst)
    rows = sshape[1] * sshape[2] * itemsize
    dp = <char*>cnp.PyArray_DATA(dst) + row * dshape[2] * itemsize
    sp = <char*>cnp.PyArray_DATA(src)
    if rows:
        for b in range(dshape[0]):
            memcpy(dp + b * dshape[1] * dshape[2] * itemsize, sp + b * rows, rows)
    return True


@cython.final
cdef class Prepared:
    """A layer's forward call for one input shape (``SeparableConv1D.prepare``).

    ``prepared(x, out=None)``: an ndarray of exactly the prepared shape and
    the layer's dtype, C-contiguous and aligned, goes straight to the kernel;
    anything else goes through ``convert`` (the layer's validation and
    conversion, which raises naming the argument).  ``out`` likewise: a
    mismatch goes to ``check_out``, which raises.  The weights are the
    owner's current snapshot (``owner._weights``), packed again only when
    the snapshot changed.  ``finish`` (or None) takes the kernel's output
    and returns the result: an activation the kernel does not fuse, a mixed
    policy's output cast.  ``allocate`` (or None: np.empty) makes the output
    when ``out`` is None (sepconv.arrays.empty: 64-byte aligned).

    Calls go through the vectorcall protocol (pycall.h): ``prepared(x,
    out=out)`` makes no argument tuple or keyword dict.
    """
    cdef sepconv_vectorcallfunc vectorcall  # read by the interpreter: see pycall.h
    cdef readonly BoundForward bound
    cdef object owner
    cdef object kernels
    cdef object snapshot
    cdef object packed
    cdef object convert
    cdef object check_out
    cdef object finish
    cdef object allocate
    cdef bint always_convert
    cdef int asked_threads  # the plan's thread count before it was cut to its items

    def __cinit__(self):
        self.vectorcall = <sepconv_vectorcallfunc>_prepared_vectorcall

    def __init__(self, BoundForward bound, owner, kernels, convert, check_out, finish,
                 bint always_convert, allocate=None, asked_threads=None):
        self.bound = bound
        self.asked_threads = bound.threads if asked_threads is None else asked_threads
        self.owner = owner
        self.kernels = kernels
        self.convert = convert
        self.check_out = check_out
        self.finish = finish
        self.always_convert = always_convert
        self.allocate = allocate
        self.snapshot = None
        self.packed = None

    @property
    def input_shape(self):
        return self.bound.input_shape

    @property
    def output_shape(self):
        return self.bound.output_shape

    @property
    def num_threads(self):
        return self.bound.threads

    def __call__(self, x, out=None):
        return self.call(x, out)

    def try_call(self, x, out, num_threads, level):
        """``self(x, out)`` when this call takes these arguments as they are, else None.

        As they are: ``x`` (and ``out``, unless None) an exact ndarray of the
        prepared shape and layout, ``num_threads`` None (OpenMP's max threads
        now) or an int, equal to the threads this call was made for (before
        the plan cut them to its work items), ``level`` (the
        instruction-set level the caller would dispatch to) this module's,
        and the layer's dtype policy not mixed.  The layer's call
        (``SeparableConv1D.__call__``) tries its latest prepared call first
        and takes its usual path on None, which validates whatever was not
        as expected.
        """
        cdef BoundForward bound = self.bound
        if self.always_convert or not _has_layout(x, bound.typenum, bound.in_dims, True):
            return None
        if num_threads is None:
            if omp_get_max_threads() != self.asked_threads:
                return None
        elif type(num_threads) is not int or num_threads != self.asked_threads:
            return None
        if not (level == ISA):
            return None
        if out is not None and not (_has_layout(out, bound.typenum, bound.out_dims, True)
                                    and _writable_apart(<cnp.ndarray>out, <cnp.ndarray>x)):
            return None
        return self.call(x, out)

    cdef object call(self, x, out):
        cdef BoundForward bound = self.bound
        snapshot = self.owner._weights
        if snapshot is self.snapshot:
            packed = self.packed
        else:  # set_weights since the last call (or the first call)
            packed = snapshot.packed(self.kernels)
            if not bound._packed_ok(packed):
                raise ValueError("sepconv: the layer's weights no longer fit this prepared "
                                 "call; prepare it again")
            self.packed = packed
            self.snapshot = snapshot
        if self.always_convert or not _has_layout(x, bound.typenum, bound.in_dims, True):
            x = self.convert(x)
            if not _has_layout(x, bound.typenum, bound.in_dims, False):
                raise ValueError("sepconv: the converted input does not have the prepared "
                                 "layout")
        if out is None:
            if self.allocate is None:
                out = cnp.PyArray_EMPTY(3, bound.out_dims, bound.typenum, 0)
            else:
                out = self.allocate(bound.output_shape, bound.dtype)
        elif not (_has_layout(out, bound.typenum, bound.out_dims, True)
                  and _writable_apart(<cnp.ndarray>out, <cnp.ndarray>x)):
            self.check_out(out, x)  # raises, naming what is wrong
            if not (_has_layout(out, bound.typenum, bound.out_dims, False)
                    and _writable_apart(<cnp.ndarray>out, <cnp.ndarray>x)):
                raise ValueError("sepconv: `out` does not have the prepared layout")
        bound.launch(x, packed, out)
        if self.finish is not None:
            return self.finish(out)
        return out


cdef object _prepared_vectorcall(object callable, PyObject* const* args, size_t nargsf,
                                 PyObject* kwnames):
    # prepared(x), prepared(x, out) and prepared(x, out=out) without packing
    # the arguments; anything else (x=, a wrong count) goes to tp_call, whose
    # parser raises Python's usual TypeError.
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t nkw = 0 if kwnames == NULL else PyTuple_GET_SIZE(<object>kwnames)
    if nkw == 0:
        if nargs == 2:
            return (<Prepared>callable).call(<object>args[0], <object>args[1])
        if nargs == 1:
            return (<Prepared>callable).call(<object>args[0], None)
    elif nkw == 1 and nargs == 1:
        name = <object>PyTuple_GET_ITEM(<object>kwnames, 0)
        if name == "out":  # identity first: keyword names are interned
            return (<Prepared>callable).call(<object>args[0], <object>args[1])
    return sepconv_call_slot(callable, args, nargsf, kwnames)


cdef int _use_vectorcall() except -1:
    cdef Prepared probe = Prepared.__new__(Prepared)
    return sepconv_use_vectorcall(<PyTypeObject*>Prepared,
                                  <char*>&probe.vectorcall - <char*><PyObject*>probe)


_use_vectorcall()


cdef object _functional = None   # sepconv.functional, looked up at the first call


@cython.auto_pickle(False)
cdef class LayerCall:
    """The base of ``sepconv.SeparableConv1D``: its call, in C as far as the prepared call.

    A Python class's own ``__call__`` is reached through a slot that packs
    the arguments into a tuple and a keyword dict and unpacks them again
    (0.5 of the 1.1 us that ``layer(x, out=out, num_threads=1)`` took on
    tiny_b1, Zen 3).  This type's call tries the layer's latest prepared
    call (``Prepared.try_call``, which refuses anything not exactly as
    prepared), and hands every other call whole to the layer's ``_call``,
    which validates it.  Calls come through the vectorcall protocol
    (pycall.h), so ``layer(x, out=out, num_threads=n)`` makes no tuple or
    dict either: the layer's class and its subclasses turn it on with
    ``inherit_call``.  The only attribute of its own is that function
    pointer, set when an instance is made: the layer's ``_last`` and
    ``activity_regularizer`` live in its dict, and pickling is the layer's
    (its ``__getstate__``).
    """
    cdef sepconv_vectorcallfunc vectorcall  # read by the interpreter: see pycall.h

    def __cinit__(self):
        self.vectorcall = <sepconv_vectorcallfunc>_layer_vectorcall

    @cython.embedsignature(False)
    def __call__(self, inputs, training=None, *, out=None, num_threads=None):
        """__call__($self, inputs, training=None, *, out=None, num_threads=None)
--

        Apply the layer to ``inputs``; builds it on the first call.

        ``out`` is an optional preallocated output; ``num_threads`` defaults
        to OpenMP's max threads (threadpoolctl controls it).
        """
        return _layer_call(self, inputs, training, out, num_threads)

    def __reduce_ex__(self, protocol):
        # Protocols 0 and 1 rebuild a subclass of an extension type by
        # calling the type on the object (copyreg's rule), which this one
        # cannot do: every protocol takes protocol 2's path (the class's
        # __new__, then the layer's __getstate__), which protocol 0 can
        # write as well.
        return object.__reduce_ex__(self, 2)


cdef object _layer_call(object layer, object inputs, object training, object out,
                        object num_threads):
    # LayerCall's call, however it came.
    global _functional
    last = layer._last
    if last is not None and not training and layer.activity_regularizer is None:
        if _functional is None:
            from sepconv import functional
            _functional = functional
        y = last.try_call(inputs, out, num_threads, _functional._LEVEL)
        if y is not None:
            return y
    return layer._call(inputs, training, out=out, num_threads=num_threads)


cdef object _layer_vectorcall(object callable, PyObject* const* args, size_t nargsf,
                              PyObject* kwnames):
    # layer(x), layer(x, training) and either with any of out=, num_threads=
    # and (after x alone) training= as keywords, without packing them; any
    # other form goes to tp_call, whose parser takes it or raises Python's
    # usual TypeError, and so does every call once the class's __call__ is
    # not LayerCall's (reassigned after inherit_call turned this on: Python
    # 3.9-3.11 leave the flag set).
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t nkw = 0 if kwnames == NULL else PyTuple_GET_SIZE(<object>kwnames)
    cdef Py_ssize_t i
    if nargs < 1 or nargs > 2 or not sepconv_same_call(callable, <PyTypeObject*>LayerCall):
        return sepconv_call_slot(callable, args, nargsf, kwnames)
    training = <object>args[1] if nargs == 2 else None
    out = None
    num_threads = None
    for i in range(nkw):
        name = <object>PyTuple_GET_ITEM(<object>kwnames, i)
        if name == "out":
            out = <object>args[nargs + i]
        elif name == "num_threads":
            num_threads = <object>args[nargs + i]
        elif name == "training" and nargs == 1:
            training = <object>args[nargs + i]
        else:
            return sepconv_call_slot(callable, args, nargsf, kwnames)
    return _layer_call(callable, <object>args[0], training, out, num_threads)


cdef int _use_layer_vectorcall() except -1:
    cdef LayerCall probe = LayerCall.__new__(LayerCall)
    return sepconv_use_vectorcall(<PyTypeObject*>LayerCall,
                                  <char*>&probe.vectorcall - <char*><PyObject*>probe)


_use_layer_vectorcall()


def inherit_call(type cls):
    """Turn on the vectorcall protocol of LayerCall's call for ``cls``, a subclass.

    Python 3.9-3.11 do not pass it on to a class made by a class statement;
    3.12 and later do, but clear it for good once the class's ``__call__``
    is assigned (this turns it on again when that was deleted).  A class
    with a ``__call__`` of its own keeps it (False is returned); True when
    turned on.
    """
    if not issubclass(cls, LayerCall):
        raise TypeError(f"inherit_call: {cls!r} is not a subclass of LayerCall")
    return sepconv_inherit_vectorcall(<PyTypeObject*>cls, <PyTypeObject*>LayerCall) == 0


# The def entry points are typed per dtype (not one fused def) so that a call
# does not go through Cython's run-time signature dispatch: small problems
# are dominated by per-call overhead.
def forward_float32(const float[:, :, ::1] x, const float[::1] packed, float[:, :, ::1] y,
                    bint channels_first, Py_ssize_t taps, Py_ssize_t mult,
                    Py_ssize_t filters, bint use_bias, int act, Py_ssize_t stride,
                    Py_ssize_t dilation, Py_ssize_t pad_left, Py_ssize_t tile,
                    int num_threads):
    """float32 forward pass; see forward_float64 for the arguments."""
    _forward_views(x, packed, y, channels_first, taps, mult, filters, use_bias, act, stride,
                   dilation, pad_left, tile, num_threads)


def forward_float64(const double[:, :, ::1] x, const double[::1] packed, double[:, :, ::1] y,
                    bint channels_first, Py_ssize_t taps, Py_ssize_t mult,
                    Py_ssize_t filters, bint use_bias, int act, Py_ssize_t stride,
                    Py_ssize_t dilation, Py_ssize_t pad_left, Py_ssize_t tile,
                    int num_threads):
    """y = act(pointwise(depthwise(x)) + bias), float64.

    x: (batch, steps, channels) or (batch, channels, steps), C-contiguous.
    packed: weights from sepconv.functional.pack_weights for this level.
    y: preallocated output, C-contiguous, same layout as x.
    tile: output steps per work item (a multiple of MR for channels_last, of
    NR for channels_first).  Nothing is checked here: sepconv.functional
    validates every argument first.
    """
    _forward_views(x, packed, y, channels_first, taps, mult, filters, use_bias, act, stride,
                   dilation, pad_left, tile, num_threads)


# --------------------------------------------------------------------------
# Backward pass (channels_last; the Python side transposes channels_first).
#
# With dz = dL/d(pre-activation) and D the depthwise result:
#   dpw[j, f] = sum_t D[t, j] dz[t, f]          (micro-kernel, rows j)
#   dD[t, j]  = sum_f dz[t, f] pw[j, f]          (micro-kernel, rows t)
#   ddw[k, j] = sum_t dD[t, j] x[t*s + k*d - pad, c]
#   dx[p, c] += dD[t, j] dw[k, j]  for every p = t*s + k*d - pad
# One work item is one batch element, processed tile after tile by one
# thread, so dx needs no synchronisation.  Weight gradients go to that
# element's own partial sums, which Python adds up in batch order: the
# result does not depend on the number of threads.
# --------------------------------------------------------------------------
cdef void _backward_element(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                            const floating* dz, Py_ssize_t out_steps, Py_ssize_t filters,
                            const floating* dw, const floating* pwt, Py_ssize_t taps,
                            Py_ssize_t mult, Py_ssize_t stride, Py_ssize_t dilation,
                            Py_ssize_t pad_left, Py_ssize_t tile, Py_ssize_t width_pad,
                            Py_ssize_t filters_pad, floating* dx, floating* ddw,
                            floating* dpw, floating* db, floating* d, floating* dd,
                            floating* dzt) noexcept nogil:
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t tiles = (out_steps + tile - 1) // tile
    cdef Py_ssize_t t_index, t0, valid, r, f, k, m, ch, pos, blk, kb, kc, rb, col, row
    cdef floating* drow
    cdef floating* ddrow
    cdef const floating* xrow
    cdef const floating* wrow
    cdef floating* dxrow
    cdef floating* gradrow
    for t_index in range(tiles):
        t0 = t_index * tile
        valid = out_steps - t0 if out_steps - t0 < tile else tile
        # dz tile, zero padded in both directions.
        for r in range(tile):
            for f in range(filters_pad):
                dzt[r * filters_pad + f] = dz[(t0 + r) * filters + f] if (r < valid and f < filters) else 0
        for r in range(valid):
            for f in range(filters):
                db[f] += dzt[r * filters_pad + f]
        _depthwise_steps_major(x, steps, channels, dw, taps, mult, stride, dilation,
                               pad_left, t0, tile, d, width_pad, NULL)
        for r in range(valid, tile):
            for ch in range(width):
                d[r * width_pad + ch] = 0
        # dpw += D^T dz: rows are depthwise channels, columns filters, k steps.
        for row in range(width_pad // SEPCONV_MR):
            for col in range(filters_pad // nr):
                _micro_kernel(tile, d + row * SEPCONV_MR, 1, width_pad,
                              dzt + col * nr, filters_pad,
                              dpw + row * SEPCONV_MR * filters_pad + col * nr, filters_pad,
                              False)
        # dD = dz pw^T: rows are steps, columns depthwise channels, k filters.
        for blk in range((filters + SEPCONV_KC - 1) // SEPCONV_KC):
            kb = blk * SEPCONV_KC
            kc = filters - kb if filters - kb < SEPCONV_KC else SEPCONV_KC
            for col in range(width_pad // nr):
                for rb in range(tile // SEPCONV_MR):
                    _micro_kernel(kc, dzt + rb * SEPCONV_MR * filters_pad + kb, filters_pad, 1,
                                  pwt + kb * width_pad + col * nr, width_pad,
                                  dd + rb * SEPCONV_MR * width_pad + col * nr, width_pad,
                                  kb == 0)
        # Depthwise kernel and input gradients, taps in order.
        for r in range(valid):
            ddrow = dd + r * width_pad
            for k in range(taps):
                pos = (t0 + r) * stride + k * dilation - pad_left
                if pos < 0 or pos >= steps:
                    continue
                xrow = x + pos * channels
                dxrow = dx + pos * channels
                for m in range(mult):
                    wrow = dw + k * width + m * channels
                    gradrow = ddw + k * width + m * channels
                    for ch in range(channels):
                        gradrow[ch] += ddrow[m * channels + ch] * xrow[ch]
                    for ch in range(channels):
                        dxrow[ch] += ddrow[m * channels + ch] * wrow[ch]


cdef int _backward_items(Py_ssize_t first, Py_ssize_t last,
                         const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                         const floating* dz, Py_ssize_t out_steps, Py_ssize_t filters,
                         const floating* dw, const floating* pwt, Py_ssize_t taps,
                         Py_ssize_t mult, Py_ssize_t stride, Py_ssize_t dilation,
                         Py_ssize_t pad_left, Py_ssize_t tile, Py_ssize_t width_pad,
                         Py_ssize_t filters_pad, floating* dx, floating* ddw_parts,
                         floating* dpw_parts, floating* db_parts) noexcept nogil:
    # Batch elements [first, last) with one set of scratch tiles; 0 or -1
    # when the scratch could not be allocated.
    cdef Py_ssize_t width = channels * mult
    cdef size_t d_bytes = tile * width_pad * sizeof(floating)
    cdef size_t z_bytes = tile * filters_pad * sizeof(floating)
    cdef void* d_raw = malloc(d_bytes + 64)
    cdef void* dd_raw = malloc(d_bytes + 64)
    cdef void* z_raw = malloc(z_bytes + 64)
    cdef floating* d = <floating*>sepconv_scratch(d_raw, d_bytes)
    cdef floating* dd = <floating*>sepconv_scratch(dd_raw, d_bytes)
    cdef floating* dzt = <floating*>sepconv_scratch(z_raw, z_bytes)
    cdef Py_ssize_t b, i
    cdef int status = 0
    if d == NULL or dd == NULL or dzt == NULL:
        status = -1
    else:
        # Padding columns of D are never written by the depthwise loop.
        for i in range(tile * width_pad):
            d[i] = 0
        for b in range(first, last):
            _backward_element(x + b * steps * channels, steps, channels,
                              dz + b * out_steps * filters, out_steps, filters, dw, pwt,
                              taps, mult, stride, dilation, pad_left, tile, width_pad,
                              filters_pad, dx + b * steps * channels,
                              ddw_parts + b * taps * width,
                              dpw_parts + b * width_pad * filters_pad,
                              db_parts + b * filters, d, dd, dzt)
    free(d_raw)
    free(dd_raw)
    free(z_raw)
    return status


cdef int _backward(const floating* x, Py_ssize_t batch, Py_ssize_t steps, Py_ssize_t channels,
                   const floating* dz, Py_ssize_t out_steps, Py_ssize_t filters,
                   const floating* dw, const floating* pwt, Py_ssize_t taps, Py_ssize_t mult,
                   Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                   Py_ssize_t tile, Py_ssize_t width_pad, Py_ssize_t filters_pad,
                   floating* dx, floating* ddw_parts, floating* dpw_parts,
                   floating* db_parts, int num_threads) noexcept nogil:
    # The batch is cut into num_threads contiguous ranges, one per thread
    # (static); one thread runs without an OpenMP region at all (small calls,
    # and a child process forked after threads were used: see sepconv._fork).
    cdef Py_ssize_t chunk
    cdef int failed = 0
    cdef int* failed_flag = &failed
    if batch <= 0 or out_steps <= 0:
        return 0
    if num_threads > batch:
        num_threads = <int>batch
    if num_threads <= 1:
        return _backward_items(0, batch, x, steps, channels, dz, out_steps, filters, dw, pwt,
                               taps, mult, stride, dilation, pad_left, tile, width_pad,
                               filters_pad, dx, ddw_parts, dpw_parts, db_parts)
    for chunk in prange(num_threads, schedule="static", num_threads=num_threads):
        if _backward_items(chunk * batch // num_threads, (chunk + 1) * batch // num_threads,
                           x, steps, channels, dz, out_steps, filters, dw, pwt, taps, mult,
                           stride, dilation, pad_left, tile, width_pad, filters_pad, dx,
                           ddw_parts, dpw_parts, db_parts) != 0:
            failed_flag[0] = 1
    return -failed


def backward(const floating[:, :, ::1] x, const floating[:, :, ::1] dz,
             const floating[:, ::1] dw, const floating[:, ::1] pwt,
             floating[:, :, ::1] dx, floating[:, :, ::1] ddw_parts,
             floating[:, :, ::1] dpw_parts, floating[:, ::1] db_parts,
             Py_ssize_t mult, Py_ssize_t stride, Py_ssize_t dilation,
             Py_ssize_t pad_left, Py_ssize_t tile, int num_threads):
    """Gradients of sum(dz * z) for z = pointwise(depthwise(x)) + bias, channels_last.

    x (B, L, C); dz (B, L_out, F); dw (K, M*C) and pwt (F, width_pad) packed
    by sepconv.backward; dx (B, L, C) zeroed; per-element partial sums
    ddw_parts (B, K, M*C), dpw_parts (B, width_pad, filters_pad), db_parts
    (B, F), zeroed.  tile is a multiple of MR.  Nothing is checked here.
    (One fused entry point: the backward pass is not latency bound.)
    """
    cdef int status
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    if x.shape[0] == 0 or dz.shape[1] == 0:
        return
    if SEPCONV_DEBUG:
        _assert_multiple("tile", tile, SEPCONV_MR)
        _assert_multiple("tile", tile, SEPCONV_DW_ROWS)
        _assert_multiple("width_pad", pwt.shape[1], SEPCONV_MR)
        _assert_multiple("width_pad", pwt.shape[1], nr)
        _assert_multiple("filters_pad", dpw_parts.shape[2], nr)
        assert pwt.shape[1] >= dw.shape[1] and dpw_parts.shape[2] >= dz.shape[2]
    with nogil:
        status = _backward(&x[0, 0, 0], x.shape[0], x.shape[1], x.shape[2], &dz[0, 0, 0],
                           dz.shape[1], dz.shape[2], &dw[0, 0], &pwt[0, 0], dw.shape[0],
                           mult, stride, dilation, pad_left, tile, pwt.shape[1],
                           dpw_parts.shape[2], &dx[0, 0, 0], &ddw_parts[0, 0, 0],
                           &dpw_parts[0, 0, 0], &db_parts[0, 0], num_threads)
    if status != 0:
        raise MemoryError("sepconv: could not allocate the backward scratch tiles")


include "ladder.pxi"


def scratch_probe(Py_ssize_t count):
    """``count`` float64 values read from freshly allocated kernel scratch.

    For the tests of the debug build, whose scratch is poisoned with NaN
    (release builds leave it as malloc returns it).
    """
    cdef void* raw = malloc(count * sizeof(double) + 64)
    cdef double* scratch = <double*>sepconv_scratch(raw, count * sizeof(double))
    if scratch == NULL:
        raise MemoryError("sepconv: could not allocate the probe's scratch")
    try:
        return [scratch[i] for i in range(count)]
    finally:
        free(raw)
