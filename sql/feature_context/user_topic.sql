-- Share of a user's positive engagements (all of recent_engagements, i.e. the lookback window
-- the context was built with) that fell on each topic: the user's revealed topic affinity.
WITH positive AS (
    SELECT e.user_id, p.topic
    FROM recent_engagements AS e
    JOIN pins AS p USING (pin_id)
    WHERE e.action IN ('save', 'click', 'closeup')
)
SELECT
    user_id,
    topic,
    count(*) / sum(count(*)) OVER (PARTITION BY user_id) AS affinity
FROM positive
GROUP BY user_id, topic
