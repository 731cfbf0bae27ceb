"""Pin–board graph (CSR both ways, pruned, memory-mapped) and Pixie random walks over it.

Pure domain code: numpy/numba/pandas only, no Dagster. See docs/architecture.md §4.
"""

from pixie_assets.graph.build import (
    PruneConfig,
    PruneReport,
    build_pin_board_graph,
    graph_from_index_edges,
)
from pixie_assets.graph.store import (
    PinBoardGraph,
    cached_graph,
    load_graph,
    read_graph_meta,
    save_graph,
)
from pixie_assets.graph.walks import (
    RESULT_COLUMNS,
    WalkParams,
    WalkRequest,
    allocate_steps,
    multi_hit_boost,
    pixie_batch,
    pixie_query,
)

__all__ = [
    "RESULT_COLUMNS",
    "PinBoardGraph",
    "PruneConfig",
    "PruneReport",
    "WalkParams",
    "WalkRequest",
    "allocate_steps",
    "build_pin_board_graph",
    "cached_graph",
    "graph_from_index_edges",
    "load_graph",
    "multi_hit_boost",
    "pixie_batch",
    "pixie_query",
    "read_graph_meta",
    "save_graph",
]
