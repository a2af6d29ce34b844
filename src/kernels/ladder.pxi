# The optimization ladder: the same computation written six ways, each one
# idea away from the previous, one file per rung in src/kernels/ladder/
# (docs/optimization.md measures them).  All are single-threaded and
# channels_last; the production kernel ("auto") adds the last ideas: a
# register-blocked depthwise loop, KC blocking and OpenMP threads.
#
#   1 naive         two passes: D (B, L_out, C*M) to memory and back; a dot
#                   product per output reads pw down a column
#   2 fused         one step at a time: its depthwise row stays in L1 (fusion)
#   3 interchanged  filters innermost: the pointwise loop becomes an AXPY over
#                   contiguous rows, and vectorises (loop interchange)
#   4 tiled         T steps at a time: each pw row is reused T times from cache
#   5 blocked       an MR x NR block of outputs accumulated over all j in a
#                   small array, pw packed in NR-wide strips (register blocking,
#                   if the compiler keeps the array in registers)
#   6 vector        the same block in explicit vector registers: the production
#                   micro-kernel (src/kernels/microkernels.h)

cdef void _ladder_depthwise_row(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                                const floating* dw, Py_ssize_t taps, Py_ssize_t mult,
                                Py_ssize_t stride, Py_ssize_t dilation,
                                Py_ssize_t pad_left, Py_ssize_t t,
                                floating* row) noexcept nogil:
    # row[c*M + m] = sum_k x[t*stride + k*dilation - pad_left, c] * dw[k, c, m]
    cdef Py_ssize_t k, c, m, pos
    for c in range(channels * mult):
        row[c] = 0
    for k in range(taps):
        pos = t * stride + k * dilation - pad_left
        if pos < 0 or pos >= steps:
            continue
        for c in range(channels):
            for m in range(mult):
                row[c * mult + m] += x[pos * channels + c] * dw[(k * channels + c) * mult + m]


cdef void _ladder_depthwise_tile(const floating* x, Py_ssize_t steps, Py_ssize_t channels,
                                 const floating* packed, Py_ssize_t taps, Py_ssize_t mult,
                                 Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                                 Py_ssize_t t0, Py_ssize_t tile, Py_ssize_t rows,
                                 floating* d) noexcept nogil:
    # d[r, m*C + c] for the tile's rows (packed depthwise order, zero past
    # ``rows``), one tap at a time: the plain loop, as in rungs 1-4.
    cdef Py_ssize_t width = channels * mult, r, k, m, ch, pos
    cdef floating* drow
    for r in range(tile):
        drow = d + r * width
        for ch in range(width):
            drow[ch] = 0
        if r >= rows:
            continue
        for k in range(taps):
            pos = (t0 + r) * stride + k * dilation - pad_left
            if pos < 0 or pos >= steps:
                continue
            for m in range(mult):
                for ch in range(channels):
                    drow[m * channels + ch] += (x[pos * channels + ch]
                                                * packed[k * width + m * channels + ch])


include "ladder/naive.pxi"
include "ladder/fused.pxi"
include "ladder/interchanged.pxi"
include "ladder/tiled.pxi"
include "ladder/blocked.pxi"
include "ladder/vector.pxi"


def ladder_forward(str algorithm, const floating[:, :, ::1] x,
                   const floating[:, :, ::1] depthwise_kernel,
                   const floating[:, ::1] pointwise, const floating[::1] bias,
                   const floating[::1] packed, floating[:, :, ::1] y,
                   Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                   Py_ssize_t tile):
    """One rung of the ladder, channels_last, bias always given (zeros if none).

    algorithm: 'naive', 'fused', 'interchanged', 'tiled', 'blocked' or
    'vector'; tile is a multiple of MR.  The activation is applied by the
    caller.  Nothing is checked here.
    """
    cdef Py_ssize_t batch = x.shape[0], steps = x.shape[1], channels = x.shape[2]
    cdef Py_ssize_t taps = depthwise_kernel.shape[0], mult = depthwise_kernel.shape[2]
    cdef Py_ssize_t filters = pointwise.shape[1], out_steps = y.shape[1]
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t scratch_size
    cdef int rung = {"naive": 0, "fused": 1, "interchanged": 2, "tiled": 3, "blocked": 4,
                     "vector": 5}[algorithm]
    cdef Py_ssize_t ctile_size = tile * ((filters + nr - 1) // nr) * nr
    cdef void* scratch_raw
    cdef void* ctile_raw = NULL
    cdef floating* scratch
    cdef floating* ctile = NULL
    if batch == 0 or out_steps == 0:
        return
    if SEPCONV_DEBUG and rung >= 4:
        _assert_multiple("tile", tile, SEPCONV_MR)
    scratch_size = (batch * out_steps * width if rung == 0 else
                    width if rung <= 2 else tile * width)
    scratch_raw = malloc(scratch_size * sizeof(floating) + 64)
    scratch = <floating*>sepconv_scratch(scratch_raw, scratch_size * sizeof(floating))
    if rung >= 4:
        ctile_raw = malloc(ctile_size * sizeof(floating) + 64)
        ctile = <floating*>sepconv_scratch(ctile_raw, ctile_size * sizeof(floating))
    if scratch == NULL or (rung >= 4 and ctile == NULL):
        free(scratch_raw)
        free(ctile_raw)
        raise MemoryError("sepconv: could not allocate the ladder's scratch")
    with nogil:
        if rung == 0:
            _ladder_naive(&x[0, 0, 0], batch, steps, channels, &depthwise_kernel[0, 0, 0],
                          taps, mult, &pointwise[0, 0], &bias[0], filters, &y[0, 0, 0],
                          out_steps, stride, dilation, pad_left, scratch)
        elif rung == 1:
            _ladder_fused(&x[0, 0, 0], batch, steps, channels, &depthwise_kernel[0, 0, 0],
                          taps, mult, &pointwise[0, 0], &bias[0], filters, &y[0, 0, 0],
                          out_steps, stride, dilation, pad_left, scratch)
        elif rung == 2:
            _ladder_interchanged(&x[0, 0, 0], batch, steps, channels,
                                 &depthwise_kernel[0, 0, 0], taps, mult, &pointwise[0, 0],
                                 &bias[0], filters, &y[0, 0, 0], out_steps, stride, dilation,
                                 pad_left, scratch)
        elif rung == 3:
            _ladder_tiled(&x[0, 0, 0], batch, steps, channels, &depthwise_kernel[0, 0, 0],
                          taps, mult, &pointwise[0, 0], &bias[0], filters, &y[0, 0, 0],
                          out_steps, stride, dilation, pad_left, tile, scratch)
        elif rung == 4:
            _ladder_blocked(&x[0, 0, 0], batch, steps, channels, &packed[0], taps, mult,
                            filters, &y[0, 0, 0], out_steps, stride, dilation, pad_left,
                            tile, scratch, ctile)
        else:
            _ladder_vector(&x[0, 0, 0], batch, steps, channels, &packed[0], taps, mult,
                           filters, &y[0, 0, 0], out_steps, stride, dilation, pad_left,
                           tile, scratch, ctile)
    free(scratch_raw)
    free(ctile_raw)
