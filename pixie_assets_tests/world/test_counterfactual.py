"""The counterfactual replay: a ranker's own top M through the world's full ranker and users."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from pixie_assets.core.clients import CLIENTS
from pixie_assets.core.contract import ACTIONS
from pixie_assets.core.seeds import partition_seed
from pixie_assets.core.settings import Settings
from pixie_assets.training.evaluation import Ranker, evaluate_rankers
from pixie_assets.world.counterfactual import (
    CounterfactualSimulator,
    evaluation_simulator,
    simulated_metrics,
)

DAY = date(2026, 11, 1)
CONFIG = CLIENTS["related_pins"]  # primary actions click and closeup
REQUESTS, CANDIDATES = 20, 120


@pytest.fixture(scope="module")
def outcomes(tiny_world) -> pd.DataFrame:
    """A day of logged candidates of world users and pins, as evaluation reads them."""
    truth = tiny_world.truth
    rng = np.random.default_rng(3)
    users = rng.choice(truth.user_ids, REQUESTS, replace=False)
    rows = [
        {
            "request_id": f"r{r}",
            "user_id": int(users[r]),
            "ts": pd.Timestamp("2026-11-01 12:00"),
            "pin_id": int(pin),
            "visit_rank": rank + 1,
        }
        for r in range(REQUESTS)
        for rank, pin in enumerate(rng.choice(truth.pin_ids, CANDIDATES, replace=False))
    ]
    frame = pd.DataFrame(rows)
    n = len(frame)
    return frame.assign(
        sent_to_full_ranker=frame["visit_rank"] <= CONFIG.full_ranker_m,
        impressed=frame["visit_rank"] <= CONFIG.shown_k,
        position=np.where(frame["visit_rank"] <= CONFIG.shown_k, frame["visit_rank"] - 1, -1),
        lightweight_score=-frame["visit_rank"].to_numpy(dtype=float),
        visit_count=rng.integers(1, 50, n),
        saved=0,
        clicked=0,
        closeup=0,
        hidden=0,
        locale_match=1,
    )


def test_simulated_figures_per_action_and_for_the_primary_actions(tiny_world, outcomes):
    scores = outcomes["visit_count"].to_numpy(dtype=float)
    figures = simulated_metrics(tiny_world.truth, CONFIG, outcomes, scores, seed=11)
    assert {f"sim/{a}_per_request" for a in ACTIONS} <= set(figures)
    primary = figures["sim/click_per_request"] + figures["sim/closeup_per_request"]
    assert figures["sim/click_closeup_per_request"] == pytest.approx(primary)
    assert figures["sim/primary_per_request"] == pytest.approx(primary)
    assert all(v > 0 for v in figures.values())


def test_only_what_a_ranker_sends_matters(tiny_world, outcomes):
    """Two rankers that send the same top M meet the same full ranker and users."""
    scores = outcomes["visit_count"].to_numpy(dtype=float)
    simulate = CounterfactualSimulator(tiny_world.truth, CONFIG, seed=11)
    assert simulate(outcomes, scores) == simulate(outcomes, np.exp(scores / 10))
    assert simulate(outcomes, scores) == simulated_metrics(
        tiny_world.truth, CONFIG, outcomes, scores, seed=11
    )
    assert simulate(outcomes, scores) != simulate(outcomes, -scores)


def test_the_simulator_plugs_into_evaluate_rankers(tiny_world, outcomes):
    simulate = CounterfactualSimulator(tiny_world.truth, CONFIG, seed=11)
    scores = outcomes["visit_count"].to_numpy(dtype=float)
    (evaluation,) = evaluate_rankers(outcomes, [Ranker("a", "a", scores)], CONFIG, simulate)
    assert (
        evaluation.metrics["sim/primary_per_request"]
        == simulate(outcomes, scores)["sim/primary_per_request"]
    )
    assert "auc_sent/any_action" in evaluation.metrics


def test_evaluation_simulator_by_source(tiny_world, tmp_path):
    assert evaluation_simulator(Settings(home=tmp_path, source="landing"), CONFIG, DAY) is None
    settings = Settings(home=tmp_path, source="world", world_seed=7)
    tiny_world.truth.save(settings.truth_dir)
    simulate = evaluation_simulator(settings, CONFIG, DAY)
    assert isinstance(simulate, CounterfactualSimulator)
    assert simulate.config == CONFIG
    assert simulate.seed == partition_seed(7, DAY, CONFIG.name, "evaluation")
