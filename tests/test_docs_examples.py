"""The Quickstart's examples (docs/examples/) run as the documentation shows them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"

EXPECTED = [
    "host: bound scif://0:5555",
    "host: got pong (ping 0)",
    "host: got pong (ping 1)",
    "host: got pong (ping 2)",
    "card: done",
]


def run_script(script: str, workdir: Path) -> list[str]:
    """Run a docs/examples shell script in a copy of the examples directory.

    The scripts call ``python3``, ``scif-zmq`` and ``cc`` by name, as a reader
    would in an activated venv: this interpreter's bin directory comes first.
    """
    shutil.copytree(EXAMPLES, workdir, dirs_exist_ok=True)
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("SCIF_EMU_DOMAIN", "SCIF_EMU_NODE", "SCIF_EMU_NODES"):
        env.pop(name, None)  # the scripts set up their own emulated machine
    result = subprocess.run(
        ["sh", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout.splitlines()


def test_python_pair_across_two_nodes(tmp_path: Path) -> None:
    assert sorted(run_script("pair-python.sh", tmp_path)) == sorted(EXPECTED)


def test_c_pair_across_two_nodes(tmp_path: Path) -> None:
    assert sorted(run_script("pair-c.sh", tmp_path)) == sorted(EXPECTED)
    assert (tmp_path / "pair").is_file()  # compiled against the wheel's zmq.h and libzmq


def test_numpy_arrays_kept_by_the_receiver(tmp_path: Path) -> None:
    assert sorted(run_script("arrays.sh", tmp_path)) == [
        "card: kept 8 arrays, sums [0, 1, 2, 3, 4, 5, 6, 7]",
        "host: sent 8 arrays",
    ]
