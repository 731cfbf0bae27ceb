"""The promotion rule: a challenger becomes ``@champion`` only when it beats the current champion
(visit count while there is none) on the client's primary metric by the configured margin, and
every blocking check passed. A tie or a missing number never promotes.

A metric can be undefined on a day — an off-policy estimate without exploration slots to support
it, an AUC without a positive — so the client may name a fallback metric: the decision is taken
on the first of its metrics that is defined for both the challenger and its baseline, and the
reason says so.

The metrics decide only while the registry agrees; ``settle_with_registry`` applies what the
versions' tags and aliases say (``RegistryView``), so that re-running an evaluation never
rewrites history: a challenger already ``@champion`` stays promoted (an earlier run of the same
evaluation moved the alias and was killed before writing the review), and a challenger
trained through an earlier day than the champion never replaces it (a backfill)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from pixie_assets.core.clients import ClientConfig

# A version's tag ``promotion`` through its life: registered ``pending``; its evaluation writes
# ``promoted`` (it is @champion) or ``rejected``; a promoted version whose @champion a newer
# one took becomes ``superseded`` (tag ``superseded_by`` names that one).
PENDING = "pending"
PROMOTED = "promoted"
REJECTED = "rejected"
SUPERSEDED = "superseded"
SUPERSEDED_BY_TAG = "superseded_by"
# Versions that were @champion once: what a repeated evaluation judges the champion against.
EVER_PROMOTED = frozenset({PROMOTED, SUPERSEDED})


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    metric: str
    challenger: float | None
    baseline_name: str
    baseline: float | None
    required: float | None
    # the registry rule that overrode the metrics (``REGISTRY_RULES``), "" when they decided
    guard: str = ""

    def as_tags(self) -> dict[str, str]:
        return {
            "promotion": PROMOTED if self.promote else REJECTED,
            "promotion_reason": self.reason,
            "primary_metric": self.metric,
            "primary_challenger": _fmt(self.challenger),
            f"primary_{self.baseline_name}": _fmt(self.baseline),
        }


def _fmt(value: float | None) -> str:
    return "none" if value is None or math.isnan(value) else f"{value:.6f}"


def decide_promotion(
    metric: str,
    challenger: float | None,
    champion: float | None,
    visit_count: float | None,
    margin: float,
    checks_passed: bool,
) -> PromotionDecision:
    """``margin`` is relative: the challenger needs more than baseline × (1 + margin)."""
    baseline_name, baseline = (
        ("champion", champion)
        if champion is not None
        else (
            "visit_count",
            visit_count,
        )
    )

    def decision(promote: bool, reason: str, required: float | None = None) -> PromotionDecision:
        return PromotionDecision(
            promote, reason, metric, challenger, baseline_name, baseline, required
        )

    if challenger is None:
        return decision(False, "no challenger to evaluate")
    if not checks_passed:
        return decision(False, "a blocking check failed")
    if math.isnan(challenger) or baseline is None or math.isnan(baseline):
        return decision(False, f"{metric} could not be computed")
    required = baseline + abs(baseline) * margin
    comparison = (
        f"{challenger:.4f} vs {baseline_name} {baseline:.4f} + {margin:.1%} = {required:.4f}"
    )
    if challenger > required:
        return decision(True, f"wins: {comparison}", required)
    return decision(False, f"does not win: {comparison}", required)


def _defined(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def decide_promotion_on(
    metrics: Sequence[str],
    values: Mapping[str, Mapping[str, float]],
    margin: float,
    checks_passed: bool,
) -> PromotionDecision:
    """``decide_promotion`` on the first of ``metrics`` (primary, then fallbacks) defined for the
    challenger and its baseline. ``values``: ranker name (visit_count, champion, challenger) →
    metric → value; a ranker that does not exist on the day is absent. With no metric defined the
    primary decides, which rejects ("could not be computed")."""
    if not metrics:
        raise ValueError("no promotion metric given")
    baseline = "champion" if "champion" in values else "visit_count"

    def value(ranker: str, metric: str) -> float | None:
        if ranker not in values:
            return None
        found = values[ranker].get(metric)
        return None if found is None else float(found)

    chosen = next(
        (m for m in metrics if _defined(value("challenger", m)) and _defined(value(baseline, m))),
        metrics[0],
    )
    decision = decide_promotion(
        chosen,
        challenger=value("challenger", chosen),
        champion=value("champion", chosen),
        visit_count=value("visit_count", chosen),
        margin=margin,
        checks_passed=checks_passed,
    )
    if chosen != metrics[0]:
        note = f"{metrics[0]} undefined, decided on fallback {chosen}"
        decision = replace(decision, reason=f"{note}: {decision.reason}")
    return decision


def decide_on_comparison(
    config: ClientConfig, frame: pd.DataFrame, checks_passed: bool
) -> PromotionDecision:
    """The client's promotion decision on an evaluation's comparison frame (one row per ranker,
    a column per metric): ``decide_promotion_on`` its ``promotion_metrics`` with its margin.
    Raises when the client names a metric the evaluation does not report: a typo in clients.py
    must not silently fall back or never promote."""
    metrics = config.promotion_metrics
    unknown = [m for m in metrics if m not in frame.columns]
    if unknown:
        raise ValueError(
            f"{config.name}: promotion metric(s) {unknown} are not evaluation metrics; "
            f"choose among {sorted(c for c in frame.columns if c != 'version')}"
        )
    return decide_promotion_on(
        metrics,
        {name: frame.loc[name, list(metrics)].to_dict() for name in frame.index},
        margin=config.promotion_margin,
        checks_passed=checks_passed,
    )


@dataclass(frozen=True)
class RunLink:
    """A run named in a description: its id, and its page in a UI when that is known."""

    run_id: str
    url: str = ""

    def markdown(self) -> str:
        """``[id](url)``: the registry renders descriptions as markdown, so the id is a link
        to click; the bare id without a URL."""
        return f"[{self.run_id}]({self.url})" if self.url else self.run_id


def _dagster_lines(trained_by: RunLink | None, evaluated_by: RunLink | None = None) -> list[str]:
    """The Dagster runs behind a version, a paragraph each: from the registry, the way back to
    the run's logs, metadata and the partitions it materialized."""
    named = (("Trained by", trained_by), ("Evaluated by", evaluated_by))
    return [f"{verb} Dagster run {run.markdown()}." for verb, run in named if run is not None]


def review_description(
    config: ClientConfig,
    day: str,
    decision: PromotionDecision,
    table: str,
    run_id: str,
    *,
    run_url: str = "",
    trained_by: RunLink | None = None,
    evaluated_by: RunLink | None = None,
) -> str:
    """What the registry shows on the evaluated version: the decision, its reason, the
    comparison table, the MLflow run that holds the rest (a link with ``run_url``) and the
    Dagster runs that trained and evaluated the version. Paragraphs apart: the registry
    renders the description as markdown, which would join single lines into one."""
    verdict = "PROMOTED to @champion" if decision.promote else "not promoted"
    paragraphs = [
        f"Evaluated on {config.name} logs of {day} (primary metric {config.primary_metric}, "
        f"decided on {decision.metric}).",
        f"**Decision: {verdict}** — {decision.reason}.",
        table,
        f"MLflow evaluation run: {RunLink(run_id, run_url).markdown()}",
        *_dagster_lines(trained_by, evaluated_by),
    ]
    return "\n\n".join(paragraphs)


def pending_description(
    config: ClientConfig, day: str, strategy: str, trained_by: RunLink | None = None
) -> str:
    """A new version's description until its evaluation replaces it with the review (which
    names the training's Dagster run again)."""
    pending = (
        f"**Pending evaluation.** Trained on {config.name} logs through {day} "
        f"(labels {strategy}, {config.objective}); registered as @challenger. "
        f"model_evaluation of the next day's logs judges it on {config.primary_metric} "
        "against the champion and writes its decision here."
    )
    return "\n\n".join([pending, *_dagster_lines(trained_by)])


def superseded_note(version: str) -> str:
    """The line that heads a superseded version's description, above its own review."""
    return (
        f"**Superseded**: version {version} replaced this one as @champion. "
        "Its review as its evaluation wrote it follows."
    )


def superseded_description(description: str, version: str) -> str:
    """``description`` headed by ``superseded_note``, once: marking a version again (a re-run
    after a kill between the writes) leaves it as it is."""
    note = superseded_note(version)
    return description if description.startswith(note) else f"{note}\n\n{description}"


def _promotion_rule(config: ClientConfig) -> str:
    fallback = (
        f"; when it is undefined for either side, {config.fallback_metric} decides"
        if config.fallback_metric not in (None, config.primary_metric)
        else ""
    )
    return (
        f"the challenger becomes @champion only if its {config.primary_metric} beats the "
        f"champion's (visit count's while there is none) by more than "
        f"{config.promotion_margin:.1%} of it{fallback}. A tie, a missing number or a failed "
        "check never promotes, and a version trained through an earlier day than the champion "
        "never replaces it."
    )


def model_description(config: ClientConfig) -> str:
    """The registered model's description: what its versions are and how they are judged."""
    return "\n\n".join(
        [
            f"Lightweight ranker of the **{config.name}** surface: an XGBoost model "
            f"({config.objective}, labels {config.strategy}) that scores the "
            f"{config.candidates_k} candidates Pixie returns per request and picks the "
            f"{config.full_ranker_m} sent to the full ranker ({config.shown_k} are shown). "
            f"Each day a version is trained on the last {config.training_window_days} days "
            "of logs and registered as @challenger; @champion serves (visit count while there "
            "is none).",
            f"How versions are judged: model_evaluation scores the next day's logged "
            f"candidates with visit count, the challenger and @champion; {_promotion_rule(config)}",
            "Version tag `promotion`: pending (not yet evaluated), promoted (@champion), "
            "rejected, or superseded (was @champion; `superseded_by` names its successor). "
            "Each version's description holds its evaluation's decision and comparison.",
        ]
    )


def model_tags(config: ClientConfig) -> dict[str, str]:
    """The registered model's tags: the client and the settings that judge its versions."""
    return {
        "client": config.name,
        "primary_metric": config.primary_metric,
        "fallback_metric": config.fallback_metric or "none",
        "promotion_margin": f"{config.promotion_margin:g}",
        "objective": config.objective,
        "strategy": config.strategy,
        "training_window_days": str(config.training_window_days),
    }


@dataclass(frozen=True)
class RegistryView:
    """What the registry says about the evaluated challenger: the days the challenger and the
    current ``@champion`` were trained through (version tag ``day``; None without a version),
    and whether ``@champion`` already points at the challenger."""

    challenger_day: str | None
    champion_day: str | None
    challenger_is_champion: bool = False


@dataclass(frozen=True)
class RegistryRule:
    """A rule of the registry that overrides the metrics' decision when it applies."""

    name: str
    promote: bool
    applies: Callable[[RegistryView], bool]
    reason: Callable[[RegistryView], str]


def _champion_trained_later(view: RegistryView) -> bool:
    # ISO dates compare as text
    return (
        view.challenger_day is not None
        and view.champion_day is not None
        and view.challenger_day < view.champion_day
    )


# In order; the first that applies decides. Whether a rule applies depends on the view only,
# never on the metrics, so an operator can tell from the registry what an evaluation will do.
REGISTRY_RULES: tuple[RegistryRule, ...] = (
    RegistryRule(
        "already_champion",
        promote=True,
        applies=lambda view: view.challenger_is_champion,
        reason=lambda view: "already @champion (an earlier evaluation promoted it)",
    ),
    RegistryRule(
        "champion_trained_later",
        promote=False,
        applies=_champion_trained_later,
        reason=lambda view: (
            f"champion trained on a later day ({view.champion_day}) than the challenger "
            f"({view.challenger_day}): an older model never replaces a newer champion"
        ),
    ),
)


def settle_with_registry(decision: PromotionDecision, view: RegistryView) -> PromotionDecision:
    """``decision`` as the registry allows it: the first of ``REGISTRY_RULES`` that applies
    decides, and the reason keeps what the metrics said; otherwise ``decision`` unchanged."""
    rule = next((r for r in REGISTRY_RULES if r.applies(view)), None)
    if rule is None:
        return decision
    metrics_said = f"the metrics alone: {decision.reason}"
    return replace(
        decision,
        promote=rule.promote,
        reason=f"{rule.reason(view)}; {metrics_said}",
        guard=rule.name,
    )
