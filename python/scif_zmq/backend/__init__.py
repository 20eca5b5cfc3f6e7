"""pyzmq's Cython backend, compiled against the scif-enabled libzmq of this wheel.

pyzmq loads it when ``PYZMQ_BACKEND=scif_zmq.backend``, which the wheel sets
by default at interpreter start-up (see :mod:`scif_zmq`). The libscif it uses
is chosen first (see :mod:`scif_zmq.libscif`).
"""

from .. import libscif

# Before libzmq is loaded, so that it gets the chosen libscif.so.0.
try:
    libscif.load()
except (libscif.SelectionError, OSError) as error:
    raise ImportError(f"scif_zmq.backend: {error}") from error
# A malformed emulated machine fails here, by name, rather than as a bare
# EINVAL on bind or a connect that never completes.
if problem := libscif.environment_problem():
    raise ImportError(f"scif_zmq.backend: {problem}")

from . import _zmq  # type: ignore[attr-defined]
from ._zmq import *  # type: ignore[attr-defined] # noqa: F403
from ._zmq import monitored_queue  # type: ignore[attr-defined] # noqa: F401

Message = _zmq.Frame

__all__ = ["Message", *_zmq.__all__]
