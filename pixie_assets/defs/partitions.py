"""Partitions: days (from PIXIE_START_DAY, UTC) and client surfaces.

Multi-partition keys sort their dimensions by name ("client|day"), so code never builds or parses
the string: use ``day_client_key`` and ``split_day_client``.
"""

from __future__ import annotations

import dagster as dg

from pixie_assets.core.clients import CLIENTS
from pixie_assets.core.settings import get_settings

day_partitions = dg.DailyPartitionsDefinition(
    start_date=get_settings().start_day.isoformat(), timezone="UTC"
)
client_partitions = dg.StaticPartitionsDefinition(list(CLIENTS))
day_client_partitions = dg.MultiPartitionsDefinition(
    {"day": day_partitions, "client": client_partitions}
)


def day_client_key(day: str, client: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"day": day, "client": client})


def split_day_client(partition_key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(day, client) of a day × client partition key."""
    if not isinstance(partition_key, dg.MultiPartitionKey):
        partition_key = day_client_partitions.get_partition_key_from_str(partition_key)
    dims = partition_key.keys_by_dimension
    return dims["day"], dims["client"]


def training_window_mapping(window_days: int) -> dg.MultiPartitionMapping:
    """Day D's model reads days D-N+1..D of the same client (days before the first partition
    simply do not exist yet)."""
    return dg.MultiPartitionMapping(
        {
            "day": dg.DimensionPartitionMapping(
                "day",
                dg.TimeWindowPartitionMapping(
                    start_offset=-(window_days - 1),
                    end_offset=0,
                    allow_nonexistent_upstream_partitions=True,
                ),
            ),
            "client": dg.DimensionPartitionMapping("client", dg.IdentityPartitionMapping()),
        }
    )


def previous_day_mapping() -> dg.MultiPartitionMapping:
    """Day D depends on day D-1 of the same client (the model evaluated on D's logs)."""
    return dg.MultiPartitionMapping(
        {
            "day": dg.DimensionPartitionMapping(
                "day",
                dg.TimeWindowPartitionMapping(
                    start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
                ),
            ),
            "client": dg.DimensionPartitionMapping("client", dg.IdentityPartitionMapping()),
        }
    )
