# Rung 5 of the optimization ladder (src/kernels/ladder.pxi lists them all).
#
# blocked: an MR x NR block of outputs accumulated over all j, written as
# plain Cython loops over a small C array.  The pointwise matrix is packed in
# NR-wide strips (the production layout), read contiguously.  Whether the
# block really lives in registers is up to the compiler's scalar replacement:
# gcc kept it there for float32 AVX-512 only, and float64 or AVX2 builds of
# this loop ran at about 4 GFLOP/s.  The next rung makes it explicit.

cdef void _ladder_blocked(const floating* x, Py_ssize_t batch, Py_ssize_t steps,
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
    cdef const floating* strip
    cdef floating acc[SEPCONV_MR][SEPCONV_NR_MAX]
    cdef floating a
    cdef Py_ssize_t b, t0, rows, p, block, rb, i, c, j, ti
    for b in range(batch):
        for ti in range((out_steps + tile - 1) // tile):
            t0 = ti * tile
            rows = out_steps - t0 if out_steps - t0 < tile else tile
            _ladder_depthwise_tile(x + b * steps * channels, steps, channels, packed, taps,
                                   mult, stride, dilation, pad_left, t0, tile, rows, d)
            for p in range(panels):
                strip = pw + p * width * nr
                for block in range(tile // SEPCONV_MR):
                    rb = block * SEPCONV_MR
                    for i in range(SEPCONV_MR):
                        for c in range(nr):
                            acc[i][c] = 0
                    for j in range(width):  # the MR x NR block stays put for every j
                        for i in range(SEPCONV_MR):
                            a = d[(rb + i) * width + j]
                            for c in range(nr):
                                acc[i][c] += a * strip[j * nr + c]
                    for i in range(SEPCONV_MR):
                        for c in range(nr):
                            ctile[(rb + i) * filters_pad + p * nr + c] = acc[i][c]
            for i in range(rows):
                _store_row(y + (b * out_steps + t0 + i) * filters, ctile + i * filters_pad,
                           filters, bias, 1, True, ACT_LINEAR)
