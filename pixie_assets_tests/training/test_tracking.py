"""Several processes opening a brand-new MLflow store at once (the three clients of a day on a
fresh deployment) must all succeed: the store's creation and migration are serialized."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import sys
from pixie_assets.core.settings import Settings
from pixie_assets.training.registry import serving_scorer
print(serving_scorer(Settings(home=sys.argv[1]), sys.argv[2]).version)
"""


@pytest.mark.slow
def test_parallel_first_use_of_a_new_store(tmp_path):
    home = tmp_path / "home"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(home), client],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for client in ("homefeed", "related_pins", "notifications")
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-2000:]
        assert out.strip().splitlines()[-1] == "visit_count"


def test_evaluation_figures_get_dotted_mlflow_names():
    from pixie_assets.training.tracking import evaluation_metric_name, evaluation_metrics

    assert evaluation_metric_name("auc_sent/save") == "auc_sent.save"
    assert evaluation_metric_name("dr/save_per_request", "champion") == (
        "champion.dr.save_per_request"
    )
    assert evaluation_metrics({"ope/support": 1.0}, "challenger") == {"challenger.ope.support": 1.0}


@pytest.mark.slow
def test_evaluation_runs_feed_the_trend_newest_run_of_a_day_wins(tmp_path):
    import pandas as pd

    from pixie_assets.core.settings import Settings
    from pixie_assets.training.evaluation import RankerEvaluation, comparison_frame
    from pixie_assets.training.tracking import (
        EVALUATION_EXPERIMENT,
        configure_mlflow,
        evaluation_trend,
        log_evaluation_run,
    )

    settings = Settings(home=tmp_path / "home")

    def log(day: str, visit_count: float, challenger: float | None = None) -> str:
        figures = {"visit_count": visit_count, "challenger": challenger}
        evaluations = [
            RankerEvaluation(name, name, {"auc_sent/save": value})
            for name, value in figures.items()
            if value is not None
        ]
        frame = comparison_frame(evaluations)
        return log_evaluation_run(
            settings,
            "homefeed",
            day,
            evaluations,
            frame=frame,
            table="| table |",
            decision_tags={"promotion": "rejected"},
            dagster_run_id="dagster-1",
        )

    log("2026-11-02", 0.5, 0.6)
    run_id = log("2026-11-01", 0.4)
    log("2026-11-02", 0.55, 0.65)  # the day evaluated again
    trend = evaluation_trend(settings, "homefeed", "auc_sent/save")
    assert trend.days == ["2026-11-01", "2026-11-02"]
    assert trend.series["visit_count"].tolist() == [0.4, 0.55]
    assert pd.isna(trend.series["challenger"][0]) and trend.series["challenger"][1] == 0.65
    assert "champion" not in trend.series

    client = configure_mlflow(settings, EVALUATION_EXPERIMENT)
    run = client.get_run(run_id)
    assert run.info.run_name == "homefeed 2026-11-01"
    assert run.data.tags["client"] == "homefeed" and run.data.tags["promotion"] == "rejected"
    assert run.data.metrics == {"visit_count.auc_sent.save": 0.4}
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert artifacts == {"comparison.md", "comparison.csv"}
