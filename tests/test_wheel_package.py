"""The installed wheel as a Linux package: its manylinux tag and RUNPATHs."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import scif_zmq

WHEEL = os.environ.get("SCIF_ZMQ_WHEEL")


@pytest.mark.skipif(not WHEEL, reason="SCIF_ZMQ_WHEEL names the wheel file (ci/test sets it)")
def test_auditwheel_confirms_the_manylinux_tag() -> None:
    assert WHEEL
    # The platform field may hold several tags: manylinux2014_x86_64.manylinux_2_17_x86_64
    platforms = WHEEL.removesuffix(".whl").rsplit("-", 1)[-1].split(".")
    assert any(re.fullmatch(r"manylinux_\d+_\d+_\w+", p) for p in platforms), WHEEL
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", WHEEL],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    consistent = re.search(r'following platform tag:\s*"([^"]+)"', shown)
    assert consistent, shown
    assert consistent.group(1) in platforms


def runpath(library: Path) -> str:
    dynamic = subprocess.run(
        ["readelf", "-d", str(library)], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[([^\]]*)\]", dynamic)
    assert found, f"{library} has no RUNPATH"
    return found.group(1)


def test_libzmq_finds_libscif_next_to_it() -> None:
    # $ORIGIN: the wheel's libscif.so.0, unless the backend loaded another
    # first (scif_zmq.libscif).
    libdir = Path(scif_zmq.get_library_dir())
    assert (libdir / "libscif.so.0").exists()
    assert "$ORIGIN" in runpath(next(libdir.glob("libzmq.so.5*")))


def test_backend_finds_the_wheels_libzmq() -> None:
    import zmq  # noqa: F401  (pyzmq loads the backend)

    # scif_zmq/backend/pyzmq_X_Y_Z/_zmq*.so -> scif_zmq/lib
    extension = Path(importlib.import_module("scif_zmq.backend")._zmq.__file__ or "")
    assert "$ORIGIN/../../lib" in runpath(extension).split(":")
