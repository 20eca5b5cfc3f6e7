"""ZeroMQ over SCIF: pyzmq with a ``scif://`` transport, no code change.

Installing the ``scif-zmq`` wheel puts ``scif_zmq-backend.pth`` in
site-packages; at interpreter start-up it sets ``PYZMQ_BACKEND`` to
``scif_zmq.backend`` unless ``PYZMQ_BACKEND`` is already set or
``SCIF_ZMQ_AUTO_BACKEND=0``. pyzmq then uses its own Cython backend compiled
against this wheel's libzmq (built with ``ZMQ_HAVE_SCIF``). The backend
first loads the ``libscif.so.0`` that libzmq gets: Intel MPSS's where the
SCIF driver is, else the bundled emulation (see :mod:`scif_zmq.libscif`),
and refuses a malformed ``SCIF_EMU_*`` environment by name.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Final

__version__ = metadata.version("scif-zmq")
BACKEND = "scif_zmq.backend"

# The scif:// transport's socket options (DRAFT in libzmq, which this wheel's
# libzmq is built with): pass them to Socket.setsockopt/getsockopt, which hand
# option numbers pyzmq does not know to libzmq as ints. Bytes; see the docs'
# "RMA large-message path".
SCIF_RMA_THRESHOLD: Final = 125
SCIF_RMA_WINDOW: Final = 126
SCIF_RMA_MEMORY: Final = 127

_PACKAGE = Path(__file__).resolve().parent


def get_include() -> str:
    """Directory holding ``zmq.h`` and ``scif.h`` for C/C++ consumers."""
    return str(_PACKAGE / "include")


def get_library_dir() -> str:
    """Directory holding ``libzmq.so`` and ``libscif.so.0``."""
    return str(_PACKAGE / "lib")


def get_cmake_dir() -> str:
    """Directory for ``find_package(ZeroMQ CONFIG)`` (pass it as ``ZeroMQ_DIR``)."""
    return str(_PACKAGE / "lib" / "cmake" / "ZeroMQ")


def get_pkgconfig_dir() -> str:
    """Directory holding ``libzmq.pc`` (add it to ``PKG_CONFIG_PATH``)."""
    return str(_PACKAGE / "lib" / "pkgconfig")


def loaded_library(stem: str) -> str | None:
    """Path of the shared library whose file name starts with *stem* in this process."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split(maxsplit=5)[-1].strip()
            if Path(path).name.startswith(stem):
                return path
    return None


def backend_in_use() -> str:
    """Module of the pyzmq backend that ``import zmq`` selected."""
    import zmq.backend

    package = zmq.backend.Context.__module__.rpartition(".")[0]
    # Ours lives in a subpackage per pyzmq version (scif_zmq.backend.pyzmq_X_Y_Z).
    return BACKEND if package.startswith(BACKEND + ".") else package


def scif_nodes() -> tuple[int, list[int]]:
    """This node's id and the ids of the online nodes, from the loaded libscif."""
    import zmq  # noqa: F401  (loads libzmq and so libscif)

    path = loaded_library("libscif.so")
    if path is None:
        raise RuntimeError("libscif is not loaded: this libzmq was built without scif://")
    lib = ctypes.CDLL(path, use_errno=True)
    nodes = (ctypes.c_uint16 * 256)()
    self_node = ctypes.c_uint16()
    online = lib.scif_get_nodeIDs(nodes, len(nodes), ctypes.byref(self_node))
    if online < 0:
        from . import libscif

        error = ctypes.get_errno()
        raise OSError(error, libscif.environment_problem() or "scif_get_nodeIDs failed")
    return self_node.value, list(nodes[: min(online, len(nodes))])


@contextlib.contextmanager
def private_domain(purpose: str) -> Iterator[str]:
    """An emulated SCIF machine of its own for one run, removed afterwards.

    Sets ``SCIF_EMU_DOMAIN`` to a fresh directory only this user can enter,
    unless the caller chose a domain already: that one is used and kept.
    """
    chosen = os.environ.get("SCIF_EMU_DOMAIN")
    if chosen:
        yield chosen
        return
    # Under /tmp: libscif's socket paths must stay short.
    with tempfile.TemporaryDirectory(prefix=f"scif-{purpose}-", dir="/tmp") as domain:
        os.environ["SCIF_EMU_DOMAIN"] = domain
        try:
            yield domain
        finally:
            del os.environ["SCIF_EMU_DOMAIN"]
