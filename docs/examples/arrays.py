"""NumPy arrays over scif://, without copies the application can avoid.

The host sends float64 arrays; the card receives them with ``copy=False``,
views each as an array with ``np.frombuffer`` and keeps every one, as code
that collects results does. Run ``python3 arrays.py host`` on node 0 and
``python3 arrays.py card`` on another node; see ``arrays.sh``.
"""

import sys

import numpy as np
import zmq

PORT = 5556
COUNT = 8
LENGTH = 2_000_000  # 16 MB per array: large messages go by RMA


def host() -> None:
    with zmq.Context() as ctx, ctx.socket(zmq.PUSH) as sock:
        sock.bind(f"scif://*:{PORT}")
        for i in range(COUNT):
            # A new array per message: with copy=False, libzmq sends from
            # the array's memory after send() returns; it must not change.
            array = np.full(LENGTH, float(i))
            sock.send(array, copy=False)
    # Leaving the with-block closes the socket and terminates the context:
    # that waits until every queued message has gone (linger).
    print("host: sent", COUNT, "arrays")


def card() -> None:
    kept = []
    with zmq.Context() as ctx, ctx.socket(zmq.PULL) as sock:
        sock.connect(f"scif://0:{PORT}")
        for _ in range(COUNT):
            frame = sock.recv(copy=False)
            # A view of the message's memory, no copy; it keeps the message
            # alive as long as the array lives, after the socket is gone.
            kept.append(np.frombuffer(frame.buffer, dtype=np.float64))
    print("card: kept", len(kept), "arrays, sums", [int(a.sum()) // LENGTH for a in kept])


if __name__ == "__main__":
    {"host": host, "card": card}[sys.argv[1]]()
