#!/bin/sh
# The arrays example on two emulated SCIF nodes of a private machine.
set -e
export SCIF_EMU_DOMAIN=arrays-$$
SCIF_EMU_NODE=0 python3 arrays.py host &
SCIF_EMU_NODE=1 python3 arrays.py card
wait $!
