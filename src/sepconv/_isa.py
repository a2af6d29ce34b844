"""The instruction-set levels sepconv is built for: the one table.

``setup.py`` reads it to decide which extensions to build for the *target*
platform, with which compiler flags and macros, and which compile probe must
pass first; ``sepconv.dispatch`` reads it to know each level's module name
and the CPU features it needs at run time.  Nothing else names a level's
flags, features or register blocking.

This file uses the standard library only: setup.py loads it by path, before
the package (or NumPy) can be imported.

Register blocking.  The micro-kernel keeps an MR x 2-vector tile of
accumulators in registers (NR = 2 vectors: ``2 * vec_bytes / itemsize``
columns); the channels_last depthwise block keeps ``dw_rows`` x 2 vectors.
Both must fit the level's register file with room for the operands:

* x86-64 baseline (SSE2) and AVX2: 16 vector registers; MR=6 uses 12
  accumulators + 2 B vectors + 1 broadcast.  AVX2's depthwise block is 6
  steps (12 accumulators + 2 weight vectors, inputs as FMA memory operands):
  13-17% faster than 2 steps on Zen 4 for quartz_b8 (11% long_b1, 8-11%
  slower on thru_b32); at SSE2 it measured the same as 2, which stays.
* AVX-512: 32 registers; MR=8 uses 16 (more rows did not pay: the B loads
  are already amortised and wider tiles waste work on short sequences).
  ``dw_taps=4``: a stride-1 depthwise block of 7 taps or more keeps the
  weights of 4 taps in registers and loads each input row once per 4 taps
  (16 accumulators + 8 weights + 2 inputs); see microkernels.h for the
  measurements.  The other levels keep 0: 16 registers leave no room, and
  aarch64's 32 would hold it but it has not been timed on an ARM core.
  ``gemm_quarters``: the last, partial panel of filters takes a kernel of
  1.5 or 0.5 vectors when that covers it (half vectors are 256-bit, which
  Zen 4 issues in half the slots of a 512-bit FMA).  The other levels keep
  halves: a half vector there is 128 or 64 bits, which costs a 256-bit
  machine the same slot as a full one.
  ``rows_outer`` (AVX2 and AVX-512): the last KC block into rows of y
  that are not whole 64-byte lines runs row block by row block, not panel
  by panel (see _tile_channels_last for the measurements).  The baseline
  levels keep panel by panel: their 16-byte stores never cross a line of a
  16-byte aligned output, and on Zen 4 the order measured within the
  noise there.
  ``tail_pairs`` (AVX2): a last, partial panel of filters one vector wide
  runs two row blocks per micro-kernel call (2 x MR = 12 rows, 12
  accumulators) where both are full.  An MR-row call of one vector has
  only 6 independent chains of multiply-adds, and a core with two FMA
  pipes of 4 cycles' latency (Zen 3) needs 8 to keep them busy: on Zen 3
  that panel cost as much as a full one (c100_b4: 112 filters 570 us, 120
  and 128 both ~630).  AVX-512's MR=8 rows already give 8 chains, and the
  baselines have no FMA; they keep one row block a call.
  ``gemm_unroll`` (AVX2: 2): the micro-kernels' loop over k is unrolled
  that many times (the same multiply-adds in the same order, so the same
  bits).  Zen 3, 1 thread, bench/ab.py against the rolled loop, float32:
  audio_b1 0.88-0.91, c40_b1 0.93, quartz_b8 0.94, long_b1 and s4k8_b8
  0.94, c100_b4 0.94-0.96, quartz_b1 0.96, thru_b32 and c512_b4 0.97,
  dil4_b8 and k8same_b2 0.99, tiny_b1 1.01; float64 0.95-0.98.  On Zen 5
  a 4-fold unroll at AVX-512 was 1-3% faster at float32 and 6% slower on
  float64 c512_b4, and 2-fold has not been timed there, so the other
  levels keep 1.
* aarch64 (NEON is part of the baseline): 32 registers of 128 bits, so the
  AVX-512 shape, MR=8 with an 8-step depthwise block (16 accumulators + 2 B
  vectors + 8 A scalars: gcc 14 keeps each A in a register of its own and
  multiplies by lane).  MR=12 looked better on paper (24 accumulators) but
  spilled accumulators inside the inner loop; MR=6 would leave half the
  register file idle.  Checked in gcc's aarch64 assembly of the two kernels.
* anything else: the x86 baseline's shape, which any 16-register machine
  holds (GCC lowers the vector types to what the target has).

``dw_rows`` divides MR, so a tile that is a multiple of MR is one of
``dw_rows`` too (checked below, and by the tests).
"""

from __future__ import annotations

import platform as _platform

__all__ = ["Level", "LEVELS", "architecture", "host_architecture", "build_target",
           "levels_for", "level_named"]


class Level:
    """One build of the kernel source: where it runs and how it is compiled."""

    __slots__ = ("name", "arch", "module", "description", "features", "gcc_flags",
                 "msvc_flags", "vec_bytes", "mr", "dw_rows", "probe", "dw_taps",
                 "gemm_quarters", "rows_outer", "tail_pairs", "gemm_unroll")

    def __init__(self, name, arch, module, description, features, gcc_flags, msvc_flags,
                 vec_bytes, mr, dw_rows, probe, dw_taps=0, gemm_quarters=False,
                 rows_outer=False, tail_pairs=False, gemm_unroll=1):
        self.name = name                  # the value of SEPCONV_ISA / isa=
        self.arch = arch                  # "x86_64", "aarch64" or "generic"
        self.module = module              # the extension's import name
        self.description = description
        self.features = tuple(features)   # NumPy __cpu_features__ names needed
        self.gcc_flags = tuple(gcc_flags)
        self.msvc_flags = tuple(msvc_flags)
        self.vec_bytes = vec_bytes
        self.mr = mr
        self.dw_rows = dw_rows
        self.probe = probe                # C program that must compile and link
        self.dw_taps = dw_taps            # taps a stride-1 depthwise block holds (0 or 4)
        self.gemm_quarters = bool(gemm_quarters)  # last filter panel in half vectors
        self.rows_outer = bool(rows_outer)  # misaligned y rows: row blocks outside
        self.tail_pairs = bool(tail_pairs)  # one-vector last panel: 2 row blocks a call
        self.gemm_unroll = int(gemm_unroll)  # the micro-kernels' k loop unrolled this often
        if mr % dw_rows:
            raise ValueError(f"level {name}/{arch}: dw_rows={dw_rows} must divide MR={mr}")
        if gemm_unroll not in (1, 2, 4):
            raise ValueError(f"level {name}/{arch}: gemm_unroll={gemm_unroll} must be 1, 2 or 4")
        if dw_taps not in (0, 4):
            raise ValueError(f"level {name}/{arch}: dw_taps={dw_taps} must be 0 or 4")

    def nr(self, itemsize):
        """Micro-kernel columns (two vectors) for elements of ``itemsize`` bytes."""
        return 2 * self.vec_bytes // itemsize

    def macros(self):
        """The C macros that tell the kernel source which level it is."""
        return [("SEPCONV_LEVEL", self.name), ("SEPCONV_VEC_BYTES", str(self.vec_bytes)),
                ("SEPCONV_MR", str(self.mr)), ("SEPCONV_DW_ROWS", str(self.dw_rows)),
                ("SEPCONV_DW_TAPS", str(self.dw_taps)),
                ("SEPCONV_GEMM_QUARTERS", "1" if self.gemm_quarters else "0"),
                ("SEPCONV_ROWS_OUTER", "1" if self.rows_outer else "0"),
                ("SEPCONV_TAIL_PAIRS", "1" if self.tail_pairs else "0"),
                ("SEPCONV_MR2", str(2 * self.mr)),
                ("SEPCONV_GEMM_UNROLL", str(self.gemm_unroll))]

    def __repr__(self):
        return f"Level({self.name!r}, {self.arch!r}, MR={self.mr}, vec_bytes={self.vec_bytes})"


_PLAIN_PROBE = "int main(void) { return 0; }\n"

# The probes use the intrinsics of the level, so a compiler (or assembler)
# that cannot emit them fails here, not in the middle of the kernel build.
_AVX2_PROBE = """
#include <immintrin.h>
int main(void) {
    __m256 a = _mm256_set1_ps(1.0f);
    __m256d b = _mm256_set1_pd(1.0);
    a = _mm256_fmadd_ps(a, a, a);
    b = _mm256_fmadd_pd(b, b, b);
    return (int)(_mm256_cvtss_f32(a) + _mm256_cvtsd_f64(b)) - 4;
}
"""

_AVX512_PROBE = """
#include <immintrin.h>
int main(void) {
    __m512 a = _mm512_set1_ps(1.0f);
    __m512d b = _mm512_set1_pd(1.0);
    __m512i c = _mm512_set1_epi8(1);              /* BW */
    __m256 d = _mm256_set1_ps(1.0f);
    __mmask8 m = _mm256_cmp_ps_mask(d, d, 0);     /* VL */
    a = _mm512_fmadd_ps(a, a, a);
    b = _mm512_fmadd_pd(b, b, b);
    c = _mm512_add_epi8(c, c);
    return (int)(_mm512_reduce_add_ps(a) + _mm512_reduce_add_pd(b)) + (int)m
           + _mm_cvtsi128_si32(_mm512_castsi512_si128(c)) - 64;
}
"""

_NEON_PROBE = """
#include <arm_neon.h>
int main(void) {
    float32x4_t a = vdupq_n_f32(1.0f);
    float64x2_t b = vdupq_n_f64(1.0);
    a = vfmaq_f32(a, a, a);
    b = vfmaq_f64(b, b, b);
    return (int)(vgetq_lane_f32(a, 0) + vgetq_lane_f64(b, 0)) - 4;
}
"""

_AVX512_FEATURES = ("AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ", "AVX512VL", "AVX2", "FMA3")

#: Every level, best first within an architecture.  MSVC does not define
#: __FMA__ for /arch:AVX2 and does not contract a*b+c into an FMA unless
#: told to: /fp:contract makes the AVX2 and AVX-512 builds use FMA as gcc's
#: and clang's do (-mfma, -ffp-contract=fast being their C default).
LEVELS = (
    Level("avx512", "x86_64", "sepconv._sepconv_avx512", "AVX-512 F/CD/BW/DQ/VL + FMA",
          _AVX512_FEATURES,
          ("-mavx2", "-mfma", "-mavx512f", "-mavx512cd", "-mavx512bw", "-mavx512dq",
           "-mavx512vl", "-mprefer-vector-width=512"),
          ("/arch:AVX512", "/fp:contract"), 64, 8, 8, _AVX512_PROBE, dw_taps=4,
          gemm_quarters=True, rows_outer=True),
    Level("avx2", "x86_64", "sepconv._sepconv_avx2", "AVX2 + FMA", ("AVX2", "FMA3"),
          ("-mavx2", "-mfma"), ("/arch:AVX2", "/fp:contract"), 32, 6, 6, _AVX2_PROBE,
          rows_outer=True, tail_pairs=True, gemm_unroll=2),
    Level("baseline", "x86_64", "sepconv._sepconv", "x86-64 baseline (SSE2)", (),
          (), (), 16, 6, 2, _PLAIN_PROBE),
    Level("baseline", "aarch64", "sepconv._sepconv", "aarch64 baseline (NEON)", (),
          (), (), 16, 8, 8, _NEON_PROBE),
    Level("baseline", "generic", "sepconv._sepconv", "portable C (any CPU)", (),
          (), (), 16, 6, 2, _PLAIN_PROBE),
)

_X86 = {"x86_64", "amd64", "x64"}
_ARM64 = {"aarch64", "arm64", "arm64e", "armv8l", "aarch64_be"}


def architecture(name):
    """'x86_64', 'aarch64' or 'generic' for a machine or platform-tag word.

    Takes what ``platform.machine()`` says ('x86_64', 'AMD64', 'arm64') or
    the last word of a platform tag ('linux-aarch64', 'win-amd64',
    'macosx-11.0-arm64'; 'universal2' is two architectures in one file, so
    only the portable build fits it).
    """
    word = name.lower().rsplit("-", 1)[-1]
    if word in _X86:
        return "x86_64"
    if word in _ARM64:
        return "aarch64"
    return "generic"


def host_architecture():
    """The architecture of the running interpreter's machine."""
    return architecture(_platform.machine())


def build_target(environ, sys_platform, platform_tag):
    """The architecture a build is *for* (setup.py's question), not the host's.

    ``environ``: the build's environment; ``sys_platform``: ``sys.platform``;
    ``platform_tag``: ``sysconfig.get_platform()``, which already honours
    ``_PYTHON_HOST_PLATFORM`` (set by cross-compiling tools such as
    crossenv and cibuildwheel).  In order:

    * ``SEPCONV_TARGET_ARCH``: an explicit choice;
    * macOS ``ARCHFLAGS``: one ``-arch`` is that architecture; several (a
      universal2 build compiles each file for both) get the portable build,
      since x86 flags cannot be given to the arm64 half;
    * Windows ``VSCMD_ARG_TGT_ARCH``: the target of an MSVC cross-compiler;
    * the platform tag.
    """
    forced = environ.get("SEPCONV_TARGET_ARCH", "").strip()
    if forced:
        return architecture(forced)
    if sys_platform == "darwin" and environ.get("ARCHFLAGS", "").strip():
        words = environ["ARCHFLAGS"].split()
        archs = {words[i + 1] for i, word in enumerate(words[:-1]) if word == "-arch"}
        if len(archs) > 1:
            return "generic"
        if archs:
            return architecture(archs.pop())
    if sys_platform == "win32" and environ.get("VSCMD_ARG_TGT_ARCH", "").strip():
        return architecture(environ["VSCMD_ARG_TGT_ARCH"].strip())
    return architecture(platform_tag)


def levels_for(arch):
    """The levels built for ``arch``, best first (the last is its baseline)."""
    found = tuple(level for level in LEVELS if level.arch == arch)
    return found or levels_for("generic")


def level_named(name, arch=None):
    """The level called ``name`` for ``arch`` (default: this machine), or None."""
    for level in levels_for(host_architecture() if arch is None else arch):
        if level.name == name:
            return level
    return None
