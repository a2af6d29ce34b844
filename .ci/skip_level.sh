#!/usr/bin/env bash
# A compiler that cannot build a level must not fail the install: the level is
# skipped with a warning and the others are built.  Simulated with a gcc
# wrapper that rejects -mavx512f, building a copy of the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work"
cat > "$work/cc-no-avx512" <<'SH'
#!/bin/sh
for arg in "$@"; do
    [ "$arg" = "-mavx512f" ] && { echo "cc: error: unrecognized option -mavx512f" >&2; exit 1; }
done
exec gcc "$@"
SH
chmod +x "$work/cc-no-avx512"
cd "$work"
python3 -m venv venv
venv/bin/python -m pip install --quiet "Cython>=3.0" "setuptools>=77" "numpy>=2.0"
CC="$work/cc-no-avx512" LDSHARED="$work/cc-no-avx512 -shared" \
    venv/bin/python setup.py -q build_ext --inplace >build.log 2>&1 || { cat build.log; exit 1; }
grep -q "cannot build the avx512 level" build.log || { cat build.log; echo "no warning"; exit 1; }
ls src/sepconv/_sepconv.*.so src/sepconv/_sepconv_avx2.*.so >/dev/null
if ls src/sepconv/_sepconv_avx512.*.so 2>/dev/null; then echo "avx512 was built"; exit 1; fi
grep -q "'skipped': {'avx512'" src/sepconv/_build_info.py
echo "skip-level check: avx512 skipped with a warning, baseline and avx2 built"
