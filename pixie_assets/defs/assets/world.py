"""Asset ``world``: the embedded synthetic Pinterest, written in the contract's layout."""

import dagster as dg

from pixie_assets.defs.metadata import column_schema, described_check
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.landing import check_footer
from pixie_assets.world import generate_world, write_world
from pixie_assets.world.summary import summarize_world, summary_markdown


@dg.asset(
    group_name="world",
    kinds={"python", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            "contract_schema",
            asset="world",
            blocking=True,
            description="Every world table's file has exactly the contract's columns and types.",
        )
    ],
    description=(
        "Seeded synthetic Pinterest world: users, pins, boards, saves and engagement history "
        "(contract tables, $PIXIE_HOME/world/) plus hidden ground truth ($PIXIE_HOME/truth/) "
        "that only the simulator and the evaluation read. Same seed and scale, same bytes."
    ),
)
def world(context: dg.AssetExecutionContext, pixie: PixieSettings) -> dg.MaterializeResult:
    settings = pixie.resolved()
    if settings.source != "world":
        raise ValueError(
            f"PIXIE_SOURCE={settings.source}: the inputs are your own tables in "
            f"{settings.landing_dir}; the synthetic world is only for PIXIE_SOURCE=world"
        )
    context.log.info(
        f"generating the {settings.world_scale} world (seed {settings.world_seed}), history "
        f"ending before {settings.start_day}"
    )
    generated = generate_world(
        settings.world_scale, settings.world_seed, settings.start_day, progress=context.log.info
    )
    paths = write_world(generated, settings.world_dir, settings.truth_dir)
    summary = summarize_world(generated.tables)
    context.log.info(f"world written to {settings.world_dir}: {summary['rows']}")

    metadata: dict[str, object] = {
        "summary": dg.MetadataValue.md(summary_markdown(summary)),
        "path": dg.MetadataValue.path(str(settings.world_dir)),
        "scale": settings.world_scale,
        "seed": settings.world_seed,
        "mixed_board_share": float(summary["mixed_board_share"]),
        "saves_per_pin_p99": summary["saves_per_pin"]["p99"],
        "top1pct_pins_save_share": summary["saves_per_pin"]["top1pct_share"],
    }
    for name, table in generated.tables.items():
        metadata[f"rows/{name}"] = dg.MetadataValue.int(table.num_rows)
        metadata[f"schema/{name}"] = dg.MetadataValue.table_schema(column_schema(table.schema))
        metadata[f"file/{name}"] = dg.MetadataValue.path(str(paths[name]))
    metadata["dagster/row_count"] = dg.MetadataValue.int(generated.tables["saves"].num_rows)
    problems = [p for name in paths for p in check_footer(paths[name], name, exact=True).problems]
    check = described_check(
        "contract_schema",
        passed=not problems,
        description=_contract_description(
            settings.world_scale, settings.world_seed, len(paths), problems
        ),
        metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


def _contract_description(scale: str, seed: int, tables: int, problems: list[str]) -> str:
    """One line of what contract_schema checked: the world (it has no partition) and the
    outcome, the first problem named when there are any."""
    world_name = f"world {scale} seed {seed}"
    if not problems:
        return f"{world_name}: all {tables} tables have exactly the contract's columns and types"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    found = f"{len(problems)} schema problem(s) in {tables} tables"
    return f"{world_name}: {found}: {problems[0]}{more}"
