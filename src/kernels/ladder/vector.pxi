# Rung 6 of the optimization ladder (src/kernels/ladder.pxi lists them all).
#
# vector: blocked with the block made explicit.  The production micro-kernel
# (src/kernels/microkernels.h) keeps MR rows of two vectors each in named
# vector variables (GCC/Clang vector extensions), so the accumulators are
# registers by construction, at every level and for both dtypes.

cdef void _ladder_vector(const floating* x, Py_ssize_t batch, Py_ssize_t steps,
                          Py_ssize_t channels, const floating* packed, Py_ssize_t taps,
                          Py_ssize_t mult, Py_ssize_t filters, floating* y,
                          Py_ssize_t out_steps, Py_ssize_t stride, Py_ssize_t dilation,
                          Py_ssize_t pad_left, Py_ssize_t tile, floating* d,
                          floating* ctile) noexcept nogil:
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t panels = (filters + nr - 1) // nr
    cdef Py_ssize_t filters_pad = panels * nr
    cdef const floating* pw = packed + taps * width
    cdef const floating* bias = pw + panels * width * nr
    cdef Py_ssize_t b, t0, r, rows, p, rb, ti
    for b in range(batch):
        for ti in range((out_steps + tile - 1) // tile):
            t0 = ti * tile
            rows = out_steps - t0 if out_steps - t0 < tile else tile
            _ladder_depthwise_tile(x + b * steps * channels, steps, channels, packed, taps,
                                   mult, stride, dilation, pad_left, t0, tile, rows, d)
            for p in range(panels):
                for rb in range(tile // SEPCONV_MR):
                    _micro_kernel(width, d + rb * SEPCONV_MR * width, width, 1,
                                  pw + p * width * nr, nr,
                                  ctile + rb * SEPCONV_MR * filters_pad + p * nr,
                                  filters_pad, True)
            for r in range(rows):
                _store_row(y + (b * out_steps + t0 + r) * filters, ctile + r * filters_pad,
                           filters, bias, 1, True, ACT_LINEAR)
