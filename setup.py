"""Build the sepconv kernels.

One Cython source, ``src/kernels/_sepconv.pyx``, is compiled once per instruction-set
level of the *target* architecture (NumPy's dispatch idea).  The levels, their
compiler flags, the macros that tell the source which level it is (vector
width, register blocking) and a compile probe per level are one table,
``src/sepconv/_isa.py``, which ``sepconv.dispatch`` reads at run time too.
On x86-64: ``sepconv._sepconv`` (SSE2 baseline), ``_sepconv_avx2`` and
``_sepconv_avx512``; on aarch64 the NEON baseline; elsewhere a portable
baseline.  A level whose probe the compiler cannot build is skipped with a
warning, never a failed install (the baseline is always built).

The target is what is being built *for*, not the build host: see
``build_target`` in the table (``SEPCONV_TARGET_ARCH``, macOS ``ARCHFLAGS``,
an MSVC cross-compiler's ``VSCMD_ARG_TGT_ARCH``, ``_PYTHON_HOST_PLATFORM``).

Build-time switches (environment variables):

* ``SEPCONV_NATIVE=1``  add ``-march=native`` (local builds only, never wheels)
* ``SEPCONV_DEBUG=1``   Cython bounds/wraparound checks on, ``-O1 -g``,
  AddressSanitizer + UndefinedBehaviorSanitizer where the compiler has them,
  scratch memory poisoned with NaN and tile invariants asserted in the kernels
* ``SEPCONV_NO_OPENMP=1`` build serial even when OpenMP is available

OpenMP is detected by compiling and linking a tiny program; without it the
build succeeds, serial, with a warning.  On macOS Apple's clang has no
OpenMP runtime of its own: libomp is looked for where Homebrew puts it
(``brew --prefix libomp``, /opt/homebrew/opt/libomp, /usr/local/opt/libomp).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
KERNELS = os.path.join(SRC, "kernels")


def _load_isa_table():
    # By path: the package itself cannot be imported before it is built.
    spec = importlib.util.spec_from_file_location(
        "_sepconv_isa_table", os.path.join(SRC, "sepconv", "_isa.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ISA = _load_isa_table()


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


DEBUG = _flag("SEPCONV_DEBUG")
NATIVE = _flag("SEPCONV_NATIVE")
NO_OPENMP = _flag("SEPCONV_NO_OPENMP")


TARGET_ARCH = ISA.build_target(os.environ, sys.platform, sysconfig.get_platform())
TARGET_LEVELS = ISA.levels_for(TARGET_ARCH)


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


def _homebrew_libomp():
    """Prefix of Homebrew's libomp (Apple's clang ships no OpenMP runtime), or None."""
    candidates = []
    brew = shutil.which("brew")
    if brew:
        try:
            found = subprocess.run([brew, "--prefix", "libomp"], capture_output=True,
                                   text=True, timeout=60)
            if found.returncode == 0 and found.stdout.strip():
                candidates.append(found.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += ["/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"]
    for prefix in candidates:
        if os.path.exists(os.path.join(prefix, "include", "omp.h")):
            return prefix
    return None


def _openmp_flags(compiler):
    """(compile, link) flags for OpenMP with this compiler, or None without it."""
    if NO_OPENMP:
        return None
    if compiler.compiler_type == "msvc":
        options = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        options = [(["-fopenmp"], ["-fopenmp"])]  # gcc, or an LLVM clang with its libomp
        prefix = _homebrew_libomp()
        if prefix:
            options.insert(0, (["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                               [f"-L{prefix}/lib", "-lomp", f"-Wl,-rpath,{prefix}/lib"]))
    else:
        options = [(["-fopenmp"], ["-fopenmp"])]
    for compile_flags, link_flags in options:
        if _try_compile(compiler, OPENMP_PROBE, compile_flags, link_flags):
            return compile_flags, link_flags
    return None


class BuildExt(build_ext):
    """Add OpenMP, ISA and debug flags once the compiler is known; skip levels
    the compiler cannot build."""

    def finalize_options(self):
        super().finalize_options()
        if DEBUG:  # never mix objects of the debug and release builds
            self.build_temp = self.build_temp + "-debug"

    def build_extensions(self):
        compiler = self.compiler
        msvc = compiler.compiler_type == "msvc"
        openmp = _openmp_flags(compiler)
        if openmp is None:
            omp_compile, omp_link = [], []
            hint = (" On macOS: brew install libomp." if sys.platform == "darwin" else "")
            warnings.warn("sepconv: OpenMP not found (or disabled); the kernels are built "
                          "serial." + hint)
        else:
            omp_compile, omp_link = openmp

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
            base = ["-O1", "-g"] if DEBUG else ["-O3", "-g0"]
            base += ["-fno-math-errno", "-Wno-unused-function", "-Wno-unreachable-code"]
            if NATIVE:
                base.append("-march=native")

        info = {"compiler": " ".join(getattr(compiler, "compiler_so", None) or
                                     [compiler.compiler_type]),
                "target": TARGET_ARCH, "openmp": openmp is not None, "debug": DEBUG,
                "native": NATIVE, "sanitizers": bool(sanitize_compile), "levels": {},
                "skipped": {}}
        # Release builds carry no debug info (Python's own CFLAGS add -g): about
        # 0.35 MB a module instead of 1.8 MB.  The symbol table stays, so
        # profilers still name the kernels.
        strip = []
        if not DEBUG and not msvc and sys.platform.startswith("linux") and _try_compile(
                compiler, PLAIN_PROBE, [], ["-Wl,--strip-debug"]):
            strip = ["-Wl,--strip-debug"]
        levels = {level.module: level for level in TARGET_LEVELS}
        built = []
        for ext in self.extensions:
            level = levels[ext.name]
            isa_flags = list(level.msvc_flags if msvc else level.gcc_flags)
            if level.name != "baseline" and not _try_compile(
                    compiler, level.probe, base + isa_flags, []):
                warnings.warn(f"sepconv: the compiler cannot build the {level.name} level "
                              f"({' '.join(isa_flags)}); skipping it. The other levels "
                              f"still run.")
                info["skipped"][level.name] = " ".join(isa_flags)
                continue
            ext.define_macros = (NUMPY_MACROS + level.macros()
                                 + [("SEPCONV_DEBUG", "1" if DEBUG else "0")])
            ext.extra_compile_args = base + isa_flags + omp_compile + sanitize_compile
            ext.extra_link_args = omp_link + sanitize_link + strip
            info["levels"][level.name] = " ".join(ext.extra_compile_args)
            built.append(ext)
        self.extensions[:] = built
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


# The kernels use NumPy's C API for the bound entry points (no deprecated API),
# targeting NumPy 1.23, the oldest release the package supports at run time.
NUMPY_MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                ("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION")]


def _extensions():
    import numpy
    from Cython.Build import cythonize

    stub_dir = os.path.join(HERE, "build", "isa_stubs")
    os.makedirs(stub_dir, exist_ok=True)
    extensions = []
    for level in TARGET_LEVELS:
        if level.name == "baseline":
            extensions.append(Extension(level.module,
                                        [os.path.join("src", "kernels", "_sepconv.pyx")],
                                        include_dirs=[KERNELS, numpy.get_include()],
                                        define_macros=NUMPY_MACROS))
            continue
        # A stub per level: the same kernel source under another module name.
        stub = os.path.join(stub_dir, level.module.rsplit(".", 1)[-1] + ".pyx")
        text = 'include "_sepconv.pyx"\n'
        if not os.path.exists(stub) or open(stub).read() != text:
            with open(stub, "w") as handle:
                handle.write(text)
        extensions.append(Extension(level.module, [os.path.relpath(stub, HERE)],
                                    include_dirs=[KERNELS, numpy.get_include()],
                                    define_macros=NUMPY_MACROS))
    directives = {
        "language_level": 3,
        "boundscheck": DEBUG,
        "wraparound": DEBUG,
        "initializedcheck": DEBUG,
        "cdivision": True,
        "embedsignature": True,
    }
    return cythonize(extensions, compiler_directives=directives,
                     include_path=[KERNELS], build_dir=os.path.join("build", "cython-debug" if DEBUG else "cython"),
                     quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
