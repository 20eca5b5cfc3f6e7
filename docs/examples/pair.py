"""PAIR over scif:// between two SCIF nodes: the host (node 0) and a card.

Run ``python3 pair.py host`` on node 0 and ``python3 pair.py card`` on
another node. Without a Xeon Phi, two processes of the same emulated machine
(the same ``SCIF_EMU_DOMAIN``) play the two nodes; see ``pair-python.sh``.
"""

import sys

import zmq

PORT = 5555  # a SCIF port on the host; ports below 1024 need root


def host() -> None:
    with zmq.Context() as ctx, ctx.socket(zmq.PAIR) as sock:
        sock.bind(f"scif://*:{PORT}")  # this node's port PORT
        print("host: bound", sock.getsockopt_string(zmq.LAST_ENDPOINT))
        for i in range(3):
            sock.send_string(f"ping {i}")
            print("host: got", sock.recv_string())
        sock.send_string("bye")


def card() -> None:
    with zmq.Context() as ctx, ctx.socket(zmq.PAIR) as sock:
        sock.connect(f"scif://0:{PORT}")  # node 0 is the host
        while (text := sock.recv_string()) != "bye":
            sock.send_string(f"pong ({text})")
        print("card: done")


if __name__ == "__main__":
    {"host": host, "card": card}[sys.argv[1]]()
