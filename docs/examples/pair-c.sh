#!/bin/sh
# Compile pair.c against the libzmq of the installed scif-zmq wheel, then run
# it as two emulated SCIF nodes (node 0: host, node 1: card).
set -e
libdir=$(scif-zmq paths libdir)
cc -std=c99 -Wall pair.c -o pair -I"$(scif-zmq paths includedir)" \
    -L"$libdir" -Wl,-rpath,"$libdir" -lzmq
export SCIF_EMU_DOMAIN=quickstart-$$
SCIF_EMU_NODE=0 ./pair host &
SCIF_EMU_NODE=1 ./pair card
wait $!
