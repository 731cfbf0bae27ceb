"""The demo's closing summary says what the last day decided (issue 15 item 3): the champion
that served, the challenger it faced, the decision, and where ``@champion`` points after it."""

from __future__ import annotations

import json

from pixie_assets.demo import client_summary, print_summary

PROMOTED = {
    "primary_metric": "auc_sent/save",
    "visit_count/auc_sent/save": 0.55,
    "champion/auc_sent/save": 0.70,
    "challenger/auc_sent/save": 0.72,
    "visit_count/sim_primary_per_request": 1.70,
    "champion/sim_primary_per_request": 1.88,
    "challenger/sim_primary_per_request": 1.90,
    "champion_before": "1",
    "challenger_version": "2",
    "decision": "promoted",
    "reason": "challenger beats champion by 2.9%",
}


def test_a_promotion_names_the_new_champion(capsys):
    print_summary({"homefeed": client_summary(PROMOTED)}, "2026-11-03")
    out = capsys.readouterr().out
    assert "champion v1 (served 2026-11-03)" in out and "challenger v2" in out
    assert "decision: promoted" in out and "@champion is now v2" in out
    last = json.loads(out.strip().splitlines()[-1])["homefeed"]
    assert last["champion_after"] == "2" and last["champion_version"] == "1"


def test_a_kept_champion_stays_and_a_first_day_is_served_by_visit_count(capsys):
    first_day = {
        k: v for k, v in PROMOTED.items() if not k.startswith(("champion/", "challenger/"))
    }
    first_day |= {"champion_before": "none", "challenger_version": "none", "decision": "kept"}
    kept = {**PROMOTED, "decision": "kept", "reason": "no clear win"}
    print_summary(
        {"homefeed": client_summary(first_day), "notifications": client_summary(kept)}, "D"
    )
    out = capsys.readouterr().out
    assert "champion visit count (served D)" in out and "@champion is now none" in out
    assert "@champion is now v1" in out and "challenger v2" in out
