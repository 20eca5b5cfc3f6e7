"""C/C++ consumers build against the wheel's libzmq (CMake package and pkg-config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import scif_zmq

CONSUMER = Path(__file__).resolve().parent / "consumer"

pytestmark = pytest.mark.usefixtures("scif_domain")


def run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stdout}\n{result.stderr}"
    return result


def test_paths_point_into_the_wheel() -> None:
    assert (Path(scif_zmq.get_include()) / "zmq.h").is_file()
    assert (Path(scif_zmq.get_library_dir()) / "libzmq.so").exists()
    assert (Path(scif_zmq.get_library_dir()) / "libscif.so.0").exists()
    assert (Path(scif_zmq.get_cmake_dir()) / "ZeroMQConfig.cmake").is_file()
    assert (Path(scif_zmq.get_pkgconfig_dir()) / "libzmq.pc").is_file()
    cli = run([sys.executable, "-m", "scif_zmq", "paths", "cmakedir"])
    assert cli.stdout.strip() == scif_zmq.get_cmake_dir()


def test_cmake_package(tmp_path: Path) -> None:
    run(
        [
            "cmake",
            "-S",
            str(CONSUMER),
            "-B",
            str(tmp_path),
            f"-DZeroMQ_DIR={scif_zmq.get_cmake_dir()}",
        ]
    )
    run(["cmake", "--build", str(tmp_path)])
    assert "scif:// PAIR ok via scif://0:" in run([str(tmp_path / "consumer")]).stdout


def test_pkg_config(tmp_path: Path) -> None:
    flags = run(
        ["pkg-config", "--cflags", "--libs", "libzmq"],
        PKG_CONFIG_PATH=scif_zmq.get_pkgconfig_dir(),
    ).stdout.split()
    library_dirs = {Path(f[2:]).resolve() for f in flags if f.startswith("-L")}
    assert library_dirs == {Path(scif_zmq.get_library_dir()).resolve()}
    binary = tmp_path / "consumer"
    run(
        [
            "c++",
            str(CONSUMER / "consumer.cpp"),
            "-o",
            str(binary),
            *flags,
            f"-Wl,-rpath,{scif_zmq.get_library_dir()}",
        ]
    )
    assert "scif:// PAIR ok via scif://0:" in run([str(binary)]).stdout
