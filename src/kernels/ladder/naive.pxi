# Rung 1 of the optimization ladder (src/kernels/ladder.pxi lists them all).
#
# naive: two passes.  The whole depthwise result D (B, L_out, C*M) is written
# to memory, then read back by a dot-product loop per output, which reads the
# pointwise matrix down a column (stride F): no reuse, no vectorisation.

cdef void _ladder_naive(const floating* x, Py_ssize_t batch, Py_ssize_t steps,
                        Py_ssize_t channels, const floating* dw, Py_ssize_t taps,
                        Py_ssize_t mult, const floating* pw, const floating* bias,
                        Py_ssize_t filters, floating* y, Py_ssize_t out_steps,
                        Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                        floating* depthwise) noexcept nogil:
    cdef Py_ssize_t width = channels * mult, b, t, f, j
    cdef floating acc
    for b in range(batch):
        for t in range(out_steps):
            _ladder_depthwise_row(x + b * steps * channels, steps, channels, dw, taps, mult,
                                  stride, dilation, pad_left, t,
                                  depthwise + (b * out_steps + t) * width)
    for b in range(batch):
        for t in range(out_steps):
            for f in range(filters):
                acc = bias[f]
                for j in range(width):  # pw read down a column: stride F
                    acc = acc + depthwise[(b * out_steps + t) * width + j] * pw[j * filters + f]
                y[(b * out_steps + t) * filters + f] = acc
