"""pyzmq's Cython backend, compiled against the scif-enabled libzmq of this wheel.

pyzmq loads it when ``PYZMQ_BACKEND=scif_zmq.backend``, which the wheel sets
by default at interpreter start-up (see :mod:`scif_zmq`).
"""

from . import _zmq  # type: ignore[attr-defined]
from ._zmq import *  # type: ignore[attr-defined] # noqa: F403
from ._zmq import monitored_queue  # type: ignore[attr-defined] # noqa: F401

Message = _zmq.Frame

__all__ = ["Message", *_zmq.__all__]
