"""The strategy study's arms, training days and table (training and evaluation run in the assets
tests)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from pixie_assets.core.clients import CLIENTS
from pixie_assets.training.evaluation import RankerEvaluation, comparison_frame
from pixie_assets.training.labels import STRATEGIES
from pixie_assets.training.study import study_arms, study_table, study_train_days

CONFIG = dataclasses.replace(CLIENTS["homefeed"], training_window_days=3)


def test_one_arm_per_strategy_and_a_local_variant():
    arms = study_arms(CONFIG)
    assert [a.name for a in arms] == [*STRATEGIES, "funnel_blended_local"]
    assert arms[-1].config.local_weight == 3.0 and arms[-1].strategy == "funnel_blended"
    assert all(a.config.strategy == a.strategy for a in arms)


def test_train_days_are_the_window_before_the_day_from_the_first_logged_day():
    days = study_train_days(CONFIG, date(2026, 11, 5), date(2026, 11, 1))
    assert days == [date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)]
    assert study_train_days(CONFIG, date(2026, 11, 3), date(2026, 11, 1)) == [
        date(2026, 11, 1),
        date(2026, 11, 2),
    ]
    with pytest.raises(ValueError, match="strategy_study homefeed 2026-11-01: no earlier day"):
        study_train_days(CONFIG, date(2026, 11, 1), date(2026, 11, 1))


def test_study_table_leads_with_the_primary_metric_and_its_offpolicy_estimate():
    figures = {
        "ndcg_at_k": 0.5,
        "dr/save_per_request": 1.0,
        "auc_sent/save": 0.7,
        "recall_at_m/save": 0.9,  # not a study column
    }
    frame = comparison_frame([RankerEvaluation("visit_count", "visit_count", figures)])
    head = study_table(CONFIG, frame).splitlines()[0]
    assert head == "| ranker | version | auc_sent/save | dr/save_per_request | ndcg_at_k |"
