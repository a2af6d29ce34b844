# Rung 2 of the optimization ladder (src/kernels/ladder.pxi lists them all).
#
# fused: one output step at a time.  Its depthwise row goes to a small
# scratch (it stays in L1) and is consumed at once: D never exists in full.
# The pointwise loop is naive's dot product, unchanged.

cdef void _ladder_fused(const floating* x, Py_ssize_t batch, Py_ssize_t steps,
                        Py_ssize_t channels, const floating* dw, Py_ssize_t taps,
                        Py_ssize_t mult, const floating* pw, const floating* bias,
                        Py_ssize_t filters, floating* y, Py_ssize_t out_steps,
                        Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                        floating* row) noexcept nogil:
    cdef Py_ssize_t width = channels * mult, b, t, f, j
    cdef floating acc
    for b in range(batch):
        for t in range(out_steps):
            _ladder_depthwise_row(x + b * steps * channels, steps, channels, dw, taps, mult,
                                  stride, dilation, pad_left, t, row)
            for f in range(filters):
                acc = bias[f]
                for j in range(width):  # the same dot product as naive, on the row
                    acc = acc + row[j] * pw[j * filters + f]
                y[(b * out_steps + t) * filters + f] = acc
