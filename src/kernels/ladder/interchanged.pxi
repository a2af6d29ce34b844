# Rung 3 of the optimization ladder (src/kernels/ladder.pxi lists them all).
#
# interchanged: fused with the pointwise loops swapped.  Filters run
# innermost, so each j is an AXPY over a contiguous row of pw and of y, which
# the compiler vectorises.

cdef void _ladder_interchanged(const floating* x, Py_ssize_t batch, Py_ssize_t steps,
                        Py_ssize_t channels, const floating* dw, Py_ssize_t taps,
                        Py_ssize_t mult, const floating* pw, const floating* bias,
                        Py_ssize_t filters, floating* y, Py_ssize_t out_steps,
                        Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                        floating* row) noexcept nogil:
    cdef Py_ssize_t width = channels * mult, b, t, f, j
    cdef floating d
    cdef floating* out
    for b in range(batch):
        for t in range(out_steps):
            _ladder_depthwise_row(x + b * steps * channels, steps, channels, dw, taps, mult,
                                  stride, dilation, pad_left, t, row)
            out = y + (b * out_steps + t) * filters
            for f in range(filters):
                out[f] = bias[f]
            for j in range(width):  # j outside, filters inside: an AXPY per j
                d = row[j]
                for f in range(filters):  # contiguous in pw and y: vectorises
                    out[f] += d * pw[j * filters + f]
