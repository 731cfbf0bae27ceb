"""The registry's rules over a metric decision (``promotion.settle_with_registry``): history is
never rewritten by a backfill, and a promotion whose review a kill cut short stays a promotion."""

from __future__ import annotations

import pytest

from pixie_assets.training.promotion import (
    REGISTRY_RULES,
    RegistryView,
    decide_promotion,
    settle_with_registry,
)

WINS = decide_promotion("auc", 0.8, 0.6, 0.5, margin=0.0, checks_passed=True)
LOSES = decide_promotion("auc", 0.5, 0.6, 0.5, margin=0.0, checks_passed=True)


@pytest.mark.parametrize(
    ("metrics", "view", "promote", "guard"),
    [
        # no rule applies: the metrics decide
        (WINS, RegistryView("2026-11-02", "2026-11-01"), True, ""),
        (LOSES, RegistryView("2026-11-02", "2026-11-01"), False, ""),
        (WINS, RegistryView("2026-11-02", None), True, ""),  # no champion yet
        (WINS, RegistryView("2026-11-02", "2026-11-02"), True, ""),  # a retrain of the same day
        # a backfill: the champion was trained through a later day
        (WINS, RegistryView("2026-11-01", "2026-11-03"), False, "champion_trained_later"),
        (LOSES, RegistryView("2026-11-01", "2026-11-03"), False, "champion_trained_later"),
        # the alias already moved to the challenger: its promotion is completed, not undone
        (LOSES, RegistryView("2026-11-02", "2026-11-02", True), True, "already_champion"),
        (WINS, RegistryView("2026-11-02", "2026-11-02", True), True, "already_champion"),
    ],
)
def test_registry_rules_over_the_metrics(metrics, view, promote, guard):
    settled = settle_with_registry(metrics, view)
    assert (settled.promote, settled.guard) == (promote, guard)
    if guard:
        assert metrics.reason in settled.reason  # what the metrics said stays readable
        assert settled.as_tags()["promotion"] == ("promoted" if promote else "rejected")
    else:
        assert settled == metrics


def test_an_older_challenger_is_kept_with_the_reason_named():
    settled = settle_with_registry(WINS, RegistryView("2026-11-01", "2026-11-03"))
    assert settled.reason.startswith(
        "champion trained on a later day (2026-11-03) than the challenger (2026-11-01)"
    )
    assert settled.metric == "auc" and settled.challenger == 0.8  # the figures are kept


def test_days_compare_as_dates_across_months_and_years():
    assert settle_with_registry(WINS, RegistryView("2026-09-30", "2026-10-01")).guard
    assert settle_with_registry(WINS, RegistryView("2025-12-31", "2026-01-01")).guard
    assert not settle_with_registry(WINS, RegistryView("2026-10-01", "2026-09-30")).guard


def test_rule_names_are_unique():
    names = [rule.name for rule in REGISTRY_RULES]
    assert len(names) == len(set(names))
