-- What happened to every logged candidate of one (day, client) partition: shown or not, where,
-- the full ranker's score, and the user's actions on it. Every label strategy starts here.
-- Parameters: $day (DATE), $client (VARCHAR).
WITH acted AS (
    SELECT
        request_id,
        pin_id,
        max(CASE WHEN action = 'save' THEN 1 ELSE 0 END) AS saved,
        max(CASE WHEN action = 'click' THEN 1 ELSE 0 END) AS clicked,
        max(CASE WHEN action = 'closeup' THEN 1 ELSE 0 END) AS closeup,
        max(CASE WHEN action = 'hide' THEN 1 ELSE 0 END) AS hidden
    FROM engagements
    WHERE day = $day AND client = $client AND request_id IS NOT NULL
    GROUP BY request_id, pin_id
)
SELECT
    s.* EXCLUDE (day),
    s.day,
    i.pin_id IS NOT NULL AS impressed,
    coalesce(i.position, -1) AS position,
    i.full_ranker_score,
    coalesce(a.saved, 0) AS saved,
    coalesce(a.clicked, 0) AS clicked,
    coalesce(a.closeup, 0) AS closeup,
    coalesce(a.hidden, 0) AS hidden
FROM serving_log AS s
LEFT JOIN impressions AS i
    ON i.day = s.day AND i.client = s.client AND i.request_id = s.request_id
    AND i.pin_id = s.pin_id
LEFT JOIN acted AS a ON a.request_id = s.request_id AND a.pin_id = s.pin_id
WHERE s.day = $day AND s.client = $client
