"""Public datasets into the landing contract, without Dagster:

    python -m pixie_assets.convert movielens SRC DEST [--save-threshold 4.0] [--client homefeed]
    python -m pixie_assets.convert hetrec SRC DEST [--client homefeed]

SRC is the unpacked official release, DEST a new or empty folder. ``movielens`` and ``hetrec``
document their mappings; ``common`` the fast writer of the day-partitioned tables.
"""

from pixie_assets.convert.common import ConversionReport, ConvertError
from pixie_assets.convert.hetrec import convert_hetrec
from pixie_assets.convert.movielens import convert_movielens

__all__ = ["ConversionReport", "ConvertError", "convert_hetrec", "convert_movielens"]
