"""Assets ``replay_model`` and ``replay_evaluation``: Pixie and the lightweight ranker replayed on
test windows of the user's own history (``PIXIE_SOURCE=replay``; see ``pixie_assets.replay``).

The windows are run config (``ReplayConfig``), not partitions: people pick evaluation windows
freely (a week, a holiday, a month, eight half-years of a rolling backtest), and a partition set
would have to list them in the code location first. Results are written per backtest under
``$PIXIE_HOME/replay/<first start>_<last end>/`` and shown as asset metadata (a table per ranker
with 95% intervals), and each evaluation is an MLflow run in ``pixie-replay``, so the UI's
materialization history is the history of replays. ``defs.jobs.replay_job`` asks for the
windows once and passes them to both assets.
"""

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
from pydantic import Field

from pixie_assets.core.settings import Settings, UiUrls
from pixie_assets.defs.metadata import dagster_run_url, url_entries
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.landing.sources import landing_inventory, read_table
from pixie_assets.replay import (
    PAIRS,
    RANKERS,
    ReplayParams,
    ReplayReport,
    ReplaySources,
    ReplayWindow,
    WalkCluster,
    evaluate_replay,
    load_model,
    pool_windows,
    results_markdown,
    rolling_windows,
    save_model,
    train_replay_model,
)
from pixie_assets.replay.ranking import paired_markdown
from pixie_assets.training.tracking import DAGSTER_RUN_URL_TAG, log_replay_run, run_url


class ReplayConfig(dg.Config):
    """The test windows and how candidates and the model are made."""

    test_start: str = Field(description="First day of the (last) test window, YYYY-MM-DD.")
    test_end: str = Field(description="Last day of the (last) test window, YYYY-MM-DD (included).")
    windows: int = Field(
        default=1, description="Rolling-origin backtest: this many consecutive test windows."
    )
    window_days: int = Field(
        default=0, description="Days per test window (0: the length of test_start..test_end)."
    )
    candidates_k: int = Field(default=1000, description="K: candidates kept per request.")
    training_windows: int = Field(
        default=3, description="Earlier windows the model learns from (the newest validates)."
    )
    seed: int = Field(default=0, description="Seed of the walks, sampling, XGBoost, bootstrap.")

    def test_windows(self) -> list[ReplayWindow]:
        last = ReplayWindow.parse(self.test_start, self.test_end)
        return rolling_windows(last, self.windows, self.window_days or None)

    def params(self) -> ReplayParams:
        return ReplayParams(
            candidates_k=self.candidates_k,
            training_windows=self.training_windows,
            seed=self.seed,
        )


def replay_dir(settings: Settings, windows: list[ReplayWindow]) -> Path:
    """Where a backtest's models and results live."""
    name = f"{windows[0].start.isoformat()}_{windows[-1].end.isoformat()}"
    if len(windows) > 1:
        name += f"_x{len(windows)}"
    return settings.home / "replay" / name


def model_dir(folder: Path, window: ReplayWindow) -> Path:
    return folder / "models" / f"{window.start.isoformat()}_{window.end.isoformat()}"


def _sources(settings: Settings, until: date) -> ReplaySources:
    """The input tables with every event before ``until`` (the folder validated and listed
    once)."""
    inventory = landing_inventory(settings)

    def read(table: str, before: date | None) -> pa.Table:
        return read_table(settings, table, before=before, inventory=inventory)

    return ReplaySources.load(read, until=until)


@contextmanager
def _walk_cluster(
    context: dg.AssetExecutionContext, pixie: PixieSettings, settings: Settings
) -> Iterator[WalkCluster | None]:
    """None when walks run in this process (``PIXIE_DASK`` empty); otherwise the cluster and
    a scratch folder under ``$PIXIE_HOME`` (which every worker reads) for the windows' graphs,
    removed when the step ends."""
    with pixie.shard_runner() as runner:
        if runner.in_process:
            yield None
            return
        context.log.info(f"walks on {runner.workers} Dask worker(s), dashboard {runner.dashboard}")
        (settings.home / "scratch").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="replay-", dir=settings.home / "scratch") as tmp:
            yield WalkCluster(runner, Path(tmp))


def _numbers(values: dict[str, object]) -> dict[str, float | int]:
    return {
        k: (v if isinstance(v, int) else float(v))
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _model_row(window: ReplayWindow, result) -> dg.TableRecord:
    report = result.report
    return dg.TableRecord(
        {
            "test_window": str(window),
            "train_windows": ", ".join(report["train_windows"]),
            "examples": int(report["examples"]),
            "positives": int(report["candidate_positives"]),
            "best_iteration": int(result.trained.metrics.get("best_iteration", -1)),
        }
    )


@dg.asset(
    group_name="replay",
    kinds={"numba", "xgboost"},
    description=(
        "Lightweight XGBoost models for a replay, one per test window: each trained on the "
        "windows before its test window (graph = saves before each; candidates = Pixie top K of "
        "every user with earlier engagements, minus pins they engaged with; label = saved during "
        "that window; the newest training window decides the number of trees), with the "
        "project's feature SQL. Stored in $PIXIE_HOME/replay/<start>_<end>/models/, outside the "
        "MLflow registry, so a replay never becomes a serving champion."
    ),
)
def replay_model(
    context: dg.AssetExecutionContext, config: ReplayConfig, pixie: PixieSettings
) -> dg.MaterializeResult:
    settings = pixie.resolved()
    windows = config.test_windows()
    folder = replay_dir(settings, windows)
    # nothing from the last test window is even read; each model filters to its own past
    sources = _sources(settings, until=windows[-1].start)
    rows = []
    last = None
    cache: dict = {}  # consecutive test windows share training windows: build each once
    with _walk_cluster(context, pixie, settings) as cluster:
        for i, window in enumerate(windows, 1):
            context.log.info(f"[{i}/{len(windows)}] training the model for test window {window}")
            result = train_replay_model(
                sources, window, config.params(), log=context.log.info, cache=cache,
                cluster=cluster,
            )  # fmt: skip
            save_model(model_dir(folder, window), result.trained, result.spec, result.report)
            rows.append(_model_row(window, result))
            last = result
    assert last is not None
    importance = sorted(last.trained.importance.items(), key=lambda kv: -kv[1])
    importance_md = "| feature | total gain |\n|---|---|\n" + "\n".join(
        f"| {name} | {gain:,.1f} |" for name, gain in importance
    )
    return dg.MaterializeResult(
        metadata={
            "source": settings.source,
            "landing": dg.MetadataValue.path(str(settings.landing_dir)),
            "test_windows": ", ".join(map(str, windows)),
            "models": dg.MetadataValue.table(
                rows,
                schema=dg.TableSchema(
                    columns=[
                        dg.TableColumn("test_window", "string"),
                        dg.TableColumn("train_windows", "string"),
                        dg.TableColumn("examples", "int"),
                        dg.TableColumn("positives", "int"),
                        dg.TableColumn("best_iteration", "int"),
                    ]
                ),
            ),
            "feature_importance (last window)": dg.MetadataValue.md(importance_md),
            "path": dg.MetadataValue.path(str(folder / "models")),
            "dagster/row_count": sum(int(r.data["examples"]) for r in rows),
        }
    )


def _check_models(folder: Path, windows: list[ReplayWindow], config: ReplayConfig):
    """Each window's scorer, refusing models trained for other settings."""
    scorers = []
    for window in windows:
        scorer, training = load_model(model_dir(folder, window))
        expected = {"test_window": str(window), "candidates_k": config.candidates_k}
        stale = {k: training.get(k) for k, v in expected.items() if training.get(k) != v}
        if stale:
            raise ValueError(
                f"{model_dir(folder, window)} was trained for {stale}, not {expected}: "
                "materialize replay_model with this config first"
            )
        scorers.append(scorer)
    return scorers


def _results_table(report: ReplayReport) -> dg.TableMetadataValue:
    """Rankers × metrics with the 95% interval of each, for the asset page."""
    columns = [dg.TableColumn("ranker", "string")]
    metrics = list(next(iter(report.metrics.values())))
    for metric in metrics:
        columns += [
            dg.TableColumn(metric, "float"),
            dg.TableColumn(f"{metric} 95% low", "float"),
            dg.TableColumn(f"{metric} 95% high", "float"),
        ]
    records = []
    for ranker in RANKERS:
        row: dict[str, object] = {"ranker": ranker}
        for metric in metrics:
            interval = report.intervals[ranker][metric]
            row[metric] = round(interval.estimate, 4)
            row[f"{metric} 95% low"] = round(interval.low, 4)
            row[f"{metric} 95% high"] = round(interval.high, 4)
        records.append(dg.TableRecord(row))
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


@dg.asset(
    deps=[replay_model],
    group_name="replay",
    kinds={"numba", "xgboost", "mlflow"},
    description=(
        "Replay of the test windows: each user with earlier engagements is one request (query = "
        "their last engaged pins); Pixie's top K candidates without already-engaged pins are "
        "ranked by visit count and by replay_model, a plain random walk is the reference, and "
        "global popularity ranks the corpus. Positives are pins saved in the window that the "
        "user never engaged with before. Hit rate at 10/100/1000 (positives outside the "
        "candidates count as misses), per-user recall@20 and NDCG@20 per ranker, pooled over "
        "the windows with 95% bootstrap intervals over test users and paired intervals of "
        "lightweight − visit count; in $PIXIE_HOME/replay/<start>_<end>/evaluation.json and "
        "an MLflow run of experiment pixie-replay."
    ),
)
def replay_evaluation(
    context: dg.AssetExecutionContext, config: ReplayConfig, pixie: PixieSettings
) -> dg.MaterializeResult:
    settings = pixie.resolved()
    windows = config.test_windows()
    folder = replay_dir(settings, windows)
    scorers = _check_models(folder, windows, config)
    sources = _sources(settings, until=windows[-1].stop)
    params = config.params()
    results = []
    with _walk_cluster(context, pixie, settings) as cluster:
        for i, (window, scorer) in enumerate(zip(windows, scorers, strict=True), 1):
            context.log.info(f"[{i}/{len(windows)}] evaluating test window {window}")
            results.append(
                evaluate_replay(
                    sources, window, params, scorer, log=context.log.info, cluster=cluster
                )
            )
    report = pool_windows(results, params)
    summary = report.summary()
    counts = {str(r.window): r.counts for r in results}
    (folder / "evaluation.json").write_text(
        json.dumps({**summary, "counts": counts}, indent=2, default=str)
    )
    table = results_markdown(report.metrics, report.intervals)
    paired = paired_markdown(report.paired)
    context.log.info(f"replay of {len(windows)} window(s):\n{table}\n\n{paired}")
    flat = {
        f"{ranker}/{metric}": float(value)
        for ranker in RANKERS
        for metric, value in report.metrics[ranker].items()
    }
    bounds = {
        f"{name}/{metric}/{end}": float(getattr(interval, end))
        for name, values in {**report.intervals, **report.paired}.items()
        for metric, interval in values.items()
        for end in ("low", "high")
    }
    diffs = {
        f"{a}-{b}/{metric}": float(interval.estimate)
        for (a, b) in PAIRS
        for metric, interval in report.paired[f"{a}-{b}"].items()
    }
    ui = UiUrls.from_env()
    run_id = log_replay_run(
        settings,
        run_name=f"replay {windows[0].start}..{windows[-1].end} x{len(windows)}",
        params={
            "landing": settings.landing_dir,
            "test_windows": ", ".join(map(str, windows)),
            **config.model_dump(),
        },
        metrics={**flat, **diffs, **bounds, **report.counts},
        artifacts={
            "results.md": f"{table}\n\n{paired}\n",
            "evaluation.json": json.dumps({**summary, "counts": counts}, indent=2, default=str),
        },
        tags={
            "dagster_run_id": context.run.run_id,
            DAGSTER_RUN_URL_TAG: dagster_run_url(ui.dagster, context.run.run_id),
        },
    )
    return dg.MaterializeResult(
        metadata={
            "results": _results_table(report),
            "results_markdown": dg.MetadataValue.md(f"{table}\n\n{paired}"),
            "test_windows": ", ".join(map(str, windows)),
            "test_users": int(report.counts["test_users"]),
            "test_positives": int(report.counts["test_positives"]),
            **flat,
            **diffs,
            "mlflow_run_id": run_id,
            **url_entries({"mlflow_run_url": run_url(settings, ui.mlflow, run_id)}),
            "path": dg.MetadataValue.path(str(folder / "evaluation.json")),
        }
    )


def replay_run_config(
    test_start: str,
    test_end: str,
    windows: int = 1,
    window_days: int = 0,
    candidates_k: int = 1000,
    training_windows: int = 3,
    seed: int = 0,
) -> dict[str, object]:
    """Run config of both replay assets (for ``dg.materialize``)."""
    config = {
        "test_start": test_start,
        "test_end": test_end,
        "windows": windows,
        "window_days": window_days,
        "candidates_k": candidates_k,
        "training_windows": training_windows,
        "seed": seed,
    }
    return {"ops": {name: {"config": config} for name in ("replay_model", "replay_evaluation")}}
