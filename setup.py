"""Build the sepconv kernels.

One Cython source, ``src/_sepconv.pyx``, is compiled once per x86-64
instruction-set level (NumPy's dispatch idea): ``sepconv._sepconv`` is the
baseline every CPU runs, ``_sepconv_avx2`` adds AVX2+FMA and
``_sepconv_avx512`` adds AVX-512.  ``sepconv.dispatch`` picks the best one the
running CPU supports.  Other architectures build the baseline only.

Build-time switches (environment variables):

* ``SEPCONV_NATIVE=1``  add ``-march=native`` (local builds only, never wheels)
* ``SEPCONV_DEBUG=1``   Cython bounds/wraparound checks on, ``-O1 -g`` and
  AddressSanitizer + UndefinedBehaviorSanitizer where the compiler has them
* ``SEPCONV_NO_OPENMP=1`` build serial even when OpenMP is available

OpenMP is detected by compiling and linking a tiny program; without it the
build succeeds, serial, with a warning.
"""

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


DEBUG = _flag("SEPCONV_DEBUG")
NATIVE = _flag("SEPCONV_NATIVE")
NO_OPENMP = _flag("SEPCONV_NO_OPENMP")
IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")

# Flags per instruction-set level for gcc/clang.  AVX-512 builds ask for
# 512-bit vectors explicitly: some gcc tunings prefer 256-bit ones.
ISA_FLAGS = {
    "baseline": [],
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512cd", "-mavx512bw",
               "-mavx512dq", "-mavx512vl", "-mprefer-vector-width=512"],
}
MSVC_ISA_FLAGS = {"baseline": [], "avx2": ["/arch:AVX2"], "avx512": ["/arch:AVX512"]}


def _try_compile(compiler, code, extra_compile, extra_link):
    """True if ``code`` compiles and links with the given flags."""
    tmp = tempfile.mkdtemp(prefix="sepconv-probe-")
    try:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as handle:
            handle.write(code)
        with open(os.devnull, "w") as devnull:
            old_out, old_err = os.dup(1), os.dup(2)
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            try:
                objects = compiler.compile([source], output_dir=tmp,
                                           extra_postargs=extra_compile)
                compiler.link_executable(objects, "probe", output_dir=tmp,
                                         extra_postargs=extra_link)
            finally:
                os.dup2(old_out, 1)
                os.dup2(old_err, 2)
                os.close(old_out)
                os.close(old_err)
        return True
    except Exception:  # any compiler or linker failure means "not supported"
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OPENMP_PROBE = textwrap.dedent("""
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d\\n", n > 0 ? omp_get_max_threads() : 0);
        return 0;
    }
""")

PLAIN_PROBE = "int main(void) { return 0; }\n"


class BuildExt(build_ext):
    """Add OpenMP, ISA and debug flags once the compiler is known."""

    def finalize_options(self):
        super().finalize_options()
        if DEBUG:  # never mix objects of the debug and release builds
            self.build_temp = self.build_temp + "-debug"

    def build_extensions(self):
        compiler = self.compiler
        msvc = compiler.compiler_type == "msvc"
        if msvc:
            omp_compile, omp_link = ["/openmp"], []
        elif sys.platform == "darwin":
            omp_compile, omp_link = ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
        else:
            omp_compile, omp_link = ["-fopenmp"], ["-fopenmp"]
        use_openmp = not NO_OPENMP and _try_compile(compiler, OPENMP_PROBE,
                                                    omp_compile, omp_link)
        if not use_openmp:
            omp_compile, omp_link = [], []
            warnings.warn("sepconv: OpenMP not found (or disabled); the kernels "
                          "are built serial.")

        sanitize_compile, sanitize_link = [], []
        if DEBUG and not msvc:
            candidate = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
            if _try_compile(compiler, PLAIN_PROBE, candidate, candidate[:1]):
                sanitize_compile, sanitize_link = candidate, candidate[:1]
            else:
                warnings.warn("sepconv: the compiler lacks ASan/UBSan; debug build "
                              "without sanitizers.")

        if msvc:
            base = ["/O2"] if not DEBUG else ["/Od", "/Zi"]
        else:
            base = ["-O1", "-g"] if DEBUG else ["-O3"]
            base += ["-fno-math-errno", "-Wno-unused-function", "-Wno-unreachable-code"]
            if NATIVE:
                base.append("-march=native")

        info = {"compiler": " ".join(getattr(compiler, "compiler_so", None) or
                                     [compiler.compiler_type]),
                "openmp": use_openmp, "debug": DEBUG, "native": NATIVE,
                "sanitizers": bool(sanitize_compile), "levels": {}}
        for ext in self.extensions:
            level = ext.name.rsplit("_", 1)[-1] if ext.name != "sepconv._sepconv" else "baseline"
            isa = (MSVC_ISA_FLAGS if msvc else ISA_FLAGS).get(level, [])
            ext.extra_compile_args = base + isa + omp_compile + sanitize_compile
            ext.extra_link_args = omp_link + sanitize_link
            info["levels"][level] = " ".join(ext.extra_compile_args)
        _write_build_info(info, self.build_lib)
        super().build_extensions()


def _write_build_info(info, build_lib):
    """Record how the kernels were built, for sepconv.show_config()."""
    text = ("# Written by setup.py at build time; do not edit.\n"
            f"BUILD_INFO = {info!r}\n")
    for package_dir in (os.path.join(SRC, "sepconv"), os.path.join(build_lib, "sepconv")):
        if os.path.isdir(package_dir):
            with open(os.path.join(package_dir, "_build_info.py"), "w") as handle:
                handle.write(text)


def _extensions():
    from Cython.Build import cythonize

    levels = ["baseline"] + (["avx2", "avx512"] if IS_X86 else [])
    stub_dir = os.path.join(HERE, "build", "isa_stubs")
    os.makedirs(stub_dir, exist_ok=True)
    extensions = [Extension("sepconv._sepconv", [os.path.join("src", "_sepconv.pyx")])]
    for level in levels[1:]:
        # A stub per level: the same kernel source under another module name.
        stub = os.path.join(stub_dir, f"_sepconv_{level}.pyx")
        text = f'include "_sepconv.pyx"\n'
        if not os.path.exists(stub) or open(stub).read() != text:
            with open(stub, "w") as handle:
                handle.write(text)
        extensions.append(Extension(f"sepconv._sepconv_{level}",
                                    [os.path.relpath(stub, HERE)]))
    directives = {
        "language_level": 3,
        "boundscheck": DEBUG,
        "wraparound": DEBUG,
        "initializedcheck": DEBUG,
        "cdivision": True,
        "embedsignature": True,
    }
    return cythonize(extensions, compiler_directives=directives,
                     include_path=[SRC], build_dir=os.path.join("build", "cython-debug" if DEBUG else "cython"),
                     quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
