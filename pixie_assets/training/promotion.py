"""The promotion rule: a challenger becomes ``@champion`` only when it beats the current champion
(visit count while there is none) on the client's primary metric by the configured margin, and
every blocking check passed. A tie or a missing number never promotes."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    metric: str
    challenger: float | None
    baseline_name: str
    baseline: float | None
    required: float | None

    def as_tags(self) -> dict[str, str]:
        return {
            "promotion": "promoted" if self.promote else "rejected",
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
