-- The feature set, declared once: what the serving stage logs and what models are trained on.
-- Columns and types must equal pixie_assets.contract.FEATURES (a test checks).
-- Inputs: candidates(row_idx, request_id, user_id, ts, pin_id, visit_count, visit_rank,
-- query_hits, pin_degree), users, pins, and the context tables pin_stats, user_stats, user_topic.
SELECT
    c.row_idx,
    CAST(c.visit_count AS DOUBLE) AS visit_count,
    CAST(c.visit_rank AS INTEGER) AS visit_rank,
    CAST(c.query_hits AS INTEGER) AS query_hits,
    CAST(c.pin_degree AS INTEGER) AS pin_degree,
    greatest(coalesce(epoch(c.ts - p.created_at) / 86400.0, 0.0), 0.0) AS pin_age_days,
    CAST(coalesce(ps.saves_7d, 0) AS INTEGER) AS pin_saves_7d,
    CAST(coalesce(ps.engagements_7d, 0) AS INTEGER) AS pin_engagements_7d,
    CAST(coalesce(ps.hides_7d, 0) AS INTEGER) AS pin_hides_7d,
    CAST(coalesce(us.activity_7d, 0) AS INTEGER) AS user_activity_7d,
    CAST(coalesce(u.locale = p.locale, false) AS INTEGER) AS locale_match,
    CAST(coalesce(ut.affinity, 0.0) AS DOUBLE) AS user_topic_affinity
FROM candidates AS c
LEFT JOIN pins AS p ON p.pin_id = c.pin_id
LEFT JOIN users AS u ON u.user_id = c.user_id
LEFT JOIN pin_stats AS ps ON ps.pin_id = c.pin_id
LEFT JOIN user_stats AS us ON us.user_id = c.user_id
LEFT JOIN user_topic AS ut ON ut.user_id = c.user_id AND ut.topic = p.topic
ORDER BY c.row_idx
