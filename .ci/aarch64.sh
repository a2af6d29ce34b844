#!/usr/bin/env bash
# Build sepconv for aarch64 and run its kernel tests under qemu-user.
#
# An arm64 Debian is bootstrapped into a folder once (binfmt_misc runs its
# binaries through qemu-aarch64-static), with Python, gcc, NumPy, Cython,
# pytest, hypothesis and h5py from Debian's arm64 packages.  The package
# is then built there from a copy of this tree and the test suite runs (all
# but the pure-Python files, below), at the one level an arm64 build has (NEON
# is part of the aarch64 baseline).
#
#   bash .ci/aarch64.sh            # everything
#   SEPCONV_ARM64_ROOT=/some/dir   # where the chroot lives (kept between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
RELEASE="${SEPCONV_ARM64_RELEASE:-trixie}"
ROOT="${SEPCONV_ARM64_ROOT:-/var/cache/sepconv/arm64-$RELEASE}"
PACKAGES="python3,python3-dev,python3-venv,python3-numpy,python3-setuptools,cython3,\
python3-pytest,python3-hypothesis,python3-threadpoolctl,gcc,libc6-dev,libgomp1"
# Test extras, installed after the bootstrap (a chroot made before they were
# listed gets them added).
EXTRAS="python3-h5py"

log() { printf '[aarch64 %(%H:%M:%S)T] %s\n' -1 "$*"; }

if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
    log "installing qemu-user-static, binfmt-support, debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq qemu-user-static binfmt-support debootstrap >/dev/null
fi
# binfmt_misc lets the kernel hand arm64 binaries to qemu.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64 || update-binfmts --import qemu-aarch64
fi

if [ ! -e "$ROOT/.sepconv-ready" ]; then
    log "bootstrapping arm64 Debian $RELEASE into $ROOT"
    rm -rf "$ROOT"
    mkdir -p "$ROOT"
    debootstrap --arch=arm64 --variant=minbase --include="$PACKAGES" \
        "$RELEASE" "$ROOT" http://deb.debian.org/debian >"$ROOT.log" 2>&1 \
        || { tail -30 "$ROOT.log"; exit 1; }
    touch "$ROOT/.sepconv-ready"
fi
[ "$(chroot "$ROOT" /usr/bin/uname -m)" = aarch64 ] || { echo "the chroot is not aarch64"; exit 1; }
# shellcheck disable=SC2086
if ! chroot "$ROOT" dpkg -s $EXTRAS >/dev/null 2>&1; then
    log "installing $EXTRAS in the chroot"
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
    chroot "$ROOT" /bin/bash -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq \
        && apt-get install -y -qq --no-install-recommends $EXTRAS >/dev/null"
fi

# A fresh copy of the tree (tracked and untracked files, no build outputs).
log "copying the tree"
rm -rf "$ROOT/src-sepconv"
mkdir -p "$ROOT/src-sepconv"
git ls-files -co --exclude-standard -z | grep -zv '^\.ci/' \
    | tar --null -T - -cf - | tar -xf - -C "$ROOT/src-sepconv"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc" 2>/dev/null || true' EXIT

log "building under qemu"
chroot "$ROOT" /bin/bash -euc '
    cd /src-sepconv
    python3 -m venv --system-site-packages /venv
    /venv/bin/python -m pip install --quiet --no-build-isolation --no-deps --no-index . 
    cd /
    /venv/bin/python -m sepconv info
'
# The suite minus the files that test only Python and NumPy code, which no
# level changes and the x86-64 stages run in full: Dask's graph, NumPy's
# activations, initializers, the Keras file parser, pickling, the command line
# and bench scripts (under qemu they took 640 s of the suite's 2,335).  Fewer
# hypothesis examples too (the streaming test's 1,000 took 212 s).
log "the test suite under qemu"
chroot "$ROOT" /bin/bash -euc '
    cd /src-sepconv
    export SEPCONV_FUZZ_EXAMPLES=${SEPCONV_FUZZ_EXAMPLES:-100}
    export SEPCONV_STREAM_EXAMPLES=${SEPCONV_STREAM_EXAMPLES:-200}
    /venv/bin/python -m pytest -q -p no:cacheprovider --import-mode=append \
        --ignore=tests/test_dask.py --ignore=tests/test_activations.py \
        --ignore=tests/test_initializers.py --ignore=tests/test_keras_hostile.py \
        --ignore=tests/test_pickle.py --ignore=tests/test_cli.py
'
log "done"
