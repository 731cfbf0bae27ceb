"""Stable seeds per partition, so a re-run of a (day, client) draws the same randomness.

Python's ``hash()`` is salted per process, so seeds come from a CRC of the parts instead.
"""

from __future__ import annotations

import zlib
from datetime import date


def partition_seed(world_seed: int, day: date, client: str, purpose: str) -> int:
    """A stable seed per (world seed, day, client, purpose)."""
    return zlib.crc32(f"{world_seed}|{day.isoformat()}|{client}|{purpose}".encode())
