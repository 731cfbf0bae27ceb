"""One MLflow run per trained model, and its registry version as the client's challenger.

The run ends FINISHED only once the version is registered (with all its tags, ``promotion=pending``
among them) and ``@challenger`` points at it; a process killed before that leaves the run
RUNNING, and the next training of the same (day, client) ends it as KILLED
(``tracking.end_stale_runs``). The descriptions come last, as documentation: the version's
says it awaits evaluation, the registered model's what it is and how its versions are judged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mlflow

from pixie_assets.core.clients import ClientConfig
from pixie_assets.core.failpoints import failpoint
from pixie_assets.core.plots import close_figure, pyplot
from pixie_assets.core.settings import Settings
from pixie_assets.serving.featurize import FeatureSpec
from pixie_assets.training.fit import TrainedModel
from pixie_assets.training.promotion import (
    PENDING,
    RunLink,
    model_description,
    model_tags,
    pending_description,
)
from pixie_assets.training.tracking import (
    CHALLENGER,
    LoggedModel,
    configure_mlflow,
    describe_registered_model,
    end_stale_runs,
    log_scorer_model,
    partition_tags,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Published:
    """A challenger as registered: its version, its MLflow run, and the runs of the same
    partition that killed processes had left RUNNING and that this run ended as KILLED."""

    logged: LoggedModel
    run_id: str
    repaired_runs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainingWindow:
    first_day: str
    last_day: str
    days: int


def importance_figure(importance: dict[str, float], title: str) -> Figure:
    """Horizontal bars of each feature's total gain, largest at the top."""
    names = sorted(importance, key=importance.get)
    fig, ax = pyplot().subplots(figsize=(6, 0.35 * len(names) + 1.2))
    ax.barh(names, [importance[n] for n in names], color="#e60023")
    ax.set_xlabel("total gain")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def publish_challenger(
    settings: Settings,
    config: ClientConfig,
    trained: TrainedModel,
    spec: FeatureSpec,
    strategy: str,
    day: str,
    window: TrainingWindow,
    label_counts: dict[str, float],
    dagster_run_id: str,
    dagster_run_url: str = "",
) -> Published:
    """Log the run (parameters, data window, counts, metrics, importance plot), register the
    model version with its tags, point ``@challenger`` at it and describe it and the registered
    model, all before the run ends. ``dagster_run_url``, the Dagster run's page, becomes a tag
    of the run and the version and a link in the version's description: the way back from the
    registry to the run that made the version."""
    client = configure_mlflow(settings)
    run_tags = partition_tags(config.name, day, dagster_run_id, dagster_run_url)
    tags = {**run_tags, "strategy": strategy}
    with mlflow.start_run(run_name=f"{config.name} {day} {strategy}", tags=tags) as run:
        failpoint("train.after_run_start")
        repaired = end_stale_runs(client, run, {"client": config.name, "day": day})
        mlflow.log_params(
            {
                "client": config.name,
                "strategy": strategy,
                "objective": trained.objective,
                "boost_rounds": config.boost_rounds,
                "window_first_day": window.first_day,
                "window_last_day": window.last_day,
                "window_days": window.days,
                "local_weight": config.local_weight,
                "label_action_weights": config.label_action_weights,
                **{f"xgb_{k}": v for k, v in config.xgb_params.items()},
            }
        )
        mlflow.log_metrics(
            {**trained.metrics, **{f"labels_{k}": v for k, v in label_counts.items()}}
        )
        figure = importance_figure(trained.importance, f"{config.name} {day}: feature importance")
        mlflow.log_figure(figure, "feature_importance.png")
        close_figure(figure)
        logged = log_scorer_model(
            trained.booster,
            spec,
            config.name,
            tags={
                **{k: v for k, v in run_tags.items() if k != "client"},
                "strategy": strategy,
                "promotion": PENDING,
            },
        )
        failpoint("train.after_register")
        client.set_registered_model_alias(logged.name, CHALLENGER, logged.version)
        trained_by = RunLink(dagster_run_id, dagster_run_url)
        description = pending_description(config, day, strategy, trained_by)
        client.update_model_version(logged.name, logged.version, description=description)
        describe_registered_model(
            client, logged.name, model_description(config), model_tags(config)
        )
    return Published(logged, run.info.run_id, tuple(repaired))
