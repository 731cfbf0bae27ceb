-- Per-user activity over the 7 days before the serving day.
SELECT user_id, count(*) AS activity_7d
FROM recent_engagements, (SELECT day_start - INTERVAL 7 DAY AS since FROM serving_day)
WHERE ts >= since
GROUP BY user_id
