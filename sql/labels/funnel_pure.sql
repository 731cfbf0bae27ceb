-- funnel_pure: candidates sent to the full ranker; passing it (an impression) is positive, not
-- passing it negative, regardless of what the user then did. Optimizes funnel efficiency.
-- Candidates never sent carry no outcome (the full ranker never saw them) and are left out:
-- labelling them negative would only teach the model to copy the logging ranker's cut.
SELECT
    *,
    CASE WHEN impressed THEN 1.0 ELSE 0.0 END AS label,
    CASE WHEN impressed AND locale_match = 1 THEN $local_weight ELSE 1.0 END AS weight
FROM outcomes
WHERE sent_to_full_ranker
