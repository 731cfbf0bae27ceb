-- funnel_blended: candidates sent to the full ranker; impressions are positive with weight 1 and
-- user actions add their (larger) action weights on top; hidden impressions are negative with
-- $hide_weight; sent but not shown is negative. The article's best strategy. Candidates never
-- sent are left out, as in funnel_pure.
SELECT
    *,
    CASE WHEN impressed AND hidden = 0 THEN 1.0 ELSE 0.0 END AS label,
    CASE
        WHEN impressed AND hidden = 1 THEN $hide_weight
        WHEN impressed
            THEN (1.0 + action_value) * CASE WHEN locale_match = 1 THEN $local_weight ELSE 1.0 END
        ELSE 1.0
    END AS weight
FROM outcomes
WHERE sent_to_full_ranker
