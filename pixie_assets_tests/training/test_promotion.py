"""The promotion rule: win, loss, tie, no champion yet, failed check, missing numbers."""

from __future__ import annotations

import math

import pytest

from pixie_assets.training.promotion import decide_promotion

METRIC = "auc_sent/save"


def decide(challenger, champion, visit_count=0.60, margin=0.01, checks=True):
    return decide_promotion(METRIC, challenger, champion, visit_count, margin, checks)


def test_win_over_champion_by_more_than_the_margin_promotes():
    d = decide(challenger=0.70, champion=0.65)
    assert d.promote and d.baseline_name == "champion" and d.required == pytest.approx(0.65 * 1.01)


def test_loss_and_gain_within_the_margin_do_not_promote():
    assert not decide(challenger=0.60, champion=0.65).promote
    assert not decide(challenger=0.655, champion=0.65).promote  # +0.8% < 1% margin


def test_tie_does_not_promote():
    assert not decide(challenger=0.65, champion=0.65, margin=0.0).promote


def test_without_champion_visit_count_is_the_baseline():
    win = decide(challenger=0.62, champion=None, visit_count=0.60)
    assert win.promote and win.baseline_name == "visit_count"
    assert not decide(challenger=0.601, champion=None, visit_count=0.60).promote


def test_failed_check_never_promotes_even_a_clear_win():
    d = decide(challenger=0.9, champion=0.5, checks=False)
    assert not d.promote and "check" in d.reason


def test_missing_numbers_never_promote():
    assert not decide(challenger=None, champion=0.5).promote
    assert not decide(challenger=math.nan, champion=0.5).promote
    assert not decide(challenger=0.7, champion=None, visit_count=math.nan).promote


def test_decision_tags_name_the_outcome_and_values():
    tags = decide(challenger=0.70, champion=0.65).as_tags()
    assert tags["promotion"] == "promoted" and tags["primary_metric"] == METRIC
    assert tags["primary_champion"] == "0.650000" and tags["primary_challenger"] == "0.700000"
