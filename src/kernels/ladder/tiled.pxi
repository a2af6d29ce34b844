# Rung 4 of the optimization ladder (src/kernels/ladder.pxi lists them all).
#
# tiled: a tile of T steps at a time.  Each pointwise row pw[j, :] is loaded
# once per tile instead of once per step (T-fold reuse from cache).

cdef void _ladder_tiled(const floating* x, Py_ssize_t batch, Py_ssize_t steps,
                        Py_ssize_t channels, const floating* dw, Py_ssize_t taps,
                        Py_ssize_t mult, const floating* pw, const floating* bias,
                        Py_ssize_t filters, floating* y, Py_ssize_t out_steps,
                        Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                        Py_ssize_t tile, floating* d) noexcept nogil:
    cdef Py_ssize_t width = channels * mult, b, t0, r, rows, f, j, ti
    cdef floating value
    cdef floating* out
    cdef const floating* pw_row
    for b in range(batch):
        for ti in range((out_steps + tile - 1) // tile):
            t0 = ti * tile
            rows = out_steps - t0 if out_steps - t0 < tile else tile
            for r in range(rows):
                _ladder_depthwise_row(x + b * steps * channels, steps, channels, dw, taps,
                                      mult, stride, dilation, pad_left, t0 + r, d + r * width)
                out = y + (b * out_steps + t0 + r) * filters
                for f in range(filters):
                    out[f] = bias[f]
            for j in range(width):
                pw_row = pw + j * filters  # loaded once, used for every step of the tile
                for r in range(rows):
                    value = d[r * width + j]
                    out = y + (b * out_steps + t0 + r) * filters
                    for f in range(filters):
                        out[f] += value * pw_row[f]
