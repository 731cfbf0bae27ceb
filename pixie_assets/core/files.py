"""Writing folders of files so that readers never see half of them.

Everything is written into a hidden sibling folder that replaces the target only once complete;
on failure the target is left as it was. Hidden names (a leading dot) keep half-written folders
out of every glob such as ``day=*/client=*``.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_SIZE = 1 << 20


def write_parquet(table: pa.Table, path: Path) -> None:
    """Deterministic Parquet: fixed compression and row groups, no pandas metadata, so the same
    table gives the same bytes."""
    pq.write_table(
        table, path, compression="zstd", row_group_size=ROW_GROUP_SIZE, write_statistics=True
    )


def replace_directory(staged: Path, final: Path) -> None:
    """Swap a fully written folder into place; the old one is removed only after the swap."""
    retired = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    if final.exists():
        final.rename(retired)
    staged.rename(final)
    shutil.rmtree(retired, ignore_errors=True)


@contextmanager
def staged_directory(final: Path) -> Iterator[Path]:
    """An empty folder to write into; it becomes ``final`` when the block succeeds and is
    discarded when it fails."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.with_name(f".{final.name}.staging-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_directory(staging, final)
