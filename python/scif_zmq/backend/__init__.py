"""pyzmq's Cython backend, compiled against the scif-enabled libzmq of this wheel.

pyzmq loads it when ``PYZMQ_BACKEND=scif_zmq.backend``, which the wheel sets
by default at interpreter start-up (see :mod:`scif_zmq`). The libscif it uses
is chosen first (see :mod:`scif_zmq.libscif`).

The wheel holds the backend compiled from each supported pyzmq's sources, as
subpackage ``pyzmq_X_Y_Z``: a backend is tied to the pyzmq it comes from, so
the one of the installed pyzmq is imported.
"""

import pkgutil
from importlib import import_module, metadata

from .. import libscif

PREFIX = "pyzmq_"


def supported_versions() -> list[str]:
    """The pyzmq versions this wheel has a backend for."""
    return sorted(
        (
            module.name.removeprefix(PREFIX).replace("_", ".")
            for module in pkgutil.iter_modules(__path__)
            if module.ispkg and module.name.startswith(PREFIX)
        ),
        key=lambda version: tuple(int(part) for part in version.split(".")),
    )


PYZMQ_VERSION = metadata.version("pyzmq")
if PYZMQ_VERSION not in (_supported := supported_versions()):
    raise ImportError(
        f"scif_zmq.backend: pyzmq {PYZMQ_VERSION} is installed, but this scif-zmq has a backend "
        f"for pyzmq {' and '.join(_supported)} only: install one of them "
        f"(pip install pyzmq=={_supported[-1]})"
    )

# Before libzmq is loaded, so that it gets the chosen libscif.so.0.
try:
    libscif.load()
except (libscif.SelectionError, OSError) as error:
    raise ImportError(f"scif_zmq.backend: {error}") from error
# A malformed emulated machine fails here, by name, rather than as a bare
# EINVAL on bind or a connect that never completes.
if problem := libscif.environment_problem():
    raise ImportError(f"scif_zmq.backend: {problem}")

_zmq = import_module(f"{__name__}.{PREFIX}{PYZMQ_VERSION.replace('.', '_')}._zmq")
# What pyzmq's own zmq.backend.cython exports.
globals().update({name: getattr(_zmq, name) for name in _zmq.__all__})
monitored_queue = _zmq.monitored_queue
Message = _zmq.Frame

__all__ = ["Message", *_zmq.__all__]
