#!/bin/sh
# Two emulated SCIF nodes on one machine: the same SCIF_EMU_DOMAIN (a private
# "machine"), node 0 for the host side and node 1 for the card side.
set -e
export SCIF_EMU_DOMAIN=quickstart-$$
SCIF_EMU_NODE=0 python3 pair.py host &
SCIF_EMU_NODE=1 python3 pair.py card
wait $!
