"""The MLflow model registry as the serving path and the evaluation see it.

Loading a version executes the Python stored with it (MLflow models-from-code), so
``load_scorer`` first checks the stored files against the digests the version was registered
with (tag ``code_sha256``) and refuses a version that differs or carries none. The evaluation's
writes are ordered alias first, review second (``commit_decision``): the ``promotion=promoted``
tag records an alias move that happened and never announces one that did not; the champion it
replaced is then marked ``superseded`` (``mark_superseded``), and ``registry_consistency`` names
whatever a killed run left half-done."""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from pixie_assets.core.failpoints import failpoint
from pixie_assets.core.settings import Settings
from pixie_assets.serving.scoring import Scorer, VisitCountScorer
from pixie_assets.training.promotion import (
    EVER_PROMOTED,
    PENDING,
    PROMOTED,
    SUPERSEDED,
    SUPERSEDED_BY_TAG,
    PromotionDecision,
    RegistryView,
    superseded_description,
)
from pixie_assets.training.tracking import (
    CHALLENGER,
    CHAMPION,
    CODE_FILES_TAG,
    CODE_SHA256_TAG,
    EVALUATION_EXPERIMENT,
    EXPERIMENT,
    ModelIntegrityError,
    code_tags,
    configure_mlflow,
    digests_sha256,
    download_model,
    model_file_digests,
    registered_model_name,
    running_runs,
)

# What training writes on every version, with the version (tracking.log_scorer_model).
REQUIRED_VERSION_TAGS = ("day", "strategy", "dagster_run_id", CODE_SHA256_TAG)


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


# --- loading, after checking the stored code ---------------------------------------------------


def _changed_files(recorded: dict[str, str], found: dict[str, str]) -> list[str]:
    """The paths whose digest differs between the two listings, added and missing ones too."""
    return sorted(p for p in recorded.keys() | found.keys() if recorded.get(p) != found.get(p))


def _recorded_digests(tags: dict[str, str]) -> dict[str, str] | None:
    """The per-file digests of tag ``code_files``, when present and agreeing with
    ``code_sha256`` (otherwise they cannot say which file changed)."""
    try:
        recorded = json.loads(tags.get(CODE_FILES_TAG, ""))
    except ValueError:
        return None
    if not isinstance(recorded, dict) or digests_sha256(recorded) != tags[CODE_SHA256_TAG]:
        return None
    return recorded


def verify_model_files(name: str, version: str, tags: dict[str, str], folder: Path) -> None:
    """Raise ``ModelIntegrityError`` unless the model folder's files hash to the version's
    ``code_sha256`` tag; the message names the model, the version and the files that differ."""
    label = f"{name} version {version}"
    if not tags.get(CODE_SHA256_TAG):
        raise ModelIntegrityError(
            f"{label} has no {CODE_SHA256_TAG} tag, so its stored code cannot be checked; "
            "refusing to load it (loading executes that code). Retrain it to register a "
            "version that carries one."
        )
    found = model_file_digests(folder)
    if digests_sha256(found) == tags[CODE_SHA256_TAG]:
        return
    recorded = _recorded_digests(tags)
    files = (
        ", ".join(_changed_files(recorded, found))
        if recorded is not None
        else f"unknown ({CODE_FILES_TAG} tag missing or not matching; stored: {sorted(found)})"
    )
    raise ModelIntegrityError(
        f"{label}: the stored model files differ from those registered "
        f"({CODE_SHA256_TAG} {tags[CODE_SHA256_TAG][:12]}…); changed, added or missing: {files}. "
        "Refusing to load it: loading executes the stored code."
    )


def _load_pyfunc(folder: Path):
    """``mlflow.pyfunc.load_model`` of a local folder, taking back the ``code/`` entry MLflow
    prepends to ``sys.path``: the folder is a temporary copy, and later imports must not find
    another version's files there."""
    code_dir = str(folder / "code")
    try:
        return mlflow.pyfunc.load_model(str(folder))
    finally:
        while code_dir in sys.path:
            sys.path.remove(code_dir)


def load_scorer(settings: Settings, client: str, version: str) -> Scorer:
    """A version's packaged scorer: its booster, feature SQL and featurization code.

    The version's folder is copied, its files checked against tag ``code_sha256``
    (``verify_model_files``) and only then loaded from that same copy: nothing of the stored
    code runs unless it is what training registered."""
    mlflow_client = configure_mlflow(settings)
    name = registered_model_name(client)
    registered = mlflow_client.get_model_version(name, version)
    with tempfile.TemporaryDirectory(prefix="pixie-model-") as scratch:
        folder = download_model(
            mlflow_client.get_model_version_download_uri(name, version), Path(scratch)
        )
        verify_model_files(name, version, dict(registered.tags), folder)
        model = _load_pyfunc(folder)
    return model.unwrap_python_model().scorer(version_label(client, version))


def pin_stored_files(settings: Settings, client: str, version: str) -> str:
    """Record the digests of a version registered before versions carried them (tags
    ``code_sha256`` and ``code_files``), so that ``load_scorer`` accepts it; returns the digest.

    This trusts the files as they are now: read the version's ``pyfunc_model.py``, ``code/``
    and ``MLmodel`` first. A version that already carries a digest is refused, so this can
    never bless a change made after registration."""
    mlflow_client = configure_mlflow(settings)
    name = registered_model_name(client)
    if mlflow_client.get_model_version(name, version).tags.get(CODE_SHA256_TAG):
        raise ModelIntegrityError(f"{name} version {version} already has a {CODE_SHA256_TAG}")
    with tempfile.TemporaryDirectory(prefix="pixie-model-") as scratch:
        uri = mlflow_client.get_model_version_download_uri(name, version)
        tags = code_tags(download_model(uri, Path(scratch)))
    for key in (CODE_FILES_TAG, CODE_SHA256_TAG):  # the digest last: it makes the version load
        mlflow_client.set_model_version_tag(name, version, key, tags[key])
    return tags[CODE_SHA256_TAG]


def serving_scorer(settings: Settings, client: str, alias: str = CHAMPION) -> Scorer:
    """The client's ``@champion`` (or another alias), or visit count while there is none."""
    version = aliased_version(settings, client, alias)
    if version is None:
        return VisitCountScorer()
    return load_scorer(settings, client, version)


# --- what an evaluation judges, and how its decision is written --------------------------------


def _versions(settings: Settings, client: str) -> list[ModelVersion]:
    mlflow_client = configure_mlflow(settings)
    return list(mlflow_client.search_model_versions(f"name = '{registered_model_name(client)}'"))


def version_trained_on(settings: Settings, client: str, day: str) -> str | None:
    """The newest version of the client's model trained through ``day`` (tag ``day``)."""
    mlflow_client = configure_mlflow(settings)
    versions = mlflow_client.search_model_versions(
        f"name = '{registered_model_name(client)}' and tags.day = '{day}'"
    )
    newest = max((int(v.version) for v in versions), default=None)
    return None if newest is None else str(newest)


@dataclass(frozen=True)
class Contenders:
    """The versions an evaluation compares: the challenger trained through the day before,
    the champion it is judged against (None: visit count), and the registry's view of them."""

    challenger: str | None
    champion: str | None
    view: RegistryView


def evaluation_contenders(settings: Settings, client: str, trained_through: str) -> Contenders:
    """The challenger trained through ``trained_through`` and its baseline, the current
    ``@champion``, unless that already is the challenger: then an earlier run of this
    evaluation promoted it (and may have been killed before writing the review), and it is
    judged again against the champion it replaced, the newest version before it that was
    promoted (tagged promoted, or superseded since)."""
    versions = {str(v.version): v for v in _versions(settings, client)}
    challenger = version_trained_on(settings, client, trained_through)
    champion = aliased_version(settings, client, CHAMPION)
    baseline = champion
    if challenger is not None and challenger == champion:
        earlier = [
            int(n)
            for n, v in versions.items()
            if int(n) < int(challenger) and v.tags.get("promotion") in EVER_PROMOTED
        ]
        baseline = str(max(earlier)) if earlier else None

    def day(version: str | None) -> str | None:
        return versions[version].tags.get("day") if version in versions else None

    view = RegistryView(
        challenger_day=day(challenger),
        champion_day=day(champion),
        challenger_is_champion=challenger is not None and challenger == champion,
    )
    return Contenders(challenger, baseline, view)


def record_review(
    settings: Settings, client: str, version: str, tags: dict[str, str], description: str
) -> None:
    """Write an evaluation's decision and comparison on the model version, for review in the
    registry UI. Tag ``promotion`` is written last: once it is there, so is the rest."""
    mlflow_client = configure_mlflow(settings)
    name = registered_model_name(client)
    mlflow_client.update_model_version(name, version, description=description)
    for key, value in sorted(tags.items(), key=lambda item: item[0] == "promotion"):
        mlflow_client.set_model_version_tag(name, version, key, value)


def set_alias(settings: Settings, client: str, alias: str, version: str) -> None:
    configure_mlflow(settings).set_registered_model_alias(
        registered_model_name(client), alias, version
    )


def commit_decision(
    settings: Settings,
    client: str,
    version: str,
    decision: PromotionDecision,
    review_tags: dict[str, str],
    description: str,
) -> bool:
    """Write an evaluation's decision on the challenger ``version``; returns whether the review
    was written.

    A promotion moves ``@champion`` first and writes the review second, so a kill between the
    two leaves a champion without its ``promotion=promoted`` tag, which ``registry_consistency``
    reports and the next run of the evaluation completes (rule ``already_champion``), never a
    ``promoted`` tag on a version that does not serve. A decision a registry rule forced
    against an already reviewed version (tag ``promotion`` other than pending) leaves that
    review as it is: re-running an old day must not overwrite what its first evaluation
    decided. Last, ``mark_superseded``: the champion a promotion replaced (or one a killed run
    left unmarked) says so."""
    written = True
    if decision.promote:
        failpoint("evaluate.before_alias")
        set_alias(settings, client, CHAMPION, version)
        failpoint("evaluate.after_alias")
    elif decision.guard:
        reviewed = configure_mlflow(settings).get_model_version(
            registered_model_name(client), version
        )
        written = reviewed.tags.get("promotion", PENDING) == PENDING
    if written:
        record_review(settings, client, version, review_tags, description)
    mark_superseded(settings, client)
    return written


def _successor(number: int, champions: list[int]) -> str:
    """The version that took @champion from ``number``: the next one ever promoted."""
    return str(min(n for n in champions if n > number))


def mark_superseded(settings: Settings, client: str) -> list[str]:
    """Mark every version still tagged promoted but older than ``@champion`` as superseded by
    the next version promoted after it; returns the versions marked, oldest first.

    Only once the champion's own review is written (it is tagged promoted): before that, the
    promotion may not be complete, and the version it replaces must keep serving as the
    baseline its re-run is judged against. Per version, its description is headed with the
    note first, ``superseded_by`` second and ``promotion=superseded`` last, so a kill leaves
    a version still tagged promoted, which ``registry_consistency`` reports and the next
    evaluation marks (the note is not written twice)."""
    champion = aliased_version(settings, client, CHAMPION)
    versions = {int(v.version): v for v in _versions(settings, client)}
    states = {n: v.tags.get("promotion") for n, v in versions.items()}
    if champion is None or states.get(int(champion)) != PROMOTED:
        return []
    champions = sorted(n for n, state in states.items() if state in EVER_PROMOTED)
    stale = [n for n in champions if n < int(champion) and states[n] == PROMOTED]
    mlflow_client = configure_mlflow(settings)
    name = registered_model_name(client)
    for number in stale:
        successor = _successor(number, champions)
        described = superseded_description(versions[number].description or "", successor)
        mlflow_client.update_model_version(name, str(number), description=described)
        mlflow_client.set_model_version_tag(name, str(number), SUPERSEDED_BY_TAG, successor)
        mlflow_client.set_model_version_tag(name, str(number), "promotion", SUPERSEDED)
    return [str(n) for n in stale]


# --- consistency -------------------------------------------------------------------------------


def _tag_problems(versions: list[ModelVersion]) -> list[str]:
    """The tags training writes that a version lacks, and ``superseded_by`` where it was
    superseded (written before ``promotion=superseded``, so only a hand can remove it)."""
    problems = []
    for v in sorted(versions, key=lambda v: int(v.version)):
        missing = [t for t in REQUIRED_VERSION_TAGS if not v.tags.get(t)]
        if v.tags.get("promotion") == SUPERSEDED and not v.tags.get(SUPERSEDED_BY_TAG):
            missing.append(SUPERSEDED_BY_TAG)
        if missing:
            problems.append(f"version {v.version} lacks tag(s) {', '.join(missing)}")
    return problems


def _champion_problems(promoted: list[int], champions: list[int], champion) -> list[str]:
    """``promoted``: versions tagged promoted; ``champions``: those and the superseded ones,
    every version that was @champion once."""
    if champion is None:
        if promoted:
            return [f"versions {promoted} are tagged promoted but there is no @champion"]
        return []
    number, problems = int(champion), []
    if number not in champions:
        problems.append(
            f"@champion is version {champion}, which is not tagged promotion=promoted "
            "(its evaluation did not finish: run it again)"
        )
    newer = [n for n in promoted if n > number]
    if newer:
        problems.append(
            f"versions {newer} are tagged promoted but are newer than @champion {champion}"
        )
    older = [n for n in promoted if n < number]
    if older and number in promoted:
        problems.append(
            f"versions {older} are tagged promoted but @champion {champion} replaced them "
            "(not yet marked superseded: the next evaluation marks them)"
        )
    return problems


def _challenger_problems(numbers: list[int], challenger) -> list[str]:
    if numbers and challenger != str(max(numbers)):
        return [
            f"@challenger is {'version ' + challenger if challenger else 'unset'} but the newest "
            f"version is {max(numbers)} (its training did not finish: run it again)"
        ]
    return []


def _running_problems(settings: Settings, client: str) -> list[str]:
    """Runs of the client still RUNNING in the training and evaluation experiments. Called
    from a step of the ``mlflow`` pool, no other such step is live, so these were left by
    killed processes (see ``tracking.end_stale_runs``)."""
    mlflow_client = configure_mlflow(settings)
    experiments = [
        mlflow_client.get_experiment_by_name(n) for n in (EXPERIMENT, EVALUATION_EXPERIMENT)
    ]
    ids = [e.experiment_id for e in experiments if e is not None]
    runs = running_runs(mlflow_client, ids, {"client": client})
    return [
        f"run {r.info.run_id} ({r.data.tags.get('day', '?')}) is still RUNNING: its process "
        "was killed; the next run of its partition ends it as KILLED"
        for r in runs
    ]


def registry_consistency(settings: Settings, client: str) -> dict[str, object]:
    """Whether the client's registry is as complete runs leave it, and every way it is not.

    Consistent means: every version carries the tags training writes
    (``REQUIRED_VERSION_TAGS``); ``@champion`` is tagged ``promotion=promoted`` and no other
    version is (the ones it replaced are ``superseded``, with ``superseded_by``), and there is
    one once any version was promoted; ``@challenger`` is the newest version; no run of the
    client is left RUNNING. A version ``pending`` evaluation, or ``rejected``, is consistent.
    ``problems`` names each breach; ``consistent`` is True when there is none;
    ``promoted_versions`` counts the versions ever promoted (promoted or superseded)."""
    versions = _versions(settings, client)
    numbers = [int(v.version) for v in versions]
    states = {int(v.version): v.tags.get("promotion") for v in versions}
    promoted = sorted(n for n, state in states.items() if state == PROMOTED)
    champions = sorted(n for n, state in states.items() if state in EVER_PROMOTED)
    champion = aliased_version(settings, client, CHAMPION)
    challenger = aliased_version(settings, client, CHALLENGER)
    problems = [
        *_tag_problems(versions),
        *_champion_problems(promoted, champions, champion),
        *_challenger_problems(numbers, challenger),
        *_running_problems(settings, client),
    ]
    return {
        "versions": len(numbers),
        "promoted_versions": len(champions),
        "champion": champion or "none",
        "challenger": challenger or "none",
        "consistent": not problems,
        "problems": problems,
    }
