# Shared settings and helpers for the ci/ scripts; sourced, never run.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SCIF_ZMQ_BUILD_DIR:-$ROOT/build}
PATCHES=${SCIF_ZMQ_PATCHES_DIR:-$ROOT/patches/scif}
# Upstream fixes that v4.3.4 alone needs to build here (e.g. with zig's
# libc++): applied under the series, never part of the pull request.
BASE_FIXES=$ROOT/patches/v4.3.4
# The git checkout of v4.3.4 with the series applied: the source the build uses.
CHECKOUT=$BUILD/libzmq-scif

LIBZMQ_TAG=v4.3.4
# v4.3.4 with BASE_FIXES: what the series applies to.
SERIES_BASE=v4.3.4-base-fixes
LIBZMQ_COMMIT=4097855ddaaa65ed7b5e8cb86d143842a594eebd
DEBIAN_SOURCE=zeromq3=4.3.4-6
TARBALL_NAME=zeromq3_4.3.4.orig.tar.gz
TARBALL_SHA256=0ff5a531c9ffaf0dfdc7dc78d13d1383088f454896d252934c429b2554d10559

# format-patch flags shared by export and drift checks, so both produce the same bytes.
FORMAT_PATCH_FLAGS=(--no-signature --zero-commit --no-numbered-files)

say() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() {
    printf '[%s] error: %s\n' "$(basename "$0")" "$*" >&2
    exit 1
}

# Installs the Debian packages among "$@" that are missing.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    say "installing system packages: ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "need root to apt-get install ${missing[*]}"
    apt-get -q update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "${missing[@]}" >/dev/null
}

# The interpreter of CPython X.Y ($1): pyenv's, else pythonX.Y on PATH (a
# pyenv shim on PATH may refuse to run a version that is not selected).
find_python() {
    local candidate
    for candidate in \
        $(find "${PYENV_ROOT:-$HOME/.pyenv}/versions" -maxdepth 3 -path "*/versions/$1.*/bin/python$1" 2>/dev/null | sort -rV) \
        "$(command -v "python$1" 2>/dev/null)"; do
        if [ -n "$candidate" ] && "$candidate" -c 'pass' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    die "no CPython $1 here (under pyenv or as python$1 on PATH)"
}

# git with an identity of its own, so that the scripts work on machines with none set.
ci_git() {
    git -c user.name="scif-zmq ci" -c user.email="ci@scif-zmq.invalid" \
        -c advice.detachedHead=false "$@"
}

# The test programs a patch (file $1) adds or changes, if it is a fix to
# libzmq's core: no path it touches and no line it adds names scif (the rule
# of ci/pr_kit.py's core_fixes). Its tests must fail without it.
core_fix_tests() {
    # grep reads everything: with -q, pipefail would see sed's SIGPIPE.
    if sed -n '/^diff --git/,$p' "$1" | grep -E '^(diff --git|\+)' | grep -i scif >/dev/null; then
        return 0
    fi
    grep -E '^\+\+\+ b/(tests|unittests)/[a-z0-9_]+\.cpp$' "$1" | sed -E 's|.*/([a-z0-9_]+)\.cpp$|\1|'
}

# Runs the test programs "${@:3}" of bin directory $1; succeeds if every one
# exits as $2 says (pass, or fail: at least one test case fails).
tests_exit_as() {
    local bin=$1 want=$2 name rc
    shift 2
    for name in "$@"; do
        rc=0
        # The shell's own report of a crash ("Aborted") goes with the output.
        { (cd "$bin" && timeout 300 "./$name") >"$bin/$name.out" 2>&1; } 2>>"$bin/$name.out" || rc=$?
        if { [ "$want" = pass ] && [ $rc != 0 ]; } || { [ "$want" = fail ] && [ $rc = 0 ]; }; then
            say "$name: expected to $want, exit status $rc (output: $bin/$name.out)"
            return 1
        fi
    done
}
