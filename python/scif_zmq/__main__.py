"""``python -m scif_zmq``: the same as the ``scif-zmq`` command."""

import sys

from .cli import main

sys.exit(main())
