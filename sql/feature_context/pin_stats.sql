-- Per-pin engagement aggregates over the 7 days before the serving day.
-- Inputs: recent_saves(pin_id, saved_at), recent_engagements(user_id, pin_id, action, ts),
-- serving_day(day_start TIMESTAMP).
WITH window_start AS (SELECT day_start - INTERVAL 7 DAY AS since FROM serving_day),
saves_7d AS (
    SELECT pin_id, count(*) AS saves_7d
    FROM recent_saves, window_start
    WHERE saved_at >= since
    GROUP BY pin_id
),
engagements_7d AS (
    SELECT
        pin_id,
        count(*) FILTER (WHERE action IN ('save', 'click', 'closeup')) AS engagements_7d,
        count(*) FILTER (WHERE action = 'hide') AS hides_7d
    FROM recent_engagements, window_start
    WHERE ts >= since
    GROUP BY pin_id
)
SELECT
    pin_id,
    coalesce(s.saves_7d, 0) AS saves_7d,
    coalesce(e.engagements_7d, 0) AS engagements_7d,
    coalesce(e.hides_7d, 0) AS hides_7d
FROM saves_7d AS s
FULL OUTER JOIN engagements_7d AS e USING (pin_id)
