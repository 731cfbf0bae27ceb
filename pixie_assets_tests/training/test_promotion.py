"""The promotion rule: win, loss, tie, no champion yet, failed check, missing numbers."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from pixie_assets.core import clients
from pixie_assets.training.promotion import (
    decide_on_comparison,
    decide_promotion,
    decide_promotion_on,
    review_description,
)

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


# --- deciding on the first defined metric ------------------------------------------------------

DR, AUC = "dr/save_per_request", "auc_sent/save"


def test_the_primary_metric_decides_when_defined():
    values = {
        "visit_count": {DR: 1.0, AUC: 0.60},
        "champion": {DR: 1.2, AUC: 0.70},
        "challenger": {DR: 1.1, AUC: 0.80},  # better AUC, fewer estimated actions
    }
    d = decide_promotion_on((DR, AUC), values, margin=0.01, checks_passed=True)
    assert not d.promote and d.metric == DR and d.baseline_name == "champion"
    assert "fallback" not in d.reason


def test_an_undefined_primary_falls_back_and_says_so():
    """No exploration slots: the challenger's off-policy estimate is NaN; the AUC decides."""
    values = {
        "visit_count": {DR: 1.0, AUC: 0.60},
        "champion": {DR: 1.2, AUC: 0.70},
        "challenger": {DR: math.nan, AUC: 0.80},
    }
    d = decide_promotion_on((DR, AUC), values, margin=0.01, checks_passed=True)
    assert d.promote and d.metric == AUC and d.challenger == 0.80 and d.baseline == 0.70
    assert d.reason.startswith(f"{DR} undefined, decided on fallback {AUC}")
    assert d.as_tags()["primary_metric"] == AUC


def test_without_a_champion_visit_count_is_the_baseline_of_the_fallback_too():
    values = {"visit_count": {DR: math.nan, AUC: 0.60}, "challenger": {DR: 1.5, AUC: 0.59}}
    d = decide_promotion_on((DR, AUC), values, margin=0.01, checks_passed=True)
    assert not d.promote and d.metric == AUC and d.baseline_name == "visit_count"


def test_nothing_defined_or_no_fallback_never_promotes():
    values = {"visit_count": {DR: 1.0}, "champion": {DR: 1.0}, "challenger": {DR: math.nan}}
    d = decide_promotion_on((DR,), values, margin=0.01, checks_passed=True)
    assert not d.promote and d.metric == DR and "could not be computed" in d.reason
    both_nan = {**values, "challenger": {DR: math.nan, AUC: math.nan}}
    assert not decide_promotion_on((DR, AUC), both_nan, 0.01, True).promote
    no_challenger = {"visit_count": {DR: 1.0, AUC: 0.6}}
    assert "no challenger" in decide_promotion_on((DR, AUC), no_challenger, 0.01, True).reason
    with pytest.raises(ValueError):
        decide_promotion_on((), values, 0.01, True)


def test_a_failed_check_blocks_the_fallback_too():
    values = {"champion": {DR: 1.0, AUC: 0.5}, "challenger": {DR: math.nan, AUC: 0.9}}
    assert not decide_promotion_on((DR, AUC), values, 0.01, checks_passed=False).promote


def test_client_promotion_metrics_put_the_primary_first():
    config = clients.CLIENTS["homefeed"]
    assert config.promotion_metrics[0] == config.primary_metric
    assert len(set(config.promotion_metrics)) == len(config.promotion_metrics)


# --- deciding on an evaluation's comparison ----------------------------------------------------


def _comparison(challenger_dr: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "version": ["visit_count", "pixie-lightweight-homefeed/2"],
            AUC: [0.60, 0.80],
            DR: [1.0, challenger_dr],
        },
        index=["visit_count", "challenger"],
    )


def test_the_client_decides_on_the_comparison_frame():
    config = dataclasses.replace(
        clients.CLIENTS["homefeed"], primary_metric=DR, fallback_metric=AUC, promotion_margin=0.1
    )
    won = decide_on_comparison(config, _comparison(1.2), checks_passed=True)
    assert won.promote and won.metric == DR and won.baseline_name == "visit_count"
    assert not decide_on_comparison(config, _comparison(1.05), checks_passed=True).promote
    assert not decide_on_comparison(config, _comparison(1.2), checks_passed=False).promote
    fallback = decide_on_comparison(config, _comparison(math.nan), checks_passed=True)
    assert fallback.promote and fallback.metric == AUC


def test_a_promotion_metric_the_evaluation_does_not_report_is_an_error():
    config = dataclasses.replace(clients.CLIENTS["homefeed"], primary_metric="auc_sent/sav")
    with pytest.raises(ValueError, match=r"\['auc_sent/sav'\] are not evaluation metrics"):
        decide_on_comparison(config, _comparison(1.2), checks_passed=True)


def test_review_description_holds_decision_table_and_run():
    config = clients.CLIENTS["homefeed"]
    decision = decide(challenger=0.70, champion=0.65)
    text = review_description(config, "2026-11-02", decision, "| table |", "run123")
    assert text.startswith("Evaluated on homefeed logs of 2026-11-02")
    assert "PROMOTED to @champion" in text and decision.reason in text
    assert "| table |" in text and text.endswith("MLflow evaluation run: run123")
