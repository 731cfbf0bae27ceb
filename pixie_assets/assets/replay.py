"""Assets ``replay_model`` and ``replay_evaluation``: Pixie and the lightweight ranker replayed on
a test window of the user's own history (``PIXIE_SOURCE=replay``; see ``pixie_assets.replay``).

The window is run config (``ReplayConfig``), not a partition: people pick evaluation windows
freely (a week, a holiday, a month), of any length, possibly overlapping, and a partition set
would have to list them in the code location first. Results are written per window under
``$PIXIE_HOME/replay/<start>_<end>/`` and shown as asset metadata, so the UI's materialization
history is the history of replays. ``replay_job`` asks for the window once and passes it to both.
"""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
from pydantic import Field

from pixie_assets.replay import (
    RANKERS,
    ReplayParams,
    ReplaySources,
    ReplayWindow,
    evaluate_replay,
    load_model,
    results_markdown,
    save_model,
    train_replay_model,
)
from pixie_assets.resources import PixieSettings
from pixie_assets.settings import Settings
from pixie_assets.sources import landing_root, read_table


class ReplayConfig(dg.Config):
    """The test window (both days included) and how candidates are generated."""

    test_start: str = Field(description="First day of the test window, YYYY-MM-DD.")
    test_end: str = Field(description="Last day of the test window, YYYY-MM-DD (included).")
    candidates_k: int = Field(default=1000, description="K: candidates kept per request.")
    seed: int = Field(default=0, description="Seed of the walks, sampling and XGBoost.")

    def window(self) -> ReplayWindow:
        return ReplayWindow.parse(self.test_start, self.test_end)

    def params(self) -> ReplayParams:
        return ReplayParams(candidates_k=self.candidates_k, seed=self.seed)


def replay_dir(settings: Settings, window: ReplayWindow) -> Path:
    """Where a test window's model and results live."""
    return settings.home / "replay" / f"{window.start.isoformat()}_{window.end.isoformat()}"


def _sources(settings: Settings, until: date) -> ReplaySources:
    """The input tables with every event before ``until`` (validated on read in landing and
    replay mode)."""

    def read(table: str, before: date | None) -> pa.Table:
        return read_table(settings, table, before=before)

    return ReplaySources.load(read, until=until)


def _floats(values: dict[str, object]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float)}


@dg.asset(
    group_name="replay",
    kinds={"numba", "xgboost"},
    description=(
        "Lightweight XGBoost model for a replay: trained on the window of the same length just "
        "before the test window (graph = saves before it; candidates = Pixie top K of every "
        "user with earlier engagements, minus pins they engaged with; label = saved during that "
        "window), with the project's feature SQL. Stored in $PIXIE_HOME/replay/<start>_<end>/"
        "model/, outside the MLflow registry, so a replay never becomes a serving champion."
    ),
)
def replay_model(
    context: dg.AssetExecutionContext, config: ReplayConfig, pixie: PixieSettings
) -> dg.MaterializeResult:
    settings = pixie.resolved()
    window = config.window()
    # nothing from the test window is even read: training cannot leak it
    sources = _sources(settings, until=window.start)
    result = train_replay_model(sources, window, config.params(), log=context.log.info)
    folder = replay_dir(settings, window) / "model"
    save_model(folder, result.trained, result.spec, result.report)
    importance = sorted(result.trained.importance.items(), key=lambda kv: -kv[1])
    importance_md = "| feature | total gain |\n|---|---|\n" + "\n".join(
        f"| {name} | {gain:,.1f} |" for name, gain in importance
    )
    report = {k: v for k, v in result.report.items() if k != "importance"}
    return dg.MaterializeResult(
        metadata={
            "source": settings.source,
            "landing": dg.MetadataValue.path(str(landing_root(settings))),
            "test_window": str(window),
            "train_window": str(window.previous()),
            **_floats(report),
            "feature_importance": dg.MetadataValue.md(importance_md),
            "path": dg.MetadataValue.path(str(folder)),
            "dagster/row_count": int(result.report["examples"]),  # type: ignore[call-overload]
        }
    )


@dg.asset(
    deps=[replay_model],
    group_name="replay",
    kinds={"numba", "xgboost"},
    description=(
        "Replay of the test window: each user with earlier engagements is one request (query = "
        "their last engaged pins); Pixie's top K candidates without already-engaged pins are "
        "ranked by visit count and by replay_model, and global popularity ranks the corpus. "
        "Positives are pins saved in the window that the user never engaged with before. "
        "Hit rate at 10/100/1000 (positives outside the candidates count as misses), per-user "
        "recall@20 and NDCG@20 per ranker, in $PIXIE_HOME/replay/<start>_<end>/evaluation.json."
    ),
)
def replay_evaluation(
    context: dg.AssetExecutionContext, config: ReplayConfig, pixie: PixieSettings
) -> dg.MaterializeResult:
    settings = pixie.resolved()
    window = config.window()
    folder = replay_dir(settings, window)
    scorer, training = load_model(folder / "model")
    expected = {"train_window": str(window.previous()), "candidates_k": config.candidates_k}
    stale = {k: training.get(k) for k, v in expected.items() if training.get(k) != v}
    if stale:
        raise ValueError(
            f"{folder / 'model'} was trained for {stale}, not {expected}: materialize "
            "replay_model with this config first"
        )
    sources = _sources(settings, until=window.stop)
    evaluation = evaluate_replay(sources, window, config.params(), scorer, log=context.log.info)
    summary = evaluation.summary()
    (folder / "evaluation.json").write_text(
        json.dumps({**summary, "test_window": str(window), "counts": evaluation.counts}, indent=2)
    )
    table = results_markdown(evaluation.metrics)
    context.log.info(f"replay {window}:\n{table}")
    per_ranker = {
        f"{ranker}/{metric}": float(value)
        for ranker in RANKERS
        for metric, value in evaluation.metrics[ranker].items()
    }
    return dg.MaterializeResult(
        metadata={
            "results": dg.MetadataValue.md(table),
            "test_window": str(window),
            "train_window": str(window.previous()),
            "test_users": summary["test_users"],
            "test_positives": summary["test_positives"],
            **per_ranker,
            **_floats(evaluation.counts),
            "path": dg.MetadataValue.path(str(folder / "evaluation.json")),
        }
    )


@dg.config_mapping(
    config_schema={
        "test_start": dg.Field(str, description="First day of the test window, YYYY-MM-DD."),
        "test_end": dg.Field(str, description="Last day of the test window (included)."),
        "candidates_k": dg.Field(int, default_value=1000),
        "seed": dg.Field(int, default_value=0),
    }
)
def _one_window(values: dict) -> dict:
    """The job asks for the window once and gives it to both assets."""
    return replay_run_config(**values)


def replay_run_config(
    test_start: str, test_end: str, candidates_k: int = 1000, seed: int = 0
) -> dict[str, object]:
    """Run config of both replay assets for one window (for ``dg.materialize``)."""
    config = {
        "test_start": test_start,
        "test_end": test_end,
        "candidates_k": candidates_k,
        "seed": seed,
    }
    return {"ops": {name: {"config": config} for name in ("replay_model", "replay_evaluation")}}


replay_job = dg.define_asset_job(
    "replay_job",
    selection=dg.AssetSelection.assets(replay_model, replay_evaluation),
    config=_one_window,
    description="Replay one test window: train on the window before it, then evaluate.",
)
