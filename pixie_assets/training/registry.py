"""The MLflow model registry as the serving path and the evaluation see it."""

from __future__ import annotations

import mlflow
from mlflow.exceptions import MlflowException

from pixie_assets.core.settings import Settings
from pixie_assets.serving.scoring import Scorer, VisitCountScorer
from pixie_assets.training.tracking import CHAMPION, configure_mlflow, registered_model_name


def aliased_version(settings: Settings, client: str, alias: str) -> str | None:
    """The version number behind ``alias`` of the client's model, or None."""
    mlflow_client = configure_mlflow(settings)
    try:
        found = mlflow_client.get_model_version_by_alias(registered_model_name(client), alias)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise
    return str(found.version)


def version_label(client: str, version: str) -> str:
    """What serving logs in ``model_version``: registered model name and version."""
    return f"{registered_model_name(client)}/{version}"


def load_scorer(settings: Settings, client: str, version: str) -> Scorer:
    """A version's packaged scorer: its booster, feature SQL and featurization code."""
    configure_mlflow(settings)
    model = mlflow.pyfunc.load_model(f"models:/{registered_model_name(client)}/{version}")
    return model.unwrap_python_model().scorer(version_label(client, version))


def serving_scorer(settings: Settings, client: str, alias: str = CHAMPION) -> Scorer:
    """The client's ``@champion`` (or another alias), or visit count while there is none."""
    version = aliased_version(settings, client, alias)
    if version is None:
        return VisitCountScorer()
    return load_scorer(settings, client, version)


def version_trained_on(settings: Settings, client: str, day: str) -> str | None:
    """The newest version of the client's model trained through ``day`` (tag ``day``)."""
    mlflow_client = configure_mlflow(settings)
    versions = mlflow_client.search_model_versions(
        f"name = '{registered_model_name(client)}' and tags.day = '{day}'"
    )
    newest = max((int(v.version) for v in versions), default=None)
    return None if newest is None else str(newest)


def record_review(
    settings: Settings, client: str, version: str, tags: dict[str, str], description: str
) -> None:
    """Write an evaluation's decision and comparison on the model version, for review in the
    registry UI."""
    mlflow_client = configure_mlflow(settings)
    name = registered_model_name(client)
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, version, key, value)
    mlflow_client.update_model_version(name, version, description=description)


def set_alias(settings: Settings, client: str, alias: str, version: str) -> None:
    configure_mlflow(settings).set_registered_model_alias(
        registered_model_name(client), alias, version
    )


def registry_consistency(settings: Settings, client: str) -> dict[str, object]:
    """Exactly one champion per client once any version was promoted, and it is the newest
    promoted version; the challenger is the newest version."""
    from pixie_assets.training.tracking import CHALLENGER

    mlflow_client = configure_mlflow(settings)
    versions = mlflow_client.search_model_versions(f"name = '{registered_model_name(client)}'")
    numbers = [int(v.version) for v in versions]
    promoted = [int(v.version) for v in versions if v.tags.get("promotion") == "promoted"]
    champion = aliased_version(settings, client, CHAMPION)
    challenger = aliased_version(settings, client, CHALLENGER)
    expected_champion = str(max(promoted)) if promoted else None
    expected_challenger = str(max(numbers)) if numbers else None
    return {
        "versions": len(numbers),
        "promoted_versions": len(promoted),
        "champion": champion or "none",
        "challenger": challenger or "none",
        "consistent": champion == expected_champion and challenger == expected_challenger,
    }
