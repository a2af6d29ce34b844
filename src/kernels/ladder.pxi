# The optimization ladder: the same computation written four ways, each one
# idea away from the previous (docs/optimization.md measures them).  All are
# single-threaded, channels_last, with Keras's weight layouts unless said;
# the production kernel ("auto") adds the last ideas: a register-blocked
# depthwise loop, KC blocking and OpenMP threads.
#
#   naive   two passes: the whole depthwise result D (B, L_out, C*M) is
#           written to memory, then read back by a dot-product loop per output.
#   fused   one output step at a time: its depthwise row stays in a small
#           scratch (L1) and is consumed at once; the pointwise loop runs over
#           filters innermost, so it vectorises.  D never exists in full.
#   tiled   a tile of T steps at a time: each pointwise row pw[j, :] is loaded
#           once per tile instead of once per step (T-fold reuse from cache).
#   blocked an MR x NR register block of outputs accumulated in registers
#           over all j, with the pointwise matrix packed into NR-wide strips
#           read contiguously (the production micro-kernel, on a tile).

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


cdef void _ladder_fused(const floating* x, Py_ssize_t batch, Py_ssize_t steps,
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
            for j in range(width):
                d = row[j]
                for f in range(filters):  # contiguous in pw and y: vectorises
                    out[f] += d * pw[j * filters + f]


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


cdef void _ladder_blocked(const floating* x, Py_ssize_t batch, Py_ssize_t steps,
                          Py_ssize_t channels, const floating* packed, Py_ssize_t taps,
                          Py_ssize_t mult, Py_ssize_t filters, floating* y,
                          Py_ssize_t out_steps, Py_ssize_t stride, Py_ssize_t dilation,
                          Py_ssize_t pad_left, Py_ssize_t tile, floating* d,
                          floating* ctile) noexcept nogil:
    # Packed weights as in production (depthwise (K, M*C), strips of NR
    # filters, bias); the depthwise loop is the plain one.
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t panels = (filters + nr - 1) // nr
    cdef Py_ssize_t filters_pad = panels * nr
    cdef const floating* pw = packed + taps * width
    cdef const floating* bias = pw + panels * width * nr
    cdef Py_ssize_t b, t0, r, rows, p, rb, k, m, ch, pos, ti
    cdef floating* drow
    for b in range(batch):
        for ti in range((out_steps + tile - 1) // tile):
            t0 = ti * tile
            rows = out_steps - t0 if out_steps - t0 < tile else tile
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
                            drow[m * channels + ch] += (x[(b * steps + pos) * channels + ch]
                                                        * packed[k * width + m * channels + ch])
            for p in range(panels):
                for rb in range(tile // SEPCONV_MR):
                    _micro_kernel(width, d + rb * SEPCONV_MR * width, width, 1,
                                  pw + p * width * nr, nr,
                                  ctile + rb * SEPCONV_MR * filters_pad + p * nr,
                                  filters_pad, True)
            for r in range(rows):
                _store_row(y + (b * out_steps + t0 + r) * filters, ctile + r * filters_pad,
                           filters, bias, 1, True, ACT_LINEAR)


def ladder_forward(str algorithm, const floating[:, :, ::1] x,
                   const floating[:, :, ::1] depthwise_kernel,
                   const floating[:, ::1] pointwise, const floating[::1] bias,
                   const floating[::1] packed, floating[:, :, ::1] y,
                   Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                   Py_ssize_t tile):
    """One rung of the ladder, channels_last, bias always given (zeros if none).

    algorithm: 'naive', 'fused', 'tiled' or 'blocked'; tile is a multiple of
    MR.  The activation is applied by the caller.  Nothing is checked here.
    """
    cdef Py_ssize_t batch = x.shape[0], steps = x.shape[1], channels = x.shape[2]
    cdef Py_ssize_t taps = depthwise_kernel.shape[0], mult = depthwise_kernel.shape[2]
    cdef Py_ssize_t filters = pointwise.shape[1], out_steps = y.shape[1]
    cdef Py_ssize_t width = channels * mult
    cdef Py_ssize_t nr = SEPCONV_NR_F32 if floating is float else SEPCONV_NR_F64
    cdef Py_ssize_t scratch_size
    cdef int rung = {"naive": 0, "fused": 1, "tiled": 2, "blocked": 3}[algorithm]
    cdef Py_ssize_t ctile_size = tile * ((filters + nr - 1) // nr) * nr
    cdef void* scratch_raw
    cdef void* ctile_raw = NULL
    cdef floating* scratch
    cdef floating* ctile = NULL
    if batch == 0 or out_steps == 0:
        return
    if SEPCONV_DEBUG and rung >= 2:
        _assert_multiple("tile", tile, SEPCONV_MR)
    scratch_size = (batch * out_steps * width if rung == 0 else
                    width if rung == 1 else tile * width)
    scratch_raw = malloc(scratch_size * sizeof(floating) + 64)
    scratch = <floating*>sepconv_scratch(scratch_raw, scratch_size * sizeof(floating))
    if rung == 3:
        ctile_raw = malloc(ctile_size * sizeof(floating) + 64)
        ctile = <floating*>sepconv_scratch(ctile_raw, ctile_size * sizeof(floating))
    if scratch == NULL or (rung == 3 and ctile == NULL):
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
            _ladder_tiled(&x[0, 0, 0], batch, steps, channels, &depthwise_kernel[0, 0, 0],
                          taps, mult, &pointwise[0, 0], &bias[0], filters, &y[0, 0, 0],
                          out_steps, stride, dilation, pad_left, tile, scratch)
        else:
            _ladder_blocked(&x[0, 0, 0], batch, steps, channels, &packed[0], taps, mult,
                            filters, &y[0, 0, 0], out_steps, stride, dilation, pad_left,
                            tile, scratch, ctile)
    free(scratch_raw)
    free(ctile_raw)
