-- engagement: what the user acted on is positive (weighted by the client's action weights, and
-- by $local_weight where the pin's locale is the user's); what they saw and ignored is negative
-- (hidden pins with $hide_weight). Only impressed candidates are labeled: the full ranker's view.
SELECT
    *,
    CASE WHEN action_value > 0 THEN 1.0 ELSE 0.0 END AS label,
    CASE
        WHEN action_value > 0
            THEN action_value * CASE WHEN locale_match = 1 THEN $local_weight ELSE 1.0 END
        WHEN hidden = 1 THEN $hide_weight
        ELSE 1.0
    END AS weight
FROM outcomes
WHERE impressed
