"""C/C++ consumers build against the wheel's libzmq (CMake package and pkg-config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import scif_zmq

CONSUMER = Path(__file__).resolve().parent / "consumer"
DEVICE_CHAIN = Path(__file__).resolve().parents[1] / "examples" / "device_chain"

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


def test_cmake_package_names_no_build_path() -> None:
    """The package works once the build tree is gone: libscif is SCIF::scif."""
    cmake_dir = Path(scif_zmq.get_cmake_dir())
    package = cmake_dir.parent
    texts = {path.relative_to(package): path.read_text() for path in package.glob("*/*.cmake")}
    assert {path.parts[0] for path in texts} == {"SCIF", "ZeroMQ"}
    targets = texts[Path("ZeroMQ/ZeroMQTargets.cmake")]
    assert "SCIF::scif" in targets
    for path, text in texts.items():
        assert "libscif.so" not in text or path.parts[0] == "SCIF", path
        # Locations are relative to the installed files, never absolute.
        assert "/build/" not in text, path
        assert str(Path(__file__).resolve().parents[1]) not in text, path


def test_device_chain(tmp_path: Path) -> None:
    """The FairMQ-shaped example runs against the wheel's CMake package."""
    run(
        [
            "cmake",
            "-S",
            str(DEVICE_CHAIN),
            "-B",
            str(tmp_path),
            f"-DZeroMQ_DIR={scif_zmq.get_cmake_dir()}",
        ]
    )
    run(["cmake", "--build", str(tmp_path)])
    output = run([str(tmp_path / "device_chain"), "1K", "1M"]).stdout
    assert "device chain ok" in output
    rows = [
        line.split() for line in output.splitlines() if line.split()[:1] in (["1024"], ["1048576"])
    ]
    assert [row[0] for row in rows] == ["1024", "1048576"]
    assert all(float(row[2]) > 0 for row in rows)


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
