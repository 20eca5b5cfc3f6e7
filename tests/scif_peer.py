"""Run code as another emulated SCIF node, in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def spawn(code: str, node: int = 1, **env: str) -> subprocess.Popen[str]:
    """Start ``python -c code`` as node *node* of the current SCIF_EMU_DOMAIN.

    The code runs with ``zmq`` imported; its stdout is captured for the test.
    """
    source = "import zmq\n" + textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", source],
        env={**os.environ, "SCIF_EMU_NODE": str(node), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """Wait for a peer; fail with its stderr if it did not exit cleanly."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"peer exited with {proc.returncode}:\n{err}"
    return out
