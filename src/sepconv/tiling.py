"""Tile and padding sizes: the one place that computes them.

The kernels' loops step through a tile in blocks (MR rows of the
micro-kernel, DW_ROWS steps of the depthwise register block, NR columns) and
do not handle a remainder: a tile that is not a multiple of its block leaves
rows of scratch unwritten that later loops read.  Every size handed to a
kernel is therefore computed here, as a multiple of its block by
construction; debug builds (SEPCONV_DEBUG=1) assert it again in the kernel.
The block sizes are the kernel module's constants (from the ISA table,
sepconv._isa), never assumed.

Results never depend on the tile size: each output is summed in one fixed
order (see the kernel's design block).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LAST", "FIRST", "FIRST_TRANSPOSED", "forward_layout", "step_unit",
           "forward_tile", "forward_kc", "forward_blocking", "backward_tile",
           "backward_padding"]

#: How the forward kernel walks a call's data (the kernel's ``layout``):
#: channels_last tiles; channels_first tiles (filters x steps, or steps x
#: filters when short); channels_first tiles whose input window is first
#: transposed to steps-major rows, then computed as channels_last ones.
LAST, FIRST, FIRST_TRANSPOSED = 0, 1, 2

# The depthwise scratch tile (tile x width) aims at about this many bytes.
# Measured on Zen 4 (32 KiB L1d) against 16-384 KiB on 11 shapes: no target
# was faster on most shapes by more than the machine's noise (2-5%), so the
# rule stays the one tuned on Sapphire Rapids; sepconv.tune() measures per
# shape (tuning.py).
_SCRATCH_TARGET = 48 * 1024
_MAX_FORWARD_TILE = 256
# The rule's kc: the pointwise sum over all inputs in one pass up to this many.
_MAX_RULE_KC = 1024
_MAX_BACKWARD_TILE = 64

#: The cache targets (bytes of depthwise scratch) whose tiles sepconv.tune() times.
TUNE_TARGETS = (12 * 1024, 24 * 1024, 96 * 1024, 192 * 1024)
# A recorded choice is used only inside these bounds (else the rule's).
_MAX_CHOICE_TILE = 1024
_MAX_CHOICE_KC = 1024
_MAX_CHOICE_SCRATCH = 4 * 1024 * 1024


def forward_layout(channels_first, stride, width, out_steps):
    """The kernel layout (LAST, FIRST or FIRST_TRANSPOSED) of a forward call.

    A channels_first call is transposed tile by tile where the channels_last
    loop is much faster than the channels_first one and the transposes are
    a small share of the work: strided layers (the channels_first
    depthwise splits each row into its stride phases, a copy per value for
    about taps / stride multiply-adds) and short sequences (a few output
    steps per row waste most of an NR column block), in both cases with
    enough depthwise channels (``width``) that the pointwise sum outweighs
    the two transposes.  Long stride-1 sequences stay channels_first: the
    transposes of input and output cost about what the loop gains.

    Zen 3, AVX2, 1 thread, the transposed time over the channels_first one,
    interleaved in one process, float32 / float64 (B,L,C,F,K,stride,dilation,
    dm): strided, 3,16,204,180,11,4 0.29 / 0.66; 7,201,292,95,5,4 0.60 /
    0.84; 8,311,248,57,12,4,1,4 0.57 / 0.60; 3,66,260,310,21,4,1,4 0.52 /
    0.53; 5,168,116,55,15,4 0.79 / 0.97; dm4_s2_b16 (width 128) 0.62;
    k8same_b2 (96) 0.80; but width 64 (s4k8_b8) 0.92-1.09, 57 0.95 / 1.01,
    43 0.98 / 1.18, 30 1.20 / 1.06.  Stride 1, up to 160 output steps,
    width 144-813: 0.55-0.91 / 0.72-1.04 (8 shapes; 1 to 134 steps); width
    90 1.07 / 1.08.  Longer: 269-289 steps 0.96-1.03, audio_b1 0.97-1.08,
    quartz_b8 0.98-1.08, c512_b4 1.04-1.05.
    """
    if not channels_first:
        return LAST
    if stride > 1 and width >= _TRANSPOSE_STRIDED_WIDTH:
        return FIRST_TRANSPOSED
    if width >= _TRANSPOSE_WIDTH and out_steps <= _TRANSPOSE_STEPS:
        return FIRST_TRANSPOSED
    return FIRST


# forward_layout's bounds (its measurements).
_TRANSPOSE_STRIDED_WIDTH = 96
_TRANSPOSE_WIDTH = 128
_TRANSPOSE_STEPS = 160


def step_unit(kernels, dtype, layout):
    """The block a forward tile of output steps must be a multiple of.

    LAST and FIRST_TRANSPOSED: the steps are the micro-kernel's rows (MR)
    and the depthwise block's rows (DW_ROWS); FIRST: they are its columns
    (NR of the dtype).  (A bool ``layout`` reads as LAST or FIRST.)
    """
    if layout == FIRST:
        return kernels.NR["float32" if dtype == np.float32 else "float64"]
    return math.lcm(kernels.MR, kernels.DW_ROWS)


def _round_up(value, unit):
    return -(-value // unit) * unit


def forward_tile(out_steps, batch, width, layout, num_threads, kernels, dtype,
                 target=None):
    """Output steps per forward work item.

    Sized so the depthwise scratch tile stays near ``target`` bytes (48 KiB),
    no longer than the (rounded-up) sequence, and small enough to give every
    thread work; then shrunk to the shortest multiple of the block that
    still covers the sequence in as many tiles, so the tiles of a sequence
    are near one length and the last is not a stub.

    Balancing the tiles: 300 steps in tiles of 102, 102, 96 instead of 120,
    120, 60.  The work and its order per output are unchanged, only fewer
    rows of scratch per tile (never more than the unbalanced tile) and no
    short item.  Zen 3, 1 thread, float32, balanced / unbalanced, interleaved
    prepared calls, the shapes whose tile changes: k8same_b2 (151 outputs:
    78 + 73 instead of 126 + 25) 0.76-0.84, c100_b4 0.95-0.97 (four runs),
    dm4_s2_b16 0.95-1.00, s4k8_b8 0.98-1.00; float64 kws_b1 0.92, c40_b1
    0.97, k8same_b2 0.93; 2 threads 0.97-1.01 and k8same_b2 0.79.
    """
    unit = step_unit(kernels, dtype, layout)
    target = _SCRATCH_TARGET if target is None else target
    longest = max(_MAX_FORWARD_TILE, target // (64 * 1024) * _MAX_FORWARD_TILE)
    by_cache = target // max(1, width * dtype.itemsize) // unit * unit
    tile = max(unit, min(by_cache, longest // unit * unit, _round_up(out_steps, unit)))
    while batch * -(-out_steps // tile) < num_threads and tile > unit:
        tile = max(unit, _round_up(tile // 2, unit))
    # ceil(out / count) <= tile, and tile is a multiple of unit, so the
    # rounded-up share is at most tile and still needs count tiles.
    count = max(1, -(-out_steps // tile))   # an empty output still gets one tile
    return max(unit, _round_up(-(-out_steps // count), unit))


def forward_kc(width):
    """Inputs summed per pass of the pointwise product (kc) by the rule.

    All ``width`` of them in one pass when there are at most 1024, else
    the fewest passes of at most 1024, of (nearly) equal length.  Each pass
    after the first reloads the micro-kernel's accumulators from the C tile
    and stores them again, and every micro-kernel call has a fixed cost of
    its own, so fewer, longer passes pay even when a pass's strip of the
    packed weights (kc x NR) no longer fits L1: the hardware prefetchers
    stream it.  Zen 3, 1 thread, float32, one pass against passes of 256
    (the kernel's KC, the rule before), interleaved: c512_b4 (512 inputs)
    0.96-0.97, float64 0.96; 384 inputs 0.98, 768 inputs 0.94, 1,024
    inputs 0.94, 512 inputs with 9 taps 0.96; c512_b4 channels_first 0.96;
    the SSE2 baseline level, c512_b4, 0.93-0.98.  Layers of up to 256 inputs were one pass before
    and stay one.
    """
    passes = max(1, -(-width // _MAX_RULE_KC))
    return max(1, -(-width // passes))


def tune_kcs(width, kernels):
    """The kc values (inputs per pointwise pass) sepconv.tune() tries for ``width``:
    the rule's, and the kernel's KC and half of it where they split the sum."""
    kcs = [forward_kc(width)]
    for kc in (kernels.KC, kernels.KC // 2):
        if kc < width and 16 <= kc <= _MAX_CHOICE_KC and kc not in kcs:
            kcs.append(kc)
    return kcs


def forward_blocking(out_steps, batch, width, layout, num_threads, kernels, dtype,
                     choice=None):
    """(tile, kc) of a forward plan: ``choice`` (a recorded or asked-for pair) when
    it is valid here, else the rule (forward_tile and forward_kc).

    Valid: a tile that is a positive multiple of step_unit, at most 1024 steps
    and 4 MiB of depthwise scratch, and a kc in [1, 1024]; the tile is cut to
    the rounded-up sequence.  The kernels rely on the tile multiple, so
    anything else is never used.
    """
    if choice is not None:
        tile, kc = choice
        unit = step_unit(kernels, dtype, layout)
        if (type(tile) is int and type(kc) is int and 0 < tile <= _MAX_CHOICE_TILE
                and tile % unit == 0 and 0 < kc <= _MAX_CHOICE_KC
                and tile * width * dtype.itemsize <= _MAX_CHOICE_SCRATCH):
            return min(tile, _round_up(out_steps, unit)), kc
    return (forward_tile(out_steps, batch, width, layout, num_threads, kernels, dtype),
            forward_kc(width))


def backward_tile(out_steps, kernels):
    """Output steps per tile of the backward pass (channels_last rows).

    The tile is the row count of the dD micro-kernel (MR) and of the
    depthwise block (DW_ROWS); at most 64 steps, rounded down to the block
    (60 when MR=6), or the whole rounded-up sequence if shorter.
    """
    unit = math.lcm(kernels.MR, kernels.DW_ROWS)
    return max(unit, min(_MAX_BACKWARD_TILE // unit * unit, _round_up(out_steps, unit)))


def backward_padding(width, filters, kernels, dtype):
    """(width_pad, filters_pad) of the backward scratch and packed weights.

    The depthwise channels are the rows of one micro-kernel call (dpw, MR)
    and the columns of another (dD, NR); the filters are columns (NR).
    """
    nr = kernels.NR["float32" if dtype == np.float32 else "float64"]
    return _round_up(width, math.lcm(kernels.MR, nr)), _round_up(filters, nr)
