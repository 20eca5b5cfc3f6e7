"""Message sizes as written on command lines: 64, 1024, 1K, 1KiB, 64k, 1M, 16MiB.

Imports nothing of the package, so that ``ci/bench`` can load it on its own.
"""

from __future__ import annotations

import argparse
import re


def parse_size(text: str, largest: int) -> int:
    """The bytes *text* names; ``argparse.ArgumentTypeError`` if unreadable or
    outside 1 B .. *largest*."""
    found = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)(?:i?B)?\s*", text)
    if not found:
        raise argparse.ArgumentTypeError(f"not a message size: {text!r} (e.g. 64, 1K, 1MiB)")
    size = int(found.group(1)) << {"": 0, "k": 10, "m": 20}[found.group(2).lower()]
    if not 1 <= size <= largest:
        raise argparse.ArgumentTypeError(
            f"message size out of range (1 B .. {largest >> 20} MiB): {text!r}"
        )
    return size
