"""Sphinx configuration of the scif-zmq documentation (built by ci/docs)."""

import sys
from pathlib import Path

import scif_zmq

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "scif-zmq"
author = "scif-zmq developers"
copyright = "scif-zmq developers, MPL-2.0"
release = version = scif_zmq.__version__

extensions = [
    "sphinx.ext.autodoc",
    "myst_parser",
    "scif_docs",  # docs/_ext: CLI help, man page, checks
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# _generated/ and rma.rst are included by other pages, examples/ by literalinclude.
exclude_patterns = ["_build", "_generated", "examples", "rma.rst"]

html_theme = "furo"
html_title = f"scif-zmq {release}"
pygments_style = "sphinx"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
myst_heading_anchors = 3
# Quotes and ellipses only: "--with-scif" must not become an en dash.
smartquotes_action = "qe"
# ci/bench's machine.md and bench.md may start at any heading level; they are
# shifted under the Performance page's sections, and a skipped level is fine.
suppress_warnings = ["myst.header"]
